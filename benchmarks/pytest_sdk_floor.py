"""The floor under any pytest plugin built on the OpenTelemetry SDK: a pytest plugin
(``-p pytest_sdk_floor``, this directory on ``PYTHONPATH``) that does the least of the job
agentobs's plugin does, with the raw SDK and nothing else.

One span per test (its node id, file and function name, its outcome), children of one
session span; one counter add and one histogram record per test; a ``TracerProvider`` with
a ``BatchSpanProcessor`` and a ``MeterProvider`` with a periodic reader, both exporting to
JSON lines files of the work directory in the cheapest way (no OTLP encoding, no scrubbing,
no resource detection beyond the SDK's default); shut down at the end of the session.

It records far less than agentobs (no flaky history, fingerprints, categories, failure
details, self-telemetry, secret scrubbing), so its cost is a lower bound: what the SDK's
import, set-up, per-test span and measurements and shutdown cost on their own.
``bench_pytest`` runs it in the same rounds as plain pytest and agentobs's plugin.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class _Spans(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.file: BinaryIO = path.open("ab")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        write = self.file.write
        for span in spans:
            context, parent = span.context, span.parent
            record = {
                "name": span.name,
                "traceId": f"{context.trace_id:032x}" if context else "",
                "spanId": f"{context.span_id:016x}" if context else "",
                "parentSpanId": f"{parent.span_id:016x}" if parent else "",
                "startTimeUnixNano": span.start_time,
                "endTimeUnixNano": span.end_time,
                "attributes": dict(span.attributes or {}),
            }
            write(json.dumps(record).encode() + b"\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.file.close()


class _Metrics(MetricExporter):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.file: BinaryIO = path.open("ab")

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.file.write(metrics_data.to_json(indent=None).encode() + b"\n")
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.file.close()


class _Floor:
    def __init__(self, directory: Path) -> None:
        resource = Resource.create({"service.name": "pytest-sdk-floor"})
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(_Spans(directory / "sdk-floor-spans.jsonl"))
        )
        reader = PeriodicExportingMetricReader(
            _Metrics(directory / "sdk-floor-metrics.jsonl"), export_interval_millis=60_000
        )
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=[reader], shutdown_on_exit=False
        )
        meter = self.meter_provider.get_meter("pytest-sdk-floor")
        self.cases = meter.create_counter("test.cases")
        self.duration = meter.create_histogram("test.duration", unit="s")
        self.tracer = self.tracer_provider.get_tracer("pytest-sdk-floor")
        self.session = self.tracer.start_span("pytest session")
        self.context = trace.set_span_in_context(self.session)
        self.outcome = "passed"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcome = report.outcome

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        span = self.tracer.start_span(
            item.nodeid,
            context=self.context,
            attributes={"code.function.name": item.name, "code.file.path": str(item.path)},
        )
        started = time.perf_counter()
        self.outcome = "passed"
        try:
            return (yield)
        finally:
            attributes = {"test.outcome": self.outcome}
            span.set_attributes(attributes)
            span.end()
            self.cases.add(1, attributes)
            self.duration.record(time.perf_counter() - started, attributes)

    def close(self) -> None:
        self.session.end()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.pluginmanager.register(_Floor(session.config.rootpath), "sdk-floor")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    floor = session.config.pluginmanager.get_plugin("sdk-floor")
    if isinstance(floor, _Floor):
        floor.close()
