"""`HandoffClient`: the official SDK client, with URL elicitation done right and sign-in built in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, StdioServerParameters
from mcp.client._transport import TransportStreams
from mcp.client.auth import OAuthFlowError
from mcp.client.client import _connect_transport
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import REQUEST_TIMEOUT, ClientCapabilities
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .._command_line import displayed
from .._errors import HandoffError, leaves
from ._elicitations import Elicitations, Waiter
from ._failures import HttpRefusal, ServerUnreachable, connection_closed, telling_leaf, unreachable
from ._reconnect import LOST, RECONNECTS, DroppedAnswers, Round, current_round, recording
from ._retry import ElicitationFailed, retry_after_elicitation
from ._server_process import ServerProcess
from ._server_stderr import relayed_stderr
from ._signin import SignIn, SignInFailed, _to_stderr
from ._timeouts import ANSWER_TIMEOUT, MAX_ANSWER_BYTES, AnswerDeadline, http_timeouts

_GRACE = 1.0
"""Seconds past the person's time before a call still waiting is stopped."""


@dataclass
class HandoffClient(Client):
    """`mcp.Client` that declares exactly the elicitation modes it supports, asks consent before any
    URL is opened, and retries a tool call after error -32042 once the browser step is done.

    On 2026-07-28 connections the SDK's own multi-round-trip driver retries; the
    same consent and URL checks run for the URL requests inside `InputRequiredResult`.

    With `auth=SignIn(...)` and a server URL, it signs in when the server answers 401 (see
    `SignIn`). Whenever signing in is what stands in the way (no `auth` for a server that needs
    it, declined, timed out), entering it or calling a tool raises `SignInFailed`, one line.

    Waiting is bounded: `connect_timeout` to connect, the handshake's answers included (all of them
    together: a server that keeps an answer open without finishing it does not hold it up);
    `answer_timeout` for each later answer to start; and inside an answer already under way (which
    may wait for a person in the browser) `wait_timeout` plus a minute. When the server cannot be
    reached, stops answering, closes the connection, answers HTTP errors instead of MCP or sends an
    answer larger than `max_answer_bytes` (read no further), entering it or calling a tool raises
    `ServerUnreachable`, one line.

    A connection to a URL that drops while a tool call waits (a replica that died behind a load
    balancer) is ridden out once per call, and said in one line through `notify`: on 2026-07-28
    the call's latest retry is sent again as it was (the same requestState and input responses);
    on 2025-11-25, once the server no longer knows the session, a new session is made and the
    call is made again on it (which, for a gated tool, names the same browser step).
    """

    auth: SignIn | None = field(default=None, kw_only=True)
    """Sign in with OAuth in the browser when the server asks for it; the server must be a URL."""
    elicitations: Elicitations | None = field(default=None, kw_only=True)
    waiter: Waiter | None = field(default=None, kw_only=True)
    """Lets a person say "done" or cancel while a call waits for the browser."""
    wait_timeout: float = field(default=600.0, kw_only=True)
    max_rounds: int = field(default=3, kw_only=True)
    connect_timeout: float = field(default=10.0, kw_only=True)
    """Seconds to connect to a server at a URL: to open a connection or send a request, and for all
    the handshake's answers together (a sign-in in the browser does not count)."""
    answer_timeout: float = field(default=ANSWER_TIMEOUT, kw_only=True)
    """Seconds for each answer after the handshake to start (`ANSWER_TIMEOUT`: more than a
    handoff server holds a 2026-07-28 retry before its answer starts). A stdio server has this long for
    each answer, its start included, and a tool call `wait_timeout` plus a minute, unless
    `read_timeout_seconds` says otherwise."""
    max_answer_bytes: int = field(default=MAX_ANSWER_BYTES, kw_only=True)
    """The most read of one answer from a server at a URL (of one event, on the stream the client
    listens on); a larger answer fails the request it answers, and is not read further."""
    _refused: bool = field(init=False, default=False, repr=False, compare=False)
    """The MCP endpoint's last answer was 401."""
    _http_refusal: HttpRefusal | None = field(init=False, default=None, repr=False, compare=False)
    """The MCP endpoint's last answer to a POST was an HTTP error without a JSON-RPC error."""
    _deadline: AnswerDeadline | None = field(init=False, default=None, repr=False, compare=False)
    _server_process: ServerProcess | None = field(init=False, default=None, repr=False, compare=False)
    """A stdio server's process, to say how it ended."""
    notify: Callable[[str], None] = field(default=_to_stderr, kw_only=True)
    """Says, in one line, that a call was sent again after its connection dropped."""
    _gone: anyio.Event | None = field(init=False, default=None, repr=False, compare=False)
    """Set when the server answers 404 to this connection's session: it no longer knows it."""
    _links: TaskGroup | None = field(init=False, default=None, repr=False, compare=False)
    """Where the sessions made anew live (a task of their own, so that any caller can make one)."""
    _links_stack: AsyncExitStack | None = field(init=False, default=None, repr=False, compare=False)
    _stops: list[anyio.Event] = field(init=False, default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.elicitations is not None:
            self.elicitation_callback = self.elicitations.handle_request
            user_handler = self.message_handler
            elicitations = self.elicitations

            async def on_message(message: IncomingMessage) -> None:
                await elicitations.on_message(message)
                if user_handler is not None:
                    await user_handler(message)

            self.message_handler = on_message
            if self.elicitations.server_url is None and isinstance(self.server, str):
                self.elicitations.server_url = self.server
        if isinstance(self.server, StdioServerParameters) and self.read_timeout_seconds is None:
            self.read_timeout_seconds = self.answer_timeout
        super().__post_init__()
        if isinstance(self.server, str):
            # The SDK would build a plain client for the URL; this one signs in (given `auth`) and
            # notices a 401, which the SDK reports only as "Server returned an error response".
            self._connect = _connect_transport(self._http_transport(self.server))
        elif self.auth is not None:
            raise TypeError("auth= signs in to a server at a URL; pass the server's URL as a string")
        elif isinstance(self.server, StdioServerParameters):
            self._connect = _connect_transport(self._stdio_transport(self.server))

    @contextlib.asynccontextmanager
    async def _http_transport(self, url: str) -> AsyncIterator[TransportStreams]:
        timeout = http_timeouts(self.connect_timeout, self.answer_timeout, self.wait_timeout)
        transport = self._deadline = AnswerDeadline(
            self.connect_timeout,
            DroppedAnswers(),
            handshake=self.connect_timeout,
            max_bytes=self.max_answer_bytes,
        )
        gone = self._gone = anyio.Event()

        async def watch(response: httpx2.Response) -> None:
            if response.request.url != url:
                return
            if response.status_code == 404 and "mcp-session-id" in response.request.headers:
                gone.set()
            self._refused = response.status_code == 401
            if response.request.method == "POST":
                plain_error = response.status_code >= 400 and not response.headers.get(
                    "content-type", ""
                ).startswith("application/json")
                self._http_refusal = (
                    HttpRefusal(response.status_code, response.reason_phrase)
                    if plain_error and response.status_code != 401
                    else None
                )

        async with contextlib.AsyncExitStack() as stack:
            if self.auth is not None:
                http = await stack.enter_async_context(
                    self.auth.http(url, timeout=timeout, transport=transport)
                )
            else:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(timeout=timeout, transport=transport)
                )
            http.event_hooks = {"response": [watch]}
            yield await stack.enter_async_context(
                streamable_http_client(url, http_client=http, max_sse_event_size=self.max_answer_bytes)
            )

    @contextlib.asynccontextmanager
    async def _stdio_transport(self, command: StdioServerParameters) -> AsyncIterator[TransportStreams]:
        server = self._server_process = ServerProcess()
        async with contextlib.AsyncExitStack() as stack:
            errlog = stack.enter_context(relayed_stderr())
            with server.spawning():
                streams = await stack.enter_async_context(stdio_client(command, errlog=errlog))
            try:
                yield streams
            finally:
                server.closing()

    async def __aenter__(self) -> HandoffClient:
        links = AsyncExitStack()
        self._links = await links.enter_async_context(anyio.create_task_group())
        try:
            await super().__aenter__()
        except BaseException as exc:
            await links.aclose()  # outside the task group: the failure is raised as it is
            self._links = None
            failure = self._failure(exc, handshake=True)
            if failure is None:
                raise
            raise failure from None
        self._links_stack = links
        self._handshake_done()
        return self

    def _handshake_done(self) -> None:
        if self._deadline is not None:
            self._deadline.seconds = self.answer_timeout
            self._deadline.handshake = None

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            try:
                await super().__aexit__(*exc_info)
            finally:
                for stop in self._stops:
                    stop.set()
                if self._links_stack is not None:
                    await self._links_stack.__aexit__(None, None, None)
                self._links = self._links_stack = None
        except BaseException as exc:
            failure = self._failure(exc)
            if failure is None:
                raise
            raise failure from None

    async def _new_session(self) -> None:
        """Make a new 2025-11-25 session with the server (the old one is gone), in a task of its own
        that keeps it until the client closes."""
        assert self._links is not None and isinstance(self.server, str)
        stop = anyio.Event()
        self._stops.append(stop)
        self._connect = _connect_transport(self._http_transport(self.server))

        async def hold(*, task_status: TaskStatus[ClientSession] = anyio.TASK_STATUS_IGNORED) -> None:
            async with AsyncExitStack() as stack:
                session = await stack.enter_async_context(await self._build_session(stack))
                await session.initialize()
                task_status.started(session)
                await stop.wait()

        self._session = await self._links.start(hold)
        self._handshake_done()

    @property
    def _where(self) -> str:
        """The server as a person knows it: its URL, or the command that runs it (its secrets left
        out)."""
        if isinstance(self.server, StdioServerParameters):
            return displayed([self.server.command, *self.server.args])
        return self.server if isinstance(self.server, str) else type(self.server).__name__

    def _failure(self, exc: BaseException, *, handshake: bool = False) -> HandoffError | None:
        """The one error to show when signing in or reaching the server is what failed, else None
        (the error stands: an answer from the server, or a fault in the caller's code)."""
        told = telling_leaf(exc)
        if isinstance(told, HandoffError):
            return told
        limit = self._deadline.failure if self._deadline is not None else None
        if self._deadline is not None and limit is not None:
            self._deadline.failure = None  # the SDK says "parse error" or "stream ended": say what it was
            return unreachable(limit, self._where, connect_timeout=self.connect_timeout)
        found = list(leaves(exc))
        for leaf in found:
            if isinstance(leaf, OAuthFlowError):
                return SignInFailed(f"could not sign in to {self.server}: {leaf}")
        if self._refused and any(isinstance(leaf, MCPError | httpx2.HTTPError) for leaf in found):
            if self.auth is None:
                return SignInFailed(
                    f"{self.server} asks you to sign in (HTTP 401 Unauthorized); "
                    "pass auth=SignIn() to HandoffClient"
                )
            return SignInFailed(
                f"{self.server} still refuses this client after signing in (HTTP 401 Unauthorized); "
                "sign out to forget the stored sign-in, then sign in again"
            )
        stdio = isinstance(self.server, StdioServerParameters)
        server = self._server_process
        if (
            stdio
            and server is not None
            and any(isinstance(e, MCPError) and connection_closed(e) for e in found)
        ):
            ended = server.ending()
            if ended is not None:
                return ServerUnreachable(
                    f"{self._where} {ended} before it answered; check the command, and what it printed above"
                )
            return ServerUnreachable(f"{self._where} closed its output before it answered; it was stopped")
        if handshake and stdio and any(isinstance(e, MCPError) and e.code == REQUEST_TIMEOUT for e in found):
            return ServerUnreachable(
                f"{self._where} started but did not answer within {self.read_timeout_seconds:g} s; "
                "is it an MCP server on stdio?"
            )
        return unreachable(
            exc,
            self._where,
            connect_timeout=self.connect_timeout,
            http_refusal=self._http_refusal,
            handshake=handshake,
        )

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        elicitations = self.elicitations
        if elicitations is not None:
            base = session._build_capabilities

            def declared(version: str) -> ClientCapabilities:
                return base(version).model_copy(update={"elicitation": elicitations.capability})

            session._build_capabilities = declared  # type: ignore[method-assign]
        session.call_tool = recording(session.call_tool)  # type: ignore[method-assign,assignment]
        return session

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        """`Client.call_tool`, retried after -32042 once the person finished in the browser."""
        if isinstance(self.server, StdioServerParameters) and not args:
            kwargs.setdefault("read_timeout_seconds", max(self.answer_timeout, self.wait_timeout + 60.0))

        sent = Round()
        noting = current_round.set(sent)
        again = RECONNECTS
        rejoined = False

        async def call() -> Any:
            nonlocal again, rejoined
            while True:
                legacy = self.protocol_version not in MODERN_PROTOCOL_VERSIONS
                if legacy and self._session_gone and again > 0:
                    again -= 1
                    await self._new_session()
                    rejoined = True
                    self.notify(
                        f"the session with {self._where} ended (its server is gone); "
                        f"made a new session and called {name} again"
                    )
                try:
                    resent = {"input_responses": sent.input_responses, "request_state": sent.request_state}
                    if again < RECONNECTS and not legacy and sent.request_state is not None:
                        return await Client.call_tool(self, name, arguments, *args, **{**kwargs, **resent})
                    return await Client.call_tool(self, name, arguments, *args, **kwargs)
                except MCPError as error:
                    dropped = error.message.startswith(LOST) or (legacy and self._session_gone)
                    if not dropped or again <= 0 or not isinstance(self.server, str):
                        raise
                    if legacy and self._gone is not None:
                        self._gone.set()  # a session whose connection dropped is made anew
                        continue
                    again -= 1
                    self.notify(
                        f"lost the connection to {self._where} while {name} was waiting; "
                        "sent its retry again (the same request state)"
                    )

        def made_anew() -> bool:
            nonlocal rejoined
            was, rejoined = rejoined, False
            return was

        try:
            if self.elicitations is None:
                return await call()
            # From the moment a link is opened, the person has `wait_timeout` to finish: the retry
            # wrapper waits that long for a 2025-11-25 notice; a 2026-07-28 retry, held by the
            # server or answered with the same request again, is bounded here (a moment later, so
            # that the wrapper's own, more precise, word comes first where it applies).
            bound = anyio.CancelScope()

            def opened() -> None:
                bound.deadline = min(bound.deadline, anyio.current_time() + self.wait_timeout + _GRACE)

            with self.elicitations.watching_opens(opened), bound:
                return await retry_after_elicitation(
                    call,
                    self.elicitations,
                    waiter=self._waiter_or_gone(),
                    timeout=self.wait_timeout,
                    max_rounds=self.max_rounds,
                    rejoined=made_anew,
                )
            raise ElicitationFailed(
                f"the browser step was not finished within {self.wait_timeout:.0f} s (the server was still "
                "waiting for it); call the tool again when it is done"
            )
        except Exception as exc:
            closed = any(isinstance(e, MCPError) and connection_closed(e) for e in leaves(exc))
            if closed and self._server_process is not None:
                await self._server_process.settle()  # a server that just crashed: see how it ended
            failure = self._failure(exc)
            if failure is None or failure is exc:
                raise
            raise failure from None
        finally:
            current_round.reset(noting)

    @property
    def _session_gone(self) -> bool:
        return self._gone is not None and self._gone.is_set()

    def _waiter_or_gone(self) -> Waiter | None:
        """The person's waiter, that also ends the wait (as "done") once the server no longer knows
        this 2025-11-25 session: its completion notice cannot come, the call is made again instead."""
        if self._gone is None or self.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return self.waiter
        person = self.waiter

        async def wait() -> Literal["done", "cancel"]:
            said: list[Literal["done", "cancel"]] = []
            gone = self._gone  # the session of now: a new one once the old one was gone
            async with anyio.create_task_group() as tg:

                async def ended() -> None:
                    if gone is None:
                        await anyio.sleep_forever()
                    else:
                        await gone.wait()
                    said.append("done")
                    tg.cancel_scope.cancel()

                async def asked() -> None:
                    assert person is not None
                    said.append(await person())
                    tg.cancel_scope.cancel()

                tg.start_soon(ended)
                if person is not None:
                    tg.start_soon(asked)
            return said[0]

        return wait
