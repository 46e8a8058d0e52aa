from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from handoff import Limits, MemoryLedger, RateLimited, RecordNotFound, SqlLedger, Status, TransitionRefused
from handoff._db import Database
from handoff.ledger import Draft

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def make_ledger(request, tmp_path: Path):
    from handoff._postgres import PostgresDatabase

    opened: list[PostgresDatabase] = []

    def make(**options):
        if request.param == "memory":
            return MemoryLedger(**options)
        if request.param == "sqlite":
            return SqlLedger(Database(tmp_path / "ledger.db"), **options)
        opened.append(PostgresDatabase(request.getfixturevalue("database_url")))
        return SqlLedger(opened[-1], **options)

    yield make
    for db in opened:
        await db.stop()


def draft(principal: str = "alice", key: str = "secret:k") -> Draft:
    return Draft(principal=principal, kind="secret", params={"name": "k"}, client_id="c1", key=key)


async def test_record_fields_and_unguessable_ids(make_ledger):
    ledger = make_ledger(ttl=600)
    record = await ledger.create(draft())
    assert record.status is Status.PENDING and record.principal == "alice" and record.client_id == "c1"
    assert record.expires_at - record.created_at == pytest.approx(600)
    assert len(record.id) == 32 and all(c.isalnum() or c in "-_" for c in record.id)
    ids = {(await ledger.create(draft(f"u{i}"))).id for i in range(50)}
    assert len(ids) == 50
    assert await ledger.get(record.id) == record


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_a_record_keeps_the_trace_context_of_the_call_that_made_it(make_ledger):
    ledger = make_ledger()
    traced = await ledger.create(Draft(principal="alice", kind="secret", key="secret:k", trace=TRACEPARENT))
    untraced = await ledger.create(draft("bob"))
    assert (await ledger.get(traced.id)).trace == TRACEPARENT
    assert (await ledger.finish(traced.id, Status.COMPLETED)).trace == TRACEPARENT
    assert (await ledger.get(untraced.id)).trace == ""


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_a_database_of_the_previous_schema_migrates_and_keeps_its_records(
    request, tmp_path: Path, monkeypatch, dialect
):
    from handoff._postgres import PostgresDatabase
    from handoff._sql import MIGRATIONS, schema_version

    def open_db():
        if dialect == "sqlite":
            return Database(tmp_path / "ledger.db")
        return PostgresDatabase(request.getfixturevalue("database_url"))

    steps = MIGRATIONS[dialect]
    with monkeypatch.context() as patch:
        patch.setitem(MIGRATIONS, dialect, steps[:2])  # the schema before records kept a trace
        old = open_db()
        await old.start()
        await old.run(
            lambda tx: tx.execute(
                "INSERT INTO records (id, principal, kind, params, status, created_at, expires_at) "
                "VALUES ('r1', 'alice', 'secret', '{}', 'pending', ?, ?)",
                (time.time(), time.time() + 600),
            )
        )
        await old.stop()
    db = open_db()
    await db.start()
    try:
        assert await db.run(lambda tx: schema_version(tx, dialect)) == len(steps) == 3
        record = await SqlLedger(db).get("r1")
        assert (record.principal, record.status, record.trace) == ("alice", Status.PENDING, "")
    finally:
        await db.stop()


async def test_a_record_finishes_exactly_once(make_ledger):
    ledger = make_ledger()
    record = await ledger.create(draft())
    done = await ledger.finish(record.id, Status.COMPLETED)
    assert done.status is Status.COMPLETED and done.completed_at is not None
    for status in (Status.COMPLETED, Status.DECLINED, Status.CANCELLED):
        with pytest.raises(TransitionRefused) as refused:
            await ledger.finish(record.id, status)
        assert refused.value.status == "completed"
    with pytest.raises(ValueError):
        await ledger.finish((await ledger.create(draft("bob"))).id, Status.PENDING)
    with pytest.raises(RecordNotFound):
        await ledger.finish("x" * 32, Status.COMPLETED)


async def test_racing_completions_have_one_winner(make_ledger):
    ledger = make_ledger()
    record = await ledger.create(draft())
    wins: list[Status] = []
    losses: list[str] = []

    async def race(status: Status) -> None:
        try:
            wins.append((await ledger.finish(record.id, status)).status)
        except TransitionRefused as refused:
            losses.append(refused.status)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(race, Status.COMPLETED if i % 2 else Status.DECLINED)
    assert len(wins) == 1 and len(losses) == 19
    assert set(losses) == {wins[0].value}


async def test_completion_racing_expiry_loses_after_the_deadline(make_ledger):
    ledger = make_ledger(ttl=0.2)
    record = await ledger.create(draft())
    await anyio.sleep(0.25)
    assert (await ledger.get(record.id)).status is Status.EXPIRED
    with pytest.raises(TransitionRefused) as refused:
        await ledger.finish(record.id, Status.COMPLETED)
    assert refused.value.status == "expired"
    expired = await ledger.expire_due()
    assert [r.id for r in expired] == [record.id] and expired[0].status is Status.EXPIRED
    assert await ledger.expire_due() == []  # reported once
    with pytest.raises(TransitionRefused):
        await ledger.finish(record.id, Status.COMPLETED)


async def test_limits_on_pending_and_rate(make_ledger):
    ledger = make_ledger(limits=Limits(max_pending=2, max_per_minute=3))
    a = await ledger.create(draft(key="a"))
    await ledger.create(draft(key="b"))
    with pytest.raises(RateLimited, match="waiting in the browser"):
        await ledger.create(draft(key="c"))
    await ledger.create(draft("bob"))  # other principals are not affected
    await ledger.finish(a.id, Status.COMPLETED)
    await ledger.create(draft(key="c"))
    await ledger.finish((await ledger.latest("alice", "c")).id, Status.DECLINED)
    with pytest.raises(RateLimited, match="last minute") as limited:
        await ledger.create(draft(key="d"))
    assert limited.value.retry_after == 60
    assert await ledger.count_pending("alice") == 1


async def test_latest_and_acknowledge_once(make_ledger):
    ledger = make_ledger()
    first = await ledger.create(draft())
    assert not await ledger.acknowledge(first.id)  # pending records are not acknowledged
    await ledger.finish(first.id, Status.DECLINED)
    second = await ledger.create(draft())
    assert (await ledger.latest("alice", "secret:k")).id == second.id
    assert await ledger.latest("alice", "other") is None
    assert await ledger.acknowledge(first.id)
    assert not await ledger.acknowledge(first.id)
    assert (await ledger.get(first.id)).acknowledged


async def test_sqlite_records_survive_reopening(tmp_path: Path):
    path = tmp_path / "l.db"
    record = await SqlLedger(Database(path)).create(draft())
    reopened = SqlLedger(Database(path))
    assert await reopened.get(record.id) == record
    assert (await reopened.finish(record.id, Status.COMPLETED)).status is Status.COMPLETED


async def test_sqlite_pending_count_is_indexed(tmp_path: Path):
    ledger = SqlLedger(Database(tmp_path / "l.db"))
    plan = ledger.db.call(
        lambda c: c.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM records WHERE principal = ? AND status = 'pending' "
            "AND expires_at > ?",
            ("a", time.time()),
        ).fetchall()
    )
    assert "records_by_principal" in str(plan)


async def test_a_large_sweep_goes_in_bounded_batches_and_audits_every_record(tmp_path):
    import time

    from handoff._handoff import SWEEP_BATCH

    handoff = _embedded(tmp_path)
    n = SWEEP_BATCH * 2 + 17
    past = time.time() - 1
    rows = [
        (f"r{i:030d}", f"u{i}", None, "secret", "{}", "pending", past - 5, past, None, "k", 0)
        for i in range(n)
    ]
    handoff.ledger.db.call(
        lambda c: c.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,'')", rows)
    )
    assert len(await handoff.ledger.expire_due(SWEEP_BATCH)) == SWEEP_BATCH  # one batch at most
    assert await handoff.sweep() == n - SWEEP_BATCH
    assert await handoff.sweep() == 0
    (expired,) = handoff.ledger.db.call(
        lambda c: c.execute("SELECT COUNT(*) FROM audit WHERE event = 'expired'").fetchone()
    )
    assert expired == n - SWEEP_BATCH  # the first batch was taken by hand, without the audit
    (pending,) = handoff.ledger.db.call(
        lambda c: c.execute("SELECT COUNT(*) FROM records WHERE status = 'pending'").fetchone()
    )
    assert pending == 0


async def test_audit_lines_older_than_the_retention_are_pruned_by_the_sweep(tmp_path):
    import time

    from handoff import Event

    handoff = _embedded(tmp_path, audit_retention=3600)
    old = time.time() - 7200
    handoff.ledger.db.call(
        lambda c: c.executemany(
            "INSERT INTO audit (at, event, detail) VALUES (?, 'rejected', 'unknown id')",
            [(old + i,) for i in range(120)],
        )
    )
    await handoff.audit.write(Event.REJECTED, detail="recent")
    await handoff.sweep()
    assert [e.detail for e in await handoff.audit.read(limit=1000)] == ["recent"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_wall_clock_stepped_back_neither_blocks_new_records_nor_hides_the_newest(
    kind, tmp_path, monkeypatch
):
    import time

    from handoff._db import Database
    from handoff.ledger import Draft, Limits, MemoryLedger, SqlLedger, _record

    limits = Limits(max_pending=100, max_per_minute=3)
    ledger = (
        MemoryLedger(limits=limits)
        if kind == "memory"
        else SqlLedger(Database(tmp_path / "l.db"), limits=limits)
    )
    real = time.time
    monkeypatch.setattr(_record.time, "time", lambda: real() + 3600)  # the clock was an hour fast...
    for _ in range(3):
        before = await ledger.create(Draft(principal="alice", kind="approval", params={}, key="approval:pay"))
    monkeypatch.setattr(_record.time, "time", real)  # ...and is stepped back
    after = await ledger.create(Draft(principal="alice", kind="approval", params={}, key="approval:pay"))
    assert (await ledger.latest("alice", "approval:pay")).id == after.id != before.id


def _embedded(tmp_path, **options):
    """A Handoff on its own SQLite file, as a small loopback server would build it."""
    from handoff import Handoff, Keyring, LocalIdentity, generate_key, hash_password

    return Handoff.embedded(
        public_url="http://127.0.0.1:9",
        db_path=tmp_path / "h.db",
        browser=LocalIdentity(hash_password("a passphrase")),
        secret_key=b"k" * 32,
        keyring=Keyring.parse(generate_key()),
        **options,
    )
