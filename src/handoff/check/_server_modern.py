"""The 2026-07-28 checks: InputRequiredResult and nothing of 2025's, -32021 for a client without URL
mode, and a requestState that answers only its own user, its own request, once, unaltered."""

from __future__ import annotations

import json
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import MISSING_REQUIRED_CLIENT_CAPABILITY, ElicitResult, InputRequiredResult

from ._report import Report, Requirement
from ._server_pages import (
    check_anonymous,
    check_headers,
    check_other_user,
    check_url,
    completed_by_a_visit,
    judge_parameters,
)
from ._server_person import Step
from ._server_requirements import (
    MODERN,
    MODERN_MISSING_CAPABILITY,
    MODERN_NO_32042,
    MODERN_NO_LEGACY_FIELDS,
    MODERN_RESULT_SHAPE,
    MODERN_RETRY,
    MODERN_STATE_OTHER_REQUEST,
    MODERN_STATE_OTHER_USER,
    MODERN_STATE_REPLAYED,
    MODERN_STATE_TAMPERED,
)
from ._server_target import Gated, Target
from ._server_tools import CALL_TIMEOUT
from ._server_wire import UNDECLARED, Connection

ERA = MODERN
_CODE_32042 = re.compile(rb'"code"\s*:\s*-32042\b')
HOLD_LIMIT = 60.0
"""Seconds a retry may be held by the server (handoff holds at most 50 s)."""
SHORT_HOLD = 5.0
"""Seconds to give a retry whose browser step is not finished: a refusal comes at once."""


@dataclass
class Answer:
    """How the server answered a retry: "error", "tool-error", "asked-again" (a new InputRequiredResult
    with input requests), "pending" (state only), "result" or "held" (no answer in time)."""

    kind: str
    detail: str
    state: str | None = None

    @property
    def refused(self) -> bool:
        return self.kind in ("error", "tool-error", "asked-again")


async def present(
    conn: Connection, gated: Gated, state: str, *, arguments: dict[str, Any] | None = None, hold: float
) -> Answer:
    """Retry `gated` with `state` and an accept for every input request."""
    responses = {key: ElicitResult(action="accept") for key in conn.input_keys}
    try:
        result = await conn.call(
            gated.name,
            arguments if arguments is not None else gated.arguments,
            hold,
            request_state=state,
            input_responses=responses or None,
        )
    except MCPError as exc:
        return Answer("error", f"JSON-RPC error {exc.code}")
    except TimeoutError:
        return Answer("held", f"no answer within {hold:g} s")
    if isinstance(result, InputRequiredResult):
        if result.input_requests:
            return Answer("asked-again", "a new InputRequiredResult", result.request_state)
        return Answer("pending", "a state-only InputRequiredResult", result.request_state)
    if result.is_error:
        return Answer("tool-error", "a tool error")
    return Answer("result", "the tool's result")


def tampered(state: str) -> dict[str, str]:
    middle = len(state) // 2
    flipped = "A" if state[middle] != "A" else "B"
    return {
        "one character changed": state[:middle] + flipped + state[middle + 1 :],
        "cut short": state[: max(1, len(state) - 4)],
        "lengthened": state + "AAAA",
    }


def other_arguments(arguments: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """`arguments` with one value changed, or else with one optional string or number property of the
    schema given (no enum, no default it would equal); None when the tool has no such argument."""
    changed = dict(arguments)
    for name, value in arguments.items():
        if isinstance(value, str):
            changed[name] = value + "-other"
            return changed
        if isinstance(value, int | float) and not isinstance(value, bool):
            changed[name] = value + 1
            return changed
    properties: dict[str, Any] = (schema or {}).get("properties", {})
    for name, spec in properties.items():
        if name in arguments or not isinstance(spec, dict) or "enum" in spec:
            continue
        kind = spec.get("type")
        if kind == "string":
            changed[name] = f"{spec.get('default', 'handoff-check')}-other"
            return changed
        if kind in ("integer", "number") and isinstance(spec.get("default", 0), int | float):
            changed[name] = spec.get("default", 0) + 1
            return changed
    return None


async def check_missing_capability(report: Report, target: Target, gated: Gated) -> None:
    for label in ("no elicitation", "elicitation {form}"):
        declared = UNDECLARED[label]
        async with target.connect(MODERN, declared=declared) as conn:
            try:
                result = await conn.call(gated.name, gated.arguments, CALL_TIMEOUT)
            except MCPError as exc:
                status = next((e.status for e in conn.wire.exchanges if b"-32021" in e.body), None)
                required = (
                    exc.error.data.get("requiredCapabilities") if isinstance(exc.error.data, dict) else None
                )
                if exc.code != MISSING_REQUIRED_CLIENT_CAPABILITY:
                    report.failed(
                        MODERN_MISSING_CAPABILITY, f"{label}: JSON-RPC error {exc.code}, not -32021", ERA
                    )
                elif not isinstance(required, dict) or not required:
                    report.failed(
                        MODERN_MISSING_CAPABILITY, f"{label}: -32021 without data.requiredCapabilities", ERA
                    )
                elif status not in (None, 400):
                    report.failed(
                        MODERN_MISSING_CAPABILITY, f"{label}: -32021 with HTTP {status}, not 400", ERA
                    )
                else:
                    how = "over stdio" if target.stdio else f"HTTP {status}"
                    report.passed(
                        MODERN_MISSING_CAPABILITY,
                        f"{label}: -32021, requiredCapabilities {json.dumps(required)}, {how}",
                        ERA,
                    )
                continue
            except TimeoutError:
                report.failed(MODERN_MISSING_CAPABILITY, f"{label}: no answer within {CALL_TIMEOUT:g} s", ERA)
                continue
            if isinstance(result, InputRequiredResult):
                modes = _elicitation_modes(result)
                if "url" in modes or (modes and declared is None):
                    undeclared = "url mode" if "url" in modes else "elicitation"
                    report.failed(
                        MODERN_MISSING_CAPABILITY, f"{label}: an input request in {undeclared} instead", ERA
                    )
                elif modes:  # form mode, which it declared: the server found no need for url mode
                    report.skipped(
                        MODERN_MISSING_CAPABILITY,
                        f"{label}: asked in {' and '.join(sorted(modes))} mode, which this client declared",
                        ERA,
                    )
                else:
                    report.failed(
                        MODERN_MISSING_CAPABILITY, f"{label}: sent an InputRequiredResult instead", ERA
                    )
            else:
                report.failed(MODERN_MISSING_CAPABILITY, f"{label}: answered a result instead of -32021", ERA)


def _elicitation_modes(result: InputRequiredResult) -> set[str]:
    """The modes of the elicitation/create requests among `result`'s input requests."""
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    requests = (wire.get("inputRequests") or {}).values()
    return {
        str(r.get("params", {}).get("mode") or "form")
        for r in requests
        if r.get("method") == "elicitation/create"
    }


def _shape(result: InputRequiredResult) -> tuple[list[str], str | None]:
    wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if wire.get("resultType") != "input_required":
        return [], f"resultType is {wire.get('resultType')!r}"
    requests = wire.get("inputRequests") or {}
    if not requests and not wire.get("requestState"):
        return [], "neither inputRequests nor requestState"
    urls: list[str] = []
    for key, request in requests.items():
        params = request.get("params", {})
        if request.get("method") != "elicitation/create" or params.get("mode") != "url":
            return [], f"input request {key!r} is not an elicitation/create in url mode"
        if not params.get("message") or not params.get("url"):
            return [], f"input request {key!r} lacks a message or a url"
        urls.append(params["url"])
    if not urls:
        return [], "no url-mode input request"
    return urls, None


async def check_modern(report: Report, target: Target, gated: Gated) -> None:
    await check_missing_capability(report, target, gated)
    async with AsyncExitStack() as stack:
        conn = await stack.enter_async_context(target.connect(MODERN))
        second: Connection | None = None
        if target.second is not None and target.second.token is not None:
            second = await stack.enter_async_context(target.connect(MODERN, target.second))
        try:
            first = await conn.call(gated.name, gated.arguments, CALL_TIMEOUT)
        except MCPError as exc:
            report.failed(MODERN_RESULT_SHAPE, f"{gated.name} answered JSON-RPC error {exc.code}", ERA)
            _no_legacy(report, [conn])
            return
        if not isinstance(first, InputRequiredResult):
            report.failed(
                MODERN_RESULT_SHAPE, f"{gated.name} answered a result, not InputRequiredResult", ERA
            )
            _no_legacy(report, [conn])
            return
        urls, wrong = _shape(first)
        if wrong is not None:
            report.failed(MODERN_RESULT_SHAPE, wrong, ERA)
            _no_legacy(report, [conn])
            return
        report.passed(MODERN_RESULT_SHAPE, f"input_required with {len(urls)} url-mode elicitation(s)", ERA)
        conn.input_keys = list((first.input_requests or {}).keys())
        if second is not None:
            second.input_keys = conn.input_keys
        url = urls[0]
        if check_url(report, ERA, url, target):
            await check_anonymous(report, ERA, url, target, None, None)
            await check_other_user(report, ERA, url, target, None, None)
            judge_parameters(report, ERA, url)
        message = _message_of(first)
        finished = await target.finish(url, Step(ERA, gated.name, message))
        check_headers(report, ERA, finished)
        if finished.done:
            target.finished_before[ERA] = gated.name
        state = first.request_state
        if finished.bare and state:  # nothing to press: was the step complete already?
            done = await present(conn, gated, state, hold=SHORT_HOLD)
            if done.kind == "result":
                completed_by_a_visit(report, ERA)
                why = "the step was completed by a visit, and that retry used the state up"
                for requirement in (
                    MODERN_STATE_TAMPERED,
                    MODERN_STATE_OTHER_REQUEST,
                    MODERN_STATE_OTHER_USER,
                    MODERN_RETRY,
                    MODERN_STATE_REPLAYED,
                ):
                    report.skipped(requirement, why, ERA)
                _no_legacy(report, [c for c in (conn, second) if c is not None])
                return
        used_up: str | None = None
        if not state:
            for requirement in (MODERN_STATE_TAMPERED, MODERN_STATE_OTHER_REQUEST, MODERN_STATE_OTHER_USER):
                report.skipped(requirement, "the server sent no requestState", ERA)
        else:
            hold = HOLD_LIMIT if finished.done else SHORT_HOLD
            used_up = await _check_state(report, target, conn, second, gated, state, hold)
        if not finished.done:
            for requirement in (MODERN_RETRY, MODERN_STATE_REPLAYED):
                report.skipped(requirement, f"the browser step was not finished: {finished.reason}", ERA)
        else:
            await _check_retry(report, conn, gated, state, used_up)
        _no_legacy(report, [c for c in (conn, second) if c is not None])


def _message_of(result: InputRequiredResult) -> str | None:
    for request in (result.input_requests or {}).values():
        message = getattr(request.params, "message", None)
        if isinstance(message, str) and message:
            return message
    return None


def _judge(report: Report, requirement: Requirement, answer: Answer, what: str) -> None:
    if answer.refused:
        report.passed(requirement, f"{what}: refused ({answer.detail})", ERA)
    elif answer.kind == "held":
        report.skipped(
            requirement, f"{what}: held, {answer.detail}; cannot tell whether it was accepted", ERA
        )
    else:
        report.failed(requirement, f"{what}: accepted ({answer.detail})", ERA)


async def _check_state(
    report: Report,
    target: Target,
    conn: Connection,
    second: Connection | None,
    gated: Gated,
    state: str,
    hold: float,
) -> str | None:
    """The checks of a state presented wrongly; which probe the server accepted with the real state
    (that probe may have used the state up for the retry), or None."""
    accepted: str | None = None
    for what, bad in tampered(state).items():
        _judge(
            report, MODERN_STATE_TAMPERED, await present(conn, gated, bad, hold=hold), f"requestState {what}"
        )
    changed = other_arguments(gated.arguments, gated.schema)
    if changed is None:
        report.skipped(MODERN_STATE_OTHER_REQUEST, f"{gated.name} takes no argument to change", ERA)
    else:
        answer = await present(conn, gated, state, arguments=changed, hold=hold)
        _judge(report, MODERN_STATE_OTHER_REQUEST, answer, "requestState with other arguments")
        if answer.kind == "result":
            accepted = "the retry with other arguments"
    if second is None:
        report.skipped(MODERN_STATE_OTHER_USER, target.no_second_user, ERA)
    else:
        answer = await present(second, gated, state, hold=hold)
        _judge(report, MODERN_STATE_OTHER_USER, answer, "the second user's retry")
        if answer.kind == "result":
            accepted = accepted or "the second user's retry"
    return accepted


async def _check_retry(
    report: Report, conn: Connection, gated: Gated, state: str | None, used_up: str | None
) -> None:
    """The retry with the echoed state gets the result; then the same state again is refused.
    `used_up`: a probe before it that the server accepted with this state (a single-use state is
    then spent, and a failed retry says so instead of failing)."""
    if state is None:
        report.skipped(MODERN_RETRY, "the server sent no requestState to echo", ERA)
        report.skipped(MODERN_STATE_REPLAYED, "the server sent no requestState", ERA)
        return
    answered = state
    answer = await present(conn, gated, state, hold=HOLD_LIMIT)
    rounds = 1
    while answer.kind == "pending" and answer.state and rounds < 3:
        answered = answer.state
        answer = await present(conn, gated, answer.state, hold=HOLD_LIMIT)
        rounds += 1
    if answer.kind != "result" and used_up is not None:
        report.skipped(MODERN_RETRY, f"{used_up} got the result first, using the state up", ERA)
        report.skipped(MODERN_STATE_REPLAYED, f"{used_up} got the result first", ERA)
        return
    if answer.kind != "result":
        report.failed(MODERN_RETRY, f"after {rounds} retries: {answer.detail}", ERA)
        report.skipped(MODERN_STATE_REPLAYED, "no retry got the result, so no state was used up", ERA)
        return
    report.passed(MODERN_RETRY, f"{gated.name} ran on retry {rounds}", ERA)
    _judge(
        report,
        MODERN_STATE_REPLAYED,
        await present(conn, gated, answered, hold=SHORT_HOLD),
        "the answered state again",
    )


def _no_legacy(report: Report, conns: list[Connection]) -> None:
    traffic = b"".join(c.wire.traffic for c in conns)
    if _CODE_32042.search(traffic):
        report.failed(MODERN_NO_32042, "the server sent -32042 on a 2026-07-28 request", ERA)
    else:
        report.passed(MODERN_NO_32042, "no -32042 on any 2026-07-28 answer", ERA)
    found = [
        what
        for what, mark in (
            ("elicitationId", b'"elicitationId"'),
            ("a completion notice", b"notifications/elicitation/complete"),
        )
        if mark in traffic
    ]
    if found:
        report.failed(MODERN_NO_LEGACY_FIELDS, "the server sent " + " and ".join(found), ERA)
    else:
        report.passed(MODERN_NO_LEGACY_FIELDS, "neither elicitationId nor a completion notice", ERA)
