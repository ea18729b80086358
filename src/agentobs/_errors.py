"""Internal error handling: telemetry must never change the application.

Everything agentobs does on behalf of user code runs inside :func:`internal_errors`, which
logs an unexpected exception once (per call site) through the ``agentobs`` logger and
swallows it. Our own test suite sets :data:`RAISE_INTERNAL_ERRORS` so that bugs surface there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("agentobs")
logger.addHandler(logging.NullHandler())

RAISE_INTERNAL_ERRORS = False
"""Private switch for agentobs's own tests: re-raise internal errors instead of logging them."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


MAX_WARNING_KEYS = 1000
"""Distinct warnings remembered (and given); beyond them, one last warning says so. Keys
often hold user input (a model name), so an unbounded set would grow with it."""

_families: dict[str, int] = {}


def warn_once(key: str, message: str, *args: object) -> bool:
    """Log ``message`` as a warning the first time ``key`` is seen; return whether it logged."""
    with _warned_lock:
        if key in _warned:
            return False
        if len(_warned) >= MAX_WARNING_KEYS:
            if "" in _warned:
                return False
            _warned.add("")  # the marker of the last warning
            message, args = (
                "agentobs: %d distinct warnings were given; further ones are not logged",
                (MAX_WARNING_KEYS,),
            )
        else:
            _warned.add(key)
    logger.warning(message, *args)
    return True


def warn_some(family: str, limit: int, key: str, message: str, *args: object) -> bool:
    """:func:`warn_once` for the first ``limit`` distinct keys of ``family`` (the first
    unpriced models, say), then one warning that the others of the family are not logged."""
    with _warned_lock:
        if key in _warned:
            return False
        seen = _families.get(family, 0)
        _families[family] = seen + 1
    if seen < limit:
        return warn_once(key, message, *args)
    if seen == limit:
        return warn_once(
            f"{family}:more",
            "agentobs: more than %d distinct %s; the others are not logged one by one",
            limit,
            family,
        )
    return False


def reset_warnings() -> None:
    """Forget which warnings were given (used by ``agentobs.testing.reset``)."""
    with _warned_lock:
        _warned.clear()
        _families.clear()


@contextmanager
def internal_errors(where: str) -> Iterator[None]:
    """Swallow and log (once per ``where``) any exception raised by agentobs's own code."""
    try:
        yield
    except Exception as exc:
        if RAISE_INTERNAL_ERRORS:
            raise
        warn_once(
            f"internal:{where}:{type(exc).__name__}",
            "agentobs: internal error in %s (%s: %s); telemetry for this call is dropped",
            where,
            type(exc).__name__,
            exc,
        )
