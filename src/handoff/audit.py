"""The audit log: who did what to which elicitation, never with a secret value."""

from __future__ import annotations

import abc
import enum
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

from ._logs import lifecycle
from ._sql import Database, Tx


class Event(enum.StrEnum):
    CREATED = "created"
    OPENED = "opened"
    IDENTITY_MISMATCH = "identity_mismatch"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    STORAGE_FAILED = "storage_failed"


@dataclass(frozen=True)
class Entry:
    """One audit line (and one log line, see `handoff._logs`). `detail` is a short reason code or a
    validation message, never a value."""

    at: float
    event: str
    principal: str | None = None
    client_id: str | None = None
    record_id: str | None = None
    remote: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, str | float | None]:
        return {name: getattr(self, name) for name in _ENTRY_FIELDS}  # not asdict(): no deep copies

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


def say(entries: Sequence[Entry]) -> None:
    """Log audit lines already kept, one lifecycle line each (nothing when no one listens)."""
    for entry in entries:
        lifecycle(entry)


class AuditLog(abc.ABC):
    """Where audit entries go. `write` builds and logs an entry; a subclass keeps and reads them."""

    async def write(
        self,
        event: Event,
        *,
        principal: str | None = None,
        client_id: str | None = None,
        record_id: str | None = None,
        remote: str | None = None,
        detail: str | None = None,
    ) -> Entry:
        entry = Entry(time.time(), event.value, principal, client_id, record_id, remote, detail)
        await self._keep(entry)
        say([entry])
        return entry

    async def write_many(self, entries: list[tuple[Event, dict[str, str | None]]]) -> None:
        """Several lines at once (a sweep's expiries): one write to the store where it can."""
        kept = [Entry(time.time(), event.value, **fields) for event, fields in entries]
        await self._keep_all(kept)
        say(kept)

    async def _keep_all(self, entries: list[Entry]) -> None:
        for entry in entries:
            await self._keep(entry)

    @abc.abstractmethod
    async def _keep(self, entry: Entry) -> None: ...

    @abc.abstractmethod
    async def prune(self, before: float, limit: int = 5000) -> int:
        """Forget up to `limit` lines older than `before` (a retention period); returns how many."""

    @abc.abstractmethod
    async def read(
        self, *, principal: str | None = None, record_id: str | None = None, limit: int = 100
    ) -> list[Entry]: ...


class MemoryAudit(AuditLog):
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def _keep(self, entry: Entry) -> None:
        self.entries.append(entry)

    async def prune(self, before: float, limit: int = 5000) -> int:
        old = [e for e in self.entries if e.at < before][:limit]
        dropped = {id(e) for e in old}
        self.entries = [e for e in self.entries if id(e) not in dropped]
        return len(old)

    async def read(
        self, *, principal: str | None = None, record_id: str | None = None, limit: int = 100
    ) -> list[Entry]:
        found = [
            e
            for e in self.entries
            if (principal is None or e.principal == principal)
            and (record_id is None or e.record_id == record_id)
        ]
        return found[-limit:]


_INSERT = (
    "INSERT INTO audit (at, event, principal, client_id, record_id, remote, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _values(entry: Entry) -> tuple[object, ...]:
    return (
        entry.at,
        entry.event,
        entry.principal,
        entry.client_id,
        entry.record_id,
        entry.remote,
        entry.detail,
    )


async def insert_row(tx: Tx, entry: Entry) -> None:
    """One audit line, inside the caller's transaction."""
    await tx.send(_INSERT, _values(entry))


async def insert_rows(tx: Tx, entries: Sequence[Entry]) -> None:
    """Audit lines, inside the caller's transaction."""
    await tx.executemany(_INSERT, [_values(e) for e in entries])


class SqlAudit(AuditLog):
    """Audit lines in the `audit` table of the handoff database, oldest first."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _keep(self, entry: Entry) -> None:
        await self.db.run(lambda tx: insert_row(tx, entry))

    async def prune(self, before: float, limit: int = 5000) -> int:
        gone = await self.db.bulk(
            lambda tx: tx.execute(
                "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? ORDER BY at LIMIT ?)",
                (before, limit),
            )
        )
        return gone.rowcount

    async def _keep_all(self, entries: list[Entry]) -> None:
        rows = [_values(e) for e in entries]
        await self.db.bulk(lambda tx: tx.executemany(_INSERT, rows))

    async def read(
        self, *, principal: str | None = None, record_id: str | None = None, limit: int = 100
    ) -> list[Entry]:
        return await self.db.run(lambda tx: read_audit(tx, principal, record_id, limit))


async def read_audit(tx: Tx, principal: str | None, record_id: str | None, limit: int) -> list[Entry]:
    sql = "SELECT at, event, principal, client_id, record_id, remote, detail FROM audit WHERE 1=1"
    args: list[object] = []
    if principal is not None:
        sql += " AND principal = ?"
        args.append(principal)
    if record_id is not None:
        sql += " AND record_id = ?"
        args.append(record_id)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(limit)
    rows = (await tx.execute(sql, args)).rows
    return [Entry(*row) for row in reversed(rows)]
