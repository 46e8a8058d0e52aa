"""The scripted servers' wire: Streamable HTTP on loopback, raw JSON-RPC, in both protocol eras.

Raw on purpose: a scripted server must be able to misbehave the way a hostile one would (a notice
for an id it never sent, a mode the client did not declare, a `javascript:` link), which an SDK's
high-level API refuses to do. Every message the client sends is kept, with the time it came, so that
a scenario can be scored afterwards. The checker's own pages (`/page/...`) and the browser stand-in's
report (`POST /opened`) share the port, so "what was opened" is seen where it happens. What the
servers send is kept too, and follows the spec's schema of its era (2026-07-28: `resultType` on
every result, `ttlMs` and `cacheScope` on the cacheable ones, the server's name in `_meta`; errors
with the HTTP status the Streamable HTTP transport gives them), so that a strict client speaks to
them as to any server.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.abc
import uvicorn
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ._client_requirements import LEGACY, MODERN

TOOL = "check"
"""The one tool every scripted server offers: calling it plays the scenario."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
UNSUPPORTED_VERSION = -32022


class RpcError(Exception):
    """A JSON-RPC error the scripted server answers with."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Seen:
    """One message the client sent, when it came."""

    at: float
    message: dict[str, Any]
    session: str | None


@dataclass(frozen=True)
class Sent:
    """One message a scripted server sent, when, and the method of the request it answers (a
    response), if any."""

    at: float
    message: dict[str, Any]
    answers: str | None = None


@dataclass(frozen=True)
class Open:
    """One link that reached a browser: reported by the browser stand-in, or a GET of a checker page."""

    at: float
    url: str
    via: str
    """`stand-in` (the program BROWSER names was asked to open it) or `page` (a GET reached the page)."""


class Changes:
    """Something changed: whoever waits for a condition looks again. Events, not polling."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def touch(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def until(self, test: Callable[[], bool], timeout: float) -> bool:
        with anyio.move_on_after(timeout):
            while not test():
                await self._event.wait()
        return test()


class Session:
    """A 2025-11-25 connection (its `Mcp-Session-Id`): what it declared and its stream for notices."""

    def __init__(self, trace: Trace, capabilities: dict[str, Any]) -> None:
        self.id = secrets.token_hex(12)
        self.capabilities = capabilities
        self.trace = trace
        self.changes = trace.changes
        self.streams = 0
        """GET streams the client opened (where notices go)."""
        self._send, self._receive = anyio.create_memory_object_stream[dict[str, Any]](64)
        self._answers: dict[str, dict[str, Any]] = {}
        self.delivered: list[tuple[float, dict[str, Any]]] = []
        """Notices written to a GET stream, with the time."""

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Queue a notification for the client's GET stream (sent when one is open)."""
        with contextlib.suppress(anyio.ClosedResourceError, anyio.WouldBlock):
            self._send.send_nowait({"jsonrpc": "2.0", "method": method, "params": params})

    def answered(self, message: dict[str, Any]) -> None:
        self._answers[str(message.get("id"))] = message
        self.changes.touch()

    async def answer(self, request_id: str, timeout: float) -> dict[str, Any] | None:
        """The client's response to the server's request `request_id`, or None after `timeout`."""
        await self.changes.until(lambda: request_id in self._answers, timeout)
        return self._answers.get(request_id)

    async def stream(self) -> AsyncIterator[bytes]:
        self.streams += 1
        self.changes.touch()
        yield b": connected\n\n"
        async for message in self._receive:
            self.delivered.append((time.monotonic(), message))
            self.changes.touch()
            yield sse(self.trace.send(message))

    def close(self) -> None:
        self._send.close()


@dataclass
class Trace:
    """Everything one scenario's server saw: messages, sessions, what it did."""

    changes: Changes
    seen: list[Seen] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    notes: list[tuple[float, str]] = field(default_factory=list)
    """What the script did and when (`notice:unknown`, `final`…), for scoring."""
    finished: anyio.Event = field(default_factory=anyio.Event)
    """The script reached its end (its last answer went out)."""

    def send(self, message: dict[str, Any], answers: str | None = None) -> dict[str, Any]:
        """Keep `message` as sent (now), and give it back to be sent."""
        self.sent.append(Sent(time.monotonic(), message, answers))
        return message

    def note(self, what: str) -> float:
        at = time.monotonic()
        self.notes.append((at, what))
        self.changes.touch()
        return at

    def noted(self, what: str) -> float | None:
        return next((at for at, said in self.notes if said == what), None)

    def requests(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.message.get("method") == method and "id" in s.message]

    def calls(self) -> list[Seen]:
        return [s for s in self.requests("tools/call") if s.message.get("params", {}).get("name") == TOOL]

    def finish(self) -> None:
        self.note("final")
        self.finished.set()


class Scripted(Protocol):
    """One scenario's server: its era, its name (the path), and what its tool does."""

    era: str
    name: str
    trace: Trace

    async def call(self, call: ToolCall) -> dict[str, Any]:
        """The result of one call of the tool (raise `RpcError` to answer an error)."""
        ...


@dataclass
class ToolCall:
    """One `tools/call` of the scripted tool, with a way to ask the client in the middle (2025)."""

    id: Any
    params: dict[str, Any]
    seen: Seen
    session: Session | None
    _out: MemoryObjectSendStream[dict[str, Any]] | None = None

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.params.get("_meta")
        return meta if isinstance(meta, dict) else {}

    async def ask(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Send a request to the client on this call's stream; its response, or None after `timeout`."""
        assert self._out is not None and self.session is not None, "asking needs a 2025-11-25 call"
        request_id = f"hc-{secrets.token_hex(6)}"
        await self._out.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return await self.session.answer(request_id, timeout)


def sse(message: dict[str, Any]) -> bytes:
    return f"event: message\ndata: {json.dumps(message)}\n\n".encode()


def result_of(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_of(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.as_error()}


TOOL_LIST = {
    "tools": [
        {
            "name": TOOL,
            "description": "Plays one scenario of handoff check client (it asks for browser steps).",
            "inputSchema": {"type": "object", "properties": {}},
        }
    ]
}


class Hub:
    """The checker's HTTP side: every scenario's MCP endpoint, its pages, the stand-in's reports."""

    def __init__(self) -> None:
        self.changes = Changes()
        self.origin = ""
        self.scenarios: dict[str, Scripted] = {}
        self.opens: list[Open] = []
        self._tasks: anyio.abc.TaskGroup | None = None
        self.app = Starlette(
            routes=[
                Route("/{era}/{name}/mcp", self._mcp, methods=["GET", "POST", "DELETE"]),
                Route("/page/{token}", self._page, methods=["GET", "HEAD"]),
                Route("/opened", self._opened, methods=["POST"]),
            ]
        )

    def url(self, scenario: Scripted) -> str:
        return f"{self.origin}/{scenario.era}/{scenario.name}/mcp"

    def page(self, token: str) -> str:
        return f"{self.origin}/page/{token}"

    @property
    def report_url(self) -> str:
        return f"{self.origin}/opened"

    def add(self, scenario: Scripted) -> None:
        self.scenarios[f"{scenario.era}/{scenario.name}"] = scenario

    def opened(self, url: str) -> list[Open]:
        return [o for o in self.opens if o.url == url]

    async def wait_open(self, url: str, timeout: float) -> bool:
        return await self.changes.until(lambda: bool(self.opened(url)), timeout)

    def later(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work` beside the request that started it (a notice sent after the page opens)."""
        assert self._tasks is not None
        self._tasks.start_soon(work)

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0) -> AsyncIterator[Hub]:
        """Serve on 127.0.0.1:`port` (0: any free port) until the block ends."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            raise OSError(
                f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pick another --serve port"
            ) from None
        sock.listen(128)
        self.origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = _Server(
            uvicorn.Config(self.app, log_level="error", lifespan="off", timeout_graceful_shutdown=1)
        )
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            tg.start_soon(server.serve, [sock])
            try:
                with anyio.fail_after(10):
                    while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
                        await anyio.sleep(0.01)
                yield self
            finally:
                for scenario in self.scenarios.values():
                    for session in scenario.trace.sessions.values():
                        session.close()
                server.should_exit = True
                tg.cancel_scope.deadline = anyio.current_time() + 3
        sock.close()

    # HTTP

    async def _page(self, request: Request) -> Response:
        self.opens.append(Open(time.monotonic(), str(request.url), "page"))
        self.changes.touch()
        return HTMLResponse(
            "<!doctype html><title>handoff check</title><p>This browser step is done. "
            "Go back to the client under test.</p>",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def _opened(self, request: Request) -> Response:
        try:
            url = str((await request.json())["url"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"url": "..."}'}, status_code=400)
        self.opens.append(Open(time.monotonic(), url, "stand-in"))
        self.changes.touch()
        return JSONResponse({"recorded": True})

    async def _mcp(self, request: Request) -> Response:
        scenario = self.scenarios.get(f"{request.path_params['era']}/{request.path_params['name']}")
        if scenario is None:
            return JSONResponse({"error": "no such scenario here"}, status_code=404)
        trace = scenario.trace
        session_id = request.headers.get("mcp-session-id")
        session = trace.sessions.get(session_id or "")
        if request.method == "GET":
            if session is None:
                return Response(status_code=405 if scenario.era == MODERN else 400)
            return StreamingResponse(session.stream(), media_type="text/event-stream", headers=_no_store())
        if request.method == "DELETE":
            if scenario.era == MODERN:
                return Response(status_code=405)
            if session is not None:
                session.close()
            return Response(status_code=200)
        try:
            message = json.loads(await request.body())
        except ValueError:
            return _reply(trace, None, error_of(None, RpcError(PARSE_ERROR, "not JSON")), 400)
        if not isinstance(message, dict):
            error = RpcError(INVALID_REQUEST, "one JSON-RPC message per POST")
            return _reply(trace, None, error_of(None, error), 400)
        seen = Seen(time.monotonic(), message, session_id)
        trace.seen.append(seen)
        trace.changes.touch()
        if "method" not in message:
            if session is not None:
                session.answered(message)
            return Response(status_code=202)
        if "id" not in message:
            return Response(status_code=202)
        if scenario.era == LEGACY:
            return await self._legacy(scenario, seen, session, session_id)
        return await self._modern(scenario, seen)

    async def _legacy(
        self, scenario: Scripted, seen: Seen, session: Session | None, session_id: str | None
    ) -> Response:
        trace, message = scenario.trace, seen.message
        method, request_id = message["method"], message["id"]
        params = message.get("params") or {}
        if method == "initialize":
            capabilities = params.get("capabilities")
            session = Session(trace, capabilities if isinstance(capabilities, dict) else {})
            trace.sessions[session.id] = session
            result = {
                "protocolVersion": LEGACY,
                "capabilities": {"tools": {}},
                "serverInfo": _server_info(scenario),
            }
            answer = result_of(request_id, result)
            return _reply(trace, method, answer, headers={"Mcp-Session-Id": session.id})
        if session is None:
            if session_id is None:
                error = RpcError(INVALID_REQUEST, "no Mcp-Session-Id: send initialize first")
                return _reply(trace, method, error_of(request_id, error), 400)
            error = RpcError(INVALID_REQUEST, "unknown session")
            return _reply(trace, method, error_of(request_id, error), 404)
        if method == "tools/call":
            return self._stream_call(scenario, seen, session)
        if method == "tools/list":
            return _reply(trace, method, result_of(request_id, TOOL_LIST))
        if method == "ping":
            return _reply(trace, method, result_of(request_id, {}))
        return _reply(trace, method, _not_offered(request_id, method))

    async def _modern(self, scenario: Scripted, seen: Seen) -> Response:
        trace, message = scenario.trace, seen.message
        method, request_id = message["method"], message["id"]
        params = message.get("params") or {}
        meta = params.get("_meta")
        meta = meta if isinstance(meta, dict) else {}
        version = meta.get("io.modelcontextprotocol/protocolVersion")
        if method == "initialize" or version != MODERN:
            requested = params.get("protocolVersion") if method == "initialize" else version
            data: dict[str, Any] = {"supported": [MODERN]}
            if isinstance(requested, str):
                data["requested"] = requested
            error = RpcError(UNSUPPORTED_VERSION, "Unsupported protocol version", data)
            return _reply(trace, method, error_of(request_id, error), 400)
        served = _modern_result(scenario)
        if method == "server/discover":
            result = {**served, "supportedVersions": [MODERN], "capabilities": {"tools": {}}, **CACHE}
            return _reply(trace, method, result_of(request_id, result))
        if method == "tools/list":
            return _reply(trace, method, result_of(request_id, {**served, **TOOL_LIST, **CACHE}))
        if method == "tools/call":
            answer = await self._play(scenario, ToolCall(request_id, params, seen, None))
            if "result" in answer:
                answer = {**answer, "result": {"_meta": served["_meta"], **answer["result"]}}
            return _reply(trace, method, answer)
        return _reply(trace, method, _not_offered(request_id, method), 404)

    def _stream_call(self, scenario: Scripted, seen: Seen, session: Session) -> Response:
        """A 2025-11-25 tool call answered on an SSE stream, so the script can ask in the middle."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](16)
        call = ToolCall(seen.message["id"], seen.message.get("params") or {}, seen, session, send)

        async def play() -> None:
            with send, contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(await self._play(scenario, call))

        self.later(play)
        return StreamingResponse(
            _events(receive, scenario.trace), media_type="text/event-stream", headers=_no_store()
        )

    async def _play(self, scenario: Scripted, call: ToolCall) -> dict[str, Any]:
        if call.params.get("name") != TOOL:
            return error_of(call.id, RpcError(INVALID_PARAMS, f"unknown tool; this server has one: {TOOL}"))
        try:
            return result_of(call.id, await scenario.call(call))
        except RpcError as error:
            return error_of(call.id, error)


CACHE = {"ttlMs": 0, "cacheScope": "private"}
"""2026-07-28's cache hints on a cacheable result: stale at once, for this client only."""


def _server_info(scenario: Scripted) -> dict[str, str]:
    return {"name": f"handoff-check-{scenario.name}", "version": "1"}


def _modern_result(scenario: Scripted) -> dict[str, Any]:
    """What every 2026-07-28 result carries: its type (set again by a tool's own) and the server's name."""
    return {"resultType": "complete", "_meta": {"io.modelcontextprotocol/serverInfo": _server_info(scenario)}}


def _not_offered(request_id: Any, method: str) -> dict[str, Any]:
    return error_of(request_id, RpcError(METHOD_NOT_FOUND, f"{method} is not offered here"))


def _reply(
    trace: Trace,
    answers: str | None,
    message: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return JSONResponse(trace.send(message, answers), status_code=status, headers=headers)


async def _events(receive: MemoryObjectReceiveStream[dict[str, Any]], trace: Trace) -> AsyncIterator[bytes]:
    async with receive:
        async for message in receive:
            yield sse(trace.send(message, "tools/call"))


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the checker decides when serving ends."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
