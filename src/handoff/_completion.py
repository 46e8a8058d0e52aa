"""Ending a record: the value the person gave, the transition, the audit line and the notice to send,
as one change.

In a SQL database (SQLite or PostgreSQL) all four are one transaction: a crash
leaves either nothing (the person's page did not say "Saved") or all of it, and
of two submits racing on two replicas the database lets one change the record;
the other's transaction, value included, rolls back. Telling waiters happens
after the commit; what is not yet told sits in the outbox, which every server
drains (after a restart, or for a replica that died), so a completion is
announced even when the process died right after committing it. In memory
there is nothing to survive a crash, so the steps simply run in order, under a
per-record lock that keeps two submits from both storing.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Protocol

from ._errors import TransitionRefused
from ._locks import NamedLocks
from ._sql import Database, Tx
from .audit import AuditLog, Entry, Event, SqlAudit, insert_row, insert_rows, say
from .bus import Bus
from .ledger import Ledger, Record, SqlLedger, Status
from .ledger._sql import expire_rows, finish_row
from .vault import SqlVault, Vault

CRASH_AT = "HANDOFF_CRASH_AT"
"""Environment variable naming a point where the process kills itself: for the fault-injection tests."""


def crash_point(name: str) -> None:
    """Die here, as `kill -9` would, when the fault-injection tests ask for it."""
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Value:
    """What the person gave, to keep in the vault as the record completes."""

    principal: str
    name: str
    plaintext: str


class Completion(Protocol):
    announces: bool
    """Whether `finish` and `expire_due` tell the other processes themselves (in their transaction)."""

    async def finish(
        self, record_id: str, status: Status, *, value: Value | None, remote: str | None
    ) -> Record:
        """Store `value` (if any), move the record to `status`, audit it and queue its notice, as one."""
        ...

    async def expire_due(self, limit: int) -> list[Record]:
        """Expire up to `limit` overdue pending records and audit each, as one change; returns them."""
        ...

    async def told(self, record_id: str) -> None:
        """The notice for `record_id` went out: take it off the outbox."""
        ...

    async def untold(self, older_than: float) -> list[str]:
        """Records whose notice was queued before `older_than` and never sent (the process died)."""
        ...

    async def outbox(self) -> tuple[int, float | None]:
        """How many notices are queued, and when the oldest was (None: none is)."""
        ...


def _entry(record: Record, remote: str | None) -> Entry:
    return Entry(
        time.time(),
        record.status.value,
        record.principal,
        record.client_id,
        record.id,
        remote,
        None,
    )


class SqlCompletion:
    """Record transition, vault row, audit line, outbox row and the other replicas' notification in
    one transaction. On PostgreSQL that is two round trips: BEGIN with the transition (whose answer
    decides), then the writes with the NOTIFY and the COMMIT (`Tx.send`)."""

    announces = True

    def __init__(self, db: Database, ledger: SqlLedger, vault: SqlVault, audit: SqlAudit, bus: Bus) -> None:
        self.db = db
        self.ledger = ledger
        self.vault = vault
        self.audit = audit
        self.bus = bus

    async def finish(
        self, record_id: str, status: Status, *, value: Value | None, remote: str | None
    ) -> Record:
        sealed = write = None
        if value is not None:
            sealed, write = self.vault.sealed_write(value.principal, value.name, value.plaintext)

        async def change(tx: Tx) -> Record:
            # The transition first: a second submit waits here for the first to commit, then finds the
            # record finished and stores nothing.
            record = await finish_row(tx, record_id, status)
            if write is not None:
                await write(tx)
            await insert_row(tx, entry := _entry(record, remote))
            await tx.send(
                "INSERT INTO outbox (record_id, at) VALUES (?, ?) "
                "ON CONFLICT (record_id) DO UPDATE SET at = excluded.at",
                (record_id, time.time()),
            )
            await self.bus.announce(tx, [record_id])
            crash_point("completion:before-commit")
            said[:] = [entry]
            return record

        said: list[Entry] = []
        record = await self.db.transaction(change)
        crash_point("completion:after-commit")
        say(said)
        if value is not None and sealed is not None:
            self.vault.stored(value.principal, value.name, sealed)
        return record

    async def expire_due(self, limit: int) -> list[Record]:
        async def sweep(tx: Tx) -> list[Record]:
            expired = await expire_rows(tx, limit)
            entries[:] = [_entry(record, None) for record in expired]  # (a retried transaction: anew)
            if expired:
                await insert_rows(tx, entries)
                await self.bus.announce(tx, [record.id for record in expired])
            return expired

        entries: list[Entry] = []
        expired = await self.db.bulk(sweep, redone=True)  # lost to a power cut, they expire again
        say(entries)
        return expired

    async def told(self, record_id: str) -> None:
        await self.db.run(lambda tx: tx.execute("DELETE FROM outbox WHERE record_id = ?", (record_id,)))
        crash_point("completion:told")

    async def untold(self, older_than: float) -> list[str]:
        rows = await self.db.run(
            lambda tx: tx.execute(
                "SELECT record_id FROM outbox WHERE at < ? ORDER BY at LIMIT 1000", (older_than,)
            )
        )
        return [row[0] for row in rows]

    async def outbox(self) -> tuple[int, float | None]:
        row = (await self.db.run(lambda tx: tx.execute("SELECT count(*), min(at) FROM outbox"))).one()
        return (int(row[0]), row[1]) if row else (0, None)


class StepwiseCompletion:
    """The same change as steps, for stores that share no transaction (memory, or a mix of backends)."""

    announces = False

    def __init__(self, ledger: Ledger, vault: Vault, audit: AuditLog) -> None:
        self.ledger = ledger
        self.vault = vault
        self.audit = audit
        self._lock = NamedLocks()

    async def finish(
        self, record_id: str, status: Status, *, value: Value | None, remote: str | None
    ) -> Record:
        async with self._lock(record_id):
            if value is not None:
                current = await self.ledger.get(record_id)
                if not current.pending:
                    raise TransitionRefused(record_id, current.status)
                await self.vault.put(value.principal, value.name, value.plaintext)
            record = await self.ledger.finish(record_id, status)
        await self.audit.write(
            Event(record.status.value),
            principal=record.principal,
            client_id=record.client_id,
            record_id=record.id,
            remote=remote,
        )
        return record

    async def expire_due(self, limit: int) -> list[Record]:
        expired = await self.ledger.expire_due(limit)
        await self.audit.write_many(
            [
                (Event.EXPIRED, {"principal": r.principal, "client_id": r.client_id, "record_id": r.id})
                for r in expired
            ]
        )
        return expired

    async def told(self, record_id: str) -> None:
        return None

    async def untold(self, older_than: float) -> list[str]:
        return []

    async def outbox(self) -> tuple[int, float | None]:
        return 0, None  # notices go out as the change is made: nothing is queued
