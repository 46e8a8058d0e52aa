"""Server-side browser sessions: the browser cookie's id maps to a signed-in user, for a while."""

from __future__ import annotations

import secrets
import time

from starlette.requests import Request

from .._web import Web

SESSION_LIFE = 12 * 3600.0


class BrowserSessions:
    """Who each browser is signed in as. A sign-in always gets a fresh id (no session fixation)."""

    def __init__(self, life: float = SESSION_LIFE) -> None:
        self.life = life
        self._users: dict[str, tuple[str, float]] = {}

    def start(self, user: str) -> str:
        """A new browser id signed in as `user`; set it as the browser cookie."""
        browser_id = secrets.token_urlsafe(32)
        self._users[browser_id] = (user, time.time() + self.life)
        return browser_id

    def user(self, request: Request) -> str | None:
        browser_id = Web.of(request).browser_id(request)
        session = self._users.get(browser_id) if browser_id else None
        if session is None or session[1] < time.time():
            return None
        return session[0]

    def end(self, browser_id: str | None) -> None:
        if browser_id:
            self._users.pop(browser_id, None)
