"""A stand-in OpenTelemetry collector: OTLP/HTTP on loopback, keeping the spans it is sent."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _server import free_port
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[str, ...]
    """The trace ids this span links to."""
    attributes: dict[str, str]
    service: str


class Collector:
    """Receives `POST /v1/traces` (protobuf, as the OTLP/HTTP exporter sends it) on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.spans: list[Span] = []
        self.arrived = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = ExportTraceServiceRequest.FromString(body)
                collector._keep(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        with self.arrived:
            for resource in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"),
                    "",
                )
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.spans.append(
                            Span(
                                span.name,
                                span.trace_id.hex(),
                                span.span_id.hex(),
                                span.parent_span_id.hex(),
                                tuple(link.trace_id.hex() for link in span.links),
                                {a.key: a.value.string_value for a in span.attributes},
                                service,
                            )
                        )
            self.arrived.notify_all()

    def wait_for(self, names: set[str], timeout: float = 15) -> list[Span]:
        """The spans so far, once one of each name in `names` has arrived (or the timeout passed)."""
        with self.arrived:
            self.arrived.wait_for(lambda: names <= {s.name for s in self.spans}, timeout)
            return list(self.spans)
