"""What happens when an LLM call ends: response and usage attributes, cost, metrics, budgets.

Called by :meth:`agentobs._llm.wrapper.llm.on_end`, while the call's span is still open. What
depends only on the kind of call (operation, provider, models, server, persona, workflow) is worked
out once per configuration and kept in a :class:`Plan`: the bound record function and cleaned
attributes of each metric (``Recorder.bind``) and the call's price. A call then costs one
``set_attributes``, three histogram measurements (duration, input and output tokens), a few
in-process counter adds and a few float operations for the cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

from .. import _catalogue as cat
from .. import _names as n
from .._context import PERSONA_KEY, WORKFLOW_KEY
from .._errors import warn_once
from .._state import STATE
from . import content as _content
from . import cost as _cost
from .budget import BudgetExceededError, iter_refusals, record_breach, record_refusal
from .run import content_limit

REFUSED = f"{BudgetExceededError.__module__}.{BudgetExceededError.__qualname__}"
"""The ``error.type`` of a call a spent budget refused."""

if TYPE_CHECKING:
    from .run import LLMRun
    from .usage import Usage


class CallKind(Protocol):
    """What accounting reads of the ``llm`` scope of a call."""

    provider: str | None
    model: str | None
    operation: str


_EXTRA_TOKEN_TYPES = (
    ("cache_read", "cache_read_input_tokens", n.USAGE_CACHE_READ),
    ("cache_creation", "cache_creation_input_tokens", n.USAGE_CACHE_CREATION),
    ("reasoning", "reasoning_output_tokens", n.USAGE_REASONING),
)
"""Token types that are parts of the input or output totals: recorded only when non-zero."""
_PLAN_LIMIT = 4096

Bound = tuple[Callable[..., None], Any]
Labels = tuple[tuple[str, Any], ...]
PlanKey = tuple[str, Any, Any, Any, Any, Any, Any]

# What a plan records, by kind: (metric, whether its labels are the GenAI ``base`` or the
# agentobs ``labels``, whether the workflow is one of them, the extra label's key).
_DURATION = cat.CLIENT_OPERATION_DURATION.name
_SPECS: dict[str, tuple[str, bool, bool, str | None]] = {
    "duration": (_DURATION, True, False, n.ERROR_TYPE),
    "ttfc": (cat.CLIENT_OPERATION_TIME_TO_FIRST_CHUNK.name, True, False, None),
    "usage": (cat.CLIENT_TOKEN_USAGE.name, True, False, n.TOKEN_TYPE),
    "tokens": (cat.TOKENS.name, False, True, n.TOKEN_TYPE),
    "cost": (cat.COST.name, False, True, n.COST_SOURCE),
    "unpriced_calls": (cat.COST_UNPRICED_CALLS.name, False, False, None),
    "unpriced_tokens": (cat.COST_UNPRICED_TOKENS.name, False, False, n.TOKEN_TYPE),
}
_OK = ("duration", None)
_TTFC = ("ttfc", None)
_USAGE_INPUT = ("usage", "input")
_USAGE_OUTPUT = ("usage", "output")
_TOKENS_INPUT = ("tokens", "input")
_TOKENS_OUTPUT = ("tokens", "output")
_UNPRICED_CALLS = ("unpriced_calls", None)


def _no_record(*_args: Any) -> None:
    return None


_NO_RECORD: Bound = (_no_record, None)


class Plan:
    """The metric records and the price of one kind of LLM call, for one configuration."""

    __slots__ = ("base", "labels", "price", "price_until", "recorders", "records", "workflow")

    def __init__(self, key: PlanKey, recorders: dict[str, Any] | None) -> None:
        operation, provider, model, response_model, server, persona, workflow = key
        self.base: Labels = (
            (n.OPERATION, operation),
            (n.PROVIDER, provider),
            (n.REQUEST_MODEL, model),
            (n.RESPONSE_MODEL, response_model),
            (n.SERVER_ADDRESS, server[0] if server else None),
            (n.SERVER_PORT, server[1] if server else None),
            (n.PERSONA_NAME, persona),
        )
        self.labels: Labels = (
            (n.REQUEST_MODEL, model),
            (n.PROVIDER, provider),
            (n.PERSONA_NAME, persona),
        )
        self.workflow = (n.WORKFLOW_NAME, workflow)
        self.recorders = recorders
        self.records: dict[Hashable, Bound] = {}
        self.price: _cost.Pricing | None = None
        self.price_until = 0.0

    def record(self, which: tuple[str, Any], value: float, context: Any) -> None:
        """Record ``value`` into the metric ``which`` names (bound on first use)."""
        bound = self.records.get(which)
        if bound is None:
            bound = self._bind(which)
        bound[0](value, bound[1], context)

    def _bind(self, which: tuple[str, Any]) -> Bound:
        recorders = self.recorders
        if recorders is None:
            return _NO_RECORD
        kind, value = which
        name, genai, with_workflow, extra = _SPECS[kind]
        labels = dict(self.base if genai else self.labels)
        if with_workflow:
            labels[n.WORKFLOW_NAME] = self.workflow[1]
        if extra is not None:
            labels[extra] = value
        bound: Bound = recorders[name].bind(labels)
        self.records[which] = bound
        return bound

    def pricing(
        self, provider: str | None, request_model: str | None, response_model: str | None
    ) -> _cost.Pricing:
        """What prices these calls (looked up again every ``PRICING_TTL`` seconds)."""
        now = monotonic()
        price = self.price
        if price is None or now >= self.price_until:
            price = _cost.pricing(provider, request_model, response_model)
            if price[1] == _cost.SOURCE_PENDING:
                return price  # the table is loading: asked again next time
            self.price = price
            self.price_until = now + _cost.PRICING_TTL
        return price


_plans: dict[PlanKey, Plan] = {}
_plans_owner: list[Any] = [None]
_plans_lock = threading.Lock()


def plan_for(key: PlanKey) -> Plan:
    """The plan of calls described by ``key``, for the current configuration."""
    recorders = STATE.recorders
    if _plans_owner[0] is not recorders:
        with _plans_lock:
            _plans.clear()
            _plans_owner[0] = recorders
    plan = _plans.get(key)
    if plan is None:
        plan = Plan(key, recorders)
        if recorders is not None and len(_plans) < _PLAN_LIMIT:
            _plans[key] = plan
    return plan


def account(scope: CallKind, run: LLMRun, seconds: float, error: str | None) -> None:
    """Finish the span attributes and record the metrics of the call ``run`` of ``scope``."""
    span = run.span
    if error == REFUSED and run.budgets:
        # Never sent: a refusal, not an LLM call, an error of the model, or a duration.
        persona = run.parent.get(PERSONA_KEY)
        for refusal in iter_refusals(run.budgets):
            record_refusal(refusal, span, None if persona is None else persona.name)
            return
    response = run.response
    attributes: dict[str, Any] = {}
    provider = scope.provider
    response_model = None
    if response is not None:
        response_model = response.model
        if provider is None and response.provider:
            provider = response.provider
            attributes[n.PROVIDER] = provider
        if response_model:
            attributes[n.RESPONSE_MODEL] = response_model
        if response.id:
            attributes[n.RESPONSE_ID] = response.id
        if response.finish_reasons:
            attributes[n.RESPONSE_FINISH_REASONS] = response.finish_reasons
    model = scope.model or response_model
    if run.explicit:
        usage = run.usage
    elif run.children_counted:
        usage = None  # the nested calls counted it (e.g. an instrumented client inside)
    else:
        usage = None if response is None else response.usage
    if run.stream is not None:
        attributes[n.REQUEST_STREAM] = True
        if run.stream_end:
            attributes[n.STREAM_END] = run.stream_end
    if run.output:
        limit = content_limit()
        attributes[n.OUTPUT_MESSAGES], truncated = _content.encode(run.output, limit)
        if truncated:
            attributes[n.CONTENT_TRUNCATED] = True

    parent = run.parent
    persona = parent.get(PERSONA_KEY)
    flow = parent.get(WORKFLOW_KEY)
    plan = plan_for(
        (
            scope.operation,
            provider,
            model,
            response_model,
            run.server,
            None if persona is None else persona.name,
            None if flow is None else flow.name,
        )
    )
    plan.record(_OK if error is None else ("duration", error), seconds, parent)
    if run.first_chunk is not None:
        delay = (run.first_chunk - run.start) / 1e9
        attributes[n.TIME_TO_FIRST_CHUNK] = delay
        plan.record(_TTFC, delay, parent)

    breaches = []
    if usage is not None and usage.known:
        _record_tokens(plan, usage, attributes, parent)
        usd = usage.cost_usd
        if usd is not None:
            source: str | None = _cost.SOURCE_PROVIDER
        else:
            rates, source, _priced = plan.pricing(provider, scope.model, response_model)
            usd = None if rates is None else rates.cost(usage)
        if source == _cost.SOURCE_PENDING:  # priced once the table has loaded
            attributes[n.COST_PENDING] = True
            pending = _Pending(plan, (provider, scope.model, response_model), usage, parent)
            pending.budgets = run.budgets
            _cost.when_ready(pending.price)
        else:
            _record_cost(plan, usage, usd, source, parent, attributes)
        for budget in run.budgets:
            breaches += budget.charge(usage.total_tokens, usd)
        if run.outer is not None:
            run.outer.children_counted = True
    elif error is None and not run.children_counted:
        attributes[n.USAGE_MISSING] = True
        warn_once(
            f"usage-missing:{model}",
            "agentobs: an LLM call of model %r reported no token usage; its tokens and cost "
            "are unknown (agentobs.usage.missing)",
            model,
        )
    span.set_attributes(attributes)
    for breach in breaches:
        record_breach(breach, span)


def _record_cost(
    plan: Plan,
    usage: Usage,
    usd: float | None,
    source: str | None,
    context: Any,
    attributes: dict[str, Any],
) -> None:
    if usd is not None:
        attributes[n.COST_USD] = usd
        attributes[n.COST_SOURCE] = source
        plan.record(("cost", source), usd, context)
        return
    attributes[n.COST_UNPRICED] = True
    plan.record(_UNPRICED_CALLS, 1, context)
    for token_type, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
        if count:
            plan.record(("unpriced_tokens", token_type), count, context)


class _Pending:
    """The cost of a call that ended before the price table loaded, recorded once it has
    (its metrics, and its budgets' cost; the span, ended, says ``agentobs.cost.pending``)."""

    __slots__ = ("budgets", "context", "models", "plan", "usage")

    def __init__(self, plan: Plan, models: Any, usage: Usage, context: Any) -> None:
        self.plan = plan
        self.models = models
        self.usage = usage
        self.context = context
        self.budgets: tuple[Any, ...] = ()

    def price(self) -> None:
        rates, source, _model = self.plan.pricing(*self.models)
        usd = None if rates is None else rates.cost(self.usage)
        _record_cost(self.plan, self.usage, usd, source, self.context, {})
        for budget in self.budgets:
            for breach in budget.charge(0, usd):
                record_breach(breach, None)


def _record_tokens(plan: Plan, usage: Usage, attributes: dict[str, Any], context: Any) -> None:
    count = usage.input_tokens
    if count is not None:
        attributes[n.USAGE_INPUT] = count
        plan.record(_USAGE_INPUT, count, context)
        plan.record(_TOKENS_INPUT, count, context)
    count = usage.output_tokens
    if count is not None:
        attributes[n.USAGE_OUTPUT] = count
        plan.record(_USAGE_OUTPUT, count, context)
        plan.record(_TOKENS_OUTPUT, count, context)
    for token_type, field, key in _EXTRA_TOKEN_TYPES:
        count = getattr(usage, field)
        if count:  # parts of the totals: only when there are some
            attributes[key] = count
            plan.record(("tokens", token_type), count, context)


def account_usage(
    key: PlanKey, usage: Usage, span_cost: float | None, context: Any
) -> tuple[float | None, str | None]:
    """Record the agentobs token and cost counters of one call another instrumentation traced.

    ``key`` is the :func:`plan_for` key of the call; ``span_cost`` a cost the span reported
    itself (else the price table's). The ``gen_ai.client.*`` histograms are left to that
    instrumentation (recording them again would count the call twice in them). Returns the
    cost in USD (None when unpriced) and where it came from.
    """
    plan = plan_for(key)
    count = usage.input_tokens
    if count is not None:
        plan.record(_TOKENS_INPUT, count, context)
    count = usage.output_tokens
    if count is not None:
        plan.record(_TOKENS_OUTPUT, count, context)
    for token_type, field, _key in _EXTRA_TOKEN_TYPES:
        count = getattr(usage, field)
        if count:
            plan.record(("tokens", token_type), count, context)
    if span_cost is not None:
        usd: float | None = span_cost
        source: str | None = _cost.SOURCE_INSTRUMENTATION
    else:
        rates, source, _priced = plan.pricing(key[1], key[2], key[3])
        usd = None if rates is None else rates.cost(usage)
        if source == _cost.SOURCE_PENDING:  # priced once the table has loaded
            _cost.when_ready(_Pending(plan, (key[1], key[2], key[3]), usage, context).price)
            return None, source
    if usd is not None:
        plan.record(("cost", source), usd, context)
        return usd, source
    plan.record(_UNPRICED_CALLS, 1, context)
    for token_type, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
        if count:
            plan.record(("unpriced_tokens", token_type), count, context)
    return None, None
