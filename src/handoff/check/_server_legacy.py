"""The 2025-11-25 checks: URL mode only for clients that declared it, -32042 and elicitation/create
shapes, the completion notice to the initiating session only, and the retry."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitRequestURLParams, ElicitResult

from ._report import Report
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
    LEGACY,
    LEGACY_CREATE_PARAMS,
    LEGACY_ERROR_SHAPE,
    LEGACY_NO_SELF_COMPLETION,
    LEGACY_NOTICE_ID,
    LEGACY_NOTICE_ONLY_INITIATOR,
    LEGACY_RETRY,
    LEGACY_UNDECLARED,
    PAGE_FRAMING,
    PAGE_NO_STORE,
    PAGE_REFERRER,
)
from ._server_stdio import StartFailed
from ._server_target import Gated, Target
from ._server_tools import CALL_TIMEOUT, carries_elicitations
from ._server_wire import UNDECLARED, Connection

ERA = LEGACY
HEADERS = (PAGE_FRAMING, PAGE_REFERRER, PAGE_NO_STORE)
_MODE = "legacy"
_ANOTHER = "another session of the same user"
_ANOTHER_STDIO = "a second process of the same command (a session of its own)"


def _outcome_of(result: Any) -> str:
    if getattr(result, "is_error", False):
        return "a tool error"
    return "a result"


async def _runs(conn: Connection, gated: Gated) -> bool:
    """Whether `gated` runs now (no -32042, no tool error)."""
    try:
        return not _outcome_of(await conn.call(gated.name, gated.arguments, CALL_TIMEOUT)).endswith("error")
    except (MCPError, TimeoutError):
        return False


async def check_undeclared(report: Report, target: Target, gated: Gated) -> None:
    for label, declared in UNDECLARED.items():
        async with target.connect(_MODE, declared=declared) as conn:
            try:
                answer = _outcome_of(await conn.call(gated.name, gated.arguments, CALL_TIMEOUT))
            except MCPError as exc:
                if exc.code == URL_ELICITATION_REQUIRED:
                    report.failed(LEGACY_UNDECLARED, f"{label}: the server answered -32042", ERA)
                    continue
                answer = f"JSON-RPC error {exc.code}"
            except TimeoutError:
                answer = f"no answer within {CALL_TIMEOUT:g} s"
            urls = [r for r in conn.requests if isinstance(r, ElicitRequestURLParams)]
            if urls:
                report.failed(
                    LEGACY_UNDECLARED, f"{label}: the server sent elicitation/create in url mode", ERA
                )
            else:
                report.passed(LEGACY_UNDECLARED, f"{label}: no URL mode, {answer}", ERA)


def _shape_of_error(data: Any) -> tuple[list[tuple[str, str]], str | None]:
    """The (elicitationId, url) of each entry of a -32042's data, or what is wrong with it."""
    entries = data.get("elicitations") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        return [], "data.elicitations is missing or empty"
    found: list[tuple[str, str]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return [], f"entry {i} is not an object"
        if entry.get("mode") != "url":
            return [], f"entry {i} has mode {entry.get('mode')!r}, not 'url'"
        if not isinstance(entry.get("elicitationId"), str) or not entry["elicitationId"]:
            return [], f"entry {i} has no elicitationId"
        if not isinstance(entry.get("url"), str):
            return [], f"entry {i} has no url"
        if not isinstance(entry.get("message"), str) or not entry["message"].strip():
            return [], f"entry {i} has no message"
        found.append((entry["elicitationId"], entry["url"]))
    return found, None


def _first_message(data: Any) -> str | None:
    entries = data.get("elicitations") if isinstance(data, dict) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    message = first.get("message") if isinstance(first, dict) else None
    return message if isinstance(message, str) else None


def check_create_params(report: Report, asked: list[dict[str, Any]]) -> None:
    """Each elicitation/create in url mode, as the server wrote it: mode, message, url and
    elicitationId, each a non-empty string."""
    if not asked:
        report.skipped(LEGACY_CREATE_PARAMS, "no tool asked with elicitation/create", ERA)
        return
    for params in asked:
        missing = [
            name
            for name in ("message", "url", "elicitationId")
            if not isinstance(params.get(name), str) or not params[name]
        ]
        if missing:
            report.failed(LEGACY_CREATE_PARAMS, "elicitation/create lacks " + ", ".join(missing), ERA)
        else:
            report.passed(LEGACY_CREATE_PARAMS, "mode url with message, url and elicitationId", ERA)


async def _check_unattended(
    report: Report, target: Target, initiator: Connection, elicitation_id: str
) -> bool:
    """Nobody opens the step's page for `target.unattended` seconds: no completion notice may come.
    False when one came (what follows would be judged on a step nobody finished)."""
    if target.unattended <= 0:
        report.skipped(LEGACY_NO_SELF_COMPLETION, "not watched (--unattended-wait 0)", ERA)
        return True
    target.doing("while watching the step with nobody at its page")
    started = anyio.current_time()
    came = await initiator.wait_for(lambda: elicitation_id in initiator.notices, target.unattended)
    if not came:
        why = f"nobody opened its page for {target.unattended:g} s, and no completion notice came"
        report.passed(LEGACY_NO_SELF_COMPLETION, why, ERA)
        return True
    after = anyio.current_time() - started
    report.failed(
        LEGACY_NO_SELF_COMPLETION,
        f"the completion notice came {after:.1f} s after the link was handed out, with nobody at its page",
        ERA,
    )
    return False


async def check_legacy(report: Report, target: Target, gated: Gated, asked: list[dict[str, Any]]) -> None:
    await check_undeclared(report, target, gated)
    if gated.delivery != "request":  # a tool that asks in-call is judged below, on what it asks then
        check_create_params(report, asked)
    asked_now: list[ElicitRequestURLParams] = []
    accepted = anyio.Event()
    ended = anyio.Event()

    async def accept(params: ElicitRequestURLParams) -> ElicitResult:
        asked_now.append(params)
        accepted.set()
        return ElicitResult(action="accept")

    async with AsyncExitStack() as stack:
        initiator = await stack.enter_async_context(target.connect(_MODE, answer=accept))
        others: list[tuple[str, Connection]] = []
        alone: str | None = None
        """Over stdio, why no second process (no other session) could run beside the first."""
        try:
            others.append(
                (
                    _ANOTHER_STDIO if target.stdio else _ANOTHER,
                    await stack.enter_async_context(target.connect(_MODE)),
                )
            )
        except StartFailed as failed:
            alone = (
                f"the server could not run a second time beside the first, for a session of its own: {failed}"
            )
        if target.second is not None and target.second.token is not None:
            others.append(
                (
                    "the second user's session",
                    await stack.enter_async_context(target.connect(_MODE, target.second)),
                )
            )
        for _, other in others:
            await other.client.list_tools()
        in_call: list[Any] = []
        task_group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(task_group.cancel_scope.cancel)  # a call still waiting ends with the check
        steps: list[tuple[str, str]] = []
        if gated.delivery == "request":

            async def call_in_call() -> None:
                try:
                    in_call.append(await initiator.call(gated.name, gated.arguments, target.person_wait + 60))
                except (MCPError, TimeoutError) as exc:
                    in_call.append(exc)
                accepted.set()
                ended.set()

            task_group.start_soon(call_in_call)
            with anyio.move_on_after(CALL_TIMEOUT):
                await accepted.wait()
            sent = initiator.url_requests()
            check_create_params(report, sent)
            steps = [(p.elicitation_id or "", p.url) for p in asked_now]
            message = asked_now[0].message if asked_now else None
            if not steps:
                why = "the tool did not ask this time"
                if sent:
                    why = "its elicitation/create was malformed (see legacy.create-params): none was taken"
                report.skipped(LEGACY_RETRY, why, ERA)
                return
        else:
            try:
                await initiator.call(gated.name, gated.arguments, CALL_TIMEOUT)
                report.failed(LEGACY_ERROR_SHAPE, f"{gated.name} ran instead of answering -32042", ERA)
                return
            except MCPError as exc:
                if exc.code != URL_ELICITATION_REQUIRED:
                    carrying = " carrying URL elicitations in its data" if carries_elicitations(exc) else ""
                    report.failed(
                        LEGACY_ERROR_SHAPE, f"{gated.name} answered {exc.code}{carrying}, not -32042", ERA
                    )
                    return
                steps, wrong = _shape_of_error(exc.error.data)
                message = _first_message(exc.error.data)
            if wrong is not None:
                report.failed(LEGACY_ERROR_SHAPE, wrong, ERA)
                return
            report.passed(LEGACY_ERROR_SHAPE, f"{len(steps)} url-mode elicitation(s), each with an id", ERA)
        elicitation_id, url = steps[0]
        waited = await _check_unattended(report, target, initiator, elicitation_id)
        if not check_url(report, ERA, url, target) or not waited:
            return
        await check_anonymous(report, ERA, url, target, initiator, elicitation_id)
        await check_other_user(report, ERA, url, target, initiator, elicitation_id)
        judge_parameters(report, ERA, url)
        if elicitation_id in initiator.notices:  # a visit above completed it: nothing more to learn
            for requirement in (*HEADERS, LEGACY_NOTICE_ID, LEGACY_NOTICE_ONLY_INITIATOR, LEGACY_RETRY):
                report.skipped(
                    requirement, "the step was completed by a browser that should have been refused", ERA
                )
            return
        finished = await target.finish(url, Step(ERA, gated.name, message), initiator)
        check_headers(report, ERA, finished)
        if finished.done:
            target.finished_before[ERA] = gated.name
        if finished.bare and gated.delivery == "error" and await _runs(initiator, gated):
            completed_by_a_visit(report, ERA)  # nothing to press, yet the tool runs: a visit did it
            for requirement in (LEGACY_NOTICE_ID, LEGACY_NOTICE_ONLY_INITIATOR, LEGACY_RETRY):
                report.skipped(requirement, "the step was completed by a visit", ERA)
            return
        if not finished.done:
            for requirement in (LEGACY_NOTICE_ID, LEGACY_NOTICE_ONLY_INITIATOR, LEGACY_RETRY):
                report.skipped(requirement, f"the browser step was not finished: {finished.reason}", ERA)
            return
        await initiator.wait_for(lambda: bool(initiator.notices), target.notice_wait)
        if elicitation_id in initiator.notices:
            report.passed(
                LEGACY_NOTICE_ID, "the initiating session got the notice with its elicitationId", ERA
            )
        elif initiator.notices:
            report.failed(
                LEGACY_NOTICE_ID, "the notice named an elicitationId this session was never given", ERA
            )
        else:
            report.skipped(
                LEGACY_NOTICE_ID,
                f"no completion notice within {target.notice_wait:g} s (servers MAY leave it out)",
                ERA,
            )
        await anyio.sleep(target.settle)  # a notice that must not come can only be watched for a while
        told = [label for label, other in others if elicitation_id in other.notices]
        if not others:
            report.skipped(LEGACY_NOTICE_ONLY_INITIATOR, alone or "no other session to watch", ERA)
        elif told:
            report.failed(LEGACY_NOTICE_ONLY_INITIATOR, "the notice also reached " + " and ".join(told), ERA)
        else:
            report.passed(
                LEGACY_NOTICE_ONLY_INITIATOR,
                "not sent to " + " or ".join(label for label, _ in others),
                ERA,
            )
        if gated.delivery == "request":
            with anyio.move_on_after(CALL_TIMEOUT):
                await ended.wait()
            outcome = in_call[0] if in_call else None
        else:
            try:
                outcome = await initiator.call(gated.name, gated.arguments, CALL_TIMEOUT)
            except (MCPError, TimeoutError) as exc:
                outcome = exc
        if outcome is None:
            report.failed(LEGACY_RETRY, f"the call did not end within {CALL_TIMEOUT:g} s", ERA)
        elif isinstance(outcome, MCPError):
            report.failed(LEGACY_RETRY, f"the retry got JSON-RPC error {outcome.code}", ERA)
        elif isinstance(outcome, Exception):
            report.failed(LEGACY_RETRY, f"the retry got no answer ({type(outcome).__name__})", ERA)
        elif getattr(outcome, "is_error", False):
            report.failed(LEGACY_RETRY, "the retry got a tool error", ERA)
        else:
            report.passed(LEGACY_RETRY, f"{gated.name} ran", ERA)
