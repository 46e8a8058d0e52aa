"""2025-11-25: error -32042 or `elicitation/create` (mode url), then the completion notice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp_types import ElicitRequestURLParams

from .._errors import Busy
from ..frameworks import Refusal
from ..ledger import Status
from ._call import Call

if TYPE_CHECKING:
    from .._need import Need


class LegacyEra:
    """Speaks 2025-11-25 to a client that made the `initialize` handshake."""

    async def obtain(self, call: Call, missing: list[Need]) -> None:
        if not missing:
            return
        for need in missing:
            await call.report_refusal(need)
        handoff = call.handoff
        opened = [await handoff.open(call, need) for need in missing]
        if not call.supports_url:
            # Never send URL mode to a client that did not declare it; secrets never go through forms.
            raise call.link_only(opened)
        if call.delivery == "error":
            for record, _ in opened:
                handoff.notifier.watch(record.id, call.request.session, until=record.expires_at)
            raise UrlElicitationRequiredError(
                [
                    ElicitRequestURLParams(
                        message=record.params["message"], url=url, elicitation_id=record.id
                    )
                    for record, url in opened
                ]
            )
        for (record, url), need in zip(opened, missing, strict=True):
            handoff.notifier.watch(record.id, call.request.session, until=record.expires_at)
            answer = await call.request.elicit_url(record.params["message"], url, record.id)
            if answer.action != "accept":
                # The client said no: it knows, so no completion notice tells it of a step never begun.
                handoff.notifier.unwatch(record.id, call.request.session)
                status = Status.DECLINED if answer.action == "decline" else Status.CANCELLED
                record = await handoff.finish(record.id, status, remote=None, trace=record.trace)
                await call.refuse(record, need)
            try:
                finished = await handoff.hold(record.id)
            except Busy:
                raise Refusal(
                    f"The server is too busy to wait for your {need.label} right now. Finish in the "
                    f"browser ({url}), then call the tool again."
                ) from None
            if finished is None:
                raise Refusal(
                    f"Still waiting for your {need.label} in the browser ({url}). "
                    "Finish there, then call the tool again."
                )
            if finished.status is not Status.COMPLETED:
                await call.refuse(finished, need)
