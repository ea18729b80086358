"""The local files' OTLP JSON encoder makes exactly the documents of OpenTelemetry's own.

Each test builds real SDK telemetry (spans, metrics, log records) covering every field and
value type the encoders handle, then compares ``agentobs._export.otlpjson`` with
``opentelemetry.exporter.otlp.json.common``: the dicts (``encode_*``), and the lines the
local files get (``*_json``), byte for byte those ``json.dumps`` makes of OTel's dicts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.json.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import (
    AlwaysOnExemplarFilter,
    Counter,
    Histogram,
    MeterProvider,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from agentobs._export import otlpjson as _otlpjson
from agentobs.logs import bridge_handler

NAN, INF = float("nan"), float("inf")

ATTRIBUTES: dict[str, Any] = {
    "text": "hello",
    "empty.text": "",
    "unicode": "héllo ✓ 日本",
    "flag": True,
    "off": False,
    "count": 42,
    "negative": -7,
    "big": 2**62,
    "zero": 0,
    "ratio": 0.25,
    "nan": NAN,
    "inf": INF,
    "minus.inf": -INF,
    "texts": ["a", "b", ""],
    "flags": [True, False],
    "ints": [1, 2, 3],
    "floats": [1.5, NAN, -INF],
    "empty.list": [],
}


def line(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def same(ours: dict[str, Any], theirs: dict[str, Any], ours_line: str | None = None) -> None:
    """Equal documents, equal JSON text (key order included), and ``ours_line`` (what the
    local files write) that very text."""
    assert ours == theirs
    assert line(ours) == line(theirs)
    if ours_line is not None:
        assert ours_line == line(theirs)


def same_spans(spans: list[ReadableSpan]) -> None:
    """Equal with the encoder's caches cold (every key and resource new) and warm."""
    theirs = encode_spans(spans).to_dict()
    _otlpjson.clear_caches()
    same(_otlpjson.encode_spans(spans), theirs, _otlpjson.spans_json(spans))
    same(_otlpjson.encode_spans(spans), theirs, _otlpjson.spans_json(spans))


# --- spans ---------------------------------------------------------------------------------


def _provider(resource: Resource, **kwargs: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource, **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _remote_parent() -> otel_context.Context:
    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x-y")]),
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def rich_spans() -> list[ReadableSpan]:
    """Spans of two providers (one resource each), several scopes, and every span field."""
    resource = Resource.create(
        {"service.name": "encoder", "deployment.environment.name": "test", "numbers": [1, 2]},
        schema_url="https://opentelemetry.io/schemas/1.26.0",
    )
    provider, exporter = _provider(
        resource,
        span_limits=SpanLimits(
            max_attributes=30,
            max_events=2,
            max_links=1,
            max_event_attributes=3,
            max_link_attributes=3,
        ),
    )
    tracer = provider.get_tracer("agentobs", "1.2.3")
    scoped = provider.get_tracer(
        "other.lib", "0.1", schema_url="https://example.com/schema", attributes={"lib.kind": "x"}
    )
    bare = provider.get_tracer("")

    with tracer.start_as_current_span(
        "root", kind=SpanKind.SERVER, attributes=ATTRIBUTES, context=_remote_parent()
    ) as root:
        root.add_event("started", {"step": 1, "names": ["a", "b"]})
        root.add_event("over max_event_attributes", {f"e{i}": i for i in range(5)})
        root.add_event("dropped: over max_events", {"x": 1})
        with scoped.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "it broke: ValueError"))
            child.record_exception(ValueError("bad value"))
            child.add_event("no attributes")
        with tracer.start_as_current_span("ok", kind=SpanKind.PRODUCER) as ok:
            ok.set_status(Status(StatusCode.OK))
        linked_context = SpanContext(0x1234, 0x5678, is_remote=True)
        local_context = root.get_span_context()
        with bare.start_as_current_span(
            "",
            kind=SpanKind.CONSUMER,
            links=[
                Link(local_context),  # dropped: over max_links (the oldest goes)
                Link(linked_context, {"link.kind": "follows", "n": 3, "x": 1.5, "y": [1]}),
            ],
        ) as consumer:
            consumer.set_attributes({f"many.{i}": i for i in range(40)})  # some dropped
    with tracer.start_as_current_span("error without message") as plain:
        plain.set_status(Status(StatusCode.ERROR))

    other_provider, other_exporter = _provider(Resource.create({"service.name": "second"}))
    with other_provider.get_tracer("agentobs", "1.2.3").start_as_current_span("elsewhere"):
        pass
    spans = list(exporter.get_finished_spans())
    # interleave the resources, as a batch processor shared by two providers would see them
    return [*spans[:2], *other_exporter.get_finished_spans(), *spans[2:]]


def test_spans_are_encoded_as_opentelemetry_encodes_them() -> None:
    same_spans(rich_spans())


def test_the_cache_of_resources_and_scopes_gives_the_same_documents_again() -> None:
    spans = rich_spans()
    first = _otlpjson.encode_spans(spans)
    again = _otlpjson.encode_spans(spans)
    _otlpjson.clear_caches()
    fresh = _otlpjson.encode_spans(spans)
    same(again, first)
    same(fresh, encode_spans(spans).to_dict())
    same_spans(rich_spans())  # new resource objects with the same attributes


def test_equal_resources_and_scopes_of_different_objects_are_one_group() -> None:
    first, _ = _provider(Resource.create({"service.name": "same"}))
    second, _ = _provider(Resource.create({"service.name": "same"}))
    spans: list[ReadableSpan] = []
    for provider in (first, second, first):
        span = provider.get_tracer("lib", "1").start_span("s")
        span.end()
        spans.append(span)  # type: ignore[arg-type]
    same_spans(spans)
    ours = _otlpjson.encode_spans(spans)
    assert len(ours["resourceSpans"]) == 1
    assert len(ours["resourceSpans"][0]["scopeSpans"]) == 1
    assert len(ours["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 3


def test_hand_made_spans_with_any_attribute_values() -> None:
    """What a span processor may hand on (the scrubber's copies are plain ReadableSpans with
    dict attributes): bytes, None, mappings, tuples, a value no encoder takes."""
    context = SpanContext(0xABC, 0xDEF, is_remote=False)
    attributes: dict[str, Any] = {
        **ATTRIBUTES,
        "bytes": b"\x00\xffdata",
        "empty.bytes": b"",
        "none": None,
        "mapping": {"a": 1, "b": [1.5, "x"], 3: {"nested": True}},
        "empty.mapping": {},
        "tuple": ("x", None, 2),
        "": "no key",
        7: "a key that is not a string",
        0: "a falsy key that is not a string",
        "unencodable": object(),
    }
    spans = [
        ReadableSpan(
            name="hand made",
            context=context,
            parent=SpanContext(0xABC, 0x1, is_remote=False),
            resource=Resource.create({}),
            attributes=attributes,
            events=[Event("e", {"k": b"v"}, timestamp=123)],
            kind=SpanKind.INTERNAL,
            status=Status(StatusCode.UNSET),
            start_time=1,
            end_time=2,
            instrumentation_scope=InstrumentationScope("hand", None, None, {"s": 1}),
        ),
        ReadableSpan(name="no context, no scope, no times", context=None, resource=Resource({})),
    ]
    logging.getLogger("opentelemetry.exporter.otlp.json.common._internal").disabled = True
    try:
        expected = encode_spans(spans).to_dict()
    finally:
        logging.getLogger("opentelemetry.exporter.otlp.json.common._internal").disabled = False
    ours = _otlpjson.encode_spans(spans)
    same(ours, expected, _otlpjson.spans_json(spans))
    keys = [
        kv.get("key") for kv in ours["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    ]
    assert "unencodable" not in keys


def test_an_empty_batch() -> None:
    same(_otlpjson.encode_spans([]), encode_spans([]).to_dict(), _otlpjson.spans_json([]))
    same(_otlpjson.encode_logs([]), encode_logs([]).to_dict(), _otlpjson.logs_json([]))


# --- metrics -------------------------------------------------------------------------------


def _metrics_data(temporality: AggregationTemporality, exemplars: bool) -> MetricsData:
    reader = InMemoryMetricReader(
        preferred_temporality={
            Counter: temporality,
            UpDownCounter: temporality,
            Histogram: temporality,
        }
    )
    provider = MeterProvider(
        resource=Resource.create({"service.name": "metrics"}, schema_url="https://s/1"),
        metric_readers=[reader],
        views=[
            View(
                instrument_name="latency.exponential",
                aggregation=ExponentialBucketHistogramAggregation(max_size=20),
            ),
            View(
                instrument_name="latency.buckets",
                aggregation=ExplicitBucketHistogramAggregation((0.0, 0.5, 1.0, 10.0)),
            ),
            View(instrument_name="*"),
        ],
        **({"exemplar_filter": AlwaysOnExemplarFilter()} if exemplars else {}),
    )
    meter = provider.get_meter("agentobs", "9.9", schema_url="https://scope/1")
    other = provider.get_meter("other", attributes={"m": "x"})
    tracer_provider, _ = _provider(Resource.create({}))
    tracer = tracer_provider.get_tracer("t")

    counter = meter.create_counter("requests", unit="{request}", description="Requests made")
    float_counter = meter.create_counter("seconds.used", unit="s")
    updown = meter.create_up_down_counter("queue.depth")
    histogram = meter.create_histogram("latency.default", unit="s", description="default buckets")
    exponential = meter.create_histogram("latency.exponential", unit="ms")
    buckets = meter.create_histogram("latency.buckets")
    gauge = meter.create_gauge("temperature")
    other.create_observable_gauge(
        "observed", callbacks=[lambda _options: _observations()], description="observable"
    )
    other.create_observable_counter("observed.total", callbacks=[lambda _o: _observations()])

    with tracer.start_as_current_span("exemplars come from here"):
        for index in range(5):
            labels = {"route": f"/r{index % 2}", "ok": index % 3 == 0}
            counter.add(index + 1, labels)
            float_counter.add(0.5 * index, labels)
            updown.add(3 - index * 2, labels)
            histogram.record(index * 0.7, labels)
            exponential.record(index * 3.3 + 0.1, labels)
            exponential.record(-1.5 * index, labels)
            buckets.record(index * 2.5, labels)
            gauge.set(20.5 + index, labels)
        gauge.set(7, {"route": "int"})
        counter.add(0, {"route": "zero"})
        buckets.record(0, {"route": "zero"})
    data = reader.get_metrics_data()
    assert data is not None
    return data


def _observations() -> list[Any]:
    from opentelemetry.metrics import Observation

    return [Observation(3, {"kind": "int"}), Observation(2.5, {"kind": "float"})]


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
@pytest.mark.parametrize("exemplars", [False, True])
def test_metrics_are_encoded_as_opentelemetry_encodes_them(
    temporality: AggregationTemporality, exemplars: bool
) -> None:
    data = _metrics_data(temporality, exemplars)
    ours = _otlpjson.encode_metrics(data)
    same(ours, encode_metrics(data).to_dict(), _otlpjson.metrics_json(data))
    kinds = {
        key
        for scope in ours["resourceMetrics"][0]["scopeMetrics"]
        for metric in scope["metrics"]
        for key in metric
        if key in ("sum", "gauge", "histogram", "exponentialHistogram")
    }
    assert kinds == {"sum", "gauge", "histogram", "exponentialHistogram"}
    if exemplars:
        assert '"exemplars"' in json.dumps(ours)


def test_hand_made_metrics_with_special_values() -> None:
    """Non-finite values (the SDK's instruments drop them, an exporter may still get them),
    zero counts and times, an empty metric and a scope with no name."""
    scope = InstrumentationScope("", None, None, None)
    points = [
        NumberDataPoint({"k": "nan"}, 1, 2, NAN),
        NumberDataPoint({"k": "inf"}, 0, 0, -INF),
        NumberDataPoint({}, 1, 2, 0),
    ]
    histogram = HistogramDataPoint(
        attributes={},
        start_time_unix_nano=0,
        time_unix_nano=5,
        count=0,
        sum=INF,
        bucket_counts=[0, 0],
        explicit_bounds=[NAN],
        min=-INF,
        max=NAN,
        exemplars=[],
    )
    data = MetricsData(
        [
            ResourceMetrics(
                Resource({}),
                [
                    ScopeMetrics(
                        scope,
                        [
                            Metric("g", "", "", Gauge(points)),
                            Metric("s", "d", "u", Sum(points, 0, False)),  # type: ignore[arg-type]
                            Metric("h", "", "", HistogramData([histogram], 2)),  # type: ignore[arg-type]
                            Metric("empty", "", "", Gauge([])),
                        ],
                        "",
                    ),
                    ScopeMetrics(scope, [], ""),
                ],
                "",
            )
        ]
    )
    same(
        _otlpjson.encode_metrics(data), encode_metrics(data).to_dict(), _otlpjson.metrics_json(data)
    )


# --- logs ----------------------------------------------------------------------------------


@pytest.fixture
def log_records() -> Iterator[Callable[[], list[ReadableLogRecord]]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "logs"}),
        log_record_limits=LogRecordLimits(max_log_record_attributes=12),
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = bridge_handler(provider, logging.DEBUG)  # as configure() bridges logging
    logger = logging.getLogger("tests.otlpjson")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    tracer_provider, _ = _provider(Resource.create({}))
    tracer = tracer_provider.get_tracer("t")

    logger.debug("debug %d", 1)
    logger.info("plain info")
    with tracer.start_as_current_span("inside"):
        logger.warning("in a span", extra={"user.id": 7, "tags": ["a", "b"], "ratio": 0.5})
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("it failed")
    logger.critical("critical, no span")
    direct = provider.get_logger("direct", "2.0", schema_url="https://logs/1")
    direct.emit(
        LogRecord(
            timestamp=1_700_000_000_000_000_000,
            observed_timestamp=1_700_000_000_000_000_001,
            severity_number=SeverityNumber.ERROR2,
            severity_text="ERROR2",
            body={"structured": True, "items": [1, 2], "nested": {"x": None}},
            attributes={f"a{i}": i for i in range(14)},  # two dropped
            event_name="agentobs.event",
        )
    )
    direct.emit(LogRecord(body=None))
    direct.emit(LogRecord(body=b"raw bytes", severity_number=SeverityNumber.UNSPECIFIED))
    yield lambda: list(exporter.get_finished_logs())
    logger.removeHandler(handler)
    logger.propagate = True
    provider.shutdown()


@pytest.mark.filterwarnings("ignore:Log record attributes were dropped")
def test_logs_are_encoded_as_opentelemetry_encodes_them(
    log_records: Callable[[], list[ReadableLogRecord]],
) -> None:
    records = log_records()
    assert len(records) == 8
    ours = _otlpjson.encode_logs(records)
    same(ours, encode_logs(records).to_dict(), _otlpjson.logs_json(records))
    text = json.dumps(ours)
    assert "KeyError" in text  # the exception's attributes
    assert '"traceId"' in text


# --- the local files -----------------------------------------------------------------------


def test_local_exporters_write_the_opentelemetry_documents(tmp_path: Any) -> None:
    from agentobs._export.localfiles import LocalLogExporter, LocalMetricExporter, LocalSpanExporter

    spans = rich_spans()
    LocalSpanExporter(tmp_path, 10**8).export(spans)
    data = _metrics_data(AggregationTemporality.CUMULATIVE, False)
    LocalMetricExporter(tmp_path, 10**8).export(data)
    (line,) = (tmp_path / "traces.jsonl").read_text().splitlines()
    assert line == json.dumps(encode_spans(spans).to_dict(), separators=(",", ":"))
    (line,) = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert line == json.dumps(encode_metrics(data).to_dict(), separators=(",", ":"))
    exporter = LocalLogExporter(tmp_path, 10**8)
    assert exporter.export([]).name == "SUCCESS"
