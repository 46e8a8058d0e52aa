"""What watching costs (`observed` mode): two benchmark servers in one run, alike but for one thing.
One is observed: its metrics are served on their own listener and scraped every second, and the
OpenTelemetry SDK records every span (the mcp SDK's and handoff's) through a batch processor into an
in-memory exporter. The other serves no metrics listener and has no SDK (opentelemetry-api's no-op).

    python bench/run.py observed

1. the gated tool call with the secret present, on each (target: observed ÷ not ≤ 1.05), beside the
   ungated twin on each;
2. the browser's completion POST → the 2025 client holds the notice, on each (target ≤ 1.10).

Calls and flows alternate between the two servers, in alternating order, so that what else the
machine does meanwhile falls on both alike.
"""

from __future__ import annotations

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


def _ratio(name: str, on: dict[str, float], off: dict[str, float], target: float) -> dict[str, float]:
    medians, p99s = on["median_ms"] / off["median_ms"], on["p99_ms"] / off["p99_ms"]
    print(f"  {name}: observed ÷ not, medians {medians:.3f}, p99 {p99s:.3f}  (target ≤ {target:.2f})")
    return {"medians": medians, "p99": p99s}


async def bench_observed(off: Server, on: Server, rounds: int = 1500, flows: int = 250) -> dict[str, object]:
    assert on.metrics_port is not None and off.metrics_port is None
    servers = {"off": off, "on": on}
    gated: dict[str, list[float]] = {"off": [], "on": []}
    plain: dict[str, list[float]] = {"off": [], "on": []}
    notice: dict[str, list[float]] = {"off": [], "on": []}
    scrapes: list[int] = []
    async with (
        ScriptedBrowser(off.url) as off_browser,
        ScriptedBrowser(on.url) as on_browser,
        user_client(off.mcp_url, off_browser, "alice") as (off_client, off_notices),
        user_client(on.mcp_url, on_browser, "alice") as (on_client, on_notices),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(_scrape, f"http://127.0.0.1:{on.metrics_port}/metrics", scrapes)
        clients = {"off": (off_client, off_notices, off_browser), "on": (on_client, on_notices, on_browser)}
        for client, _, browser in clients.values():
            await _store_key(client, browser)
            for _ in range(50):  # warm up every path
                await client.call_tool("forecast", {"city": "x"})
                await client.call_tool("forecast_plain", {"city": "x"})
        for i in range(rounds):
            for which in ("off", "on") if i % 2 else ("on", "off"):
                client = clients[which][0]
                for tool, samples in (("forecast", gated[which]), ("forecast_plain", plain[which])):
                    t = time.perf_counter()
                    result = await client.call_tool(tool, {"city": "x"})
                    samples.append(time.perf_counter() - t)
                    assert not result.is_error
        for i in range(flows):
            for which in ("off", "on") if i % 2 else ("on", "off"):
                took, _ = await notice_flow(*clients[which])
                notice[which].append(took)
        spans, ours = map(int, text_of(await on_client.call_tool("bench_spans", {})).split())
        tg.cancel_scope.cancel()

    print(
        f"observed (metrics served and scraped, every span recorded) vs not ({rounds} rounds, {flows} flows):"
    )
    g = {which: summary(gated[which]) for which in servers}
    p = {which: summary(plain[which]) for which in servers}
    n = {which: summary(notice[which]) for which in servers}
    show("plain SDK tool, not observed", p["off"])
    show("plain SDK tool, observed", p["on"])
    show("gated tool, not observed", g["off"])
    show("gated tool, observed", g["on"])
    gate = _ratio("gated call", g["on"], g["off"], 1.05)
    paired = statistics.median(a - b for a, b in zip(gated["on"], gated["off"], strict=True))
    print(f"  gated call: median paired difference {paired * 1e6:.0f} µs")
    for which in servers:
        print(f"  gated ÷ plain, {which}: {g[which]['median_ms'] / p[which]['median_ms']:.3f}")
    show("completion → notice, not observed", n["off"])
    show("completion → notice, observed", n["on"])
    told = _ratio("completion → notice", n["on"], n["off"], 1.10)
    print(f"  spans recorded by the observed server: {spans} ({ours} of handoff's); scrapes: {len(scrapes)}")
    return {
        "gated": g,
        "plain": p,
        "notice": n,
        "gate_ratio": gate,
        "notice_ratio": told,
        "paired_difference_us": paired * 1e6,
        "spans": spans,
        "handoff_spans": ours,
        "scrapes": len(scrapes),
    }
