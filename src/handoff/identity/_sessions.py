"""Server-side browser sessions: the browser cookie's id maps to a signed-in user, for a while.

Sessions live in the store (by default the `Handoff`'s), under a digest of the browser id, so a
restart signs nobody out and every process on the same database knows every session.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from starlette.requests import Request

from .._entries import Entries, KeptIn
from .._web import Web

SESSION_LIFE = 12 * 3600.0
_SPACE = "browser.session"


def _key(browser_id: str) -> str:
    return hashlib.sha256(browser_id.encode()).hexdigest()


class BrowserSessions(KeptIn):
    """Who each browser is signed in as. A sign-in always gets a fresh id (no session fixation)."""

    def __init__(self, life: float = SESSION_LIFE, store: Entries | None = None) -> None:
        super().__init__(store)
        self.life = life

    async def start(self, user: str) -> str:
        """A new browser id signed in as `user`; set it as the browser cookie."""
        browser_id = secrets.token_urlsafe(32)
        await self.store.put(_SPACE, _key(browser_id), {"user": user}, expires_at=time.time() + self.life)
        return browser_id

    async def user(self, request: Request) -> str | None:
        return await self.user_of(Web.of(request).browser_id(request))

    async def user_of(self, browser_id: str | None) -> str | None:
        """Who the browser with this id is signed in as, if anyone."""
        session = await self.store.get(_SPACE, _key(browser_id)) if browser_id else None
        return str(session["user"]) if session else None

    async def end(self, browser_id: str | None) -> None:
        if browser_id:
            await self.store.delete(_SPACE, _key(browser_id))
