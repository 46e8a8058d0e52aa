"""The benchmarks' server, in its own process (as in production): the demo plus an ungated twin tool.

python bench/server.py PORT DATA_DIR RETRY_WAIT
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from mcp.server.mcpserver import Context

from handoff import Limits
from handoff.demo import Demo, build_demo

LIMITS = Limits(max_pending=10_000, max_per_minute=1_000_000)
"""Per-user limits past what the benchmarks create (the demo's users are only alice and bob)."""
SESSIONS_PER_USER = 2_000
"""2025-11-25 sessions one user may hold on one process, past the replicas benchmark's 1,000."""


def bench_demo(public_url: str, data: str, *, retry_wait: float, database_url: str | None = None) -> Demo:
    """The demo with the benchmarks' limits and extra tools: an ungated twin of `forecast`, and
    `bench_forget` to start each flow afresh."""
    demo = build_demo(public_url, data, retry_wait=retry_wait, database_url=database_url)
    demo.handoff.ledger.limits = LIMITS  # type: ignore[attr-defined]
    if demo.handoff.sessions is not None:  # the replicas' 1,000 waiting sessions are two users'
        demo.handoff.sessions.per_principal = SESSIONS_PER_USER

    @demo.mcp.tool()
    async def forecast_plain(city: str) -> str:
        """The demo's forecast body without handoff's gate (the baseline)."""
        return f"Forecast for {city}: sunny, 21°C (fetched with your key …00000000)"

    @demo.mcp.tool()
    async def bench_forget(ctx: Context) -> str:
        """Delete the caller's weather key (through the vault, so this process's copy goes too)."""
        principal = demo.handoff.principal(ctx)
        assert principal is not None
        await demo.handoff.vault.delete(principal, "weather_api_key")
        return "forgotten"

    return demo


def main(port: int, data: str, retry_wait: float) -> None:
    logging.disable(logging.WARNING)
    demo = bench_demo(f"http://127.0.0.1:{port}", data, retry_wait=retry_wait)
    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="error")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
