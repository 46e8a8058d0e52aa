"""Small values kept under a key, each with an expiry: the state that is neither a record nor a secret.

The built-in authorization server keeps its registered clients, pending
sign-ins, codes, refresh tokens and remembered consents here, so a restart
forgets none of them and every process on the same database sees the same
ones. Values are JSON objects; a `space` names what kind of value a key holds.
`take` removes and returns in one step, which is what makes a code, a state or
a refresh token work exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from ._sql import Database, Tx

Change = Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, float]]
"""Given the live value under a key (or None), the value to keep (None: remove it) and its expiry."""

FOREVER = 1e18
"""An expiry that never comes."""


class Entries(Protocol):
    async def put(self, space: str, key: str, value: dict[str, Any], *, expires_at: float) -> None:
        """Keep `value` under `key`, replacing what was there."""
        ...

    async def add(
        self, space: str, key: str, value: dict[str, Any], *, expires_at: float, limit: int | None = None
    ) -> bool:
        """Keep `value` only if `key` holds nothing live and `space` has fewer than `limit` live values."""
        ...

    async def get(self, space: str, key: str) -> dict[str, Any] | None:
        """The live value under `key`, or None."""
        ...

    async def take(self, space: str, key: str) -> dict[str, Any] | None:
        """Remove and return the live value under `key`: of two concurrent takes, one gets it."""
        ...

    async def change(self, space: str, key: str, change: Change) -> dict[str, Any] | None:
        """Read, change and write back the value under `key` as one step: of two concurrent changes,
        each sees the other's result. Returns the value kept."""
        ...

    async def delete(self, space: str, key: str) -> None: ...

    async def count(self, space: str) -> int:
        """How many live values `space` holds."""
        ...

    async def purge(self) -> int:
        """Forget every expired value; returns how many."""
        ...


class KeptIn:
    """A part that keeps its state in entries: in the store it was given, else in the one `keep_in`
    hands it (`Handoff` hands its own), else in memory."""

    def __init__(self, store: Entries | None = None) -> None:
        self._store = store

    @property
    def store(self) -> Entries:
        if self._store is None:
            self._store = MemoryEntries()
        return self._store

    def keep_in(self, store: Entries) -> None:
        """Keep state in `store`, unless a store was given or is already in use."""
        if self._store is None:
            self._store = store


class MemoryEntries:
    """Entries in process memory: for tests and throwaway servers; a restart forgets them."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[str, float]] = {}

    def _live(self, space: str, key: str) -> tuple[str, float] | None:
        item = self._items.get((space, key))
        return item if item is not None and item[1] > time.time() else None

    async def put(self, space: str, key: str, value: dict[str, Any], *, expires_at: float) -> None:
        self._items[(space, key)] = (json.dumps(value), expires_at)

    async def add(
        self, space: str, key: str, value: dict[str, Any], *, expires_at: float, limit: int | None = None
    ) -> bool:
        if self._live(space, key) is not None:
            return False
        if limit is not None and await self.count(space) >= limit:
            return False
        self._items[(space, key)] = (json.dumps(value), expires_at)
        return True

    async def get(self, space: str, key: str) -> dict[str, Any] | None:
        item = self._live(space, key)
        return json.loads(item[0]) if item else None

    async def take(self, space: str, key: str) -> dict[str, Any] | None:
        item = self._live(space, key)
        self._items.pop((space, key), None)
        return json.loads(item[0]) if item else None

    async def change(self, space: str, key: str, change: Change) -> dict[str, Any] | None:
        item = self._live(space, key)
        value, expires_at = change(json.loads(item[0]) if item else None)
        if value is None:
            self._items.pop((space, key), None)
        else:
            self._items[(space, key)] = (json.dumps(value), expires_at)
        return value

    async def delete(self, space: str, key: str) -> None:
        self._items.pop((space, key), None)

    async def count(self, space: str) -> int:
        now = time.time()
        return sum(1 for (s, _), (_, until) in self._items.items() if s == space and until > now)

    async def purge(self) -> int:
        now = time.time()
        expired = [k for k, (_, until) in self._items.items() if until <= now]
        for k in expired:
            del self._items[k]
        return len(expired)


class SqlEntries:
    """Entries in the `entries` table of the handoff database; each call is one statement or transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, space: str, key: str, value: dict[str, Any], *, expires_at: float) -> None:
        await self.db.run(lambda tx: _upsert(tx, space, key, json.dumps(value), expires_at))

    async def add(
        self, space: str, key: str, value: dict[str, Any], *, expires_at: float, limit: int | None = None
    ) -> bool:
        data = json.dumps(value)

        async def insert(tx: Tx) -> bool:
            now = time.time()
            if limit is not None:
                await tx.lock(f"entries:{space}")  # count-then-insert holds across replicas
            await tx.execute(
                "DELETE FROM entries WHERE space = ? AND key = ? AND expires_at <= ?", (space, key, now)
            )
            if limit is not None:
                row = (
                    await tx.execute(
                        "SELECT COUNT(*) FROM entries WHERE space = ? AND expires_at > ?", (space, now)
                    )
                ).one()
                if row is not None and row[0] >= limit:
                    return False
            added = await tx.execute(
                "INSERT INTO entries (space, key, value, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (space, key) DO NOTHING",
                (space, key, data, expires_at),
            )
            return added.rowcount == 1

        return await self.db.transaction(insert)

    async def get(self, space: str, key: str) -> dict[str, Any] | None:
        row = (
            await self.db.run(
                lambda tx: tx.execute(
                    "SELECT value FROM entries WHERE space = ? AND key = ? AND expires_at > ?",
                    (space, key, time.time()),
                )
            )
        ).one()
        return json.loads(row[0]) if row else None

    async def take(self, space: str, key: str) -> dict[str, Any] | None:
        row = (
            await self.db.run(
                lambda tx: tx.execute(
                    "DELETE FROM entries WHERE space = ? AND key = ? RETURNING value, expires_at",
                    (space, key),
                )
            )
        ).one()
        return json.loads(row[0]) if row and row[1] > time.time() else None

    async def change(self, space: str, key: str, change: Change) -> dict[str, Any] | None:
        async def step(tx: Tx) -> dict[str, Any] | None:
            await tx.lock(f"entry:{space}:{key}")
            row = (
                await tx.execute(
                    "SELECT value FROM entries WHERE space = ? AND key = ? AND expires_at > ?",
                    (space, key, time.time()),
                )
            ).one()
            value, expires_at = change(json.loads(row[0]) if row else None)
            if value is None:
                await tx.execute("DELETE FROM entries WHERE space = ? AND key = ?", (space, key))
            else:
                await _upsert(tx, space, key, json.dumps(value), expires_at)
            return value

        return await self.db.transaction(step)

    async def delete(self, space: str, key: str) -> None:
        await self.db.run(
            lambda tx: tx.execute("DELETE FROM entries WHERE space = ? AND key = ?", (space, key))
        )

    async def count(self, space: str) -> int:
        row = (
            await self.db.run(
                lambda tx: tx.execute(
                    "SELECT COUNT(*) FROM entries WHERE space = ? AND expires_at > ?", (space, time.time())
                )
            )
        ).one()
        return int(row[0]) if row else 0

    async def purge(self) -> int:
        gone = await self.db.bulk(
            lambda tx: tx.execute("DELETE FROM entries WHERE expires_at <= ?", (time.time(),))
        )
        return gone.rowcount


async def _upsert(tx: Tx, space: str, key: str, data: str, expires_at: float) -> None:
    await tx.execute(
        "INSERT INTO entries (space, key, value, expires_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (space, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        (space, key, data, expires_at),
    )
