"""Connecting to a server from the command line: streamable HTTP (signing in if asked) or a stdio command."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mcp import StdioServerParameters

from ._elicitations import Elicitations, Waiter
from ._session import HandoffClient
from ._signin import SignIn
from ._timeouts import MAX_ANSWER_BYTES


def is_url(spec: Sequence[str]) -> bool:
    return len(spec) == 1 and spec[0].startswith(("http://", "https://"))


@contextlib.asynccontextmanager
async def connect(
    spec: Sequence[str],
    elicitations: Elicitations,
    *,
    mode: str = "auto",
    sign_in: SignIn,
    waiter: Waiter | None = None,
    wait_timeout: float = 600.0,
    connect_timeout: float = 10.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
    **more: Any,
) -> AsyncIterator[HandoffClient]:
    """A connected `HandoffClient` for a URL (signing in through `sign_in`) or a stdio command;
    `more` goes to `HandoffClient` as it is (callbacks, a message handler)."""
    options: dict[str, Any] = {
        **more,
        "mode": mode,
        "elicitations": elicitations,
        "waiter": waiter,
        "wait_timeout": wait_timeout,
        "connect_timeout": connect_timeout,
        "max_answer_bytes": max_answer_bytes,
    }
    if is_url(spec):
        client = HandoffClient(spec[0], auth=sign_in, **options)
    else:
        client = HandoffClient(StdioServerParameters(command=spec[0], args=list(spec[1:])), **options)
    async with client:
        yield client
