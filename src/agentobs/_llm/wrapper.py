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

from collections.abc import Callable
from typing import Any, ClassVar, cast

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from .. import _names as n
from .._context import BUDGETS_KEY
from .._engine import NOOP_RUN, Run, Scope, clean_attributes, clean_name
from .._errors import internal_errors
from .._state import STATE
from . import content as _content
from . import cost as _cost
from .accounting import account
from .budget import iter_refusals
from .run import LLM_RUN_KEY, LLMRun, set_input

_set_value = otel_context.set_value


def capture_enabled(requested: bool | None) -> bool:
    """Whether content is captured: never under the hard off switch; else as requested,
    else as configured (off by default)."""
    settings = STATE.settings
    if settings is None or settings.content_hard_off:
        return False
    if requested is not None:
        return requested
    return settings.capture_content


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
        _cost.warm()  # once per process; then a check of one global
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

    def _wrap_function(self, fn: Callable[..., Any], generator: bool = False) -> Callable[..., Any]:
        """``fn`` called by :meth:`Run.call`; the stream it returns (an iterator, or the
        generator of a ``generator`` function, whose own code then runs in the call's
        context) is wrapped, and the call ends with it (:meth:`LLMRun.finish`)."""
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
            if generator:
                run.stream_context = run.context
            return run.call(fn, args, kwargs)

        return wrapper

    def _wrap_coroutine(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        scope = self

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = scope.start() if STATE.tracer is not None else None
            if run is None:
                return await fn(*args, **kwargs)
            assert isinstance(run, LLMRun)
            scope.refuse(run)
            return await run.acall(fn, args, kwargs)

        return wrapper

    def _wrap_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap_function(fn, generator=True)

    def _wrap_async_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap_function(fn, generator=True)


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
            set_input(run, _content.input_messages(messages), system)
    scope.refuse(run)
    return run


def current_run() -> LLMRun | None:
    """The LLM call the current code runs inside, if any."""
    run = otel_context.get_value(LLM_RUN_KEY)
    return run if isinstance(run, LLMRun) else None


__all__ = ["LLMRun", "begin", "call_scope", "capture_enabled", "current_run", "llm"]
