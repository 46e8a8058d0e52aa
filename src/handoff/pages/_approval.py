"""Approval: show exactly what will happen, from the record, and take a yes or a no."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._errors import TransitionRefused
from .._web import Web, render
from ..ledger import Record, Status
from ._secret import ended

if TYPE_CHECKING:
    from .._handoff import Handoff


class ApprovalFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        return render(
            "approval.html",
            root=Web.of(request).root,
            record_id=record.id,
            label=record.params["label"],
            tool=record.params.get("tool", ""),
            summary=record.params.get("summary", []),
            digest=record.params.get("digest", "")[:16],
            csrf=csrf,
        )

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        approve = form.get("action") == "approve"
        status = Status.COMPLETED if approve else Status.DECLINED
        try:
            await handoff.finish(record.id, status, remote=request.client.host if request.client else None)
        except TransitionRefused as refused:
            return ended(request, refused.status)
        text = (
            "Approved. The tool will run once, with exactly what you saw. You can close this tab."
            if approve
            else "Denied. Nothing will run. You can close this tab."
        )
        return render(
            "done.html", title="Approved" if approve else "Denied", root=Web.of(request).root, text=text
        )
