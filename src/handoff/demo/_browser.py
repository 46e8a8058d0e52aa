"""A scripted browser (HTTP with a cookie jar) for the walkthrough and the tests.

It does what a person does on the pages: open a link, sign in, submit a form.
It follows redirects only within the server's own origin, like a careful
browser that stops at an OAuth client's redirect URI. Once its person signed
in, it signs in again wherever a page asks for it (on plain http, every page
that needs to know who is there does), as the person would type it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_TITLE = re.compile(r"<h1>(.*?)</h1>", re.S)


@dataclass
class Page:
    url: str
    status: int
    text: str

    @property
    def title(self) -> str:
        match = _TITLE.search(self.text)
        return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""

    @property
    def csrf(self) -> str | None:
        match = _CSRF.search(self.text)
        return html.unescape(match.group(1)) if match else None

    @property
    def action(self) -> str | None:
        match = _FORM_ACTION.search(self.text)
        return html.unescape(match.group(1)) if match else None

    @property
    def asks_sign_in(self) -> bool:
        """A page that asks for the sign-in itself (not the sign-in route's own page)."""
        action = self.action or ""
        return 'name="password"' in self.text and not action.split("?")[0].endswith("/login")


class ScriptedBrowser:
    """One person's browser: its own cookies, its own sign-in."""

    def __init__(self, origin: str, person: tuple[str, str] | None = None) -> None:
        self.origin = origin.rstrip("/")
        self.http = httpx2.AsyncClient(follow_redirects=False, timeout=30)
        self.person = person
        """Who uses this browser and their password, once they signed in (or as given)."""

    async def __aenter__(self) -> ScriptedBrowser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def _same_origin(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.origin)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    async def _follow(self, response: httpx2.Response) -> Page | str:
        """Follow same-origin redirects; return the final page, or the first off-origin location."""
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307, 308):
                return Page(str(response.url), response.status_code, response.text)
            location = urljoin(str(response.url), response.headers["location"])
            if not self._same_origin(location):
                return location
            response = await self.http.get(location)
        raise RuntimeError("too many redirects")

    async def _signed(self, result: Page | str) -> Page | str:
        """Where a page asks for the sign-in itself, the person signs in (once) and goes on."""
        if isinstance(result, Page) and result.asks_sign_in and self.person is not None:
            user, password = self.person
            return await self._post(result, {"username": user, "password": password})
        return result

    async def visit(self, url: str) -> Page | str:
        """Open `url`: the page it ends on, or the first off-origin address it redirects to."""
        return await self._signed(await self._follow(await self.http.get(url)))

    async def open(self, url: str) -> Page:
        result = await self.visit(url)
        if isinstance(result, str):
            raise RuntimeError(f"the page redirected off-site to {result}")
        return result

    async def _post(self, page: Page, fields: dict[str, str], csrf: str | None = None) -> Page | str:
        action = page.action
        if action is None:
            raise RuntimeError(f"no form on {page.url}")
        data = {"csrf": csrf if csrf is not None else (page.csrf or ""), **fields}
        return await self._follow(await self.http.post(urljoin(page.url, action), data=data))

    async def submit(self, page: Page, fields: dict[str, str], *, csrf: str | None = None) -> Page | str:
        """Post the page's form with `fields` (and its CSRF token unless one is given)."""
        return await self._signed(await self._post(page, fields, csrf))

    async def sign_in(self, page: Page, user: str, password: str) -> Page:
        """Sign in on `page`'s sign-in form as `user`; the browser remembers them once it worked."""
        result = await self._post(page, {"username": user, "password": password, "next": _next_of(page)})
        if isinstance(result, str):
            raise RuntimeError(f"sign-in redirected off-site to {result}")
        if result.status < 400:
            self.person = (user, password)
        return result

    async def authorize(self, url: str, user: str, password: str) -> dict[str, str]:
        """Go through the server's sign-in and consent; return the redirect's query (code, state, iss).

        A consent given before for the same client and redirect URI is remembered: then the sign-in (or
        the authorize link itself) leads straight to the redirect URI.
        """
        result = await self._follow(await self.http.get(url))
        if isinstance(result, Page) and 'name="password"' in result.text:
            result = await self._post(
                result, {"username": user, "password": password, "next": _next_of(result)}
            )
        if isinstance(result, Page) and 'value="allow"' in result.text:
            result = await self._post(result, {"decision": "allow"})
        if not isinstance(result, str):
            raise RuntimeError(f"authorization stopped at {result.url}: {result.title}")
        self.person = (user, password)
        return {k: v[0] for k, v in parse_qs(urlsplit(result).query).items()}


def _next_of(page: Page) -> str:
    match = re.search(r'name="next" value="([^"]*)"', page.text)
    return html.unescape(match.group(1)) if match else ""
