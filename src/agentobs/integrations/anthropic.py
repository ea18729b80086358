"""Anthropic: one LLM span per Messages call, sync, async and streaming.

``agentobs.instrument_anthropic()`` patches, through the class, ``messages.create`` (with or
without ``stream=True``) and ``messages.stream(...)`` (the ``with ... as stream:`` helper:
the call starts when the block is entered and ends when the stream is read to its end, is
closed, fails or is dropped), sync and async. ``with_raw_response`` and
``with_streaming_response`` calls end when the body of the HTTP response they return has
been read, with its usage (see :mod:`agentobs._llm.bodies`). A second call changes nothing;
:func:`uninstrument` puts everything back. ``anthropic`` is imported here only when asked
for (``pip install 'agentobs[anthropic]'``).

Recent ``anthropic`` versions trace their own API calls with OpenTelemetry. Under agentobs's
span those would be a second LLM span for the same call, counting its tokens twice in
Phoenix and Langfuse, so while instrumented the SDK's own span is left out inside agentobs
LLM calls (``instrument_anthropic(keep_sdk_spans=True)`` keeps it, as a child).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context

from .. import _names as n
from .._errors import internal_errors, warn_once
from .._llm.run import LLM_RUN_KEY
from .._state import STATE
from ._patching import (
    Patches,
    Plan,
    _start,
    raw_response,
    request_attributes,
    server_attributes,
    suppressed,
    traced,
    traced_async,
)

_PATCHES = Patches("anthropic")
_MESSAGES = "anthropic.resources.messages.messages"
_PARAMETERS = {
    "max_tokens": n.REQUEST_MAX_TOKENS,
    "temperature": n.REQUEST_TEMPERATURE,
    "top_p": n.REQUEST_TOP_P,
    "top_k": n.REQUEST_TOP_K,
    "stop_sequences": n.REQUEST_STOP_SEQUENCES,
}
_SYNC_REQUEST = "_MessageStreamManager__api_request"
_ASYNC_REQUEST = "_AsyncMessageStreamManager__api_request"


def _plan(instance: Any, kwargs: Mapping[str, Any]) -> Plan:
    client = getattr(instance, "_client", None)
    attributes = {**server_attributes(client), **request_attributes(kwargs, _PARAMETERS)}
    messages, system = kwargs.get("messages"), kwargs.get("system")
    return Plan(
        "anthropic",
        kwargs.get("model"),
        attributes,
        lambda: (messages, system if isinstance(system, (str, list)) else None),
        kwargs,
        raw=raw_response(kwargs),
    )


def _stream_plan(instance: Any, kwargs: Mapping[str, Any]) -> Plan:
    plan = _plan(instance, kwargs)
    plan.attributes[n.REQUEST_STREAM] = True
    return plan


def _traced_stream(
    attribute: str, usable: Callable[[Any], bool], traced: Callable[[Plan, Any], Any]
) -> Callable[..., Any]:
    """A wrapt wrapper for ``messages.stream(...)`` (sync or async): the manager it returns
    makes its request (``attribute``) when entered; that request is replaced by
    ``traced(plan, request)`` when ``usable(request)``."""

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        manager = wrapped(*args, **kwargs)
        if STATE.tracer is None or suppressed():
            return manager
        with internal_errors("anthropic.stream"):
            plan = _stream_plan(instance, kwargs)
            request = getattr(manager, attribute, None)
            if usable(request):
                setattr(manager, attribute, traced(plan, request))
            else:
                warn_once("anthropic-stream", "agentobs: this anthropic version's "
                          "messages.stream() is not traced")  # fmt: skip
        return manager

    return wrapper


def _traced_request(plan: Plan, request: Any) -> Any:
    def traced_request() -> Any:
        run = _start(plan)
        if run is None:
            return request()
        return run.call(request, (), {})  # the raw stream comes back wrapped (finish())

    return traced_request


class _Awaiting:
    """An awaitable that starts the traced request only when awaited (so a manager that is
    never entered leaves no un-awaited coroutine of ours behind)."""

    def __init__(self, plan: Plan, request: Any) -> None:
        self.plan = plan
        self.request = request

    def __await__(self) -> Any:
        return self._run().__await__()

    async def _run(self) -> Any:
        request = self.request
        run = _start(self.plan)
        if run is None:
            return await request
        return await run.acall(lambda: request, (), {})


_stream = _traced_stream(_SYNC_REQUEST, callable, _traced_request)
"""``messages.stream(...)``: trace the request the manager makes when entered."""
_stream_async = _traced_stream(_ASYNC_REQUEST, lambda request: request is not None, _Awaiting)
"""``AsyncMessages.stream(...)``: the manager awaits its request when entered."""


def _quiet_sdk_spans() -> None:
    """Inside an agentobs LLM call, the client has no tracer of its own (no second span)."""
    try:
        from anthropic._base_client import BaseClient
    except ImportError:  # pragma: no cover - layout of another version
        return
    original = vars(BaseClient).get("_tracer")
    if not isinstance(original, property) or original.fget is None:
        return
    getter = original.fget

    def _tracer(self: Any) -> Any:
        if otel_context.get_value(LLM_RUN_KEY) is not None:
            return None
        return getter(self)

    _PATCHES.replace(BaseClient, "_tracer", property(_tracer, doc=original.__doc__))


def instrument(*, keep_sdk_spans: bool = False) -> bool:
    """Instrument the ``anthropic`` client library; False (one warning) if it is missing.

    Args:
        keep_sdk_spans: keep the spans the anthropic SDK makes of its own API calls inside
            agentobs LLM calls (they would duplicate agentobs's span and its tokens).
    """
    with _PATCHES.lock:
        if _PATCHES.active:
            return True
        try:
            import anthropic  # noqa: F401
        except ImportError:
            warn_once(
                "anthropic-missing",
                "agentobs: instrument_anthropic() needs the anthropic package: "
                "pip install 'agentobs[anthropic]'",
            )
            return False
        _PATCHES.wrap(_MESSAGES, "Messages", "create", traced(_plan))
        _PATCHES.wrap(_MESSAGES, "AsyncMessages", "create", traced_async(_plan))
        _PATCHES.wrap(_MESSAGES, "Messages", "stream", _stream)
        _PATCHES.wrap(_MESSAGES, "AsyncMessages", "stream", _stream_async)
        if _PATCHES.active and not keep_sdk_spans:
            _quiet_sdk_spans()
        return _PATCHES.active


uninstrument = _PATCHES.uninstrument
"""Undo :func:`instrument` (safe to call when not instrumented)."""

instrumented = _PATCHES.instrumented
"""Whether the anthropic library is instrumented now."""


instrument_anthropic = instrument
"""The same as :func:`instrument` (exported as ``agentobs.instrument_anthropic``)."""
