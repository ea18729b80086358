"""agentobs's reach-ins into OpenTelemetry (``agentobs._export.sdk_compat``) still find the
layout they know. If one of these fails after an OpenTelemetry upgrade, it moved a private
attribute: agentobs still works through the public fallback, but slower or with less (attributes
read under a lock per key; drops not counted exactly; no batch coalescing; spans given to
``agentobs.testing``/``install()`` scrubbed on the application's thread; other
instrumentations' metrics unscrubbed on a pull reader; providers not replaceable). Update
``sdk_compat`` for the new layout, then this test."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.version import __version__ as SDK_VERSION

from agentobs._export import sdk_compat


def _ended_span() -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attributes({"a": 1, "b": "two"})
    provider.shutdown()
    (finished,) = exporter.get_finished_spans()
    return finished


def test_span_attributes_are_read_from_the_sdks_inner_dict() -> None:
    span = _ended_span()
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    assert type(inner) is dict, (
        f"opentelemetry-sdk {SDK_VERSION} no longer keeps span attributes in "
        "BoundedAttributes._dict: update agentobs._export.sdk_compat"
    )
    items = sdk_compat.span_attribute_items(span)
    assert type(items) is type({}.items())
    assert dict(items) == {"a": 1, "b": "two"}
    assert dict(sdk_compat.attribute_items(span._attributes)) == {"a": 1, "b": "two"}


def test_attribute_items_fall_back_to_the_public_mapping() -> None:
    proxy = MappingProxyType({"k": "v"})
    assert dict(sdk_compat.attribute_items(proxy)) == {"k": "v"}

    class Public:
        attributes = proxy

    assert dict(sdk_compat.span_attribute_items(Public())) == {"k": "v"}


class _Recording(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.seen += [span.name for span in spans]
        return self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()


def test_a_batch_processors_exporter_is_wrapped_in_place() -> None:
    exporter = InMemorySpanExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=10)
    wrappers: list[_Recording] = []

    def wrap(current: Any) -> _Recording:
        wrappers.append(_Recording(current))
        return wrappers[-1]

    assert sdk_compat.wrap_batch_exporter(processor, wrap), (
        f"opentelemetry-sdk {SDK_VERSION}'s BatchSpanProcessor no longer keeps its exporter "
        "in _batch_processor._exporter: update agentobs._export.sdk_compat"
    )
    assert processor.span_exporter is wrappers[0]  # the public view sees the wrapper
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("through the wrapper").end()
    provider.force_flush()
    provider.shutdown()
    assert wrappers[0].seen == ["through the wrapper"]
    assert [span.name for span in exporter.get_finished_spans()] == ["through the wrapper"]


def test_an_unknown_processor_is_left_as_it_is() -> None:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    assert not sdk_compat.wrap_batch_exporter(processor, lambda current: None)
    assert processor.span_exporter is exporter


def test_span_attributes_and_events_are_read_without_the_copies() -> None:
    span = _ended_span()
    assert sdk_compat.span_attributes(span) is getattr(span, "_attributes", None), (
        f"opentelemetry-sdk {SDK_VERSION} no longer keeps a span's attributes in "
        "_attributes: update agentobs._export.sdk_compat"
    )
    for name in ("events", "links"):
        assert hasattr(getattr(span, "_" + name, None), "__len__"), (
            f"opentelemetry-sdk {SDK_VERSION} no longer keeps a span's {name} in _{name}: "
            "update agentobs._export.sdk_compat"
        )
        assert not sdk_compat.may_have(span, name)

    class Public:
        attributes = MappingProxyType({"k": "v"})
        events = ("an event",)

    assert sdk_compat.span_attributes(Public()) == {"k": "v"}
    assert sdk_compat.may_have(Public(), "events")  # unknown layout: read the public one


def test_batch_processors_of_spans_and_logs_have_the_known_layout() -> None:
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter

    span_exporter, log_exporter = InMemorySpanExporter(), InMemoryLogRecordExporter()
    processors = (
        BatchSpanProcessor(span_exporter, max_queue_size=64, max_export_batch_size=8),
        BatchLogRecordProcessor(log_exporter, max_queue_size=64, max_export_batch_size=8),
    )
    for processor, exporter in zip(processors, (span_exporter, log_exporter), strict=True):
        internals = sdk_compat.batch_internals(processor)
        assert internals is not None, (
            f"opentelemetry-sdk {SDK_VERSION}'s {type(processor).__name__} no longer has "
            "_batch_processor with _queue, _exporter, _max_export_batch_size and _metrics: "
            "update agentobs._export.sdk_compat"
        )
        assert internals.exporter is exporter
        assert internals.batch_size == 8
        assert internals.queue.maxlen == 64
        processor.shutdown()
    assert sdk_compat.batch_internals(SimpleSpanProcessor(InMemorySpanExporter())) is None


def test_a_batch_processor_uses_the_queue_and_metrics_hook_put_in_place() -> None:
    import collections

    exporter = InMemorySpanExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=4, max_export_batch_size=2, schedule_delay_millis=60_000
    )
    internals = sdk_compat.batch_internals(processor)
    assert internals is not None
    finished: list[int] = []

    class Hook:
        def drop_items(self, count: int, error_type: str = "queue_full") -> None:
            return None

        def finish_items(self, count: int) -> None:
            finished.append(count)

    queue: collections.deque[Any] = collections.deque(maxlen=4)
    internals.replace_queue(queue)
    internals.replace_metrics(Hook())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("queued").end()
    assert internals.queue is queue
    assert len(queue) == 1
    provider.force_flush()
    provider.shutdown()
    assert [span.name for span in exporter.get_finished_spans()] == ["queued"]
    assert sum(finished) == 1, (
        f"opentelemetry-sdk {SDK_VERSION}'s batch processor no longer reads the queue or "
        "metrics hook agentobs put in place: update agentobs._export.sdk_compat"
    )


def test_a_metric_exporters_preferences_and_a_readers_receiver() -> None:
    from opentelemetry.sdk.metrics import Counter, MeterProvider
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        ConsoleMetricExporter,
        InMemoryMetricReader,
    )

    exporter = ConsoleMetricExporter(preferred_temporality={Counter: AggregationTemporality.DELTA})
    temporality, _aggregation = sdk_compat.preferred_temporality_and_aggregation(exporter)
    assert temporality == {Counter: AggregationTemporality.DELTA}, (
        f"opentelemetry-sdk {SDK_VERSION}'s MetricExporter no longer keeps "
        "_preferred_temporality: update agentobs._export.sdk_compat"
    )
    reader = InMemoryMetricReader()
    received: list[Any] = []

    def wrap(receive: Any) -> Any:
        def seen(data: Any, *args: Any, **kwargs: Any) -> Any:
            received.append(data)
            return receive(data, *args, **kwargs)

        return seen

    assert sdk_compat.wrap_receive_metrics(reader, wrap), (
        f"opentelemetry-sdk {SDK_VERSION}'s MetricReader no longer has _receive_metrics: "
        "update agentobs._export.sdk_compat"
    )
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("m").create_counter("c").add(1)
    assert reader.get_metrics_data() is not None
    assert received, "the reader no longer hands what it collects to _receive_metrics"
    provider.shutdown()
    assert not sdk_compat.wrap_receive_metrics(object(), wrap)


def test_the_global_providers_can_be_unset_and_set_again() -> None:
    from opentelemetry import trace

    before = sdk_compat.current_global_providers()
    try:
        first, second = TracerProvider(), TracerProvider()
        sdk_compat.unset_global_providers(True, False, False)
        trace.set_tracer_provider(first)
        assert sdk_compat.current_global_providers()[0] is first, (
            "opentelemetry-api no longer keeps the tracer provider in trace._TRACER_PROVIDER: "
            "update agentobs._export.sdk_compat"
        )
        sdk_compat.unset_global_providers(True, False, False)
        assert sdk_compat.current_global_providers()[0] is None
        trace.set_tracer_provider(second)
        assert trace.get_tracer_provider() is second
    finally:
        sdk_compat.unset_global_providers(True, False, False)
        if before[0] is not None:
            trace.set_tracer_provider(before[0])


def test_a_tracers_limits_and_scope() -> None:
    from opentelemetry.sdk.trace import SpanLimits

    limits = SpanLimits(max_span_attributes=7)
    tracer = TracerProvider(span_limits=limits).get_tracer("scoped", "1.2")
    assert sdk_compat.tracer_span_limits(tracer) is limits, (
        f"opentelemetry-sdk {SDK_VERSION}'s Tracer no longer keeps _span_limits: "
        "update agentobs._export.sdk_compat"
    )
    scope = sdk_compat.tracer_scope(tracer)
    assert scope is getattr(tracer, "_instrumentation_scope", None), (
        f"opentelemetry-sdk {SDK_VERSION}'s Tracer no longer keeps _instrumentation_scope: "
        "update agentobs._export.sdk_compat"
    )
    assert (scope.name, scope.version) == ("scoped", "1.2")

    class Public:
        instrumentation_info = scope

    fallback = sdk_compat.tracer_scope(Public())
    assert (fallback.name, fallback.version) == ("scoped", "1.2")
    assert sdk_compat.tracer_span_limits(Public()).max_span_attributes == 128


def test_the_prometheus_reader_renders_the_newest_collection_only() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    reader = sdk_compat.latest_prometheus_reader(registry)
    assert hasattr(getattr(reader._collector, "_metrics_datas", None), "clear"), (
        "opentelemetry-exporter-prometheus's collector no longer queues collections in "
        "_metrics_datas: update agentobs._export.sdk_compat"
    )
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("m").create_counter("seen_total").add(2)
    provider.force_flush()
    provider.force_flush()
    text = generate_latest(registry).decode()
    provider.shutdown()
    assert len([line for line in text.splitlines() if line.startswith("seen_total{")]) == 1, text
