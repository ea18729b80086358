"""Internal error handling: telemetry must never change the application.

Everything agentobs does on behalf of user code runs inside :func:`internal_errors`, which
logs an unexpected exception once (per call site) through the ``agentobs`` logger and
swallows it. Our own test suite sets :data:`RAISE_INTERNAL_ERRORS` so that bugs surface there.
"""

from __future__ import annotations

import logging
import os
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

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _warned_lock
    _warned_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # a thread of the parent may have held it at fork
    os.register_at_fork(after_in_child=_new_lock_in_child)
MAX_WARNING_KEYS = 1000
"""Distinct warnings remembered (and given); beyond them, one last warning says so. Keys
often hold user input (a model name), so an unbounded set would grow with it."""

_families: dict[str, int] = {}
_family_limits: dict[str, int] = {}


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
        _family_limits[family] = limit
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


def suppressed_warnings() -> dict[str, int]:
    """How many distinct warnings of each :func:`warn_some` family were not logged."""
    with _warned_lock:
        return {
            family: seen - _family_limits[family]
            for family, seen in _families.items()
            if seen > _family_limits[family]
        }


@contextmanager
def warnings_given_again() -> Iterator[None]:
    """Within the block every warning is given again, as if none had been (``agentobs
    doctor`` collects them all); after it, the record of those given before is back."""
    global _warned, _families
    with _warned_lock:
        saved = _warned, _families
        _warned, _families = set(), {}
    try:
        yield
    finally:
        with _warned_lock:
            _warned, _families = saved


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
