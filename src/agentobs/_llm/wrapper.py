"""``agentobs.llm``: the span, metrics, cost and budget accounting of one model call.

``llm(provider=..., model=..., operation="chat")`` is a decorator and a (async) context
manager like every other scope. The span is ``{operation} {model}``, kind CLIENT, with the
GenAI request and response attributes. Usage is read from the return value when it has a
known shape (see :mod:`agentobs._llm.usage`), or given with ``call.record_usage(...)``. A returned
stream (iterator or async iterator; a decorated generator function) is wrapped so the call
ends when the stream does, with its time to first chunk and the usage of its last chunks.

The OpenAI and Anthropic integrations use the same machinery through :func:`begin`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from time import time_ns
from typing import Any, ClassVar, cast

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from .. import _names as n
from .._context import BUDGETS_KEY
from .._engine import NO_RESULT, NOOP_RUN, Run, Scope, clean_attributes, clean_name
from .._errors import internal_errors, warn_once
from .._state import STATE
from . import content as _content
from . import cost as _cost
from .accounting import account
from .budget import TokenBudget, iter_refusals
from .streams import ASYNC_STREAM, SYNC_STREAM, AsyncLLMStream, LLMStream, stream_kind
from .usage import Response, StreamState, Usage, from_result

LLM_RUN_KEY = otel_context.create_key("agentobs.llm_run")
"""The LLM call the current code runs inside (set while an ``llm`` run is current)."""

DEFAULT_MAX_CONTENT = 16384
_attach = otel_context.attach
_detach = otel_context.detach
_set_value = otel_context.set_value


class LLMRun(Run):
    """The handle of one LLM call: ``record_usage``, ``record_response``, ``record_input``."""

    __slots__ = (
        "budgets",
        "capture",
        "children_counted",
        "explicit",
        "first_chunk",
        "hold_usage_chunk",
        "outer",
        "output",
        "response",
        "server",
        "stream",
        "stream_end",
        "usage",
    )

    def __init__(self, scope: Scope, span: Any, parent: Any, context: Any, start: int) -> None:
        # Run.__init__'s assignments, inlined (this runs once per model call)
        self.scope = scope
        self.span = span
        self.parent = parent
        self.context = context
        self.start = start
        self.token: Any = None
        self.state: Any = None
        self.result: Any = NO_RESULT
        self.usage: Usage | None = None
        self.explicit = False
        self.response: Response | None = None
        self.output: Any = None
        self.stream: StreamState | None = None
        self.stream_end: str | None = None
        self.first_chunk: int | None = None
        self.capture = False
        self.hold_usage_chunk = False
        self.budgets: tuple[TokenBudget, ...] = ()
        self.outer: LLMRun | None = None
        self.children_counted = False
        self.server: tuple[Any, Any] | None = None

    # --- what the user's code reports ---

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Report the call's token usage (adds up when called more than once).

        ``input_tokens`` is all input, cached included; ``output_tokens`` all output,
        reasoning included. ``cost_usd`` is a cost the provider reported, if any.
        Reported usage replaces what would be read from the return value.
        """
        with internal_errors("llm.record_usage"):
            reported = Usage(
                _count(input_tokens, "input_tokens"),
                _count(output_tokens, "output_tokens"),
                _count(cache_read_input_tokens, "cache_read_input_tokens"),
                _count(cache_creation_input_tokens, "cache_creation_input_tokens"),
                _count(reasoning_output_tokens, "reasoning_output_tokens"),
                _cost_usd(cost_usd),
            )
            self.usage = (
                reported if not self.explicit or self.usage is None else (self.usage.plus(reported))
            )
            self.explicit = True

    def record_response(self, response: Any) -> None:
        """Read usage, model, id and finish reasons from a response object or dict."""
        with internal_errors("llm.record_response"):
            self.take(response)

    def record_input(self, messages: Any, system: Any = None) -> None:
        """Record the prompt (chat messages, and system instructions) if content is captured."""
        if self.capture:
            with internal_errors("llm.record_input"):
                _set_input(self, _content.input_messages(messages), system)

    # --- engine side ---

    def take(self, result: Any) -> None:
        """Remember what a (non-stream) result says."""
        found = from_result(result)
        if found is not None:
            self.response = found
        if self.capture:
            self.output = _content.output_messages(result) or None

    def on_chunk(self, chunk: Any) -> bool:
        """A stream chunk went by (see :class:`~agentobs._llm.streams.StreamOwner`)."""
        if self.first_chunk is None:
            self.first_chunk = time_ns()
        state = self.stream
        if state is not None:
            state.add(chunk)
            if self.hold_usage_chunk and not getattr(chunk, "choices", True):
                return getattr(chunk, "usage", None) is not None
        return False

    def finish_stream(self, exc: BaseException | None, how: str) -> None:
        """The stream ended: end the call (exactly once; see ``_streams``)."""
        self.stream_end = how
        state = self.stream
        if state is not None:
            self.response = state.response()
            if self.capture and state.text:
                self.output = _content.streamed_output("".join(state.text), state.finish_reasons)
        self.scope.end(self, exc)

    def finish(self, result: Any) -> Any:
        """End the call with ``result``, or wrap ``result`` if it is a stream (then the call
        ends with the stream). Returns what the caller should receive."""
        try:
            kind = stream_kind(result)
            if kind == SYNC_STREAM:
                self.stream = StreamState(self.capture)
                return LLMStream(result, self)
            if kind == ASYNC_STREAM:
                self.stream = StreamState(self.capture)
                return AsyncLLMStream(result, self)
            self.take(result)
        except Exception as exc:
            with internal_errors("llm.finish"):
                raise exc
        self.scope.end(self, None)
        return result

    def fail(self, exc: BaseException) -> None:
        """End the call with the exception the model call raised."""
        self.scope.end(self, exc)


def _count(value: Any, field: str) -> int | None:
    """A token count, or None with one warning per field (and type) when it is not one."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        warn_once(
            f"usage-type:{field}:{type(value).__name__}",
            "agentobs: record_usage(%s=%r): not a number of tokens >= 0; this count is "
            "ignored (the call's other counts are kept)",
            field,
            value,
        )
        return None
    return int(value)


def _cost_usd(value: Any) -> float | None:
    """A reported cost in USD, or None with one warning when it is not one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        warn_once(
            f"usage-cost:{type(value).__name__}",
            "agentobs: record_usage(cost_usd=%r): not a number of USD >= 0; ignored",
            value,
        )
        return None
    return float(value) if math.isfinite(value) else None


def _set_input(run: LLMRun, messages: list[dict[str, Any]], system: Any) -> None:
    limit = getattr(STATE.settings, "max_content_size", DEFAULT_MAX_CONTENT)
    attributes: dict[str, Any] = {}
    truncated = False
    if messages:
        attributes[n.INPUT_MESSAGES], cut = _content.encode(messages, limit)
        truncated = truncated or cut
    if system:
        instructions = _content.system_instructions(system)
        attributes[n.SYSTEM_INSTRUCTIONS], cut = _content.encode(instructions, limit)
        truncated = truncated or cut
    if truncated:
        attributes[n.CONTENT_TRUNCATED] = True
    run.span.set_attributes(attributes)


def capture_enabled(requested: bool | None) -> bool:
    """Whether content is captured: never under the hard off switch; else as requested,
    else as configured (off by default)."""
    settings = STATE.settings
    if settings is None or getattr(settings, "content_hard_off", False):
        return False
    if requested is not None:
        return requested
    return bool(getattr(settings, "capture_content", False))


class llm(Scope):
    """One call to a model: a ``{operation} {model}`` span (kind CLIENT), GenAI metrics,
    tokens, cost and budget accounting.

    Args:
        provider: ``gen_ai.provider.name`` (``openai``, ``anthropic``, ``gcp.gemini``...);
            read from the response when not given.
        model: the requested model (``gen_ai.request.model``), which prices the call.
        operation: ``chat`` (default), ``text_completion``, ``embeddings``...
        capture_content: record prompt and completion for this call (default: as
            configured; never under ``AGENTOBS_DISABLE_CONTENT_CAPTURE``).

    ``with agentobs.llm(model="m") as call:`` yields a handle with ``record_usage(...)``,
    ``record_response(resp)`` and ``record_input(messages)``. As a decorator, usage is read
    from the return value; a returned stream ends the call when it ends. With a token budget
    of policy ``raise`` spent, the call raises :class:`agentobs.BudgetExceededError` before
    the function runs.
    """

    kind: ClassVar[str] = "llm"
    span_kind: ClassVar[SpanKind] = SpanKind.CLIENT
    run_class: ClassVar[type[Run]] = LLMRun
    __slots__ = ("_capture", "capture_content", "model", "operation", "provider")

    def __init__(
        self,
        *,
        provider: str | None = None,
        model: str | None = None,
        operation: str = "chat",
        capture_content: bool | None = None,
        **attributes: Any,
    ) -> None:
        self.operation = clean_name(operation, "llm operation")
        self.model = None if model is None else clean_name(model, "model")
        self.provider = None if provider is None else clean_name(provider, "provider")
        self.capture_content = capture_content
        self._capture: tuple[Any, bool] = (None, False)  # (settings, capture_enabled(...))
        super().__init__(self.model or self.operation, {})
        self.span_name = f"{self.operation} {self.model}" if self.model else self.operation
        self.attributes = clean_attributes(
            {
                **attributes,
                n.OPERATION: self.operation,
                n.PROVIDER: self.provider,
                n.REQUEST_MODEL: self.model,
                n.SPAN_TYPE: "llm",
            }
        )

    @classmethod
    def bare(cls, fn: Callable[..., Any]) -> Scope:
        """``@agentobs.llm`` without parentheses: provider and model from the response."""
        return cls()

    def on_start(self, run: Run, parent: Any) -> Any:
        run = cast(LLMRun, run)
        if _cost._warm_thread is None:
            _cost.warm()
        capture = self._capture
        settings = STATE.settings
        if capture[0] is not settings:  # worked out once per configuration
            capture = self._capture = (settings, capture_enabled(self.capture_content))
        run.capture = capture[1]
        budgets = parent.get(BUDGETS_KEY)  # the budgets in force, outermost first
        if budgets:
            run.budgets = budgets
            run.span.set_attribute(n.BUDGET_NAME, budgets[-1].name or "budget")
        outer = parent.get(LLM_RUN_KEY)
        if outer is not None:
            run.outer = outer
        return _set_value(LLM_RUN_KEY, run, run.context)

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        account(self, cast(LLMRun, run), seconds, error)

    # --- refusals by spent budgets ---

    def refuse(self, run: LLMRun) -> None:
        """Raise BudgetExceededError (after ending the run with it) if a budget says so."""
        if not run.budgets:
            return
        for refusal in iter_refusals(run.budgets):
            self.end(run, refusal)
            raise refusal

    # --- with / async with ---

    def __enter__(self) -> Any:
        run = super().__enter__()
        if run is NOOP_RUN or not isinstance(run, LLMRun) or not run.budgets:
            return run
        for refusal in iter_refusals(run.budgets):
            self.__exit__(type(refusal), refusal, None)
            raise refusal
        return run

    # --- decorator ---

    def _wrap_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope, start, state = self, self._start, STATE

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = state.tracer
            if tracer is None:
                return fn(*args, **kwargs)
            run = cast("LLMRun | None", start(tracer))
            if run is None:
                return fn(*args, **kwargs)
            if run.budgets:
                scope.refuse(run)
            token = _attach(run.context)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _detach(token)
                scope.end(run, exc)
                raise
            _detach(token)
            return run.finish(result)

        return wrapper

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = scope.start() if STATE.tracer is not None else None
            if run is None:
                return await fn(*args, **kwargs)
            assert isinstance(run, LLMRun)
            scope.refuse(run)
            token = _attach(run.context)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _detach(token)
                scope.end(run, exc)
                raise
            _detach(token)
            return run.finish(result)

        return wrapper

    def _wrap_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap_stream(fn, LLMStream)

    def _wrap_async_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap_stream(fn, AsyncLLMStream)

    def _wrap_stream(self, fn: Callable[..., Any], proxy: Callable[..., Any]) -> Callable[..., Any]:
        """A (async) generator function: the call ends when the stream it returns does."""
        scope = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = scope.start() if STATE.tracer is not None else None
            if run is None:
                return fn(*args, **kwargs)
            assert isinstance(run, LLMRun)
            scope.refuse(run)
            try:
                generator = fn(*args, **kwargs)
            except BaseException as exc:
                scope.end(run, exc)
                raise
            run.stream = StreamState(run.capture)
            return proxy(generator, run, run.context)

        return wrapper


# --- for the integrations ---

_scopes: dict[tuple[str | None, str | None, str], llm] = {}


def call_scope(provider: str | None, model: Any, operation: str = "chat") -> llm:
    """A (cached) ``llm`` scope for calls of ``model`` through ``provider``."""
    model_name = model if isinstance(model, str) and model else None
    key = (provider, model_name, operation)
    scope = _scopes.get(key)
    if scope is None:
        scope = llm(provider=provider, model=model_name, operation=operation)
        if len(_scopes) < 512:
            _scopes[key] = scope
    return scope


def begin(
    scope: llm,
    attributes: dict[str, Any],
    content: Callable[[], tuple[Any, Any]] | None = None,
) -> LLMRun | None:
    """Start a call of ``scope`` with request ``attributes``; ``content()`` gives the input
    messages and system instructions (only called when content is captured). Raises
    BudgetExceededError when a spent ``raise`` budget is in force. None when not recording."""
    if STATE.tracer is None:
        return None
    run = scope.start()
    if not isinstance(run, LLMRun):
        return None
    with internal_errors("llm.begin"):
        if attributes:
            run.span.set_attributes(attributes)
            address = attributes.get(n.SERVER_ADDRESS)
            if address is not None:
                run.server = (address, attributes.get(n.SERVER_PORT))
        if content is not None and run.capture:
            messages, system = content()
            _set_input(run, _content.input_messages(messages), system)
    scope.refuse(run)
    return run


def current_run() -> LLMRun | None:
    """The LLM call the current code runs inside, if any."""
    run = otel_context.get_value(LLM_RUN_KEY)
    return run if isinstance(run, LLMRun) else None


__all__ = ["LLMRun", "begin", "call_scope", "capture_enabled", "current_run", "llm"]
