"""The checker's scripted browser: one cookie jar, plain HTML forms, no script.

It signs in where a page asks (as the user it was given), allows an OAuth consent, and finishes a
browser step the way a person testing would: a throwaway value in a secret form, "approve" on an
approval, "allow" at a provider. It never presses a button that declines.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

from ._server_html import Form, alert_on, examples_on, forms_of

_REDIRECTS = (301, 302, 303, 307, 308)
_STEPS = 10


@dataclass
class Page:
    """Where the browser ended up: the last response, or the off-site address it stopped at."""

    response: httpx2.Response | None
    left_to: str | None = None
    forms: list[Form] = field(default_factory=list)

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
    `user`, on a sign-in form that names the user itself (a passphrase page of a single-user server)."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.user = user
        self.password = password
        self.http = httpx2.AsyncClient(follow_redirects=False, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _follow(self, response: httpx2.Response, stop: str | None) -> Page:
        for _ in range(_STEPS):
            if response.status_code not in _REDIRECTS or "location" not in response.headers:
                return Page(response, forms=forms_of(response.text))
            location = urljoin(str(response.url), response.headers["location"])
            if (stop and location.startswith(stop)) or urlsplit(location).scheme not in ("http", "https"):
                return Page(None, left_to=location)
            response = await self.http.get(location)
        raise RuntimeError(f"more than {_STEPS} redirects from {response.url}")

    async def open(self, url: str, *, stop: str | None = None) -> Page:
        return await self._follow(await self.http.get(url), stop)

    async def submit(self, page: Page, form: Form, data: dict[str, str], *, stop: str | None = None) -> Page:
        target = urljoin(page.url, form.action or page.url)
        if form.method == "post":
            response = await self.http.post(target, data=data)
        else:
            response = await self.http.get(target, params=data)
        return await self._follow(response, stop)

    async def sign_in(self, page: Page, *, stop: str | None = None) -> Page:
        """Sign in on `page`'s sign-in form; the page it leads to."""
        form = page.sign_in
        if form is None or self.password is None:
            return page
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
        """Go through an OAuth authorization (sign-in, consent); the redirect back, with its code."""
        page = await self.open(url, stop=redirect_uri)
        for _ in range(_STEPS):
            if page.left_to is not None:
                if page.left_to.startswith(redirect_uri):
                    return page.left_to
                page = await self.open(page.left_to, stop=redirect_uri)
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
        answer = await self.authorize(url, redirect_uri)
        async with httpx2.AsyncClient() as http:
            await http.get(answer)

    async def finish(self, url: str, value: str | None = None) -> Finished:
        """Finish the browser step at `url`: a throwaway value in the form (or the page's own example
        when it refuses that), approve or allow; never decline."""
        candidates = [value or f"handoff-check-{secrets.token_hex(8)}"]
        tried: list[str] = []
        form_page: httpx2.Response | None = None
        try:
            page = await self.look(url)
        except SignInRefused as refused:
            return Finished(False, str(refused))
        for _ in range(_STEPS):
            if page.left_to is not None:
                page = await self.look(page.left_to)
                continue
            if page.sign_in is not None:
                try:
                    page = await self.sign_in(page)
                except SignInRefused as refused:
                    return Finished(False, str(refused), form_page)
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
        return Finished(False, f"the step did not end within {_STEPS} pages", form_page)
