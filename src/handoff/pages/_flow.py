"""A flow is what a page does for one kind of record, once the browser user is verified."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._errors import TransitionRefused
from .._i18n import N_, gettext
from .._web import message, remote_address, render
from ..ledger import Record, Status

if TYPE_CHECKING:
    from .._handoff import Handoff


class Flow(Protocol):
    """Renders and handles the page of one record kind. Identity and CSRF are checked before."""

    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response: ...

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response: ...


async def conclude(
    handoff: Handoff,
    request: Request,
    record: Record,
    status: Status,
    title: str,
    text: str | Callable[[Record], str],
) -> Response:
    """End the record with the person's choice and say so (`text`, or what it says of the record as
    it ended); a record that already ended says that."""
    try:
        done = await handoff.finish(record.id, status, remote=remote_address(request), trace=record.trace)
    except TransitionRefused as refused:
        return ended(request, refused.status)
    said = text(done) if callable(text) else text
    return render(request, "done.html", title=title, text=said, declined=status is not Status.COMPLETED)


async def about(handoff: Handoff, record: Record) -> dict[str, Any]:
    """Who asked and for what, as the record page shows it: the app (its name only from a verified
    registration, or marked as its own claim), the tool, what is asked and why, when, and whose account
    it is for."""
    return {
        "record_id": record.id,
        "principal": record.principal,
        "tool": record.params.get("tool", ""),
        "label": authored(record.params.get("label", "")),
        "help": authored(record.params.get("help", "")),
        "app": await handoff.app_name(record.client_id),
        "asked_at": record.created_at,
        "expires_at": record.expires_at,
    }


def authored(text: str) -> str:
    """An author's text (a need's label or help): translated when the author's catalog has it."""
    return gettext(text) if text else text


_ENDED = {
    # status: (title, what happened, what to do next)
    "completed": (
        N_("Already done"),
        N_("This request was already completed."),
        N_("There is nothing more to do here. You can close this tab and go back to your MCP client."),
    ),
    "declined": (
        N_("Request declined"),
        N_("This request was declined, so nothing was shared or changed."),
        N_("If you changed your mind, call the tool again from your MCP client to get a new link."),
    ),
    "cancelled": (
        N_("Request cancelled"),
        N_("The app that asked cancelled this request."),
        N_("Start again from your MCP client if you still need it."),
    ),
    "expired": (
        N_("This link has expired"),
        N_("Links stop working after a few minutes, so that an old one cannot be used by someone else."),
        N_("Call the tool again from your MCP client to get a new link."),
    ),
    "failed": (
        N_("This request did not complete"),
        N_("Something went wrong before this request could finish. Nothing was saved."),
        N_("Start again from your MCP client."),
    ),
}


def ended(request: Request, status: str) -> Response:
    """The page of a link whose request is over: what happened and what to do next."""
    title, text, next_step = _ENDED.get(status, _ENDED["failed"])
    return message(
        request,
        410,
        title=gettext(title),
        text=gettext(text),
        next_step=gettext(next_step),
        kind=status if status in _ENDED else "failed",
    )
