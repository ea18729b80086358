"""Test helpers: capture the spans, metrics and logs your code records, in memory.

In a test::

    def test_plan_stage(agentobs_capture):          # fixture from agentobs's pytest plugin
        run_my_agent()
        span = agentobs_capture.span("invoke_workflow release")
        assert span.attributes["gen_ai.workflow.name"] == "release"
        assert agentobs_capture.metric_points("gen_ai.workflow.duration")

Or without pytest: ``with agentobs.testing.capture() as cap: ...``. Spans are exported
synchronously, so they are readable as soon as they end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _errors
from ._export import pipeline as _pipeline
from ._settings import resolve

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["Capture", "MetricPoint", "capture", "reset"]


@dataclass(frozen=True)
class MetricPoint:
    """One data point of a metric: its attributes and value (sum, gauge or histogram)."""

    name: str
    attributes: Mapping[str, Any]
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()
    unit: str = ""
    kind: str = ""


@dataclass
class Capture:
    """What was recorded while a :func:`capture` block was open."""

    span_exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader
    log_exporter: InMemoryLogRecordExporter
    _metric_cache: list[MetricPoint] | None = field(default=None, repr=False)

    @property
    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``; AssertionError if none or several."""
        found = [s for s in self.spans if s.name == name]
        names = sorted({s.name for s in self.spans})
        assert len(found) == 1, f"expected one span {name!r}, found {len(found)}; spans: {names}"
        return found[0]

    def spans_named(self, name: str) -> list[ReadableSpan]:
        """Every finished span called ``name``."""
        return [s for s in self.spans if s.name == name]

    @property
    def logs(self) -> list[ReadableLogRecord]:
        """Every log record bridged from ``logging`` so far."""
        return list(self.log_exporter.get_finished_logs())

    def metric_points(self, name: str | None = None) -> list[MetricPoint]:
        """The current data points of metric ``name`` (all metrics when None).

        Each call collects afresh; values are cumulative since the capture began.
        """
        points: list[MetricPoint] = []
        data = self.metric_reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if name is not None and metric.name != name:
                        continue
                    points.extend(_points(metric))
        return points

    def metric_value(self, name: str, **attributes: Any) -> float:
        """Sum of the values (or histogram counts) of ``name`` whose attributes include these."""
        total = 0.0
        for point in self.metric_points(name):
            if all(point.attributes.get(k) == v for k, v in attributes.items()):
                total += point.count if point.count is not None else (point.value or 0.0)
        return total

    def clear(self) -> None:
        """Forget the spans and logs captured so far (metrics are cumulative)."""
        self.span_exporter.clear()
        self.log_exporter.clear()


def _points(metric: Any) -> Iterator[MetricPoint]:
    kind = type(metric.data).__name__
    for point in metric.data.data_points:
        attributes = dict(point.attributes or {})
        if hasattr(point, "bucket_counts"):
            yield MetricPoint(
                metric.name,
                attributes,
                count=point.count,
                sum=point.sum,
                bucket_counts=tuple(point.bucket_counts),
                explicit_bounds=tuple(point.explicit_bounds),
                unit=metric.unit,
                kind=kind,
            )
        else:
            yield MetricPoint(
                metric.name, attributes, value=point.value, unit=metric.unit, kind=kind
            )


def reset() -> None:
    """Shut agentobs down and clear OpenTelemetry's global providers, for a fresh configure().

    Meant for tests only: it reaches into OpenTelemetry's private globals the way its own
    test utilities do.
    """
    _pipeline.shutdown(timeout=5.0)
    from . import _api, _queues, _recent, _sessions, health

    health.clear()
    _recent.TASKS.clear()
    _queues.forget_queues()
    _sessions.ACTIVE.clear()
    _api.forget_handoffs()
    _pipeline.release_globals(only_ours=False)
    _errors.reset_warnings()


@contextmanager
def capture(**configure_kwargs: Any) -> Iterator[Capture]:
    """Configure agentobs to record into memory for the duration of the block.

    Keyword arguments are those of :func:`agentobs.configure`; by default no exporter runs,
    so nothing leaves the process. The previous configuration is shut down first and the
    globals are reset afterwards. The price table is loaded first (once per process), so the
    costs of the LLM calls made in the block are known when they end, never ``pending``.
    """
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ._llm import cost

    configure_kwargs.setdefault("exporter", "none")
    settings = resolve(**configure_kwargs)
    reset()
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    reader = InMemoryMetricReader()
    _pipeline.install(
        settings,
        span_processors=[SimpleSpanProcessor(spans)],
        metric_readers=[reader],
        log_processors=[SimpleLogRecordProcessor(logs)],
    )
    cost.warm()
    cost.wait_ready(30.0)
    try:
        yield Capture(spans, reader, logs)
    finally:
        reset()
