"""The SQL seam: what the ledger, the vault, the audit log, the entries and the completion say to a
database, whichever it is.

Each of them is written once, as small async steps over a `Tx` (a connection inside a
statement or a transaction), in the SQL that SQLite and PostgreSQL share: `?` placeholders,
`INSERT … ON CONFLICT`, `DELETE … RETURNING`, a `rowid` insertion order (PostgreSQL's
tables carry a column of that name). Two things differ and are the database's to do:

- `Tx.lock(name)` serializes the transactions that take the same name until they end: on
  PostgreSQL an advisory transaction lock, so a count-then-insert (a rate limit) or a sweep
  holds across replicas; on SQLite nothing, since `BEGIN IMMEDIATE` already lets one writer in.
- `Tx.send` runs a statement whose rows nobody reads: PostgreSQL pipelines it with the next
  statement that needs an answer (or the commit), so a completion's writes cost one round trip.
- `Database.lock(name)` is held across awaits (a token refresh over HTTP) by one holder in all
  processes that share the database.

The schema is versioned (`MIGRATIONS`, one list per dialect, applied in order under a lock, so
replicas starting together migrate once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass
class Rows:
    """What a statement gave: its rows (all fetched) and how many rows it changed."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


class Tx(Protocol):
    """A connection inside one statement (`Database.run`) or one transaction (`Database.transaction`)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...

    async def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement whose rows are not needed. In a PostgreSQL transaction it waits for nothing:
        it travels with the next statement that needs an answer, or with the commit, in one round trip
        (a failure then surfaces there, and the transaction rolls back as usual)."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def lock(self, name: str) -> None:
        """Wait until no other open transaction holds `name`, then hold it until this one ends."""
        ...


Step = Callable[[Tx], Awaitable[T]]


class Database(Protocol):
    """Where the SQL stores keep their rows: SQLite (`SQLiteDatabase`) or PostgreSQL."""

    dialect: str
    """"sqlite" or "postgresql"."""

    shared: bool
    """Whether other processes (replicas) may use the same database at the same time."""

    async def run(self, step: Step[T]) -> T:
        """Run `step` outside a transaction: for reads and single statements."""
        ...

    async def transaction(self, step: Step[T]) -> T:
        """Run `step` in one transaction: all of it is kept, or (on any exception) none of it."""
        ...

    async def bulk(self, step: Step[T], *, redone: bool = False) -> T:
        """Like `transaction`, for a longer batch (a sweep) that must not hold up the event loop.
        `redone`: a batch that is simply done again when lost (a sweep's expiries, whose records stay
        overdue), so its commit does not wait for the disk; a power cut may undo it, never half of it."""
        ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one caller at a time across every process on this database, across awaits."""
        ...

    async def start(self) -> None:
        """Connect and migrate, if not done yet; raises `ConfigError` naming the database (never a
        password) when it cannot be reached."""
        ...

    def serve(self) -> None:
        """Claim the database for a serving process, or raise `ConfigError` saying why it may not
        (a SQLite file serves one process; PostgreSQL serves any number)."""
        ...

    async def stop(self) -> None:
        """Let go of what `start` took (connections, the claim on a file); `start` again may follow."""
        ...

    def describe(self) -> str:
        """Where the database is, for messages: a path, or a URL without its password."""
        ...


_SQLITE_V1 = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    client_id TEXT,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    completed_at REAL,
    key TEXT NOT NULL DEFAULT '',
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_principal ON records (principal, status, expires_at);
CREATE INDEX IF NOT EXISTS records_by_created ON records (principal, created_at);
CREATE INDEX IF NOT EXISTS records_by_key ON records (principal, key, created_at);
CREATE INDEX IF NOT EXISTS records_pending_expiry ON records (status, expires_at);
CREATE TABLE IF NOT EXISTS claimed (
    id TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    principal TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (principal, name)
);
CREATE TABLE IF NOT EXISTS entries (
    space TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (space, key)
);
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    principal TEXT,
    client_id TEXT,
    record_id TEXT,
    remote TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
CREATE TABLE IF NOT EXISTS outbox (
    record_id TEXT PRIMARY KEY,
    at REAL NOT NULL
);
"""

_POSTGRESQL_V1 = """
CREATE TABLE records (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    client_id TEXT,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    completed_at DOUBLE PRECISION,
    key TEXT NOT NULL DEFAULT '',
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX records_by_principal ON records (principal, status, expires_at);
CREATE INDEX records_by_created ON records (principal, created_at);
CREATE INDEX records_by_key ON records (principal, key, created_at);
CREATE INDEX records_pending_expiry ON records (status, expires_at);
CREATE TABLE claimed (
    id TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE secrets (
    principal TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (principal, name)
);
CREATE TABLE entries (
    space TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (space, key)
);
CREATE INDEX entries_by_expiry ON entries (expires_at);
CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    event TEXT NOT NULL,
    principal TEXT,
    client_id TEXT,
    record_id TEXT,
    remote TEXT,
    detail TEXT
);
CREATE INDEX audit_by_time ON audit (at);
CREATE TABLE outbox (
    record_id TEXT PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL
);
"""

_V2 = """
CREATE INDEX IF NOT EXISTS records_by_completion ON records (completed_at);
"""
"""Version 2: what finished since a moment, read by a replica catching up after its bus reconnects."""

_V3 = """
ALTER TABLE records ADD COLUMN trace TEXT NOT NULL DEFAULT ''
"""
"""Version 3: the W3C traceparent of the tool call that made the link, so that the browser's steps and
the retry they wake join its trace ("" when nothing traced the call)."""

MIGRATIONS: dict[str, list[str]] = {
    "sqlite": [_SQLITE_V1, _V2, _V3],
    "postgresql": [_POSTGRESQL_V1, _V2, _V3],
}
"""Schema steps by dialect; version N is the first N steps. Never edit a step that shipped: add one."""

_VERSION_QUERY = {"sqlite": "PRAGMA user_version", "postgresql": "SELECT max(version) FROM schema_version"}


async def schema_version(tx: Tx, dialect: str) -> int:
    """The schema version the database holds (0 when it holds none)."""
    row = (await tx.execute(_VERSION_QUERY[dialect])).one()
    return int(row[0] or 0) if row else 0
