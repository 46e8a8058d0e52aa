"""When the server is not there, stops answering, or answers nonsense: bounded waits, one line, exit 2.

The servers here are real sockets on loopback: a closed port, a socket that accepts connections and
never answers, and a small hand-written MCP endpoint whose tools answer what no SDK would send.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _server import ServerThread, free_port
from check_server_hostile import serving
from mcp import StdioServerParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from handoff.client import Elicitations, HandoffClient, PolicyConsent, ServerUnreachable

pytestmark = pytest.mark.anyio

HANDOFF = Path(sys.executable).parent / "handoff"


def handoff_call(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HANDOFF), "call", *args, "--no-store"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "BROWSER": "false"},
    )


def one_line_on_stderr(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts connections (the kernel completes them) and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    finally:
        listener.close()


TOOLS = [
    {"name": "broken", "inputSchema": {"type": "object"}},
    {
        "name": "off_schema",
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    },
    {"name": "fails", "inputSchema": {"type": "object"}},
    {"name": "hangs", "inputSchema": {"type": "object"}},
    {"name": "drops", "inputSchema": {"type": "object"}},
]
RESULTS: dict[str, Any] = {
    "broken": {"content": "not a list of blocks"},
    "off_schema": {"content": [], "structuredContent": {"n": "seven"}},
    "fails": {"content": [{"type": "text", "text": "no such city"}], "isError": True},
}


class HandWritten:
    """A 2025-11-25 MCP endpoint written by hand, whose tools answer badly, hang or drop the line."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.app = Starlette(routes=[Route("/mcp", self.mcp, methods=["POST", "GET", "DELETE"])])

    async def mcp(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405)
        message = await request.json()
        if "id" not in message:
            return Response(status_code=202)
        method, params = message["method"], message.get("params") or {}
        if method == "initialize":
            result: Any = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hand-written", "version": "0"},
            }
        elif method == "tools/list":
            result = {"tools": TOOLS}
        elif method == "tools/call" and params["name"] == "hangs":
            await anyio.to_thread.run_sync(self.stopping.wait)  # until the test is over
            return Response(status_code=503)
        elif method == "tools/call" and params["name"] == "drops":
            return StreamingResponse(self._then_drop(), media_type="text/event-stream")
        elif method == "tools/call":
            result = RESULTS[params["name"]]
        else:
            error = {"code": -32601, "message": f"{method} is not served here"}
            return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def _then_drop(self) -> Any:
        yield b": the answer starts\n\n"
        raise ConnectionAbortedError("the server went away mid-answer")


@pytest.fixture
def hand_written() -> Iterator[str]:
    server = HandWritten()
    port = free_port()
    thread = ServerThread(server.app, port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stopping.set()
        thread.stop()


# From the command line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_call_says_in_one_line_that_nothing_listens(fmt):
    url = f"http://127.0.0.1:{free_port()}/mcp"
    done = handoff_call(url, "whoami", "--format", fmt)
    assert done.returncode == 2
    said = f"cannot reach {url}: connection refused; is the server running?"
    if fmt == "json":
        assert json.loads(done.stdout) == {"error": said, "ran": False} and done.stderr == ""
    else:
        assert one_line_on_stderr(done) == f"Not run: {said}" and done.stdout == ""


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_call_gives_up_on_a_server_that_never_answers(silent, protocol):
    started = time.monotonic()
    done = handoff_call(silent, "whoami", "--connect-timeout", "1", "--protocol", protocol)
    assert time.monotonic() - started < 15
    assert done.returncode == 2
    assert one_line_on_stderr(done) == (
        f"Not run: {silent} accepted the connection but did not answer within 1 s; "
        "is the server stuck, or is this not its MCP endpoint?"
    )


def test_call_says_when_the_address_is_not_an_mcp_endpoint(hand_written):
    done = handoff_call(f"{hand_written}/elsewhere", "whoami")
    assert done.returncode == 2
    assert one_line_on_stderr(done) == (
        f"Not run: {hand_written}/elsewhere answered HTTP 404 Not Found instead of MCP; "
        "is this the server's MCP endpoint (it often ends in /mcp)?"
    )


def test_call_says_in_one_line_that_an_answer_is_invalid(hand_written):
    url = f"{hand_written}/mcp"
    broken = handoff_call(url, "broken", "--protocol", "legacy")
    assert broken.returncode == 2
    line = one_line_on_stderr(broken)
    assert line.startswith(f"Not run: {url} sent an answer that is not valid MCP (")
    assert line.endswith("the server is at fault, tell its maintainers")

    off_schema = handoff_call(url, "off_schema", "--protocol", "legacy")
    assert off_schema.returncode == 2
    assert one_line_on_stderr(off_schema).startswith(
        f"Not run: {url}'s answer cannot be used: Invalid structured content returned by tool off_schema: "
        "'seven' is not of type 'integer'"
    )

    fails = handoff_call(url, "fails", "--protocol", "legacy")  # the tool's own error: exit 1
    assert fails.returncode == 1 and fails.stdout.strip() == "no such city" and fails.stderr == ""

    debug = handoff_call(url, "broken", "--protocol", "legacy", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "ValidationError" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("Not run: ")


def test_call_says_in_one_line_that_the_connection_dropped(hand_written):
    url = f"{hand_written}/mcp"
    done = handoff_call(url, "drops", "--protocol", "legacy")
    assert done.returncode == 2
    assert one_line_on_stderr(done) == (
        f"Not run: the connection to {url} closed before it answered; is the server still running?"
    )


def test_call_says_in_one_line_that_a_command_does_not_start():
    done = handoff_call("no-such-mcp-server-command --stdio", "whoami")
    assert done.returncode == 2
    assert one_line_on_stderr(done) == (
        "Not run: cannot start no-such-mcp-server-command --stdio: No such file or directory; "
        "check the command"
    )
    debug = handoff_call("no-such-mcp-server-command --stdio", "whoami", "--debug")
    assert debug.returncode == 2
    assert "ServerUnreachable" in debug.stderr and "FileNotFoundError" in debug.stderr  # and its cause


def test_call_gives_up_on_a_handshake_that_only_keeps_alive():
    """`initialize` is answered with an event stream of comments only: each comment would reset a
    read timeout, but the connect timeout bounds the handshake as a whole."""
    with serving("keep-alive") as (url, _):
        done = handoff_call(url, "fetch_key", "--connect-timeout", "1")
    assert done.returncode == 2
    assert one_line_on_stderr(done) == (
        f"Not run: {url} accepted the connection but did not finish the handshake within 1 s; "
        "is the server stuck, or is this not its MCP endpoint?"
    )


def test_connect_gives_up_on_a_handshake_that_only_keeps_alive():
    with serving("keep-alive") as (url, _):
        done = subprocess.run(
            [str(HANDOFF), "connect", "--no-store", "--connect-timeout", "1", url],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "300"},
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.strip() == (
        f"{url} accepted the connection but did not finish the handshake within 1 s; "
        "is the server stuck, or is this not its MCP endpoint?"
    )
    assert "Traceback" not in done.stderr


def test_call_reads_no_answer_past_its_limit():
    """A 40 MiB answer is refused at 16 MiB (the default) while it is read; a higher limit takes it."""
    with serving("huge-call") as (url, _):
        done = handoff_call(url, "huge")
        assert done.returncode == 2
        assert one_line_on_stderr(done) == (
            f"Not run: {url} sent an answer larger than 16 MiB, the most handoff reads of one answer; "
            "it was not read further"
        )
        bigger = handoff_call(url, "huge", "--max-answer-mib", "64", "--format", "json")
    assert bigger.returncode == 0, bigger.stderr
    assert len(json.loads(bigger.stdout)["content"][0]["text"]) == 40 * 1024 * 1024


def test_connect_says_in_one_line_that_nothing_listens():
    url = f"http://127.0.0.1:{free_port()}/mcp"
    done = subprocess.run(
        [str(HANDOFF), "connect", "--no-store", url],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 2
    assert done.stdout.strip() == f"cannot reach {url}: connection refused; is the server running?"
    assert "Traceback" not in done.stderr


# The library


def client(server: Any, **options: Any) -> HandoffClient:
    return HandoffClient(server, elicitations=Elicitations(PolicyConsent("ok")), **options)


async def test_client_raises_one_error_for_a_closed_port_and_a_silent_server(silent):
    closed = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(ServerUnreachable, match="connection refused"):
        async with client(closed, mode="legacy"):
            pass
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=r"did not answer within 0\.5 s"):
        async with client(silent, mode="legacy", connect_timeout=0.5):
            pass
    assert time.monotonic() - started < 5


async def test_client_bounds_the_start_of_each_answer_after_the_handshake(hand_written):
    started = time.monotonic()
    with pytest.raises(ServerUnreachable) as caught:
        async with client(f"{hand_written}/mcp", mode="legacy", answer_timeout=0.5) as connected:
            assert (await connected.call_tool("fails", {})).is_error  # answers in time: no error
            await connected.call_tool("hangs", {})
    assert time.monotonic() - started < 10
    assert str(caught.value) == (
        f"{hand_written}/mcp accepted the connection but did not answer within 0.5 s; "
        "is the server stuck, or is this not its MCP endpoint?"
    )


async def test_client_limits_each_answer_and_the_connection_goes_on():
    """Only the request whose answer is too large fails; the same connection answers the next."""
    with serving("huge-call") as (url, _):
        async with client(url, mode="legacy", max_answer_bytes=1024 * 1024) as connected:
            with pytest.raises(ServerUnreachable, match="sent an answer larger than 1 MiB"):
                await connected.call_tool("huge", {})
            assert (await connected.call_tool("echo", {})).content[0].text == "echo"


async def test_client_bounds_a_stdio_server_that_never_answers():
    silent = StdioServerParameters(command=sys.executable, args=["-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=r"started but did not answer within 0\.5 s"):
        async with client(silent, mode="legacy", answer_timeout=0.5):
            pass
    assert time.monotonic() - started < 10


def test_the_help_gives_the_wait_for_each_answer_that_the_client_keeps(tmp_path: Path):
    """`--connect-timeout`'s help says how long each later answer has to start, and that is what the
    client waits: both read the one constant that sets it, so in a copy of handoff where only that
    constant differs, the help and the client both follow."""
    import handoff

    copy = tmp_path / "handoff"
    shutil.copytree(Path(handoff.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    timeouts = copy / "client" / "_timeouts.py"
    original = timeouts.read_text()
    changed = re.sub(r"(?m)^ANSWER_TIMEOUT = [0-9.]+$", "ANSWER_TIMEOUT = 45.0", original)
    assert changed != original  # the one place
    timeouts.write_text(changed)
    script = (
        "import dataclasses, sys\n"
        "from handoff.client import HandoffClient\n"
        "print([f.default for f in dataclasses.fields(HandoffClient) if f.name == 'answer_timeout'][0])\n"
        "from handoff.cli import main\n"
        "main(['call', '--help'])\n"
    )
    for where, seconds in ((Path(handoff.__file__).parent.parent, None), (tmp_path, 45.0)):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(where)},
        )
        assert done.returncode == 0, done.stderr
        kept, shown = done.stdout.split("\n", 1)
        said = re.search(r"each later answer then has (\S+) s to start", " ".join(shown.split()))
        assert said, shown
        assert float(said.group(1)) == float(kept)
        assert seconds is None or float(kept) == seconds
