"""Logs and traces, configured through the standard ``OTEL_*`` variables.

Logs are JSON lines on stderr with the trace and span id of the span they were written in.
Spans go over OTLP/gRPC when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is
set; W3C trace context is read from and written to gRPC metadata and NATS headers, so one trace
runs from PlaceOrder through the other services' events into marketing and its own events.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from . import SERVICE, VERSION

tracer = trace.get_tracer("fd_marketing", VERSION)
_provider: TracerProvider | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        out: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "target": record.name,
            "message": record.getMessage(),
            "service": SERVICE,
        }
        if span.is_valid:
            out["trace_id"] = f"{span.trace_id:032x}"
            out["span_id"] = f"{span.span_id:016x}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def init(level: str) -> None:
    """JSON logs, and the OTLP exporter if an endpoint is configured."""
    global _provider
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "asyncio", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE,
            "service.version": VERSION,
            "service.namespace": "fooddelivery",
        }
    )
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)


def exporting() -> bool:
    """Whether spans are recorded: a tracer provider is installed (:func:`init` with an OTLP
    endpoint, or a test's). Without one every span is a no-op that only carries its parent's
    context."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def shutdown() -> None:
    """Flushes the spans not exported yet."""
    if _provider is not None:
        _provider.shutdown()


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """A structured log line: ``fields`` become keys of the JSON object."""
    logger.log(level, message, extra={"fields": fields})


def extract(carrier: Mapping[str, str] | Iterable[tuple[str, str]]) -> otel_context.Context:
    """The trace context in NATS headers or gRPC metadata (``traceparent``, ``tracestate``)."""
    items = carrier.items() if isinstance(carrier, Mapping) else carrier
    lowered = {k.lower(): v for k, v in items if isinstance(v, str)}
    return propagate.extract(lowered)


def inject(headers: dict[str, str], ctx: otel_context.Context | None = None) -> None:
    """Writes the current (or ``ctx``'s) trace context into ``headers``."""
    propagate.inject(headers, context=ctx)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")
