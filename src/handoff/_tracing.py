"""Traces: OpenTelemetry spans of handoff's steps (link made, page opened, identity checked, value
stored, notice sent, held retry woken), through `opentelemetry-api`, a no-op until the operator
installs an SDK.

A record keeps the W3C `traceparent` of the tool call that made its link, so that the steps which
happen later in other requests (the browser's, perhaps on another replica) and the retry they wake
join that call's trace: a child of the tool call when the request has no trace of its own, else a
child of the request's span with a link to the tool call.

Attributes name the step, the kind of record and its id; never a value, a user or a URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

__all__ = ["Attributes", "joined", "step", "traceparent"]

tracer = trace.get_tracer("handoff")
_W3C = TraceContextTextMapPropagator()
Attributes = Mapping[str, AttributeValue]


def traceparent() -> str:
    """The current span's W3C `traceparent`, or "" when nothing traces this request."""
    if not trace.get_current_span().get_span_context().is_valid:
        return ""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", "")


def _recording() -> bool:
    """Whether an SDK is installed: without one every span is opentelemetry-api's no-op, so handoff
    skips even making it (a few microseconds a step)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _origin(parent: str) -> SpanContext | None:
    """The span context a stored `traceparent` names (None for "" or anything malformed)."""
    if not parent:
        return None
    found = trace.get_current_span(_W3C.extract({"traceparent": parent})).get_span_context()
    return found if found.is_valid else None


@contextmanager
def step(name: str, attributes: Attributes | None = None) -> Iterator[Span]:
    """A span of a step that runs in the current request, under whatever span is current."""
    if not _recording():
        yield trace.INVALID_SPAN
        return
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span


@contextmanager
def joined(name: str, parent: str, attributes: Attributes | None = None) -> Iterator[Span]:
    """A span of a later step of the record whose tool call's `traceparent` is `parent`: in that trace
    when this request is in no trace (or already in it), else in this request's trace, linked to it."""
    if not _recording():
        yield trace.INVALID_SPAN
        return
    origin = _origin(parent)
    current = trace.get_current_span().get_span_context()
    if origin is None or (current.is_valid and current.trace_id == origin.trace_id):
        with tracer.start_as_current_span(name, attributes=attributes) as span:
            yield span
    elif current.is_valid:
        with tracer.start_as_current_span(name, attributes=attributes, links=[Link(origin)]) as span:
            yield span
    else:
        context = trace.set_span_in_context(NonRecordingSpan(origin))
        with tracer.start_as_current_span(name, context=context, attributes=attributes) as span:
            yield span
