"""Password login for the browser side, and the server as its own OAuth authorization server.

One login session (a server-side map from the browser cookie to a user) serves
both the OAuth authorize step of MCP clients and the out-of-band pages, so the
person who authorized the client is the person the pages check against.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._entries import Entries, KeptIn
from .._errors import ConfigError
from .._i18n import gettext as _
from .._i18n import ngettext
from .._web import Web, content_security_policy, message, remote_address, render, safe_next
from ._sessions import BrowserSessions


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """scrypt, stored as `scrypt$<salt hex>$<hash hex>`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def is_password_hash(stored: str) -> bool:
    """True for what `hash_password` returns: `scrypt$<32 hex digits>$<128 hex digits>`."""
    return re.fullmatch(r"scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}", stored) is not None


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, want = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hash_password(password, salt=bytes.fromhex(salt)).split("$")[2]
    return hmac.compare_digest(got, want)


_DUMMY_HASH = hash_password("not a password")
HASHES_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)
"""Password checks that may run at the same time (each holds a core and 16 MiB): half the cores, so
the event loop keeps one for everything else."""


WaitOf = Callable[[list[float], float], float]
"""How long a counter makes a sign-in wait, given its recent tries and the time now."""


class Throttle(KeptIn):
    """Slows password guessing without letting a stranger lock anyone out.

    The scheme is OWASP's "slow down online guessing attacks with device cookies":

    - failures for one user from one source back off exponentially after `free` tries (1 s, 2 s,
      4 s, … up to `max_wait`); the source is the browser when it has signed in as that user before
      (its device cookie), else the address;
    - failures for one user from sources that never signed in as them share one budget
      (`untrusted_limit` within `window`); once it is spent, only such sources wait: the person's
      own browser still gets in with the right password;
    - failures from one address across all users (`address_limit` within `window`) slow that address
      down (password spraying).

    The counters live in the store's entries (`keep_in`), so every replica counts the same failures
    and a guesser gains nothing by landing on another one; each counter is forgotten `window` after
    its last failure.
    """

    SPACE = "signin.failures"

    def __init__(
        self,
        *,
        free: int = 5,
        max_wait: float = 300.0,
        untrusted_limit: int = 50,
        address_limit: int = 100,
        window: float = 900.0,
        store: Entries | None = None,
    ) -> None:
        self.free = free
        self.max_wait = max_wait
        self.untrusted_limit = untrusted_limit
        self.address_limit = address_limit
        self.window = window
        super().__init__(store)

    @staticmethod
    def _keys(user: str, address: str, device: bool) -> tuple[str, str | None, str]:
        """The counters' keys, hashed: a name typed at the sign-in form may be a password typed in the
        wrong field, and is kept nowhere as typed."""

        def key(*parts: str) -> str:
            return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

        source = key("source", user, "device" if device else address)
        return source, None if device else key("user", user), key("address", address)

    def _recent(self, value: dict[str, Any] | None, now: float) -> list[float]:
        return [t for t in (value or {}).get("times", []) if t > now - self.window]

    async def _times(self, key: str, now: float) -> list[float]:
        return self._recent(await self.store.get(self.SPACE, key), now)

    async def _record(self, key: str, now: float, keep: int) -> None:
        def add(value: dict[str, Any] | None) -> tuple[dict[str, Any], float]:
            return {"times": [*self._recent(value, now), now][-keep:]}, now + self.window

        await self.store.change(self.SPACE, key, add)

    def _checks(self, user: str, address: str, device: bool) -> list[tuple[str, int, WaitOf]]:
        """Each counter of this sign-in: its key, how many times it keeps, and its wait for them."""
        source, untrusted, spray = self._keys(user, address, device)
        checks: list[tuple[str, int, WaitOf]] = [(source, self.free + 16, self._backoff)]
        if untrusted is not None:
            checks.append((untrusted, self.untrusted_limit, self._budget(self.untrusted_limit)))
        checks.append((spray, self.address_limit, self._budget(self.address_limit)))
        return checks

    async def wait(self, user: str, address: str, *, device: bool = False) -> float:
        """Seconds this sign-in must wait before a password is even checked (0 when it may go on)."""
        now = time.time()
        checks = self._checks(user, address, device)
        return max([0.0] + [wait_of(await self._times(key, now), now) for key, _, wait_of in checks])

    async def failed(self, user: str, address: str, *, device: bool = False) -> None:
        now = time.time()
        for key, keep, _limit in self._checks(user, address, device):
            await self._record(key, now, keep)

    async def attempt(self, user: str, address: str, *, device: bool = False) -> tuple[float, float]:
        """Count this sign-in before its password is checked, or say how long it must wait first.

        Each counter's check and count are one step (`Entries.change`), so guesses sent in parallel,
        to one replica or to several, cannot all pass before the first failure is counted. Returns
        (seconds to wait, 0 when it may go on; the try's stamp): after the right password,
        `succeeded(..., stamp=)` takes the try back."""
        now = time.time()
        counted: list[str] = []
        for key, keep, wait_of in self._checks(user, address, device):
            waited = 0.0

            def count(
                value: dict[str, Any] | None, keep: int = keep, wait_of: WaitOf = wait_of
            ) -> tuple[dict[str, Any] | None, float]:
                nonlocal waited
                times = self._recent(value, now)
                waited = wait_of(times, now)
                if waited > 0:  # refused: the counter stays as it was
                    return ({"times": times}, times[-1] + self.window) if times else (None, 0.0)
                return {"times": [*times, now][-keep:]}, now + self.window

            await self.store.change(self.SPACE, key, count)
            if waited > 0:
                for done in counted:
                    await self._take_back(done, now)
                return waited, now
            counted.append(key)
        return 0.0, now

    def _backoff(self, times: list[float], now: float) -> float:
        if len(times) < self.free:
            return 0.0
        return max(0.0, times[-1] + min(self.max_wait, 2.0 ** (len(times) - self.free)) - now)

    def _budget(self, limit: int) -> WaitOf:
        return lambda times, now: max(0.0, times[0] + self.window - now) if len(times) >= limit else 0.0

    async def _take_back(self, key: str, stamp: float) -> None:
        def remove(value: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float]:
            times = list((value or {}).get("times", []))
            if stamp in times:
                times.remove(stamp)
            return ({"times": times}, max(times) + self.window) if times else (None, 0.0)

        await self.store.change(self.SPACE, key, remove)

    async def succeeded(
        self, user: str, address: str, *, device: bool = False, stamp: float | None = None
    ) -> None:
        """The right password: the source starts afresh, and the try `attempt` counted (`stamp`) is
        taken back from the shared budgets."""
        source, untrusted, spray = self._keys(user, address, device)
        await self.store.delete(self.SPACE, source)
        if stamp is not None:
            for key in (untrusted, spray):
                if key is not None:
                    await self._take_back(key, stamp)


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
        web = Web.of(request)
        return f"{web.root}/login?{urlencode({'next': next_path})}"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self._login_form, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self._logout, methods=["POST"]),
        ]

    async def _verify_off_the_loop(self, user: str, password: str) -> bool:
        """`verify` in a worker thread (scrypt takes tens of milliseconds), a few at a time: a storm of
        sign-ins slows sign-ins, not every other request of the server."""
        if self._hashing is None:
            self._hashing = anyio.CapacityLimiter(HASHES_AT_ONCE)
        return await anyio.to_thread.run_sync(self.verify, user, password, limiter=self._hashing)

    def verify(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        ok = check_password(password, stored or _DUMMY_HASH)
        return ok and stored is not None

    async def _login_form(self, request: Request) -> Response:
        web = Web.of(request)
        next_path = safe_next(request.query_params.get("next"), web.root)
        return await self._login_page(request, web, next_path, error=None)

    async def _login(self, request: Request) -> Response:
        web = Web.of(request)
        form = await request.form()
        next_path = safe_next(str(form.get("next", "")), web.root)
        if not web.cookie.csrf_ok(request, form.get("csrf"), "login"):
            return await self._login_page(
                request, web, next_path, error=_("Your form expired. Please try again."), status=400
            )
        user = self.fixed_user or str(form.get("username", ""))
        password = str(form.get("password", ""))
        remote = remote_address(request) or ""
        device = web.cookie.is_device_of(request, user)
        wait, stamp = await self.throttle.attempt(user, remote, device=device)
        if wait:
            return await self._login_page(
                request,
                web,
                next_path,
                status=429,
                error=_("Too many failed sign-ins. Try again in %(wait)s.", wait=_duration(wait)),
            )
        if not await self._verify_off_the_loop(user, password):  # the try stays counted
            return await self._login_page(
                request, web, next_path, error=_("Wrong user name or password."), status=401
            )
        await self.throttle.succeeded(user, remote, device=device, stamp=stamp)
        await self.sessions.end(web.browser_id(request))
        response = RedirectResponse(next_path, status_code=303)
        # A new browser id at login: a cookie planted before login never becomes a session.
        browser_id = await self.sessions.start(user)
        await self.signed_in_for(next_path, user, browser_id)
        web.cookie.issue(response, browser_id)
        web.cookie.issue_device(response, user)
        return response

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

    async def _login_page(
        self, request: Request, web: Web, next_path: str, *, error: str | None, status: int = 200
    ) -> Response:
        browser_id = web.browser_id(request)
        fresh = browser_id is None
        browser_id = browser_id or secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            status,
            next_path=next_path,
            error=error,
            fixed_user=self.fixed_user,
            notice=await self.sign_in_notice(request, next_path),
            csrf=web.cookie.csrf_token(browser_id, "login"),
        )
        if targets := await self.form_targets(next_path):
            # A sign-in may end in a redirect to an OAuth client's redirect URI: let the form go there.
            response.headers["content-security-policy"] = content_security_policy(targets)
        if fresh:
            web.cookie.issue(response, browser_id)
        return response


def _duration(seconds: float) -> str:
    if seconds < 60:
        n = max(1, int(seconds + 0.999))
        return ngettext("%(num)d second", "%(num)d seconds", n)
    n = int(seconds // 60) + 1
    return ngettext("%(num)d minute", "%(num)d minutes", n)
