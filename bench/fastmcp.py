"""On FastMCP: a handoff-gated tool call with the secret present ÷ the same tool without handoff.

    python bench/fastmcp.py [ROUNDS]   # the demo written with FastMCP in its own process, loopback HTTP

Both tools run on one FastMCP server behind the same sign-in (handoff's AuthServer through
`AuthServerProvider`, so every call verifies its token), called alternately by the official `mcp`
client in the 2025-11-25 era and by FastMCP's own Client in the 2026-07-28 era. Target: ≤ 1.05.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

# This file's own folder, first on the path when it runs, would make `import fastmcp` import this file.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _mcp import user_client
from _server import free_port
from fastmcp import Client as FastMCPClient
from mcp import MCPError

from handoff.demo import DEMO_USERS, ScriptedBrowser, build_demo
from handoff.demo._client import signed_in_http

_spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().parent / "run.py")
assert _spec is not None and _spec.loader is not None
_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_run)
machine, show, summary = _run.machine, _run.show, _run.summary

KEY = "wk_bench_1234567890"


def serve(port: int, data: str) -> None:
    """The FastMCP demo plus an ungated twin of `forecast` (the baseline)."""
    import uvicorn

    logging.disable(logging.WARNING)
    demo = build_demo(f"http://127.0.0.1:{port}", data, framework="fastmcp")

    @demo.mcp.tool
    async def forecast_plain(city: str) -> str:
        """The demo's forecast body without handoff's gate."""
        return f"Forecast for {city}: sunny, 21°C (fetched with your key …00000000)"

    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="error")


async def pairs(call: Callable[[str], Awaitable[Any]], rounds: int) -> tuple[list[float], list[float]]:
    """Gated and plain calls interleaved, alternating which goes first, so that drift hits both alike."""
    for _ in range(50):  # warm up both paths
        await call("forecast")
        await call("forecast_plain")
    gated: list[float] = []
    plain: list[float] = []
    for i in range(rounds):
        order = (("forecast", gated), ("forecast_plain", plain))
        for tool, samples in order if i % 2 else reversed(order):
            t = time.perf_counter()
            await call(tool)
            samples.append(time.perf_counter() - t)
    return gated, plain


def report(title: str, gated: list[float], plain: list[float]) -> float:
    g, p = summary(gated), summary(plain)
    print(title)
    show("plain FastMCP tool", p)
    show("handoff-gated tool (secret present)", g)
    ratio = g["median_ms"] / p["median_ms"]
    paired = statistics.median(a - b for a, b in zip(gated, plain, strict=True))
    print(f"  ratio of medians: {ratio:.3f}  (target ≤ 1.05)")
    paired_ratio = 1 + paired * 1000 / p["median_ms"]
    print(f"  median paired difference {paired * 1e6:.0f} µs → ratio {paired_ratio:.3f}")
    return ratio


async def bench(url: str, rounds: int) -> None:
    mcp_url = f"{url}/mcp"
    async with ScriptedBrowser(url) as browser:
        async with user_client(mcp_url, browser, "alice") as (client, _):
            try:
                await client.call_tool("forecast", {"city": "x"})
            except MCPError as error:  # the first call asks for the key: enter it once
                page = await browser.open(error.data["elicitations"][0]["url"])
                await browser.submit(page, {"value": KEY, "action": "save"})

            async def sdk_call(tool: str) -> None:
                result = await client.call_tool(tool, {"city": "x"})
                assert not result.is_error

            gated, plain = await pairs(sdk_call, rounds)
        report("official mcp client, 2025-11-25 (loopback HTTP):", gated, plain)

        http = signed_in_http(mcp_url, browser, "alice", DEMO_USERS["alice"])
        assert http.auth is not None
        async with FastMCPClient(mcp_url, auth=http.auth) as fast:

            async def fastmcp_call(tool: str) -> None:
                result = await fast.call_tool(tool, {"city": "x"})
                assert not result.is_error

            gated, plain = await pairs(fastmcp_call, rounds)
        report("FastMCP's Client, 2026-07-28 (loopback HTTP):", gated, plain)


def main(rounds: int = 1500) -> None:
    print(f"machine: {machine()}")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="handoff-bench-fastmcp-") as data:
        server = subprocess.Popen([sys.executable, __file__, "serve", str(port), data])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the benchmark server did not start") from None
                    time.sleep(0.05)
            anyio.run(bench, f"http://127.0.0.1:{port}", rounds)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        main(int(sys.argv[1]) if sys.argv[1:] else 1500)
