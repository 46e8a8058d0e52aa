"""The out-of-band pages: verify who the browser user is, then run the record's flow."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._errors import RecordNotFound, StorageUnavailable
from .._i18n import Language
from .._i18n import gettext as _
from .._tracing import Attributes, joined, step
from .._web import BodyLimit, SameOriginForms, SecurityHeaders, Web, message, remote_address, render
from ..audit import Event
from ..identity._login import PAGE_SIGN_IN_LIFE, PasswordLogin, SignInRefused, page_sign_in
from ..ledger import Record, Status
from ._connect import callback as connect_callback
from ._flow import ended
from ._secret import saved

if TYPE_CHECKING:
    from .._handoff import Handoff

_ID = re.compile(r"[A-Za-z0-9_-]{32}")
PAGE_BODY_LIMIT = 64 * 1024
"""Bytes a page's form may post: a secret, a CSRF token and a few fields fit many times over."""


def build_pages(handoff: Handoff, web: Web) -> Starlette:
    """A Starlette app to mount at `web.root` beside the MCP endpoint (or to run alone)."""

    async def index(request: Request) -> Response:
        user = await handoff.browser.current(request)
        return render(request, "index.html", user=user, csrf=_csrf(request, "logout")[0])

    async def record_page(request: Request) -> Response:
        record = await _record(request)
        if isinstance(record, Response):
            return record
        with joined("handoff.page", record.trace, _about(record, "show")):
            return await _show(request, record)

    async def _show(request: Request, record: Record) -> Response:
        if (asking := page_sign_in(handoff.browser, web)) is not None:
            return await _sign_in_form(asking, request, record)
        user = await handoff.browser.current(request)
        if user is None:
            return _sign_in_elsewhere(request, record)
        return await _open(request, record, user, _csrf(request, f"record:{record.id}")[0])

    async def record_submit(request: Request) -> Response:
        record = await _record(request)
        if isinstance(record, Response):
            return record
        with joined("handoff.page", record.trace, _about(record, "submit")):
            return await _submit(request, record)

    async def _submit(request: Request, record: Record) -> Response:
        form = await request.form()
        token = form.get("csrf")
        if (asking := page_sign_in(handoff.browser, web)) is not None:
            if "password" in form:
                return await _sign_in_here(asking, request, record, form)
            # On plain http the form itself says who signed in for this record, in this browser.
            user = web.cookie.signed_in_user(request, token, f"record:{record.id}")
            if not _same_person(record, user):
                return await _stale(request, record)
        else:
            user = await handoff.browser.current(request)
            if user is None:
                return _sign_in_elsewhere(request, record)
            if (refused := await _refusal(request, record, user)) is not None:
                return refused
            if not web.cookie.csrf_ok(request, token, f"record:{record.id}"):
                return await _stale(request, record)
        if not record.pending:
            return ended(request, record.status.value)
        assert isinstance(token, str) and user is not None
        request.state.user = user
        return await handoff.flows[record.kind].submit(handoff, request, record, form, token)

    async def _record(request: Request) -> Record | Response:
        """The record a link names; unknown and malformed ids get a page that says nothing more."""
        record_id = request.path_params["record_id"]
        remote = remote_address(request)
        if not _ID.fullmatch(record_id):
            await handoff.audit.write(Event.REJECTED, remote=remote, detail="malformed id")
            return _unknown(request)
        try:
            return await handoff.ledger.get(record_id)
        except RecordNotFound:
            await handoff.audit.write(Event.REJECTED, remote=remote, detail="unknown id")
            return _unknown(request)

    def _sign_in_elsewhere(request: Request, record: Record) -> Response:
        """An anonymous browser on https: off to the identity's sign-in, and back to the link."""
        login = handoff.browser.login_url(request, f"{web.root}/e/{record.id}")
        if login is None:
            return message(
                request,
                401,
                title=_("Sign-in needed"),
                text=_(
                    "This page needs you to be signed in to %(server)s, and it cannot tell who you are.",
                    server=web.site["name"],
                ),
                next_step=_("Sign in the way this server expects, then open the link again."),
            )
        return RedirectResponse(login, status_code=303)

    async def _sign_in_form(
        asking: PasswordLogin, request: Request, record: Record, error: SignInRefused | None = None
    ) -> Response:
        """The record's own sign-in form: it posts back to the record's page, which checks it."""
        return await asking.sign_in_page(
            request, purpose=f"sign-in:{record.id}", action=f"{web.root}/e/{record.id}", error=error
        )

    async def _sign_in_here(
        asking: PasswordLogin, request: Request, record: Record, form: FormData
    ) -> Response:
        """A sign-in typed on the record's page: the page for that person, its forms carrying the proof."""
        user = await asking.authenticate(request, form, f"sign-in:{record.id}")
        if isinstance(user, SignInRefused):
            return await _sign_in_form(asking, request, record, user)
        browser_id = web.browser_id(request)
        assert browser_id is not None  # the pages app gives every browser an id
        token = web.cookie.signed_in_token(browser_id, f"record:{record.id}", user, PAGE_SIGN_IN_LIFE)
        page = await _open(request, record, user, token, here=True)
        web.cookie.issue_device(page, user)
        return page

    async def _open(
        request: Request, record: Record, user: str, token: str, *, here: bool = False
    ) -> Response:
        """The record's page for `user`: refused when it is someone else's, ended, or its flow."""
        if (refused := await _refusal(request, record, user, here=here)) is not None:
            return refused
        request.state.user = user
        handoff.metrics.outcome(record.kind, "opened")
        await handoff.audit.write(
            Event.OPENED,
            principal=record.principal,
            client_id=record.client_id,
            record_id=record.id,
            remote=remote_address(request),
        )
        return await handoff.flows[record.kind].show(handoff, request, record, token)

    async def _refusal(request: Request, record: Record, user: str, *, here: bool = False) -> Response | None:
        """Why `user` sees nothing of this record (it is someone else's, or it ended), or None."""
        if not _same_person(record, user):
            handoff.metrics.outcome(record.kind, "refused_identity")
            await handoff.audit.write(
                Event.IDENTITY_MISMATCH,
                principal=user,
                client_id=record.client_id,
                record_id=record.id,
                remote=remote_address(request),
                detail=f"link belongs to {record.principal}",
            )
            csrf = _csrf(request, "logout")[0]
            return render(request, "refused.html", 403, user=user, here=here, csrf=csrf)
        if record.status is Status.COMPLETED and record.kind == "secret":
            return saved(request, record)  # a visit after the save says what the save said
        if not record.pending:
            return ended(request, record.status.value)
        return None

    async def _stale(request: Request, record: Record) -> Response:
        await handoff.audit.write(
            Event.REJECTED,
            principal=record.principal,
            record_id=record.id,
            remote=remote_address(request),
            detail="csrf token missing or wrong",
        )
        return message(
            request,
            403,
            title=_("Form expired"),
            text=_("This form is stale or did not come from this page."),
            next_step=_("Go back, reload the page and try again."),
        )

    def _csrf(request: Request, purpose: str) -> tuple[str, str | None]:
        browser_id = web.browser_id(request) or ""
        return web.cookie.csrf_token(browser_id, purpose), browser_id

    async def oauth_callback(request: Request) -> Response:
        return await connect_callback(handoff, request)

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/oauth/callback", oauth_callback, methods=["GET", "POST"]),
        Route("/e/{record_id}", record_page, methods=["GET"]),
        Route("/e/{record_id}", record_submit, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("handoff", "static")]), name="static"),
        *_brand_routes(web),
        *handoff.browser.routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(Language, catalogs=web.catalogs),
            Middleware(SecurityHeaders),
            Middleware(SameOriginForms, origin=web.public_base),
            Middleware(BodyLimit, max_bytes=PAGE_BODY_LIMIT),
            Middleware(_EnsureBrowserCookie, web=web),
        ],
    )

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        await handoff.note_storage_failure(detail=request.url.path, remote=remote_address(request))
        page = message(
            request,
            503,
            title=_("Cannot save right now"),
            text=_("This server cannot save anything at the moment. Nothing you entered was kept."),
            next_step=_("Wait a minute, then reload this page and try again."),
        )
        page.headers["retry-after"] = "60"
        return page

    app.add_exception_handler(StorageUnavailable, storage_unavailable)
    app.router.redirect_slashes = False  # its redirects would echo the Host header
    app.state.web = web
    return app


def _about(record: Record, action: str) -> Attributes:
    return {"handoff.kind": record.kind, "handoff.record_id": record.id, "handoff.page.action": action}


def _same_person(record: Record, user: str | None) -> bool:
    """Whether the browser's `user` is the one the record was made for (the span says which, not who)."""
    with step("handoff.identity", {"handoff.record_id": record.id}, current=False) as span:
        same = user == record.principal
        span.set_attribute("handoff.identity.same", same)
        return same


def _unknown(request: Request) -> Response:
    return message(
        request,
        404,
        title=_("Unknown link"),
        text=_("This link does not lead to any request of this server."),
        next_step=_(
            "Check that you copied all of it. If you did, start again from your MCP client: "
            "it will give you a new link."
        ),
        kind="unknown",
    )


def _brand_routes(web: Web) -> list[BaseRoute]:
    """The theme stylesheet and the logo, served from this app (the pages load nothing from elsewhere)."""
    routes: list[BaseRoute] = []
    if web.renderer.theme:
        theme = web.renderer.theme

        async def theme_css(request: Request) -> Response:
            return PlainTextResponse(theme, media_type="text/css")

        routes.append(Route("/brand/theme.css", theme_css, methods=["GET"]))
    if web.renderer.logo is not None:
        data, media_type, suffix = web.renderer.logo

        async def logo(request: Request) -> Response:
            return Response(data, media_type=media_type)

        routes.append(Route(f"/brand/logo{suffix}", logo, methods=["GET"]))
    return routes


class _EnsureBrowserCookie:
    """Give every browser a random id cookie on its first page view, so every form can carry CSRF."""

    def __init__(self, app: ASGIApp, web: Web) -> None:
        self.app = app
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.web.cookie.read(Request(scope)) is not None:
            await self.app(scope, receive, send)
            return
        browser_id = secrets.token_urlsafe(32)
        # Make the new id visible to this request's handlers, as if the cookie had been sent.
        headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        cookie = next((v for k, v in scope["headers"] if k == b"cookie"), b"")
        fresh = f"{self.web.cookie.name}={self.web.cookie.value(browser_id)}".encode()
        cookie = (cookie + b"; " if cookie else b"") + fresh
        scope = {**scope, "headers": [*headers, (b"cookie", cookie)]}
        holder = Response()
        self.web.cookie.issue(holder, browser_id)
        set_cookie = [(k, v) for k, v in holder.raw_headers if k == b"set-cookie"]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *set_cookie]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
