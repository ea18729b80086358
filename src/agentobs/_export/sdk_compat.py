"""The only places agentobs reads or changes private parts of OpenTelemetry (SDK and API).

Each is a speed-up or a hook with no public equivalent, and each falls back to the public API
(slower, same result) or leaves things as they are when the layout is not the one known;
``tests/test_sdk_compat.py`` fails loudly when a new OpenTelemetry changes a layout, so that
the fallback is never taken unnoticed.

- :func:`attribute_items`, :func:`span_attribute_items`, :func:`span_attributes`: the SDK's
  ``BoundedAttributes`` keeps its items in ``_dict``, and a span its ``BoundedAttributes`` in
  ``_attributes``; iterating the public mapping takes the attributes' lock once per key, on
  every span the scrubber, the local file writer and the OTLP encoders read.
- :func:`may_have`: a span's ``events`` and ``links`` copy the span's lists under its lock;
  ``_events`` / ``_links`` tell, without the copy, that there is nothing to read.
- :class:`BatchInternals`: an SDK batch processor (span or log record) keeps its queue,
  exporter, batch size and metrics hook in ``_batch_processor``. agentobs counts its drops
  exactly (``selfmetrics``: its queue and metrics hook replaced), merges its batches
  (``coalescing``: its exporter wrapped) and scrubs the spans handed to ``agentobs.testing``
  or ``install()`` in the export thread (:func:`wrap_batch_exporter`).
- :func:`tracer_span_limits`, :func:`tracer_scope`: what an SDK tracer gives the spans it
  starts, which the pytest plugin repeats on the test spans it builds itself.
- :func:`preferred_temporality_and_aggregation`: a ``MetricExporter``'s choices, kept private
  by the SDK, that a wrapping exporter must repeat.
- :func:`wrap_receive_metrics`: a pull reader (Prometheus, in-memory) hands what it collects
  to its ``_receive_metrics``; wrapping it scrubs what other instrumentations recorded.
- :func:`latest_prometheus_reader`: the Prometheus reader queues every collection in its
  collector's ``_metrics_datas`` until the next scrape; keeping only the newest renders each
  series once per scrape.
- :func:`current_global_providers`, :func:`unset_global_providers`: the API lets a global
  provider be set once per process; resetting that guard (as OpenTelemetry's own test
  utilities do) lets a new pipeline replace one agentobs installed and shut down.

Known layout: opentelemetry-sdk and -api 1.3x-1.4x.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def attribute_items(attributes: Any) -> Iterable[tuple[Any, Any]]:
    """The items of an attribute mapping (a ``BoundedAttributes``, a mapping proxy, a dict),
    from the SDK's inner dict when there is one."""
    inner = getattr(attributes, "_dict", None)
    if type(inner) is dict:
        return inner.items()
    items: Iterable[tuple[Any, Any]] = attributes.items()
    return items


def span_attribute_items(span: Any) -> Iterable[tuple[Any, Any]]:
    """The attribute items of a span: its ``BoundedAttributes`` read directly, else the
    public read-only ``span.attributes``."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner.items()
    items: Iterable[tuple[Any, Any]] = (span.attributes or {}).items()
    return items


def span_attributes(span: Any) -> Mapping[str, Any] | None:
    """A span's attributes: its ``BoundedAttributes`` itself (read through
    :func:`attribute_items`, without a lock per key), else the public read-only view."""
    raw: Any = getattr(span, "_attributes", None)
    attributes: Mapping[str, Any] | None = raw if raw is not None else span.attributes
    return attributes


def may_have(span: Any, name: str) -> bool:
    """False when the span's ``events`` or ``links`` (``name``) are certainly empty, told
    without the copy under the span's lock that reading the public property makes."""
    raw = getattr(span, "_" + name, None)
    return raw is None or bool(raw)


class BatchInternals:
    """The private parts of an SDK batch processor (span or log record) that agentobs reads
    and replaces; made by :func:`batch_internals` only when the layout is the one known."""

    __slots__ = ("_batch",)

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    @property
    def queue(self) -> collections.deque[Any]:
        """The bounded queue of items waiting for export (the current one, read each time)."""
        queue: collections.deque[Any] = self._batch._queue
        return queue

    @property
    def batch_size(self) -> int:
        """The most items the processor hands its exporter in one call."""
        size: int = self._batch._max_export_batch_size
        return size

    @property
    def exporter(self) -> Any:
        """The exporter the export thread calls (perhaps already wrapped by agentobs)."""
        return self._batch._exporter

    def replace_exporter(self, exporter: Any) -> None:
        self._batch._exporter = exporter

    def replace_queue(self, queue: collections.deque[Any]) -> None:
        """Put ``queue`` (empty, same ``maxlen``) in place of the current one."""
        self._batch._queue = queue

    def replace_metrics(self, hook: Any) -> None:
        """Put ``hook`` (the SDK's ``ProcessorMetricsT``: ``drop_items``, ``finish_items``)
        in place of the processor's metrics hook."""
        self._batch._metrics = hook


def batch_internals(processor: Any) -> BatchInternals | None:
    """The private parts of the SDK batch processor ``processor``; None when it is not one
    or its layout is not the one known (``_batch_processor`` with a bounded deque
    ``_queue``, ``_exporter``, an int ``_max_export_batch_size`` and ``_metrics``)."""
    batch: Any = getattr(processor, "_batch_processor", None)
    queue = getattr(batch, "_queue", None)
    if (
        not isinstance(queue, collections.deque)
        or queue.maxlen is None
        or getattr(batch, "_exporter", None) is None
        or not isinstance(getattr(batch, "_max_export_batch_size", None), int)
        or not hasattr(batch, "_metrics")
    ):
        return None
    return BatchInternals(batch)


def wrap_batch_exporter(processor: Any, wrap: Callable[[Any], Any]) -> bool:
    """Replace the exporter of the SDK ``BatchSpanProcessor`` ``processor`` by
    ``wrap(exporter)``; False (nothing changed) when its layout is not the one known."""
    internals = batch_internals(processor)
    if internals is None:
        return False
    current = internals.exporter
    if current is not getattr(processor, "span_exporter", None):
        return False
    internals.replace_exporter(wrap(current))
    return True


def tracer_span_limits(tracer: Any) -> Any:
    """The ``SpanLimits`` an SDK tracer applies (kept private by the SDK); the limits the
    environment sets when it keeps them elsewhere."""
    limits = getattr(tracer, "_span_limits", None)
    if limits is None:
        from opentelemetry.sdk.trace import SpanLimits

        limits = SpanLimits()
    return limits


def tracer_scope(tracer: Any) -> Any:
    """The ``InstrumentationScope`` of an SDK tracer (kept private by the SDK); one made from
    its public ``instrumentation_info`` when it keeps it elsewhere."""
    scope = getattr(tracer, "_instrumentation_scope", None)
    if scope is None:
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        info = tracer.instrumentation_info
        scope = InstrumentationScope(info.name, info.version, info.schema_url)
    return scope


def preferred_temporality_and_aggregation(exporter: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The temporality and aggregation a ``MetricExporter`` asked for (copies); empty (the
    SDK's defaults) when it keeps them elsewhere."""
    temporality = getattr(exporter, "_preferred_temporality", None)
    aggregation = getattr(exporter, "_preferred_aggregation", None)
    return dict(temporality or {}), dict(aggregation or {})


def wrap_receive_metrics(reader: Any, wrap: Callable[[Callable[..., Any]], Any]) -> bool:
    """Replace the method a pull reader hands what it collects to (``_receive_metrics``) by
    ``wrap(method)`` on this one instance; False (nothing changed) when it has none."""
    receive = getattr(reader, "_receive_metrics", None)
    if not callable(receive):
        return False
    reader._receive_metrics = wrap(receive)
    return True


def latest_prometheus_reader(registry: Any) -> Any:
    """The pull reader behind ``/metrics``, rendering each series once per scrape.

    The exporter's ``PrometheusMetricReader`` queues every collection until the next scrape
    and renders them all, so after a ``force_flush`` (agentobs's or ``MeterProvider``'s) the
    scrape lists every series twice or more. Its temporality is cumulative: the newest
    collection holds everything, and older queued ones are dropped here (when the collector
    keeps them in ``_metrics_datas``; else the reader works as the exporter's own)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    class LatestPrometheusMetricReader(PrometheusMetricReader):
        def _receive_metrics(
            self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any
        ) -> None:
            if metrics_data is None:
                return
            queued = getattr(self._collector, "_metrics_datas", None)
            if queued is not None:
                queued.clear()
            self._collector.add_metrics_data(metrics_data)

    return LatestPrometheusMetricReader(registry=registry)


def current_global_providers() -> tuple[Any, Any, Any]:
    """The global tracer, meter and logger providers as they are set (None when unset),
    without the getters, which would load ``OTEL_PYTHON_*_PROVIDER`` (and may raise)."""
    from opentelemetry import _logs, metrics, trace

    return (
        trace._TRACER_PROVIDER,
        metrics._internal._METER_PROVIDER,
        _logs._internal._LOGGER_PROVIDER,
    )


def unset_global_providers(tracer: bool, meter: bool, logger: bool) -> None:
    """Unset the chosen global providers and their set-once guards, so that the next
    ``set_*_provider`` takes effect."""
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.util._once import Once

    if tracer:
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None
    if meter:
        metrics._internal._METER_PROVIDER_SET_ONCE = Once()
        metrics._internal._METER_PROVIDER = None
    if logger:
        _logs._internal._LOGGER_PROVIDER_SET_ONCE = Once()
        _logs._internal._LOGGER_PROVIDER = None
