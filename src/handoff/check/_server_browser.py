"""The checker's scripted browser: one cookie jar, plain HTML forms, no script, on a leash.

It signs in where a page asks (as the user it was given), allows an OAuth consent, and finishes a
browser step the way a person testing would: a throwaway value in a secret form, "approve" on an
approval, "allow" at a provider. It never presses a button that declines.

It goes only where the server under check sends people for its own sake: the origin of the URL it
was handed, and the server's authorization server (as discovered from its protected-resource
metadata, for signing in). A redirect or a form anywhere else is not followed, and said so; the user
name and password are typed only into a sign-in form of the authorization server (on stdio, where
there is none, of the pages the link is on). Each page has a bound in time and in bytes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2

from ..client._timeouts import MAX_ANSWER_BYTES, AnswerDeadline, AnswerTooLarge, mib
from ._server_html import Form, alert_on, examples_on, forms_of
from ._server_url import is_loopback, origin

_REDIRECTS = (301, 302, 303, 307, 308)
_STEPS = 10
PAGE_TIMEOUT = 30.0
"""Seconds for a page to load, all of it."""


@dataclass(frozen=True)
class Leash:
    """Where the checker's browsers may go besides the origin of the URL they open."""

    authorization: frozenset[str] | None = None
    """The origins of the server's authorization server, where signing in happens; None for a server
    on stdio, which has none: its pages' own origin is where its passphrase goes."""
    max_bytes: int = MAX_ANSWER_BYTES
    page_timeout: float = PAGE_TIMEOUT
    server: str | None = None
    """The origin of the MCP endpoint (None on stdio): a link there is opened."""
    any_host: bool = False
    """Whether a link on a host that is neither the server's nor loopback is opened too."""

    def allowed(self, home: str) -> frozenset[str]:
        return frozenset({home, *(self.authorization or ())})

    def sign_in_at(self, home: str) -> frozenset[str]:
        return self.authorization if self.authorization is not None else frozenset({home})

    def refuses(self, url: str) -> str | None:
        """Why a link the server handed out is not opened at all, or None: the checker's browser
        opens links on the server's own origin, its authorization server's, or loopback, and a
        third-party host only when told to."""
        at = origin(url)
        if self.any_host or is_loopback(url) or at in {self.server, *(self.authorization or ())}:
            return None
        return (
            f"the link is on {at}, not the server's own origin or loopback: the checker's browser opens "
            "no third-party host unless --open-any-host says so"
        )

    @property
    def bounds(self) -> str:
        """Where the browser goes, in words."""
        if not self.authorization:
            return "the link's origin"
        return "the link's origin and the server's authorization server"

    @property
    def beyond(self) -> str:
        """What a place beyond the leash is not, in words."""
        if not self.authorization:
            return "which is not the link's origin"
        return "which is neither the link's origin nor the server's authorization server"


class PageFailed(Exception):
    """A page could not be had: it did not load in time, or it was larger than the limit, or the
    checker does not open links on its host."""


@dataclass
class Page:
    """Where the browser ended up: the last response, or the address it stopped at (the OAuth
    redirect back, a scheme other than http(s), or an origin it does not go to)."""

    response: httpx2.Response | None
    left_to: str | None = None
    forms: list[Form] = field(default_factory=list)
    elsewhere: str | None = None
    """How the page would have sent the browser beyond its leash ("it sent the browser to URL"): the
    browser did not go on to `left_to`."""

    @property
    def url(self) -> str:
        return self.left_to or (str(self.response.url) if self.response is not None else "")

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else 0

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""

    @property
    def sign_in(self) -> Form | None:
        return next((f for f in self.forms if f.is_sign_in), None)

    @property
    def input_form(self) -> Form | None:
        return next((f for f in self.forms if f.takes_input), None)


@dataclass
class Finished:
    """The outcome of trying to finish a browser step."""

    done: bool
    reason: str
    form_page: httpx2.Response | None = None
    """The response that showed the step's form to the signed-in user (its headers are checked)."""
    bare: bool = False
    """The signed-in user's page offered nothing to fill or press: the step may have been complete
    already (opened by a browser that should have been refused), which the era's checks find out."""


class SignInRefused(Exception):
    """The page's sign-in form did not accept the user and password."""


class FormBrowser:
    """One person's scripted browser, signed in (when asked) as `user` with `password`; with no
    `user`, on a sign-in form that names the user itself (a passphrase page of a single-user server).
    Each visit (`open`, `look`, `authorize`, `finish`) stays within `leash` of the URL it starts at."""

    def __init__(
        self, user: str | None = None, password: str | None = None, leash: Leash | None = None
    ) -> None:
        self.user = user
        self.password = password
        self.leash = leash or Leash()
        limits = AnswerDeadline(self.leash.page_timeout, max_bytes=self.leash.max_bytes)
        self.http = httpx2.AsyncClient(
            follow_redirects=False, timeout=self.leash.page_timeout, transport=limits
        )
        self._home = ""
        self._also: frozenset[str] = frozenset()
        """Origins this visit may go to besides the leash's (the authorization page's own)."""

    async def aclose(self) -> None:
        await self.http.aclose()

    def _visit(self, url: str, *, also: frozenset[str] = frozenset()) -> None:
        self._home, self._also = origin(url), also

    def _elsewhere(self, url: str) -> str | None:
        """Why the browser does not go to `url` on this visit, or None."""
        if origin(url) in self.leash.allowed(self._home) | self._also:
            return None
        return url.split("?")[0]

    async def _request(self, method: str, url: str, **options: Any) -> httpx2.Response:
        """One page, all of it within the page's time and byte bounds (`PageFailed` otherwise)."""
        try:
            with anyio.fail_after(self.leash.page_timeout):
                return await self.http.request(method, url, **options)
        except TimeoutError:
            raise PageFailed(
                f"the page at {url.split('?')[0]} did not load within {self.leash.page_timeout:g} s"
            ) from None
        except AnswerTooLarge:
            raise PageFailed(
                f"the page at {url.split('?')[0]} was larger than {mib(self.leash.max_bytes)}"
            ) from None

    async def _follow(self, response: httpx2.Response, stop: str | None) -> Page:
        for _ in range(_STEPS):
            if response.status_code not in _REDIRECTS or "location" not in response.headers:
                return Page(response, forms=forms_of(response.text))
            location = urljoin(str(response.url), response.headers["location"])
            if (stop and location.startswith(stop)) or urlsplit(location).scheme not in ("http", "https"):
                return Page(None, left_to=location)
            if (elsewhere := self._elsewhere(location)) is not None:
                return Page(None, left_to=location, elsewhere=f"it sent the browser to {elsewhere}")
            response = await self._request("GET", location)
        raise PageFailed(f"more than {_STEPS} redirects from {str(response.url).split('?')[0]}")

    async def open(self, url: str, *, stop: str | None = None) -> Page:
        """Open `url`, following redirects within the leash; a new visit, from its origin."""
        if (refused := self.leash.refuses(url)) is not None:
            raise PageFailed(refused)
        self._visit(url)
        return await self._go(url, stop)

    async def _go(self, url: str, stop: str | None) -> Page:
        if (elsewhere := self._elsewhere(url)) is not None:
            return Page(None, left_to=url, elsewhere=f"it sent the browser to {elsewhere}")
        return await self._follow(await self._request("GET", url), stop)

    async def submit(self, page: Page, form: Form, data: dict[str, str], *, stop: str | None = None) -> Page:
        target = urljoin(page.url, form.action or page.url)
        if (elsewhere := self._elsewhere(target)) is not None:
            return Page(None, left_to=target, elsewhere=f"its form posts to {elsewhere}")
        if form.method == "post":
            response = await self._request("POST", target, data=data)
        else:
            response = await self._request("GET", target, params=data)
        return await self._follow(response, stop)

    async def sign_in(self, page: Page, *, stop: str | None = None) -> Page:
        """Sign in on `page`'s sign-in form; the page it leads to. Only on the sign-in form of the
        server's authorization server (`SignInRefused` on any other)."""
        form = page.sign_in
        if form is None or self.password is None:
            return page
        target = urljoin(page.url, form.action or page.url)
        where = self.leash.sign_in_at(self._home) | self._also
        if origin(page.url) not in where or origin(target) not in where:
            raise SignInRefused(
                f"a sign-in form at {page.url.split('?')[0]}, which is not the server's authorization "
                "server: the checker types the user name and password nowhere else"
            )
        after = await self.submit(
            page, form, form.filled("", user=self.user, password=self.password), stop=stop
        )
        if after.sign_in is not None:
            whom = self.user or "the password or passphrase given"
            raise SignInRefused(f"the sign-in form at {urlsplit(page.url).path} did not accept {whom}")
        return after

    async def look(self, url: str) -> Page:
        """Open `url` as this browser's user (signing in if asked), without pressing anything."""
        return await self.sign_in(await self.open(url))

    async def authorize(self, url: str, redirect_uri: str) -> str:
        """Go through an OAuth authorization (sign-in, consent) at `url`, the authorization endpoint
        the server's metadata named; the redirect back, with its code."""
        self._visit(url, also=frozenset({origin(url)}))
        page = await self._go(url, redirect_uri)
        for _ in range(_STEPS):
            if page.elsewhere is not None:
                raise SignInRefused(
                    f"the authorization stopped: {page.elsewhere}, which is not the server's "
                    "authorization server, and the checker's browser goes nowhere else"
                )
            if page.left_to is not None:
                if page.left_to.startswith(redirect_uri):
                    return page.left_to
                page = await self._go(page.left_to, redirect_uri)
                continue
            if page.sign_in is not None:
                page = await self.sign_in(page, stop=redirect_uri)
                continue
            form = page.input_form
            if form is None or form.best_button() is None:
                break
            page = await self.submit(page, form, form.filled(""), stop=redirect_uri)
        raise SignInRefused(f"the authorization stopped at {urlsplit(page.url).path} ({page.status})")

    async def opener(self, url: str) -> None:
        """For `SignIn(opener=...)`: authorize, then deliver the answer to the loopback callback."""
        redirect_uri = parse_qs(urlsplit(url).query).get("redirect_uri", [""])[0]
        try:
            answer = await self.authorize(url, redirect_uri)
        except PageFailed as failed:
            raise SignInRefused(f"the authorization stopped: {failed}") from None
        async with httpx2.AsyncClient() as http:
            await http.get(answer)

    async def finish(self, url: str, value: str | None = None) -> Finished:
        """Finish the browser step at `url`: a throwaway value in the form (or the page's own example
        when it refuses that), approve or allow; never decline. A page that sends the browser
        beyond its leash ends the step unfinished, saying where."""
        candidates = [value or f"handoff-check-{secrets.token_hex(8)}"]
        tried: list[str] = []
        form_page: httpx2.Response | None = None
        try:
            page = await self.look(url)
            for _ in range(_STEPS):
                if page.elsewhere is not None:
                    return Finished(
                        False,
                        f"{page.elsewhere}, {self.leash.beyond}: the checker's browser goes nowhere "
                        "else (finish such a step yourself with --login)",
                        form_page,
                    )
                if page.left_to is not None:
                    where = page.left_to.split("?")[0]
                    return Finished(False, f"it sent the browser to {where}, not a web page", form_page)
                if page.sign_in is not None:
                    page = await self.sign_in(page)
                    continue
                form = page.input_form
                if form is None or form.best_button() is None:
                    if form_page is None:
                        return Finished(
                            False, f"the page offered nothing to fill or press ({page.status})", bare=True
                        )
                    return Finished(True, "finished in the scripted browser", form_page)
                if form_page is None:
                    form_page = page.response
                typed = any(f.typed for f in form.fields)
                if typed:
                    for example in examples_on(page.text, page.forms):
                        if example not in candidates:
                            candidates.append(example)
                    left = [c for c in candidates if c not in tried]
                    if not left:
                        why = alert_on(page.text) or "it showed the form again"
                        return Finished(
                            False, f"the page refused every test value ({why}); pass --value", form_page
                        )
                    tried.append(left[0])
                    data = form.filled(left[0])
                else:
                    data = form.filled("")
                page = await self.submit(page, form, data)
        except (SignInRefused, PageFailed) as stopped:
            return Finished(False, str(stopped), form_page)
        return Finished(False, f"the step did not end within {_STEPS} pages", form_page)
