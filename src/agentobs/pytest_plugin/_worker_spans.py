"""The spans an xdist worker's tests make, on their way to the controller, which exports them.

A worker whose controller exports its spans builds its pipeline with no span exporter; a
:class:`SpanShipper` on its tracer provider keeps every span that ends (the tests' own, a
foreign instrumentation's, a fixture's), and the runner hangs them, as plain values, on the
next test report pytest-xdist sends to the controller (and the last ones on the worker's
``workeroutput``). A worker that crashes therefore loses only the spans that ended after its
last report. Each span carries the worker's name (``agentobs.test.worker``); the controller
builds them with its own resource (that of the run) and hands them to its span processors.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from .. import _names as n
from ._spans import span_data
from ._xdist import MAX_SPANS


class SpanShipper(SpanProcessor):
    """Keeps the spans that end in this worker until the next report takes them."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._spans: list[ReadableSpan] = []
        self._dropped = 0
        self._open = True

    def on_end(self, span: ReadableSpan) -> None:
        if not self._open:
            return
        with self._lock:
            if len(self._spans) < MAX_SPANS:
                self._spans.append(span)
            else:
                self._dropped += 1

    @property
    def pending(self) -> bool:
        """True when spans (or a count of dropped ones) wait for a report."""
        return bool(self._spans or self._dropped)

    def take(self) -> dict[str, Any]:
        """The spans kept so far, as plain values, and how many were dropped; forgotten here."""
        with self._lock:
            spans, self._spans = self._spans, []
            dropped, self._dropped = self._dropped, 0
        worker = self.worker
        return {"spans": [encode(span, worker) for span in spans], "dropped": dropped}

    def shutdown(self) -> None:
        """Keep no more spans (the worker's session is over)."""
        self._open = False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def encode(span: ReadableSpan, worker: str) -> tuple[Any, ...]:
    """A finished span as :data:`._spans.SpanData` plain values, then its kind, scope
    ``(name, version, schema url)`` and whether its parent is remote."""
    context = span.get_span_context()
    if context is None:  # never for an SDK span; checked, not asserted (-O drops asserts)
        raise ValueError(f"span {span.name!r} has no span context to send")
    parent = span.parent
    attributes = dict(span.attributes or {})
    attributes[n.TEST_WORKER] = worker
    scope = span.instrumentation_scope
    events = [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events]
    links = [
        (
            link.context.trace_id,
            link.context.span_id,
            int(link.context.trace_flags),
            dict(link.attributes or {}),
        )
        for link in span.links
    ]
    return (
        *span_data(
            span.name,
            context,
            parent.span_id if parent is not None else None,
            span.start_time or 0,
            span.end_time or 0,
            attributes,
            events,
            span.status,
            links,
        ),
        span.kind.value,
        (scope.name, scope.version, scope.schema_url) if scope is not None else None,
        bool(parent is not None and parent.is_remote),
    )
