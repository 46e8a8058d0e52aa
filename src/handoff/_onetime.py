"""Values handed out under a random token that can be taken back once, within a lifetime."""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Any, Generic, TypeVar

from ._entries import Entries, KeptIn

T = TypeVar("T")


class OneTimeStore(KeptIn, Generic[T]):
    """OAuth `state` and the like: `issue` returns a fresh token; `take` gives the value once, in time.

    Values (dataclasses of plain fields) are kept in the store's entries under `space`, so a token
    issued by one replica is taken by whichever replica the browser comes back to, and by one only.
    """

    def __init__(self, space: str, kind: type[T], life: float, entries: Entries | None = None) -> None:
        super().__init__(entries)
        self.space = space
        self.kind = kind
        self.life = life

    async def issue(self, value: T) -> str:
        token = secrets.token_urlsafe(32)
        fields: dict[str, Any] = dataclasses.asdict(value)  # type: ignore[call-overload]
        await self.store.put(self.space, token, fields, expires_at=time.time() + self.life)
        return token

    async def take(self, token: str) -> T | None:
        fields = await self.store.take(self.space, token)  # taken before any other check: works once
        return None if fields is None else self.kind(**fields)

    async def peek(self, token: str) -> T | None:
        """The value, left in place for `take` (for a step that asks something before it is used)."""
        fields = await self.store.get(self.space, token)
        return None if fields is None else self.kind(**fields)
