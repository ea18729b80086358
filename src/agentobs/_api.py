"""The agent instrumentation API: workflow, stage, task, agent, tool, persona, quality gates,
human interventions, and attributes or events on the current span.

Each scope is a decorator, a ``with`` block and an ``async with`` block (see ``_engine``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from . import _context as ctx
from . import _names as n
from ._engine import NO_RESULT, NOOP_RUN, Run, Scope, clean_attributes, clean_name
from ._errors import internal_errors, warn_once
from ._state import STATE

_CHAIN = "CHAIN"


def _record(name: str, value: float, attributes: dict[str, Any]) -> None:
    recorders = STATE.recorders
    if recorders is not None:
        recorders[name].record(value, attributes)


def _persona_name(parent: Any) -> str | None:
    persona = parent.get(ctx.PERSONA_KEY)
    return persona.name if persona is not None else None


def _workflow(parent: Any) -> ctx.WorkflowRun | None:
    run: ctx.WorkflowRun | None = parent.get(ctx.WORKFLOW_KEY)
    return run


def _workflow_name(parent: Any) -> str | None:
    run = parent.get(ctx.WORKFLOW_KEY)
    return run.name if run is not None else None


class workflow(Scope):
    """A workflow run: an ``invoke_workflow {name}`` span, run and duration metrics, and the
    in-progress gauges that let a stuck workflow alert.

    ``name`` must be low-cardinality (it is a metric label); put run ids in ``attributes``.
    """

    kind: ClassVar[str] = "workflow"
    __slots__ = ()

    def __init__(self, name: Any, **attributes: Any) -> None:
        super().__init__(name, {})
        self.span_name = f"invoke_workflow {self.name}"
        self.attributes = {
            **clean_attributes(attributes),
            n.OPERATION: "invoke_workflow",
            n.WORKFLOW_NAME: self.name,
            n.SPAN_TYPE: "workflow",
            n.OPENINFERENCE_KIND: _CHAIN,
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        run.state = ctx.start_workflow(self.name)
        _record("agentobs.workflow.active", 1, {n.WORKFLOW_NAME: self.name})
        return otel_context.set_value(ctx.WORKFLOW_KEY, run.state, run.context)

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        ctx.end_workflow(run.state)
        persona = _persona_name(run.parent)
        _record("agentobs.workflow.active", -1, {n.WORKFLOW_NAME: self.name})
        _record(
            "gen_ai.workflow.duration",
            seconds,
            {n.WORKFLOW_NAME: self.name, n.ERROR_TYPE: error, n.PERSONA_NAME: persona},
        )
        _record(
            "agentobs.workflow.runs",
            1,
            {n.WORKFLOW_NAME: self.name, n.STATUS: status, n.PERSONA_NAME: persona},
        )


class stage(Scope):
    """A stage of the current workflow: span, duration by workflow/stage/persona, re-entries."""

    kind: ClassVar[str] = "stage"
    __slots__ = ()

    def __init__(self, name: Any, **attributes: Any) -> None:
        super().__init__(name, {})
        self.attributes = {
            **clean_attributes(attributes),
            n.STAGE_NAME: self.name,
            n.SPAN_TYPE: "stage",
            n.OPENINFERENCE_KIND: _CHAIN,
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        flow = _workflow(parent)
        if flow is not None:
            run.span.set_attribute(n.WORKFLOW_NAME, flow.name)
            entry = flow.enter_stage(self.name)
            if entry > 1:
                run.span.set_attribute(n.STAGE_ENTRY, entry)
                _record(
                    "agentobs.stage.reentries",
                    1,
                    {
                        n.WORKFLOW_NAME: flow.name,
                        n.STAGE_NAME: self.name,
                        n.PERSONA_NAME: _persona_name(parent),
                    },
                )
        return otel_context.set_value(ctx.STAGE_KEY, self.name, run.context)

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        _record(
            "agentobs.stage.duration",
            seconds,
            {
                n.WORKFLOW_NAME: _workflow_name(run.parent),
                n.STAGE_NAME: self.name,
                n.PERSONA_NAME: _persona_name(run.parent),
                n.ERROR_TYPE: error,
            },
        )


class task(Scope):
    """A task, optionally done by ``agent`` and of type ``task_type``: span, runs, duration."""

    kind: ClassVar[str] = "task"
    __slots__ = ("agent", "task_type")

    def __init__(
        self, name: Any, *, agent: Any = None, task_type: Any = None, **attributes: Any
    ) -> None:
        super().__init__(name, {})
        self.agent = None if agent is None else clean_name(agent, "agent")
        self.task_type = None if task_type is None else clean_name(task_type, "task type")
        self.attributes = clean_attributes(
            {
                **attributes,
                n.TASK_NAME: self.name,
                n.TASK_TYPE: self.task_type,
                n.AGENT_NAME: self.agent,
                n.SPAN_TYPE: "task",
                n.OPENINFERENCE_KIND: _CHAIN,
            }
        )

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        attributes = {
            n.AGENT_NAME: self.agent or run.parent.get(ctx.AGENT_KEY),
            n.TASK_TYPE: self.task_type,
            n.STATUS: status,
            n.PERSONA_NAME: _persona_name(run.parent),
        }
        _record("agentobs.task.runs", 1, attributes)
        _record("agentobs.task.duration", seconds, attributes)


class agent(Scope):
    """An agent invocation: an ``invoke_agent {name}`` span (GenAI conventions) and duration."""

    kind: ClassVar[str] = "agent"
    __slots__ = ()

    def __init__(self, name: Any, *, provider: str | None = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.span_name = f"invoke_agent {self.name}"
        self.attributes = clean_attributes(
            {
                **attributes,
                n.OPERATION: "invoke_agent",
                n.AGENT_NAME: self.name,
                n.PROVIDER: provider,
                n.SPAN_TYPE: "agent",
                n.OPENINFERENCE_KIND: "AGENT",
            }
        )

    def on_start(self, run: Run, parent: Any) -> Any:
        return otel_context.set_value(ctx.AGENT_KEY, self.name, run.context)

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        _record(
            "gen_ai.invoke_agent.duration",
            seconds,
            {
                n.AGENT_NAME: self.name,
                n.ERROR_TYPE: error,
                n.PERSONA_NAME: _persona_name(run.parent),
            },
        )


class tool(Scope):
    """A tool execution: an ``execute_tool {name}`` span (GenAI conventions) and duration."""

    kind: ClassVar[str] = "tool"
    __slots__ = ("tool_type",)

    def __init__(self, name: Any, *, tool_type: str = "function", **attributes: Any) -> None:
        super().__init__(name, {})
        self.span_name = f"execute_tool {self.name}"
        self.tool_type = clean_name(tool_type, "tool type")
        self.attributes = clean_attributes(
            {
                **attributes,
                n.OPERATION: "execute_tool",
                n.TOOL_NAME: self.name,
                n.TOOL_TYPE: self.tool_type,
                n.SPAN_TYPE: "tool",
                n.OPENINFERENCE_KIND: "TOOL",
            }
        )

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        _record(
            "gen_ai.execute_tool.duration",
            seconds,
            {
                n.TOOL_NAME: self.name,
                n.TOOL_TYPE: self.tool_type,
                n.AGENT_NAME: run.parent.get(ctx.AGENT_KEY),
                n.ERROR_TYPE: error,
                n.PERSONA_NAME: _persona_name(run.parent),
            },
        )


class persona(Scope):
    """Sets the current persona for everything inside: every nested span carries it, every
    agentobs metric recorded inside is labelled with it. Entering a different persona counts
    a switch; time in the persona is a histogram. ``budget`` takes a token budget.

    Threads do not inherit it by themselves: wrap the target with :func:`agentobs.bind_context`.
    """

    kind: ClassVar[str] = "persona"
    __slots__ = ("budget", "chatmode")

    def __init__(
        self, name: Any, *, chatmode: Any = None, budget: Any = None, **attributes: Any
    ) -> None:
        super().__init__(name, {})
        self.chatmode = None if chatmode is None else clean_name(chatmode, "chatmode")
        self.budget = budget
        self.attributes = clean_attributes(
            {
                **attributes,
                n.PERSONA_NAME: self.name,
                n.PERSONA_CHATMODE: self.chatmode,
                n.SPAN_TYPE: "persona",
                n.OPENINFERENCE_KIND: _CHAIN,
            }
        )

    def on_start(self, run: Run, parent: Any) -> Any:
        flow = _workflow(parent)
        previous = _persona_name(parent)
        if previous is None and flow is not None:
            previous = flow.last_persona
        if previous is not None and previous != self.name:
            _record(
                "agentobs.persona.switches",
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
        info = ctx.PersonaInfo(self.name, self.chatmode, self.budget)
        return otel_context.set_value(ctx.PERSONA_KEY, info, run.context)

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        _record(
            "agentobs.persona.duration",
            seconds,
            {
                n.PERSONA_NAME: self.name,
                n.PERSONA_CHATMODE: self.chatmode,
                n.WORKFLOW_NAME: _workflow_name(run.parent),
            },
        )


class GateRun(Run):
    """The handle a quality gate yields: call ``passed()``, ``failed(reason)``, ``score(v)``."""

    verdict: bool | None
    reason: str | None
    value: float | None
    __slots__ = ("reason", "value", "verdict")

    def passed(self) -> None:
        """The gate passed."""
        self.verdict = True

    def failed(self, reason: Any = None) -> None:
        """The gate failed, for ``reason``."""
        self.verdict = False
        if reason is not None:
            self.reason = clean_name(reason, "gate reason")

    def score(self, value: Any) -> None:
        """Give the gate a score; below the gate's threshold it fails."""
        try:
            self.value = float(value)
        except (TypeError, ValueError):
            warn_once("gate-score", "agentobs: gate score %r is not a number; ignored", value)


class quality_gate(Scope):
    """A quality gate: a span, a ``gen_ai.evaluation.result`` event, check and score metrics.

    In a ``with`` block, call ``gate.passed()``, ``gate.failed(reason)`` or
    ``gate.score(value)`` (a score below ``threshold`` fails); no verdict and no exception
    means it passed, an exception means it failed. As a decorator, a falsy return value or an
    exception fails the gate.
    """

    kind: ClassVar[str] = "quality_gate"
    __slots__ = ("threshold",)

    def __init__(self, name: Any, *, threshold: float | None = None, **attributes: Any) -> None:
        super().__init__(name, {})
        self.threshold = threshold if isinstance(threshold, (int, float)) else None
        if threshold is not None and self.threshold is None:
            warn_once("gate-threshold", "agentobs: gate threshold %r is not a number", threshold)
        self.attributes = clean_attributes(
            {
                **attributes,
                n.GATE_NAME: self.name,
                n.GATE_THRESHOLD: self.threshold,
                n.EVALUATION_NAME: self.name,
                n.SPAN_TYPE: "gate",
                n.OPENINFERENCE_KIND: "EVALUATOR",
            }
        )

    def start(self) -> Run | None:
        run = super().start()
        if run is None:
            return None
        gate = GateRun(self, run.span, run.parent, run.context, run.start)
        gate.verdict, gate.reason, gate.value = None, None, None
        return gate

    def __enter__(self) -> Any:
        run = super().__enter__()
        return run if isinstance(run, GateRun) else NOOP_RUN

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        assert isinstance(run, GateRun)
        verdict, reason = run.verdict, run.reason
        if error is not None:
            verdict, reason = False, reason or error
        elif verdict is None and run.result is not NO_RESULT and not run.result:
            verdict, reason = False, reason or f"returned {run.result!r}"[:MAX_REASON]
        if run.value is not None and self.threshold is not None and run.value < self.threshold:
            verdict = False
            reason = reason or f"score {run.value:g} below threshold {self.threshold:g}"
        passed = verdict is not False
        record_result(run.span, run.parent, self.name, passed, run.value, reason)


MAX_REASON = 512


def record_result(
    span: Any, parent: Any, name: str, passed: bool, score: float | None, reason: str | None
) -> None:
    """Put a gate's result on its span and record the evaluation event and metrics."""
    label = "pass" if passed else "fail"
    event: dict[str, Any] = {n.EVALUATION_NAME: name, n.EVALUATION_LABEL: label}
    if score is not None:
        event[n.EVALUATION_SCORE] = score
    if reason:
        event[n.EVALUATION_EXPLANATION] = reason
    span.set_attributes(
        {n.GATE_RESULT: label, **({n.GATE_SCORE: score} if score is not None else {})}
    )
    if reason:
        span.set_attribute(n.GATE_REASON, reason)
    span.add_event(n.EVALUATION_EVENT, event)
    labels = {
        n.GATE_NAME: name,
        n.WORKFLOW_NAME: _workflow_name(parent),
        n.STAGE_NAME: parent.get(ctx.STAGE_KEY),
        n.PERSONA_NAME: _persona_name(parent),
    }
    _record("agentobs.gate.checks", 1, {**labels, n.GATE_RESULT: label})
    if score is not None:
        _record("agentobs.gate.score", score, labels)


def record_gate(name: Any, passed: Any, *, score: Any = None, reason: Any = None) -> None:
    """Record the result of a quality gate computed elsewhere (its own short span)."""
    if STATE.tracer is None:
        return
    with internal_errors("record_gate"):
        gate = quality_gate(name)
        run = gate.start()
        if run is None:
            return
        assert isinstance(run, GateRun)
        run.verdict = bool(passed)
        if reason is not None:
            run.reason = clean_name(reason, "gate reason")
        if score is not None:
            run.score(score)
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
        _record(
            "agentobs.human_interventions",
            1,
            {
                n.INTERVENTION_REASON: text,
                n.WORKFLOW_NAME: _workflow_name(current),
                n.STAGE_NAME: current.get(ctx.STAGE_KEY),
                n.PERSONA_NAME: _persona_name(current),
            },
        )


def set_attributes(**attributes: Any) -> None:
    """Set attributes on the current span (no-op when nothing is recording)."""
    if STATE.tracer is None:
        return
    with internal_errors("set_attributes"):
        trace.get_current_span().set_attributes(clean_attributes(attributes))


def event(name: Any, **attributes: Any) -> None:
    """Add an event called ``name`` to the current span."""
    if STATE.tracer is None:
        return
    with internal_errors("event"):
        trace.get_current_span().add_event(clean_name(name, "event"), clean_attributes(attributes))
