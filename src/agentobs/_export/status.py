"""How the exporters have been doing: per exporter, the last success and failure and their
counts, for ``GET /health``. Each exporter ``configure()`` builds reports here through
:func:`track`, in the export thread; the application's threads never pay for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_STATUS: dict[str, dict[str, Any]] = {}


def _note(key: str, ok: bool) -> None:
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


def track(signal: str, name: str, exporter: Any) -> Any:
    """Make ``exporter.export`` report each result under ``{signal}/{name}``; return it."""
    key = f"{signal}/{name}"
    inner: Callable[..., Any] = exporter.export

    def export(*args: Any, **kwargs: Any) -> Any:
        try:
            result = inner(*args, **kwargs)
        except BaseException:
            _note(key, False)
            raise
        _note(key, getattr(result, "name", "SUCCESS") == "SUCCESS")
        return result

    exporter.export = export
    return exporter


def snapshot() -> dict[str, dict[str, Any]]:
    """Every exporter's record so far."""
    with _lock:
        return {key: dict(entry) for key, entry in _STATUS.items()}


def clear() -> None:
    """Forget every record (a new configuration starts afresh)."""
    with _lock:
        _STATUS.clear()
