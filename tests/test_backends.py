"""Smoke tests for the real-backend fixtures, using the raw OpenTelemetry SDK.

They prove each backend starts, receives what the SDK sends, and gives it back by content.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.util.types import AttributeValue

from tests.backends import (
    Chromium,
    Phoenix,
    PrometheusFactory,
    Pushgateway,
    Rotel,
    free_port,
    parse_rotel_debug_log,
)

PROTOCOLS = ["http/protobuf", "grpc"]


def unique(prefix: str) -> str:
    """A name no other test (or earlier run against the same server) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def span_exporter(protocol: str, http_base: str, grpc_endpoint: str) -> SpanExporter:
    """An OTLP span exporter for ``protocol``."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=grpc_endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=f"{http_base}/v1/traces")


def metric_and_log_exporters(
    protocol: str, rotel: Rotel
) -> tuple[MetricExporter, LogRecordExporter]:
    """OTLP metric and log exporters for ``protocol`` pointed at ``rotel``."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return (
            OTLPMetricExporter(endpoint=rotel.grpc_endpoint, insecure=True),
            OTLPLogExporter(endpoint=rotel.grpc_endpoint, insecure=True),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return (
        HttpMetricExporter(endpoint=f"{rotel.http_endpoint}/v1/metrics"),
        HttpLogExporter(endpoint=f"{rotel.http_endpoint}/v1/logs"),
    )


@pytest.mark.backend("phoenix")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_phoenix_receives_llm_span(phoenix: Phoenix, protocol: str) -> None:
    project = unique(f"smoke-{protocol.replace('/', '-')}")
    resource = Resource.create(
        {"service.name": "agentobs-smoke", "openinference.project.name": project}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        SimpleSpanProcessor(span_exporter(protocol, phoenix.http_endpoint, phoenix.grpc_endpoint))
    )
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 2,
    }
    with provider.get_tracer("agentobs-smoke").start_as_current_span(
        "chat gpt-4o", attributes=attributes
    ):
        pass
    provider.shutdown()

    [span] = phoenix.spans(project, min_count=1, timeout=30)
    assert span["name"] == "chat gpt-4o"
    assert span["span_kind"] == "LLM"
    assert span["attributes"]["gen_ai.request.model"] == "gpt-4o"
    assert span["attributes"]["llm.token_count.total"] == 5


@pytest.mark.backend("rotel")
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
def test_rotel_receives_metric_and_log(rotel: Rotel, protocol: str) -> None:
    metric_name = f"agentobs.smoke.calls.{uuid.uuid4().hex[:8]}"
    body = unique(f"smoke log over {protocol}")
    metric_exporter, log_exporter = metric_and_log_exporters(protocol, rotel)
    resource = Resource.create({"service.name": "agentobs-smoke"})
    meters = MeterProvider(
        resource=resource,
        metric_readers=[
            PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
        ],
    )
    loggers = LoggerProvider(resource=resource)
    loggers.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    handler = LoggingHandler(logger_provider=loggers)
    logger = logging.getLogger(f"agentobs.smoke.{protocol}")
    logger.addHandler(handler)
    try:
        meters.get_meter("agentobs-smoke").create_counter(metric_name, unit="{call}").add(
            3, {"gen_ai.operation.name": "chat"}
        )
        logger.warning("%s", body, extra={"smoke.protocol": protocol})
        assert meters.force_flush()
        assert loggers.force_flush()
    finally:
        logger.removeHandler(handler)
        meters.shutdown()
        loggers.shutdown()

    point = rotel.wait_for_metric(metric_name, attributes={"gen_ai.operation.name": "chat"})
    assert point.value == 3
    assert point.fields["Unit"] == "{call}"
    assert point.fields["DataType"] == "Sum"
    assert point.resource["service.name"] == "agentobs-smoke"

    record = rotel.wait_for_log(body)
    assert record.body == body
    assert record.fields["SeverityText"] == "WARN"
    assert record.attributes["smoke.protocol"] == protocol


@pytest.mark.backend("rotel")
def test_rotel_receives_span(rotel: Rotel) -> None:
    name = unique("smoke span")
    provider = TracerProvider(resource=Resource.create({"service.name": "agentobs-smoke"}))
    provider.add_span_processor(
        SimpleSpanProcessor(span_exporter("grpc", rotel.http_endpoint, rotel.grpc_endpoint))
    )
    with provider.get_tracer("agentobs-smoke").start_as_current_span(
        name, attributes={"gen_ai.operation.name": "execute_tool", "n": 7}
    ):
        pass
    provider.shutdown()

    span = rotel.wait_for_span(name)
    assert span.scope.startswith("agentobs-smoke")
    assert span.fields["Kind"] == "SPAN_KIND_INTERNAL"


def test_parse_rotel_debug_log_multiline_body_and_histogram() -> None:
    text = "\n".join(
        [
            "\x1b[2m2026-11-22T03:09:49Z\x1b[0m INFO Starting Rotel.",
            "ResourceLog #0",
            "Resource SchemaURL: ",
            "Resource attributes:",
            "     -> service.name: Str(svc)",
            "ScopeLogs #0",
            "ScopeLogs SchemaURL: ",
            "InstrumentationScope probe 1.0",
            "LogRecord #0",
            "SeverityText: WARN",
            "Body: Str(line one",
            "line two)",
            "Attributes:",
            "     -> n: Int(21)",
            "    Trace ID       : abc",
            "    Span ID        : def",
            "Flags: 3",
            "ResourceMetrics #0",
            "Resource attributes:",
            "     -> service.name: Str(svc)",
            "ScopeMetrics #0",
            "InstrumentationScope probe ",
            "Metric #0",
            "Descriptor:",
            "     -> Name: gen_ai.client.operation.duration",
            "     -> Unit: s",
            "     -> DataType: Histogram",
            "HistogramDataPoints #0",
            "Data point attributes:",
            "     -> gen_ai.operation.name: Str(chat)",
            "Count: 1",
            "Sum: 0.5",
            "Buckets #0, Count: 0",
        ]
    )
    log, metric = parse_rotel_debug_log(text)
    assert (log.signal, log.body, log.scope) == ("log", "line one\nline two", "probe 1.0")
    assert log.attributes == {"n": 21}
    assert log.fields["Trace ID"] == "abc"
    assert log.resource == {"service.name": "svc"}
    assert (metric.signal, metric.name, metric.value) == (
        "metric",
        "gen_ai.client.operation.duration",
        0.5,
    )
    assert metric.fields["Count"] == "1"
    assert metric.attributes == {"gen_ai.operation.name": "chat"}


@pytest.mark.backend("prometheus")
def test_prometheus_scrapes_prometheus_client(prometheus: PrometheusFactory) -> None:
    from prometheus_client import CollectorRegistry, Counter, start_http_server

    registry = CollectorRegistry()
    requests = Counter(
        "agentobs_smoke_requests", "Smoke-test requests.", ["route"], registry=registry
    )
    requests.labels(route="/chat").inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        prom = prometheus([f"127.0.0.1:{port}"])
        [sample] = prom.query('agentobs_smoke_requests_total{route="/chat"}', timeout=30)
        assert float(sample["value"][1]) == 3
        assert sample["metric"]["instance"] == f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.backend("prometheus")
def test_pushgateway_pushed_metric_is_scraped(
    prometheus: PrometheusFactory, pushgateway: Pushgateway
) -> None:
    from prometheus_client import CollectorRegistry, Counter, push_to_gateway

    registry = CollectorRegistry()
    Counter("agentobs_smoke_batch_items", "Items in the batch.", registry=registry).inc(42)
    push_to_gateway(
        pushgateway.address,
        job="agentobs_smoke",
        registry=registry,
        grouping_key={"instance": "ci"},
    )
    prom = prometheus([pushgateway.address])
    [sample] = prom.query('agentobs_smoke_batch_items_total{job="agentobs_smoke"}', timeout=30)
    assert float(sample["value"][1]) == 42
    assert sample["metric"]["instance"] == "ci"  # honor_labels keeps the pushed labels


@pytest.mark.backend("chromium")
def test_chromium_screenshot(chromium: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><body style='background:#0a0'><h1>agentobs</h1>",
        encoding="utf-8",
    )
    png = chromium.screenshot(page, tmp_path / "report.png", width=320, height=200)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (320, 200)
