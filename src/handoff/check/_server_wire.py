"""The checker's MCP connection: the official SDK client declaring exactly the capabilities a check
needs, with every byte the server answered kept for the checks that read the wire itself."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    INVALID_PARAMS,
    ClientCapabilities,
    ElicitationCapability,
    ElicitCompleteNotification,
    ElicitRequestParams,
    ElicitRequestURLParams,
    ElicitResult,
    ErrorData,
    FormElicitationCapability,
    UrlElicitationCapability,
)

from ..client._failures import telling_leaf, unreachable
from ..client._timeouts import MAX_ANSWER_BYTES, AnswerDeadline
from ._server_stdio import Command, StartFailed, StdioRecording, stdio_transport

ElicitAnswer = Callable[[ElicitRequestURLParams], Awaitable[ElicitResult]]

URL_MODE = ElicitationCapability(url=UrlElicitationCapability())
"""What a URL-capable client declares (url only: the checker never fills forms)."""

UNDECLARED: dict[str, ElicitationCapability | None] = {
    "elicitation {}": ElicitationCapability(),
    "elicitation {form}": ElicitationCapability(form=FormElicitationCapability()),
    "no elicitation": None,
}
"""The declarations of clients that must never be sent URL mode, by how the report names them."""


@dataclass
class Exchange:
    """One HTTP request to the MCP endpoint and what came back."""

    method: str
    status: int | None
    """The HTTP status (None over stdio)."""
    body: bytearray = field(default_factory=bytearray)


class _Tee(httpx2.AsyncByteStream):
    """A body as it is read, the first `keep` bytes of it kept in `sink`."""

    def __init__(self, inner: httpx2.AsyncByteStream, sink: bytearray, keep: int) -> None:
        self.inner = inner
        self.sink = sink
        self.keep = keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            if len(self.sink) < self.keep:
                self.sink.extend(chunk[: self.keep - len(self.sink)])
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recording(httpx2.AsyncBaseTransport):
    """An HTTP transport that keeps every response body as the client reads it (each up to the
    answer limit: the stream a 2025-11-25 session listens on has no end), within `limits`."""

    def __init__(self, limits: AnswerDeadline) -> None:
        self.inner = limits
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        exchange = Exchange(request.method, response.status_code)
        self.exchanges.append(exchange)
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(stream, exchange.body, self.inner.max_bytes),
            extensions=response.extensions,
        )

    @property
    def traffic(self) -> bytes:
        return b"".join(bytes(e.body) for e in self.exchanges)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class _Declaring(Client):
    """`mcp.Client` that declares `declared` as its elicitation capability, whatever callback it has."""

    declared: ElicitationCapability | None = field(default=None, kw_only=True)

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        base = session._build_capabilities
        declared = self.declared

        def build(version: str) -> ClientCapabilities:
            return base(version).model_copy(update={"elicitation": declared})

        session._build_capabilities = build  # type: ignore[method-assign]
        return session


@dataclass
class Connection:
    """One connected probe: the client, and what the server sent it besides answers."""

    client: Client
    wire: Recording | StdioRecording
    requests: list[ElicitRequestParams] = field(default_factory=list)
    """Every elicitation/create the server sent."""
    notices: list[str] = field(default_factory=list)
    """The elicitationId of every completion notice."""
    input_keys: list[str] = field(default_factory=list)
    """2026-07-28: the keys of the input requests a retry answers (each with an accept)."""
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until `done()` holds, woken by what the server sends."""
        with anyio.move_on_after(timeout):
            while not done():
                await self._changed.wait()
        return done()

    def url_requests(self) -> list[dict[str, Any]]:
        """The params of every elicitation/create in url mode the server sent, as written on the wire:
        also those the SDK refused before the checker saw them (a missing elicitationId, say)."""
        return [
            params
            for message in messages_in(self.wire.traffic)
            if message.get("method") == "elicitation/create"
            and isinstance(params := message.get("params"), dict)
            and params.get("mode") == "url"
        ]

    async def call(self, name: str, arguments: dict[str, Any], timeout: float, **options: Any) -> Any:
        """`session.call_tool`, the raw result (an InputRequiredResult included), within `timeout`."""
        with anyio.fail_after(timeout):
            return await self.client.session.call_tool(
                name, arguments, read_timeout_seconds=timeout, allow_input_required=True, **options
            )


def messages_in(traffic: bytes) -> list[dict[str, Any]]:
    """The JSON-RPC messages in what a server wrote: JSON bodies, server-sent events' data, and
    stdio's messages one after another; what does not parse is left out."""
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    text = traffic.decode("utf-8", "replace")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("data:"):
            line = line[5:].strip()
        position = 0
        while position < len(line) and line[position] in "{[":
            try:
                value, position = decoder.raw_decode(line, position)
            except ValueError:
                break
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found.append(item)
            while position < len(line) and line[position].isspace():
                position += 1
    return found


ANSWER_START = 120.0
"""Seconds for each answer to start after the handshake (each call has its own bound besides)."""


class WireStopped(Exception):
    """What the server did on the wire stopped the checks of a connection (a limit reached, the
    connection lost), said in one line."""


def stopped(exc: Exception, where: str, limits: AnswerDeadline | None, connect_timeout: float) -> Exception:
    """The one exception to go on with: a `WireStopped` saying which limit the server reached or that
    the connection broke, else the exception that says most (out of a task group's)."""
    limit = limits.failure if limits is not None else None
    if limits is not None and limit is not None:
        limits.failure = None
        said = unreachable(limit, where, connect_timeout=connect_timeout)
        return WireStopped(str(said) if said is not None else str(limit))
    said = unreachable(exc, where, connect_timeout=connect_timeout)
    if said is not None:
        return WireStopped(str(said))
    leaf = telling_leaf(exc)
    return leaf if isinstance(exc, BaseExceptionGroup) and isinstance(leaf, Exception) else exc


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@contextlib.asynccontextmanager
async def connect(
    server: str | Command,
    *,
    mode: str,
    token: str | None,
    declared: ElicitationCapability | None = URL_MODE,
    answer: ElicitAnswer | None = None,
    connect_timeout: float = 10.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> AsyncIterator[Connection]:
    """A connection in `mode` ("legacy" or a 2026 version) declaring `declared`, to the server at a
    URL or to a new process of a stdio `Command` (raising `StartFailed` when it does not start). A
    url-mode request is answered by `answer` (decline by default); any other request with -32602,
    as the spec asks of a client that did not declare that mode.

    Over HTTP the handshake's answers together have `connect_timeout` seconds, and no answer is read
    past `max_answer_bytes`; a limit reached, or the connection lost, raises `WireStopped`."""
    holder: list[Connection] = []

    async def on_elicit(context: Any, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        connection = holder[0]
        connection.requests.append(params)
        connection.changed()
        if not isinstance(params, ElicitRequestURLParams) or declared is None or declared.url is None:
            return ErrorData(code=INVALID_PARAMS, message="this client did not declare that elicitation mode")
        if answer is None:
            return ElicitResult(action="decline")
        return await answer(params)

    async def on_message(message: object) -> None:
        if isinstance(message, ElicitCompleteNotification) and holder:
            holder[0].notices.append(message.params.elicitation_id)
            holder[0].changed()

    def client_for(transport: Any) -> _Declaring:
        return _Declaring(
            transport,
            mode=mode,
            declared=declared,
            elicitation_callback=on_elicit,
            message_handler=on_message,
        )

    if isinstance(server, Command):
        stdio = StdioRecording()
        try:
            client = client_for(stdio_transport(server, stdio))
            holder.append(Connection(client, stdio))
            async with AsyncExitStack() as stack:
                try:
                    await stack.enter_async_context(client)
                except Exception as exc:  # whatever the SDK raises when the process ends early
                    await stdio.process.settle()
                    raise StartFailed(server, stdio, exc) from exc
                yield holder[0]
        except StartFailed:
            raise
        except Exception as exc:
            going_on = stopped(exc, str(server), None, connect_timeout)
            if going_on is exc:
                raise
            raise going_on from exc
        finally:
            await stdio.aclose()
        return
    limits = AnswerDeadline(connect_timeout, handshake=connect_timeout, max_bytes=max_answer_bytes)
    wire = Recording(limits)
    try:
        async with httpx2.AsyncClient(
            headers=bearer(token), transport=wire, timeout=httpx2.Timeout(connect_timeout, read=ANSWER_START)
        ) as http:
            transport = streamable_http_client(server, http_client=http, max_sse_event_size=max_answer_bytes)
            holder.append(Connection(client_for(transport), wire))
            async with holder[0].client:
                limits.seconds, limits.handshake = ANSWER_START, None
                yield holder[0]
    except Exception as exc:
        going_on = stopped(exc, server, limits, connect_timeout)
        if going_on is exc:
            raise
        raise going_on from exc
