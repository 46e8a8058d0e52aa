"""2026-07-28: `InputRequiredResult` with a url-mode `elicitation/create` and a sealed `requestState`."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    ClientCapabilities,
    ElicitationCapability,
    ElicitRequest,
    ElicitRequestURLParams,
    InputRequiredResult,
    MissingRequiredClientCapabilityErrorData,
    UrlElicitationCapability,
)

from ..ledger import Record, Status
from ._call import Call
from ._state import State, StateRejected, call_digest

if TYPE_CHECKING:
    from .._handoff import Handoff
    from .._need import Need

logger = logging.getLogger("handoff.eras")


class ModernEra:
    """Speaks 2026-07-28: answer with `InputRequiredResult`, then wake the retry on completion."""

    async def obtain(self, call: Call, missing: list[Need]) -> InputRequiredResult | None:
        token = call.request.request_state
        if token is None and not missing:
            return None
        if not call.supports_url:
            raise MCPError(
                MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"{call.tool} needs URL mode elicitation, which this client did not declare",
                MissingRequiredClientCapabilityErrorData(
                    required_capabilities=ClientCapabilities(
                        elicitation=ElicitationCapability(url=UrlElicitationCapability())
                    )
                ).model_dump(by_alias=True, mode="json", exclude_none=True),
            )
        handoff = call.handoff
        digest = call_digest("tools/call", call.params)
        if token is None:
            for need in missing:
                await call.report_refusal(need)
            opened = [await handoff.open(call, need) for need in missing]
            sealed, _ = handoff.states.seal([r.id for r, _ in opened], call.principal, digest)
            return InputRequiredResult(
                input_requests={
                    need.name: ElicitRequest(
                        params=ElicitRequestURLParams(message=record.params["message"], url=url)
                    )
                    for (record, url), need in zip(opened, missing, strict=True)
                },
                request_state=sealed,
            )
        try:
            state = handoff.states.open(token, principal=call.principal, digest=digest)
        except StateRejected as rejected:
            logger.warning(
                "requestState refused for %s on %s: %s", call.principal, call.tool, rejected.reason
            )
            raise
        # The newest presentation of a state is the one whose client is listening: an earlier one still
        # held (its connection dropped, the client sent the retry again, perhaps to another replica)
        # steps aside, unanswered and without using the state up. In this process it is woken at once;
        # on another replica it finds, when its hold ends, that the store names a newer presentation.
        presentation = Presentation(secrets.token_hex(8), anyio.Event())
        await handoff.entries.put(
            PRESENTED,
            state.once,
            {"by": presentation.name},
            expires_at=max(state.expires_at, time.time() + 60),
        )
        earlier = _holding.pop(state.once, None)
        if earlier is not None:
            earlier.superseded.set()
        _holding[state.once] = presentation
        try:
            return await _retry(call, missing, state, digest, presentation, token)
        finally:
            if _holding.get(state.once) is presentation:
                del _holding[state.once]


@dataclass(frozen=True)
class Presentation:
    """One presentation of a request state: its name in the store, and the event that makes it step
    aside in this process."""

    name: str
    superseded: anyio.Event

    async def current(self, handoff: Handoff, state: State) -> bool:
        if self.superseded.is_set():
            return False
        newest = await handoff.entries.get(PRESENTED, state.once)
        return newest is None or newest.get("by") == self.name


PRESENTED = "retry.presented"
"""Entries space: the newest presentation of each request state, by its one-time id."""

_holding: dict[str, Presentation] = {}
"""Retries held in this process, by their state's one-time id."""

CLIENT_ROUNDS = 10
"""Retries the official SDK client makes before it gives up (`input_required_max_rounds`)."""
MAX_HOLD = 50.0
"""Longest hold of one retry: below the 60 s request timeout common clients use (the TypeScript SDK's
among them). Ten rounds of it cover a link of `LINK_LIFE`."""


async def _retry(
    call: Call, missing: list[Need], state: State, digest: str, presentation: Presentation, token: str
) -> InputRequiredResult | None:
    handoff = call.handoff
    records = [await handoff.ledger.get(record_id) for record_id in state.records]
    by_name = {record.params["name"]: record for record in records}
    answers = call.request.input_responses or {}
    for need in missing:
        record = by_name.get(need.name)
        if record is None:
            raise StateRejected("state does not cover this need")
        await _apply_answer(call, record, answers.get(need.name), state)
    for need in missing:
        held = _hold_for(handoff, records, state)
        finished = await _hold(handoff, by_name[need.name], held, presentation.superseded)
        if not await presentation.current(handoff, state):
            return InputRequiredResult(request_state=token)  # nobody listens to this one any more
        if finished is None:
            # Still in the browser: answer again with the state only, so the client retries.
            await _claim(handoff, call, state)
            sealed, _ = handoff.states.seal(state.records, call.principal, digest, round=state.round + 1)
            return InputRequiredResult(request_state=sealed)
        if finished.status is not Status.COMPLETED:
            await _claim(handoff, call, state)
            await call.refuse(finished, need)
    await _claim(handoff, call, state)
    return None


def _hold_for(handoff: Handoff, records: list[Record], state: State) -> float:
    """How long to hold this round: at least `retry_wait`, and long enough that the client's rounds
    last as long as the link does (a person who takes most of the link's life still gets the result).
    `retry_wait=0` turns holding off: every retry is answered at once and the client polls."""
    if handoff.retry_wait <= 0:
        return 0.0
    left = max((r.expires_at for r in records if r.pending), default=time.time()) - time.time()
    rounds_left = max(1, CLIENT_ROUNDS - state.round)
    return min(MAX_HOLD, max(handoff.retry_wait, left / rounds_left))


async def _hold(handoff: Handoff, record: Record, seconds: float, superseded: anyio.Event) -> Record | None:
    """The record once finished, None after `seconds`, or at once when a newer presentation arrived."""
    result: list[Record | None] = [None]
    async with anyio.create_task_group() as tg:

        async def wait() -> None:
            result[0] = await handoff.wait(record.id, seconds)
            tg.cancel_scope.cancel()

        async def stepped_aside() -> None:
            await superseded.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(wait)
        tg.start_soon(stepped_aside)
    return result[0]


async def _claim(handoff: Handoff, call: Call, state: State) -> None:
    """Use the state up as it is answered: a state answers once."""
    if not await handoff.ledger.claim_once(state.once, state.expires_at):
        logger.warning("requestState replayed by %s on %s", call.principal, call.tool)
        raise StateRejected("replayed")


async def _apply_answer(call: Call, record: Record, answer: Any, state: State) -> None:
    """A client-side decline or cancel ends the record; accept means the browser step is under way."""
    action = getattr(answer, "action", None) if answer is not None else None
    if action not in ("decline", "cancel") or not record.pending:
        return
    await _claim(call.handoff, call, state)
    status = Status.DECLINED if action == "decline" else Status.CANCELLED
    finished = await call.handoff.finish(record.id, status, remote=call.remote, trace=record.trace)
    await call.refuse(finished, call.handoff.needs[f"{record.kind}:{record.params['name']}"])
