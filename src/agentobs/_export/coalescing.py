"""Fewer, larger exports while a backlog waits: what lets the export thread keep up.

The SDK's batch processor hands its exporter one batch (``max_export_batch_size`` items) at
a time and loops while its queue holds another full batch. Each export ends in I/O (a file
write, an HTTP request) that releases the GIL; with busy application threads, getting it
back takes a whole round of theirs (5 ms each), so the export thread drained one batch per
round and fell behind: measured, 50 ms per 512-span write with eight busy threads, for
0.1 ms of actual writing.

:class:`CoalescingExporter` sits between the batch processor and the exporter, in the export
thread. While the queue still holds a full batch after this one (so the processor is certain
to call again at once), it keeps the batch and returns; the next call adds to it, and the
whole is exported in one call when the queue runs low, when ``max_items`` are kept (2,048,
and never more than the queue holds), at shutdown or on a flush. A lone batch is exported at
once, as before. Nothing waits, and no more is held than ``max_items`` items taken off the
queue (with a backend that stalls, that many are in the exporter's hands, not one batch).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .sdk_compat import batch_internals

DEFAULT_MAX_ITEMS = 2048
"""At most this many items are exported in one call (4 default batches of 512): about a MB of
OTLP, far under the receivers' request limits (OTLP/HTTP 64 MB in the SDK, 4 MB gRPC)."""


class CoalescingExporter:
    """Merges the batches a batch processor hands over in one drain, see the module."""

    def __init__(
        self,
        exporter: Any,
        backlog: Callable[[], int],
        batch_size: int,
        success: Any,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self.exporter = exporter
        self._backlog = backlog
        self._batch_size = batch_size
        self._success = success
        self._max_items = max(max_items, batch_size)
        self._kept: list[Any] = []
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            weak = weakref.ref(self)

            def after_in_child() -> None:
                coalescing = weak()
                if coalescing is not None:  # the parent exports what it kept
                    coalescing._lock = threading.Lock()
                    coalescing._kept = []

            os.register_at_fork(after_in_child=after_in_child)

    def export(self, batch: Sequence[Any]) -> Any:
        with self._lock:
            kept = self._kept
            kept.extend(batch)
            # The processor calls again at once only while its queue holds a full batch.
            if len(kept) < self._max_items and self._backlog() >= self._batch_size:
                return self._success
            self._kept = []
        return self.exporter.export(kept)

    def _export_kept(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, []
        if kept:
            self.exporter.export(kept)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._export_kept()
        return bool(self.exporter.force_flush(timeout_millis))

    def shutdown(self) -> None:
        self._export_kept()
        self.exporter.shutdown()


def coalesce(processor: Any, success: Any, max_items: int = DEFAULT_MAX_ITEMS) -> None:
    """Put a :class:`CoalescingExporter` in front of the exporter of an SDK batch processor
    (span or log record, through :func:`~agentobs._export.sdk_compat.batch_internals`); left
    as it is when its layout is not the one known."""
    internals = batch_internals(processor)
    if internals is None:
        return

    def backlog() -> int:
        return len(internals.queue)

    # Never more in the exporter's hands than the queue holds: memory stays within twice the
    # queue's bound, and a small queue (a tight memory budget) is exported batch by batch.
    limit = internals.queue.maxlen or max_items
    size = internals.batch_size
    internals.replace_exporter(
        CoalescingExporter(internals.exporter, backlog, size, success, min(max_items, limit))
    )
