"""An OTLP/HTTP receiver on loopback: it decodes every trace and metrics export it is sent.

What an OpenTelemetry collector would get, as plain values: spans with their ids, parent, kind,
attributes and status; metric data points with their name, attributes and value.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    kind: str  # SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT, ...
    attributes: dict[str, Any]
    status: str  # STATUS_CODE_UNSET, STATUS_CODE_OK, STATUS_CODE_ERROR
    status_message: str
    service: str  # the resource's service.name


@dataclass(frozen=True)
class DataPoint:
    name: str
    attributes: dict[str, Any]
    value: float


@dataclass
class OtlpReceiver:
    host: str
    port: int
    spans: list[ReceivedSpan] = field(default_factory=list)
    points: list[DataPoint] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # every decoded request body, as sent

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def named(self, prefix: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.name.startswith(prefix)]

    def children(self, parent: ReceivedSpan) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.parent_span_id == parent.span_id and s.trace_id == parent.trace_id]

    def total(self, name: str, **attributes: Any) -> float:
        """The sum over the matching series of each one's latest value (the SDK's counters are
        cumulative: every export repeats a series' running total)."""
        latest: dict[tuple[tuple[str, Any], ...], float] = {}
        for point in self.points:
            if point.name == name and all(point.attributes.get(k) == v for k, v in attributes.items()):
                latest[tuple(sorted(point.attributes.items()))] = point.value
        return sum(latest.values())

    def wait_for(self, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"the OTLP receiver did not get what was expected; spans: {self.spans}")
            time.sleep(0.05)


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def decode_traces(body: bytes) -> list[ReceivedSpan]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    request = ExportTraceServiceRequest.FromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        service = _attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=Span.SpanKind.Name(span.kind),
                        attributes=_attributes(span.attributes),
                        status=Status.StatusCode.Name(span.status.code),
                        status_message=span.status.message,
                        service=service,
                    )
                )
    return spans


def decode_metrics(body: bytes) -> list[DataPoint]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest.FromString(body)
    points = []
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.WhichOneof("data")
                if data not in ("sum", "gauge"):
                    continue
                for point in getattr(metric, data).data_points:
                    number = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
                    points.append(DataPoint(metric.name, _attributes(point.attributes), number))
    return points


class _Handler(BaseHTTPRequestHandler):
    receiver: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.receiver.bodies.append(body)
        if self.path == "/v1/traces":
            self.receiver.spans.extend(decode_traces(body))
        elif self.path == "/v1/metrics":
            self.receiver.points.extend(decode_metrics(body))
        else:
            self.send_response(404)
            self.end_headers()
            return
        # An empty Export*ServiceResponse: all accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on 127.0.0.1 (POST /v1/traces and /v1/metrics, protobuf)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    receiver = OtlpReceiver("127.0.0.1", server.server_address[1])
    server.RequestHandlerClass = type("Handler", (_Handler,), {"receiver": receiver})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
