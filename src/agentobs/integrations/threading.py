"""Carry the current context (span, workflow, persona, budgets) into threads and executors.

A new thread starts with an empty context, so spans made there have no parent and no
persona. :func:`agentobs.bind_context` fixes one callable at a time; this opt-in does it for
every ``threading.Thread`` started and every ``concurrent.futures.ThreadPoolExecutor`` job
submitted (``loop.run_in_executor`` included), as OpenTelemetry's threading
instrumentation does::

    agentobs.instrument_threading()

The context is the one at ``Thread.start()`` / ``executor.submit()``. Like OpenTelemetry's,
it covers threads whose class does not override ``run()``. ``uninstrument_threading()``
undoes it; a second ``instrument_threading()`` does nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from opentelemetry import context as otel_context

__all__ = ["instrument_threading", "uninstrument_threading"]

_ATTRIBUTE = "_agentobs_context"
_lock = threading.Lock()
_originals: dict[str, Any] = {}


def _start(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def start(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
        setattr(self, _ATTRIBUTE, otel_context.get_current())
        original(self, *args, **kwargs)

    return start


def _run(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def run(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
        captured = getattr(self, _ATTRIBUTE, None)
        if captured is None:
            original(self, *args, **kwargs)
            return
        token = otel_context.attach(captured)
        try:
            original(self, *args, **kwargs)
        finally:
            otel_context.detach(token)

    return run


def _submit(original: Callable[..., Future[Any]]) -> Callable[..., Future[Any]]:
    @functools.wraps(original)
    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        captured = otel_context.get_current()

        def in_context(*inner_args: Any, **inner_kwargs: Any) -> Any:
            token = otel_context.attach(captured)
            try:
                return fn(*inner_args, **inner_kwargs)
            finally:
                otel_context.detach(token)

        return original(self, in_context, *args, **kwargs)

    return submit


_PATCHES: tuple[tuple[type, str, Callable[[Any], Any]], ...] = (
    (threading.Thread, "start", _start),
    (threading.Thread, "run", _run),
    (ThreadPoolExecutor, "submit", _submit),
)


def instrument_threading() -> None:
    """Make threads and thread-pool jobs run in the context they were started from."""
    with _lock:
        if _originals:
            return
        for cls, name, wrap in _PATCHES:
            original = cls.__dict__[name]
            _originals[f"{cls.__qualname__}.{name}"] = original
            setattr(cls, name, wrap(original))


def uninstrument_threading() -> None:
    """Undo :func:`instrument_threading`."""
    with _lock:
        for cls, name, _wrap in _PATCHES:
            original = _originals.pop(f"{cls.__qualname__}.{name}", None)
            if original is not None:
                setattr(cls, name, original)
