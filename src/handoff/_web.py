"""What every out-of-band page shares: the browser cookie, CSRF tokens, templates, safe headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2
from babel.dates import format_datetime, format_timedelta
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._appearance import Appearance, logo_file
from ._exact import exact
from ._i18n import Catalogs, Speech, current
from ._i18n import gettext as _


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """No script at all; forms post to this app (and, for a connect page, on to the provider)."""
    targets = " ".join(("'self'", *form_targets))
    return (
        f"default-src 'none'; style-src 'self'; img-src 'self'; form-action {targets}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": content_security_policy(),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    """ASGI middleware that puts `SECURITY_HEADERS` on every response of the pages app (and, given
    `prefix`, on every response of an outer app under that path, such as a 404 for an odd path the
    pages' mount does not match)."""

    def __init__(self, app: ASGIApp, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                # A page may widen form-action for itself (a connect page posts on to the provider).
                keep_csp = any(k.lower() == b"content-security-policy" for k, _ in own)
                headers = [
                    (k, v)
                    for k, v in own
                    if k.decode().lower() not in SECURITY_HEADERS
                    or (keep_csp and k.lower() == b"content-security-policy")
                ]
                headers += [
                    (k.encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if not (keep_csp and k == "content-security-policy")
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOriginForms:
    """ASGI middleware: a form post from another origin is refused before any page sees it.

    SameSite cookies keep other sites out, but not other ports of the same host: every local server
    is "same-site" to a loopback server, and can set its cookies. A browser says where a post comes
    from (`Sec-Fetch-Site`, else `Origin`); anything but this origin, or the person's own typing, is
    answered 403 with nothing read or changed. A client that sends neither (not a browser) is let
    through to the usual CSRF checks.
    """

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        parts = urlsplit(origin)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Request(scope).headers
        fetched_from = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        if fetched_from is not None:
            foreign = fetched_from not in ("same-origin", "none")
        else:
            foreign = origin not in (None, "null", self.origin)
        if not foreign:
            await self.app(scope, receive, send)
            return
        page = message(
            Request(scope),
            403,
            title=_("Form from another site"),
            text=_(
                "This form was sent to %(server)s from another site or another program on this "
                "computer. Nothing was read or changed.",
                server=Web.of(Request(scope)).site["name"],
            ),
            next_step=_("Open the link from your MCP client again, and fill in the page it shows."),
            kind="refused",
        )
        await page(scope, receive, send)


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes | None:
    """The whole request body from an ASGI `receive`, or None once it grows past `max_bytes`."""
    body, _ = await _read_up_to(receive, max_bytes)
    return body


async def _read_up_to(receive: Receive, max_bytes: int | None) -> tuple[bytes | None, bool]:
    """The body (None once past `max_bytes`), and whether the client has sent all of it."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), True
        body += message.get("body", b"")
        ended = not message.get("more_body", False)
        if max_bytes is not None and len(body) > max_bytes:
            return None, ended
        if ended:
            return bytes(body), True


def replaying(body: bytes, receive: Receive) -> Receive:
    """An ASGI `receive` that gives `body` once, then passes on what `receive` gives (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


_DRAIN_LIMIT = 1024 * 1024


class BodyLimit:
    """ASGI middleware that refuses request bodies over `max_bytes` with 413, before the app reads them.

    Forms on the pages are small; without a bound, one POST could make the server hold any amount.
    `paths` limits it to requests under those path prefixes (all requests when empty).
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024, paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.paths and not str(scope["path"]).startswith(self.paths)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body, ended = await _read_up_to(receive, self.max_bytes)
        if body is None:
            # The part that went past the limit may have been the last: then there is nothing to drain
            # (waiting for more would hang until the client gives up).
            await self._refuse(scope, receive, send, drain=not ended)
            return
        await self.app(scope, replaying(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, *, drain: bool = True) -> None:
        # Read (and drop) what a client is still sending, up to a bound, so that it reads the answer
        # instead of a connection reset; beyond the bound the connection is closed mid-upload.
        drained = 0
        while drain and drained <= _DRAIN_LIMIT:
            message = await receive()
            drained += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        title = escape(_("Too large"))
        size = str(self.max_bytes // 1024) + " KiB"
        text = escape(
            _(
                "What was sent is larger than this server accepts (%(size)s). Send less and try again.",
                size=size,
            )
        )
        response = HTMLResponse(
            f'<!doctype html><html lang="{current().tag}"><title>{title}</title>'
            f"<h1>{title}</h1><p>{text}</p>",
            status_code=413,
            headers={"connection": "close", **SECURITY_HEADERS},
        )
        await response(scope, receive, send)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of this app, in the request's language, with the server's name and look."""
    return Web.of(request).render(request, template, status_code, **context)


def signed_in(request: Request) -> str | None:
    """The verified browser user of this request, once the pages checked it (shown in the header)."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, str) else None


def message(
    request: Request, status_code: int, *, title: str, text: str, kind: str = "error", next_step: str = ""
) -> HTMLResponse:
    """A page that only says something: an error, a refusal, an expired link (`kind` names it for
    styling and tests), and what the person can do next."""
    return render(
        request, "message.html", status_code, title=title, text=text, kind=kind, next_step=next_step
    )


class Renderer:
    """The pages' templates in each offered language: the author's templates before handoff's, the
    author's look, and filters for exact values and times."""

    def __init__(self, appearance: Appearance) -> None:
        self.appearance = appearance
        self._loader = appearance.loader()
        self._environments: dict[str, jinja2.Environment] = {}
        self.theme = appearance.theme_css()
        self.logo = logo_file(appearance.logo) if appearance.logo is not None else None

    def environment(self, speech: Speech) -> jinja2.Environment:
        env = self._environments.get(speech.tag)
        if env is None:
            env = jinja2.Environment(
                loader=self._loader,
                autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                undefined=jinja2.StrictUndefined,
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(speech.translations, newstyle=True)  # type: ignore[attr-defined]
            env.filters["exact"] = exact
            env.filters["relative"] = lambda at: _relative(at, speech)
            env.filters["isotime"] = _isotime
            env.filters["fulltime"] = lambda at: format_datetime(
                datetime.fromtimestamp(at, UTC), "medium", tzinfo=UTC, locale=speech.locale
            )
            self._environments[speech.tag] = env
        return env

    def page(self, template: str, **context: Any) -> str:
        speech = current()
        env = self.environment(speech)
        return env.get_template(template).render(lang=speech.tag, dir=speech.direction, **context)


def relative(at: float) -> str:
    """`at` from now, in the language of the request being served (see `_relative`)."""
    return _relative(at, current())


def _relative(at: float, speech: Speech) -> str:
    """`at` from now, like "in 9 minutes" or "2 minutes ago", in the request's language: a moment
    that has come is at least a second ago, one to come at least a second ahead (never "in 0 seconds"
    for what just happened)."""
    ahead = at - time.time()
    seconds = max(1, round(ahead)) if ahead > 0 else min(-1, round(ahead))
    return format_timedelta(seconds, add_direction=True, threshold=1.5, locale=speech.locale)


def _isotime(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


class BrowserCookie:
    """A random per-browser id in an HttpOnly, SameSite=Lax cookie; CSRF tokens are derived from it.

    On https the cookie is `__Host-` prefixed and Secure; plain http is only
    allowed for loopback development, where browsers refuse both and send a
    cookie for 127.0.0.1 to every port. There the name carries the port, and on
    every scheme the value carries a MAC over this server's origin: a cookie set
    by another local server (another port, another key) is never taken for one
    of ours. That does not stop another local server from reading our cookie or
    setting a copy of a valid one, so on plain http the cookie stands for the
    browser only, never for the person (`signed_in_token`).
    """

    def __init__(self, key: bytes, *, secure: bool, origin: str = "") -> None:
        self._key = key
        self.secure = secure
        self.origin = origin.rstrip("/")
        port = urlsplit(self.origin).port if self.origin else None
        self.name = "__Host-handoff" if secure else f"handoff-{port}" if port else "handoff"

    def _mac(self, browser_id: str) -> str:
        mac = hmac.new(self._key, f"browser\0{self.origin}\0{browser_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()

    def value(self, browser_id: str) -> str:
        """What the cookie holds for `browser_id`: the id and its MAC."""
        return f"{browser_id}.{self._mac(browser_id)}"

    def read(self, request: Request) -> str | None:
        """The browser id, if the cookie is one this server set; None otherwise."""
        browser_id, _, mac = (request.cookies.get(self.name) or "").partition(".")
        if not browser_id or len(browser_id) > 64 or not _same(mac, self._mac(browser_id)):
            return None
        return browser_id

    def issue(self, response: Response, browser_id: str | None = None) -> str:
        browser_id = browser_id or secrets.token_urlsafe(32)
        response.set_cookie(
            self.name,
            self.value(browser_id),
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )
        return browser_id

    @property
    def device_name(self) -> str:
        return f"{self.name}-device"

    def _device_token(self, user: str) -> str:
        return hmac.new(self._key, f"device\0{self.origin}\0{user}".encode(), hashlib.sha256).hexdigest()

    def issue_device(self, response: Response, user: str) -> None:
        """Mark this browser as one that signed in as `user` (the sign-in throttle trusts it more)."""
        response.set_cookie(
            self.device_name,
            self._device_token(user),
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def is_device_of(self, request: Request, user: str) -> bool:
        token = request.cookies.get(self.device_name)
        return isinstance(token, str) and _same(token, self._device_token(user))

    def csrf_token(self, browser_id: str, purpose: str) -> str:
        mac = hmac.new(self._key, f"csrf\0{browser_id}\0{purpose}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def csrf_ok(self, request: Request, submitted: object, purpose: str) -> bool:
        browser_id = self.read(request)
        if not browser_id or not isinstance(submitted, str):
            return False
        return _same(submitted, self.csrf_token(browser_id, purpose))

    def _signed_mac(self, browser_id: str, purpose: str, user: str, until: int) -> str:
        text = f"signed-in\0{self.origin}\0{browser_id}\0{purpose}\0{user}\0{until}"
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def signed_in_token(self, browser_id: str, purpose: str, user: str, life: float) -> str:
        """A CSRF token that also says `user` signed in for `purpose` in this browser, for `life`
        seconds: where a cookie cannot prove who is at a page, the page's own forms carry this."""
        until = int(time.time() + life)
        name = base64.urlsafe_b64encode(user.encode()).rstrip(b"=").decode()
        return f"{name}.{until}.{self._signed_mac(browser_id, purpose, user, until)}"

    def signed_in_user(self, request: Request, submitted: object, purpose: str) -> str | None:
        """Who signed in for `purpose` in this browser, by the `signed_in_token` a form sent back, if it
        is one this server made for this browser and it is still good; None otherwise."""
        browser_id = self.read(request)
        if not browser_id or not isinstance(submitted, str) or len(submitted) > 600:
            return None
        name, _, rest = submitted.partition(".")
        until, _, mac = rest.partition(".")
        try:
            user = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
            expires = int(until)
        except (ValueError, UnicodeDecodeError):
            return None
        if expires < time.time() or not _same(mac, self._signed_mac(browser_id, purpose, user, expires)):
            return None
        return user


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes text a browser or an attacker made up (any characters)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def remote_address(request: Request) -> str | None:
    """The peer's IP address as the server saw it, normalized; None when it is not an address.

    Whatever a proxy header claims only counts if the ASGI server was told to trust that proxy
    (uvicorn's `--forwarded-allow-ips`); even then, text that is not an address never reaches an
    audit line or a throttle key.
    """
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def safe_next(value: str | None, root: str) -> str:
    """Only a path inside this app can be a redirect target: no scheme, no host, no `//`."""
    if not value or not value.startswith(root + "/") or value.startswith("//"):
        return root + "/"
    if any(c in value for c in ("\\", "\r", "\n", "\t")) or "//" in value or "/../" in value:
        return root + "/"
    return value


class Web:
    """Per-app page settings that identities and flows share, kept on `app.state.web`."""

    def __init__(
        self,
        cookie: BrowserCookie,
        root: str,
        public_base: str,
        appearance: Appearance | None = None,
    ) -> None:
        self.cookie = cookie
        self.root = root.rstrip("/")
        self.public_base = public_base.rstrip("/")
        self.appearance = appearance or Appearance()
        self.catalogs = Catalogs(
            self.appearance.translations, offered=self.appearance.languages, fixed=self.appearance.language
        )
        self.renderer = Renderer(self.appearance)
        self.server_name = self.appearance.name or ""
        """The name on every page: the author's, else the MCP server's (set when the app is built),
        else the public URL's host."""

    @property
    def site(self) -> dict[str, Any]:
        """What every page shows of the server: its name, logo, theme and where to get help."""
        logo = self.renderer.logo
        return {
            "name": self.server_name or urlsplit(self.public_base).hostname or "",
            "logo": f"{self.root}/brand/logo{logo[2]}" if logo else None,
            "theme": bool(self.renderer.theme),
            "support": self.appearance.support_url,
        }

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("root", self.root)
        context.setdefault("signed_in", signed_in(request))
        body = self.renderer.page(template, site=self.site, **context)
        return HTMLResponse(body, status_code=status_code)

    def url(self, path: str) -> str:
        """Absolute public URL for a path inside the pages app."""
        return f"{self.public_base}{self.root}{path}"

    @staticmethod
    def of(request: Request) -> Web:
        web = request.app.state.web
        assert isinstance(web, Web)
        return web

    def browser_id(self, request: Request) -> str | None:
        return self.cookie.read(request)
