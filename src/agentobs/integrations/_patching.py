"""What the client integrations share: reversible patches through the class, the traced
call for sync and async methods, and the request attributes they read."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry import context as otel_context

from .. import _names as n
from .._errors import internal_errors, logger
from .._llm.wrapper import LLMRun, begin, call_scope
from .._state import STATE

try:  # the key every OpenTelemetry instrumentation honours
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS
except ImportError:  # pragma: no cover - very old API
    _SUPPRESS = "suppress_instrumentation"


def suppressed() -> bool:
    """Whether instrumentation is suppressed here (e.g. inside an exporter)."""
    return bool(otel_context.get_value(_SUPPRESS))


@dataclass
class Patches:
    """The methods one integration replaced, to put back on ``uninstrument()``."""

    name: str
    applied: list[tuple[type, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.applied)

    def wrap(self, module: str, cls: str, method: str, wrapper: Callable[..., Any]) -> bool:
        """Wrap ``module.cls.method`` through the class (skipped if it does not exist)."""
        try:
            klass = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            logger.debug("agentobs: %s.%s not found; not instrumented", module, cls)
            return False
        if method not in vars(klass):
            return False
        original = vars(klass)[method]
        wrapt.wrap_function_wrapper(klass, method, wrapper)
        self.applied.append((klass, method, original))
        return True

    def replace(self, klass: type, name: str, value: Any) -> None:
        """Set ``klass.name`` to ``value`` (restored on undo)."""
        self.applied.append((klass, name, vars(klass)[name]))
        setattr(klass, name, value)

    def undo(self) -> None:
        """Put every original back (in reverse order)."""
        while self.applied:
            klass, method, original = self.applied.pop()
            setattr(klass, method, original)

    def uninstrument(self) -> None:
        """Undo the integration's ``instrument()`` (safe to call when not instrumented)."""
        with self.lock:
            self.undo()

    def instrumented(self) -> bool:
        """Whether the library is instrumented now."""
        return self.active


@dataclass
class Plan:
    """What one client call is, for its span: provider, model, request attributes, the
    content (called only when captured) and the keyword arguments to call with."""

    provider: str
    model: Any
    attributes: dict[str, Any]
    content: Callable[[], tuple[Any, Any]] | None
    kwargs: Mapping[str, Any]
    hold_usage_chunk: bool = False


def number(value: Any) -> int | float | None:
    """``value`` if it is a plain number (SDK sentinels such as ``NOT_GIVEN`` are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def request_attributes(kwargs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """GenAI request attributes from call keyword arguments (``names``: argument → key)."""
    attributes: dict[str, Any] = {}
    for argument, key in names.items():
        value = kwargs.get(argument)
        if key == n.REQUEST_STOP_SEQUENCES:
            if isinstance(value, str):
                attributes[key] = [value]
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                attributes[key] = list(value)
            continue
        found = number(value)
        if found is not None and not (key == n.REQUEST_CHOICE_COUNT and found == 1):
            attributes[key] = found
    if kwargs.get("stream") is True:
        attributes[n.REQUEST_STREAM] = True
    return attributes


def server_attributes(client: Any) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of an SDK client's base URL."""
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not isinstance(host, str) or not host:
        return {}
    port = getattr(url, "port", None)
    if not isinstance(port, int):
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return {n.SERVER_ADDRESS: host, n.SERVER_PORT: port}


def _start(plan: Plan) -> LLMRun | None:
    run = begin(call_scope(plan.provider, plan.model), plan.attributes, plan.content)
    if run is not None:
        run.hold_usage_chunk = plan.hold_usage_chunk
    return run


def traced(planner: Callable[[Any, Mapping[str, Any]], Plan | None]) -> Callable[..., Any]:
    """A wrapt wrapper for a sync method: one LLM span around the call (and its stream)."""

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if STATE.tracer is None or suppressed():
            return wrapped(*args, **kwargs)
        plan = None
        with internal_errors("integration.plan"):
            plan = planner(instance, kwargs)
        if plan is None:
            return wrapped(*args, **kwargs)
        run = _start(plan)  # raises BudgetExceededError when a spent budget says so
        if run is None:
            return wrapped(*args, **kwargs)
        return run.call(wrapped, args, plan.kwargs)

    return wrapper


def traced_async(planner: Callable[[Any, Mapping[str, Any]], Plan | None]) -> Callable[..., Any]:
    """A wrapt wrapper for an async method (the span starts when the call is awaited)."""

    async def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if STATE.tracer is None or suppressed():
            return await wrapped(*args, **kwargs)
        plan = None
        with internal_errors("integration.plan"):
            plan = planner(instance, kwargs)
        if plan is None:
            return await wrapped(*args, **kwargs)
        run = _start(plan)
        if run is None:
            return await wrapped(*args, **kwargs)
        return await run.acall(wrapped, args, plan.kwargs)

    return call
