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
import datetime
import functools
import inspect
import math
from collections.abc import AsyncGenerator, Callable, Generator, Hashable, Mapping
from time import time_ns
from typing import Any, ClassVar, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _names as n
from ._context import PERSONA_KEY, RUN_KEY
from ._errors import internal_errors, warn_once, warn_some
from ._names import PERSONA_CHATMODE, PERSONA_NAME
from ._secrets import utf8
from ._state import STATE

F = TypeVar("F", bound=Callable[..., Any])

MAX_NAME = 256
SOME = 10
"""Distinct warnings given of each kind keyed by user input (an attribute name), before
the rest are only counted (``agentobs._errors.suppressed_warnings()``)."""
MAX_VALUE = 4096
_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach
_get_current = otel_context.get_current
_set_value = otel_context.set_value
_OK = n.STATUS_OK


def clean_name(value: Any, what: str) -> str:
    """A usable name from whatever the caller passed (one warning when it had to change)."""
    if type(value) is str and 0 < len(value) <= MAX_NAME and value.isascii():
        return value
    if value is None or (isinstance(value, str) and not value):
        warn_once(f"name-empty:{what}", "agentobs: %s name is empty; using 'unknown'", what)
        return "unknown"
    if isinstance(value, str):
        text = str.__str__(value)
    else:
        warn_once(
            f"name-type:{what}:{type(value).__name__}",
            "agentobs: %s name of type %s is not a string; using str()",
            what,
            type(value).__name__,
        )
        try:
            text = str(value)
        except Exception:
            text = "unknown"
        if type(text) is not str or not text:
            text = "unknown"
    if len(text) > MAX_NAME:
        warn_once(
            f"name-long:{what}", "agentobs: %s name truncated to %d characters", what, MAX_NAME
        )
        text = text[:MAX_NAME]
    return text if text.isascii() else _utf8(text, what)


def _utf8(text: str, what: str) -> str:
    """``text``, with lone surrogates (``os.fsdecode`` of a name that is not UTF-8) spelled out:
    one of them would make the exporter drop the whole batch it is in."""
    clean = utf8(text)
    if clean is not text:
        warn_some(
            "values with lone surrogates",
            SOME,
            f"surrogate:{what}",
            "agentobs: %s holds characters that are not valid UTF-8 (lone surrogates); they "
            "are recorded as \\udcXX escapes",
            what,
        )
    return clean


def timestamp(value: Any, what: str) -> float | None:
    """Unix seconds from a number or an aware ``datetime`` (a naive one is taken as UTC);
    None, with one warning, for anything else."""
    try:
        if hasattr(value, "timestamp"):
            if getattr(value, "tzinfo", True) is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            value = value.timestamp()
        number = float(value)
        if math.isfinite(number) and number >= 0:
            return number
    except Exception:
        pass
    warn_once(
        f"timestamp:{what}:{type(value).__name__}",
        "agentobs: %s=%r is not a Unix time or a datetime; ignored",
        what,
        value,
    )
    return None


def _truncate(key: str, value: str) -> str:
    if len(value) > MAX_VALUE:
        warn_some(
            "over-long attribute values",
            SOME,
            f"attr-long:{key}",
            "agentobs: attribute %r truncated to %d characters",
            key,
            MAX_VALUE,
        )
        value = value[:MAX_VALUE]
    return value if value.isascii() else _utf8(value, f"attribute {key!r}")


def _clean_value(key: str, value: Any) -> Any:
    kind = type(value)
    if kind is bool or kind is int or kind is float:
        return value
    if kind is str:
        return _truncate(key, value)
    if kind is list or kind is tuple:
        if not value:
            return []
        first = type(value[0])
        if first in (str, bool, int, float) and all(type(v) is first for v in value):
            if first is str:
                return [_truncate(key, v) for v in value]
            return list(value)
    elif isinstance(value, str):  # subclasses, such as StrEnum members
        return _truncate(key, str.__str__(value))
    elif isinstance(value, (int, float)):  # subclasses, such as IntEnum members
        try:
            return int(value) if isinstance(value, int) else float(value)
        except Exception:
            return None
    try:
        text = repr(value)
    except Exception:
        warn_some(
            "attributes without a usable repr()",
            SOME,
            f"attr-repr:{key}:{type(value).__name__}",
            "agentobs: attribute %r of type %s has no usable repr(); dropped",
            key,
            type(value).__name__,
        )
        return None
    warn_some(
        "attributes recorded as their repr()",
        SOME,
        f"attr-type:{key}:{type(value).__name__}",
        "agentobs: attribute %r of type %s recorded as its repr()",
        key,
        type(value).__name__,
    )
    return text[:MAX_VALUE]


def set_clean(span: Any, attributes: dict[Any, Any]) -> None:
    """``span.set_attributes`` with ``attributes`` as :func:`clean_attributes` would leave
    them. The common case (a few ``str``, ``bool``, ``int`` or ``float`` values that need no
    change) hands the dict to the SDK as it is, instead of building a cleaned copy; the
    caller must not keep ``attributes`` (a ``**kwargs`` dict is fresh)."""
    for key, value in attributes.items():
        kind = type(value)
        if kind is str:
            if len(value) > MAX_VALUE or not value.isascii():
                break
        elif kind is not bool and kind is not int and kind is not float:
            break
        if not key or type(key) is not str:
            break
    else:
        span.set_attributes(attributes)
        return
    span.set_attributes(clean_attributes(attributes))


def clean_attributes(attributes: dict[Any, Any]) -> dict[str, Any]:
    """Span attributes OpenTelemetry accepts; what cannot be kept is dropped with a warning."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if type(key) is not str or not key:
            warn_once(
                f"attr-key:{type(key).__name__}",
                "agentobs: an attribute key of type %s is not a non-empty string; dropped",
                type(key).__name__,
            )
            continue
        if value is None:
            continue
        value = _clean_value(key, value)
        if value is not None:
            clean[key] = value
    return clean


def _is_function_like(value: Any) -> bool:
    """A function, method, class or other callable that is not a name (a string)."""
    return callable(value) and not isinstance(value, (str, bytes))


def qualified_name(fn: Any) -> str:
    """``Class.method`` or ``function``, as Langfuse's ``@observe`` and Logfire's
    ``@instrument`` name their spans; ``<locals>`` parts are dropped."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not isinstance(name, str):
        name = type(fn).__qualname__
    return ".".join(part for part in name.split(".") if part != "<locals>")


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of an exception: its fully qualified class name."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


NO_RESULT: Any = object()
"""A run's result before (or without) a decorated function returning one."""

_METRIC_CACHE_LIMIT = 256
_NO_METRIC: tuple[Callable[..., None], Any] = (lambda *_args: None, None)


class Run:
    """One use of a scope: the span and what is needed to end it."""

    __slots__ = ("context", "parent", "result", "scope", "span", "start", "state", "token")

    def __init__(self, scope: Scope, span: Any, parent: Any, context: Any, start: int) -> None:
        self.scope = scope
        self.span = span
        self.parent = parent
        self.context = context
        self.start = start
        self.token: Any = None
        self.state: Any = None
        self.result: Any = NO_RESULT

    # --- the one wrap-and-end block (decorators, the LLM wrapper, the client patches) ---

    def call(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with this run's context attached; the run ends with its
        result (:meth:`finish`) or its exception (:meth:`fail`, then re-raised)."""
        token = _attach(self.context)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            self.fail(exc)
            raise
        _detach(token)
        return self.finish(result)

    async def acall(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """:meth:`call` for a coroutine function (the context is attached while it runs)."""
        token = _attach(self.context)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            self.fail(exc)
            raise
        _detach(token)
        return self.finish(result)

    def finish(self, result: Any) -> Any:
        """End the run with ``result``; returns what the caller receives."""
        self.result = result
        self.scope.end(self, None)
        return result

    def fail(self, exc: BaseException) -> None:
        """End the run with the exception its code raised."""
        self.scope.end(self, exc)

    def set_attributes(self, **attributes: Any) -> None:
        """Set attributes on this run's span."""
        try:
            set_clean(self.span, attributes)
        except Exception as exc:
            _internal(exc, "set_attributes")

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
    """Base of every agentobs scope. Subclasses fill in the span and the metrics.

    Hot path (a decorated function after ``configure()``): one ``get_current()``, one span
    started with precomputed attributes (the persona, when there is one, is merged in here
    rather than by :class:`~agentobs._export.processors.ContextSpanProcessor`), attach and detach,
    and metric records whose cleaned attributes are cached per distinct key in the scope.
    """

    kind: ClassVar[str] = "scope"
    span_kind: ClassVar[SpanKind] = SpanKind.INTERNAL
    run_class: ClassVar[type[Run]] = Run
    stamps_persona: ClassVar[bool] = True
    """Whether spans of this scope carry the persona of the context they start in."""
    has_on_start: ClassVar[bool] = False
    """Whether :meth:`on_start` does anything (set by subclasses that override it)."""

    __slots__ = ("_metrics", "_persona_attributes", "attributes", "name", "runs", "span_name")

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """``@agentobs.task`` without parentheses: the function is the only argument. It
        gets a scope named by its qualified name and comes back decorated."""
        if len(args) == 1 and not kwargs and _is_function_like(args[0]):
            return cls.bare(args[0])(args[0])
        if args and _is_function_like(args[0]):
            raise TypeError(
                f"agentobs.{cls.__name__}: to name the scope and set options, write "
                f"@agentobs.{cls.__name__}(name, ...) with the name as a string; "
                f"@agentobs.{cls.__name__} alone names it after the function"
            )
        return super().__new__(cls)

    @classmethod
    def bare(cls, fn: Callable[..., Any]) -> Scope:
        """The scope of the bare decorator form: named by the function's qualified name."""
        scope: Scope = cast(Any, cls)(qualified_name(fn))  # subclasses take the name alone
        return scope

    def __init__(self, name: Any, attributes: dict[str, Any]) -> None:
        self.name = clean_name(name, self.kind)
        self.span_name = f"{self.kind} {self.name}"
        self.attributes = attributes
        self.runs: list[Run] = []
        self._metrics: tuple[Any, dict[Any, Any]] | None = None
        self._persona_attributes: tuple[Any, dict[str, Any]] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.has_on_start = cls.on_start is not Scope.on_start

    # --- hooks for subclasses ---

    def on_start(self, run: Run, parent: Any) -> Any:
        """Return the context the user's code runs in (the span's context plus our keys)."""
        return run.context

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        """Record metrics (and final span attributes) for a run that ended."""

    def metrics(
        self,
        key: Hashable,
        names: tuple[str, ...],
        build: Callable[[Any, str], Mapping[str, Any]],
    ) -> tuple[tuple[Callable[..., None], Any], ...]:
        """For each instrument in ``names``: its record function and the cleaned attributes
        ``build(key, name)`` gives, cached per ``key`` for the current configuration. Record
        with ``fn(value, attributes, context)``."""
        recorders = STATE.recorders
        cache = self._metrics
        if cache is None or cache[0] is not recorders:
            if recorders is None:
                return tuple(_NO_METRIC for _ in names)
            cache = self._metrics = (recorders, {})
        entry: tuple[tuple[Callable[..., None], Any], ...] | None = cache[1].get(key)
        if entry is None:
            entry = tuple(recorders[name].bind(build(key, name)) for name in names)
            if len(cache[1]) < _METRIC_CACHE_LIMIT:
                cache[1][key] = entry
        return entry

    # --- engine ---

    def start(self) -> Run | None:
        """Start a run: create its span and compute its context (not yet attached)."""
        tracer = STATE.tracer
        return None if tracer is None else self._start(tracer)

    def _with_persona(self, persona: Any) -> dict[str, Any]:
        cached = self._persona_attributes
        if cached is not None and cached[0] is persona:
            return cached[1]
        attributes = dict(self.attributes)
        attributes[PERSONA_NAME] = persona.name
        if persona.chatmode is not None:
            attributes[PERSONA_CHATMODE] = persona.chatmode
        self._persona_attributes = (persona, attributes)
        return attributes

    def _start(self, tracer: Any) -> Run | None:
        try:
            parent = _get_current()
            attributes = self.attributes
            if self.stamps_persona:
                persona = parent.get(PERSONA_KEY)
                if persona is not None:
                    attributes = self._with_persona(persona)
            start = time_ns()
            span = tracer.start_span(self.span_name, parent, self.span_kind, attributes, (), start)
        except Exception as exc:
            _internal(exc, f"{self.kind}.start")
            return None
        try:
            run = self.run_class(self, span, parent, _set_span_in_context(span, parent), start)
            if self.has_on_start:
                run.context = self.on_start(run, parent)
            return run
        except Exception as exc:
            with contextlib.suppress(Exception):
                span.end()
            _internal(exc, f"{self.kind}.start")
            return None

    def end(self, run: Run, exc: BaseException | None) -> None:
        """End a run exactly once: status, metrics, span end (even if the metrics fail)."""
        try:
            end = time_ns()
            span = run.span
            if exc is None:
                status, error = _OK, None
            elif isinstance(exc, GeneratorExit):
                status, error = n.STATUS_OK, None
                span.set_attribute(n.GENERATOR_CLOSED, True)
            elif isinstance(exc, SystemExit) and exc.code in (0, None):
                status, error = _OK, None  # sys.exit(0): the program ends as it should
            else:
                error = error_type(exc)
                cancelled = error.endswith("CancelledError")  # asyncio's, concurrent's
                status = n.STATUS_CANCELLED if cancelled else n.STATUS_ERROR
                span.set_attributes({n.ERROR_TYPE: error, n.STATUS: status})
                span.set_status(
                    Status(StatusCode.ERROR, status if cancelled else _message(exc, error))
                )
                if not cancelled:
                    span.record_exception(exc, escaped=True)
            try:
                self.on_end(run, (end - run.start) / 1e9, status, error)
            finally:
                span.end(end)
                # The run's context may hold the run itself (``with`` blocks, LLM calls): drop
                # it so the run is freed now, by reference counting, not by the cyclic GC.
                run.context = None
        except Exception as internal:
            _internal(internal, f"{self.kind}.end")

    # --- with / async with ---

    def __enter__(self) -> Any:
        run = self.start()
        if run is None:
            return NOOP_RUN
        run.context = _set_value(RUN_KEY, run, run.context)
        run.token = _attach(run.context)
        self.runs.append(run)
        return run

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        run = self._exiting()
        if run is None:
            return
        _detach(run.token)
        self.end(run, exc)

    def _exiting(self) -> Run | None:
        """The run this ``__exit__`` closes: the one the current context holds, else (a block
        whose context was replaced inside it) this scope's most recent one."""
        runs = self.runs
        if not runs:
            return None
        run: Any = _get_current().get(RUN_KEY)
        if run is None or run.scope is not self:
            run = runs[-1]
        with contextlib.suppress(ValueError):  # another thread removed it first
            runs.remove(run)
        return run  # type: ignore[no-any-return]

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator ---

    def __call__(self, fn: F) -> F:
        # Decoration happens once, at import: a mistake here fails loudly now rather than
        # silently changing what every call returns later.
        if inspect.isclass(fn):
            raise TypeError(
                f"agentobs.{type(self).__name__}(...) decorates functions and methods, not "
                f"the class {fn.__qualname__}: decorate its methods instead"
            )
        if not callable(fn):
            raise TypeError(
                f"agentobs.{type(self).__name__}(...) decorates functions; got a "
                f"{type(fn).__name__}. Use it as @agentobs.{type(self).__name__}, "
                f"@agentobs.{type(self).__name__}(name) or "
                f"`with agentobs.{type(self).__name__}(name):`"
            )
        # An instance whose __call__ is async or a generator is wrapped as such.
        call = getattr(fn, "__call__", None)  # noqa: B004 - the method itself, not callable()
        if inspect.isasyncgenfunction(fn) or inspect.isasyncgenfunction(call):
            wrapper: Callable[..., Any] = self._wrap_async_generator(fn)
        elif inspect.isgeneratorfunction(fn) or inspect.isgeneratorfunction(call):
            wrapper = self._wrap_generator(fn)
        elif inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call):
            wrapper = self._wrap_coroutine(fn)
        else:
            wrapper = self._wrap_function(fn)
        try:
            return cast(F, functools.wraps(fn)(wrapper))
        except Exception as exc:  # an object whose attributes cannot be read or copied
            _internal(exc, f"{self.kind}.decorate")
            return fn

    def _wrap_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        start, state = self._start, STATE

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = state.tracer
            if tracer is None:
                return fn(*args, **kwargs)
            run = start(tracer)
            if run is None:
                return fn(*args, **kwargs)
            return run.call(fn, args, kwargs)

        return wrapper

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = STATE.tracer
            if tracer is None:
                return await fn(*args, **kwargs)
            run = scope._start(tracer)
            if run is None:
                return await fn(*args, **kwargs)
            return await run.acall(fn, args, kwargs)

        return wrapper

    def _wrap_generator(self, fn: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Any]:
        scope = self

        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            tracer = STATE.tracer
            run = None if tracer is None else scope._start(tracer)
            if run is None:
                return (yield from fn(*args, **kwargs))
            # The span covers the generator's whole life; the context is attached only while
            # the generator's own code runs (between two yields), never while the consumer's.
            context = run.context
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                generator = fn(*args, **kwargs)
                while True:
                    token = _attach(context)
                    try:
                        if to_throw is not None:
                            item = generator.throw(to_throw)
                        else:
                            item = generator.send(to_send)
                    finally:
                        _detach(token)
                    to_send, to_throw = None, None
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        token = _attach(context)
                        try:
                            generator.close()
                        finally:
                            _detach(token)
                        raise
                    except BaseException as thrown:
                        to_throw = thrown
            except StopIteration as stop:
                scope.end(run, None)
                return stop.value
            except BaseException as exc:
                scope.end(run, exc)
                raise

        return wrapper

    def _wrap_async_generator(
        self, fn: Callable[..., AsyncGenerator[Any, Any]]
    ) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            tracer = STATE.tracer
            run = None if tracer is None else scope._start(tracer)
            context = None if run is None else run.context
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                generator = fn(*args, **kwargs)
                while True:
                    token = None if context is None else _attach(context)
                    try:
                        if to_throw is not None:
                            item = await generator.athrow(to_throw)
                        else:
                            item = await generator.asend(to_send)
                    finally:
                        if token is not None:
                            _detach(token)
                    to_send, to_throw = None, None
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        token = None if context is None else _attach(context)
                        try:
                            await generator.aclose()
                        finally:
                            if token is not None:
                                _detach(token)
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


def _message(exc: BaseException, error: str) -> str:
    """The span status description: ``str(exc)`` (bounded), or the type if that fails."""
    try:
        text = str(exc)
    except Exception:
        return error
    return text[:MAX_VALUE] if type(text) is str else error


def _internal(exc: Exception, where: str) -> None:
    with internal_errors(where):
        raise exc
