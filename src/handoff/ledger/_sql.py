"""The ledger in a SQL database (SQLite or PostgreSQL): records survive a restart and are shared by
every process on the database."""

from __future__ import annotations

import json
from typing import Any

from .._errors import RecordNotFound, TransitionRefused
from .._sql import Database, Rows, Tx
from ._record import CLOCK_SKEW, FINAL_STATUSES, Draft, Limits, Record, Status, new_record_id, now

_COLUMNS = (
    "id, principal, client_id, kind, params, status, created_at, expires_at, completed_at, key, "
    "acknowledged, trace"
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
        trace=row[11],
    )


async def finish_row(tx: Tx, record_id: str, status: Status) -> Record:
    """The pending → final transition as one conditional UPDATE, inside the caller's transaction."""
    t = now()
    changed = (
        await tx.execute(
            "UPDATE records SET status = ?, completed_at = ? "
            f"WHERE id = ? AND status = 'pending' AND expires_at > ? RETURNING {_COLUMNS}",
            (status.value, t, record_id, t),
        )
    ).one()
    if changed is not None:
        return _row(changed).seen_at(t)
    row = (await tx.execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,))).one()
    if row is None:
        raise RecordNotFound(record_id)
    raise TransitionRefused(record_id, _row(row).seen_at(t).status)


async def expire_rows(tx: Tx, limit: int) -> list[Record]:
    """Up to `limit` overdue pending records marked expired, inside the caller's transaction.
    Replicas sweeping at the same time take turns (`Tx.lock`), so each expiry is returned once."""
    await tx.lock("records:sweep")
    t = now()
    # One statement, returning only the rows it changed: a record another replica finished
    # meanwhile (its transaction held the row) is re-checked, stays completed, and is not
    # reported as expired.
    rows = (
        await tx.execute(
            "UPDATE records SET status = 'expired', completed_at = expires_at "
            "WHERE id IN "
            "(SELECT id FROM records WHERE status = 'pending' AND expires_at <= ? LIMIT ?) "
            f"AND status = 'pending' RETURNING {_COLUMNS}",
            (t, limit),
        )
    ).rows
    await tx.send(
        "DELETE FROM claimed WHERE id IN (SELECT id FROM claimed WHERE expires_at <= ? LIMIT ?)",
        (t, limit),
    )
    return [_row(r).seen_at(t) for r in rows]


class SqlLedger:
    """Records in the `records` table; each transition is one conditional UPDATE."""

    def __init__(self, db: Database, *, ttl: float = 600.0, limits: Limits | None = None) -> None:
        self.db = db
        self.ttl = ttl
        self.limits = limits or Limits()

    async def create(self, draft: Draft, *, ttl: float | None = None) -> Record:
        life = self.ttl if ttl is None else ttl
        limits = self.limits
        params = json.dumps(draft.params, sort_keys=True)

        async def insert(tx: Tx) -> Record:
            await tx.lock(f"records:{draft.principal}")  # count-then-insert holds across replicas
            t = now()
            pending, recent = _first(
                await tx.execute(
                    # Two counts, each on its own index, in one round trip. "Recent" is bounded above
                    # too: records stamped before the wall clock stepped back are not "recent" for
                    # the hour the step lasts.
                    "SELECT (SELECT COUNT(*) FROM records "
                    "WHERE principal = ? AND status = 'pending' AND expires_at > ?), "
                    "(SELECT COUNT(*) FROM records "
                    "WHERE principal = ? AND created_at > ? AND created_at <= ?)",
                    (draft.principal, t, draft.principal, t - 60, t + CLOCK_SKEW),
                )
            )
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
                trace=draft.trace,
            )
            await tx.send(
                f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
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
                    record.trace,
                ),
            )
            return record

        return await self.db.transaction(insert)

    async def get(self, record_id: str) -> Record:
        async def read(tx: Tx) -> Record:
            row = (await tx.execute(f"SELECT {_COLUMNS} FROM records WHERE id = ?", (record_id,))).one()
            if row is None:
                raise RecordNotFound(record_id)
            return _row(row).seen_at(now())

        return await self.db.run(read)

    async def finish(self, record_id: str, status: Status) -> Record:
        if status not in FINAL_STATUSES:
            raise ValueError(f"a record can only finish as one of {sorted(FINAL_STATUSES)}")
        return await self.db.transaction(lambda tx: finish_row(tx, record_id, status))

    async def expire_due(self, limit: int = 500) -> list[Record]:
        """Mark up to `limit` overdue pending records expired and return them (for the audit log).

        One bounded batch off the event loop: a sweep of 300,000 records is many short transactions
        that never hold up the loop or the database for long. Replicas sweeping at the same time take
        turns (`Tx.lock`), so each expiry is returned, audited and announced once.
        """
        return await self.db.bulk(lambda tx: expire_rows(tx, limit))

    async def finished_since(self, since: float, limit: int = 10_000) -> list[Record]:
        """Records that finished (or expired) at `since` or later: what a replica whose bus was cut off
        may have missed."""

        async def read(tx: Tx) -> list[Record]:
            rows = await tx.execute(
                f"SELECT {_COLUMNS} FROM records WHERE completed_at >= ? ORDER BY completed_at LIMIT ?",
                (since, limit),
            )
            t = now()
            return [_row(r).seen_at(t) for r in rows]

        return await self.db.run(read)

    async def latest(self, principal: str, key: str) -> Record | None:
        async def read(tx: Tx) -> Record | None:
            row = (
                await tx.execute(
                    f"SELECT {_COLUMNS} FROM records WHERE principal = ? AND key = ? "
                    "ORDER BY rowid DESC LIMIT 1",  # the newest by insertion, whatever the clock said
                    (principal, key),
                )
            ).one()
            return None if row is None else _row(row).seen_at(now())

        return await self.db.run(read)

    async def acknowledge(self, record_id: str) -> bool:
        async def update(tx: Tx) -> bool:
            changed = await tx.execute(
                "UPDATE records SET acknowledged = 1 WHERE id = ? AND acknowledged = 0 "
                "AND (status != 'pending' OR expires_at <= ?)",
                (record_id, now()),
            )
            return changed.rowcount == 1

        return await self.db.run(update)

    async def claim_once(self, token_id: str, expires_at: float) -> bool:
        async def claim(tx: Tx) -> bool:
            await tx.execute("DELETE FROM claimed WHERE id = ? AND expires_at <= ?", (token_id, now()))
            added = await tx.execute(
                "INSERT INTO claimed (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                (token_id, expires_at),
            )
            return added.rowcount == 1

        return await self.db.transaction(claim)

    async def count_pending(self, principal: str) -> int:
        async def count(tx: Tx) -> int:
            (n,) = _first(
                await tx.execute(
                    "SELECT COUNT(*) FROM records "
                    "WHERE principal = ? AND status = 'pending' AND expires_at > ?",
                    (principal, now()),
                )
            )
            return int(n)

        return await self.db.run(count)

    async def close(self) -> None:
        return None


def _first(rows: Rows) -> tuple[Any, ...]:
    row = rows.one()
    assert row is not None  # an aggregate always gives a row
    return row
