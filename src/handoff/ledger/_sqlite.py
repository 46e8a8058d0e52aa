"""SQLite ledger: the embedded default; records survive a restart."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .._db import Database
from .._errors import RecordNotFound, TransitionRefused
from ._record import CLOCK_SKEW, FINAL_STATUSES, Draft, Limits, Record, Status, new_record_id, now

_COLUMNS = (
    "id, principal, client_id, kind, params, status, created_at, expires_at, completed_at, key, acknowledged"
)


def _row(row: tuple[Any, ...]) -> Record:
    return Record(
        id=row[0],
        principal=row[1],
        client_id=row[2],
        kind=row[3],
        params=json.loads(row[4]),
        status=Status(row[5]),
        created_at=row[6],
        expires_at=row[7],
        completed_at=row[8],
        key=row[9],
        acknowledged=bool(row[10]),
    )


def finish_row(conn: sqlite3.Connection, record_id: str, status: Status) -> Record:
    """The pending → final transition as one conditional UPDATE, inside the caller's transaction."""
    t = now()
    changed = conn.execute(
        "UPDATE records SET status = ?, completed_at = ? "
        "WHERE id = ? AND status = 'pending' AND expires_at > ?",
        (status.value, t, record_id, t),
    ).rowcount
    row = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        raise RecordNotFound(record_id)
    record = _row(row).seen_at(t)
    if not changed:
        raise TransitionRefused(record_id, record.status)
    return record


class SQLiteLedger:
    """Records in the `records` table; each transition is one conditional UPDATE."""

    def __init__(self, db: Database, *, ttl: float = 600.0, limits: Limits | None = None) -> None:
        self.db = db
        self.ttl = ttl
        self.limits = limits or Limits()

    async def create(self, draft: Draft, *, ttl: float | None = None) -> Record:
        life = self.ttl if ttl is None else ttl
        limits = self.limits
        params = json.dumps(draft.params, sort_keys=True)

        def insert(conn: sqlite3.Connection) -> Record:
            t = now()
            (pending,) = conn.execute(
                "SELECT COUNT(*) FROM records WHERE principal = ? AND status = 'pending' AND expires_at > ?",
                (draft.principal, t),
            ).fetchone()
            (recent,) = conn.execute(
                # Bounded above too: records stamped before the wall clock stepped back are not "recent"
                # for the hour the step lasts.
                "SELECT COUNT(*) FROM records WHERE principal = ? AND created_at > ? AND created_at <= ?",
                (draft.principal, t - 60, t + CLOCK_SKEW),
            ).fetchone()
            limits.check(pending, recent)
            record = Record(
                id=new_record_id(),
                principal=draft.principal,
                kind=draft.kind,
                params=json.loads(params),
                status=Status.PENDING,
                created_at=t,
                expires_at=t + life,
                client_id=draft.client_id,
                key=draft.key,
            )
            conn.execute(
                f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    record.id,
                    record.principal,
                    record.client_id,
                    record.kind,
                    params,
                    record.status.value,
                    record.created_at,
                    record.expires_at,
                    None,
                    record.key,
                ),
            )
            return record

        return await self.db.run(self.db.transaction(insert))

    async def get(self, record_id: str) -> Record:
        def read(conn: sqlite3.Connection) -> Record:
            row = conn.execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                raise RecordNotFound(record_id)
            return _row(row).seen_at(now())

        return await self.db.run(read)

    async def finish(self, record_id: str, status: Status) -> Record:
        if status not in FINAL_STATUSES:
            raise ValueError(f"a record can only finish as one of {sorted(FINAL_STATUSES)}")

        return await self.db.run(self.db.transaction(lambda conn: finish_row(conn, record_id, status)))

    async def expire_due(self, limit: int = 500) -> list[Record]:
        """Mark up to `limit` overdue pending records expired and return them (for the audit log).

        One bounded batch in a worker thread: a sweep of 300,000 records is many short
        transactions that never hold up the event loop or the connection for long.
        """

        def sweep(conn: sqlite3.Connection) -> list[Record]:
            t = now()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE status = 'pending' AND expires_at <= ? LIMIT ?",
                (t, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE records SET status = 'expired', completed_at = expires_at "
                "WHERE id = ? AND status = 'pending'",
                [(r[0],) for r in rows],
            )
            conn.execute(
                "DELETE FROM claimed WHERE rowid IN "
                "(SELECT rowid FROM claimed WHERE expires_at <= ? LIMIT ?)",
                (t, limit),
            )
            return [_row(r).seen_at(t) for r in rows]

        return await self.db.run_in_thread(self.db.transaction(sweep))

    async def latest(self, principal: str, key: str) -> Record | None:
        def read(conn: sqlite3.Connection) -> Record | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE principal = ? AND key = ? "
                "ORDER BY rowid DESC LIMIT 1",  # the newest by insertion, whatever the clock said
                (principal, key),
            ).fetchone()
            return None if row is None else _row(row).seen_at(now())

        return await self.db.run(read)

    async def acknowledge(self, record_id: str) -> bool:
        def update(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE records SET acknowledged = 1 WHERE id = ? AND acknowledged = 0 "
                    "AND (status != 'pending' OR expires_at <= ?)",
                    (record_id, now()),
                ).rowcount
                == 1
            )

        return await self.db.run(update)

    async def claim_once(self, token_id: str, expires_at: float) -> bool:
        def claim(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM claimed WHERE id = ? AND expires_at <= ?", (token_id, now()))
            return (
                conn.execute(
                    "INSERT OR IGNORE INTO claimed (id, expires_at) VALUES (?, ?)", (token_id, expires_at)
                ).rowcount
                == 1
            )

        return await self.db.run(self.db.transaction(claim))

    async def count_pending(self, principal: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM records WHERE principal = ? AND status = 'pending' AND expires_at > ?",
                (principal, now()),
            ).fetchone()
            return int(n)

        return await self.db.run(count)

    async def close(self) -> None:
        return None
