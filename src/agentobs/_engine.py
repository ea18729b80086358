"""The one decorator and context-manager engine behind workflow, stage, task, agent, tool,
persona and quality_gate.

A :class:`Scope` is what ``agentobs.stage("plan")`` returns. It works as ``@decorator`` on
sync, async, generator and async-generator functions (signature kept, fresh state per call),
and as ``with`` / ``async with``. Each use starts a :class:`Run`: a span made current in the
OpenTelemetry context for as long as the user's code runs, ended exactly once, then metrics.

Telemetry never changes the application: errors of our own are logged once and dropped
(:func:`agentobs._errors.internal_errors`); the user's exceptions are recorded on the span
and re-raised unchanged. Before ``configure()`` a call costs one attribute check.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from time import time_ns
from typing import Any, ClassVar, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _names as n
from ._errors import internal_errors, warn_once
from ._state import STATE

F = TypeVar("F", bound=Callable[..., Any])

MAX_NAME = 256
MAX_VALUE = 4096
_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach
_get_current = otel_context.get_current


def clean_name(value: Any, what: str) -> str:
    """A usable name from whatever the caller passed (one warning when it had to change)."""
    if type(value) is str and 0 < len(value) <= MAX_NAME:
        return value
    if value is None or value == "":
        warn_once(f"name-empty:{what}", "agentobs: %s name is empty; using 'unknown'", what)
        return "unknown"
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = "unknown"
    if not isinstance(value, str):
        warn_once(
            f"name-type:{what}", "agentobs: %s name %r is not a string; using str()", what, text
        )
    if len(text) > MAX_NAME:
        warn_once(
            f"name-long:{what}", "agentobs: %s name truncated to %d characters", what, MAX_NAME
        )
        text = text[:MAX_NAME]
    return text


def _clean_value(key: str, value: Any) -> Any:
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) > MAX_VALUE:
            warn_once(
                f"attr-long:{key}",
                "agentobs: attribute %r truncated to %d characters",
                key,
                MAX_VALUE,
            )
            return value[:MAX_VALUE]
        return value
    if isinstance(value, (list, tuple)) and value:
        kind = type(value[0])
        if kind in (str, bool, int, float) and all(type(v) is kind for v in value):
            return list(value)
    try:
        text = repr(value)
    except Exception:
        return None
    warn_once(
        f"attr-type:{key}:{type(value).__name__}",
        "agentobs: attribute %r of type %s recorded as its repr()",
        key,
        type(value).__name__,
    )
    return text[:MAX_VALUE]


def clean_attributes(attributes: dict[Any, Any]) -> dict[str, Any]:
    """Span attributes OpenTelemetry accepts; what cannot be kept is dropped with a warning."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            warn_once(
                f"attr-key:{type(key).__name__}",
                "agentobs: attribute key %r is not a string; dropped",
                key,
            )
            continue
        if value is None:
            continue
        value = _clean_value(key, value)
        if value is not None:
            clean[key] = value
    return clean


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of an exception: its fully qualified class name."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


NO_RESULT: Any = object()
"""A run's result before (or without) a decorated function returning one."""


class Run:
    """One use of a scope: the span and what is needed to end it."""

    __slots__ = ("context", "parent", "result", "scope", "span", "start", "state", "token")

    def __init__(self, scope: Scope, span: Any, parent: Any, context: Any, start: int) -> None:
        self.scope = scope
        self.span = span
        self.parent = parent
        self.context = context
        self.start = start
        self.token: object | None = None
        self.state: Any = None
        self.result: Any = NO_RESULT

    def set_attributes(self, **attributes: Any) -> None:
        """Set attributes on this run's span."""
        with internal_errors("set_attributes"):
            self.span.set_attributes(clean_attributes(attributes))

    def event(self, name: str, **attributes: Any) -> None:
        """Add an event to this run's span."""
        with internal_errors("event"):
            self.span.add_event(clean_name(name, "event"), clean_attributes(attributes))


class _NoopRun:
    """What ``with`` yields when nothing is recorded: accepts every call, does nothing."""

    span = trace.INVALID_SPAN

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _noop


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


NOOP_RUN: Any = _NoopRun()


class Scope:
    """Base of every agentobs scope. Subclasses fill in the span and the metrics."""

    kind: ClassVar[str] = "scope"
    span_kind: ClassVar[SpanKind] = SpanKind.INTERNAL

    __slots__ = ("attributes", "name", "runs", "span_name")

    def __init__(self, name: Any, attributes: dict[str, Any]) -> None:
        self.name = clean_name(name, self.kind)
        self.span_name = f"{self.kind} {self.name}"
        self.attributes = attributes
        self.runs: list[Any] = []

    # --- hooks for subclasses ---

    def on_start(self, run: Run, parent: Any) -> Any:
        """Return the context the user's code runs in (the span's context plus our keys)."""
        return run.context

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        """Record metrics (and final span attributes) for a run that ended."""

    # --- engine ---

    def start(self) -> Run | None:
        """Start a run: create its span and compute its context (not yet attached)."""
        tracer = STATE.tracer
        if tracer is None:
            return None
        try:
            parent = _get_current()
            start = time_ns()
            span = tracer.start_span(
                self.span_name, parent, self.span_kind, self.attributes, start_time=start
            )
            run = Run(self, span, parent, _set_span_in_context(span, parent), start)
            run.context = self.on_start(run, parent)
            return run
        except Exception as exc:
            _internal(exc, f"{self.kind}.start")
            return None

    def end(self, run: Run, exc: BaseException | None) -> None:
        """End a run exactly once: status, span end, metrics."""
        try:
            end = time_ns()
            status, error = n.STATUS_OK, None
            span = run.span
            if exc is not None and not isinstance(exc, GeneratorExit):
                error = error_type(exc)
                status = n.STATUS_CANCELLED if error.endswith("CancelledError") else n.STATUS_ERROR
                span.set_attribute(n.ERROR_TYPE, error)
                span.set_status(
                    Status(
                        StatusCode.ERROR,
                        status if status == n.STATUS_CANCELLED else str(exc)[:MAX_VALUE],
                    )
                )
                if status == n.STATUS_ERROR:
                    span.record_exception(exc, escaped=True)
            elif exc is not None:
                span.set_attribute(n.GENERATOR_CLOSED, True)
            self.on_end(run, (end - run.start) / 1e9, status, error)
            span.end(end_time=end)
        except Exception as internal:
            _internal(internal, f"{self.kind}.end")

    # --- with / async with ---

    def __enter__(self) -> Any:
        run = self.start()
        if run is None:
            self.runs.append(None)
            return NOOP_RUN
        run.token = _attach(run.context)
        self.runs.append(run)
        return run

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        run = self.runs.pop() if self.runs else None
        if run is None:
            return
        _safe_detach(run.token)
        self.end(run, exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator ---

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            warn_once(
                f"decorate:{type(fn).__name__}",
                "agentobs: %s(...) decorates callables; got %r",
                self.kind,
                fn,
            )
            return fn
        if inspect.isasyncgenfunction(fn):
            wrapper: Callable[..., Any] = self._wrap_async_generator(fn)
        elif inspect.isgeneratorfunction(fn):
            wrapper = self._wrap_generator(fn)
        elif inspect.iscoroutinefunction(fn):
            wrapper = self._wrap_coroutine(fn)
        else:
            wrapper = self._wrap_function(fn)
        return cast(F, functools.wraps(fn)(wrapper))

    def _wrap_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if STATE.tracer is None:
                return fn(*args, **kwargs)
            run = scope.start()
            if run is None:
                return fn(*args, **kwargs)
            token = _attach(run.context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _safe_detach(token)
                scope.end(run, exc)
                raise
            _safe_detach(token)
            run.result = result
            scope.end(run, None)
            return result

        return wrapper

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if STATE.tracer is None:
                return await fn(*args, **kwargs)
            run = scope.start()
            if run is None:
                return await fn(*args, **kwargs)
            token = _attach(run.context)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _safe_detach(token)
                scope.end(run, exc)
                raise
            _safe_detach(token)
            run.result = result
            scope.end(run, None)
            return result

        return wrapper

    def _wrap_generator(self, fn: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Any]:
        scope = self

        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            generator = fn(*args, **kwargs)
            run = scope.start() if STATE.tracer is not None else None
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    token = _attach(run.context) if run is not None else None
                    try:
                        if to_throw is not None:
                            item = generator.throw(to_throw)
                        else:
                            item = generator.send(to_send)
                    finally:
                        if token is not None:
                            _safe_detach(token)
                    to_send, to_throw = None, None
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        generator.close()
                        raise
                    except BaseException as thrown:
                        to_throw = thrown
            except StopIteration as stop:
                if run is not None:
                    scope.end(run, None)
                return stop.value
            except BaseException as exc:
                if run is not None:
                    scope.end(run, exc)
                raise

        return wrapper

    def _wrap_async_generator(
        self, fn: Callable[..., AsyncGenerator[Any, Any]]
    ) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            generator = fn(*args, **kwargs)
            run = scope.start() if STATE.tracer is not None else None
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    token = _attach(run.context) if run is not None else None
                    try:
                        if to_throw is not None:
                            item = await generator.athrow(to_throw)
                        else:
                            item = await generator.asend(to_send)
                    finally:
                        if token is not None:
                            _safe_detach(token)
                    to_send, to_throw = None, None
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        await generator.aclose()
                        raise
                    except BaseException as thrown:
                        to_throw = thrown
            except StopAsyncIteration:
                if run is not None:
                    scope.end(run, None)
            except BaseException as exc:
                if run is not None:
                    scope.end(run, exc)
                raise

        return wrapper


def _safe_detach(token: Any) -> None:
    with contextlib.suppress(Exception):  # in another context (GC of an abandoned generator)
        _detach(token)


def _internal(exc: Exception, where: str) -> None:
    with internal_errors(where):
        raise exc
