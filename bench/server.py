"""The benchmarks' server, in its own process (as in production): the demo plus an ungated twin tool.

python bench/server.py PORT DATA_DIR RETRY_WAIT
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from mcp.server.mcpserver import Context

from handoff import Limits
from handoff.demo import build_demo


def main(port: int, data: str, retry_wait: float) -> None:
    logging.disable(logging.WARNING)
    demo = build_demo(f"http://127.0.0.1:{port}", data, retry_wait=retry_wait)
    demo.handoff.ledger.limits = Limits(max_pending=10_000, max_per_minute=1_000_000)  # type: ignore[attr-defined]

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

    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="error")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
