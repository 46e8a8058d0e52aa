"""Metrics in Prometheus' format (`prometheus-client`): what the round trip does, on a listener of its
own, never on the public pages.

Labels say what kind of step and how it ended (`kind`, `outcome`, `result`), never who, which record
or which URL: a label value is kept for as long as the process runs and shown to whoever scrapes.
Counters of things the process keeps anyway (held requests, busy answers, bus reconnects, sign-in
tries) are read from those parts when scraped, so they cost nothing in between.
"""

from __future__ import annotations

import collections
import hmac
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Receive, Scope, Send

from .ledger import Record

__all__ = ["Metric", "Metrics", "counter", "counters", "gauge"]

QUICK = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Buckets of a step that takes milliseconds (completion → notice, → the held retry waking)."""
HUMAN = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
"""Buckets of a step a person takes (link → completion)."""


class Metrics:
    """handoff's metrics of one server, in a registry of their own (several servers in one process
    count apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.elicitations = Counter(
            "handoff_elicitations",
            "Elicitations by kind and what happened: created, opened, completed, declined, expired, "
            "refused_identity (the wrong person opened the link), rate_limited.",
            ["kind", "outcome"],
            registry=r,
        )
        self.link_to_completion = Histogram(
            "handoff_link_to_completion_seconds",
            "From the link's creation to the person finishing (completed or declined).",
            ["kind"],
            buckets=HUMAN,
            registry=r,
        )
        self.completion_to_notice = Histogram(
            "handoff_completion_to_notice_seconds",
            "From a completion to its notifications/elicitation/complete being sent (2025-11-25).",
            buckets=QUICK,
            registry=r,
        )
        self.completion_to_wake = Histogram(
            "handoff_completion_to_retry_wake_seconds",
            "From a completion to the held request waiting on it waking (a 2026-07-28 retry, or an "
            "in-call wait).",
            buckets=QUICK,
            registry=r,
        )
        self.held = Counter(
            "handoff_held_requests", "Requests held open while a person finishes in the browser.", registry=r
        )
        self.store_errors = Counter(
            "handoff_store_errors",
            "Times the store could not be used (a 503 to a person or a client).",
            registry=r,
        )
        self.outbox_depth = Gauge(
            "handoff_outbox_depth",
            "Completion notices queued and not yet sent (read by each sweep).",
            registry=r,
        )
        self.outbox_age = Gauge(
            "handoff_outbox_age_seconds",
            "Age of the oldest queued notice at the last sweep (0: none).",
            registry=r,
        )

    def created(self, kind: str) -> None:
        self.elicitations.labels(kind, "created").inc()

    def outcome(self, kind: str, outcome: str) -> None:
        self.elicitations.labels(kind, outcome).inc()

    def finished(self, record: Record) -> None:
        """A record reached its final status (completed, declined, expired)."""
        self.elicitations.labels(record.kind, record.status.value).inc()
        if record.completed_at is not None and record.status.value in ("completed", "declined"):
            self.link_to_completion.labels(record.kind).observe(
                max(0.0, record.completed_at - record.created_at)
            )

    def expired(self, records: Sequence[Record]) -> None:
        """A sweep's batch of expiries, counted once per kind rather than once per record."""
        for kind, n in collections.Counter(r.kind for r in records).items():
            self.elicitations.labels(kind, "expired").inc(n)

    def since_completion(self, histogram: Histogram, record: Record) -> None:
        if record.completed_at is not None:
            histogram.observe(max(0.0, time.time() - record.completed_at))

    def outbox(self, depth: int, oldest: float | None) -> None:
        self.outbox_depth.set(depth)
        self.outbox_age.set(0.0 if oldest is None else max(0.0, time.time() - oldest))

    def read(self, collect: Callable[[], Iterator[Metric]]) -> None:
        """Add metrics read from other parts when scraped (`collect` yields them)."""
        self.registry.register(_Reader(collect))

    def app(self, token: str | None = None) -> ASGIApp:
        """The exposition as an ASGI app; with `token`, only for `Authorization: Bearer <token>`."""
        app: ASGIApp = make_asgi_app(self.registry)
        return app if token is None else _Bearer(app, token)


class _Reader(Collector):
    def __init__(self, collect: Callable[[], Iterator[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        return self._collect()


def counter(name: str, documentation: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def counters(name: str, documentation: str, label: str, values: Mapping[str, float]) -> Metric:
    """One counter family with a sample per value of `label` (a family is named once in an exposition)."""
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in values.items():
        family.add_metric([value], count)
    return family


def gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


class _Bearer:
    """ASGI: 401 unless the request carries the bearer token (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                headers: list[Any] = [(b"www-authenticate", b"Bearer"), (b"content-type", b"text/plain")]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": b"a bearer token is needed\n"})
                return
        await self.app(scope, receive, send)
