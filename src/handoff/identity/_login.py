"""Password sign-in for the browser side, in four steps that the sign-in form and every page share.

- `authenticate`: the form came from this browser's page, the sign-in is not throttled, and the
  password is right: who signed in.
- `renew`: a fresh browser id and session for that person (a cookie planted before never becomes one).
- `hand_over`: send the browser on to where it was going, with its new cookies.
- `sign_in_page`: the form itself, posting to the sign-in route or to the page that asks.

On https the session cookie (`__Host-`, Secure) stands for the person on every page. On plain http
(a loopback server) it cannot: the browser sends it to every other local port and lets every local
server set it. There each page that needs to know who is at it (a record's page, a consent, the end
of a third-party sign-in) shows the sign-in form itself, for that page, and what it proves travels
in the page's own forms (`page_sign_in`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import anyio
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._entries import Entries
from .._errors import ConfigError
from .._i18n import gettext as _
from .._web import Web, content_security_policy, message, remote_address, render, safe_next
from ._passwords import DUMMY_HASH, HASHES_AT_ONCE, check_password, hash_password, is_password_hash
from ._sessions import BrowserSessions
from ._throttle import Throttle, duration

PAGE_SIGN_IN_LIFE = 900.0
"""Seconds a sign-in typed on a page holds for that page's forms (the record's own life still ends
it first, when it is shorter)."""


@dataclass(frozen=True)
class SignInRefused:
    """Why a sign-in did not go through, in the person's words, and the status to answer with."""

    error: str
    status: int


class PasswordLogin:
    """Users log in with a password; the session lives server-side, keyed by the browser cookie.

    `users` maps a user name (the principal) to a `hash_password` string.
    """

    def __init__(self, users: Mapping[str, str], *, throttle: Throttle | None = None) -> None:
        for user, stored in users.items():
            if not isinstance(stored, str) or not is_password_hash(stored):
                raise ConfigError(
                    f"the password of user {user!r} is not stored as a hash: pass "
                    "{user: hash_password(password)} (from handoff import hash_password), "
                    "or use PasswordLogin.with_passwords({user: password}) for a quick start"
                )
        self.users = dict(users)
        self._hashing: anyio.CapacityLimiter | None = None
        self.fixed_user: str | None = None
        """The one user name a single-user login asks no name for."""
        self.throttle = throttle or Throttle()
        self.sessions = BrowserSessions()

    @classmethod
    def with_passwords(cls, passwords: dict[str, str]) -> PasswordLogin:
        return cls({user: hash_password(pw) for user, pw in passwords.items()})

    @property
    def one_person(self) -> bool:
        """True when only one person can sign in: no one else's session can be planted on them."""
        return len(self.users) == 1

    async def current(self, request: Request) -> str | None:
        return await self.sessions.user(request)

    def keep_in(self, store: Entries) -> None:
        """Keep browser sessions and sign-in failures in `store`: `Handoff` calls this with its own."""
        self.sessions.keep_in(store)
        self.throttle.keep_in(self.sessions.store)

    async def form_targets(self, next_path: str) -> tuple[str, ...]:
        """Where, besides this app, the sign-in form's redirect may lead for `next_path` (nowhere here)."""
        return ()

    async def sign_in_notice(self, request: Request, next_path: str) -> str | None:
        """Why this sign-in form asks, when the usual line does not say it (nothing here)."""
        return None

    async def signed_in_for(self, next_path: str, user: str, browser_id: str) -> None:
        """A sign-in on its way to `next_path` gave this browser the id `browser_id` (nothing to note
        here; the authorization server binds the consent it leads to)."""

    def login_url(self, request: Request, next_path: str) -> str | None:
        return f"{Web.of(request).root}/login?{urlencode({'next': next_path})}"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self._login_form, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self._logout, methods=["POST"]),
        ]

    # The steps

    async def authenticate(self, request: Request, form: FormData, purpose: str) -> str | SignInRefused:
        """Who signed in with `form`, the sign-in form shown for `purpose` in this browser; or why not.

        The try is counted before the password is checked (and stays counted when it is wrong), so
        parallel guesses gain nothing; the right password takes it back."""
        web = Web.of(request)
        if not web.cookie.csrf_ok(request, form.get("csrf"), purpose):
            return SignInRefused(_("Your form expired. Please try again."), 400)
        user = self.fixed_user or str(form.get("username", ""))
        password = str(form.get("password", ""))
        remote = remote_address(request) or ""
        device = web.cookie.is_device_of(request, user)
        wait, stamp = await self.throttle.attempt(user, remote, device=device)
        if wait:
            return SignInRefused(
                _("Too many failed sign-ins. Try again in %(wait)s.", wait=duration(wait)), 429
            )
        if not await self._verify_off_the_loop(user, password):
            return SignInRefused(_("Wrong user name or password."), 401)
        await self.throttle.succeeded(user, remote, device=device, stamp=stamp)
        return user

    async def renew(self, request: Request, user: str) -> str:
        """End this browser's session and start a new one for `user`, under a new browser id."""
        web = Web.of(request)
        await self.sessions.end(web.browser_id(request))
        return await self.sessions.start(user)

    async def hand_over(self, request: Request, next_path: str, user: str, browser_id: str) -> Response:
        """Send the browser, now signed in as `user` under `browser_id`, on to `next_path`."""
        web = Web.of(request)
        response = RedirectResponse(next_path, status_code=303)
        await self.signed_in_for(next_path, user, browser_id)
        web.cookie.issue(response, browser_id)
        web.cookie.issue_device(response, user)
        return response

    async def sign_in_page(
        self,
        request: Request,
        *,
        purpose: str = "login",
        action: str | None = None,
        next_path: str | None = None,
        error: SignInRefused | None = None,
        notice: str | None = None,
    ) -> Response:
        """The sign-in form: for the sign-in route (on to `next_path`), or for the page at `action`,
        which checks it itself with `authenticate(..., purpose)`."""
        web = Web.of(request)
        browser_id = web.browser_id(request)
        fresh = browser_id is None
        browser_id = browser_id or secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            error.status if error else 200,
            action=action or f"{web.root}/login",
            here=action is not None,
            next_path=next_path,
            error=error.error if error else None,
            fixed_user=self.fixed_user,
            notice=notice,
            csrf=web.cookie.csrf_token(browser_id, purpose),
        )
        if fresh:
            web.cookie.issue(response, browser_id)
        return response

    # The sign-in route

    async def _login_form(self, request: Request) -> Response:
        web = Web.of(request)
        next_path = safe_next(request.query_params.get("next"), web.root)
        return await self._login_page(request, next_path)

    async def _login(self, request: Request) -> Response:
        web = Web.of(request)
        form = await request.form()
        next_path = safe_next(str(form.get("next", "")), web.root)
        user = await self.authenticate(request, form, "login")
        if isinstance(user, SignInRefused):
            return await self._login_page(request, next_path, user)
        browser_id = await self.renew(request, user)
        return await self.hand_over(request, next_path, user, browser_id)

    async def _login_page(
        self, request: Request, next_path: str, error: SignInRefused | None = None
    ) -> Response:
        page = await self.sign_in_page(
            request, next_path=next_path, error=error, notice=await self.sign_in_notice(request, next_path)
        )
        if targets := await self.form_targets(next_path):
            # A sign-in may end in a redirect to an OAuth client's redirect URI: let the form go there.
            page.headers["content-security-policy"] = content_security_policy(targets)
        return page

    async def _logout(self, request: Request) -> Response:
        web = Web.of(request)
        form = await request.form()
        if not web.cookie.csrf_ok(request, form.get("csrf"), "logout"):
            return message(
                request,
                400,
                title=_("Form expired"),
                text=_("This form is stale or did not come from this page."),
                next_step=_("Go back, reload the page and try again."),
            )
        await self.sessions.end(web.browser_id(request))
        response = RedirectResponse(f"{web.root}/login", status_code=303)
        web.cookie.issue(response)
        return response

    async def _verify_off_the_loop(self, user: str, password: str) -> bool:
        """`verify` in a worker thread (scrypt takes tens of milliseconds), a few at a time: a storm of
        sign-ins slows sign-ins, not every other request of the server."""
        if self._hashing is None:
            self._hashing = anyio.CapacityLimiter(HASHES_AT_ONCE)
        return await anyio.to_thread.run_sync(self.verify, user, password, limiter=self._hashing)

    def verify(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        ok = check_password(password, stored or DUMMY_HASH)
        return ok and stored is not None


def page_sign_in(identity: object, web: Web) -> PasswordLogin | None:
    """The identity whose sign-in a page must ask for itself rather than trust the browser's cookie,
    or None: on plain http the browser shares that cookie with every local port, so a password
    identity's pages ask for the password, each for itself."""
    return identity if isinstance(identity, PasswordLogin) and not web.cookie.secure else None
