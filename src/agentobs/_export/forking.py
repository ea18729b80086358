"""What a process forked from a configured one needs to record safely: fresh locks.

A lock held by one of the parent's threads at the moment of ``os.fork`` (its metric reader
exporting, a collection under way) stays held for ever in the child, whose copy of that thread
does not exist. The OpenTelemetry SDK restarts its batch processors' and periodic reader's
threads in a child, but not these locks: :func:`renew_locks` replaces every lock of the SDK's
metric pipeline (provider, measurement consumer, reader storages, instrument matches,
aggregations, readers). agentobs's own locks renew themselves (``_recorder``, ``_errors``,
the local file writer, the self-telemetry queues), and its exporters rebuild their
connections (``selfmetrics``).
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_SDK = "opentelemetry.sdk"
_MAX_OBJECTS = 200_000  # a bounded walk, whatever the number of metric streams


def _fresh(lock: Any) -> Any:
    return threading.RLock() if "RLock" in type(lock).__name__ else threading.Lock()


def renew_locks(root: Any) -> int:
    """Replace every lock in an attribute of the SDK objects reachable from ``root`` (and of
    their classes), following attributes and containers; return how many were replaced."""
    renewed = 0
    seen: set[int] = set()
    classes: set[type] = set()
    stack: list[Any] = [root]
    while stack and len(seen) < _MAX_OBJECTS:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.values())
            continue
        if isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
            continue
        kind = type(item)
        if not kind.__module__.startswith(_SDK):
            continue
        for name, value in list(getattr(item, "__dict__", {}).items()):
            if isinstance(value, _LOCK_TYPES):
                setattr(item, name, _fresh(value))
                renewed += 1
            else:
                stack.append(value)
        for cls in kind.__mro__:
            if cls in classes or not cls.__module__.startswith(_SDK):
                continue
            classes.add(cls)
            for name, value in list(vars(cls).items()):
                if isinstance(value, _LOCK_TYPES):
                    setattr(cls, name, _fresh(value))
                    renewed += 1
    return renewed
