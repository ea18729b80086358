"""The scrubbing span processor: secrets out of every span before any exporter sees it.

It sits in front of every exporter (pipeline layer) and hands it a cleaned copy of each span,
agentobs's own and every other instrumentation's alike. Behind a batch processor it runs in
the export thread (:class:`ScrubbingSpanExporter`), off the application's hot path; only
synchronous processors (in-memory capture in tests) get it in the thread that ends the span
(:class:`ScrubbingSpanProcessor`). It removes:

* **Secrets** in span names, attribute values, event attributes and status messages: API keys
  (OpenAI/Anthropic ``sk-...``, AWS, GitHub, Google, Slack), bearer and basic credentials,
  JWTs, private keys, ``password=...``-style pairs, passwords in URLs, and the user's own
  patterns. Each is replaced by a marker saying what was removed, ``[REDACTED API key]``,
  never echoing any of it. An attribute whose *key* names a secret (``...authorization``,
  ``...api_key``, ``...password``, ``...cookie``) loses its whole value. A callback may decide
  per match. ``scrubbing=False`` turns this off.
* **Content**, under the hard off switch (``AGENTOBS_DISABLE_CONTENT_CAPTURE``): prompt and
  completion attributes and events of every instrumentation are removed, and
  ``agentobs.content.removed`` lists the keys that were.

Token counts and other numbers are never touched. If cleaning a span fails, the span is
dropped (one warning) rather than exported uncleaned.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from .. import _names as n
from .._errors import warn_once
from .._secrets import DEFAULT_PATTERNS, SECRET_KEY, Scrubber, ScrubMatch, marker
from .._settings import Settings
from .sdk_compat import (
    may_have,
    preferred_temporality_and_aggregation,
    span_attribute_items,
    wrap_batch_exporter,
    wrap_receive_metrics,
)

CONTENT_KEYS = frozenset(
    {
        n.INPUT_MESSAGES,
        n.OUTPUT_MESSAGES,
        n.SYSTEM_INSTRUCTIONS,
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "gen_ai.prompt",
        "gen_ai.completion",
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.trace.input",
        "langfuse.trace.output",
        "mlflow.spanInputs",
        "mlflow.spanOutputs",
    }
)
CONTENT_PREFIXES = (
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
)
CONTENT_EVENTS = frozenset(
    {
        "gen_ai.client.inference.operation.details",
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
    }
)


def is_content(key: str) -> bool:
    """Whether attribute ``key`` holds prompt or completion content (any instrumentation)."""
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


class SpanCleaner:
    """Makes the cleaned copy of a span (or returns the span itself when nothing changes)."""

    def __init__(self, scrubber: Scrubber | None, remove_content: bool) -> None:
        self.scrubber = scrubber
        self.remove_content = remove_content

    def clean(self, span: ReadableSpan) -> ReadableSpan:
        """``span``, or a copy of it with secrets (and, if asked, content) removed.

        Runs once per exported span (in the batch thread): values already seen clean, under
        keys that name no secret, are passed over with a set lookup each.
        """
        scrubber = self.scrubber
        remove = self.remove_content
        known_clean: set[str] = set() if scrubber is None else scrubber.known_clean
        key_is_secret: dict[str, bool] = {} if scrubber is None else scrubber.secret_keys
        changed: dict[str, Any] | None = None
        removed: list[str] = []
        for key, value in span_attribute_items(span):
            if remove and is_content(key):
                removed.append(key)
                continue
            if scrubber is None:
                continue
            kind = type(value)
            if kind is str:
                skip = value in known_clean and key_is_secret.get(key) is False
            elif kind is tuple:  # e.g. finish reasons
                skip = key_is_secret.get(key) is False and known_clean.issuperset(value)
            else:
                skip = kind is int or kind is float or kind is bool
            if skip:
                continue
            cleaned = scrubber.value(key, value)
            if cleaned is not value:
                if changed is None:
                    changed = {}
                changed[key] = cleaned
        events = span.events if may_have(span, "events") else ()
        new_events = self._events(events) if events else None
        name = span.name
        new_name = name
        if scrubber is not None and name not in known_clean:
            new_name = scrubber.text("span name", name)
        status = span.status
        new_status = status
        if scrubber is not None and status.description:
            description = scrubber.text("status", status.description)
            if description != status.description:
                new_status = Status(status.status_code, description)
        if not (changed or removed or new_events is not None or new_name != name) and (
            new_status is status
        ):
            return span
        attributes = span.attributes or {}
        new_attributes = {k: v for k, v in attributes.items() if k not in removed}
        if changed:
            new_attributes.update(changed)
        if removed:
            new_attributes[n.CONTENT_REMOVED] = removed
        return ReadableSpan(
            name=new_name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=new_attributes,
            events=events if new_events is None else new_events,
            links=span.links,
            kind=span.kind,
            status=new_status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _events(self, events: Sequence[Event]) -> list[Event] | None:
        """The events cleaned, or None when none changed."""
        scrubber = self.scrubber
        result: list[Event] = []
        changed = False
        for event in events:
            if self.remove_content and event.name in CONTENT_EVENTS:
                changed = True
                continue
            attributes = dict(event.attributes or {})
            if scrubber is not None:
                for key, value in attributes.items():
                    cleaned = scrubber.value(key, value)
                    if cleaned is not value:
                        attributes[key] = cleaned
                        changed = True
            result.append(Event(event.name, attributes, event.timestamp))
        return result if changed else None

    def clean_or_drop(self, span: ReadableSpan) -> ReadableSpan | None:
        """:meth:`clean`, or None (one warning) if cleaning fails: never export uncleaned."""
        result: ReadableSpan | None = _clean_or_drop(self.clean, span, "span")
        return result


class _Fanout:
    """Shutdown and flush of the processors a scrubbing processor hands clean copies to."""

    processors: list[Any]

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        ok = True
        for processor in self.processors:
            ok = processor.force_flush(timeout_millis) is not False and ok
        return ok


class ScrubbingSpanProcessor(_Fanout, SpanProcessor):
    """Gives ``processors`` a scrubbed copy of every span that ends (in the ending thread)."""

    def __init__(self, processors: Sequence[SpanProcessor], cleaner: SpanCleaner) -> None:
        self.processors = list(processors)
        self.cleaner = cleaner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        clean = self.cleaner.clean_or_drop(span)
        if clean is not None:
            for processor in self.processors:
                processor.on_end(clean)


class ScrubbingSpanExporter(SpanExporter):
    """Scrubs each batch before ``exporter`` sends it (in the batch processor's thread, off
    the application's hot path)."""

    def __init__(self, exporter: SpanExporter, cleaner: SpanCleaner) -> None:
        self.exporter = exporter
        self.cleaner = cleaner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        clean = self.cleaner.clean
        try:
            cleaned = [clean(span) for span in spans]
        except Exception:  # again one by one: only the span that fails is dropped
            cleaned = [c for c in map(self.cleaner.clean_or_drop, spans) if c is not None]
        return self.exporter.export(cleaned) if cleaned else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))


# --- logs and metrics ---------------------------------------------------------------------


def _clean_any(scrubber: Scrubber, key: str, value: Any) -> Any:
    """``value`` cleaned, nested mappings and sequences included (log bodies and extended
    attributes may be structured); the same object when nothing changed."""
    if type(value) is str or (isinstance(value, (list, tuple)) and value and type(value[0]) is str):
        return scrubber.value(key, value)
    if isinstance(value, dict):
        cleaned = {k: _clean_any(scrubber, str(k), v) for k, v in value.items()}
        same = all(cleaned[k] is v for k, v in value.items())
        return value if same else cleaned
    if isinstance(value, (list, tuple)):
        items = [_clean_any(scrubber, key, v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


class LogCleaner:
    """Makes the cleaned copy of a log record: its body (the message, arguments included) and
    every attribute (``exception.message`` and ``exception.stacktrace`` too)."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def _cleaned(self, record: Any) -> Any:
        """A cleaned copy of the API ``LogRecord``, or None when nothing changes."""
        scrubber = self.scrubber
        body = _clean_any(scrubber, "body", record.body)
        attributes = record.attributes or {}
        cleaned = {k: _clean_any(scrubber, k, v) for k, v in attributes.items()}
        if body is record.body and all(cleaned[k] is v for k, v in attributes.items()):
            return None
        new = copy.copy(record)
        new.body = body
        new.attributes = cleaned
        return new

    def clean(self, record: Any) -> Any:
        """``record`` (a ``ReadableLogRecord``), or a copy of it with secrets removed."""
        new = self._cleaned(record.log_record)
        return record if new is None else dataclasses.replace(record, log_record=new)

    def clean_writable(self, record: Any) -> Any:
        """The same for the ``ReadWriteLogRecord`` a log record processor receives."""
        new = self._cleaned(record.log_record)
        if new is None:
            return record
        return ReadWriteLogRecord(
            new,
            resource=record.resource,
            instrumentation_scope=record.instrumentation_scope,
            limits=record.limits,
        )


def _clean_or_drop(clean: Any, item: Any, what: str) -> Any:
    try:
        return clean(item)
    except Exception as exc:
        warn_once(
            f"scrub-{what}:{type(exc).__name__}",
            "agentobs: scrubbing a %s failed (%s: %s); it is dropped",
            what,
            type(exc).__name__,
            exc,
        )
        return None


class ScrubbingLogExporter(LogRecordExporter):
    """Scrubs each batch of log records before ``exporter`` writes or sends it (in the batch
    processor's thread)."""

    def __init__(self, exporter: LogRecordExporter, log_cleaner: LogCleaner) -> None:
        self.exporter = exporter
        self.cleaner = log_cleaner

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        cleaned = [_clean_or_drop(self.cleaner.clean, r, "log record") for r in batch]
        kept = [r for r in cleaned if r is not None]
        return self.exporter.export(kept) if kept else LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))

    def shutdown(self) -> None:
        self.exporter.shutdown()  # type: ignore[no-untyped-call]


class ScrubbingLogProcessor(_Fanout, LogRecordProcessor):
    """Hands ``processors`` a scrubbed copy of every log record (in the logging thread)."""

    def __init__(self, processors: Sequence[LogRecordProcessor], log_cleaner: LogCleaner) -> None:
        self.processors = list(processors)
        self.cleaner = log_cleaner

    def on_emit(self, log_record: Any) -> None:
        clean = _clean_or_drop(self.cleaner.clean_writable, log_record, "log record")
        if clean is not None:
            for processor in self.processors:
                processor.on_emit(clean)


def log_exporter(scrubber: Scrubber | None, inner: LogRecordExporter) -> LogRecordExporter:
    """``inner``, receiving scrubbed log records; as it is without a scrubber."""
    return inner if scrubber is None else ScrubbingLogExporter(inner, LogCleaner(scrubber))


def log_processors(scrubber: Scrubber | None, inner: Sequence[Any]) -> list[Any]:
    """``inner`` (log record processors given to the pipeline, such as the in-memory one of
    ``agentobs.testing``) behind one that hands them scrubbed copies."""
    if scrubber is None or not inner:
        return list(inner)
    return [ScrubbingLogProcessor(inner, LogCleaner(scrubber))]


def _replaced(obj: Any, field: str, items: list[Any], originals: Sequence[Any]) -> Any:
    if all(a is b for a, b in zip(items, originals, strict=True)):
        return obj
    return dataclasses.replace(obj, **{field: items})


def clean_metrics(scrubber: Scrubber, data: Any) -> Any:
    """``MetricsData`` with the string attribute values of every data point scrubbed (the
    same object when nothing changes)."""
    resources = []
    for rm in data.resource_metrics:
        scopes = []
        for sm in rm.scope_metrics:
            metrics = []
            for metric in sm.metrics:
                points = []
                for point in metric.data.data_points:
                    attributes = point.attributes or {}
                    cleaned = {k: scrubber.value(k, v) for k, v in attributes.items()}
                    same = all(cleaned[k] is v for k, v in attributes.items())
                    points.append(point if same else dataclasses.replace(point, attributes=cleaned))
                new_data = _replaced(metric.data, "data_points", points, metric.data.data_points)
                metrics.append(
                    metric
                    if new_data is metric.data
                    else dataclasses.replace(metric, data=new_data)
                )
            scopes.append(_replaced(sm, "metrics", metrics, sm.metrics))
        resources.append(_replaced(rm, "scope_metrics", scopes, rm.scope_metrics))
    return _replaced(data, "resource_metrics", resources, data.resource_metrics)


class ScrubbingMetricExporter(MetricExporter):
    """Scrubs the data point attributes of each batch before ``exporter`` sends it: the
    metrics of other instrumentations (agentobs's own are clean when they are recorded, for
    ``/metrics`` as well)."""

    def __init__(self, exporter: MetricExporter, scrubber: Scrubber) -> None:
        super().__init__(*preferred_temporality_and_aggregation(exporter))
        self.exporter = exporter
        self.scrubber = scrubber

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        scrubber = self.scrubber
        cleaned = _clean_or_drop(lambda d: clean_metrics(scrubber, d), metrics_data, "metric")
        if cleaned is None:
            return MetricExportResult.FAILURE
        return self.exporter.export(cleaned, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def scrub_reader(scrubber: Scrubber | None, reader: Any) -> Any:
    """``reader`` (a pull reader: Prometheus, in-memory) receiving scrubbed data points.

    A reader hands what it collects to its ``_receive_metrics`` (SDK 1.2x-1.4x); that one
    instance's method is wrapped. A reader of another layout is left as it is (agentobs's
    own metrics are clean anyway: they are scrubbed when recorded).
    """
    if scrubber is None:
        return reader

    def scrubbing(receive: Callable[..., Any]) -> Callable[..., Any]:
        def receive_scrubbed(metrics_data: Any, *args: Any, **kwargs: Any) -> Any:
            cleaned = _clean_or_drop(lambda d: clean_metrics(scrubber, d), metrics_data, "metric")
            return None if cleaned is None else receive(cleaned, *args, **kwargs)

        return receive_scrubbed

    wrap_receive_metrics(reader, scrubbing)
    return reader


def metric_exporter(scrubber: Scrubber | None, inner: MetricExporter) -> MetricExporter:
    """``inner``, receiving scrubbed data points; as it is without a scrubber."""
    return inner if scrubber is None else ScrubbingMetricExporter(inner, scrubber)


def cleaner(settings: Settings) -> SpanCleaner:
    """The span cleaner ``settings`` ask for."""
    scrubber = None
    if settings.scrubbing:
        scrubber = Scrubber(settings.scrub_patterns, settings.scrub_callback)
    return SpanCleaner(scrubber, settings.content_hard_off)


def exporter(span_cleaner: SpanCleaner, inner: SpanExporter) -> SpanExporter:
    """``inner``, receiving scrubbed spans."""
    return ScrubbingSpanExporter(inner, span_cleaner)


def processors(span_cleaner: SpanCleaner, inner: Sequence[SpanProcessor]) -> list[SpanProcessor]:
    """``inner`` (processors given to the pipeline as they are), receiving scrubbed spans.

    A plain SDK ``BatchSpanProcessor`` keeps its place and scrubs in its export thread: its
    exporter is wrapped (:class:`ScrubbingSpanExporter`), as for the exporters ``configure()``
    builds, so the application's thread does not pay for it. Every other processor (a
    ``SimpleSpanProcessor``, as ``agentobs.testing.capture()`` uses, or one of unknown kind)
    sits behind a :class:`ScrubbingSpanProcessor`, in the thread that ends the span. With
    scrubbing off and no hard off switch there is nothing to clean, and ``inner`` is returned
    as it is.
    """
    if span_cleaner.scrubber is None and not span_cleaner.remove_content:
        return list(inner)
    result: list[SpanProcessor] = []
    behind: list[SpanProcessor] = []  # consecutive ones, so the order is kept
    for processor in inner:
        if _scrub_in_export(processor, span_cleaner):
            if behind:
                result.append(ScrubbingSpanProcessor(behind, span_cleaner))
                behind = []
            result.append(processor)
        else:
            behind.append(processor)
    if behind:
        result.append(ScrubbingSpanProcessor(behind, span_cleaner))
    return result


def _scrub_in_export(processor: SpanProcessor, span_cleaner: SpanCleaner) -> bool:
    """Wrap the exporter of an SDK ``BatchSpanProcessor`` in place; False when ``processor``
    is anything else, or a subclass that sees spans itself, or its layout is not the one known
    (:func:`~agentobs._export.sdk_compat.wrap_batch_exporter`)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if not isinstance(processor, BatchSpanProcessor):
        return False
    cls = type(processor)
    if cls.on_end is not BatchSpanProcessor.on_end or cls.on_start is not (
        BatchSpanProcessor.on_start
    ):
        return False  # it may read span contents on the application's thread

    def scrubbing(current: Any) -> ScrubbingSpanExporter:
        if isinstance(current, ScrubbingSpanExporter):  # given to a pipeline before
            current = current.exporter
        return ScrubbingSpanExporter(current, span_cleaner)

    return wrap_batch_exporter(processor, scrubbing)
    return True


__all__ = [
    "DEFAULT_PATTERNS",
    "SECRET_KEY",
    "ScrubMatch",
    "Scrubber",
    "marker",
]
