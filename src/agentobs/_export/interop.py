"""Every GenAI span counts, whoever made it: the span processor for other instrumentations.

The OpenTelemetry contrib instrumentations (``opentelemetry-instrumentation-openai-v2``),
OpenInference's (LangChain/LangGraph, the OpenAI Agents SDK, ...) and frameworks with their own
OpenTelemetry output (Pydantic AI) emit a span per model call with its token usage.
:class:`GenAISpanProcessor`, added by ``configure()`` (``interop=True``, the default), gives
the spans they start inside an agentobs scope (a workflow, stage, persona, budget or test) what
agentobs's own LLM spans have:

* on start, the persona, workflow and stage in force (``agentobs.persona.name``,
  ``gen_ai.workflow.name``, ``agentobs.stage.name``), unless the span set them itself;
* on end, for a model call that carries usage (``gen_ai.usage.input_tokens`` /
  ``output_tokens``, or OpenInference's ``llm.token_count.prompt`` / ``completion``): the
  ``agentobs.tokens`` and ``agentobs.cost`` counters by persona, model and provider (the cost
  the span reports, else the price table's), every ``TokenBudget`` in force, and the tokens and
  cost of the enclosing pytest test (through :data:`CALL_HOOKS`).

Only model calls count: spans of agent runs, workflows and tools repeat the totals of the calls
inside them (Pydantic AI's ``invoke_agent``, OpenInference's ``AGENT`` and ``CHAIN`` spans), so
they are stamped but not counted.

**One call, counted once.** When agentobs's own LLM instrumentation (``instrument_openai``,
``instrument_anthropic`` or ``agentobs.llm``) and another one both trace a call, the innermost
span counts it, as with two nested ``agentobs.llm`` calls: another instrumentation's span
inside an agentobs LLM call counts, and the agentobs call then records no usage of its own;
one started around an agentobs LLM call is stamped but not counted. Some instrumentations
(OpenInference's LangChain one) do not make their span the current one, so the agentobs span
of the same call is its sibling, not its child: an agentobs LLM span that starts beside an
open span of another instrumentation (same parent), and has ended with the same input and
output tokens when that span ends, is the same call, and the agentobs span counts it. One
warning says so.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .. import _errors
from .. import _names as n
from .._context import BUDGETS_KEY, PERSONA_KEY, STAGE_KEY, WORKFLOW_KEY, PersonaInfo
from .._errors import warn_once
from .._state import INSTRUMENTATION_SCOPE

if TYPE_CHECKING:
    from .._llm.usage import Usage

CallHook = Callable[[ReadableSpan, "Usage", "float | None"], None]
CALL_HOOKS: list[CallHook] = []
"""Called as ``hook(span, usage, usd)`` for every call of another instrumentation that was
counted (the pytest plugin adds the call to the test the span belongs to)."""

BESIDE_LIMIT = 16
"""agentobs LLM calls remembered per open span of another instrumentation, as the possible
same call traced beside it (a model call span makes one request; retries make a few)."""

PENDING_LIMIT = 10_000
"""Spans of other instrumentations followed at once; one started beyond it is not followed
(counted in :attr:`GenAISpanProcessor.dropped`, one warning)."""

# Usage attributes, by convention: (input, output, cache read, cache write, reasoning).
_GENAI = (
    n.USAGE_INPUT,
    n.USAGE_OUTPUT,
    n.USAGE_CACHE_READ,
    n.USAGE_CACHE_CREATION,
    n.USAGE_REASONING,
)
_GENAI_OLD = ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens", None, None, None)
_OPENINFERENCE = (
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.prompt_details.cache_read",
    "llm.token_count.prompt_details.cache_write",
    "llm.token_count.completion_details.reasoning",
)
_USAGE_KEYS = frozenset(
    key for keys in (_GENAI, _OPENINFERENCE, _GENAI_OLD) for key in keys[:2] if key is not None
)
"""Any of these on a span: it may be a model call (a quick test before reading them)."""
_COSTS = ("gen_ai.usage.cost", "operation.cost", "llm.cost.total", n.COST_USD)
"""Where a span may say what its call cost, in USD (OpenLIT, Logfire/Pydantic AI,
OpenInference, agentobs)."""
_NOT_CALLS = frozenset(
    {"invoke_agent", "invoke_workflow", "create_agent", "execute_tool", "apply_guardrail"}
)
"""``gen_ai.operation.name`` values of spans that sum the calls inside them."""
_CALL_KINDS = frozenset({"LLM", "EMBEDDING"})
"""OpenInference span kinds that are model calls."""
_OPENINFERENCE_KIND = "openinference.span.kind"


class _Beside:
    """An agentobs LLM span that started beside (same parent as) followed spans: at most one
    of them may turn out to be the same call."""

    __slots__ = ("claimed", "span")

    def __init__(self, span: ReadableSpan) -> None:
        self.span = span
        self.claimed = False


class _Followed:
    """What an agentobs scope gave a span of another instrumentation when it started."""

    __slots__ = ("beside", "budgets", "flow", "outer", "parent", "persona", "run", "superseded")

    def __init__(
        self,
        persona: str | None,
        flow: str | None,
        budgets: tuple[Any, ...],
        outer: Any,
        run: Any,
    ) -> None:
        self.persona = persona
        self.flow = flow
        self.budgets = budgets
        self.outer = outer  # the span a budget breach is reported on (the enclosing one)
        self.parent: int = outer.get_span_context().span_id
        self.run = run  # the agentobs LLM call (LLMRun) it started inside, if any
        self.superseded = False  # one of agentobs's LLM calls started inside it
        self.beside: list[_Beside] = []  # agentobs LLM calls started beside it


def _internal_error(where: str, exc: Exception) -> None:
    """What :func:`agentobs._errors.internal_errors` does, for a plain ``try`` block."""
    if _errors.RAISE_INTERNAL_ERRORS:
        raise exc
    warn_once(
        f"internal:{where}:{type(exc).__name__}",
        "agentobs: internal error in %s (%s: %s); telemetry for this span is dropped",
        where,
        type(exc).__name__,
        exc,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def usage_of(attributes: Mapping[str, Any]) -> Usage | None:
    """The token usage a span reports (GenAI or OpenInference attributes), or None."""
    from .._llm.usage import Usage  # on the first span with usage, not at import

    for keys in (_GENAI, _OPENINFERENCE, _GENAI_OLD):
        inputs, outputs = _count(attributes.get(keys[0])), _count(attributes.get(keys[1]))
        if inputs is None and outputs is None:
            continue
        extra = [None if key is None else _count(attributes.get(key)) for key in keys[2:]]
        return Usage(inputs, outputs, *extra)
    return None


def _first(attributes: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _llm_run(context: Any) -> Any:
    """The agentobs LLM call in force in ``context``, or None. Its module is not imported for
    this: while nothing has imported it, no agentobs LLM call can have started."""
    run_module = sys.modules.get("agentobs._llm.run")
    return None if run_module is None else context.get(run_module.LLM_RUN_KEY)


def _same_call(beside: list[_Beside], usage: Usage) -> bool:
    """Claim the agentobs LLM call, among those that started beside a followed model call,
    that has ended with the same input and output tokens: it was the same call."""
    for candidate in beside:
        if candidate.claimed or candidate.span.end_time is None:
            continue
        ours = usage_of(candidate.span.attributes or {})
        if ours is not None and (ours.input_tokens, ours.output_tokens) == (
            usage.input_tokens,
            usage.output_tokens,
        ):
            candidate.claimed = True
            return True
    return False


class GenAISpanProcessor(SpanProcessor):
    """Stamps and counts the GenAI spans other instrumentations start in agentobs scopes."""

    def __init__(self) -> None:
        self._followed: dict[int, _Followed] = {}
        self._children: dict[int, dict[int, _Followed]] = {}  # the followed, by parent span id
        self._lock = threading.Lock()
        self.dropped = 0
        self.duplicates = 0

    # --- start: stamp, and remember the scope ---

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        # try/except rather than the internal_errors() context manager: this runs for every
        # span, and a try block costs nothing until something raises.
        try:
            scope = span.instrumentation_scope
            if scope is not None and scope.name == INSTRUMENTATION_SCOPE:  # one of ours
                if self._followed and span.attributes.get(n.SPAN_TYPE) == "llm":  # type: ignore[union-attr]
                    self._supersede(span, parent_context)
                return
            self._start(span, parent_context)
        except Exception as exc:
            _internal_error("interop span start", exc)

    def _start(self, span: Span, parent_context: Any) -> None:
        context = parent_context if parent_context is not None else otel_context.get_current()
        persona = context.get(PERSONA_KEY)
        flow = context.get(WORKFLOW_KEY)
        stage = context.get(STAGE_KEY)
        budgets: tuple[Any, ...] = context.get(BUDGETS_KEY) or ()  # type: ignore[assignment]
        outer = trace.get_current_span(context)
        in_scope = persona is not None or flow is not None or stage is not None or budgets
        if not span.is_recording() or not (in_scope or self._in_scope(outer)):
            return
        own = span.attributes or {}
        stamp: dict[str, Any] = {}
        if isinstance(persona, PersonaInfo):
            if n.PERSONA_NAME not in own:
                stamp[n.PERSONA_NAME] = persona.name
                if persona.chatmode is not None:
                    stamp[n.PERSONA_CHATMODE] = persona.chatmode
            persona_name: str | None = persona.name
        else:
            persona_name = None
        flow_name = getattr(flow, "name", None)
        if flow_name is not None and n.WORKFLOW_NAME not in own:
            stamp[n.WORKFLOW_NAME] = flow_name
        if stage is not None and n.STAGE_NAME not in own:
            stamp[n.STAGE_NAME] = stage
        if stamp:
            span.set_attributes(stamp)
        followed = _Followed(
            persona_name,
            flow_name,
            budgets,
            outer,
            _llm_run(context),
        )
        span_id = span.get_span_context().span_id
        with self._lock:
            if len(self._followed) >= PENDING_LIMIT:
                self.dropped += 1
                dropped = True
            else:
                self._followed[span_id] = followed
                if followed.parent:
                    self._children.setdefault(followed.parent, {})[span_id] = followed
                dropped = False
        if dropped:
            warn_once(
                "interop-pending",
                "agentobs: more than %d spans of other instrumentations are open at once; "
                "the ones beyond are not counted in agentobs's tokens, cost and budgets",
                PENDING_LIMIT,
            )

    def _in_scope(self, outer: Any) -> bool:
        """Whether the parent span is agentobs's (a test, say) or one we follow."""
        scope = getattr(outer, "instrumentation_scope", None)
        if scope is not None and scope.name == INSTRUMENTATION_SCOPE:
            return True
        return bool(self._followed) and outer.get_span_context().span_id in self._followed

    def _supersede(self, span: Span, parent_context: Any) -> None:
        """One of agentobs's LLM calls starts inside a followed span: that span is the same
        call traced twice (the other instrumentation patched the client outside ours). One
        that starts beside followed spans may be the same call as one of them (an
        instrumentation that does not make its span current): they learn of it, and
        :meth:`_end` decides."""
        context = parent_context if parent_context is not None else otel_context.get_current()
        parent = trace.get_current_span(context).get_span_context().span_id
        followed = self._followed.get(parent)
        if followed is not None:
            followed.superseded = True
            return
        with self._lock:
            siblings = list(self._children.get(parent, {}).values()) if parent else []
        if siblings:
            beside = _Beside(span)
            for sibling in siblings:
                if len(sibling.beside) < BESIDE_LIMIT:
                    sibling.beside.append(beside)

    # --- end: count the call ---

    def on_end(self, span: ReadableSpan) -> None:
        if not self._followed:
            return
        context = span.get_span_context()
        if context is None:
            return
        with self._lock:
            followed = self._followed.pop(context.span_id, None)
            if followed is not None and followed.parent:
                children = self._children.get(followed.parent)
                if children is not None:
                    children.pop(context.span_id, None)
                    if not children:
                        del self._children[followed.parent]
        if followed is None:
            return
        try:
            self._end(span, followed)
        except Exception as exc:
            _internal_error("interop span end", exc)

    def _end(self, span: ReadableSpan, followed: _Followed) -> None:
        attributes: Mapping[str, Any] = span.attributes or {}
        if _USAGE_KEYS.isdisjoint(attributes):
            return
        usage = usage_of(attributes)
        if usage is None:
            return
        operation = _first(attributes, n.OPERATION)
        if operation in _NOT_CALLS:
            return
        kind = attributes.get(_OPENINFERENCE_KIND)
        if kind is not None and kind not in _CALL_KINDS:
            return
        beside = False
        if followed.beside:
            with self._lock:  # two spans ending at once must not claim the same call
                beside = _same_call(followed.beside, usage)
        if followed.superseded or followed.run is not None or beside:
            scope = span.instrumentation_scope
            self.duplicates += 1
            warn_once(
                "interop-duplicate",
                "agentobs: a model call was traced by both agentobs's LLM instrumentation and "
                "%s; it is counted once (see 'One call, counted once' in docs/integrations.md)",
                scope.name if scope is not None else "another instrumentation",
            )
            if followed.superseded or beside:  # an agentobs LLM call inside or beside counted it
                return
            followed.run.children_counted = True  # the agentobs call around it does not
        provider = _first(attributes, n.PROVIDER, "gen_ai.system", "llm.provider", "llm.system")
        model = _first(attributes, n.REQUEST_MODEL, "llm.model_name")
        response_model = _first(attributes, n.RESPONSE_MODEL)
        span_cost = None
        for cost_key in _COSTS:
            span_cost = _number(attributes.get(cost_key))
            if span_cost is not None:
                break
        plan_key = (
            operation or "chat",
            provider,
            model,
            response_model,
            None,
            followed.persona,
            followed.flow,
        )
        # Imported on the first call counted, not with the processor: a run (a test suite,
        # say) that never sees another instrumentation's model call does not load them.
        from .._llm import accounting as _accounting
        from .._llm.budget import record_breach

        usd, _source = _accounting.account_usage(plan_key, usage, span_cost, None)
        breaches = []
        for budget in followed.budgets:
            breaches += budget.charge(usage.total_tokens, usd)
        for breach in breaches:
            record_breach(breach, followed.outer)
        for hook in CALL_HOOKS:
            hook(span, usage, usd)

    def shutdown(self) -> None:
        with self._lock:
            self._followed.clear()
            self._children.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
