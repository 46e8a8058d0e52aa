from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from handoff import Keyring, SqlVault, generate_key
from handoff._db import Database
from handoff.audit import Event, SqlAudit
from handoff.cli import main


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"])
def test_walkthrough_runs_the_whole_story_and_exits_zero(framework: str):
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli", "demo", "--walkthrough", "--framework", framework],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("written with FastMCP" in done.stdout) == (framework == "fastmcp")
    for line in (
        "-32042",
        "Bob is refused",
        "notifications/elicitation/complete arrived",
        "Forecast for Lisbon",
        "InputRequiredResult with one elicitation/create in url mode",
        "the retry is held open",
        "Forecast for Porto",
        "replay refused",
        "Connect Demo Calendar",
        "Next meeting: design review",
        "Paid 120.00 EUR to ACME Tools Ltd.",
        "the approval was used up",
        "Every step held.",
    ):
        assert line in done.stdout
    assert "✗" not in done.stdout
    assert "wk_demo_1234567890" not in done.stdout


def test_audit_command_prints_and_filters(tmp_path: Path):
    db = Database(tmp_path / "h.db")
    audit = SqlAudit(db)

    async def fill() -> None:
        await audit.write(Event.CREATED, principal="alice", record_id="r" * 32, remote="127.0.0.1")
        await audit.write(
            Event.IDENTITY_MISMATCH, principal="bob", record_id="r" * 32, detail="link belongs to alice"
        )

    anyio.run(fill)
    runner = CliRunner()
    out = runner.invoke(main, ["audit", "--db", str(tmp_path / "h.db")])
    assert out.exit_code == 0 and "created" in out.output and "identity_mismatch" in out.output
    only_bob = runner.invoke(
        main, ["audit", "--db", str(tmp_path / "h.db"), "--principal", "bob", "--format", "json"]
    )
    lines = [json.loads(x) for x in only_bob.output.splitlines()]
    assert [x["event"] for x in lines] == ["identity_mismatch"]
    missing = runner.invoke(main, ["audit", "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code != 0 and "does not exist" in missing.output


def test_keygen_and_vault_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    runner = CliRunner()
    old = runner.invoke(main, ["keygen"]).output.strip()
    Keyring.parse(old)  # a valid key
    db_path = tmp_path / "h.db"
    anyio.run(SqlVault(Database(db_path), Keyring.parse(old)).put, "alice", "k", "v")
    new = generate_key()
    monkeypatch.setenv("HANDOFF_VAULT_KEYS", f"{new},{old}")
    out = runner.invoke(main, ["vault", "rotate", "--db", str(db_path)])
    assert out.exit_code == 0 and "re-encrypted 1 secret" in out.output
    assert anyio.run(SqlVault(Database(db_path), Keyring.parse(new)).get, "alice", "k") == "v"
    monkeypatch.setenv("HANDOFF_VAULT_KEYS", "")
    out = runner.invoke(main, ["vault", "rotate", "--db", str(db_path)])
    assert out.exit_code != 0 and "HANDOFF_VAULT_KEYS" in out.output


def test_demo_refuses_a_public_address():
    out = CliRunner().invoke(main, ["demo", "--host", "0.0.0.0"], env={**os.environ})
    assert out.exit_code != 0 and "loopback" in out.output


def test_connections_list_and_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from handoff.oauth import Connections, TokenSet

    key = generate_key()
    monkeypatch.setenv("HANDOFF_VAULT_KEYS", key)
    db_path = tmp_path / "h.db"
    store = Connections(SqlVault(Database(db_path), Keyring.parse(key), read_cache_ttl=0))
    anyio.run(
        store.store,
        "alice",
        "github",
        TokenSet(
            "ghu_SECRET_ACCESS",
            refresh_token="ghr_SECRET_REFRESH",
            expires_at=2_000_000_000.0,
            scope="repo read:user",
        ),
    )
    anyio.run(store.vault.put, "alice", "weather_api_key", "not a connection")
    runner = CliRunner()
    listed = runner.invoke(main, ["connections", "list", "--db", str(db_path), "--user", "alice"])
    assert listed.exit_code == 0 and "github" in listed.output and "repo read:user" in listed.output
    assert "2033-05-18" in listed.output and "refreshable" in listed.output
    assert "SECRET" not in listed.output and "weather" not in listed.output
    revoked = runner.invoke(
        main, ["connections", "revoke", "--db", str(db_path), "--user", "alice", "github"]
    )
    assert revoked.exit_code == 0
    assert anyio.run(store.load, "alice", "github") is None
    again = runner.invoke(main, ["connections", "revoke", "--db", str(db_path), "--user", "alice", "github"])
    assert again.exit_code != 0 and "no connection" in again.output
    empty = runner.invoke(main, ["connections", "list", "--db", str(db_path), "--user", "alice"])
    assert "alice has no connections." in empty.output


def test_passphrase_command_keeps_only_a_private_hash(tmp_path):
    from handoff import LocalIdentity

    path = tmp_path / "local" / "passphrase"
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli", "passphrase", str(path)],
        input="a long local passphrase\na long local passphrase\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert path.stat().st_mode & 0o777 == 0o600 and "a long local passphrase" not in path.read_text()
    assert LocalIdentity.from_file(path).verify("local", "a long local passphrase")
    differ = subprocess.run(
        [sys.executable, "-m", "handoff.cli", "passphrase", str(tmp_path / "other")],
        input="one passphrase\nanother one\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert differ.returncode == 1 and "differ" in differ.stderr and not (tmp_path / "other").exists()


def test_vault_rotate_stops_on_unreadable_rows_and_can_drop_them(tmp_path):
    from handoff._db import Database

    db_path = tmp_path / "h.db"
    lost, new = generate_key(), generate_key()
    anyio.run(SqlVault(Database(db_path), Keyring.parse(lost)).put, "bob", "token", "x")
    env = {**os.environ, "HANDOFF_VAULT_KEYS": new}
    stopped = subprocess.run(
        [sys.executable, "-m", "handoff.cli", "vault", "rotate", "--db", str(db_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (
        stopped.returncode == 1 and "'token' of bob" in stopped.stderr and "Traceback" not in stopped.stderr
    )
    dropped = subprocess.run(
        [sys.executable, "-m", "handoff.cli", "vault", "rotate", "--db", str(db_path), "--drop-unreadable"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dropped.returncode == 0, dropped.stderr
    assert f"deleted 'token' of bob (key {Keyring.parse(lost).current})" in dropped.stdout
    assert "re-encrypted 0 secret(s)" in dropped.stdout


@pytest.mark.anyio
async def test_the_wrong_key_hint_is_a_command_that_runs_as_written(tmp_path):
    """A server started on another dev key stops, naming the command that gives the old secrets up;
    pasted into a shell here, it runs, and the server starts afterwards."""
    import re
    import shlex

    from handoff import ConfigError

    db_path = tmp_path / "with space" / "h.db"
    await SqlVault(Database(db_path), Keyring.dev(tmp_path / "old.key")).put("bob", "token", "x")
    (tmp_path / "old.key").unlink()  # the key file is lost: a new one is made
    vault = SqlVault(Database(db_path), Keyring.dev(tmp_path / "old.key"))
    with pytest.raises(ConfigError) as refused:
        await vault.check_keys()
    hint = re.search(r"`([^`]*--drop-unreadable)`", str(refused.value))
    assert hint, str(refused.value)
    words = shlex.split(hint.group(1))
    assert words[words.index("--db") + 1] == str(db_path)
    assert words[words.index("--dev-key-file") + 1] == str(tmp_path / "old.key")
    ran = await anyio.run_process(["bash", "-c", hint.group(1)], check=False)
    assert ran.returncode == 0, ran.stderr.decode()
    assert "deleted 'token' of bob" in ran.stdout.decode()
    await SqlVault(Database(db_path), Keyring.dev(tmp_path / "old.key")).check_keys()


def test_hints_name_the_command_as_it_runs_here(tmp_path):
    """`handoff` when PATH finds this one; else the script of this environment, as a path."""
    script = Path(sys.executable).parent / "handoff"
    ask = [sys.executable, "-c", "from handoff._command import command; print(command('logout', 'a b'))"]
    on_path = {**os.environ, "PATH": f"{script.parent}{os.pathsep}{os.environ['PATH']}"}
    found = subprocess.run(ask, env=on_path, capture_output=True, text=True, timeout=30, check=True)
    assert found.stdout.strip() == "`handoff logout 'a b'`"
    elsewhere = {**os.environ, "PATH": "/usr/bin:/bin"}
    off = subprocess.run(
        ask, env=elsewhere, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True
    )
    assert off.stdout.strip() == f"`{script} logout 'a b'`"
    relative = subprocess.run(
        ask, env=elsewhere, cwd=script.parent.parent, capture_output=True, text=True, timeout=30, check=True
    )
    assert relative.stdout.strip() == f"`{script.relative_to(script.parent.parent)} logout 'a b'`"


def test_the_vault_and_audit_commands_work_on_postgresql(database_url: str, monkeypatch: pytest.MonkeyPatch):
    from handoff import Store

    old, new = generate_key(), generate_key()

    async def seed() -> None:
        store = Store.postgresql(database_url, Keyring.parse(old))
        await store.start()
        await store.vault.put("alice", "k", "v")
        await store.audit.write(Event.CREATED, principal="alice", record_id="r1")
        await store.stop()

    anyio.run(seed)
    runner = CliRunner()
    monkeypatch.setenv("HANDOFF_VAULT_KEYS", f"{new},{old}")
    monkeypatch.setenv("HANDOFF_DATABASE_URL", database_url)  # --db defaults to it
    rotated = runner.invoke(main, ["vault", "rotate"])
    assert rotated.exit_code == 0 and "re-encrypted 1 secret" in rotated.output
    listed = runner.invoke(main, ["audit", "--format", "json"])
    assert listed.exit_code == 0 and json.loads(listed.output)["event"] == "created"
    assert (
        "alice has no connections" in runner.invoke(main, ["connections", "list", "--user", "alice"]).output
    )


def test_tools_never_create_handoff_tables_in_a_database_without_them(postgres):
    empty = postgres.fresh_database("not_handoffs")
    runner = CliRunner()
    out = runner.invoke(main, ["audit", "--db", empty])
    assert (
        out.exit_code == 1 and "holds no handoff data" in out.output and postgres.password not in out.output
    )
    with postgres.admin_connection("not_handoffs") as conn:
        assert conn.execute("SELECT to_regnamespace('handoff')").fetchone() == (None,)


@pytest.mark.anyio
async def test_the_vault_commands_say_how_to_open_a_vault_made_with_a_dev_key_file(tmp_path):
    """A server in dev mode (the demo's) keeps its vault key in a file: each command that opens that
    vault, run without the file (no key configured, or another key), says which file it is and the
    command that uses it; pasted into a shell here, that command runs."""
    import re

    from handoff import Store
    from handoff.oauth import Connections, TokenSet

    db_path, key_file = tmp_path / "demo data" / "handoff.db", tmp_path / "demo data" / "vault.key"
    store = Store.sqlite(db_path, Keyring.dev(key_file))
    await store.start()  # as a server does when it starts serving
    await Connections(store.vault).store("alice", "calendar", TokenSet("at_SECRET", scope="calendar"))
    await store.stop()
    bare = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_VAULT_KEYS", "HANDOFF_DATABASE_URL")}
    commands = [
        ["connections", "list", "--db", str(db_path), "--user", "alice"],
        ["vault", "rotate", "--db", str(db_path)],
        ["connections", "revoke", "--db", str(db_path), "--user", "alice", "calendar"],
    ]
    for words in commands:
        for env in (bare, {**bare, "HANDOFF_VAULT_KEYS": generate_key()}):
            ran = await anyio.run_process([sys.executable, "-m", "handoff.cli", *words], check=False, env=env)
            said = ran.stderr.decode()
            assert ran.returncode == 1 and len(said.strip().splitlines()) == 1, said
            assert f"dev key file {key_file}" in said, said
            hint = re.search(r"`([^`]*)`", said)
            assert hint and "--dev-key-file" in hint.group(1), said
        again = await anyio.run_process(["bash", "-c", hint.group(1)], check=False, env=bare)
        assert again.returncode == 0, again.stderr.decode()
        if words[1] == "list":
            assert "calendar" in again.stdout.decode() and "SECRET" not in again.stdout.decode()
    vault = SqlVault(Database(db_path), Keyring.dev(key_file))
    assert await Connections(vault).load("alice", "calendar") is None  # revoked, by the command pasted


def test_call_stopped_with_ctrl_c_exits_130_as_its_help_says(running, tmp_path: Path):
    """Ctrl-C while `handoff call` waits for the browser step: one line, the connection closed, and
    the exit code of its own (1 means the tool returned an error)."""
    import signal
    import time

    from _server import python_path

    here = Path(__file__).parent
    log = tmp_path / "browser.log"
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} {here / 'fake_browser.py'} %s",
        "FAKE_FINISH": "0",  # the person only looks at the page
        "FAKE_LOG": str(log),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "PYTHONPATH": python_path(here),
    }
    handoff = Path(sys.executable).parent / "handoff"
    call = [str(handoff), "call", running.mcp_url, "forecast", "--args", '{"city": "Oslo"}']
    process = subprocess.Popen(
        call,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal starts it
    )
    try:
        deadline = time.monotonic() + 60
        while "only looked at" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "handoff: cancelled (Ctrl-C)"
    assert "Aborted" not in err and "Traceback" not in err and out == ""

    helped = CliRunner().invoke(main, ["call", "--help"], terminal_width=200)
    assert "130 cancelled with Ctrl-C" in " ".join(helped.output.split())
