"""`handoff call`: one tool call for scripts, with an explicit policy instead of questions."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any, Literal

import click

from .._errors import HandoffError
from ._connect import connect
from ._consent import PolicyConsent
from ._elicitations import Elicitations
from ._opener import print_only, system_browser
from ._retry import ElicitationFailed
from ._signin import SignIn
from ._tokens import FileTokens, MemoryTokens


async def run_call(
    server: str,
    tool: str,
    arguments: dict[str, Any],
    fmt: str,
    accept: str,
    print_url: bool,
    timeout: float,
    protocol: str,
    *,
    store: bool = True,
    sign_in_timeout: float = 300.0,
) -> int:
    spec = [server] if server.startswith(("http://", "https://")) else shlex.split(server)
    opener = print_only if print_url else system_browser
    policy: Literal["ok", "warn", "none"] = accept  # type: ignore[assignment]
    elicitations = Elicitations(PolicyConsent(policy), server=server, opener=opener)
    sign_in = SignIn(FileTokens() if store else MemoryTokens(), opener=opener, timeout=sign_in_timeout)
    try:
        async with connect(
            spec, elicitations, mode=protocol, sign_in=sign_in, wait_timeout=timeout
        ) as client:
            try:
                result = await client.call_tool(tool, arguments)
            except ElicitationFailed as exc:
                _report({"error": str(exc), "ran": False}, fmt, f"Not run: {exc}")
                return 2
    except HandoffError as exc:
        _report({"error": f"not signed in: {exc}", "ran": False}, fmt, f"Not signed in: {exc}")
        return 2
    if fmt == "json":
        click.echo(json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True)))
    else:
        for block in result.content:
            click.echo(getattr(block, "text", str(block)))
    return 1 if result.is_error else 0


def _report(data: dict[str, Any], fmt: str, text: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data))
    else:
        click.echo(text, file=sys.stderr)
