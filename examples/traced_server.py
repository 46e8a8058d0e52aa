# examples/traced_server.py: examples/server.py with every round trip traced, its spans (the SDK's and
# handoff's) sent over OTLP/HTTP to a collector (Jaeger, Tempo, an OpenTelemetry Collector) at
# $OTEL_EXPORTER_OTLP_ENDPOINT (http://localhost:4318 when unset).
# Needs: pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
# Run: ALICE_PASSWORD_HASH=$(python -c 'from handoff import hash_password; print(hash_password("pw"))') \
#   HANDOFF_OAUTH_GITHUB_CLIENT_ID=... HANDOFF_OAUTH_GITHUB_CLIENT_SECRET=... python examples/traced_server.py
import os

import uvicorn
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "weather-and-payments"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads OTEL_EXPORTER_OTLP_*
trace.set_tracer_provider(provider)  # once, before the server is built

from server import app  # noqa: E402  (examples/server.py, as it is)

if __name__ == "__main__":
    try:
        uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
    finally:
        provider.shutdown()  # the last spans leave before the process ends
