"""How the exporters have been doing: per exporter, the last success and failure and their
counts, for ``GET /health``. The counted exporters of ``selfmetrics`` (every exporter
``configure()`` builds) report each export's outcome here through :func:`note`, in the
export thread; the application's threads never pay for it."""

from __future__ import annotations

import threading
import time
from typing import Any

_lock = threading.Lock()
_STATUS: dict[str, dict[str, Any]] = {}


def note(key: str, ok: bool) -> None:
    """Record one export's outcome under ``key`` (``{signal}/{exporter}``)."""
    now = time.time()
    with _lock:
        entry = _STATUS.setdefault(
            key,
            {"successes": 0, "failures": 0, "last_success": None, "last_failure": None},
        )
        if ok:
            entry["successes"] += 1
            entry["last_success"] = now
        else:
            entry["failures"] += 1
            entry["last_failure"] = now
        entry["ok"] = ok


def snapshot() -> dict[str, dict[str, Any]]:
    """Every exporter's record so far."""
    with _lock:
        return {key: dict(entry) for key, entry in _STATUS.items()}


def clear() -> None:
    """Forget every record (a new configuration starts afresh)."""
    with _lock:
        _STATUS.clear()
