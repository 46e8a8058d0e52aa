"""The PostgreSQL store on a real server: migrations, locks, the bus across processes' connections,
and what an unreachable database says."""

from __future__ import annotations

import time

import anyio
import pytest
from _postgres import Postgres
from _server import free_port

from handoff import ConfigError, Store
from handoff._entries import SqlEntries
from handoff._postgres import PostgresDatabase
from handoff._sql import MIGRATIONS
from handoff.bus import PostgresBus
from handoff.ledger import Draft, SqlLedger, Status
from handoff.vault import Keyring, generate_key

pytestmark = pytest.mark.anyio


def draft(principal: str = "alice") -> Draft:
    return Draft(principal=principal, kind="secret", params={"name": "k"}, client_id="c1", key="secret:k")


async def test_replicas_starting_together_migrate_once(database_url, postgres):
    replicas = [PostgresDatabase(database_url) for _ in range(5)]
    async with anyio.create_task_group() as tg:
        for db in replicas:
            tg.start_soon(db.start)
    name = database_url.rsplit("/", 1)[1]
    with postgres.admin_connection(name) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM handoff.schema_version ORDER BY 1")]
    assert versions == list(range(1, len(MIGRATIONS["postgresql"]) + 1))
    for db in replicas:
        await db.stop()


async def test_a_schema_newer_than_this_handoff_is_refused(database_url, postgres):
    db = PostgresDatabase(database_url)
    await db.start()
    await db.stop()
    with postgres.admin_connection(database_url.rsplit("/", 1)[1]) as conn:
        conn.execute("INSERT INTO handoff.schema_version VALUES (99, now())")
    with pytest.raises(ConfigError, match=r"schema version 99.*upgrade handoff"):
        await PostgresDatabase(database_url).start()


async def test_an_unreachable_database_is_named_and_its_password_is_not():
    port = free_port()
    db = PostgresDatabase(f"postgresql://handoff:Sup3rSecret@127.0.0.1:{port}/handoff", connect_timeout=2)
    with pytest.raises(ConfigError) as caught:
        await db.start()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "Sup3rSecret" not in message
    assert "Sup3rSecret" not in repr(db) and "Sup3rSecret" not in db.describe()


async def test_a_wrong_password_says_so_without_either_password(postgres):
    wrong = postgres.url.replace(postgres.password, "NotThePassw0rd")
    with pytest.raises(ConfigError) as caught:
        await PostgresDatabase(wrong, connect_timeout=2).start()
    message = str(caught.value)
    assert "password authentication failed" in message
    assert "NotThePassw0rd" not in message and postgres.password not in message


async def test_a_lock_is_held_by_one_holder_across_databases(database_url):
    one, two = PostgresDatabase(database_url), PostgresDatabase(database_url)  # two replicas
    inside: list[str] = []
    overlaps: list[bool] = []

    async def hold(db: PostgresDatabase, name: str) -> None:
        async with db.lock("refresh:alice"):
            overlaps.append(bool(inside))
            inside.append(name)
            await anyio.sleep(0.05)
            inside.remove(name)

    async with anyio.create_task_group() as tg:
        for n in range(6):
            tg.start_soon(hold, (one, two)[n % 2], f"holder{n}")
    assert overlaps == [False] * 6
    await one.stop()
    await two.stop()


async def test_a_limited_add_holds_across_databases(database_url):
    dbs = [PostgresDatabase(database_url) for _ in range(3)]
    entries = [SqlEntries(db) for db in dbs]
    added: list[bool] = []

    async def add(n: int) -> None:
        value = {"n": n}
        added.append(
            await entries[n % 3].add("clients", f"c{n}", value, expires_at=time.time() + 60, limit=5)
        )

    async with anyio.create_task_group() as tg:
        for n in range(30):
            tg.start_soon(add, n)
    assert added.count(True) == 5 and await entries[0].count("clients") == 5
    for db in dbs:
        await db.stop()


async def test_a_completion_on_one_replica_wakes_a_wait_on_another_even_across_a_dropped_listener(
    database_url, postgres: Postgres
):
    here_db, there_db = PostgresDatabase(database_url), PostgresDatabase(database_url)
    here, there = SqlLedger(here_db), SqlLedger(there_db)
    here_bus, there_bus = PostgresBus(here_db, here), PostgresBus(there_db, there)
    async with anyio.create_task_group() as tg:
        await tg.start(here_bus.run)
        await tg.start(there_bus.run)

        # A completion published on "here" wakes a wait on "there", within milliseconds.
        record = await here.create(draft())
        woke: list[float] = []

        async def wait() -> None:
            started = time.monotonic()
            finished = await there_bus.wait(record.id, 10)
            assert finished is not None and finished.status is Status.COMPLETED
            woke.append(time.monotonic() - started)

        async with anyio.create_task_group() as waits:
            waits.start_soon(wait)
            await anyio.sleep(0.2)
            await here_bus.publish(await here.finish(record.id, Status.COMPLETED))
        assert woke and woke[0] < 1

        # The listener's connection dies; a completion happens while it is down; the waiter still wakes.
        lost = await here.create(draft("bob"))
        caught_up = anyio.Event()

        async def listener(finished: object) -> None:
            if getattr(finished, "id", "") == lost.id:
                caught_up.set()

        there_bus.listen(listener)
        with postgres.admin_connection() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        await here_bus.publish(await here.finish(lost.id, Status.COMPLETED))  # nobody listens on "there"
        with anyio.fail_after(10):
            await caught_up.wait()  # heard after reconnecting, by the catch-up read
        assert there_bus.reconnects >= 1
        tg.cancel_scope.cancel()
    for db in (here_db, there_db):
        await db.stop()


async def test_the_store_checks_its_vault_keys_when_it_starts(database_url):
    first = Store.postgresql(database_url, Keyring.parse(generate_key()))
    await first.start()
    await first.vault.put("alice", "k", "v")
    await first.stop()
    wrong = Store.postgresql(database_url, Keyring.parse(generate_key()))
    with pytest.raises(ConfigError, match="key is wrong or missing"):
        await wrong.start()
    await wrong.stop()


async def test_a_url_that_does_not_parse_is_named_without_its_password():
    for url in (
        "postgresql://handoff:S3cr%zzet-PASSWORD@127.0.0.1:1/x",
        "postgresql://h:S3cret PASSWORD@x/y",
    ):
        with pytest.raises(ConfigError) as caught:
            await PostgresDatabase(url, connect_timeout=1).start()
        assert "PASSWORD" not in str(caught.value), caught.value


async def test_a_nul_in_a_looked_up_key_finds_nothing_instead_of_failing(database_url):
    db = PostgresDatabase(database_url)
    entries = SqlEntries(db)
    await entries.put("connect.state", "abc", {"x": 1}, expires_at=time.time() + 60)
    assert await entries.get("connect.state", "a\x00bc") is None
    assert await entries.take("connect.state", "ab\x00c") is None
    assert await entries.get("connect.state", "abc") == {"x": 1}
    await db.stop()


async def test_a_rotation_keeps_a_value_saved_while_it_runs(database_url):
    import psycopg

    from handoff.vault import SqlVault

    old, new = generate_key(), generate_key()
    db = PostgresDatabase(database_url)
    await SqlVault(db, Keyring.parse(old)).put("alice", "k", "old value")
    rotating = SqlVault(db, Keyring.parse(f"{new},{old}"))
    elsewhere = Keyring.parse(new).seal("alice", "k", b"saved meanwhile")
    real_seal = rotating.keyring.seal

    def seal_after_someone_saved(principal: str, name: str, value: bytes):  # type: ignore[no-untyped-def]
        # Between the rotation's read and its write, another replica stores a new value.
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute(
                "UPDATE handoff.secrets SET key_id = %s, nonce = %s, ciphertext = %s "
                "WHERE principal = 'alice'",
                (elsewhere.key_id, elsewhere.nonce, elsewhere.ciphertext),
            )
        return real_seal(principal, name, value)

    rotating.keyring.seal = seal_after_someone_saved  # type: ignore[method-assign]
    assert (await rotating.rotate()).moved == 0  # nothing moved: the row was no longer the one it read
    rotating.keyring.seal = real_seal  # type: ignore[method-assign]
    assert await SqlVault(db, Keyring.parse(new), read_cache_ttl=0).get("alice", "k") == "saved meanwhile"
    await db.stop()


async def test_the_sweep_never_reports_expired_a_record_another_replica_completed(database_url):
    import psycopg

    db = PostgresDatabase(database_url)
    ledger = SqlLedger(db, ttl=0.2)
    record = await ledger.create(draft())
    await anyio.sleep(0.3)  # past its expiry, not yet swept
    finishing = await psycopg.AsyncConnection.connect(database_url)  # another replica's open transaction
    await finishing.execute(
        "UPDATE handoff.records SET status = 'completed', completed_at = %s WHERE id = %s",
        (time.time(), record.id),
    )
    swept: list[object] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _collect(ledger, swept))
        await anyio.sleep(0.3)  # the sweep waits on the row the other transaction holds...
        await finishing.commit()  # ...which completes it
    await finishing.close()
    assert swept == [[]]  # nothing reported expired
    assert (await ledger.get(record.id)).status is Status.COMPLETED
    await db.stop()


async def _collect(ledger: SqlLedger, into: list[object]) -> None:
    into.append(await ledger.expire_due(10))


async def test_guesses_sent_in_parallel_to_two_replicas_get_the_free_tries_only(database_url):
    from handoff.identity import Throttle

    dbs = [PostgresDatabase(database_url) for _ in range(2)]
    throttles = [Throttle(free=5, store=SqlEntries(db)) for db in dbs]
    waits: list[float] = []

    async def guess(n: int) -> None:
        wait, _ = await throttles[n % 2].attempt("alice", "203.0.113.9")
        waits.append(wait)

    async with anyio.create_task_group() as tg:
        for n in range(60):
            tg.start_soon(guess, n)
    assert waits.count(0.0) == 5  # the free tries, however the guesses raced
    for db in dbs:
        await db.stop()


async def test_a_completion_post_waits_on_postgresql_three_times_and_tells_the_other_replicas_at_commit(
    database_url, tmp_path
):
    """The page's read of the record, BEGIN with the transition, then the value, audit line, outbox row
    and NOTIFY with the COMMIT: three round trips, however many statements (the outbox row is taken
    off after the page answered, once the notice is out). A second process on the database hears the
    completion from the commit itself."""
    from _mcp import user_client
    from _wire import RoundTripCounter
    from conftest import Running
    from mcp import MCPError

    from handoff.demo import ScriptedBrowser

    host_port = database_url.rsplit("@", 1)[1].split("/", 1)[0]
    port = int(host_port.rsplit(":", 1)[1])
    with RoundTripCounter(("127.0.0.1", port)) as relay:
        counted_url = database_url.replace(f":{port}/", f":{relay.port}/")
        server = Running(tmp_path / "data", database_url=counted_url).start()
        there_db = PostgresDatabase(database_url)
        there = SqlLedger(there_db)
        there_bus = PostgresBus(there_db, there)
        heard: dict[str, anyio.Event] = {}

        async def hear(record: object) -> None:
            heard.setdefault(getattr(record, "id", ""), anyio.Event()).set()

        there_bus.listen(hear)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(there_bus.run)
                turns: list[int] = []
                async with ScriptedBrowser(server.origin) as browser:
                    async with user_client(server.mcp_url, browser, "alice") as (client, notices):
                        for n in range(3):
                            await server.demo.handoff.vault.delete("alice", "weather_api_key")
                            with pytest.raises(MCPError) as asked:
                                await client.call_tool("forecast", {"city": "Oslo"})
                            elicitation = asked.value.data["elicitations"][0]
                            page = await browser.open(elicitation["url"])
                            form = {"value": f"wk_round_trip_{n}", "action": "save", "csrf": page.csrf or ""}
                            with relay.counting() as posted:
                                response = await browser.http.post(elicitation["url"], data=form)
                            assert response.status_code == 200 and "Saved" in response.text
                            turns += posted
                            assert await notices.wait_for(elicitation["elicitationId"], timeout=5)
                            record_id = elicitation["elicitationId"]
                            with anyio.fail_after(5):
                                await heard.setdefault(record_id, anyio.Event()).wait()
                            assert (await there.get(record_id)).status is Status.COMPLETED
                            assert (
                                await server.demo.handoff.vault.get("alice", "weather_api_key")
                                == form["value"]
                            )
                            for _ in range(100):  # taken off in the background, once the notice is out
                                if await server.demo.handoff.completion.outbox() == (0, None):
                                    break
                                await anyio.sleep(0.05)
                            assert await server.demo.handoff.completion.outbox() == (0, None)
                # A pooled connection unused for 2 s is pinged before it is lent: one more at most.
                assert sorted(turns)[1] <= 3, turns
                tg.cancel_scope.cancel()
        finally:
            server.stop()
            await there_db.stop()


async def test_a_pipelined_transaction_keeps_all_or_nothing(database_url):
    """What `Tx.send` queued fails at the commit, or is undone by an exception raised after it: either
    way nothing of the transaction is kept, and the connection serves the next one."""
    import psycopg

    db = PostgresDatabase(database_url, min_size=1, max_size=1)
    await db.start()
    await db.run(lambda tx: tx.execute("CREATE TABLE t (k TEXT PRIMARY KEY)"))

    async def count() -> int:
        return int((await db.run(lambda tx: tx.execute("SELECT count(*) FROM t"))).rows[0][0])

    async def duplicate(tx: object) -> None:
        await tx.send("INSERT INTO t VALUES (?)", ("a",))  # type: ignore[attr-defined]
        await tx.send("INSERT INTO t VALUES (?)", ("a",))  # type: ignore[attr-defined]

    with pytest.raises(psycopg.errors.UniqueViolation):
        await db.transaction(duplicate)
    assert await count() == 0

    async def refused_after_sending(tx: object) -> None:
        await tx.send("INSERT INTO t VALUES (?)", ("b",))  # type: ignore[attr-defined]
        rows = await tx.execute("SELECT k FROM t")  # type: ignore[attr-defined]
        assert rows.rows == [("b",)]  # its own write, seen inside the transaction
        raise LookupError("changed my mind")

    with pytest.raises(LookupError):
        await db.transaction(refused_after_sending)
    assert await count() == 0

    async def kept(tx: object) -> str:
        await tx.send("INSERT INTO t VALUES (?)", ("c",))  # type: ignore[attr-defined]
        return "done"

    assert await db.transaction(kept) == "done" and await count() == 1
    await db.stop()
