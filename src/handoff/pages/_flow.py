"""A flow is what a page does for one kind of record, once the browser user is verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .._errors import TransitionRefused
from .._web import Web, message, remote_address, render
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
    handoff: Handoff, request: Request, record: Record, status: Status, title: str, text: str
) -> Response:
    """End the record with the person's choice and say so; a record that already ended says that."""
    try:
        await handoff.finish(record.id, status, remote=remote_address(request))
    except TransitionRefused as refused:
        return ended(request, refused.status)
    return render("done.html", title=title, root=Web.of(request).root, text=text)


def ended(request: Request, status: str) -> Response:
    texts = {
        "completed": "This request was already completed. You can close this tab.",
        "declined": "This request was declined. Start again from your MCP client if you changed your mind.",
        "cancelled": "This request was cancelled. Start again from your MCP client.",
        "expired": "This link has expired. Call the tool again from your MCP client to get a new one.",
        "failed": "This request did not complete. Start again from your MCP client.",
    }
    return message(
        Web.of(request).root,
        410,
        title="This link is no longer active",
        text=texts.get(status, "This request is closed."),
    )
