"""`handoff bridge`: an MCP server (stdio, or HTTP on loopback) in front of a handoff client connected to
the real server.

The SDK's low-level `Server` is the downstream side: the bridge serves the upstream's tools exactly
as listed (names, descriptions, schemas, annotations), which a decorator-based `MCPServer` would
re-derive from Python signatures. A link the upstream server sends during a call is checked, then
given to the client in front in the way it declared (URL mode, a consent form, or a tool result
with the link), or decided by `--accept`.
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
import sys
import warnings
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import anyio
from anyio.abc import TaskGroup
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ElicitRequest,
    ElicitRequestedSchema,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ErrorData,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from .._errors import HandoffError, expected
from .._exact import printable
from ..client import Decision, Elicitations, HandoffClient, SignIn, system_browser
from ..client._failures import ServerUnreachable, one_line
from ..client._timeouts import MAX_ANSWER_BYTES
from ..client._tokens import FileTokens, MemoryTokens
from ..eras import SteppedClockCodec
from ._consent import NOT_NOW, OPEN, BridgeConsent, consent_text, link_text, passed_on
from ._front import CannotListen, http_front, stdio_front
from ._mirror import Mirror
from ._passthrough import Downstreams, Passthrough, undeclared
from ._progress import Progress
from ._steps import Ask, Item, Pass, Step, Steps, current, key_of
from ._upstream import ConnectionLost, Upstream

logger = logging.getLogger("handoff.bridge")

Policy = Literal["ok", "warn", "none"]
HOLD = 50.0
"""Longest a downstream request is held waiting for the browser before it is answered (a 2026-07-28
client asked to retry; a client without elicitation given the link again): below the 60 s tool-call
timeout common clients use."""
LINK = "link"
"""The key of the bridge's one input request in an `InputRequiredResult`, about a link."""
PASSED = "request"
"""The key of an upstream's request passed on inside an `InputRequiredResult`."""
T = TypeVar("T")
PROGRESS_EVERY = 10.0
"""Seconds between progress notifications while a call waits for a person."""
CHOICE: ElicitRequestedSchema = {
    "type": "object",
    "properties": {
        "choice": {
            "type": "string",
            "title": "Open the link?",
            "enum": [OPEN, NOT_NOW],
        }
    },
    "required": ["choice"],
}
"""The consent form: one choice, nothing secret."""


class Bridge:
    """The downstream handlers, in front of the upstream (connected again after a drop)."""

    def __init__(
        self,
        upstream: Upstream,
        tasks: TaskGroup,
        steps: Steps,
        accept: Policy,
        *,
        mirror: Mirror,
        timeout: float = 600.0,
        progress_every: float = PROGRESS_EVERY,
    ) -> None:
        self.upstream = upstream
        self.mirror = mirror
        self.tasks = tasks
        self.steps = steps
        self.accept = accept
        self.timeout = timeout
        """Seconds the client in front has to answer a question about a link."""
        self.progress_every = progress_every

    @property
    def client(self) -> HandoffClient:
        """The connection to the server as it is now (made again after a restart)."""
        return self.upstream.client

    def lost(self, error: ConnectionLost) -> None:
        """The connection dropped: every call under way on it ends, saying so."""
        for step in self.steps.running():
            logger.info("%s: %s", _named(step), error)
            self._stop(step, error)

    def server(self) -> Server[Any]:
        info = self.client.server_info
        with warnings.catch_warnings():  # logging is deprecated in 2026-07-28, and 2025 clients use it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            server: Server[Any] = Server(
                info.name if info else "handoff bridge",
                version=info.version if info else "",
                instructions=self.client.instructions,
                on_list_tools=self.list_tools,
                on_call_tool=self.call_tool,
                **self.mirror.handlers(self.client),
            )
        # A retry's requestState names a step here: sealed, and bound to the tool and arguments.
        security = RequestStateSecurity(codec=SteppedClockCodec([secrets.token_bytes(32)]))
        boundary = RequestStateBoundary(security, default_audience="handoff bridge")
        server.middleware.extend([self._seen, boundary])
        upstream = self.client.server_capabilities
        changes = NotificationOptions(
            tools_changed=bool(upstream.tools and upstream.tools.list_changed),
            resources_changed=bool(upstream.resources and upstream.resources.list_changed),
            prompts_changed=bool(upstream.prompts and upstream.prompts.list_changed),
        )
        plain = server.create_initialization_options
        server.create_initialization_options = functools.partial(plain, changes)  # type: ignore[method-assign]
        return server

    async def _seen(self, ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        """Every request: who the client in front is, for what the upstream sends outside a call."""
        self.mirror.downstreams.seen(ctx.session)
        return await call_next(ctx)

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        try:
            return await self.client.list_tools(cursor=params.cursor if params else None)
        except MCPError:
            raise
        except Exception as exc:
            raise _unreachable(exc, self.client) from None

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        arguments = dict(params.arguments or {})
        raw: Mapping[str, Any] = ctx.params or {}
        state = raw.get("requestState")
        if isinstance(state, str):
            step = self.steps.by_id(state)
            if step is None or step.key != key_of(params.name, arguments):
                raise MCPError(INVALID_PARAMS, "this browser step is no longer pending; call the tool again")
            _answer(step, raw.get("inputResponses"))
        else:
            step = self.steps.find(params.name, arguments)
            if step is None:
                step = Step(params.name, arguments)
                self.steps.add(step)
                self.tasks.start_soon(self._run, step)
        follower = Progress(ctx.session)
        step.followers.append(follower)
        beating = anyio.CancelScope()
        if ctx.meta is not None and ctx.meta.get("progress_token") is not None:  # else no one to tell
            self.tasks.start_soon(self._beat, step, follower, beating)
        try:
            return await self._follow(ctx, step)
        except anyio.get_cancelled_exc_class():
            if step.followers == [follower] and not step.done.is_set():
                logger.info("%s: cancelled by the client; the call upstream is cancelled", _named(step))
                self._stop(step)
            raise
        finally:
            beating.cancel()
            step.followers.remove(follower)

    async def _run(self, step: Step) -> None:
        current.set(step)
        with step.scope:
            try:
                result = await self.client.call_tool(step.tool, step.arguments, progress_callback=step.relay)
            except Exception as exc:
                step.finish(error=exc)
            else:
                step.finish(result)
        if step.scope.cancelled_caught:
            step.finish(error=step.stopped_by or Stopped(f"{step.tool} was stopped before it ended"))

    def _stop(self, step: Step, because: HandoffError | None = None) -> None:
        """Nothing of the step stays pending: the upstream call is cancelled, its questions too
        (the caller still waiting is told `because`)."""
        step.stop(because)
        self.steps.collected(step)

    async def _beat(self, step: Step, follower: Progress, scope: anyio.CancelScope) -> None:
        """While a person is asked or in the browser, a progress notification every so often (until
        `scope` is cancelled: the request was answered)."""
        with scope:
            while True:
                await anyio.sleep(self.progress_every)
                if step.waits_on_a_person:
                    await follower.beat(f"waiting for you to finish in your browser ({step.tool})")

    async def _follow(
        self, ctx: ServerRequestContext[Any], step: Step
    ) -> CallToolResult | InputRequiredResult:
        """Until the step ends (its result), or the client must be answered before it does."""
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        while True:
            held = HOLD if modern or step.shown is not None else math.inf
            ask = await step.next_ask(held)
            if ask is None:
                if step.done.is_set():
                    self.steps.collected(step)
                    return _outcome(step, self.client)
                if step.shown is not None:
                    return _tool_error(link_text(step.shown.request))
                return InputRequiredResult(request_state=step.id)
            if ask.decided.is_set():
                continue  # withdrawn by the server before the client was asked
            if isinstance(ask, Pass):
                answer = await self._pass(ctx, step, ask, modern)
            else:
                answer = await self._decide(ctx, step, ask, modern)
            if answer is not None:
                return answer

    async def _decide(
        self, ctx: ServerRequestContext[Any], step: Step, ask: Ask, modern: bool
    ) -> CallToolResult | InputRequiredResult | None:
        """Decide `ask` here, or ask the client: None to go on waiting, else the answer to give now."""
        request = ask.request
        verdict = request.report.verdict
        if verdict == "block":
            ask.decide(Decision.DECLINE)  # never passed on; the call ends saying it was blocked
            return None
        if verdict in {"ok": ("ok",), "warn": ("ok", "warn"), "none": ()}[self.accept]:
            ask.decide(Decision.ACCEPT, opens=True)
            return None
        elicitation = ctx.session.client_capabilities.elicitation if ctx.session.client_capabilities else None
        url = request.report.href or request.url
        if elicitation is not None and elicitation.url is not None:
            if modern:
                step.awaiting, step.awaiting_form = ask, False
                return _input_required(step, ElicitRequestURLParams(message=passed_on(request), url=url))
            elicitation_id = request.elicitation_id or secrets.token_urlsafe(16)
            said = await self._asking(
                ask, ctx.session.elicit_url(passed_on(request), url, elicitation_id, ctx.request_id)
            )
            if said is not None:
                ask.decide(Decision(said.action))
            return None if ask.decided.is_set() else self._unanswered(step)
        if elicitation is not None and (elicitation.form is not None or elicitation.url is None):
            form = ElicitRequestFormParams(message=consent_text(request), requested_schema=CHOICE)
            if modern:
                step.awaiting, step.awaiting_form = ask, True
                return _input_required(step, form)
            answer = await self._asking(ask, ctx.session.elicit_form(form.message, CHOICE, ctx.request_id))
            if answer is not None:
                _decide_form(ask, answer.action, answer.content)
            return None if ask.decided.is_set() else self._unanswered(step)
        ask.decide(Decision.ACCEPT)  # the person opens it from the tool result; the step waits
        step.shown = ask
        return _tool_error(link_text(request))

    async def _pass(
        self, ctx: ServerRequestContext[Any], step: Step, item: Pass, modern: bool
    ) -> CallToolResult | InputRequiredResult | None:
        """The upstream's request to the client in front, as it is, if the client declared it."""
        missing = undeclared(ctx.session.client_capabilities, item.request)
        if missing is not None:
            item.answer(missing)
            return None
        if modern:
            step.passing = item
            return InputRequiredResult(input_requests={PASSED: item.request}, request_state=step.id)
        related = ServerMessageMetadata(related_request_id=ctx.request_id)
        try:
            result = await self._asking(
                item, ctx.session.send_request(item.request, item.result_type, metadata=related)
            )
        except MCPError as exc:
            item.answer(exc.error)
            return None
        if result is not None:
            item.answer(result)
        return None if item.answered.is_set() else self._unanswered(step)

    async def _asking(self, ask: Item, question: Awaitable[T]) -> T | None:
        """The client's answer to `question`; None when the server withdrew its request first (the
        question is then cancelled in the client too) or after `timeout` seconds."""
        answer: list[T] = []
        with anyio.move_on_after(self.timeout):
            async with anyio.create_task_group() as asking:

                async def withdrawn() -> None:
                    await ask.decided.wait()
                    asking.cancel_scope.cancel()

                asking.start_soon(withdrawn)
                answer.append(await question)
                asking.cancel_scope.cancel()
        return answer[0] if answer else None

    def _unanswered(self, step: Step) -> CallToolResult:
        """The client in front did not answer the question about a link in time: the call ends."""
        logger.info(
            "%s: no answer about the link within %g s; the call is stopped", _named(step), self.timeout
        )
        self._stop(step)
        return _tool_error(
            f"No answer about the link within {self.timeout:g} s, so {step.tool} was stopped; "
            "call the tool again to be asked again."
        )


class Stopped(HandoffError):
    """The step was given up before its call upstream ended."""


def _named(step: Step) -> str:
    return printable(step.tool, lines=False)


def _input_required(
    step: Step, params: ElicitRequestURLParams | ElicitRequestFormParams
) -> InputRequiredResult:
    """The bridge's one question to a 2026-07-28 client, to be answered in its retry."""
    return InputRequiredResult(input_requests={LINK: ElicitRequest(params=params)}, request_state=step.id)


def _answer(step: Step, responses: Any) -> None:
    """A 2026-07-28 retry's answer to the question the bridge asked in its `InputRequiredResult`."""
    passing, step.passing = step.passing, None
    if passing is not None:
        answer = responses.get(PASSED) if isinstance(responses, Mapping) else None
        try:
            passing.answer(passing.result_type.model_validate(answer))
        except ValidationError:
            passing.answer(ErrorData(code=INVALID_PARAMS, message="the client's answer was not valid"))
        return
    ask, step.awaiting = step.awaiting, None
    if ask is None:
        return
    answer = responses.get(LINK) if isinstance(responses, Mapping) else None
    action = answer.get("action") if isinstance(answer, Mapping) else None
    content = answer.get("content") if isinstance(answer, Mapping) else None
    if step.awaiting_form:
        _decide_form(ask, action, content)
    elif action in ("accept", "decline", "cancel"):
        ask.decide(Decision(action))
    else:
        ask.decide(Decision.CANCEL)


def _decide_form(ask: Ask, action: object, content: object) -> None:
    choice = content.get("choice") if isinstance(content, Mapping) else None
    if action == "accept" and choice == OPEN:
        ask.decide(Decision.ACCEPT, opens=True)
    elif action in ("accept", "decline"):
        ask.decide(Decision.DECLINE)
    else:
        ask.decide(Decision.CANCEL)


def _tool_error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _outcome(step: Step, client: HandoffClient) -> CallToolResult:
    """The step's result; a failure that is handoff's to explain as a tool error, the upstream's own
    JSON-RPC error as that error."""
    error = step.error
    if error is None:
        result: CallToolResult = step.result
        return result
    found = expected(error)
    if isinstance(found, ServerUnreachable):  # the call was under way: the client's model reads this
        logger.error("%s: %s", printable(step.tool, lines=False), one_line(error, _where(client)))
    if found is not None:
        return _tool_error(printable(one_line(error, _where(client))))
    if isinstance(error, MCPError):
        raise MCPError(error.code, error.message, error.error.data) from None
    logger.error("%s failed: %s", printable(step.tool, lines=False), one_line(error, _where(client)))
    raise MCPError(
        INTERNAL_ERROR, f"the bridge could not call {step.tool}: {one_line(error, _where(client))}"
    )


def _where(client: HandoffClient) -> str:
    return client.server if isinstance(client.server, str) else "the server"


def _unreachable(exc: BaseException, client: HandoffClient) -> MCPError:
    line = one_line(exc, _where(client))
    logger.error("%s", line)
    return MCPError(INTERNAL_ERROR, printable(line))


def _down(line: str) -> Server[Any]:
    """What serves the client when the upstream could not be reached: every request says why."""

    async def refuse(ctx: ServerRequestContext[Any], params: Any) -> Any:
        raise MCPError(INTERNAL_ERROR, f"handoff bridge: {line}; restart the bridge once the server is up")

    return Server("handoff bridge", on_list_tools=refuse, on_call_tool=refuse)


def _say(line: str) -> None:
    print(printable(f"handoff bridge: {line}"), file=sys.stderr, flush=True)


async def run_bridge(
    server: Sequence[str],
    *,
    listen: tuple[str, int] | None = None,
    accept: Policy = "none",
    protocol: str = "auto",
    store: bool = True,
    sign_in_timeout: float = 300.0,
    connect_timeout: float = 10.0,
    timeout: float = 600.0,
    progress_every: float = PROGRESS_EVERY,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> int:
    """Serve MCP in front of `server` (a URL, or a command to run): on stdio until stdin closes, or
    over Streamable HTTP at `listen` (a loopback host and port) until stopped."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("handoff bridge: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    where = server[0] if len(server) == 1 else " ".join(server)
    steps = Steps()
    consent = BridgeConsent(steps, timeout=timeout, browser=system_browser)
    downstreams = Downstreams()
    passthrough = Passthrough(steps, downstreams, timeout=timeout)
    mirror = Mirror(downstreams)
    elicitations = Elicitations(consent, server=where, opener=consent.open, forms=passthrough.form)
    sign_in = SignIn(FileTokens() if store else MemoryTokens(), timeout=sign_in_timeout)
    try:
        front = stdio_front() if listen is None else http_front(*listen, say=_say)
        async with front as serve:
            bridge: Bridge | None = None

            def connected(client: HandoffClient) -> None:
                mirror.client = client
                info = client.server_info
                if info and info.name:
                    elicitations.server = f"{info.name} ({where})"

            def lost(error: ConnectionLost) -> None:
                if bridge is not None:
                    bridge.lost(error)

            upstream = Upstream(
                server,
                elicitations,
                lost=lost,
                connected=connected,
                mode=protocol,
                sign_in=sign_in,
                wait_timeout=timeout,
                connect_timeout=connect_timeout,
                max_answer_bytes=max_answer_bytes,
                sampling_callback=passthrough.sampling,
                list_roots_callback=passthrough.roots,
                logging_callback=mirror.log,
                message_handler=mirror.notice,
            )
            try:
                async with anyio.create_task_group() as tasks:
                    await tasks.start(upstream.run)
                    bridge = Bridge(
                        upstream,
                        tasks,
                        steps,
                        accept,
                        mirror=mirror,
                        timeout=timeout,
                        progress_every=progress_every,
                    )
                    await serve(bridge.server())
                    tasks.cancel_scope.cancel()
            except Exception as exc:
                found = expected(exc)
                if found is None:
                    raise
                _say(one_line(found, where))
                if bridge is None:
                    await serve(_down(one_line(found, where)))
                return 1
    except CannotListen as exc:
        _say(str(exc))
        return 1
    return 0
