"""Traces: OpenTelemetry spans of handoff's steps (link made, page opened, identity checked, value
stored, notice sent, held retry woken), through `opentelemetry-api`, a no-op until the operator
installs an SDK.

A record keeps the W3C `traceparent` of the tool call that made its link, so that the steps which
happen later in other requests (the browser's, perhaps on another replica) and the retry they wake
join that call's trace: a child of the tool call when the request has no trace of its own, else a
child of the request's span with a link to the tool call.

Attributes name the step, the kind of record and its id; never a value, a user or a URL. A step
that fails says so by the exception's type (`error.type`), not its message, which may quote input.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

__all__ = ["Attributes", "joined", "step", "traceparent"]

_W3C = TraceContextTextMapPropagator()
Attributes = Mapping[str, AttributeValue]
_tracer: tuple[object, Tracer] | None = None


def _recording() -> Tracer | None:
    """handoff's tracer when an SDK is installed, else None: without one every span would be
    opentelemetry-api's no-op, so handoff skips even making it."""
    global _tracer
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer("handoff"))
    return _tracer[1]


def traceparent() -> str:
    """The current span's W3C `traceparent`, or "" when nothing traces this request."""
    if not trace.get_current_span().get_span_context().is_valid:
        return ""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", "")


@functools.lru_cache(maxsize=1024)
def _origin(parent: str) -> SpanContext | None:
    """The span context a stored `traceparent` names (None for "" or anything malformed); a record's
    steps ask for the same one several times."""
    if not parent:
        return None
    found = trace.get_current_span(_W3C.extract({"traceparent": parent})).get_span_context()
    return found if found.is_valid else None


@contextmanager
def _span(
    tracer: Tracer,
    name: str,
    attributes: Attributes | None,
    *,
    context: Context | None = None,
    links: list[Link] | None = None,
    current: bool,
) -> Iterator[Span]:
    span = tracer.start_span(name, context=context, attributes=attributes, links=links)
    token = otel_context.attach(trace.set_span_in_context(span)) if current else None
    try:
        yield span
    except Exception as exc:
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR)
        raise
    finally:
        if token is not None:
            otel_context.detach(token)
        span.end()


@contextmanager
def step(name: str, attributes: Attributes | None = None, *, current: bool = True) -> Iterator[Span]:
    """A span of a step that runs in the current request, under whatever span is current (and the
    current span itself while it runs, unless `current` is False: a step that calls nothing traced)."""
    tracer = _recording()
    if tracer is None:
        yield trace.INVALID_SPAN
        return
    with _span(tracer, name, attributes, current=current) as span:
        yield span


@contextmanager
def joined(
    name: str, parent: str, attributes: Attributes | None = None, *, current: bool = True
) -> Iterator[Span]:
    """A span of a later step of the record whose tool call's `traceparent` is `parent`: in that trace
    when this request is in no trace (or already in it), else in this request's trace, linked to it."""
    tracer = _recording()
    if tracer is None:
        yield trace.INVALID_SPAN
        return
    origin = _origin(parent)
    here = trace.get_current_span().get_span_context()
    context, links = None, None
    if origin is not None and not (here.is_valid and here.trace_id == origin.trace_id):
        if here.is_valid:
            links = [Link(origin)]
        else:
            context = trace.set_span_in_context(NonRecordingSpan(origin))
    with _span(tracer, name, attributes, context=context, links=links, current=current) as span:
        yield span
