"""Approval: show exactly what will happen, from the record, and take a yes or a no."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._exact import show
from .._need import APPROVAL_LIFE, ApprovalNeed
from .._web import Web, render, signed_in
from ..ledger import Record, Status
from ._flow import conclude

if TYPE_CHECKING:
    from .._handoff import Handoff


class ApprovalFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        rows, notes = [], []
        for key, value in record.params.get("summary", []):
            label, shown = show(key), show(value)
            rows.append((label.html, shown.html))
            notes += [(label.html, note) for note in label.notes + shown.notes]
        need = handoff.needs.get(f"approval:{record.params['name']}")
        lifetime = need.lifetime if isinstance(need, ApprovalNeed) else APPROVAL_LIFE
        return render(
            "approval.html",
            root=Web.of(request).root,
            record_id=record.id,
            label=record.params["label"],
            tool=record.params.get("tool", ""),
            server=record.params.get("server", ""),
            rows=rows,
            notes=notes,
            lifetime=_duration(lifetime),
            digest=record.params.get("digest", "")[:16],
            csrf=csrf,
            signed_in=signed_in(request),
        )

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        if form.get("action") == "approve":
            text = "Approved. The tool will run once, with exactly what you saw. You can close this tab."
            return await conclude(handoff, request, record, Status.COMPLETED, "Approved", text)
        text = "Denied. Nothing will run. You can close this tab."
        return await conclude(handoff, request, record, Status.DECLINED, "Denied", text)


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"
