"""Secret entry: a password field, an optional server-side check, a decline button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._errors import TransitionRefused
from .._need import SecretNeed
from .._web import Web, remote_address, render, signed_in
from ..ledger import Record, Status
from ._flow import conclude, ended

if TYPE_CHECKING:
    from .._handoff import Handoff

_MAX_SECRET = 8192


class SecretFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        return _form(request, record, csrf, error=None)

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        remote = remote_address(request)
        if form.get("action") == "decline":
            text = f"You declined to provide your {record.params['label']}. You can close this tab."
            return await conclude(handoff, request, record, Status.DECLINED, "Declined", text)
        value = form.get("value")
        if not isinstance(value, str) or not value.strip():
            return _form(request, record, csrf, error="Please enter a value, or decline.", status=400)
        if len(value) > _MAX_SECRET:
            return _form(request, record, csrf, error="That value is too long.", status=400)
        need = handoff.needs.get(f"secret:{record.params['name']}")
        problem = await need.check(value) if isinstance(need, SecretNeed) else None
        if problem:
            return _form(request, record, csrf, error=problem, status=422)
        try:
            await handoff.complete_with_secret(record, value, remote=remote)
        except TransitionRefused as refused:
            return ended(request, refused.status)
        return render(
            "done.html",
            title="Saved",
            root=Web.of(request).root,
            text=f"Your {record.params['label']} is stored, encrypted. "
            "You can close this tab and go back to your MCP client.",
        )


def _form(request: Request, record: Record, csrf: str, *, error: str | None, status: int = 200) -> Response:
    return render(
        "secret.html",
        status,
        root=Web.of(request).root,
        record_id=record.id,
        label=record.params["label"],
        help=record.params.get("help", ""),
        tool=record.params.get("tool", ""),
        csrf=csrf,
        error=error,
        signed_in=signed_in(request),
    )
