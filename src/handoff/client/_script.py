"""`handoff call`: one tool call for scripts, with an explicit policy instead of questions.

Every failure that is not the tool's own error ends in one line and exit 2.
"""

from __future__ import annotations

import json
import shlex
import traceback
from typing import Any, Literal

import click

from ._connect import connect
from ._consent import PolicyConsent
from ._elicitations import Elicitations
from ._failures import leaves, one_line
from ._opener import print_only, system_browser
from ._signin import SignIn, SignInFailed
from ._tokens import FileTokens, MemoryTokens

Policy = Literal["ok", "warn", "none"]


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
    connect_timeout: float = 10.0,
    debug: bool = False,
) -> int:
    """Exit code: 0 the tool ran, 1 it returned an error, 2 it did not run or its answer is unusable."""
    spec = [server] if server.startswith(("http://", "https://")) else shlex.split(server)
    opener = print_only if print_url else system_browser
    policy: Policy = accept  # type: ignore[assignment]
    elicitations = Elicitations(PolicyConsent(policy), server=server, opener=opener)
    sign_in = SignIn(FileTokens() if store else MemoryTokens(), opener=opener, timeout=sign_in_timeout)
    result: Any = None
    try:
        async with connect(
            spec,
            elicitations,
            mode=protocol,
            sign_in=sign_in,
            wait_timeout=timeout,
            connect_timeout=connect_timeout,
        ) as client:
            result = await client.call_tool(tool, arguments)
    except Exception as exc:
        if debug:
            _print_traceback(exc)
        if result is None:
            _fail(exc, server, fmt)
            return 2
        click.echo(
            f"handoff: the call ran, then closing the connection failed: {one_line(exc, server)}", err=True
        )
    if fmt == "json":
        click.echo(json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True)))
    else:
        for block in result.content:
            click.echo(getattr(block, "text", str(block)))
    return 1 if result.is_error else 0


def _print_traceback(exc: BaseException) -> None:
    """The traceback, and that of the error it was raised in place of (one-line errors hide it)."""
    shown: BaseException | None = exc
    while shown is not None:
        traceback.print_exception(shown)
        shown = shown.__context__ if shown.__suppress_context__ else None


def _fail(exc: Exception, server: str, fmt: str) -> None:
    line = one_line(exc, server)
    signing_in = any(isinstance(leaf, SignInFailed) for leaf in leaves(exc))
    if fmt == "json":
        click.echo(json.dumps({"error": f"not signed in: {line}" if signing_in else line, "ran": False}))
    else:
        click.echo(f"Not signed in: {line}" if signing_in else f"Not run: {line}", err=True)
