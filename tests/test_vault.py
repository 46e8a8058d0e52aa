from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from handoff import ConfigError, Keyring, MemoryVault, SqlVault, VaultError, generate_key
from handoff._db import Database

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def make_vault(request, tmp_path: Path):
    from handoff._postgres import PostgresDatabase

    db = (
        PostgresDatabase(request.getfixturevalue("database_url"))
        if request.param == "postgresql"
        else Database(tmp_path / "v.db")
    )

    def make(keyring: Keyring):
        return MemoryVault(keyring) if request.param == "memory" else SqlVault(db, keyring)

    yield make
    await db.stop()


async def test_round_trip_per_principal(make_vault):
    vault = make_vault(Keyring.parse(generate_key()))
    await vault.put("alice", "gh", "alice-token")
    await vault.put("bob", "gh", "bob-token")
    assert await vault.get("alice", "gh") == "alice-token"
    assert await vault.get("bob", "gh") == "bob-token"
    assert await vault.get("carol", "gh") is None
    assert await vault.names("alice") == ["gh"]
    assert await vault.delete("alice", "gh") and await vault.get("alice", "gh") is None


async def test_fresh_nonce_per_value():
    keyring = Keyring.parse(generate_key())
    a, b = keyring.seal("alice", "k", b"same"), keyring.seal("alice", "k", b"same")
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext


async def test_ciphertext_is_bound_to_principal_and_name():
    keyring = Keyring.parse(generate_key())
    sealed = keyring.seal("alice", "gh", b"value")
    assert keyring.open("alice", "gh", sealed) == b"value"
    for principal, name in (("bob", "gh"), ("alice", "other"), ("alic", "egh")):
        with pytest.raises(VaultError, match="integrity"):
            keyring.open(principal, name, sealed)


async def test_rotation_newest_encrypts_all_decrypt(tmp_path: Path):
    old, new = generate_key(), generate_key()
    db = Database(tmp_path / "v.db")
    await SqlVault(db, Keyring.parse(old)).put("alice", "k", "v1")
    both = SqlVault(db, Keyring.parse(f"{new},{old}"))
    assert await both.get("alice", "k") == "v1"
    assert (await both.rotate()).moved == 1
    assert (await both.rotate()).moved == 0
    assert await SqlVault(db, Keyring.parse(new)).get("alice", "k") == "v1"
    with pytest.raises(VaultError, match="not configured"):
        await SqlVault(db, Keyring.parse(old)).get("alice", "k")


def test_missing_or_bad_keys_fail_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("HANDOFF_VAULT_KEYS", raising=False)
    with pytest.raises(ConfigError, match="HANDOFF_VAULT_KEYS"):
        Keyring.from_env()
    with pytest.raises(ConfigError, match="not 32 bytes"):
        Keyring.parse("c2hvcnQ")
    key = generate_key()
    with pytest.raises(ConfigError, match="twice"):
        Keyring.parse(f"{key},{key}")


def test_dev_key_file_is_created_private_and_reused(tmp_path: Path):
    path = tmp_path / "dev" / "vault.key"
    first = Keyring.dev(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.dev(path).current == first.current
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Keyring.dev(path)


async def test_no_plaintext_in_the_sqlite_file(tmp_path: Path):
    db = Database(tmp_path / "v.db")
    await SqlVault(db, Keyring.parse(generate_key())).put("alice", "k", "PLAINTEXT-MARKER-123")
    db.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("v.db*"))
    assert b"alice" in data and b"PLAINTEXT-MARKER-123" not in data


async def test_read_copy_is_encrypted_local_writes_show_at_once_others_within_the_ttl(tmp_path: Path):
    import anyio

    keyring = Keyring.parse(generate_key())
    here = SqlVault(Database(tmp_path / "v.db"), keyring, read_cache_ttl=0.3)
    elsewhere = SqlVault(Database(tmp_path / "v.db"), keyring)  # another process, same file
    await here.put("alice", "k", "v1")
    assert await here.get("alice", "k") == "v1"
    assert all(
        isinstance(sealed.ciphertext, bytes) and b"v1" not in sealed.ciphertext
        for _, sealed in here._rows.values()
    )
    await here.put("alice", "k", "v2")  # this process's writes are visible at once
    assert await here.get("alice", "k") == "v2"
    await here.delete("alice", "k")
    assert await here.get("alice", "k") is None
    await here.put("alice", "k", "v3")
    assert await here.get("alice", "k") == "v3"
    await elsewhere.delete("alice", "k")  # another process's delete shows within the ttl
    await anyio.sleep(0.35)
    assert await here.get("alice", "k") is None
    uncached = SqlVault(Database(tmp_path / "v.db"), keyring, read_cache_ttl=0)
    await uncached.put("bob", "k", "b1")
    assert await uncached.get("bob", "k") == "b1" and uncached._rows == {}


def _make_key(path: str, keys) -> None:  # runs in another process
    from handoff.vault import dev_key

    keys.put(dev_key(path))


def test_dev_key_files_are_created_whole_once_even_by_processes_starting_together(tmp_path):
    import multiprocessing

    from handoff.vault import dev_key

    for trial in range(3):
        path = tmp_path / f"t{trial}" / "vault.key"
        keys = multiprocessing.Queue()
        starting = [multiprocessing.Process(target=_make_key, args=(str(path), keys)) for _ in range(4)]
        for process in starting:
            process.start()
        for process in starting:
            process.join(timeout=30)
            assert process.exitcode == 0
        won = {keys.get(timeout=5) for _ in starting}
        assert len(won) == 1 and dev_key(path) in won  # one key won, and every process uses it
        assert [p.name for p in path.parent.iterdir()] == ["vault.key"]  # no temporary file left
        assert path.stat().st_mode & 0o777 == 0o600


def test_an_empty_dev_key_file_is_named_as_the_problem(tmp_path):
    import pytest

    from handoff import ConfigError
    from handoff.vault import dev_key

    path = tmp_path / "pages.key"
    path.write_text("")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"pages\.key does not hold a key"):
        dev_key(path)


async def test_a_server_refuses_to_start_on_a_key_that_cannot_open_its_vault(tmp_path):
    import pytest

    from handoff import ConfigError, Handoff, Keyring, LocalIdentity, generate_key, hash_password

    old, new = generate_key(), generate_key()

    def start(keys: str) -> Handoff:
        return Handoff.embedded(
            public_url="http://127.0.0.1:9",
            db_path=tmp_path / "handoff.db",
            browser=LocalIdentity(hash_password("a passphrase")),
            secret_key=b"k" * 32,
            keyring=Keyring.parse(keys),
        )

    await start(old).vault.put("alice", "api_key", "sk-alice-123")
    with pytest.raises(ConfigError) as refused:
        start(new)  # the wrong key: refused at startup, nobody is asked again, nothing overwritten
    assert Keyring.parse(old).key_ids[0] in str(refused.value) and "wrong or missing" in str(refused.value)
    assert "sk-alice" not in str(refused.value)
    rotated = start(f"{new},{old}")  # the right way: new first, old still there
    assert (await rotated.vault.rotate()).moved == 1
    assert await start(new).vault.get("alice", "api_key") == "sk-alice-123"


async def test_rotation_names_every_unreadable_row_and_changes_nothing_unless_told(tmp_path):
    import pytest

    from handoff import Keyring, SqlVault, VaultError, generate_key
    from handoff._db import Database

    db = Database(tmp_path / "v.db")
    lost, kept, new = generate_key(), generate_key(), generate_key()
    await SqlVault(db, Keyring.parse(lost)).put("bob", "token", "bob-secret")
    await SqlVault(db, Keyring.parse(kept)).put("alice", "token", "alice-secret")
    vault = SqlVault(db, Keyring.parse(f"{new},{kept}"))
    with pytest.raises(VaultError) as stopped:
        await vault.rotate()
    assert "'token' of bob" in str(stopped.value) and "nothing was changed" in str(stopped.value)
    assert await vault.get("alice", "token") == "alice-secret"  # still under the kept key
    rotation = await vault.rotate(drop_unreadable=True)
    assert rotation.moved == 1
    assert [(row.principal, row.name, row.key_id) for row in rotation.dropped] == [
        ("bob", "token", Keyring.parse(lost).current)
    ]
    assert await SqlVault(db, Keyring.parse(new)).get("alice", "token") == "alice-secret"
    assert await vault.names("bob") == []
