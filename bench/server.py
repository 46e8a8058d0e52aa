"""The benchmarks' server, in its own process (as in production): the demo plus an ungated twin tool.

python bench/server.py PORT DATA_DIR RETRY_WAIT [METRICS_PORT]

With METRICS_PORT, the server is observed: its metrics are served there, and the OpenTelemetry SDK
records every span (the SDK's and handoff's) through a batch processor into an in-memory exporter.
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


def bench_demo(
    public_url: str,
    data: str,
    *,
    retry_wait: float,
    database_url: str | None = None,
    metrics_address: str | None = None,
) -> Demo:
    """The demo with the benchmarks' limits and extra tools: an ungated twin of `forecast`, and
    `bench_forget` to start each flow afresh."""
    demo = build_demo(
        public_url, data, retry_wait=retry_wait, database_url=database_url, metrics_address=metrics_address
    )
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


def traced(demo: Demo) -> None:
    """Install the OpenTelemetry SDK, recording into memory, and a tool saying how many spans it has."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    @demo.mcp.tool()
    async def bench_spans() -> str:
        """How many spans were exported, and how many of them handoff's."""
        provider.force_flush()
        spans = exporter.get_finished_spans()
        ours = sum(1 for span in spans if span.name.startswith("handoff."))
        return f"{len(spans)} {ours}"


def main(port: int, data: str, retry_wait: float, metrics_port: int | None) -> None:
    logging.disable(logging.WARNING)
    metrics = None if metrics_port is None else f"127.0.0.1:{metrics_port}"
    demo = bench_demo(f"http://127.0.0.1:{port}", data, retry_wait=retry_wait, metrics_address=metrics)
    if metrics_port is not None:
        traced(demo)
    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="error")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
