"""Ordinary mistakes with the `handoff` command end in one line and an exit code, never a traceback;
`--debug` shows the traceback too. Each story runs the real command as a person would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import free_port, wait_until_serving

HANDOFF = [sys.executable, "-m", "handoff.cli"]


def handoff(*args: str, timeout: float = 60, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HANDOFF, *args], capture_output=True, text=True, timeout=timeout, check=False, **options
    )


def said_in_one_line(done: subprocess.CompletedProcess[str], code: int = 1, *, on: str = "stderr") -> str:
    """The one line a failed command printed (on stderr, or `on` stdout), after checking that
    nothing else came."""
    everything = done.stdout + done.stderr
    assert done.returncode == code, everything
    for noise in ("Traceback", "ExceptionGroup", "Exception Group", "[ALERT]"):
        assert noise not in everything, everything
    lines = getattr(done, on).strip().splitlines()
    assert len(lines) == 1, everything
    return lines[0]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A `handoff demo` serving from tmp_path/data: its data folder and port."""
    data, port = tmp_path / "data", free_port()
    process = subprocess.Popen(
        [*HANDOFF, "demo", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", process, "demo")
        yield data, port
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_second_demo_on_the_same_data_says_another_serves(demo: tuple[Path, int]):
    data, _ = demo
    done = handoff("demo", "--port", str(free_port()), "--data-dir", str(data))
    line = said_in_one_line(done)
    assert line.startswith("Error: another handoff server (pid ")
    assert f"is serving from {data / 'handoff.db'}" in line
    assert done.stdout == ""  # no banner for a server that never served


def test_a_demo_on_a_port_in_use_names_the_port(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = handoff("demo", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    line = said_in_one_line(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert done.stdout == ""


def test_debug_shows_the_traceback_then_the_same_line(demo: tuple[Path, int]):
    data, _ = demo
    quiet = handoff("demo", "--port", str(free_port()), "--data-dir", str(data))
    loud = handoff("--debug", "demo", "--port", str(free_port()), "--data-dir", str(data))
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr and "ServedElsewhere" in loud.stderr  # a ConfigError
    assert loud.stderr.strip().splitlines()[-1] == said_in_one_line(quiet)
    by_env = handoff(
        "demo", "--port", str(free_port()), "--data-dir", str(data), env={**os.environ, "HANDOFF_DEBUG": "1"}
    )
    assert "Traceback" in by_env.stderr


def test_replicas_on_a_port_in_use_name_the_port_before_any_starts(database_url: str, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = handoff(
            "demo", "--replicas", "2", "--database", database_url, "--port", str(port),
            "--data-dir", str(tmp_path / "data"),
        )  # fmt: skip
    line = said_in_one_line(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert done.stdout == ""
    assert not list((tmp_path / "data").glob("replica*.log"))  # no replica was started


@pytest.mark.parametrize("replicas", ["1", "2"])
def test_a_database_of_another_vault_key_is_one_line(database_url: str, tmp_path: Path, replicas: str):
    """A database an earlier run left secrets in, under a key this data folder does not hold."""
    import anyio

    from handoff import Keyring, SqlVault, generate_key
    from handoff._postgres import PostgresDatabase

    async def leave_a_secret() -> None:
        database = PostgresDatabase(database_url)
        await database.start()
        try:
            await SqlVault(database, Keyring.parse(generate_key())).put("alice", "weather_api_key", "wk_x")
        finally:
            await database.stop()

    anyio.run(leave_a_secret)
    done = handoff(
        "demo", "--replicas", replicas, "--database", database_url, "--port", str(free_port()),
        "--data-dir", str(tmp_path / "data"), timeout=120,
    )  # fmt: skip
    line = said_in_one_line(done)
    assert "the vault holds secrets encrypted with key id" in line
    if replicas == "2":
        assert line.startswith("Error: replica1 did not start: ") or line.startswith("Error: replica2 ")
        assert str(tmp_path / "data" / "replica") in line  # where its log is
    assert done.stdout == ""


def test_connect_with_stdin_from_dev_null_says_why_it_cannot_connect():
    port = free_port()  # nothing listens there
    with open(os.devnull) as nothing:
        done = handoff("connect", f"http://127.0.0.1:{port}/mcp", stdin=nothing)
    line = said_in_one_line(done, code=2, on="stdout")  # the terminal client's screen
    assert done.stderr == ""
    assert f"cannot reach http://127.0.0.1:{port}/mcp: connection refused" in line


def test_connect_reads_its_commands_from_a_file_or_dev_null(tmp_path: Path):
    server = [sys.executable, str(Path(__file__).with_name("stdio_server.py"))]
    with open(os.devnull) as nothing:
        idle = handoff("connect", *server, stdin=nothing)
    assert idle.returncode == 0, idle.stdout + idle.stderr
    assert "Connected to stdio-echo." in idle.stdout and "Traceback" not in idle.stderr
    commands = tmp_path / "commands"
    commands.write_text('call echo {"text": "from a file"}\n')
    with commands.open() as lines:
        scripted = handoff("connect", *server, stdin=lines)
    assert scripted.returncode == 0, scripted.stdout + scripted.stderr
    assert "echo: from a file" in scripted.stdout


def test_check_server_with_a_wrong_password_says_the_sign_in_refused_it(demo: tuple[Path, int]):
    _, port = demo
    url = f"http://127.0.0.1:{port}/mcp"
    done = handoff("check", "server", url, "--user", "alice", "--password", "nope", timeout=120)
    line = said_in_one_line(done, code=2)
    assert "did not accept alice" in line
    assert "browser" not in line  # no browser was involved: the checker signs in with a form
    assert "nope" not in done.stdout + done.stderr


@pytest.mark.parametrize("moment", ["signing in", "asking consent"])
def test_the_example_client_stops_on_ctrl_c_without_a_traceback(
    demo: tuple[Path, int], tmp_path: Path, moment: str
):
    """Ctrl-C while the example waits for the browser's sign-in, or for the person's answer."""
    import shlex
    import signal

    _, port = demo
    here = Path(__file__).parent
    browser = f"{shlex.quote(sys.executable)} {here / 'fake_browser.py'} %s"  # signs in as alice
    env = {
        **os.environ,
        "BROWSER": "true %s" if moment == "signing in" else browser,
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "FAKE_LOG": str(tmp_path / "browser.log"),
    }
    process = subprocess.Popen(
        [sys.executable, str(here.parent / "examples" / "client.py"), f"http://127.0.0.1:{port}/mcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None and process.stdout is not None
    if moment == "signing in":
        assert "Waiting for you to sign in" in process.stderr.readline()
    else:
        shown = ""
        while not shown.endswith("[y/N] "):
            char = process.stdout.read(1)
            assert char, shown
            shown += char
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err


CRASHING = "import sys; print('starting', file=sys.stderr); sys.exit(3)"


def test_a_stdio_server_that_exits_at_once_is_said_to_exit_and_its_keys_are_not_shown():
    done = handoff(
        "connect", "--", "env", "SERVER_SECRET=s3cr3t-value", "HANDOFF_VAULT_KEYS=vault-key-value",
        sys.executable, "-c", CRASHING, "--api-key", "opt-value", "--token=tok-value",
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    everything = done.stdout + done.stderr
    assert done.returncode != 0, everything
    for secret in ("s3cr3t-value", "vault-key-value", "opt-value", "tok-value"):
        assert secret not in everything, everything
    assert "Traceback" not in everything and "still running" not in everything, everything
    assert "exited with code 3" in everything, everything
    assert "SERVER_SECRET=***" in everything and "--api-key ***" in everything, everything
    assert "--token=***" in everything and "HANDOFF_VAULT_KEYS=***" in everything, everything


def test_a_check_of_a_stdio_server_names_its_command_without_its_keys():
    done = handoff(
        "check", "server", "--", "env", "SERVER_SECRET=s3cr3t-value", sys.executable, "-c", CRASHING,
        timeout=120,
    )  # fmt: skip
    everything = done.stdout + done.stderr
    assert "s3cr3t-value" not in everything, everything
    assert "SERVER_SECRET=***" in everything, everything
    assert "on stdio (it exited with code 3; it printed: starting)" in everything, everything
    assert "Traceback" not in everything, everything


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["env", "API_KEY=abc", "python", "s.py"], "env API_KEY=*** python s.py"),
        (["s", "--password", "pw", "--user", "u"], "s --password *** --user u"),
        (["s", "--client-secret=cs"], "s --client-secret=***"),
        (["s", "--token-file", "/run/t"], "s --token-file /run/t"),  # where a secret is, not the secret
        (["s", "postgresql://me:pw@db/x"], "s 'postgresql://me:***@db/x'"),
        (["s", "a b"], "s 'a b'"),
    ],
)
def test_a_command_line_is_shown_with_its_secret_values_left_out(argv: list[str], shown: str):
    from handoff._command_line import displayed

    assert displayed(argv) == shown


@pytest.mark.parametrize("protocol", ["legacy", "2026-07-28"])
def test_call_timeout_bounds_a_browser_step_nobody_finishes_in_either_era(
    demo: tuple[Path, int], tmp_path: Path, protocol: str
):
    """The person opens the link and never finishes: --timeout 2 ends the call (2026-07-28's retry
    is held by the server, and asked again, past it) with exit 2 and one line."""
    import shlex

    _, port = demo
    env = {
        **os.environ,
        "BROWSER": f"{shlex.quote(sys.executable)} {Path(__file__).with_name('fake_browser.py')} %s",
        "FAKE_FINISH": "0",  # signs in as alice, only looks at the step's page
        "FAKE_LOG": str(tmp_path / "browser.log"),
    }
    url = f"http://127.0.0.1:{port}/mcp"
    args = ["--args", '{"city": "Oslo"}', "--timeout", "2", "--no-store", "--protocol", protocol]
    done = handoff("call", url, "forecast", *args, timeout=45, env=env)
    line = done.stderr.strip().splitlines()[-1]  # after what it said of the link
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert (
        line.startswith("Not run: ")
        and "within 2 s" in line
        and "call the tool again when it is done" in line
    )
    assert "only looked at" in (tmp_path / "browser.log").read_text()
