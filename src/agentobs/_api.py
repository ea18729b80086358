"""The agent instrumentation API: workflow, stage, task, agent, tool, persona, quality gates,
human interventions, and attributes or events on the current span.

Each scope is a decorator, a ``with`` block and an ``async with`` block (see ``_engine``).

Span attributes: every span carries ``agentobs.span.type`` (what the report reads) and its
name under the GenAI or ``agentobs.`` key. ``openinference.span.kind`` is set only where
Phoenix cannot derive it from the GenAI names: agents and tools carry
``gen_ai.operation.name`` (``invoke_agent``, ``execute_tool``), from which it derives AGENT and
TOOL; workflows, stages, tasks and personas are CHAIN, gates EVALUATOR.
"""

from __future__ import annotations

import math
import threading
from typing import Any, ClassVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context

from . import _catalogue as cat
from . import _context as ctx
from . import _hooks, _recent
from . import _names as n
from ._engine import (
    NO_RESULT,
    Run,
    Scope,
    _internal,
    clean_attributes,
    clean_name,
    set_clean,
    timestamp,
)
from ._errors import internal_errors, warn_once
from ._state import STATE

_CHAIN = "CHAIN"
_OK = n.STATUS_OK
_TASKS = _recent.TASKS
MAX_REASON = 512

_set_value = otel_context.set_value
_get_current_span = trace.get_current_span
_PERSONA_KEY = ctx.PERSONA_KEY
_WORKFLOW_KEY = ctx.WORKFLOW_KEY
_AGENT_KEY = ctx.AGENT_KEY
_AGENT_SPAN_KEY = ctx.AGENT_SPAN_KEY
_STAGE_KEY = ctx.STAGE_KEY


def _record(name: str, value: float, attributes: dict[str, Any]) -> None:
    recorders = STATE.recorders
    if recorders is not None:
        recorders[name].record(value, attributes)


def _persona_name(context: Any) -> str | None:
    persona = context.get(_PERSONA_KEY)
    return persona.name if persona is not None else None


def _workflow(context: Any) -> ctx.WorkflowRun | None:
    run: ctx.WorkflowRun | None = context.get(_WORKFLOW_KEY)
    return run


def _workflow_name(context: Any) -> str | None:
    run = context.get(_WORKFLOW_KEY)
    return run.name if run is not None else None


class workflow(Scope):
    """A workflow run: an ``invoke_workflow {name}`` span, run and duration metrics, and the
    in-progress gauges that let a stuck workflow alert.

    ``name`` must be low-cardinality (it is a metric label); put run ids in ``attributes``.
    """

    kind: ClassVar[str] = "workflow"
    __slots__ = ("budget",)
    _METRICS = (cat.WORKFLOW_DURATION.name, cat.WORKFLOW_RUNS.name)

    def __init__(self, name: Any, *, budget: Any = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.budget = budget  # an agentobs.TokenBudget for the LLM calls inside
        self.span_name = f"invoke_workflow {self.name}"
        self.attributes = {
            **clean_attributes(attributes),
            n.OPERATION: "invoke_workflow",
            n.WORKFLOW_NAME: self.name,
            n.SPAN_TYPE: "workflow",
            n.OPENINFERENCE_KIND: _CHAIN,
            n.HUMAN_INTERVENED: False,  # set to True at the end of a run a human helped
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        run.state = ctx.start_workflow(self.name)  # counted in agentobs.workflow.active
        context = _set_value(_WORKFLOW_KEY, run.state, run.context)
        return context if self.budget is None else ctx.push_budget(context, self.budget, self.name)

    def _attributes(
        self, key: tuple[str, str | None, str | None, bool], metric: str
    ) -> dict[str, Any]:
        status, error, persona, intervened = key
        if metric == cat.WORKFLOW_RUNS.name:
            return {
                n.WORKFLOW_NAME: self.name,
                n.STATUS: status,
                n.PERSONA_NAME: persona,
                n.HUMAN_INTERVENED: "true" if intervened else "false",
            }
        return {n.WORKFLOW_NAME: self.name, n.ERROR_TYPE: error, n.PERSONA_NAME: persona}

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        if self.budget is not None:
            ctx.release_budget(run.context, run.parent)
        end_workflow_run(run, self.name, seconds, status, error, self)


def end_workflow_run(
    run: Run, name: str, seconds: float, status: str, error: str | None, scope: Any
) -> None:
    """Record the end of a workflow run (a ``workflow`` scope, or a ``resume`` that continued
    one): whether a human intervened on the span, then runs and duration. A run that took a
    checkpoint and ended without an error continues elsewhere: its status is ``suspended``
    and its duration is left to the run that finishes it."""
    flow: ctx.WorkflowRun = run.state
    ctx.end_workflow(flow)
    parent = run.parent
    intervened = flow.interventions > 0
    if intervened or scope.attributes.get(n.HUMAN_INTERVENED) is not False:
        run.span.set_attribute(n.HUMAN_INTERVENED, intervened)
    if flow.checkpointed and status == n.STATUS_OK:
        status = n.STATUS_SUSPENDED
    key = (status, error, _persona_name(parent), intervened)
    (duration, d_attrs), (runs, r_attrs) = scope.metrics(key, workflow._METRICS, scope._attributes)
    if status != n.STATUS_SUSPENDED:
        duration(seconds, d_attrs, parent)
    runs(1, r_attrs, parent)


class stage(Scope):
    """A stage of the current workflow: span, duration by workflow/stage/persona, re-entries."""

    kind: ClassVar[str] = "stage"
    __slots__ = ("budget",)
    _METRICS = (cat.STAGE_DURATION.name,)

    def __init__(self, name: Any, *, budget: Any = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.budget = budget  # an agentobs.TokenBudget for the LLM calls inside
        self.attributes = {
            **clean_attributes(attributes),
            n.STAGE_NAME: self.name,
            n.SPAN_TYPE: "stage",
            n.OPENINFERENCE_KIND: _CHAIN,
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        flow = _workflow(parent)
        if flow is not None:
            entry = flow.enter_stage(self.name)
            if entry > 1:
                run.span.set_attributes({n.WORKFLOW_NAME: flow.name, n.STAGE_ENTRY: entry})
                _record(
                    cat.STAGE_REENTRIES.name,
                    1,
                    {
                        n.WORKFLOW_NAME: flow.name,
                        n.STAGE_NAME: self.name,
                        n.PERSONA_NAME: _persona_name(parent),
                    },
                )
            else:
                run.span.set_attribute(n.WORKFLOW_NAME, flow.name)
        context = _set_value(_STAGE_KEY, self.name, run.context)
        return context if self.budget is None else ctx.push_budget(context, self.budget, self.name)

    def _attributes(
        self, key: tuple[str | None, str | None, str | None], metric: str
    ) -> dict[str, Any]:
        workflow, persona, error = key
        return {
            n.WORKFLOW_NAME: workflow,
            n.STAGE_NAME: self.name,
            n.PERSONA_NAME: persona,
            n.ERROR_TYPE: error,
        }

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        if self.budget is not None:
            ctx.release_budget(run.context, run.parent)
        parent = run.parent
        key = (_workflow_name(parent), _persona_name(parent), error)
        ((duration, attrs),) = self.metrics(key, self._METRICS, self._attributes)
        duration(seconds, attrs, parent)


class task(Scope):
    """A task, optionally done by ``agent`` and of type ``task_type``: span, runs, duration.

    The lightweight scope, for fine-grained units of work: its span is named ``task {name}``
    (that name is what says it is a task) and carries only what adds to it: ``agent``,
    ``task_type``, your ``attributes`` and the persona. Every span attribute costs the
    OpenTelemetry SDK a validation pass, and the first one the most, so a bare task span
    costs about as much as a raw ``start_as_current_span``.
    """

    kind: ClassVar[str] = "task"
    __slots__ = ("agent", "enqueued_at", "task_type")
    _METRICS = (cat.TASK_RUNS.name, cat.TASK_DURATION.name)

    def __init__(
        self,
        name: Any,
        *,
        agent: Any = None,
        task_type: Any = None,
        enqueued_at: Any = None,
        **attributes: Any,
    ) -> None:
        super().__init__(name, {})
        self.agent = None if agent is None else clean_name(agent, "agent")
        self.task_type = None if task_type is None else clean_name(task_type, "task type")
        self.enqueued_at = None if enqueued_at is None else timestamp(enqueued_at, "enqueued_at")
        self.attributes = clean_attributes(
            {**attributes, n.TASK_TYPE: self.task_type, n.AGENT_NAME: self.agent}
        )

    def _attributes(self, key: tuple[str, str | None, str | None], metric: str) -> dict[str, Any]:
        status, persona, agent = key
        return {
            n.AGENT_NAME: agent,
            n.TASK_TYPE: self.task_type,
            n.STATUS: status,
            n.PERSONA_NAME: persona,
        }

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        parent = run.parent
        persona = parent.get(_PERSONA_KEY)
        key = (
            status,
            None if persona is None else persona.name,
            self.agent or parent.get(_AGENT_KEY),
        )
        cache = self._metrics
        entry = None
        if cache is not None and cache[0] is STATE.recorders:
            entry = cache[1].get(key)
        if entry is None:
            entry = self.metrics(key, self._METRICS, self._attributes)
        (runs, r_attrs), (duration, d_attrs) = entry
        runs(1, r_attrs, parent)
        duration(seconds, d_attrs, parent)
        _TASKS.add(run.start, seconds, status is _OK)
        if self.enqueued_at is not None:
            wait = max(0.0, run.start / 1e9 - self.enqueued_at)
            run.span.set_attribute(n.TASK_WAIT, wait)
            _record(cat.TASK_WAIT.name, wait, {n.AGENT_NAME: key[2], n.TASK_TYPE: self.task_type})


class agent(Scope):
    """An agent invocation: an ``invoke_agent {name}`` span (GenAI conventions) and duration."""

    kind: ClassVar[str] = "agent"
    __slots__ = ()
    _METRICS = (cat.INVOKE_AGENT_DURATION.name,)

    def __init__(self, name: Any, *, provider: Any = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.span_name = f"invoke_agent {self.name}"
        self.attributes = {
            **clean_attributes(attributes),
            n.OPERATION: "invoke_agent",
            n.AGENT_NAME: self.name,
            n.SPAN_TYPE: "agent",
        }
        if provider is not None:
            self.attributes[n.PROVIDER] = clean_name(provider, "provider")

    def on_start(self, run: Run, parent: Any) -> Any:
        outer = parent.get(_AGENT_SPAN_KEY)
        if outer is not None:  # a delegation: link the two spans, count it at the end
            run.state = parent.get(_AGENT_KEY)
            run.span.add_link(outer.get_span_context(), {n.LINK_TYPE: "delegation"})
            run.span.set_attribute(n.DELEGATION_FROM, run.state)
        elif _HANDOFFS:
            handed = _take_handoff(self.name)
            if handed is not None:
                run.span.add_link(handed[1], {n.LINK_TYPE: "handoff"})
                run.span.set_attribute(n.DELEGATION_FROM, handed[0])
        return Context({**run.context, _AGENT_KEY: self.name, _AGENT_SPAN_KEY: run.span})

    def _attributes(self, key: tuple[str | None, str | None], metric: str) -> dict[str, Any]:
        error, persona = key
        return {n.AGENT_NAME: self.name, n.ERROR_TYPE: error, n.PERSONA_NAME: persona}

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        parent = run.parent
        key = (error, _persona_name(parent))
        ((duration, attrs),) = self.metrics(key, self._METRICS, self._attributes)
        duration(seconds, attrs, parent)
        if run.state is not None:
            _delegation(run.state, self.name, "nested", status)


def _delegation(source: str | None, target: str, kind: str, status: str) -> None:
    _record(
        cat.DELEGATIONS.name,
        1,
        {
            n.DELEGATION_FROM: source,
            n.DELEGATION_TO: target,
            n.DELEGATION_KIND: kind,
            n.STATUS: status,
        },
    )


_MAX_HANDOFFS = 1024
_HANDOFFS: dict[str, tuple[str, Any]] = {}
"""Hand-offs not yet taken, by the agent they go to: the agent that handed off and the span
that did (the next ``agent(to)`` scope links to it). Bounded: the oldest go first."""
_handoffs_lock = threading.Lock()


def forget_handoffs() -> None:
    """Forget the hand-offs not yet taken (``agentobs.testing.reset``)."""
    with _handoffs_lock:
        _HANDOFFS.clear()


def _take_handoff(target: str) -> tuple[str, Any] | None:
    with _handoffs_lock:
        return _HANDOFFS.pop(target, None)


def handoff(to: Any, *, reason: Any = None) -> None:
    """Hand the work over to agent ``to``, for frameworks where the next agent does not run
    inside the current one: counts a delegation (kind ``handoff``) from the current agent,
    adds an ``agentobs.handoff`` event to the current span, and the next ``agent(to)`` scope
    started in this process links to it."""
    if STATE.tracer is None:
        return
    with internal_errors("handoff"):
        target = clean_name(to, "agent")
        current = otel_context.get_current()
        source: str | None = current.get(_AGENT_KEY)  # type: ignore[assignment]
        span = trace.get_current_span(current)
        event = {n.DELEGATION_TO: target}
        if source is not None:
            event[n.DELEGATION_FROM] = source
        if reason is not None:
            event[n.HANDOFF_REASON] = clean_name(reason, "handoff reason")
        span.add_event(n.HANDOFF_EVENT, event)
        with _handoffs_lock:
            if len(_HANDOFFS) >= _MAX_HANDOFFS and target not in _HANDOFFS:
                del _HANDOFFS[next(iter(_HANDOFFS))]
            _HANDOFFS[target] = (source or "unknown", span.get_span_context())
        _delegation(source, target, "handoff", n.STATUS_OK)


class tool(Scope):
    """A tool execution: an ``execute_tool {name}`` span (GenAI conventions) and duration."""

    kind: ClassVar[str] = "tool"
    __slots__ = ("tool_type",)
    _METRICS = (cat.EXECUTE_TOOL_DURATION.name,)

    def __init__(self, name: Any, *, tool_type: Any = "function", **attributes: Any) -> None:
        super().__init__(name, {})
        self.span_name = f"execute_tool {self.name}"
        self.tool_type = clean_name(tool_type, "tool type")
        self.attributes = {
            **clean_attributes(attributes),
            n.OPERATION: "execute_tool",
            n.TOOL_NAME: self.name,
            n.TOOL_TYPE: self.tool_type,
            n.SPAN_TYPE: "tool",
        }

    def _attributes(
        self, key: tuple[str | None, str | None, str | None], metric: str
    ) -> dict[str, Any]:
        agent, error, persona = key
        return {
            n.TOOL_NAME: self.name,
            n.TOOL_TYPE: self.tool_type,
            n.AGENT_NAME: agent,
            n.ERROR_TYPE: error,
            n.PERSONA_NAME: persona,
        }

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        parent = run.parent
        key = (parent.get(_AGENT_KEY), error, _persona_name(parent))
        ((duration, attrs),) = self.metrics(key, self._METRICS, self._attributes)
        duration(seconds, attrs, parent)


class persona(Scope):
    """Sets the current persona for everything inside: every nested span carries it, every
    agentobs metric recorded inside is labelled with it. Entering a different persona counts
    a switch; time in the persona is a histogram. ``budget`` takes a token budget.

    Threads do not inherit it by themselves: wrap the target with :func:`agentobs.bind_context`.
    """

    kind: ClassVar[str] = "persona"
    stamps_persona: ClassVar[bool] = False  # its span names its own persona
    __slots__ = ("budget", "chatmode")
    _METRICS = (cat.PERSONA_DURATION.name,)

    def __init__(
        self, name: Any, *, chatmode: Any = None, budget: Any = None, **attributes: Any
    ) -> None:
        super().__init__(name, {})
        self.chatmode = None if chatmode is None else clean_name(chatmode, "chatmode")
        self.budget = budget
        self.attributes = {
            **clean_attributes(attributes),
            **clean_attributes(
                {
                    n.PERSONA_NAME: self.name,
                    n.PERSONA_CHATMODE: self.chatmode,
                    n.SPAN_TYPE: "persona",
                    n.OPENINFERENCE_KIND: _CHAIN,
                }
            ),
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        flow = _workflow(parent)
        previous = _persona_name(parent)
        if previous is None and flow is not None:
            previous = flow.last_persona
        if previous is not None and previous != self.name:
            run.span.set_attribute(n.PERSONA_FROM, previous)
            _record(
                cat.PERSONA_SWITCHES.name,
                1,
                {
                    n.PERSONA_FROM: previous,
                    n.PERSONA_TO: self.name,
                    n.PERSONA_CHATMODE: self.chatmode,
                    n.WORKFLOW_NAME: flow.name if flow is not None else None,
                },
            )
        if flow is not None:
            flow.last_persona = self.name
        _hooks.first_persona()  # the first time: third-party spans inside carry it too
        info = ctx.PersonaInfo(self.name, self.chatmode, self.budget)
        context = _set_value(_PERSONA_KEY, info, run.context)
        return context if self.budget is None else ctx.push_budget(context, self.budget, self.name)

    def _attributes(self, key: str | None, metric: str) -> dict[str, Any]:
        return {
            n.PERSONA_NAME: self.name,
            n.PERSONA_CHATMODE: self.chatmode,
            n.WORKFLOW_NAME: key,
        }

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        if self.budget is not None:
            ctx.release_budget(run.context, run.parent)
        parent = run.parent
        ((duration, attrs),) = self.metrics(_workflow_name(parent), self._METRICS, self._attributes)
        duration(seconds, attrs, parent)


def _score(value: Any, what: str) -> float | None:
    """A finite float from ``value``, or None (one warning) when there is none."""
    if value is None:
        return None
    try:
        number = float(value)
    except Exception:
        number = math.nan
    if math.isfinite(number):
        return number
    warn_once(
        f"gate-{what}:{type(value).__name__}",
        "agentobs: gate %s of type %s is not a finite number; ignored (a score so given "
        "fails its gate)",
        what,
        type(value).__name__,
    )
    return None


def _shown(value: Any) -> str:
    try:
        return repr(value)[:80]
    except Exception:
        return f"of type {type(value).__name__}"


def _truthy(value: Any, what: str) -> bool:
    """``bool(value)``; False (one warning) when the value cannot say."""
    try:
        return bool(value)
    except Exception:
        warn_once(
            f"truthy:{what}:{type(value).__name__}",
            "agentobs: %s of type %s has no truth value; counted as a failure",
            what,
            type(value).__name__,
        )
        return False


class GateRun(Run):
    """The handle a quality gate yields: call ``passed()``, ``failed(reason)``, ``score(v)``."""

    __slots__ = ("reason", "value", "verdict")

    def __init__(self, scope: Scope, span: Any, parent: Any, context: Any, start: int) -> None:
        super().__init__(scope, span, parent, context, start)
        self.verdict: bool | None = None
        self.reason: str | None = None
        self.value: float | None = None

    def passed(self) -> None:
        """The gate passed."""
        self.verdict = True

    def failed(self, reason: Any = None) -> None:
        """The gate failed, for ``reason``."""
        self.verdict = False
        if reason is not None:
            self.reason = _reason(reason)

    def score(self, value: Any) -> None:
        """Give the gate a score; below the gate's threshold it fails, and so does a score
        that is not a finite number (a gate must not pass on a score it could not read)."""
        self.value = _score(value, "score")
        if self.value is None and value is not None:
            self.verdict = False
            self.reason = f"invalid score {_shown(value)}: not a finite number"


def _reason(value: Any) -> str:
    if type(value) is str and len(value) <= MAX_REASON:
        return value
    return clean_name(value, "gate reason")


class quality_gate(Scope):
    """A quality gate: a span, a ``gen_ai.evaluation.result`` event, check and score metrics.

    In a ``with`` block, call ``gate.passed()``, ``gate.failed(reason)`` or
    ``gate.score(value)`` (a score below ``threshold`` fails); no verdict and no exception
    means it passed, an exception means it failed. As a decorator, a falsy return value or an
    exception fails the gate (and a number returned is not taken as a score).
    """

    kind: ClassVar[str] = "quality_gate"
    run_class: ClassVar[type[Run]] = GateRun
    __slots__ = ("threshold",)

    def __init__(self, name: Any, *, threshold: Any = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.threshold = _score(threshold, "threshold")
        self.attributes = {
            **clean_attributes(attributes),
            n.GATE_NAME: self.name,
            n.EVALUATION_NAME: self.name,
            n.SPAN_TYPE: "gate",
            n.OPENINFERENCE_KIND: "EVALUATOR",
        }
        if self.threshold is not None:
            self.attributes[n.GATE_THRESHOLD] = self.threshold

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        assert isinstance(run, GateRun)
        verdict, reason = run.verdict, run.reason
        if error is not None:
            verdict, reason = False, reason or error
        elif (
            verdict is None
            and run.result is not NO_RESULT
            and not _truthy(run.result, "gate result")
        ):
            verdict, reason = False, reason or _returned(run.result)
        if run.value is not None and self.threshold is not None and run.value < self.threshold:
            verdict = False
            reason = reason or f"score {run.value:g} below threshold {self.threshold:g}"
        passed = verdict is not False
        record_result(run.span, run.parent, self.name, passed, run.value, reason)


def _returned(result: Any) -> str:
    try:
        text = repr(result)
    except Exception:
        text = f"a {type(result).__name__}"
    return f"returned {text}"[:MAX_REASON]


def record_result(
    span: Any, parent: Any, name: str, passed: bool, score: float | None, reason: str | None
) -> None:
    """Put a gate's result on its span and record the evaluation event and metrics."""
    for hook in _hooks.RESULT_HOOKS:
        with internal_errors("gate result hook"):
            hook(span, name, passed, score, reason)
    label = "pass" if passed else "fail"
    event: dict[str, Any] = {n.EVALUATION_NAME: name, n.EVALUATION_LABEL: label}
    attributes: dict[str, Any] = {n.GATE_RESULT: label}
    if score is not None:
        event[n.EVALUATION_SCORE] = score
        attributes[n.GATE_SCORE] = score
    if reason:
        event[n.EVALUATION_EXPLANATION] = reason
        attributes[n.GATE_REASON] = reason
    span.set_attributes(attributes)
    span.add_event(n.EVALUATION_EVENT, event)
    labels = {
        n.GATE_NAME: name,
        n.WORKFLOW_NAME: _workflow_name(parent),
        n.STAGE_NAME: parent.get(_STAGE_KEY),
        n.PERSONA_NAME: _persona_name(parent),
    }
    _record(cat.GATE_CHECKS.name, 1, {**labels, n.GATE_RESULT: label})
    if score is not None:
        _record(cat.GATE_SCORE.name, score, labels)


def record_gate(name: Any, passed: Any, *, score: Any = None, reason: Any = None) -> None:
    """Record the result of a quality gate computed elsewhere (its own short span).

    ``passed`` is taken for its truth value; a ``score`` that is not a finite number and a
    ``reason`` that is not a string are coerced or dropped with a warning, never raised.
    """
    if STATE.tracer is None:
        return
    with internal_errors("record_gate"):
        gate = quality_gate(name)
        run = gate.start()
        if run is None:
            return
        assert isinstance(run, GateRun)
        run.verdict = _truthy(passed, "record_gate passed")
        if reason is not None:
            run.reason = _reason(reason)
        run.value = _score(score, "score")
        gate.end(run, None)


def human_intervention(reason: Any, **attributes: Any) -> None:
    """Count a human intervention by ``reason`` and add an event to the current span."""
    if STATE.tracer is None:
        return
    with internal_errors("human_intervention"):
        text = clean_name(reason, "intervention reason")
        current = otel_context.get_current()
        span = trace.get_current_span(current)
        span.add_event(
            n.INTERVENTION_EVENT, {**clean_attributes(attributes), n.INTERVENTION_REASON: text}
        )
        flow = _workflow(current)
        if flow is not None:
            with flow.lock:
                flow.interventions += 1
        _record(
            cat.HUMAN_INTERVENTIONS.name,
            1,
            {
                n.INTERVENTION_REASON: text,
                n.WORKFLOW_NAME: _workflow_name(current),
                n.STAGE_NAME: current.get(_STAGE_KEY),
                n.PERSONA_NAME: _persona_name(current),
            },
        )


def set_attributes(**attributes: Any) -> None:
    """Set attributes on the current span (no-op when nothing is recording)."""
    if STATE.tracer is None:
        return
    try:  # not `with internal_errors()`: a generator context manager costs more than the rest
        set_clean(_get_current_span(), attributes)
    except Exception as exc:
        _internal(exc, "set_attributes")


def event(name: Any, **attributes: Any) -> None:
    """Add an event called ``name`` to the current span."""
    if STATE.tracer is None:
        return
    with internal_errors("event"):
        trace.get_current_span().add_event(clean_name(name, "event"), clean_attributes(attributes))
