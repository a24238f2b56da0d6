"""OpenTelemetry traces, configured by the standard OTEL_* variables and off unless they name an endpoint.

On: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, over OTLP/HTTP with protobuf
(the only protocol installed). The SDK reads the rest itself: `OTEL_SERVICE_NAME` (default here: contextql),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`.
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keep it off. Off, no tracer provider is installed: the
API's spans are no-ops and the graph's hooks skip spans altogether (graph/telemetry.py).

A trace: the HTTP request (ASGI instrumentation) > the GraphQL operation with its parse and validation
(server/operation_telemetry.py) > each graph statement and index call (graph/telemetry.py) and each Redis
command (Redis instrumentation). The index worker's batches are traces of their own, linked to the writes.
"""

from __future__ import annotations

import logging
import os
import threading

from opentelemetry import trace
from starlette.applications import Starlette

from contextql.graph.telemetry import tracing

logger = logging.getLogger("contextql.tracing")

_lock = threading.Lock()
_provider = None  # this process's, once configured


def requested() -> bool:
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure() -> bool:
    """Install the exporting tracer provider once per process when asked for; returns whether tracing is on."""
    global _provider
    with _lock:
        if _provider is not None or not requested():
            return _provider is not None
        protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    or "http/protobuf")
        if protocol != "http/protobuf":
            logger.warning("tracing stays off: OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported, use http/protobuf",
                           protocol)
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
        provider = TracerProvider(resource=Resource.create({} if named else {"service.name": "contextql"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        RedisInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
        tracing.enabled = True
        logger.info("tracing on: spans are exported over OTLP/HTTP")
        return True


def instrument(app: Starlette) -> None:
    """The HTTP span of each request, outermost (probes and scrapes are not traced)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(OpenTelemetryMiddleware, excluded_urls="/healthz,/readyz,/metrics",
                       exclude_spans=["receive", "send"])


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered (at shutdown: the batch processor would otherwise drop the last spans)."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)
