"""agentobs's reach-ins into the OpenTelemetry SDK (``agentobs._export.sdk_compat``) still
find the layout they know. If one of these fails after an SDK upgrade, the SDK moved a private
attribute: agentobs still works through the public fallback, but slower (attributes read
under a lock per key; spans given to ``agentobs.testing``/``install()`` scrubbed on the
application's thread). Update ``sdk_compat`` for the new layout, then this test."""

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
