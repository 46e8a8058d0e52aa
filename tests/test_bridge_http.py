"""`handoff bridge --listen 127.0.0.1:PORT`: the same bridge over Streamable HTTP on loopback, driven
by the official `mcp` client at that URL; any other address is refused in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import SECRET, FormOnlyClient, bridge_env, browser_log, text_of
from _server import free_port
from conftest import Running
from mcp_types import ElicitResult

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path / "data").start()
    yield server
    server.stop()


@contextmanager
def listening(tmp_path: Path, *server: str) -> Iterator[str]:
    """The bridge serving HTTP on a free loopback port in front of `server`: its MCP URL, once it
    said it serves there (its stderr in tmp_path/stderr.log)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    argv = [sys.executable, "-m", "handoff.cli", "bridge", "--listen", f"127.0.0.1:{port}", *server]
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        process = subprocess.Popen(argv, env=bridge_env(tmp_path), stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(1500):
            said = log.read_text()
            if f"at {url}" in said or process.poll() is not None:
                break
            time.sleep(0.02)
        assert f"at {url}" in log.read_text(), log.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_only_client_over_http_gets_the_real_result_of_its_one_call(
    demo: Running, tmp_path: Path, era: str
):
    asked: list[Any] = []
    heard: list[Any] = []

    async def consent(context: Any, params: Any) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    async def message(item: Any) -> None:
        heard.append(item)

    with listening(tmp_path, demo.mcp_url) as url:
        client = FormOnlyClient(url, mode=era, elicitation_callback=consent, message_handler=message)
        async with client:
            tools = await client.list_tools()
            assert "forecast" in [tool.name for tool in tools.tools]
            result = await client.call_tool("forecast", {"city": "Oslo"})

    assert not result.is_error, text_of(result)
    assert "Forecast for Oslo" in text_of(result)
    assert len(asked) == 1 and "asks you to open a link in your browser" in asked[0].message
    assert "entered secret" in browser_log(tmp_path)
    assert SECRET not in repr([result, asked, heard])
    said = (tmp_path / "stderr.log").read_text()
    assert "handoff bridge: serving " in said and "Traceback" not in said


@pytest.mark.parametrize("address", ["0.0.0.0:8765", "192.168.1.10:8765", "example.com:8765", "[::]:8765"])
async def test_an_address_other_hosts_could_reach_is_refused_in_one_line(address: str):
    argv = [sys.executable, "-m", "handoff.cli", "bridge", "--listen", address, "http://127.0.0.1:9/mcp"]
    done = await anyio.run_process(argv, check=False)
    said = done.stderr.decode()
    assert done.returncode == 1 and done.stdout == b""
    assert said.count("\n") == 1 and "--listen serves only on a loopback address" in said, said


async def test_a_port_in_use_is_one_line(tmp_path: Path, demo: Running):
    argv = [sys.executable, "-m", "handoff.cli", "bridge", "--listen", f"127.0.0.1:{demo.port}", demo.mcp_url]
    done = await anyio.run_process(argv, check=False, env=bridge_env(tmp_path))
    said = done.stderr.decode()
    assert done.returncode == 1
    line = f"cannot listen on 127.0.0.1:{demo.port} (Address already in use); choose another port"
    assert said == f"handoff bridge: {line}\n"
