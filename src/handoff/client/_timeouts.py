"""How long the client waits for a server and how much of an answer it reads: to connect, to start
answering, for the whole handshake, and while a person is away; at most so many bytes an answer.

httpx counts one read timeout for every pause, so it cannot tell a server that never answers from an
answer that is already streaming and stays quiet while a person is in the browser. Here the wait for
an answer to begin is bounded on its own, short; the silences inside an answer get the long bound.
While connecting, the handshake's answers together get one bound (a stream of keep-alive comments
cannot hold it open). Every answer is counted as it is read, and reading stops at the byte limit,
before the rest is buffered.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import anyio
import httpx2

MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The most a client reads of one answer (16 MiB)."""
ANSWER_TIMEOUT = 60.0
"""Seconds each answer after the handshake has to start: more than a handoff server holds a
2026-07-28 retry before its answer starts (`handoff.eras._modern.MAX_HOLD`)."""

T = TypeVar("T")


def mib(size: int) -> str:
    """A size in bytes as a person reads it: "16 MiB"."""
    return f"{size / (1024 * 1024):g} MiB"


def answer_bytes(mebibytes: float) -> int:
    """`--max-answer-mib` in bytes."""
    return max(1, int(mebibytes * 1024 * 1024))


class AnswerTimeout(httpx2.ReadTimeout):
    """The server took the request but did not start answering (status line and headers) in time."""

    def __init__(self, seconds: float, request: httpx2.Request) -> None:
        super().__init__(f"no answer within {seconds:g} s", request=request)
        self.seconds = seconds


class HandshakeTimeout(httpx2.StreamError):
    """The handshake's answers, together, took longer than the connect timeout (a server that keeps
    an answer open without finishing it, say). A stream error, so that only the request it answers
    fails."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the handshake did not finish within {seconds:g} s")
        self.seconds = seconds


class AnswerTooLarge(httpx2.StreamError):
    """An answer grew past the byte limit; reading it stopped there. A stream error, so that only the
    request it answers fails."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an answer larger than {mib(limit)}")
        self.limit = limit


class _Budget:
    """Seconds shared by several waits: each wait spends what it took, until it is closed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.open = True

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)


class AnswerDeadline(httpx2.AsyncBaseTransport):
    """A transport that fails each request the server does not start answering within `seconds`,
    bounds the handshake as a whole (`handshake` seconds for all its answers, until set to None),
    and stops reading any answer past `max_bytes`.

    Connecting, sending and the response headers count against `seconds`; the body that follows does
    not, so a long answer (a held 2026 retry that pings, a 2025 call waiting for the browser) is not
    cut short once the handshake is done. The event stream a client listens on (a GET without
    Last-Event-ID) is neither part of the handshake nor limited as a whole: the SDK limits each of
    its events. A DELETE gets `seconds` for all of it. `failure` keeps the last limit reached, for
    the error a person reads.
    """

    def __init__(
        self,
        seconds: float | None,
        inner: httpx2.AsyncBaseTransport | None = None,
        *,
        handshake: float | None = None,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.seconds = seconds
        self.inner = inner or httpx2.AsyncHTTPTransport()
        self.max_bytes = max_bytes
        self.failure: AnswerTimeout | HandshakeTimeout | AnswerTooLarge | None = None
        self._handshake: _Budget | None = None
        self.handshake = handshake

    @property
    def handshake(self) -> float | None:
        """Seconds for all the handshake's answers together; None once it is done."""
        return self._handshake.seconds if self._handshake is not None else None

    @handshake.setter
    def handshake(self, seconds: float | None) -> None:
        if self._handshake is not None:
            self._handshake.open = False  # an answer still being read is no longer counted
        self._handshake = _Budget(seconds) if seconds is not None else None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        listening = request.method == "GET" and "last-event-id" not in request.headers
        budget = None if listening else self._handshake
        if request.method not in ("GET", "POST") and self.seconds is not None:
            budget = _Budget(self.seconds)
        limit = self.seconds if self.seconds is not None else float("inf")
        if budget is not None and budget.left < limit:
            response = await self._within(self.inner.handle_async_request(request), budget)
        else:
            started = time.monotonic()
            with anyio.move_on_after(limit):
                response = await self.inner.handle_async_request(request)
                if budget is not None:
                    budget.spent += time.monotonic() - started
                return self._watched(response, budget, listening)
            self.failure = AnswerTimeout(limit, request)
            raise self.failure
        return self._watched(response, budget, listening)

    def _watched(self, response: httpx2.Response, budget: _Budget | None, listening: bool) -> httpx2.Response:
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_Watched(stream, self, budget, capped=not (listening and streaming)),
            extensions=response.extensions,
        )

    async def _within(self, step: Awaitable[T], budget: _Budget) -> T:
        """`step`, failing with `HandshakeTimeout` when `budget` runs out first."""
        started = time.monotonic()
        try:
            with anyio.move_on_after(budget.left):
                return await step
        finally:
            budget.spent += time.monotonic() - started
        self.failure = HandshakeTimeout(budget.seconds)
        raise self.failure

    def too_large(self) -> AnswerTooLarge:
        self.failure = AnswerTooLarge(self.max_bytes)
        return self.failure

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Watched(httpx2.AsyncByteStream):
    """A response body read within its budget (while that is open) and up to the byte limit."""

    def __init__(
        self,
        inner: httpx2.AsyncByteStream,
        transport: AnswerDeadline,
        budget: _Budget | None,
        *,
        capped: bool,
    ) -> None:
        self.inner = inner
        self.transport = transport
        self.budget = budget
        self.capped = capped

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self.inner.__aiter__()
        read = 0
        while True:
            try:
                if self.budget is not None and self.budget.open:
                    chunk = await self.transport._within(chunks.__anext__(), self.budget)
                else:
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            read += len(chunk)
            if self.capped and read > self.transport.max_bytes:
                raise self.transport.too_large()
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def http_timeouts(connect: float, answer: float, wait: float) -> httpx2.Timeout:
    """httpx's timeouts under an `AnswerDeadline`: `connect` to connect and send, and for a pause
    inside an answer the longer of `answer` and the wait for a browser step (`wait`) plus a minute."""
    return httpx2.Timeout(connect, read=max(answer, wait + 60.0))
