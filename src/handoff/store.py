"""The store: everything handoff keeps, on one backend, behind the interfaces the rest of it uses.

Three backends, one seam:

- memory (`Store.memory`): for tests and throwaway servers; a restart forgets everything;
- SQLite (`Store.sqlite`, the embedded default): one file, one server process;
- PostgreSQL (`Store.postgresql`): one database shared by every replica, with the bus on
  LISTEN/NOTIFY so a completion on one replica reaches the waiter on another.

`Store.open(where)` picks by what `where` is: a `postgresql://` URL or a file path. The ledger,
the vault, the audit log, the entries and the completion over SQL are the same code on SQLite
and PostgreSQL (`_sql.py` says what differs and who handles it).
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._completion import Completion, SqlCompletion, StepwiseCompletion
from ._db import ServedElsewhere, SQLiteDatabase, drive
from ._entries import Entries, MemoryEntries, SqlEntries
from ._errors import ConfigError
from ._locks import NamedLocks
from ._sql import Database
from ._standby import beside_a_sibling, stand_by
from .audit import AuditLog, MemoryAudit, SqlAudit
from .bus import Bus, LocalBus, PostgresBus
from .ledger import Ledger, Limits, MemoryLedger, SqlLedger
from .vault import Keyring, MemoryVault, SqlVault, Vault

DATABASE_URL = "HANDOFF_DATABASE_URL"
"""Environment variable naming the PostgreSQL database every replica shares."""


@dataclass
class Store:
    """The parts that keep state, on one backend, and the database they share (None in memory)."""

    ledger: Ledger
    vault: Vault
    audit: AuditLog
    entries: Entries
    completion: Completion
    bus: Bus
    database: Database | None = None
    _locks: NamedLocks = field(default_factory=NamedLocks, repr=False)

    @classmethod
    def of(
        cls,
        ledger: Ledger,
        vault: Vault,
        *,
        audit: AuditLog | None = None,
        entries: Entries | None = None,
        bus: Bus | None = None,
        completion: Completion | None = None,
    ) -> Store:
        """A store of parts given one by one (memory, or a mix); what is not given is kept in memory."""
        audit = audit or MemoryAudit()
        return cls(
            ledger,
            vault,
            audit=audit,
            entries=entries or MemoryEntries(),
            bus=bus or LocalBus(),
            completion=completion or StepwiseCompletion(ledger, vault, audit),
        )

    @classmethod
    def memory(
        cls, keyring: Keyring, *, ttl: float = 600.0, limits: Limits | None = None, **parts: Any
    ) -> Store:
        """Everything in process memory; `parts` (audit, entries, bus, completion) replace a default."""
        return cls.of(MemoryLedger(ttl=ttl, limits=limits), MemoryVault(keyring), **parts)

    @classmethod
    def sql(
        cls,
        db: Database,
        keyring: Keyring,
        *,
        ttl: float = 600.0,
        limits: Limits | None = None,
    ) -> Store:
        """Every part in `db`, completions in one transaction each."""
        ledger = SqlLedger(db, ttl=ttl, limits=limits)
        vault = SqlVault(db, keyring)
        audit = SqlAudit(db)
        bus: Bus = LocalBus()
        if db.dialect == "postgresql":
            from ._postgres import PostgresDatabase

            assert isinstance(db, PostgresDatabase)
            bus = PostgresBus(db, ledger)
        return cls(
            ledger,
            vault,
            audit=audit,
            entries=SqlEntries(db),
            completion=SqlCompletion(db, ledger, vault, audit, bus),
            bus=bus,
            database=db,
        )

    @classmethod
    def sqlite(cls, path: str | Path, keyring: Keyring, **options: float | Limits | None) -> Store:
        """One SQLite file; checks at once that `keyring` opens what the vault holds."""
        db = SQLiteDatabase(path)
        store = cls.sql(db, keyring, **options)  # type: ignore[arg-type]
        assert isinstance(store.vault, SqlVault)
        drive(store.vault.check_keys())  # every SQLite step can run synchronously
        return store

    @classmethod
    def postgresql(cls, url: str, keyring: Keyring, **options: float | Limits | None) -> Store:
        """One PostgreSQL database shared by every replica; connects (and checks the keyring) at
        `start`, when the server starts serving."""
        from ._postgres import PostgresDatabase

        return cls.sql(PostgresDatabase(url), keyring, **options)  # type: ignore[arg-type]

    @classmethod
    def open(cls, where: str | Path | Database, keyring: Keyring, **options: float | Limits | None) -> Store:
        """A `postgresql://` URL, a SQLite file path, or a database already opened."""
        if not isinstance(where, str | Path):
            return cls.sql(where, keyring, **options)  # type: ignore[arg-type]
        if isinstance(where, str) and where.startswith(("postgresql://", "postgres://")):
            return cls.postgresql(where, keyring, **options)
        if isinstance(where, str) and "://" in where:
            raise ConfigError(
                f"database {where.split('://')[0]}://… is not one handoff knows: give a postgresql:// URL "
                "or the path of a SQLite file"
            )
        return cls.sqlite(where, keyring, **options)

    @staticmethod
    def url_from_env() -> str | None:
        return os.environ.get(DATABASE_URL) or None

    def describe(self) -> str:
        return self.database.describe() if self.database is not None else "memory"

    @property
    def shared(self) -> bool:
        """Whether replicas share this store."""
        return self.database is not None and self.database.shared

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one caller at a time in every process on this store, across awaits."""
        if self.database is not None:
            return self.database.lock(name)
        return self._locks(name)

    async def start(self) -> None:
        """Connect, migrate and claim what serving needs; refuse to serve on a keyring that cannot open
        the vault, or on a SQLite file another server process uses. A dev key's file is noted in the
        database."""
        if self.database is None:
            return
        await self.database.start()
        try:
            self.database.serve()
        except ServedElsewhere as refused:
            if not isinstance(self.database, SQLiteDatabase) or not beside_a_sibling(refused):
                raise
            await stand_by(self.database.serve, refused, self.database.path)
        if isinstance(self.vault, SqlVault):
            if self.database.shared:
                await self.vault.check_keys()
            await self.vault.note_dev_key()  # for the command-line tools' hints

    async def stop(self) -> None:
        if self.database is not None:
            await self.database.stop()
