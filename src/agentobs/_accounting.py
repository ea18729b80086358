"""What happens when an LLM call ends: response and usage attributes, cost, metrics, budgets.

Called by :meth:`agentobs._llm.llm.on_end`, while the call's span is still open. Metric
attributes are bound once per distinct label set (``Recorder.bind``), so a call costs three
histogram measurements (duration, input and output tokens) and a few in-process counter adds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _content, _cost
from . import _names as n
from ._budget import record_breach
from ._context import PERSONA_KEY, WORKFLOW_KEY
from ._errors import warn_once
from ._state import STATE

if TYPE_CHECKING:
    from ._llm import LLMRun, llm
    from ._usage import Usage

_TOKEN_TYPES = (
    ("input", "input_tokens", n.USAGE_INPUT),
    ("output", "output_tokens", n.USAGE_OUTPUT),
    ("cache_read", "cache_read_input_tokens", n.USAGE_CACHE_READ),
    ("cache_creation", "cache_creation_input_tokens", n.USAGE_CACHE_CREATION),
    ("reasoning", "reasoning_output_tokens", n.USAGE_REASONING),
)
_DEFAULT_MAX_CONTENT = 16384
_BOUND_LIMIT = 4096

Bound = tuple[Callable[..., None], Any]
_bound: dict[tuple[str, tuple[tuple[str, Any], ...]], Bound] = {}
_bound_owner: list[Any] = [None]
_bound_lock = threading.Lock()


def _metric(name: str, labels: tuple[tuple[str, Any], ...]) -> Bound | None:
    """The record function of metric ``name`` and its cleaned ``labels`` (cached per set)."""
    recorders = STATE.recorders
    if recorders is None:
        return None
    if _bound_owner[0] is not recorders:
        with _bound_lock:
            _bound.clear()
            _bound_owner[0] = recorders
    key = (name, labels)
    found = _bound.get(key)
    if found is None:
        found = recorders[name].bind(dict(labels))
        if len(_bound) < _BOUND_LIMIT:
            _bound[key] = found
    return found


def _record(name: str, labels: tuple[tuple[str, Any], ...], value: float) -> None:
    bound = _metric(name, labels)
    if bound is not None:
        bound[0](value, bound[1])


def account(scope: llm, run: LLMRun, seconds: float, error: str | None) -> None:
    """Finish the span attributes and record the metrics of the call ``run`` of ``scope``."""
    span = run.span
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
        limit = getattr(STATE.settings, "max_content_size", _DEFAULT_MAX_CONTENT)
        attributes[n.OUTPUT_MESSAGES], truncated = _content.encode(run.output, limit)
        if truncated:
            attributes[n.CONTENT_TRUNCATED] = True

    parent = run.parent
    persona_info = parent.get(PERSONA_KEY)
    persona = None if persona_info is None else persona_info.name
    server = run.server
    base = (
        (n.OPERATION, scope.operation),
        (n.PROVIDER, provider),
        (n.REQUEST_MODEL, model),
        (n.RESPONSE_MODEL, response_model),
        (n.SERVER_ADDRESS, server[0] if server else None),
        (n.SERVER_PORT, server[1] if server else None),
        (n.PERSONA_NAME, persona),
    )
    _record("gen_ai.client.operation.duration", (*base, (n.ERROR_TYPE, error)), seconds)
    if run.first_chunk is not None:
        delay = (run.first_chunk - run.start) / 1e9
        attributes[n.TIME_TO_FIRST_CHUNK] = delay
        _record("gen_ai.client.operation.time_to_first_chunk", base, delay)

    breaches = []
    if usage is not None and usage.known:
        flow = parent.get(WORKFLOW_KEY)
        labels = ((n.REQUEST_MODEL, model), (n.PROVIDER, provider), (n.PERSONA_NAME, persona))
        workflow = (n.WORKFLOW_NAME, None if flow is None else flow.name)
        _record_tokens(usage, attributes, base, labels, workflow)
        cost = _cost.cost_of(provider, scope.model, response_model, usage)
        if cost.usd is not None:
            attributes[n.COST_USD] = cost.usd
            attributes[n.COST_SOURCE] = cost.source
            _record("agentobs.cost", (*labels, workflow, (n.COST_SOURCE, cost.source)), cost.usd)
        else:
            attributes[n.COST_UNPRICED] = True
            _record("agentobs.cost.unpriced_calls", labels, 1)
            for token_type, count in (
                ("input", usage.input_tokens),
                ("output", usage.output_tokens),
            ):
                if count:
                    _record(
                        "agentobs.cost.unpriced_tokens",
                        (*labels, (n.TOKEN_TYPE, token_type)),
                        count,
                    )
        for budget in run.budgets:
            breaches += budget.charge(usage.total_tokens, cost.usd)
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


def _record_tokens(
    usage: Usage,
    attributes: dict[str, Any],
    base: tuple[tuple[str, Any], ...],
    labels: tuple[tuple[str, Any], ...],
    workflow: tuple[str, Any],
) -> None:
    for token_type, field, key in _TOKEN_TYPES:
        count = getattr(usage, field)
        if count is None:
            continue
        typed = (n.TOKEN_TYPE, token_type)
        if token_type == "input" or token_type == "output":
            _record("gen_ai.client.token.usage", (*base, typed), count)
        elif not count:
            continue  # parts of the totals: only when there are some
        attributes[key] = count
        _record("agentobs.tokens", (*labels, workflow, typed), count)
