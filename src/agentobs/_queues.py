"""``agentobs.queue(name)``: telemetry for a work queue the application owns.

Producers call ``q.enqueued()`` (it returns a ticket: the Unix time, JSON-serialisable, to
pass along with the item); consumers call ``q.started(ticket)`` and ``q.done(status)``, or wrap
the work in ``with q.work(ticket):``. Recorded: depth by state (``pending``, ``in_progress``)
as a gauge, wait time (enqueued to started) and service time (started to done) histograms,
items enqueued and completed by status (throughput is the rate of the latter).

Without a ticket, ``started()`` takes the oldest enqueue time it remembers (first in, first
out). Memory is bounded whatever the producer does: at most :data:`MAX_TRACKED` enqueue times
are kept per queue; the wait of items past that is not measured (counted, one warning), and
at most :data:`MAX_QUEUES` queue names exist (more fold into ``_other``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Any

from . import _catalogue as cat
from . import _hooks
from . import _names as n
from ._catalogue import VALUE_LIMIT
from ._engine import clean_name, error_type, timestamp
from ._errors import internal_errors, warn_once
from ._state import STATE

MAX_TRACKED = 10_000
"""Enqueue (and start) times remembered per queue for ticketless ``started()``/``done()``."""
MAX_QUEUES = VALUE_LIMIT


class QueueItem:
    """An item being worked on: what ``started()`` returns and ``done()`` takes."""

    __slots__ = ("finished", "queue", "start")

    def __init__(self, queue: Queue, start: float) -> None:
        self.queue = queue
        self.start = start
        self.finished = False

    def done(self, status: Any = n.STATUS_OK) -> None:
        """The work on this item ended with ``status`` (``ok``, ``error`` or your own)."""
        self.queue.done(status, item=self)


class _Work:
    """``with q.work(ticket):``: started on entry, done on exit (status from the exception)."""

    __slots__ = ("item", "queue", "ticket")

    def __init__(self, queue: Queue, ticket: Any) -> None:
        self.queue = queue
        self.ticket = ticket
        self.item: QueueItem | None = None

    def __enter__(self) -> QueueItem:
        self.item = self.queue.started(self.ticket)
        return self.item

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self.item is None or self.item.finished:
            return
        status = n.STATUS_OK
        if exc is not None:
            kind = error_type(exc)
            status = n.STATUS_CANCELLED if kind.endswith("CancelledError") else n.STATUS_ERROR
        self.queue.done(status, item=self.item)

    async def __aenter__(self) -> QueueItem:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


def _record(name: str, value: float, attributes: dict[str, Any]) -> None:
    recorders = STATE.recorders
    if recorders is not None:
        recorders[name].record(value, attributes)


class Queue:
    """One named queue's counts and timings (see the module doc). Thread-safe."""

    __slots__ = (
        "_enqueue_times",
        "_lock",
        "_start_times",
        "_untimed",
        "attributes",
        "in_progress",
        "name",
        "pending",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.attributes = {n.QUEUE_NAME: name}
        self.pending = 0
        self.in_progress = 0
        self._untimed = 0
        self._enqueue_times: deque[float] = deque()
        self._start_times: deque[float] = deque()
        self._lock = threading.Lock()

    def enqueued(self, count: int = 1) -> float:
        """``count`` items were put on the queue; returns the ticket (the Unix time now)."""
        now = time.time()
        with internal_errors("queue.enqueued"):
            count = count if type(count) is int and count > 0 else 1
            with self._lock:
                self.pending += count
                room = MAX_TRACKED - len(self._enqueue_times)
                kept = min(room, count)
                self._enqueue_times.extend([now] * kept)
                self._untimed += count - kept
            if kept < count:
                warn_once(
                    f"queue-untimed:{self.name}",
                    "agentobs: queue %r holds more than %d items without tickets; the wait of "
                    "the newest is not measured (pass the ticket enqueued() returns to "
                    "started())",
                    self.name,
                    MAX_TRACKED,
                )
            _record(cat.QUEUE_ENQUEUED.name, count, self.attributes)
        return now

    def started(self, ticket: Any = None) -> QueueItem:
        """Work on an item starts; ``ticket`` is what ``enqueued()`` returned (or any Unix
        time or ``datetime`` of the enqueue), else the oldest enqueue time remembered."""
        now = time.time()
        item = QueueItem(self, now)
        with internal_errors("queue.started"):
            enqueued_at: float | None = None
            if ticket is not None:
                enqueued_at = timestamp(ticket, "queue ticket")
            with self._lock:
                if self.pending > 0:
                    self.pending -= 1
                    if ticket is None:
                        if self._enqueue_times:
                            enqueued_at = self._enqueue_times.popleft()
                        elif self._untimed:
                            self._untimed -= 1
                    elif self._enqueue_times:  # keep the FIFO in step with the counts
                        self._enqueue_times.popleft()
                    elif self._untimed:
                        self._untimed -= 1
                self.in_progress += 1
                if len(self._start_times) < MAX_TRACKED:
                    self._start_times.append(now)
            if enqueued_at is not None:
                _record(cat.QUEUE_WAIT.name, max(0.0, now - enqueued_at), self.attributes)
        return item

    def done(self, status: Any = n.STATUS_OK, *, item: QueueItem | None = None) -> None:
        """Work on an item ended with ``status``; ``item`` is what ``started()`` returned
        (else the oldest item in progress is taken as the one that finished)."""
        now = time.time()
        with internal_errors("queue.done"):
            text = status if type(status) is str and status else clean_name(status, "status")
            started_at: float | None = None
            with self._lock:
                if item is not None:
                    if item.finished:
                        return
                    item.finished = True
                    started_at = item.start
                    if self._start_times:
                        self._remove_start(item.start)
                elif self._start_times:
                    started_at = self._start_times.popleft()
                if self.in_progress > 0:
                    self.in_progress -= 1
            attributes = {n.QUEUE_NAME: self.name, n.STATUS: text}
            _record(cat.QUEUE_COMPLETED.name, 1, attributes)
            if started_at is not None:
                _record(cat.QUEUE_SERVICE.name, max(0.0, now - started_at), attributes)

    def _remove_start(self, start: float) -> None:
        times = self._start_times
        if times[0] == start:
            times.popleft()
            return
        with contextlib.suppress(ValueError):  # it was not remembered (past MAX_TRACKED)
            times.remove(start)

    def work(self, ticket: Any = None) -> _Work:
        """``with q.work(ticket):`` (or ``async with``) around the work on one item."""
        return _Work(self, ticket)

    def depth(self) -> dict[str, int]:
        """Items pending and in progress now (as seen by this process)."""
        return {"pending": self.pending, "in_progress": self.in_progress}


_QUEUES: dict[str, Queue] = {}
_queues_lock = threading.Lock()


def queue(name: Any) -> Queue:
    """The queue called ``name`` (the same object for the same name, in every thread)."""
    found = _QUEUES.get(name) if type(name) is str else None
    if found is not None:
        return found
    text = clean_name(name, "queue")
    with _queues_lock:
        found = _QUEUES.get(text)
        if found is None:
            if len(_QUEUES) >= MAX_QUEUES:
                warn_once(
                    "queue-limit",
                    "agentobs: more than %d queue names; further queues are recorded as %r",
                    MAX_QUEUES,
                    n.OVERFLOW_VALUE,
                )
                text = n.OVERFLOW_VALUE
                found = _QUEUES.get(text)
            if found is None:
                found = _QUEUES[text] = Queue(text)
    return found


def queue_depths() -> list[tuple[float, dict[str, Any]]]:
    """The ``agentobs.queue.depth`` observations: every queue, both states (zeros too)."""
    with _queues_lock:
        queues = list(_QUEUES.values())
    observations: list[tuple[float, dict[str, Any]]] = []
    for q in queues:
        for state, count in q.depth().items():
            observations.append((count, {n.QUEUE_NAME: q.name, n.QUEUE_STATE: state}))
    return observations


_hooks.add_gauge_source(cat.QUEUE_DEPTH.name, queue_depths)


def forget_queues() -> None:
    """Forget every queue (``agentobs.testing.reset``)."""
    with _queues_lock:
        _QUEUES.clear()
