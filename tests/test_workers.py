"""`uvicorn --workers 2` on one SQLite file, as an operator might run it: the first worker serves, the
second says in one line that it stands by (it never takes a connection), and takes over when the
first dies; the healthy worker is never taken down."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from _mcp import text_of, user_client
from _server import free_port, python_path

from handoff.demo import ScriptedBrowser

pytestmark = pytest.mark.anyio
HERE = Path(__file__).parent
STANDS_BY = re.compile(
    r"^handoff: worker (\d+) stands by: its sibling worker (\d+) serves from (\S+), ", re.M
)


class Workers:
    """`uvicorn --workers 2 workers_app:app` on a free port, its output kept in a file."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "uvicorn.log"
        uvicorn = Path(sys.executable).parent / "uvicorn"
        command = [str(uvicorn), "--workers", "2", "--app-dir", str(HERE), "workers_app:app"]
        command += ["--port", str(self.port), "--no-proxy-headers"]
        env = {
            **os.environ,
            "HANDOFF_TEST_PUBLIC_URL": self.origin,
            "HANDOFF_TEST_DATA": str(data),
            "PYTHONPATH": python_path(HERE),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def standbys(self, count: int, timeout: float = 60) -> list[tuple[int, int, str]]:
        """The first `count` stand-by lines, once that many were said."""
        deadline = time.monotonic() + timeout
        while len(found := STANDS_BY.findall(self.output())) < count:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)
        return [(int(w), int(s), path) for w, s, path in found[:count]]

    async def healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx2.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{self.origin}/healthz", timeout=2)).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                assert self.process.poll() is None and time.monotonic() < deadline, self.output()
                await anyio.sleep(0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=30)


async def _served(workers: Workers) -> None:
    """Plain requests and an MCP call (a 2025 session: one worker holds it) all answered."""
    async with httpx2.AsyncClient() as http:
        for _ in range(10):
            assert (await http.get(f"{workers.origin}/healthz")).status_code == 200
    async with ScriptedBrowser(workers.origin) as browser:
        async with user_client(f"{workers.origin}/mcp", browser, "alice") as (client, _):
            for _ in range(3):
                assert text_of(await client.call_tool("whoami", {})) == "You are alice."


async def test_the_second_worker_stands_by_and_the_first_keeps_serving(tmp_path):
    data = tmp_path / "data"
    workers = Workers(data)
    try:
        await workers.healthy()
        ((standby, serving, path),) = workers.standbys(1)
        assert path == str(data / "handoff.db") and standby != serving
        await _served(workers)
        assert workers.process.poll() is None  # uvicorn's parent, and with it the healthy worker, runs on
        said = workers.output()
        assert "Traceback" not in said and "failed to start" not in said and said.count("stands by") == 1

        os.kill(serving, signal.SIGKILL)  # the serving worker dies: the standby takes the file over
        await workers.healthy()
        await _served(workers)
        _, (again, now_serving, _) = workers.standbys(2)  # uvicorn's new worker stands by in turn
        assert now_serving == standby and again not in (standby, serving)
    finally:
        code = workers.stop()
    assert code == 0, workers.output()
    assert "Traceback" not in workers.output()
