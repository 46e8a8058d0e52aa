"""`handoff bridge`: a stdio MCP server in front of a handoff client connected to the real server.

The SDK's low-level `Server` is the downstream side: the bridge serves the upstream's tools exactly
as listed (names, descriptions, schemas, annotations), which a decorator-based `MCPServer` would
re-derive from Python signatures. A link the upstream server sends during a call is checked, then
given to the client in front in the way it declared (URL mode, a consent form, or a tool result
with the link), or decided by `--accept`.
"""

from __future__ import annotations

import logging
import math
import secrets
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ElicitRequest,
    ElicitRequestedSchema,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .._errors import expected
from .._exact import printable
from ..client import Decision, Elicitations, HandoffClient, SignIn, system_browser
from ..client._connect import connect
from ..client._failures import ServerUnreachable, one_line
from ..client._timeouts import MAX_ANSWER_BYTES
from ..client._tokens import FileTokens, MemoryTokens
from ..eras import SteppedClockCodec
from ._consent import NOT_NOW, OPEN, BridgeConsent, consent_text, link_text, passed_on
from ._steps import Ask, Step, Steps, current, key_of

logger = logging.getLogger("handoff.bridge")

Policy = Literal["ok", "warn", "none"]
HOLD = 50.0
"""Longest a downstream request is held waiting for the browser before it is answered (a 2026-07-28
client asked to retry; a client without elicitation given the link again): below the 60 s tool-call
timeout common clients use."""
LINK = "link"
"""The key of the bridge's one input request in an `InputRequiredResult`."""
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
    """The downstream handlers, for one upstream connection."""

    def __init__(self, client: HandoffClient, tasks: TaskGroup, steps: Steps, accept: Policy) -> None:
        self.client = client
        self.tasks = tasks
        self.steps = steps
        self.accept = accept

    def server(self) -> Server[Any]:
        info = self.client.server_info
        server: Server[Any] = Server(
            info.name if info else "handoff bridge",
            version=info.version if info else "",
            instructions=self.client.instructions,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )
        # A retry's requestState names a step here: sealed, and bound to the tool and arguments.
        security = RequestStateSecurity(codec=SteppedClockCodec([secrets.token_bytes(32)]))
        boundary = RequestStateBoundary(security, default_audience="handoff bridge")
        server.middleware.append(boundary)
        return server

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
        return await self._follow(ctx, step)

    async def _run(self, step: Step) -> None:
        current.set(step)
        try:
            result = await self.client.call_tool(step.tool, step.arguments)
        except Exception as exc:
            step.finish(error=exc)
        else:
            step.finish(result)

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
                params: Any = ElicitRequestURLParams(message=passed_on(request), url=url)
                return InputRequiredResult(
                    input_requests={LINK: ElicitRequest(params=params)}, request_state=step.id
                )
            elicitation_id = request.elicitation_id or secrets.token_urlsafe(16)
            said = await ctx.session.elicit_url(passed_on(request), url, elicitation_id, ctx.request_id)
            ask.decide(Decision(said.action))
            return None
        if elicitation is not None and (elicitation.form is not None or elicitation.url is None):
            if modern:
                step.awaiting, step.awaiting_form = ask, True
                form = ElicitRequestFormParams(message=consent_text(request), requested_schema=CHOICE)
                return InputRequiredResult(
                    input_requests={LINK: ElicitRequest(params=form)}, request_state=step.id
                )
            said = await ctx.session.elicit_form(consent_text(request), CHOICE, ctx.request_id)
            _decide_form(ask, said.action, said.content)
            return None
        ask.decide(Decision.ACCEPT)  # the person opens it from the tool result; the step waits
        step.shown = ask
        return _tool_error(link_text(request))


def _input_required(
    step: Step, params: ElicitRequestURLParams | ElicitRequestFormParams
) -> InputRequiredResult:
    return InputRequiredResult(input_requests={LINK: ElicitRequest(params=params)}, request_state=step.id)


def _answer(step: Step, responses: Any) -> None:
    """A 2026-07-28 retry's answer to the question the bridge asked in its `InputRequiredResult`."""
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
    if isinstance(found, ServerUnreachable):
        raise _unreachable(error, client) from None
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
    accept: Policy = "none",
    protocol: str = "auto",
    store: bool = True,
    sign_in_timeout: float = 300.0,
    connect_timeout: float = 10.0,
    timeout: float = 600.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> int:
    """Serve MCP on stdio, in front of `server` (a URL, or a command to run), until stdin closes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("handoff bridge: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    where = server[0] if len(server) == 1 else " ".join(server)
    steps = Steps()
    consent = BridgeConsent(steps, timeout=timeout, browser=system_browser)
    elicitations = Elicitations(consent, server=where, opener=consent.open)
    sign_in = SignIn(FileTokens() if store else MemoryTokens(), timeout=sign_in_timeout)
    async with stdio_server() as (read, write):  # from here on, stray output goes to stderr
        serving = False
        try:
            async with connect(
                server,
                elicitations,
                mode=protocol,
                sign_in=sign_in,
                wait_timeout=timeout,
                connect_timeout=connect_timeout,
                max_answer_bytes=max_answer_bytes,
            ) as client:
                info = client.server_info
                if info and info.name:
                    elicitations.server = f"{info.name} ({where})"
                async with anyio.create_task_group() as tasks:
                    bridge = Bridge(client, tasks, steps, accept)
                    downstream = bridge.server()
                    serving = True
                    await downstream.run(read, write, downstream.create_initialization_options())
                    tasks.cancel_scope.cancel()
        except Exception as exc:
            if expected(exc) is None:
                raise
            _say(one_line(exc, where))
            if serving:
                return 1
            down = _down(one_line(exc, where))
            await down.run(read, write, down.create_initialization_options())
            return 1
    return 0
