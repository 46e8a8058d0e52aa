"""A hostile server's texts at the person's terminal: each control character named, never obeyed,
never read as markup.

The server (hostile_server.py) puts escape sequences, Rich markup, C1 controls, bidi overrides and
carriage returns into its name, its tools' names and descriptions, its results, its elicitation
message and its link. `handoff call`, `handoff connect`, `handoff check server` and `handoff check-url`
run against it as a person runs them; in tmux, a real terminal, the window title must stay and the
clipboard must stay empty.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import ServerThread, free_port
from hostile_server import BAD_URL, HOSTILE, TITLE, hostile

HERE = Path(__file__).parent
HANDOFF = Path(sys.executable).parent / "handoff"
OBEYED = ("\x1b", "\x9b", "\x07", "\u202e", "\r")
"""Characters a terminal acts on or that rewrite what is read: none may reach it."""
NAMED = "⟦U+001B CONTROL⟧"
MARKUP = ("[reverse green] verified by handoff [/]", "[/x]")
"""Rich markup that must appear as the text it is."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    thread = ServerThread(hostile().streamable_http_app(), port).start()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        thread.stop()


def handoff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HANDOFF), *args],
        capture_output=True,
        text=True,
        timeout=90,
        input=stdin,
        env={**os.environ, "BROWSER": "false", "HANDOFF_TOKENS": os.devnull},
    )


def assert_shown_not_obeyed(done: subprocess.CompletedProcess[str]) -> str:
    printed = done.stdout + done.stderr
    assert "Traceback" not in printed and "MarkupError" not in printed, printed
    assert [c for c in OBEYED if c in printed] == [], printed
    assert NAMED in printed
    return printed


@pytest.mark.parametrize("protocol", ["legacy", "2026-07-28"])
def test_handoff_call_names_every_control_a_server_sends(server, protocol):
    ran = handoff("call", "--no-store", "--protocol", protocol, server, "weather")
    assert ran.returncode == 0
    assert all(markup in assert_shown_not_obeyed(ran) for markup in MARKUP)
    assert ran.stdout.startswith("sunny ")

    linked = handoff("call", "--no-store", "--protocol", protocol, "--accept", "warn", server, "link")
    printed = assert_shown_not_obeyed(linked)
    blocked = [line for line in linked.stderr.splitlines() if line.startswith(("OK", "WARNING", "BLOCKED"))]
    assert blocked and blocked[0].startswith("BLOCKED: https://⟦U+001B CONTROL⟧[2K⟦U+000D CONTROL⟧OK:")
    assert "Sign in " + NAMED in printed and "a blocked link is never opened" in printed


def test_a_stdio_servers_stderr_is_named_too():
    command = shlex.join([sys.executable, str(HERE / "hostile_server.py"), "stdio"])
    ran = handoff("call", "--no-store", command, "weather")
    assert ran.returncode == 0
    assert "starting " + NAMED in assert_shown_not_obeyed(ran)


def test_check_url_names_a_link_that_does_not_parse():
    checked = handoff("check-url", BAD_URL)
    assert checked.returncode == 2
    first = assert_shown_not_obeyed(checked).splitlines()[0]
    assert first == "BLOCKED: https://⟦U+001B CONTROL⟧[2K⟦U+000D CONTROL⟧OK: https://github.com/login"


def test_check_server_reports_hostile_tool_names_as_text():
    port = free_port()
    thread = ServerThread(hostile(link_tool=f"link{HOSTILE}").streamable_http_app(), port).start()
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        checked = handoff(
            "check", "server", url, "--notice-wait", "1", "--unattended-wait", "1", "--call-unannotated"
        )
    finally:
        thread.stop()
    assert checked.returncode == 1  # its link does not parse: a MUST failed, nothing crashed
    printed = assert_shown_not_obeyed(checked)
    assert "url.valid" in printed and "[/x]" in printed


# In a real terminal


class Tmux:
    """One tmux server of the test's own, one window of 150 x 60, the clipboard taken from apps."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed (.ci/run installs it)")
        self.socket = f"handoff-hostile-{os.getpid()}-{time.monotonic_ns()}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def start(self, command: str) -> None:
        self("new-session", "-d", "-s", "t", "-x", "150", "-y", "60", "sleep 600")
        self("set-option", "-g", "set-clipboard", "on")  # OSC 52 from the program makes a tmux buffer
        self("set-option", "-g", "allow-rename", "on")
        self("set-option", "-w", "-t", "t", "remain-on-exit", "on")
        self("set-option", "-w", "-t", "t", "allow-passthrough", "off")
        self("respawn-pane", "-k", "-t", "t", command)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-200", "-t", "t")

    def title(self) -> str:
        return self("display-message", "-p", "-t", "t", "#{pane_title}").strip()

    def buffers(self) -> str:
        return self("list-buffers")

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := self.screen()):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the terminal:\n{self.screen()}")

    def type(self, text: str) -> None:
        self("send-keys", "-t", "t", "-l", text)
        self("send-keys", "-t", "t", "Enter")

    def stop(self) -> None:
        self("kill-server")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux()
    try:
        yield terminal
    finally:
        terminal.stop()


def in_terminal(*args: str) -> str:
    env = {"BROWSER": "false", "HANDOFF_TOKENS": os.devnull, "TERM": "xterm-256color", "COLUMNS": "150"}
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = shlex.join([str(HANDOFF), *args])
    return f"env {assignments} {command}; echo; echo ended with $?"


def test_in_a_terminal_handoff_call_leaves_the_title_clipboard_and_screen_alone(tmux, server):
    call = in_terminal("call", "--no-store", "--protocol", "legacy", server, "weather")
    tmux.start(f"echo before the call; {call}")
    screen = tmux.wait_for("ended with")
    assert "before the call" in screen  # the screen was not cleared
    assert "ended with 0" in screen and NAMED in screen and "[/x]" in screen
    assert TITLE not in tmux.title()
    assert tmux.buffers() == ""  # nothing was put on the clipboard


@pytest.mark.parametrize("protocol", ["legacy", "2026-07-28"])
def test_in_a_terminal_handoff_connect_lists_and_calls_hostile_tools_as_text(tmux, server, protocol):
    tmux.start(in_terminal("connect", "--no-store", "--protocol", protocol, server))
    tmux.wait_for("Type help for commands.")
    tmux.type("tools")
    listed = tmux.wait_for("forecast")
    arguments = [line for line in listed.splitlines() if line.strip().startswith(("place", "units"))]
    assert len(arguments) == 2 and all(NAMED in line for line in arguments), listed  # descriptions,
    assert "Where " + NAMED in arguments[0] and 'one of "metric", "' + NAMED in arguments[1]  # choices
    tmux.type("call weather")
    tmux.wait_for("sunny")
    tmux.type("quit")
    screen = tmux.wait_for("ended with")
    assert "ended with 0" in screen, screen
    if protocol == "legacy":  # the server's name comes with the initialize handshake
        assert "Connected to weather " + NAMED in screen
    assert "[reverse green] verified by handoff [/]" in screen and "MarkupError" not in screen
    assert TITLE not in tmux.title() and tmux.buffers() == ""
