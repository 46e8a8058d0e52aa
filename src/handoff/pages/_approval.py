"""Approval: show exactly what will happen, from the record, and take a yes or a no."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._exact import show
from .._i18n import gettext as _
from .._need import APPROVAL_LIFE, ApprovalNeed, approval_life
from .._web import relative, render
from ..ledger import Record, Status
from ._flow import about, authored, conclude

if TYPE_CHECKING:
    from .._handoff import Handoff


class ApprovalFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        rows, notes = [], []
        for key, value in record.params.get("summary", []):
            label, shown = show(authored(key)), show(value)  # a label may be translated, a value never
            rows.append((label.html, shown.html))
            notes += [(label.html, note) for note in label.notes + shown.notes]
        return render(
            request,
            "approval.html",
            rows=rows,
            notes=notes,
            digest=record.params.get("digest", "")[:16],
            csrf=csrf,
            **await about(handoff, record),
        )

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        if form.get("action") == "approve":
            need = handoff.needs.get(f"approval:{record.params['name']}")
            life = approval_life(record, need.lifetime if isinstance(need, ApprovalNeed) else APPROVAL_LIFE)

            def approved(done: Record) -> str:
                return _(
                    "Approved. The tool will run once, with exactly what you saw. If it has not run "
                    "%(when)s, the approval lapses and the tool asks you again. You can close this tab.",
                    when=relative((done.completed_at or time.time()) + life),
                )

            return await conclude(handoff, request, record, Status.COMPLETED, _("Approved"), approved)
        text = _("Denied. Nothing will run. You can close this tab.")
        return await conclude(handoff, request, record, Status.DECLINED, _("Denied"), text)
