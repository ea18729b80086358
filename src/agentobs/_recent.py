"""The last 24 hours of tasks, aggregated in-process for ``GET /health``: completed, succeeded
and total duration per minute. Bounded: one small entry per minute with tasks in it, at most
a day's worth (older minutes are dropped as new ones arrive)."""

from __future__ import annotations

import threading
import time
from typing import Any

WINDOW_SECONDS = 86400
_MINUTE_NS = 60_000_000_000
_WINDOW_MINUTES = WINDOW_SECONDS // 60


class RecentTasks:
    """Per-minute task counts and durations over the last :data:`WINDOW_SECONDS`."""

    __slots__ = ("_lock", "_minutes", "_newest")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[int, list[float]] = {}  # minute -> [completed, succeeded, seconds]
        self._newest = 0

    def add(self, start_ns: int, seconds: float, ok: bool) -> None:
        """Count a task that started at ``start_ns`` (Unix ns) and took ``seconds``."""
        minute = start_ns // _MINUTE_NS
        with self._lock:
            entry = self._minutes.get(minute)
            if entry is None:
                entry = self._minutes[minute] = [0, 0, 0.0]
                if minute > self._newest:
                    self._newest = minute
                    if len(self._minutes) > _WINDOW_MINUTES:
                        self._prune(minute - _WINDOW_MINUTES)
            entry[0] += 1
            entry[1] += ok
            entry[2] += seconds

    def _prune(self, oldest: int) -> None:
        for key in [k for k in self._minutes if k < oldest]:
            del self._minutes[key]

    def summary(self, now: float | None = None) -> dict[str, Any]:
        """Tasks completed, success rate and mean duration over the window ending ``now``."""
        current = int((time.time() if now is None else now) * 1e9) // _MINUTE_NS
        oldest = current - _WINDOW_MINUTES
        completed = succeeded = 0
        seconds = 0.0
        with self._lock:
            for minute, (count, ok, total) in self._minutes.items():
                if oldest < minute <= current:
                    completed += int(count)
                    succeeded += int(ok)
                    seconds += total
        return {
            "window_seconds": WINDOW_SECONDS,
            "completed": completed,
            "succeeded": succeeded,
            "success_rate": round(succeeded / completed, 6) if completed else None,
            "mean_duration_seconds": round(seconds / completed, 6) if completed else None,
        }

    def clear(self) -> None:
        """Forget everything (``agentobs.testing.reset``)."""
        with self._lock:
            self._minutes.clear()
            self._newest = 0


TASKS = RecentTasks()
"""Every ``agentobs.task`` that ends in this process."""
