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


class _Scrubbed(logging.Filter):
    """Secrets out of agentobs's own log lines: a warning may quote a value it rejected
    (an endpoint with ``user:password@``, an exception message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from . import _secrets

        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let logging report it as usual
            return True
        cleaned = _secrets.text(message, "log")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logger = logging.getLogger("agentobs")
logger.addHandler(logging.NullHandler())
logger.addFilter(_Scrubbed())

RAISE_INTERNAL_ERRORS = False
"""Private switch for agentobs's own tests: re-raise internal errors instead of logging them."""

KEYS_PER_KIND = 10
"""Distinct warnings of one kind (the part of a ``warn_once`` key before the first ``:``,
such as ``attr-long``) logged before the rest of that kind is only counted: 100,000
distinct attribute keys give 10 warnings and a count, not 100,000 lines."""

_warned: set[str] = set()
_per_kind: dict[str, int] = {}
_warned_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object) -> bool:
    """Log ``message`` as a warning the first time ``key`` is seen, and at most
    :data:`KEYS_PER_KIND` distinct keys of each kind; return whether it logged."""
    kind = key.partition(":")[0]
    with _warned_lock:
        if key in _warned:
            return False
        count = _per_kind.get(kind, 0) + 1
        _per_kind[kind] = count
        if count > KEYS_PER_KIND:
            return False
        _warned.add(key)
    if count == KEYS_PER_KIND:
        message += " (further warnings of this kind are not logged; see suppressed_warnings())"
    logger.warning(message, *args)
    return True


def suppressed_warnings() -> dict[str, int]:
    """How many warnings of each kind were not logged (past the first distinct ones)."""
    with _warned_lock:
        return {k: n - KEYS_PER_KIND for k, n in _per_kind.items() if n > KEYS_PER_KIND}


def reset_warnings() -> None:
    """Forget which warnings were given (used by ``agentobs.testing.reset``)."""
    with _warned_lock:
        _warned.clear()
        _per_kind.clear()


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
