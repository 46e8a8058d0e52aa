"""2026-07-28: `InputRequiredResult` with a url-mode `elicitation/create` and a sealed `requestState`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

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
from ._state import StateRejected, call_digest

if TYPE_CHECKING:
    from .._need import Need

logger = logging.getLogger("handoff.eras")


class ModernEra:
    """Speaks 2026-07-28: answer with `InputRequiredResult`, then wake the retry on completion."""

    async def obtain(self, call: Call, missing: list[Need]) -> InputRequiredResult | None:
        token = call.ctx.request_state
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
        if not await handoff.ledger.claim_once(state.once, state.expires_at):
            logger.warning("requestState replayed by %s on %s", call.principal, call.tool)
            raise StateRejected("replayed")
        records = [await handoff.ledger.get(record_id) for record_id in state.records]
        by_name = {record.params["name"]: record for record in records}
        answers = call.ctx.input_responses or {}
        for need in missing:
            record = by_name.get(need.name)
            if record is None:
                raise StateRejected("state does not cover this need")
            await _apply_answer(call, record, answers.get(need.name))
        for need in missing:
            finished = await handoff.wait(by_name[need.name].id, handoff.retry_wait)
            if finished is None:
                # Still in the browser: answer again with the state only, so the client retries.
                sealed, _ = handoff.states.seal(state.records, call.principal, digest)
                return InputRequiredResult(request_state=sealed)
            if finished.status is not Status.COMPLETED:
                await call.refuse(finished, need)
        return None


async def _apply_answer(call: Call, record: Record, answer: Any) -> None:
    """A client-side decline or cancel ends the record; accept means the browser step is under way."""
    action = getattr(answer, "action", None) if answer is not None else None
    if action not in ("decline", "cancel") or not record.pending:
        return
    status = Status.DECLINED if action == "decline" else Status.CANCELLED
    finished = await call.handoff.finish(record.id, status, remote=call.remote)
    await call.refuse(finished, call.handoff.needs[f"{record.kind}:{record.params['name']}"])
