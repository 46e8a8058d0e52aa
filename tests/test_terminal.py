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
