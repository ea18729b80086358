"""Self-telemetry: what the pipeline exported, dropped and failed, counted exactly.

Names follow the OpenTelemetry SDK self-observability conventions (semconv ``otel/sdk``):

* ``otel.sdk.processor.span.processed`` / ``otel.sdk.processor.log.processed``: items a batch
  processor handed to its exporter; with ``error.type=queue_full`` the items it dropped
  because its queue was full, ``already_shutdown`` those that came after shutdown.
* ``otel.sdk.processor.{span,log}.queue.size`` and ``.queue.capacity``.
* ``otel.sdk.exporter.span.exported``, ``otel.sdk.exporter.log.exported``,
  ``otel.sdk.exporter.metric_data_point.exported``: items an exporter sent; with
  ``error.type`` those it failed to send (the backend refused them, was down or timed out).

Every series carries ``otel.component.type`` (``batching_span_processor``,
``otlp_http_span_exporter``, ``local_span_exporter``, ``langfuse_span_exporter``, ...) and
``otel.component.name`` (``{type}/{index}``, numbered per :func:`agentobs.configure`).

The counts are plain integers under a lock (:class:`~agentobs._recorder.CounterTotals`):
the metrics read them at each collection, and the shutdown line (:meth:`Counts.summary`)
prints them. The batch processors report through the SDK's own hook for these metrics
(``ProcessorMetricsT``: ``drop_items`` / ``finish_items``); exporters are wrapped.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import _catalogue as c
from .._errors import warn_once
from .._recorder import CounterTotals
from . import status
from .sdk_compat import batch_internals, preferred_temporality_and_aggregation

COMPONENT_TYPE = "otel.component.type"
COMPONENT_NAME = "otel.component.name"
ERROR_TYPE = "error.type"

PROCESSED = {"traces": c.SDK_SPANS_PROCESSED.name, "logs": c.SDK_LOGS_PROCESSED.name}
QUEUE_SIZE = {"traces": c.SDK_SPAN_QUEUE_SIZE.name, "logs": c.SDK_LOG_QUEUE_SIZE.name}
QUEUE_CAPACITY = {
    "traces": c.SDK_SPAN_QUEUE_CAPACITY.name,
    "logs": c.SDK_LOG_QUEUE_CAPACITY.name,
}
EXPORTED = {
    "traces": c.SDK_SPANS_EXPORTED.name,
    "logs": c.SDK_LOGS_EXPORTED.name,
    "metrics": c.SDK_DATA_POINTS_EXPORTED.name,
}
COUNTERS = (*PROCESSED.values(), *EXPORTED.values())
"""Every counter this module keeps (each a catalogue instrument of kind ``counter``)."""

QUEUE_FULL = "queue_full"
EXPORT_FAILED = "export_failed"
_ITEMS = {"traces": "spans", "logs": "log records", "metrics": "metric data points"}


class Counts:
    """The counts of one pipeline: per metric, per component (and error type)."""

    def __init__(self) -> None:
        self.totals: dict[str, CounterTotals] = {name: CounterTotals(name) for name in COUNTERS}
        self._indexes: dict[str, int] = {}
        self._queues: list[tuple[str, dict[str, str], Callable[[], int], int]] = []
        self.signals: list[str] = []
        """The signals that have an exporter, in the order they got one."""

    def component(self, component_type: str) -> dict[str, str]:
        """The attributes of a new component of ``component_type`` (``{type}/{index}``)."""
        index = self._indexes.get(component_type, 0)
        self._indexes[component_type] = index + 1
        return {COMPONENT_TYPE: component_type, COMPONENT_NAME: f"{component_type}/{index}"}

    def add(self, metric: str, attributes: Mapping[str, str], count: int) -> None:
        """Add ``count`` items to ``metric`` for ``attributes``."""
        self.totals[metric].add(count, attributes)

    def watch_queue(
        self, signal: str, attributes: dict[str, str], size: Callable[[], int], capacity: int
    ) -> None:
        """Report the length of a batch processor's queue (read at each collection)."""
        self._queues.append((signal, attributes, size, capacity))

    def queued(self, signal: str) -> int:
        """Items waiting in the queues of ``signal`` now."""
        return sum(size() for kind, _a, size, _c in self._queues if kind == signal)

    def observers(self) -> dict[str, Callable[[], Iterable[tuple[float, Mapping[str, Any]]]]]:
        """Sources of the observable instruments, by catalogue name."""
        sources: dict[str, Callable[[], Iterable[tuple[float, Mapping[str, Any]]]]] = {}
        for signal in QUEUE_SIZE:

            def sizes(signal: str = signal) -> list[tuple[float, Mapping[str, Any]]]:
                return [(size(), a) for kind, a, size, _c in self._queues if kind == signal]

            def capacities(signal: str = signal) -> list[tuple[float, Mapping[str, Any]]]:
                return [(c, a) for kind, a, _s, c in self._queues if kind == signal]

            sources[QUEUE_SIZE[signal]] = sizes
            sources[QUEUE_CAPACITY[signal]] = capacities
        return sources

    def tally(self, signal: str) -> dict[str, Any]:
        """Exact figures of one signal: exported, failed, dropped (queue full), dropped after
        shutdown, and the failures by exporter."""
        figures: dict[str, Any] = {
            "exported": 0,
            "failed": 0,
            QUEUE_FULL: 0,
            "already_shutdown": 0,
            "failed_by": {},
        }
        for value, attributes in self.totals[EXPORTED[signal]].totals():
            error = attributes.get(ERROR_TYPE)
            if error is None:
                figures["exported"] += int(value)
            else:
                figures["failed"] += int(value)
                name = str(attributes.get(COMPONENT_NAME))
                figures["failed_by"][name] = figures["failed_by"].get(name, 0) + int(value)
        if signal in PROCESSED:
            for value, attributes in self.totals[PROCESSED[signal]].totals():
                error = attributes.get(ERROR_TYPE)
                if error is not None:
                    key = QUEUE_FULL if error == QUEUE_FULL else "already_shutdown"
                    figures[key] += int(value)
        return figures

    def summary(self, signals: Sequence[str]) -> tuple[str, bool]:
        """The shutdown line's figures, and whether anything was lost."""
        parts = []
        lost = False
        for signal in signals:
            figures = self.tally(signal)
            text = f"{_ITEMS[signal]}: {figures['exported']} exported"
            if figures["failed"]:
                by = ", ".join(f"{k} {v}" for k, v in sorted(figures["failed_by"].items()))
                text += f", {figures['failed']} failed ({by})"
            else:
                text += ", 0 failed"
            if signal in PROCESSED:
                text += f", {figures[QUEUE_FULL]} dropped (queue full)"
                if figures["already_shutdown"]:
                    text += f", {figures['already_shutdown']} dropped (after shutdown)"
                queued = self.queued(signal)
                if queued:
                    text += f", {queued} still queued (lost)"
                lost = lost or bool(figures[QUEUE_FULL] or queued)
            lost = lost or bool(figures["failed"])
            parts.append(text)
        return "; ".join(parts), lost


class _ProcessorCounts:
    """The SDK batch processor's metrics hook (``ProcessorMetricsT``), counting exactly."""

    def __init__(self, counts: Counts, signal: str, attributes: dict[str, str]) -> None:
        self._counts = counts
        self._metric = PROCESSED[signal]
        self._attributes = attributes
        self._dropped = {**attributes, ERROR_TYPE: QUEUE_FULL}
        self._late = {**attributes, ERROR_TYPE: "already_shutdown"}

    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None:
        return None

    def drop_items(self, count: int, error_type: str = QUEUE_FULL) -> None:
        # Queue-full drops are counted by the queue itself (exactly); the SDK's guess is not.
        if error_type == "already_shutdown":
            self._counts.add(self._metric, self._late, count)

    def dropped(self) -> None:
        self._counts.add(self._metric, self._dropped, 1)

    def finish_items(self, count: int) -> None:
        self._counts.add(self._metric, self._attributes, count)


class _CountingQueue(collections.deque):  # type: ignore[type-arg]
    """A batch processor's bounded queue that counts exactly what falling off its end drops.

    The SDK checks ``len(queue) == maxlen`` and then appends: between the two its worker may
    take a batch, so its own count is off by the races. Here appending and taking share one
    short lock, so a drop is counted if and only if an item fell off.
    """

    def __init__(self, maxlen: int, on_drop: Callable[[], None]) -> None:
        super().__init__([], maxlen)
        self._lock = threading.Lock()
        self._on_drop = on_drop
        if hasattr(os, "register_at_fork"):
            weak = weakref.ref(self)

            def after_in_child() -> None:
                queue = weak()
                if queue is not None:
                    queue._lock = threading.Lock()

            os.register_at_fork(after_in_child=after_in_child)

    def appendleft(self, item: Any) -> None:
        with self._lock:
            full = len(self) == self.maxlen
            super().appendleft(item)
        if full:
            self._on_drop()

    def pop(self) -> Any:  # type: ignore[override]
        with self._lock:
            return super().pop()


def count_processor(processor: Any, counts: Counts, signal: str, component_type: str) -> None:
    """Make a batch processor of the SDK count exactly what it hands on (its metrics hook)
    and what its full queue drops (:class:`_CountingQueue`)."""
    internals = batch_internals(processor)
    if internals is None:
        warn_once(
            "selfmetrics:processor",
            "agentobs: this OpenTelemetry SDK's batch processor has an unknown layout; its "
            "drops are not counted",
        )
        return
    capacity = internals.queue.maxlen
    assert capacity is not None  # batch_internals checked that the queue is bounded
    attributes = counts.component(component_type)
    counts.add(PROCESSED[signal], attributes, 0)  # the series exists from the start
    hook = _ProcessorCounts(counts, signal, attributes)
    internals.replace_metrics(hook)
    internals.replace_queue(_CountingQueue(capacity, hook.dropped))
    counts.watch_queue(signal, attributes, lambda: len(internals.queue), capacity)


def _error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class _Counted:
    """Counts the items an inner exporter sent and failed; rebuilds it in a forked child
    (no kept-alive connection is shared with the parent) when given a factory."""

    signal = "traces"

    def __init__(
        self,
        inner: Any,
        counts: Counts,
        component_type: str,
        rebuild: Callable[[], Any] | None = None,
        status_key: str | None = None,
    ) -> None:
        self.inner = inner
        self._status_key = status_key  # where /health reads this exporter's outcomes
        self._counts = counts
        self._metric = EXPORTED[self.signal]
        self._attributes = counts.component(component_type)
        counts.add(self._metric, self._attributes, 0)  # the series exists from the start
        if self.signal not in counts.signals:
            counts.signals.append(self.signal)
        self._rebuild = rebuild
        if rebuild is not None and hasattr(os, "register_at_fork"):
            weak = weakref.WeakMethod(self._after_fork)

            def after_in_child() -> None:
                method = weak()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_in_child)

    def _after_fork(self) -> None:
        assert self._rebuild is not None
        try:
            self.inner = self._rebuild()
        except Exception as exc:  # keep the inherited exporter rather than none
            warn_once(
                "selfmetrics:rebuild",
                "agentobs: cannot rebuild the %s exporter after fork (%s)",
                self.signal,
                exc,
            )

    def _count(self, items: int, ok: bool, error: str = EXPORT_FAILED) -> None:
        if items:
            attributes = self._attributes if ok else {**self._attributes, ERROR_TYPE: error}
            self._counts.add(self._metric, attributes, items)

    def _send(self, items: int, call: Callable[[], Any], success: Any, failure: Any) -> Any:
        try:
            result = call()
        except Exception as exc:
            self._count(items, False, _error_type(exc))
            self._note(False)
            warn_once(
                f"selfmetrics:raise:{self.signal}:{type(exc).__name__}",
                "agentobs: the %s exporter raised %s: %s",
                self.signal,
                type(exc).__name__,
                exc,
            )
            return failure
        ok = result is success
        failure = getattr(self.inner, "failure_type", None) if not ok else None
        self._count(items, ok, failure() if failure is not None else EXPORT_FAILED)
        self._note(ok)
        return result

    def _note(self, ok: bool) -> None:
        if self._status_key is not None:
            status.note(self._status_key, ok)


class CountedSpanExporter(_Counted, SpanExporter):
    """A span exporter whose exported and failed spans are counted."""

    signal = "traces"

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        result: SpanExportResult = self._send(
            len(spans),
            lambda: self.inner.export(spans),
            SpanExportResult.SUCCESS,
            SpanExportResult.FAILURE,
        )
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


class CountedLogExporter(_Counted, LogRecordExporter):
    """A log record exporter whose exported and failed records are counted."""

    signal = "logs"

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        result: LogRecordExportResult = self._send(
            len(batch),
            lambda: self.inner.export(batch),
            LogRecordExportResult.SUCCESS,
            LogRecordExportResult.FAILURE,
        )
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def data_points(metrics_data: MetricsData) -> int:
    """How many data points a metrics batch holds."""
    return sum(
        len(metric.data.data_points)
        for resource in metrics_data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


class CountedMetricExporter(_Counted, MetricExporter):
    """A metric exporter whose exported and failed data points are counted."""

    signal = "metrics"

    def __init__(
        self,
        inner: MetricExporter,
        counts: Counts,
        component_type: str,
        rebuild: Callable[[], Any] | None = None,
        status_key: str | None = None,
    ) -> None:
        _Counted.__init__(self, inner, counts, component_type, rebuild, status_key)
        MetricExporter.__init__(
            self,
            *preferred_temporality_and_aggregation(inner),
        )

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result: MetricExportResult = self._send(
            data_points(metrics_data),
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
        )
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis=timeout_millis))

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        with contextlib.suppress(TypeError):
            self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)
            return
        self.inner.shutdown()


def log_summary(counts: Counts, suppressed: int, timed_out: bool) -> None:
    """Log the shutdown line: exact figures of each signal (a warning when anything was
    lost, else at info level)."""
    from .._errors import logger

    text, lost = counts.summary([s for s in EXPORTED if s in counts.signals])
    if not text:
        return
    if suppressed:
        text += f" ({suppressed} repeated export warnings were suppressed)"
    head = "agentobs: shutdown timed out; " if timed_out else "agentobs: shutdown; "
    logger.log(logging.WARNING if lost or timed_out else logging.INFO, "%s%s", head, text)
