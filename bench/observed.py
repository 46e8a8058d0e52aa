"""What watching costs (`observed` mode): two benchmark servers in one run, alike but for one thing.
One is observed: its metrics are served on their own listener and scraped every second, and the
OpenTelemetry SDK records every span (the mcp SDK's and handoff's) through a batch processor into an
in-memory exporter. The other serves no metrics listener and has no SDK (opentelemetry-api's no-op).

    python bench/run.py observed

1. the gated tool call with the secret present, on each (target: observed ÷ not ≤ 1.05), beside the
   ungated twin on each;
2. the browser's completion POST → the 2025 client holds the notice, on each (target ≤ 1.10).

A third server, a twin of the unobserved one, is measured the same way: twin ÷ not is what the
machine's noise alone makes of a ratio between two identical servers, the floor under the observed
figures. Calls and flows rotate between the three servers, in rotating order, so that what else the
machine does meanwhile falls on all alike.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

import anyio
import httpx2
from _mcp import text_of, user_client
from mcp import MCPError
from run import Server, notice_flow, show, summary

from handoff.demo import ScriptedBrowser

KEY = "wk_bench_1234567890"


async def _store_key(client: Any, browser: ScriptedBrowser) -> None:
    try:
        await client.call_tool("forecast", {"city": "x"})
    except MCPError as error:
        page = await browser.open(error.data["elicitations"][0]["url"])
        await browser.submit(page, {"value": KEY, "action": "save"})


async def _scrape(url: str, scrapes: list[int]) -> None:
    """Prometheus' part: read the exposition every second."""
    async with httpx2.AsyncClient(timeout=5) as http:
        while True:
            answer = await http.get(url)
            assert answer.status_code == 200 and "handoff_elicitations_total" in answer.text
            scrapes.append(1)
            await anyio.sleep(1.0)


def _ratio(
    name: str, on: dict[str, float], off: dict[str, float], target: float | None = None
) -> dict[str, float]:
    medians, p99s = on["median_ms"] / off["median_ms"], on["p99_ms"] / off["p99_ms"]
    goal = f"  (target ≤ {target:.2f})" if target else ""
    print(f"  {name}: medians {medians:.3f}, p99 {p99s:.3f}{goal}")
    return {"medians": medians, "p99": p99s}


NAMES = {"off": "not observed", "twin": "its twin", "on": "observed"}


async def bench_observed(
    off: Server, twin: Server, on: Server, rounds: int = 1500, flows: int = 600
) -> dict[str, object]:
    assert on.metrics_port is not None and off.metrics_port is None and twin.metrics_port is None
    servers = {"off": off, "twin": twin, "on": on}
    gated: dict[str, list[float]] = {which: [] for which in servers}
    plain: dict[str, list[float]] = {which: [] for which in servers}
    notice: dict[str, list[float]] = {which: [] for which in servers}
    scrapes: list[int] = []
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, tuple[Any, Any, ScriptedBrowser]] = {}
        for which, server in servers.items():
            browser = await stack.enter_async_context(ScriptedBrowser(server.url))
            client, notices = await stack.enter_async_context(user_client(server.mcp_url, browser, "alice"))
            clients[which] = (client, notices, browser)
        tg = await stack.enter_async_context(anyio.create_task_group())
        tg.start_soon(_scrape, f"http://127.0.0.1:{on.metrics_port}/metrics", scrapes)
        for client, _, browser in clients.values():
            await _store_key(client, browser)
            for _ in range(50):  # warm up every path
                await client.call_tool("forecast", {"city": "x"})
                await client.call_tool("forecast_plain", {"city": "x"})
        order = list(servers)
        for i in range(rounds):
            for which in order[i % 3 :] + order[: i % 3]:
                client = clients[which][0]
                for tool, samples in (("forecast", gated[which]), ("forecast_plain", plain[which])):
                    t = time.perf_counter()
                    result = await client.call_tool(tool, {"city": "x"})
                    samples.append(time.perf_counter() - t)
                    assert not result.is_error
        for i in range(flows):
            for which in order[i % 3 :] + order[: i % 3]:
                took, _ = await notice_flow(*clients[which])
                notice[which].append(took)
        spans, ours = map(int, text_of(await clients["on"][0].call_tool("bench_spans", {})).split())
        tg.cancel_scope.cancel()

    print(f"observed (metrics served and scraped every second, every span recorded) vs not ({rounds} rounds,")
    print(f"{flows} flows each):")
    g = {which: summary(gated[which]) for which in servers}
    p = {which: summary(plain[which]) for which in servers}
    n = {which: summary(notice[which]) for which in servers}
    for which in servers:
        show(f"plain SDK tool, {NAMES[which]}", p[which])
    for which in servers:
        show(f"gated tool, {NAMES[which]}", g[which])
    gate = _ratio("gated call, observed ÷ not", g["on"], g["off"], 1.05)
    gate_floor = _ratio("gated call, twin ÷ not (noise)", g["twin"], g["off"])
    paired = statistics.median(a - b for a, b in zip(gated["on"], gated["off"], strict=True))
    print(f"  gated call: median paired difference, observed minus not, {paired * 1e6:.0f} µs")
    for which in servers:
        show(f"notice, {NAMES[which]}", n[which])
    told = _ratio("completion → notice, observed ÷ not", n["on"], n["off"], 1.10)
    told_floor = _ratio("completion → notice, twin ÷ not (noise)", n["twin"], n["off"])
    print(f"  spans recorded by the observed server: {spans} ({ours} of handoff's); scrapes: {len(scrapes)}")
    return {
        "gated": g,
        "plain": p,
        "notice": n,
        "gate_ratio": gate,
        "gate_noise": gate_floor,
        "notice_ratio": told,
        "notice_noise": told_floor,
        "paired_difference_us": paired * 1e6,
        "spans": spans,
        "handoff_spans": ours,
        "scrapes": len(scrapes),
    }
