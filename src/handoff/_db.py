"""One SQLite file shared by the ledger, the vault, the audit log and the kept entries.

Every statement handoff runs is a point read or write on an indexed column.
The file is in WAL mode with `synchronous=FULL`: each commit is flushed to
disk before it returns, so a page that says "Saved" means saved even if the
power fails a moment later (with `NORMAL` the last commits before a power cut
can vanish). That costs an fsync per commit, a few hundred microseconds on a
typical disk (`bench/run.py ledger` measures both in one run); reads cost
microseconds. Calls run inline, serialized by a lock so other threads (a CLI,
a benchmark) can share the connection. Every state change is one transaction,
so nothing is ever half-written.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio

from ._errors import ConfigError, StorageUnavailable

T = TypeVar("T")
logger = logging.getLogger("handoff.db")

_SCHEMA = """
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


_UNAVAILABLE = (
    "full",
    "readonly",
    "read-only",
    "disk i/o",
    "unable to open",
    "locked",
    "closed database",
    "malformed",
    "not a database",
)


def _unavailable(exc: sqlite3.Error) -> bool:
    """Whether `exc` says the database cannot be used now, rather than that a statement is wrong."""
    text = str(exc).lower()
    return any(sign in text for sign in _UNAVAILABLE)


class Database:
    """A SQLite file opened once, used from one worker thread at a time."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        """`durable=False` (`synchronous=NORMAL`) trades the last commits before a power cut for speed:
        for tests and benchmarks, never for a server whose pages promise "Saved"."""
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the folder for database {self.path}: {exc}") from exc
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open database {self.path}: {exc}; check the path and permissions"
            ) from exc
        self._lock = threading.Lock()

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the connection, synchronously, holding the connection lock.

        A database that cannot be written or reached (disk full, read-only, I/O error, gone)
        raises `StorageUnavailable`; a broken statement or constraint stays the error it is.
        """
        with self._lock:
            try:
                return fn(self._conn)
            except (sqlite3.OperationalError, sqlite3.ProgrammingError) as exc:
                if not _unavailable(exc):
                    raise
                logger.error("database %s cannot be used right now: %s", self.path, exc)
                raise StorageUnavailable(f"database {self.path} cannot be used right now: {exc}") from exc

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the connection. Async so a backend that does wait can share the interface."""
        return self.call(fn)

    async def run_in_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a worker thread: for bulk work (a sweep batch) that must not hold up the loop."""
        return await anyio.to_thread.run_sync(self.call, fn)

    def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
        """Wrap `fn` in BEGIN IMMEDIATE … COMMIT, rolling back on any exception."""

        def wrapped(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back on its own (a full disk does)
                    conn.execute("ROLLBACK")
                raise
            return result

        return wrapped

    def close(self) -> None:
        with self._lock:
            self._conn.close()
