"""The SQLite database: a sweep's batch commits without waiting for the disk, everything else with."""

from __future__ import annotations

import pytest

from handoff._db import SQLiteDatabase

pytestmark = pytest.mark.anyio

FULL, NORMAL = 2, 1


async def test_a_redone_batch_does_not_wait_for_the_disk_and_durability_comes_back(tmp_path):
    db = SQLiteDatabase(tmp_path / "handoff.db")

    async def synchronous(tx: object) -> int:
        return int((await tx.execute("PRAGMA synchronous")).rows[0][0])  # type: ignore[attr-defined]

    assert await db.bulk(synchronous, redone=True) == NORMAL
    assert await db.bulk(synchronous) == FULL
    assert await db.transaction(synchronous) == FULL

    async def fails(tx: object) -> None:
        await tx.execute("CREATE TABLE t (k TEXT)")  # type: ignore[attr-defined]
        raise LookupError("undone")

    with pytest.raises(LookupError):
        await db.bulk(fails, redone=True)
    assert await db.run(synchronous) == FULL  # put back after a failing batch too
    tables = db.call(lambda c: c.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchall())
    assert tables == []

    relaxed = SQLiteDatabase(tmp_path / "fast.db", durable=False)
    assert await relaxed.bulk(synchronous, redone=True) == NORMAL
    assert await relaxed.run(synchronous) == NORMAL
