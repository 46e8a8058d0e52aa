"""The terminal client driven in a real terminal (tmux): sign in, consent screen, waiting, retry."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from _server import python_path

HERE = Path(__file__).parent
KEY = "wk_terminal_secret_123"


class Terminal:
    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session
        self.command = ""

    def start(self, command: str) -> None:
        """Run `command` in the session; its screen stays readable after it exits."""
        self.tmux("new-session", "-d", "-s", self.session, "-x", "150", "-y", "60", command)
        self.tmux("set-option", "-w", "-t", self.session, "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", self.session)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", text)
        self.tmux("send-keys", "-t", self.session, "Enter")

    def press(self, key: str) -> None:
        """A key as tmux names it: C-c is Ctrl-C (the terminal sends SIGINT), C-d ends the input."""
        self.tmux("send-keys", "-t", self.session, key)

    def exit_status(self, timeout: float = 30) -> int:
        """The program's exit status, once it has exited (the shell around it says it)."""
        ended = self.wait_for("ended with ", timeout)
        return int(ended.rsplit("ended with ", 1)[1].split()[0])

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the terminal:\n{self.screen()}")


@pytest.fixture
def terminal(running, tmp_path, request) -> Iterator[tuple[Terminal, Path]]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (.ci/run installs it)")
    log = tmp_path / "browser.log"
    options = getattr(request, "param", {})
    env = {
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'fake_browser.py'} %s",
        "FAKE_USER": "alice",
        "FAKE_SECRET": KEY,
        "FAKE_LOG": str(log),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "PYTHONPATH": python_path(HERE),
        "TERM": "xterm-256color",
        "COLUMNS": "150",
        "FAKE_FINISH": options.get("finish", "1"),
    }
    handoff = Path(sys.executable).parent / "handoff"
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    protocol = options.get("protocol", "legacy")
    command = f"env {command} {shlex.quote(str(handoff))} connect --protocol {protocol} {running.mcp_url}"
    if "input" in options:  # the lines come from a pipe that then ends, not from the keyboard
        command = f"printf %s {shlex.quote(options['input'])} | {command}"
    # The shell says how the program ended; its trap keeps Ctrl-C for the program (a trap, unlike an
    # ignored signal, is not passed on to it).
    command = f"sh -c {shlex.quote('trap : INT; ' + command + '; echo ended with $?')}"
    socket = f"handoff-test-{os.getpid()}-{time.monotonic_ns()}"
    term = Terminal(socket, "client")
    term.start(command)
    term.command = command
    try:
        yield term, log
    finally:
        term.tmux("kill-server")


def test_terminal_story(terminal, running):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    assert "authorized" in log.read_text()  # the sign-in went through the (stand-in) system browser

    term.type('call forecast {"city": "Oslo"}')
    screen = term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    assert "Juniper Assistant asks you to open a link in your browser" in screen  # as its pages say
    assert f"{running.origin}/handoff/e/" in screen
    assert "Enter your Weather API key in your browser" in screen
    # The URL check is on the consent screen: the connected loopback server's own page is no surprise
    assert "Note: This is a page of the server you connected to, on this computer" in screen
    assert "Open this link?" in screen and "unusual port" not in screen
    assert "entered secret" not in (log.read_text())  # nothing is opened before consent

    term.type("a")
    screen = term.wait_for("Forecast for Oslo", timeout=30)
    assert "Opening it in your browser" in screen
    assert "entered secret: Saved" in log.read_text()
    assert KEY not in screen

    term.type('call forecast {"city": "Rome"}')  # the key is stored now: no prompt
    screen = term.wait_for("Forecast for Rome")
    assert screen.count("[a]ccept") == 1


def test_terminal_decline_and_bad_input(terminal):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    term.type("call forecast {oops")
    term.wait_for("Bad arguments")
    term.type('call forecast {"city": "Oslo"}')  # -32042: the client declines and does not retry
    term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    term.type("d")
    screen = term.wait_for("Not run:")
    assert "the browser step was declined, so the tool was not run" in screen
    term.type("call list_notes {}")  # elicitation/create: the decline is the answer to the server
    term.wait_for("Notes token")
    term.type("d")
    screen = term.wait_for("list_notes did not run: it asked for")
    assert "declined" in screen.split("Notes token")[-1]
    assert "entered secret" not in (log.read_text() if log.exists() else "")
    term.type("tools")
    screen = term.wait_for("list_notes")
    assert "forecast" in screen


@pytest.mark.parametrize("terminal", [{"protocol": "2026-07-28"}], indirect=True)
def test_terminal_story_on_2026(terminal):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    term.type('call forecast {"city": "Lima"}')
    screen = term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    assert "Enter your Weather API key in your browser" in screen
    assert "a page of the server you connected to" in screen
    term.type("a")
    term.wait_for("Forecast for Lima", timeout=30)
    assert "entered secret: Saved" in log.read_text()


@pytest.mark.parametrize(
    "terminal", [{"protocol": "2026-07-28", "finish": "0"}, {"finish": "0"}], indirect=True
)
def test_terminal_cancel_while_waiting_for_the_browser(terminal):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    term.type('call forecast {"city": "Lima"}')
    term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    term.type("a")
    term.wait_for("Waiting for the server and your browser")
    deadline = time.monotonic() + 10
    while "only looked at" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    term.type("c")
    term.wait_for("Cancelled.")
    term.type("tools")  # the connection is still usable
    term.wait_for("list_notes")


def test_terminal_keeps_the_sign_in_and_logout_revokes_it(terminal, running, tmp_path):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    assert log.read_text().count("authorized") == 1
    tokens = tmp_path / "tokens.json"
    saved = json.loads(tokens.read_text())["servers"][running.mcp_url]
    term.type("quit")

    again = Terminal(term.socket, "again")  # the next run signs in with the stored tokens
    again.start(term.command)
    screen = again.wait_for("Type help for commands", timeout=60)
    assert log.read_text().count("authorized") == 1 and "Waiting for you to sign in" not in screen
    again.type("help")
    again.wait_for("sign out (revoke and forget this server's tokens)")
    again.type("logout")
    screen = again.wait_for("revoked at")
    assert f"signed out of {running.mcp_url}: refresh token and access token revoked at" in screen
    assert json.loads(tokens.read_text())["servers"] == {}
    assert saved["tokens"]["refresh_token"] not in screen
    refused = httpx2.post(
        f"{running.origin}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": saved["tokens"]["refresh_token"],
            "client_id": saved["client"]["client_id"],
            "client_secret": saved["client"].get("client_secret", ""),
        },
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_tools_lists_each_tools_arguments(terminal):
    """What to pass is on the screen before the first call: names, types, required or optional, and
    defaults, in the server's order with the required ones first."""
    term, _ = terminal
    term.wait_for("Type help for commands", timeout=60)
    term.type("tools")
    screen = term.wait_for("send_payment")
    rows = [" ".join(line.split()) for line in screen.splitlines()]

    def arguments_of(tool: str) -> list[str]:
        start = next(i for i, row in enumerate(rows) if row.split(" ")[0] == tool) + 1
        return rows[start : rows.index("", start)]

    assert arguments_of("forecast") == ["city string required"]
    assert arguments_of("list_notes") == ['folder string optional (default "inbox")']
    assert arguments_of("send_payment") == [
        "amount string required",
        "currency string required",
        "payee string required",
        'description string optional (default "")',
    ]
    assert arguments_of("whoami") == arguments_of("next_meeting") == ["no arguments"]


@pytest.mark.parametrize("terminal", [{"finish": "0"}], indirect=True)
def test_ctrl_c_cancels_the_call_and_the_session_goes_on(terminal):
    term, log = terminal
    term.wait_for("Type help for commands", timeout=60)
    term.type('call forecast {"city": "Lima"}')
    term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    term.press("C-c")  # at the consent screen: the link is cancelled, so the call ends
    screen = term.wait_for("Not run:")
    assert "cancelled" in screen.split("Not run:")[-1] and "only looked at" not in (
        log.read_text() if log.exists() else ""
    )

    term.type('call forecast {"city": "Lima"}')
    term.wait_for("[a]ccept / [d]ecline / [c]ancel")
    term.type("a")
    term.wait_for("Waiting for the server and your browser")
    deadline = time.monotonic() + 60  # a browser started from $BROWSER would get the Ctrl-C too
    while "only looked at" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, term.screen()
        time.sleep(0.1)
    term.press("C-c")  # while the call waits for the browser
    term.wait_for("Cancelled.")
    term.press("C-c")  # at the prompt: the session stays
    term.wait_for("type quit or press Ctrl-D to leave")
    term.type("tools")
    screen = term.wait_for("list_notes")
    assert "Aborted" not in screen and "Traceback" not in screen
    term.type("quit")
    assert term.exit_status() == 0


@pytest.mark.parametrize("terminal", [{"input": 'call forecast {"city": "Oslo"}\na\n'}], indirect=True)
def test_the_end_of_piped_input_lets_the_call_in_progress_finish(terminal):
    """The input ends right after the consent is given: the call still runs to its end (the browser
    step, the retry, the result), and only then does the session end."""
    term, log = terminal
    screen = term.wait_for("Forecast for Oslo", timeout=60)
    assert "Cancelled" not in screen
    assert term.exit_status() == 0
    assert "entered secret: Saved" in log.read_text()


def test_an_arguments_type_is_said_in_words_and_a_long_list_is_cut():
    from handoff.client._arguments import MAX_ARGUMENTS, arguments, type_of

    assert type_of({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == "integer or null"
    assert type_of({"type": "array", "items": {"type": "string"}}) == "array of string"
    assert type_of({"enum": ["EUR", "USD", 3]}) == 'one of "EUR", "USD", 3'
    assert type_of({"$ref": "#/$defs/Address"}) == "Address"
    assert type_of({"type": "string", "format": "date-time"}) == "string (date-time)"
    assert type_of({"type": ["string", "null"]}) == "string or null"
    assert type_of({"properties": {}}) == "object" and type_of("nonsense") == "any"
    deep: dict = {"type": "string"}
    for _ in range(10):
        deep = {"type": "array", "items": deep}
    assert type_of(deep) == "array of array of array of array of any"

    schema = {
        "properties": {f"p{i}": {"type": "integer", "description": "x" * 500} for i in range(60)},
        "required": ["p59"],
    }
    listed, left_out = arguments(schema)
    assert len(listed) == MAX_ARGUMENTS and left_out == 60 - MAX_ARGUMENTS
    assert listed[0].name == "p59" and listed[0].required and not listed[1].required
    assert len(listed[0].description) == 200 and listed[0].description.endswith("…")
    assert arguments({"type": "object"}) == ([], 0) and arguments(None) == ([], 0)
