"""`handoff check server -- COMMAND` against servers on stdio (handoff's own with LocalIdentity, on
SQLite and in memory, and one broken on purpose), and `--login`, where a person signs in in their
own browser and answers the checker's prompts through a pipe."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from conftest import Running

from handoff import generate_key
from handoff.check._cli import check
from handoff.check._server_browser import FormBrowser
from handoff.check._server_person import Person, Step
from handoff.demo import DEMO_USERS
from handoff.identity import write_passphrase

HERE = Path(__file__).parent
HANDOFF = Path(sys.executable).parent / "handoff"
LEGACY, MODERN = "2025-11-25", "2026-07-28"
PASSPHRASE = "a long local passphrase for the checker"
ONE_USER = "a server on stdio has one user (whoever runs it): there is no second user to refuse"


def outcomes(report: dict) -> dict[tuple[str, str | None], list[str]]:
    found: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for r in report["results"]:
        found[(r["id"], r["era"])].append(r["outcome"])
    return dict(found)


def reasons(report: dict, era: str) -> dict[str, str]:
    return {r["id"]: r["reason"] for r in report["results"] if r["era"] == era}


@pytest.fixture
def stdio_env(tmp_path: Path) -> dict[str, str]:
    """What handoff's stdio server is configured with: its passphrase's hash, keys."""
    return {
        **os.environ,
        "CHECK_PASSPHRASE_FILE": str(write_passphrase(tmp_path / "passphrase", PASSPHRASE)),
        "CHECK_SECRET_KEY": os.urandom(32).hex(),
        "HANDOFF_VAULT_KEYS": generate_key(),
    }


def check_stdio(env: dict[str, str], *args: str) -> tuple[int, dict, str]:
    """The installed command, as a person runs it; the report, and what it printed on stderr."""
    done = subprocess.run(
        [
            str(HANDOFF),
            "check",
            "server",
            "--format",
            "json",
            "--notice-wait",
            "3",
            "--unattended-wait",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


STDIO_PASSES = (
    "url.valid",
    "url.https",
    "url.no-credentials",
    "url.no-credential-like-parameters",
    "page.anonymous-refused",
    "page.no-framing",
    "page.no-referrer",
    "page.no-store",
)


def test_handoff_on_stdio_on_one_sqlite_file_conforms_and_says_why_it_skips(stdio_env, tmp_path):
    """Its pages ask for the passphrase (--password); a second process beside the first is refused
    the SQLite file, so the check that needs another session is skipped, saying why."""
    data = tmp_path / "data"
    data.mkdir()
    server = [sys.executable, str(HERE / "check_server_stdio.py"), str(data)]
    code, report, stderr = check_stdio(stdio_env, "--password", PASSPHRASE, "--", *server)
    assert code == 0, (report, stderr)
    assert report["target"] == shlex.join(server)
    found = outcomes(report)
    for era in (LEGACY, MODERN):
        for passing in STDIO_PASSES:
            assert found[(passing, era)] == ["PASS"], (passing, era)
        assert found[("page.other-user-refused", era)] == ["SKIP"]
        assert reasons(report, era)["page.other-user-refused"] == ONE_USER
    assert found[("legacy.no-url-when-undeclared", LEGACY)] == ["PASS"] * 3
    for legacy in ("legacy.32042-shape", "legacy.notice-id", "legacy.retry-succeeds"):
        assert found[(legacy, LEGACY)] == ["PASS"], legacy
    assert found[("legacy.notice-only-initiator", LEGACY)] == ["SKIP"]
    why = reasons(report, LEGACY)["legacy.notice-only-initiator"]
    assert why.startswith("the server could not run a second time beside the first")
    assert "another handoff server (pid " in why and str(data / "handoff.db") in why
    assert found[("modern.32021-without-url-mode", MODERN)] == ["PASS"] * 2
    assert reasons(report, MODERN)["modern.32021-without-url-mode"].endswith("over stdio")
    assert found[("modern.state-tampered", MODERN)] == ["PASS"] * 3
    # the key stored in 2025-11-25 stays in the file: the 2026 checks use the read-only approval
    assert reasons(report, MODERN)["modern.retry-succeeds"] == "read_diary ran on retry 1"
    for modern in ("modern.state-other-request", "modern.state-replayed", "modern.no-32042"):
        assert found[(modern, MODERN)] == ["PASS"], modern
    assert found[("modern.state-other-user", MODERN)] == ["SKIP"]
    assert PASSPHRASE not in json.dumps(report) + stderr


def test_handoff_on_stdio_in_memory_runs_twice_and_tells_only_the_initiator(stdio_env):
    code, report, stderr = check_stdio(
        stdio_env, "--password", PASSPHRASE, "--", sys.executable, str(HERE / "check_server_stdio.py")
    )
    assert code == 0, (report, stderr)
    found = outcomes(report)
    assert found[("legacy.notice-id", LEGACY)] == ["PASS"]
    assert found[("legacy.notice-only-initiator", LEGACY)] == ["PASS"]
    assert reasons(report, LEGACY)["legacy.notice-only-initiator"] == (
        "not sent to a second process of the same command (a session of its own)"
    )
    # each process starts empty: both eras find the secret's tool, which takes an argument
    assert reasons(report, MODERN)["modern.retry-succeeds"] == "forecast ran on retry 1"
    assert report["counts"]["FAIL"] == 0


def test_a_broken_stdio_server_fails_exactly_the_checks_it_breaks(tmp_path):
    """Its processes share completions through a directory and each tells its own client about
    every one: the notice reaches the second process's session too."""
    env = {**os.environ, "BROKEN_SHARED": str(tmp_path)}
    code, report, _ = check_stdio(
        env, "--password", "anything", "--", sys.executable, str(HERE / "check_server_broken.py"), "--stdio"
    )
    assert code == 1
    assert outcomes(report) == {
        ("legacy.no-url-when-undeclared", LEGACY): ["FAIL"] * 3,
        ("legacy.create-params", LEGACY): ["SKIP"],
        ("legacy.32042-shape", LEGACY): ["PASS"],
        ("legacy.no-self-completion", LEGACY): ["PASS"],  # nothing completes by itself
        ("url.valid", LEGACY): ["PASS"],
        ("url.https", LEGACY): ["PASS"],
        ("url.no-credentials", LEGACY): ["FAIL"],
        ("url.no-credential-like-parameters", LEGACY): ["FAIL"],
        ("page.anonymous-refused", LEGACY): ["FAIL"],
        ("page.no-redirect-elsewhere", LEGACY): ["PASS"],
        ("page.other-user-refused", LEGACY): ["SKIP"],
        ("page.no-framing", LEGACY): ["FAIL"],
        ("page.no-referrer", LEGACY): ["FAIL"],
        ("page.no-store", LEGACY): ["FAIL"],
        ("legacy.notice-id", LEGACY): ["PASS"],
        ("legacy.notice-only-initiator", LEGACY): ["FAIL"],  # told the other process's client too
        ("legacy.retry-succeeds", LEGACY): ["PASS"],
        ("modern.32021-without-url-mode", MODERN): ["FAIL"] * 2,
        ("modern.input-required-shape", MODERN): ["PASS"],
        ("url.valid", MODERN): ["PASS"],
        ("url.https", MODERN): ["PASS"],
        ("url.no-credentials", MODERN): ["FAIL"],
        ("url.no-credential-like-parameters", MODERN): ["FAIL"],
        ("page.anonymous-refused", MODERN): ["FAIL"],
        ("page.no-redirect-elsewhere", MODERN): ["PASS"],
        ("page.other-user-refused", MODERN): ["SKIP"],
        ("page.no-framing", MODERN): ["FAIL"],
        ("page.no-referrer", MODERN): ["FAIL"],
        ("page.no-store", MODERN): ["FAIL"],
        ("modern.state-tampered", MODERN): ["FAIL"] * 3,
        ("modern.state-other-request", MODERN): ["FAIL"],
        ("modern.state-other-user", MODERN): ["SKIP"],
        ("modern.retry-succeeds", MODERN): ["PASS"],
        ("modern.state-replayed", MODERN): ["FAIL"],
        ("modern.no-32042", MODERN): ["PASS"],
        ("modern.no-elicitation-id-or-notice", MODERN): ["FAIL"],  # elicitationId, and a notice, in 2026
    }
    assert reasons(report, LEGACY)["legacy.notice-only-initiator"] == (
        "the notice also reached a second process of the same command (a session of its own)"
    )
    assert reasons(report, MODERN)["modern.no-elicitation-id-or-notice"] == (
        "the server sent elicitationId and a completion notice"
    )


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--token", "t"], "--token does not apply to a server on stdio: there is no OAuth over stdio"),
        (["--user", "alice", "--password", "pw"], "--user does not apply to a server on stdio"),
        (
            ["--second-user", "bob", "--second-password", "pw"],
            "--second-user does not apply to a server on stdio",
        ),
    ],
)
def test_what_does_not_apply_over_stdio_is_refused_saying_why(given, said):
    result = CliRunner().invoke(check, ["server", *given, "--", sys.executable, "-c", "pass"])
    assert result.exit_code == 2
    assert said in result.stderr and "one user, whoever runs it" in result.stderr


def test_a_command_that_is_no_mcp_server_is_named_with_what_it_printed():
    """A token kept in the environment for checks of URLs is not refused, only unused."""
    code = "import sys; print('cannot open my config file', file=sys.stderr)"
    result = CliRunner(env={"HANDOFF_CHECK_TOKEN": "kept-for-urls"}).invoke(
        check, ["server", "--", sys.executable, "-c", code]
    )
    assert result.exit_code == 2
    said = "did not start as an MCP server on stdio (it exited with code 0; it printed: cannot open my config"
    assert said in result.stderr


# --login: the person at the terminal


@pytest.mark.anyio
async def test_the_person_answers_with_enter_through_a_pipe_and_an_early_enter_is_not_taken():
    read, write = os.pipe()
    lines = os.fdopen(read, "r")
    out = io.StringIO()
    person = Person("you", lines=lines, out=out)
    step = Step(LEGACY, "forecast", "Enter your Weather API key")
    person.start()  # as the check starts
    os.write(write, b"\n")  # an Enter typed before the prompt (meant for an earlier one)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            finished: list = []

            async def ask() -> None:
                finished.append(await person.finish("https://mcp.example.com/e/abc", step, None, 30))

            await anyio.sleep(0.2)  # the reader has read the early line before the prompt
            tg.start_soon(ask)
            await anyio.sleep(0.3)
            assert not finished  # the early Enter did not answer this prompt
            os.write(write, b"\n")
    assert finished[0].done and finished[0].reason == "finished by the person in their browser"
    prompt = out.getvalue()
    assert "Your turn in the browser: forecast (2025-11-25)" in prompt
    assert "The server says: Enter your Weather API key" in prompt
    assert "OK: https://mcp.example.com/e/abc" in prompt and "registered domain:  example.com" in prompt
    assert "Open the link yourself, in your browser (the checker never opens it)" in prompt
    assert "sign in as you." in prompt and "never a real one" in prompt and "press Enter" in prompt
    os.close(write)
    with anyio.fail_after(10):
        ended = await person.finish("https://mcp.example.com/e/def", step, None, 30)
    assert not ended.done and "standard input" in ended.reason


@pytest.mark.anyio
async def test_a_link_the_link_check_blocks_is_never_put_to_the_person():
    out = io.StringIO()
    person = Person("you", lines=io.StringIO("\n"), out=out)
    finished = await person.finish("http://mcp.example.com/e/abc", Step(MODERN, "pay"), None, 5)
    assert not finished.done and "link check blocks the URL" in finished.reason
    assert "Do not open it" in out.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = Running(tmp_path_factory.mktemp("demo"), framework="sdk").start()
    yield server
    server.stop()


def test_login_signs_in_in_the_persons_browser_and_the_prompts_are_answered_from_a_pipe(demo, tmp_path):
    """`handoff check server URL --login`, no terminal: $BROWSER (the fake browser) signs in and
    allows the checker as alice; at each prompt the person opens the link shown, finishes the step in
    a browser signed in as alice, and presses Enter on the checker's standard input (a pipe), unless
    the checker already said the server told it the step is done."""
    log = tmp_path / "browser.log"
    env = {
        **os.environ,
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'fake_browser.py'} %s",
        "FAKE_USER": "alice",
        "FAKE_LOG": str(log),
    }
    process = subprocess.Popen(
        [str(HANDOFF), "check", "server", demo.mcp_url, "--login", "--format", "json", "--notice-wait", "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    said: queue.Queue[str | None] = queue.Queue()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            said.put(line)
        said.put(None)

    threading.Thread(target=read_stderr, daemon=True).start()
    stderr: list[str] = []
    finished_steps: list[str] = []
    try:
        while (line := said.get(timeout=120)) is not None:
            stderr.append(line)
            link = re.match(r"\s+(?:OK|WARNING): (\S+)", line)
            if not link or not any("Your turn in the browser" in seen for seen in stderr[-8:]):
                continue
            while "press Enter" not in line:  # the rest of the prompt
                line = said.get(timeout=10) or ""
                stderr.append(line)
            finished = anyio.run(_finish_as_alice, link.group(1))
            assert finished.done, finished.reason
            finished_steps.append(link.group(1))
            try:
                line = said.get(timeout=1.0) or ""
                stderr.append(line)
            except queue.Empty:
                line = ""
            if "no need to press Enter" not in line:
                process.stdin.write("\n")
                process.stdin.flush()
        report = json.loads(process.stdout.read())
        assert process.wait(timeout=30) == 0, "".join(stderr)
    finally:
        if process.poll() is None:
            process.kill()
    assert log.read_text().startswith("authorized ")  # signed in in "their" browser, as alice
    text = "".join(stderr)
    assert "Waiting for you to sign in at" in text
    assert "sign in as the same user you signed in as when the check started" in text
    assert len(finished_steps) == 2  # one step in each era
    found = outcomes(report)
    for era, retry in ((LEGACY, "legacy.retry-succeeds"), (MODERN, "modern.retry-succeeds")):
        assert found[(retry, era)] == ["PASS"], retry
        assert found[("page.no-framing", era)] == ["SKIP"]  # the form page was the person's, not seen
    assert found[("legacy.notice-id", LEGACY)] == ["PASS"]
    assert found[("page.anonymous-refused", LEGACY)] == ["PASS"]
    assert report["counts"]["FAIL"] == 0


async def _finish_as_alice(url: str):
    browser = FormBrowser("alice", DEMO_USERS["alice"])
    try:
        return await browser.finish(url)
    finally:
        await browser.aclose()


def test_an_era_whose_tool_asks_no_more_says_what_it_needs_and_era_checks_it_alone(stdio_env, tmp_path):
    """One user, one tool: its key stays stored after 2025-11-25, so 2026-07-28 says how to check it;
    --era 2026-07-28 on a fresh database checks that era alone."""
    first, fresh = tmp_path / "first", tmp_path / "fresh"
    first.mkdir(), fresh.mkdir()
    forecast = ["--tool", "forecast", "--args", json.dumps({"city": "Oslo"}), "--password", PASSPHRASE]
    server = [sys.executable, str(HERE / "check_server_stdio.py")]
    code, report, stderr = check_stdio(stdio_env, *forecast, "--", *server, str(first))
    assert code == 0, (report, stderr)
    why = reasons(report, MODERN)["modern.retry-succeeds"]
    assert why.startswith("forecast asked for a browser step in 2025-11-25 and asks no more"), why
    assert "--era 2026-07-28" in why
    assert outcomes(report)[("legacy.retry-succeeds", LEGACY)] == ["PASS"]
    code, report, stderr = check_stdio(stdio_env, *forecast, "--era", MODERN, "--", *server, str(fresh))
    assert code == 0, (report, stderr)
    found = outcomes(report)
    assert found[("modern.retry-succeeds", MODERN)] == ["PASS"]
    assert reasons(report, LEGACY)["legacy.retry-succeeds"] == "not checked: --era 2026-07-28 was asked for"
