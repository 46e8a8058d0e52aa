"""PostgreSQL: the database of a server that runs as several replicas.

The driver is psycopg 3, asynchronously, with psycopg_pool: it speaks libpq, so a database URL
means what it means to `psql` (host lists, `sslmode`, `service`, `PGPASSWORD` and `.pgpass` all
work), its LISTEN/NOTIFY is an async iterator (the bus), and its pool checks connections and
replaces dead ones after a server restart. (asyncpg is faster per statement, but implements the
protocol itself, without libpq's URL options, and handoff's statements are point reads and
writes whose cost is the round trip.)

Every replica's tables live in one PostgreSQL schema (`handoff` unless told), created and migrated
by whichever replica starts first, under an advisory lock so that replicas starting together
migrate once. Transactions run at READ COMMITTED: every transition is a conditional UPDATE, which
PostgreSQL re-checks against the committed row, so of two replicas finishing one record exactly one
changes it; the few read-then-write steps (a rate limit, a sweep) take `Tx.lock` first.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ._command import install
from ._errors import ConfigError, StorageUnavailable
from ._locks import NamedLocks
from ._sql import MIGRATIONS, Rows, Step

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

T = TypeVar("T")
logger = logging.getLogger("handoff.db")

_MIGRATION_LOCK = 0x68616E646F6666  # "handoff": one advisory lock id every replica agrees on
WAIT_FOR_CONNECTION = 5.0
"""Longest wait for a pooled connection: while the database is away, a page says so after this long
(and once it is back, the pool has reconnected within a few seconds)."""
LOCKS_AT_ONCE = 8
"""Locks (`lock`) one process holds at the same time, each on a connection of its own."""
IDLE_CHECK = 2.0
"""A pooled connection unused for longer than this (seconds) is pinged before it is lent out."""
_RETRIES = 3
"""Times a transaction is run again after a deadlock or a serialization failure."""


def _text(params: Sequence[Any]) -> list[Any]:
    """PostgreSQL text cannot hold NUL: where one reaches a parameter (an id or a state typed into a
    URL, a path in an audit line), it becomes U+FFFD. No key handoff makes contains either, so a lookup
    finds nothing, as it would on SQLite, instead of failing the request."""
    return [p.replace("\x00", "\ufffd") if isinstance(p, str) and "\x00" in p else p for p in params]


def _placeholders(sql: str) -> str:
    """handoff's statements say `?`; psycopg says `%s` (and would read a literal `%` as one)."""
    if "%" in sql:
        raise ValueError("handoff's SQL must not contain '%'")
    return sql.replace("?", "%s")


def _import() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError:
        raise ConfigError(f"a postgresql:// database needs psycopg: {install('postgresql')}") from None
    return psycopg, psycopg_pool


def secret_parts(url: str) -> list[str]:
    """The password of `url` as written and decoded: what must never appear in a message."""
    from urllib.parse import unquote, urlsplit

    try:
        written = urlsplit(url).password
    except ValueError:
        written = None
    return sorted({p for p in (written, unquote(written or "")) if p}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """`text` (a driver's message) with the password of `url` taken out."""
    for secret in secret_parts(url):
        text = text.replace(secret, "…")
    return text


def describe_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    psycopg, _ = _import()
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(a URL that does not parse)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = parts.get("user")
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{parts.get('dbname') or ''}"


class _PostgresTx:
    """A connection, in pipeline mode inside a transaction: `execute` sends what `send` queued with
    its own statement and waits once for all of it."""

    def __init__(
        self, conn: psycopg.AsyncConnection[Any], pipeline: psycopg.AsyncPipeline | None = None
    ) -> None:
        self.conn = conn
        self.pipeline = pipeline

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        cursor = await self.conn.execute(_placeholders(sql), _text(params))
        if self.pipeline is not None:
            await self.pipeline.sync()  # this statement's answer, and those queued before it
        rows = await cursor.fetchall() if cursor.description else []
        return Rows(list(rows), cursor.rowcount)

    async def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.conn.execute(_placeholders(sql), _text(params))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            async with self.conn.cursor() as cursor:
                await cursor.executemany(_placeholders(sql), [_text(row) for row in rows])

    async def lock(self, name: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", _text([name]))


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, shared with the other replicas."""

    dialect = "postgresql"
    shared = True

    def __init__(
        self,
        url: str,
        *,
        schema: str = "handoff",
        min_size: int = 2,
        max_size: int = 20,
        connect_timeout: float = 10.0,
        migrate: bool = True,
    ) -> None:
        """`migrate=False` (for tools that only read or tend an existing database) refuses a database
        without handoff's schema instead of creating it."""
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"{describe_url(url)} is not a PostgreSQL URL: it starts with postgresql://")
        if not schema.isidentifier():
            raise ConfigError(f"schema {schema!r} must be a plain identifier, like 'handoff'")
        _import()
        self.url = url
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.migrate = migrate
        self._pool: AsyncConnectionPool[Any] | None = None
        self._starting = anyio.Lock()
        self._held = NamedLocks()
        self._lockers = anyio.Semaphore(LOCKS_AT_ONCE)
        self._used: dict[int, float] = {}

    def describe(self) -> str:
        return describe_url(self.url)

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.describe()!r})"

    def say(self, exc: BaseException) -> str:
        """The first line of a driver's error, without the password."""
        return scrub(_first_line(exc), self.url)

    def unreachable(self, exc: BaseException) -> StorageUnavailable:
        first = self.say(exc)
        logger.error("database %s cannot be used right now: %s", self.describe(), first)
        return StorageUnavailable(f"database {self.describe()} cannot be used right now: {first}")

    async def start(self) -> None:
        if self._pool is not None:
            return
        async with self._starting:
            if self._pool is not None:
                return
            psycopg, psycopg_pool = _import()
            schema = self.schema

            async def configure(conn: Any) -> None:
                await conn.execute(f'SET search_path TO "{schema}"')

            pool = psycopg_pool.AsyncConnectionPool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                kwargs={"autocommit": True, "connect_timeout": max(1, int(self.connect_timeout))},
                configure=configure,
                check=self._check_if_idle,
                timeout=WAIT_FOR_CONNECTION,
                open=False,
                name="handoff",
            )
            try:
                # One plain connection first: when the server is down or refuses us, its own words
                # ("connection refused", "password authentication failed") are what a person needs.
                probe = await self.connect()
                await probe.close()
                await pool.open(wait=True, timeout=self.connect_timeout)
                await self._migrate(pool)
            except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as exc:
                await pool.close()
                raise ConfigError(
                    f"cannot reach database {self.describe()}: {self.say(exc)}; check that PostgreSQL "
                    "runs there and that HANDOFF_DATABASE_URL names the right host, port, user and database"
                ) from None
            self._pool = pool

    def serve(self) -> None:
        return None  # every replica serves from the same database

    async def _check_if_idle(self, conn: Any) -> None:
        """Before a connection is lent out: ping it if it sat unused a while (the server may have
        restarted since), not when it was just used; a ping per checkout would be a round trip more on
        every statement."""
        if time.monotonic() - self._used.get(id(conn), 0.0) > IDLE_CHECK:
            await conn.execute("SELECT 1")

    @contextlib.asynccontextmanager
    async def _connection(self, pool: AsyncConnectionPool[Any]) -> AsyncIterator[Any]:
        """A pooled connection, noted as just used when it goes back (so its next lending skips the
        ping)."""
        async with pool.connection() as conn:
            try:
                yield conn
            finally:
                self._used[id(conn)] = time.monotonic()
                if len(self._used) > 4 * self.max_size:  # connections the pool has replaced since
                    oldest = sorted(self._used, key=self._used.__getitem__)
                    for stale in oldest[: len(self._used) - self.max_size]:
                        del self._used[stale]

    async def _migrate(self, pool: AsyncConnectionPool[Any]) -> None:
        steps = MIGRATIONS["postgresql"]
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            if not self.migrate:
                found = await conn.execute("SELECT to_regclass('schema_version')")
                if (await found.fetchone() or (None,))[0] is None:
                    raise ConfigError(
                        f"database {self.describe()} holds no handoff data (no schema {self.schema!r}): "
                        "check the URL"
                    )
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER NOT NULL, at TIMESTAMPTZ NOT NULL)"
            )
            cursor = await conn.execute("SELECT max(version) FROM schema_version")
            row = await cursor.fetchone()
            version = (row[0] if row else None) or 0
            if not self.migrate and version < len(steps):
                raise ConfigError(
                    f"database {self.describe()} has handoff schema version {version}; start a server of "
                    f"this handoff once to migrate it to {len(steps)}"
                )
            if version > len(steps):
                raise ConfigError(
                    f"database {self.describe()} has handoff schema version {version}, newer than this "
                    f"handoff knows ({len(steps)}): upgrade handoff on every replica"
                )
            for number, step in enumerate(steps[version:], start=version + 1):
                for statement in filter(str.strip, step.split(";")):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version VALUES (%s, now())", (number,))
                logger.info("database %s: schema version %d", self.describe(), number)

    async def _ready(self) -> AsyncConnectionPool[Any]:
        if self._pool is None:
            try:
                await self.start()
            except ConfigError as exc:
                raise StorageUnavailable(str(exc)) from None
        assert self._pool is not None
        return self._pool

    async def run(self, step: Step[T]) -> T:
        pool = await self._ready()
        psycopg, psycopg_pool = _import()
        try:
            async with self._connection(pool) as conn:
                return await step(_PostgresTx(conn))
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self.unreachable(exc) from exc

    async def transaction(self, step: Step[T], *, redone: bool = False) -> T:
        pool = await self._ready()
        psycopg, psycopg_pool = _import()
        for attempt in range(_RETRIES + 1):
            try:
                async with self._connection(pool) as conn:
                    return await _in_transaction(conn, step, redone=redone)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt == _RETRIES:
                    raise
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
                raise self.unreachable(exc) from exc
        raise AssertionError("unreachable")

    async def bulk(self, step: Step[T], *, redone: bool = False) -> T:
        return await self.transaction(step, redone=redone)  # the wait is the server's, not the loop's

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        # One waiter per process for each name (the others queue here), then a session advisory lock on
        # a connection of its own, outside the pool: a lock is held across slow work (a token refresh
        # over HTTP) whose own reads and writes need pooled connections, and PostgreSQL drops the lock
        # by itself if this connection dies. At most LOCKS_AT_ONCE such connections per process.
        async with self._held(name), self._lockers:
            await self._ready()
            psycopg, _ = _import()
            try:
                conn = await self.connect()
            except (psycopg.OperationalError, OSError) as exc:
                raise self.unreachable(exc) from exc
            try:
                await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 1))", (name,))
                yield
            except psycopg.OperationalError as exc:
                raise self.unreachable(exc) from exc
            finally:
                with anyio.CancelScope(shield=True), contextlib.suppress(psycopg.Error):
                    await conn.close()  # closing ends the session, and the session's lock with it

    async def connect(self) -> Any:
        """A connection of its own, outside the pool (the bus listens on one)."""
        psycopg, _ = _import()
        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
        )

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _in_transaction(conn: psycopg.AsyncConnection[Any], step: Step[T], *, redone: bool = False) -> T:
    """Run `step` in one transaction, pipelined where this libpq can (14 and later): BEGIN travels
    with the first statement that waits for an answer, and what `Tx.send` queued with the COMMIT, so
    a transaction whose writes need no answer costs two round trips whatever their number."""
    psycopg, _ = _import()
    relax = "SET LOCAL synchronous_commit TO OFF"  # a `redone` batch's commit does not wait for the WAL
    if not psycopg.Pipeline.is_supported():
        async with conn.transaction():
            if redone:
                await conn.execute(relax)
            return await step(_PostgresTx(conn))
    try:
        async with conn.pipeline() as pipeline:
            await conn.execute("BEGIN")
            if redone:
                await conn.execute(relax)
            try:
                result = await step(_PostgresTx(conn, pipeline))
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await conn.execute("ROLLBACK")  # sent as the pipeline ends
                raise
            await conn.execute("COMMIT")
        return result  # the pipeline's end waited for the COMMIT, or raised what failed before it
    finally:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with anyio.CancelScope(shield=True), contextlib.suppress(psycopg.Error):
                await conn.execute("ROLLBACK")  # a statement failed, so the COMMIT never ran


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
