"""Who is the person in the browser: the pluggable check every page runs first."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.routing import BaseRoute


class BrowserIdentity(Protocol):
    """Tells who the browser user is, and where to send them to log in.

    `current` must only answer from something the user proved (a login session,
    a verified cookie from a trusted front end): never from the URL.
    """

    async def current(self, request: Request) -> str | None: ...

    def login_url(self, request: Request, next_path: str) -> str | None:
        """Where to send an anonymous browser, or None when there is no login page."""
        ...

    def routes(self) -> list[BaseRoute]:
        """Extra pages this identity serves (a login form), mounted under the pages app."""
        ...


class CustomIdentity:
    """Wraps an application's own check: `verify(request)` returns the principal or None."""

    def __init__(
        self,
        verify: Callable[[Request], Awaitable[str | None]],
        *,
        login_url: Callable[[Request, str], str] | None = None,
    ) -> None:
        self._verify = verify
        self._login_url = login_url

    async def current(self, request: Request) -> str | None:
        return await self._verify(request)

    def login_url(self, request: Request, next_path: str) -> str | None:
        return self._login_url(request, next_path) if self._login_url else None

    def routes(self) -> list[BaseRoute]:
        return []


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
