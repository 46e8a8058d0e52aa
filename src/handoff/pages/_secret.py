"""Secret entry: a password field, an optional server-side check, a decline button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._errors import TransitionRefused
from .._i18n import gettext as _
from .._need import SecretNeed
from .._web import remote_address, render
from ..ledger import Record, Status
from ._flow import about, authored, conclude, ended

if TYPE_CHECKING:
    from .._handoff import Handoff

_MAX_SECRET = 8192


class SecretFlow:
    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response:
        return await _form(handoff, request, record, csrf, error=None)

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response:
        remote = remote_address(request)
        label = authored(record.params["label"])
        if form.get("action") == "decline":
            text = _("You declined to give your %(label)s. Nothing was stored.", label=label)
            return await conclude(handoff, request, record, Status.DECLINED, _("Declined"), text)
        value = form.get("value")
        if not isinstance(value, str) or not value.strip():
            error = _("Enter your %(label)s, or decline.", label=label)
            return await _form(handoff, request, record, csrf, error=error, status=400)
        if len(value) > _MAX_SECRET:
            error = _("That is longer than %(limit)d characters. Check what you pasted.", limit=_MAX_SECRET)
            return await _form(handoff, request, record, csrf, error=error, status=400)
        need = handoff.needs.get(f"secret:{record.params['name']}")
        problem = await need.check(value) if isinstance(need, SecretNeed) else None
        if problem:
            return await _form(handoff, request, record, csrf, error=authored(problem), status=422)
        try:
            await handoff.complete_with_secret(record, value, remote=remote)
        except TransitionRefused as refused:
            return ended(request, refused.status)
        return saved(request, record)


def saved(request: Request, record: Record) -> Response:
    """The page that says the value is kept: after the submit, and on any later visit of the link
    (whose first answer a crash may have cut off after the value was stored)."""
    return render(
        request,
        "done.html",
        title=_("Saved"),
        text=_(
            "Your %(label)s is stored, encrypted. You can close this tab and go back to your MCP client.",
            label=authored(record.params["label"]),
        ),
        declined=False,
    )


async def _form(
    handoff: Handoff, request: Request, record: Record, csrf: str, *, error: str | None, status: int = 200
) -> Response:
    return render(request, "secret.html", status, csrf=csrf, error=error, **await about(handoff, record))
