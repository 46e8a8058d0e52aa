"""How long the client waits for a server: to connect, to start answering, and while a person is away.

httpx counts one read timeout for every pause, so it cannot tell a server that never answers from an
answer that is already streaming and stays quiet while a person is in the browser. Here the wait for
an answer to begin is bounded on its own, short; the silences inside an answer get the long bound.
"""

from __future__ import annotations

import anyio
import httpx2


class AnswerTimeout(httpx2.ReadTimeout):
    """The server took the request but did not start answering (status line and headers) in time."""

    def __init__(self, seconds: float, request: httpx2.Request) -> None:
        super().__init__(f"no answer within {seconds:g} s", request=request)
        self.seconds = seconds


class AnswerDeadline(httpx2.AsyncBaseTransport):
    """A transport that fails each request the server does not start answering within `seconds`.

    Connecting, sending and the response headers all count; the body that follows does not, so a
    long answer (a held 2026 retry that pings, a 2025 call waiting for the browser) is not cut short.
    """

    def __init__(self, seconds: float, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.seconds = seconds
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        with anyio.move_on_after(self.seconds):
            return await self.inner.handle_async_request(request)
        raise AnswerTimeout(self.seconds, request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def http_timeouts(connect: float, answer: float, wait: float) -> httpx2.Timeout:
    """httpx's timeouts under an `AnswerDeadline`: `connect` to connect and send, and for a pause
    inside an answer the longer of `answer` and the wait for a browser step (`wait`) plus a minute."""
    return httpx2.Timeout(connect, read=max(answer, wait + 60.0))
