"""Traces: one tool call that needs a key, the person finishing in Chromium, and the retry, recorded by
the OpenTelemetry SDK's in-memory exporter. Every handoff span is in the tool call's trace or linked
to it, in both eras, on SQLite and PostgreSQL (where the notice comes through the database's bus),
beside the spans of the SDK and of FastMCP; no attribute carries the typed value, a user or a link."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence

import anyio
import pytest
from _mcp import text_of, user_client
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from playwright.async_api import Browser
from test_browser import sign_in_here
from test_elicitation_e2e import _ask, _finish

from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"
KEY = "wk_Tr4cesNeverCarryThisVa1ue"

_exporter = InMemorySpanExporter()


class _WhileTesting(SimpleSpanProcessor):
    """Exports to memory only while a test here runs: the provider stays set for the process, and the
    tests after these should not fill the exporter."""

    on = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            super().on_end(span)


_processor = _WhileTesting(_exporter)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans this test makes, from the process's tracer provider (set once: OpenTelemetry keeps the
    first one a process sets)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_processor)
        trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider
    _exporter.clear()
    _processor.on = True
    try:
        yield _exporter
    finally:
        _processor.on = False
        _exporter.clear()


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def tool_calls(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The SDK's own server spans of `tools/call forecast`, in the order they started."""
    found = [s for s in spans if s.name == "tools/call forecast" and s.kind is trace.SpanKind.SERVER]
    return sorted(found, key=lambda s: s.start_time or 0)


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def joins(span: ReadableSpan, trace_id: int) -> bool:
    return trace_of(span) == trace_id or any(link.context.trace_id == trace_id for link in span.links)


def everything_said(spans: Sequence[ReadableSpan]) -> str:
    """Every attribute and event of every span, as text."""
    said = []
    for s in spans:
        said.append(f"{s.name} {dict(s.attributes or {})}")
        said.extend(f"{e.name} {dict(e.attributes or {})}" for e in s.events)
    return "\n".join(said)


async def enter_in_chromium(chromium: Browser, url: str) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(url)
    await sign_in_here(page)  # plain http: the record's own sign-in form
    await page.fill("input[name=value]", KEY)
    await page.click("button[value=save]")
    await page.wait_for_selector("h1:text('Saved')")
    await context.close()


@pytest.mark.parametrize("era", ["legacy", MODERN])
async def test_the_browser_step_and_the_retry_join_the_tool_calls_trace(
    running, browsers, chromium: Browser, spans: InMemorySpanExporter, era: str
):
    bob = browsers()
    async with user_client(running.mcp_url, browsers(), "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        record = await running.demo.handoff.ledger.get(elicitation["elicitationId"])
        refused = await bob.sign_in(await bob.open(elicitation["url"]), "bob", DEMO_USERS["bob"])
        assert refused.status == 403  # bob opened alice's link
        if era == "legacy":
            await enter_in_chromium(chromium, elicitation["url"])
            result = await _finish(client, era, elicitation, notices)
        else:
            results: list[object] = []

            async def retry() -> None:
                results.append(await _finish(client, era, elicitation, notices))

            async with anyio.create_task_group() as tg:
                tg.start_soon(retry)
                for _ in range(1500):  # the retry reaches the server and is held, waiting for alice
                    if running.demo.handoff.holds.held == 1:
                        break
                    await anyio.sleep(0.02)
                assert running.demo.handoff.holds.held == 1
                await enter_in_chromium(chromium, elicitation["url"])
            (result,) = results
        assert "Oslo" in text_of(result)

    finished = spans.get_finished_spans()
    first, again = tool_calls(finished)  # the call that made the link, and the one that ran the tool
    origin = trace_of(first)
    assert first.context is not None
    assert record.trace.startswith(f"00-{origin:032x}-{first.context.span_id:016x}-")

    (link,) = named(finished, "handoff.link")
    assert link.parent is not None and link.parent.span_id == first.context.span_id
    assert link.attributes and link.attributes["handoff.record_id"] == record.id

    # The browser's requests carry no trace of their own: each page is a child of the tool call.
    pages = named(finished, "handoff.page")
    assert {p.attributes["handoff.page.action"] for p in pages if p.attributes} == {"show", "submit"}
    for page in pages:
        assert trace_of(page) == origin and page.parent is not None
        assert page.parent.span_id == first.context.span_id
    checks = named(finished, "handoff.identity")
    assert {c.attributes["handoff.identity.same"] for c in checks if c.attributes} == {True, False}
    (complete,) = named(finished, "handoff.complete")
    assert trace_of(complete) == origin
    assert complete.attributes and complete.attributes["handoff.status"] == "completed"

    if era == "legacy":
        (notice,) = named(finished, "handoff.notice")
        assert trace_of(notice) == origin
        assert not named(finished, "handoff.wake")
    else:
        # The held retry is a request of its own, in the trace its client started: the wake is a child
        # of that call, linked to the call that made the link.
        (wake,) = named(finished, "handoff.wake")
        assert wake.parent is not None and again.context is not None
        assert trace_of(wake) == trace_of(again) != origin
        assert [link.context.trace_id for link in wake.links] == [origin]
        assert wake.attributes and wake.attributes["handoff.woken"] is True
        assert not named(finished, "handoff.notice")

    ours = [s for s in finished if s.name.startswith("handoff.")]
    assert {s.name for s in ours} >= {"handoff.link", "handoff.page", "handoff.identity", "handoff.complete"}
    assert all(joins(s, origin) for s in ours), [(s.name, trace_of(s)) for s in ours]
    assert all(s.instrumentation_scope and s.instrumentation_scope.name == "handoff" for s in ours)
    said = everything_said(finished)
    assert KEY not in said and "wk_" not in said  # no span of anyone's says the value
    ours_said = everything_said(ours)
    for private in ("alice", "bob", "/handoff/e/", running.origin):
        assert private not in ours_said


def test_without_an_sdk_every_span_is_a_no_op_and_no_record_keeps_a_trace():
    """A process where the operator installed no SDK (opentelemetry-api's default): nothing records."""
    code = """
from handoff._tracing import joined, step, traceparent
assert traceparent() == ""
with step("handoff.link") as span:
    assert not span.is_recording() and traceparent() == ""
with joined("handoff.page", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") as span:
    assert not span.is_recording()
print("no-op")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "no-op", done.stderr


def test_a_step_that_fails_says_so_by_the_exceptions_type_not_its_message(spans: InMemorySpanExporter):
    from handoff._tracing import step

    with pytest.raises(ValueError), step("handoff.complete", {"handoff.record_id": "r1"}):
        raise ValueError(f"rejected {KEY}")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes and span.attributes["error.type"] == "ValueError"
    assert KEY not in everything_said([span]) and not span.events
