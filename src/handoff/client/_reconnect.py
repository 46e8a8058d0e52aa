"""Riding out a dropped connection: a replica that died, a balancer that cut the line.

A POST whose connection drops before its answer ends the SDK's transport, and every call on it with
it. `DroppedAnswers` turns such a drop into an error answer for that one request, so that the client
can send it again: on 2026-07-28 the same retry (the same requestState and input responses, which any
replica takes), on 2025-11-25 the call on a new session once the old one is gone. `Round` remembers
what the SDK last sent for a tool call, so that it can be sent again as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp_types import CONNECTION_CLOSED

LOST = "Connection lost before the answer"
"""How an answer `DroppedAnswers` stands in for begins."""

RECONNECTS = 1
"""How many times one tool call is sent again after its connection dropped or its session ended."""


class DroppedAnswers(httpx2.AsyncBaseTransport):
    """A transport that answers a POST whose connection dropped after it was sent with a JSON-RPC
    error (`LOST`), instead of raising: only that request fails, not the connection's every call.
    A connection that cannot be made at all still raises (the server is not there)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self.inner.handle_async_request(request)
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
            if request.method != "POST":
                raise
            error = {"code": CONNECTION_CLOSED, "message": f"{LOST} ({exc or type(exc).__name__})"}
            return httpx2.Response(502, json={"jsonrpc": "2.0", "id": None, "error": error}, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Round:
    """The input responses and request state the SDK sent with a tool call's latest round."""

    input_responses: Any = None
    request_state: str | None = None


current_round: ContextVar[Round | None] = ContextVar("handoff_current_round", default=None)


def recording(call_tool: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`ClientSession.call_tool`, noting each round's responses and state in the current `Round`."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        here = current_round.get()
        if here is not None:
            here.input_responses = kwargs.get("input_responses")
            here.request_state = kwargs.get("request_state")
        return await call_tool(*args, **kwargs)

    return call
