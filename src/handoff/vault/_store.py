"""The vault: per-principal named secrets, encrypted at rest."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from .._command import command
from .._entries import FOREVER, SqlEntries
from .._errors import ConfigError, VaultError
from .._sql import Database, Tx
from ._keyring import Keyring, Sealed

DEV_KEY_FILES = "vault.dev-key-file"
"""Entries space: by key id, the dev key file that holds that key (`{"path": ...}`), noted by a server
in dev mode, so that a command-line tool can say which file opens the vault."""


class Unreadable(NamedTuple):
    """A secret that no configured key opens: whose, which one, and the key it was sealed with."""

    principal: str
    name: str
    key_id: str

    def __str__(self) -> str:
        return f"{self.name!r} of {self.principal} (key {self.key_id})"


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: how many secrets it re-encrypted, and which unreadable ones it deleted."""

    moved: int
    dropped: tuple[Unreadable, ...] = ()


class Vault(Protocol):
    """Where secrets live. Values are plaintext only in memory, never at rest."""

    keyring: Keyring

    async def put(self, principal: str, name: str, value: str) -> None: ...

    async def get(self, principal: str, name: str) -> str | None: ...

    async def delete(self, principal: str, name: str) -> bool: ...

    async def names(self, principal: str) -> list[str]: ...

    async def rotate(self, *, drop_unreadable: bool = False) -> Rotation: ...


class MemoryVault:
    """Ciphertexts in a dict: the same crypto as SQLite, without the file."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._rows: dict[tuple[str, str], Sealed] = {}

    async def put(self, principal: str, name: str, value: str) -> None:
        self._rows[(principal, name)] = self.keyring.seal(principal, name, value.encode())

    async def get(self, principal: str, name: str) -> str | None:
        sealed = self._rows.get((principal, name))
        return None if sealed is None else self.keyring.open(principal, name, sealed).decode()

    async def delete(self, principal: str, name: str) -> bool:
        return self._rows.pop((principal, name), None) is not None

    async def names(self, principal: str) -> list[str]:
        return sorted(n for p, n in self._rows if p == principal)

    async def rotate(self, *, drop_unreadable: bool = False) -> Rotation:
        fresh, unreadable = {}, []
        for (p, n), sealed in self._rows.items():
            if sealed.key_id == self.keyring.current:
                continue
            try:
                fresh[(p, n)] = self.keyring.seal(p, n, self.keyring.open(p, n, sealed))
            except VaultError:
                unreadable.append(Unreadable(p, n, sealed.key_id))
        if unreadable and not drop_unreadable:
            raise VaultError(_cannot_open(unreadable))
        for row in unreadable:
            del self._rows[(row.principal, row.name)]
        self._rows.update(fresh)
        return Rotation(len(fresh), tuple(unreadable))


def _cannot_open(unreadable: list[Unreadable]) -> str:
    return (
        f"nothing was changed: {len(unreadable)} secret(s) cannot be opened with the configured keys: "
        f"{'; '.join(map(str, unreadable))}. Add their key back, or pass --drop-unreadable to delete them"
    )


async def write_row(tx: Tx, principal: str, name: str, sealed: Sealed) -> None:
    await tx.send(
        "INSERT INTO secrets (principal, name, key_id, nonce, ciphertext, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (principal, name) DO UPDATE SET "
        "key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
        "updated_at = excluded.updated_at",
        (principal, name, sealed.key_id, sealed.nonce, sealed.ciphertext, time.time()),
    )


class SqlVault:
    """Ciphertexts in the `secrets` table of the handoff database.

    Rows read are kept, still encrypted, for `read_cache_ttl` seconds, so a burst of gated calls
    does not query the database each time; this process's writes update the copy at once, and a
    write by another process is seen within `read_cache_ttl` (0 turns the copy off). The default is
    1 s on a database of one process (SQLite) and 0 on one that replicas share: a key a person
    replaced on one replica is the key every replica uses from then on.
    """

    def __init__(self, db: Database, keyring: Keyring, *, read_cache_ttl: float | None = None) -> None:
        self.db = db
        self.keyring = keyring
        self.read_cache_ttl = read_cache_ttl if read_cache_ttl is not None else (0.0 if db.shared else 1.0)
        self._rows: dict[tuple[str, str], tuple[float, Sealed]] = {}

    async def put(self, principal: str, name: str, value: str) -> None:
        sealed = self.keyring.seal(principal, name, value.encode())
        self._rows.pop((principal, name), None)
        await self.db.run(lambda tx: write_row(tx, principal, name, sealed))
        self._remember(principal, name, sealed)

    def sealed_write(
        self, principal: str, name: str, value: str
    ) -> tuple[Sealed, Callable[[Tx], Awaitable[None]]]:
        """`value` sealed, and the statement that stores it, for a caller's own transaction; call
        `stored(principal, name, sealed)` once that transaction committed."""
        sealed = self.keyring.seal(principal, name, value.encode())
        self._rows.pop((principal, name), None)
        return sealed, lambda tx: write_row(tx, principal, name, sealed)

    def stored(self, principal: str, name: str, sealed: Sealed) -> None:
        self._remember(principal, name, sealed)

    async def get(self, principal: str, name: str) -> str | None:
        cached = self._rows.get((principal, name))
        if cached is not None and cached[0] > time.monotonic():
            return self.keyring.open(principal, name, cached[1]).decode()

        async def read(tx: Tx) -> tuple[str, bytes, bytes] | None:
            row = (
                await tx.execute(
                    "SELECT key_id, nonce, ciphertext FROM secrets WHERE principal = ? AND name = ?",
                    (principal, name),
                )
            ).one()
            return None if row is None else (row[0], bytes(row[1]), bytes(row[2]))

        row = await self.db.run(read)
        if row is None:
            self._rows.pop((principal, name), None)
            return None
        sealed = Sealed(*row)
        value = self.keyring.open(principal, name, sealed).decode()
        self._remember(principal, name, sealed)  # only rows that opened: a tampered row is read afresh
        return value

    def _remember(self, principal: str, name: str, sealed: Sealed) -> None:
        if self.read_cache_ttl <= 0:
            return
        if len(self._rows) >= 10_000:
            self._rows.clear()
        self._rows[(principal, name)] = (time.monotonic() + self.read_cache_ttl, sealed)

    async def delete(self, principal: str, name: str) -> bool:
        self._rows.pop((principal, name), None)

        async def remove(tx: Tx) -> bool:
            gone = await tx.execute("DELETE FROM secrets WHERE principal = ? AND name = ?", (principal, name))
            return gone.rowcount > 0

        return await self.db.run(remove)

    async def names(self, principal: str) -> list[str]:
        async def read(tx: Tx) -> list[str]:
            rows = await tx.execute(
                "SELECT name FROM secrets WHERE principal = ? ORDER BY name", (principal,)
            )
            return [r[0] for r in rows]

        return await self.db.run(read)

    async def check_keys(self) -> None:
        """Refuse to start on a keyring that cannot open what the vault holds.

        A wrong or missing key would otherwise look like "no secret stored" to every user, and each
        would be asked again and their old value overwritten.
        """
        missing = sorted(await sealing_keys(self.db) - set(self.keyring.key_ids))
        if missing:
            keys = ["--dev-key-file", str(self.keyring.dev_file)] if self.keyring.dev_file else []
            drop = command("vault", "rotate", "--db", self.db.describe(), *keys, "--drop-unreadable")
            raise ConfigError(
                f"the vault holds secrets encrypted with key id {', '.join(missing)}, but the configured "
                f"keys are {', '.join(self.keyring.key_ids)}: the key is wrong or missing. Put that key "
                f"back in HANDOFF_VAULT_KEYS (after a new one, to rotate), or, to give those secrets up "
                f"for good, run {drop}"
            )

    async def note_dev_key(self) -> None:
        """In dev mode, note in the database which file holds the key that seals new secrets."""
        if self.keyring.dev_file is None:
            return
        where = {"path": str(self.keyring.dev_file.resolve())}
        await SqlEntries(self.db).put(DEV_KEY_FILES, self.keyring.current, where, expires_at=FOREVER)

    async def rotate(self, *, drop_unreadable: bool = False) -> Rotation:
        """Re-encrypt every secret under the newest key, in one transaction.

        Rows that no configured key opens stop the rotation before anything changes, with every such
        row named (whose, which secret, which key); `drop_unreadable=True` deletes them instead.
        """
        keyring = self.keyring

        async def reseal(tx: Tx) -> Rotation:
            rows = (
                await tx.execute(
                    "SELECT principal, name, key_id, nonce, ciphertext FROM secrets WHERE key_id != ?",
                    (keyring.current,),
                )
            ).rows
            opened, unreadable = [], []
            for principal, name, key_id, nonce, ct in rows:
                try:
                    sealed = Sealed(key_id, bytes(nonce), bytes(ct))
                    opened.append((principal, name, keyring.open(principal, name, sealed), bytes(nonce)))
                except VaultError:
                    unreadable.append((Unreadable(principal, name, key_id), bytes(nonce)))
            if unreadable and not drop_unreadable:
                raise VaultError(_cannot_open([row for row, _ in unreadable]))
            # Each change only if the row is still the one read (its nonce is new with every write): a
            # value someone saved meanwhile, on this replica or another, is newer, and stays.
            dropped = []
            for row, nonce in unreadable:
                deleted = await tx.execute(
                    "DELETE FROM secrets WHERE principal = ? AND name = ? AND nonce = ?",
                    (row.principal, row.name, nonce),
                )
                if deleted.rowcount:
                    dropped.append(row)
            moved = 0
            for principal, name, plain, nonce in opened:
                fresh = keyring.seal(principal, name, plain)
                changed = await tx.execute(
                    "UPDATE secrets SET key_id = ?, nonce = ?, ciphertext = ? "
                    "WHERE principal = ? AND name = ? AND nonce = ?",
                    (fresh.key_id, fresh.nonce, fresh.ciphertext, principal, name, nonce),
                )
                moved += changed.rowcount
            return Rotation(moved, tuple(dropped))

        self._rows.clear()
        return await self.db.transaction(reseal)


async def sealing_keys(db: Database) -> set[str]:
    """The ids of the keys that the secrets in `db` are encrypted with."""
    rows = await db.run(lambda tx: tx.execute("SELECT DISTINCT key_id FROM secrets"))
    return {row[0] for row in rows}


async def dev_key_files(db: Database, key_ids: Iterable[str]) -> dict[str, Path]:
    """Of `key_ids`, those noted in `db` as kept in a dev key file that is still there and still holds
    that key: the file, by key id."""
    entries = SqlEntries(db)
    found = {}
    for key_id in key_ids:
        noted = await entries.get(DEV_KEY_FILES, key_id)
        path = Path(noted["path"]) if noted else None
        if path is None or not path.is_file():
            continue
        try:
            if Keyring.dev(path).current == key_id:
                found[key_id] = path
        except ConfigError:  # readable by others, or damaged: not a file to point to
            continue
    return found
