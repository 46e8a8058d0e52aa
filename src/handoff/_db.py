"""The embedded database: one SQLite file shared by the ledger, the vault, the audit log and the kept
entries, for one server process.

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

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio

from ._errors import ConfigError, StorageUnavailable
from ._locks import NamedLocks
from ._sql import MIGRATIONS, Rows, Step

T = TypeVar("T")
logger = logging.getLogger("handoff.db")

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


def drive(step: Awaitable[T]) -> T:
    """Run a coroutine that never waits to its end, synchronously.

    Steps over a SQLite `Tx` await only the Tx, whose methods do their work and return without ever
    suspending; so a step runs under the connection lock, or in a worker thread, with no event loop.
    A step that does wait on something else is a bug, and is refused rather than half-run.
    """
    coroutine = cast(Coroutine[Any, Any, T], step)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError("a SQLite step waited on something other than the database; steps must not")


class SQLiteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        cursor = self.conn.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        return Rows(rows, cursor.rowcount)

    async def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    async def lock(self, name: str) -> None:
        return None  # BEGIN IMMEDIATE has let one writer in already


_HOLDER_WAITS = 100
"""Times (10 ms apart) a refused server reads the serving one's pid before saying it does not know it."""


def _run(conn: sqlite3.Connection, step: Step[T], transaction: bool) -> T:
    tx = SQLiteTx(conn)
    if not transaction:
        return drive(step(tx))
    conn.execute("BEGIN IMMEDIATE")
    try:
        result: T = drive(step(tx))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back on its own (a full disk does)
            conn.execute("ROLLBACK")
        raise
    return result


class SQLiteDatabase:
    """A SQLite file opened once, used by one process; statements run inline under a lock."""

    dialect = "sqlite"
    shared = False

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        """`durable=False` (`synchronous=NORMAL`) trades the last commits before a power cut for speed:
        for tests and benchmarks, never for a server whose pages promise "Saved"."""
        self.path = Path(path)
        self.durable = durable
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
            self._migrate()
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open database {self.path}: {exc}; check the path and permissions"
            ) from exc
        self._lock = threading.Lock()
        self._held = NamedLocks()
        self._serving: int | None = None

    def _migrate(self) -> None:
        steps = MIGRATIONS["sqlite"]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = self._conn.execute("PRAGMA user_version").fetchone()
            if version > len(steps):
                raise ConfigError(
                    f"database {self.path} has schema version {version}, newer than this handoff knows "
                    f"({len(steps)}): upgrade handoff"
                )
            for step in steps[version:]:
                for statement in filter(str.strip, step.split(";")):
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {len(steps)}")
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def describe(self) -> str:
        return str(self.path)

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the raw connection, synchronously, holding the connection lock (tools and tests).

        A database that cannot be written or reached (disk full, read-only, I/O error, gone)
        raises `StorageUnavailable`; a broken statement or constraint stays the error it is.
        """
        with self._lock:
            return self._guarded(fn)

    def _guarded(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return fn(self._conn)
        except (sqlite3.OperationalError, sqlite3.ProgrammingError) as exc:
            if not _unavailable(exc):
                raise
            logger.error("database %s cannot be used right now: %s", self.path, exc)
            raise StorageUnavailable(f"database {self.path} cannot be used right now: {exc}") from exc

    def now(self, step: Step[T], *, transaction: bool = False) -> T:
        """Run `step` synchronously (on SQLite every step can): for start-up checks and the CLI."""
        return self.call(lambda conn: _run(conn, step, transaction))

    async def run(self, step: Step[T]) -> T:
        return self.now(step)

    async def transaction(self, step: Step[T]) -> T:
        return self.now(step, transaction=True)

    async def bulk(self, step: Step[T], *, redone: bool = False) -> T:
        if not (redone and self.durable):
            return await anyio.to_thread.run_sync(lambda: self.now(step, transaction=True))

        def relaxed(conn: sqlite3.Connection) -> T:
            conn.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: the commit does not fsync
            try:
                return _run(conn, step, True)
            finally:
                conn.execute("PRAGMA synchronous=FULL")

        return await anyio.to_thread.run_sync(lambda: self.call(relaxed))

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        # One process serves from a SQLite file (`serve` makes sure), so a lock of this process will do.
        return self._held(name)

    async def start(self) -> None:
        return None  # opened and migrated already

    def serve(self) -> None:
        """Claim the file for this server process, or refuse: two servers on one SQLite file would not
        hear each other's completions (a person's browser on one, the waiting client on the other)."""
        if self._serving is not None or str(self.path) == ":memory:":
            return
        marker = self.path.with_name(self.path.name + ".serving")
        fd = os.open(marker, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = ""
            for _ in range(_HOLDER_WAITS):  # the holder writes its pid just after taking the lock
                other = os.pread(fd, 32, 0).decode(errors="replace").strip()
                if other:
                    break
                time.sleep(0.01)
            other = other or "another process"
            os.close(fd)
            raise ServedElsewhere(
                f"another handoff server (pid {other}) is serving from {self.path}; several processes "
                "cannot share a SQLite file (each would miss completions made in the others). Run one "
                "process, or run every replica on PostgreSQL: set HANDOFF_DATABASE_URL=postgresql://…",
                holder=int(other) if other.isdigit() else None,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._serving = fd

    async def stop(self) -> None:
        """Give up the claim `serve` took (the connection stays open for whoever still reads)."""
        if self._serving is not None:
            os.close(self._serving)
            self._serving = None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        if self._serving is not None:
            os.close(self._serving)
            self._serving = None


class ServedElsewhere(ConfigError):
    """Another process serves from this SQLite file (`holder`: its pid, when it wrote it)."""

    def __init__(self, message: str, *, holder: int | None) -> None:
        super().__init__(message)
        self.holder = holder


Database = SQLiteDatabase
"""The embedded database (the name `Handoff.embedded` and the tools know it by)."""
