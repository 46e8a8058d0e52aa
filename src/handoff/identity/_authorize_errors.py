"""The authorize step's errors that stay in the browser, as pages in the look of the others."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._i18n import Language
from .._i18n import gettext as _
from .._web import SECURITY_HEADERS, Web, read_body, replaying

if TYPE_CHECKING:
    from ._authserver import AuthServer


class AuthorizeErrorPages:
    """ASGI middleware for the SDK's `/authorize`: an error it cannot send back to the app (the client
    id is unknown, the redirect URI is not the app's, the request is malformed) is answered to the
    browser itself, as JSON from the SDK or a page of FastMCP's own. A browser (one that accepts
    HTML) gets a page of this server instead, in the person's language, that says what happened and
    what to do; other requesters keep the SDK's answer."""

    def __init__(self, app: ASGIApp, auth: AuthServer, web: Web, path: str = "/authorize") -> None:
        self.app = app
        self.auth = auth
        self.web = web
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not _accepts_html(scope):
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            body = await read_body(receive) or b""
            receive = replaying(body, receive)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and message["status"] == 400):
                held.append(message)  # an answer meant for the browser itself: replaced below
                return
            await send(message)

        await self.app(scope, receive, hold)
        if not held:
            return
        client_id = _client_id(scope, body)
        unknown = client_id is not None and await self.auth.get_client(client_id) is None
        await Language(self._page(unknown=unknown), self.web.catalogs)(scope, receive, send)

    def _page(self, *, unknown: bool) -> ASGIApp:
        async def page(scope: Scope, receive: Receive, send: Send) -> None:
            server = self.web.site["name"]
            if unknown:
                kind = "unknown-app"
                title = _("This app is not known here")
                text = _(
                    "The app that sent you here is not registered with %(server)s: its registration "
                    "may have been removed, or another server now answers at this address. Nothing was "
                    "changed.",
                    server=server,
                )
                next_step = _(
                    "Close this tab and sign in again from your app. If this page comes back, sign out "
                    "in the app first, so that it registers again."
                )
            else:
                kind = "invalid-sign-in"
                title = _("This sign-in link does not work")
                text = _(
                    "The app that sent you here asked %(server)s for a sign-in it cannot start: the "
                    "link is incomplete, or it names a return address the app did not register. "
                    "Nothing was changed.",
                    server=server,
                )
                next_step = _(
                    "Close this tab and try again from your app. If it keeps happening, tell its makers."
                )
            response = self.web.render(
                Request(scope), "message.html", 400, title=title, text=text, next_step=next_step, kind=kind
            )
            response.headers.update(SECURITY_HEADERS)
            await response(scope, receive, send)

        return page


def _accepts_html(scope: Scope) -> bool:
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"text/html" in accept.lower()


def _client_id(scope: Scope, body: bytes) -> str | None:
    """The client id the request names, where the SDK reads it (the query, or a POST's form)."""
    text = body if scope["method"] == "POST" else scope.get("query_string", b"")
    values = parse_qs(text.decode("latin-1")).get("client_id", [])
    return values[0] if values and values[0].strip() else None
