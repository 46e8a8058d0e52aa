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
import sqlite3
import time
from typing import Any, Protocol

from ._db import Database

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

    async def delete(self, space: str, key: str) -> None: ...

    async def count(self, space: str) -> int:
        """How many live values `space` holds."""
        ...

    async def purge(self) -> int:
        """Forget every expired value; returns how many."""
        ...


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


class SQLiteEntries:
    """Entries in the `entries` table of the handoff database; each call is one statement or transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, space: str, key: str, value: dict[str, Any], *, expires_at: float) -> None:
        data = json.dumps(value)
        await self.db.run(
            lambda c: c.execute(
                "INSERT INTO entries (space, key, value, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (space, key) DO UPDATE "
                "SET value = excluded.value, expires_at = excluded.expires_at",
                (space, key, data, expires_at),
            )
        )

    async def add(
        self, space: str, key: str, value: dict[str, Any], *, expires_at: float, limit: int | None = None
    ) -> bool:
        data = json.dumps(value)

        def insert(conn: sqlite3.Connection) -> bool:
            now = time.time()
            conn.execute(
                "DELETE FROM entries WHERE space = ? AND key = ? AND expires_at <= ?", (space, key, now)
            )
            if limit is not None:
                (live,) = conn.execute(
                    "SELECT COUNT(*) FROM entries WHERE space = ? AND expires_at > ?", (space, now)
                ).fetchone()
                if live >= limit:
                    return False
            cursor = conn.execute(
                "INSERT INTO entries (space, key, value, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (space, key) DO NOTHING",
                (space, key, data, expires_at),
            )
            return cursor.rowcount == 1

        return await self.db.run(self.db.transaction(insert))

    async def get(self, space: str, key: str) -> dict[str, Any] | None:
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT value FROM entries WHERE space = ? AND key = ? AND expires_at > ?",
                (space, key, time.time()),
            ).fetchone()
        )
        return json.loads(row[0]) if row else None

    async def take(self, space: str, key: str) -> dict[str, Any] | None:
        row = await self.db.run(
            lambda c: c.execute(
                "DELETE FROM entries WHERE space = ? AND key = ? RETURNING value, expires_at", (space, key)
            ).fetchone()
        )
        return json.loads(row[0]) if row and row[1] > time.time() else None

    async def delete(self, space: str, key: str) -> None:
        await self.db.run(
            lambda c: c.execute("DELETE FROM entries WHERE space = ? AND key = ?", (space, key))
        )

    async def count(self, space: str) -> int:
        (live,) = await self.db.run(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM entries WHERE space = ? AND expires_at > ?", (space, time.time())
            ).fetchone()
        )
        return int(live)

    async def purge(self) -> int:
        cursor = await self.db.run(
            lambda c: c.execute("DELETE FROM entries WHERE expires_at <= ?", (time.time(),))
        )
        return int(cursor.rowcount)
