"""The upstream server restarted while a bridged call waits for the person: the call still ends, with
a tool error that says what happened, and the bridge connects again, so the next call gets the
tool's result. A stdio server that dies mid-wait ends the call the same way."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import SECRET, FormOnlyClient, bridge_command, bridged, browser_log, eventually, text_of
from _server import free_port, python_path
from mcp_types import ElicitResult

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


class DemoProcess:
    """`handoff demo` in a process of its own, on a fixed port and data folder, so that it can be
    stopped and started again as the same server (its SQLite store and keys kept)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.mcp_url = f"{self.origin}/mcp"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DemoProcess:
        argv = [
            sys.executable,
            "-m",
            "handoff.cli",
            "demo",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data),
        ]
        log = (self.data.parent / "demo.log").open("ab")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": python_path()}
        )
        for _ in range(1500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                assert self.process.poll() is None, (self.data.parent / "demo.log").read_text()
                time.sleep(0.02)
        raise AssertionError("handoff demo did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.mark.parametrize("era", ERAS)
async def test_a_call_waiting_while_the_upstream_restarts_ends_and_the_bridge_connects_again(
    tmp_path: Path, era: str
):
    import fake_browser

    (tmp_path / "data").mkdir()
    demo = DemoProcess(tmp_path / "data").start()
    links: list[str] = []
    asked = anyio.Event()

    async def consent(context: Any, params: Any) -> ElicitResult:
        link = re.search(r"Link: (\S+)", params.message)
        assert link is not None
        links.append(link.group(1))
        asked.set()
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    # the browser the bridge opens only looks at the page: the person finishes it after the restart
    command = bridge_command(tmp_path, demo.mcp_url, extra=("--timeout", "20"), more_env={"FAKE_FINISH": "0"})
    outcome: list[Any] = []
    said = tmp_path / "stderr.log"
    try:
        async with bridged(FormOnlyClient(command, mode=era, elicitation_callback=consent)) as client:
            async with anyio.create_task_group() as tasks:

                async def call() -> None:
                    outcome.append(await client.call_tool("forecast", {"city": "Oslo"}))

                tasks.start_soon(call)
                with anyio.fail_after(60):
                    await asked.wait()
                await eventually(
                    lambda: "only looked at" in browser_log(tmp_path), "the browser opening the page"
                )
                demo.stop()  # the server goes away while the call waits
                await eventually(lambda: bool(outcome), "the call ending")  # no hang
                demo.start()  # the same server, in a new process
            os.environ["FAKE_SECRET"] = SECRET
            try:
                await fake_browser.main(links[0])  # the person finishes the page on the new process
            finally:
                del os.environ["FAKE_SECRET"]
            await eventually(lambda: "connected again to" in said.read_text(), "the bridge connecting again")
            again = await client.call_tool("forecast", {"city": "Oslo"})
    finally:
        demo.stop()

    (first,) = outcome
    assert first.is_error
    assert text_of(first).startswith(f"the connection to {demo.mcp_url} ")
    assert not again.is_error, text_of(again)
    assert "Forecast for Oslo" in text_of(again)  # with the key the person saved after the restart
    assert "Traceback" not in said.read_text()
    assert SECRET not in (tmp_path / "stdout.log").read_text()


async def test_a_call_waiting_when_a_stdio_upstream_dies_ends_with_a_clear_error(tmp_path: Path):
    from test_bridge_waits import read, until, upstream

    async def consent(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    log = tmp_path / "upstream.log"
    ended: list[Any] = []
    async with bridged(
        FormOnlyClient(upstream(tmp_path), mode="legacy", elicitation_callback=consent)
    ) as client:
        async with anyio.create_task_group() as tasks:

            async def call() -> None:
                ended.append(await client.call_tool("link_then_hang", {}))

            tasks.start_soon(call)
            await until(log, "link_then_hang: accept")
            (pid,) = [int(line.split()[-1]) for line in read(log) if line.startswith("pid ")]
            os.kill(pid, signal.SIGKILL)  # the server dies while the person is in the browser
        again = await client.call_tool("work", {"steps": 1})  # and the bridge says so, for the next call too

    (first,) = ended
    for result in (first, again):
        assert result.is_error
        assert "bridge_upstream.py" in text_of(result)
        assert "was killed by signal SIGKILL before it answered" in text_of(result)
    said = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in said and said.count("killed by signal SIGKILL") == 2
