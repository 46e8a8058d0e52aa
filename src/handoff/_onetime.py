"""Values handed out under a random token that can be taken back once, within a lifetime."""

from __future__ import annotations

import secrets
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class OneTimeStore(Generic[T]):
    """OAuth `state` and the like: `issue` returns a fresh token; `take` gives the value once, in time."""

    def __init__(self, life: float) -> None:
        self.life = life
        self._items: dict[str, tuple[T, float]] = {}

    def issue(self, value: T) -> str:
        now = time.time()
        for token in [t for t, (_, until) in self._items.items() if until < now]:
            del self._items[token]
        token = secrets.token_urlsafe(32)
        self._items[token] = (value, now + self.life)
        return token

    def take(self, token: str) -> T | None:
        item = self._items.pop(token, None)  # taken before any other check: a token works once
        if item is None or item[1] < time.time():
            return None
        return item[0]
