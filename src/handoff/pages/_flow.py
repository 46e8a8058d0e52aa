"""A flow is what a page does for one kind of record, once the browser user is verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ..ledger import Record

if TYPE_CHECKING:
    from .._handoff import Handoff


class Flow(Protocol):
    """Renders and handles the page of one record kind. Identity and CSRF are checked before."""

    async def show(self, handoff: Handoff, request: Request, record: Record, csrf: str) -> Response: ...

    async def submit(
        self, handoff: Handoff, request: Request, record: Record, form: FormData, csrf: str
    ) -> Response: ...
