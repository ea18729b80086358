"""What agentobs keeps in the OpenTelemetry context: the current workflow run, persona,
stage and agent. Being in the context, they follow ``await``, ``asyncio.create_task`` and
(through :func:`bind_context`) threads, exactly like the current span.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context

from . import _catalogue as cat
from . import _hooks
from ._errors import warn_once
from ._state import STATE

P = ParamSpec("P")
R = TypeVar("R")

WORKFLOW_KEY = otel_context.create_key("agentobs.workflow")
PERSONA_KEY = otel_context.create_key("agentobs.persona")
STAGE_KEY = otel_context.create_key("agentobs.stage")
AGENT_KEY = otel_context.create_key("agentobs.agent")
AGENT_SPAN_KEY = otel_context.create_key("agentobs.agent.span")
"""The span of the innermost agent scope, which an agent entered inside it links to."""
SESSION_KEY = otel_context.create_key("agentobs.session")
RUN_KEY = otel_context.create_key("agentobs.run")
"""The run a ``with`` block opened, so ``__exit__`` finds its own run even when one scope
object is entered concurrently from several tasks or threads."""


@dataclass
class PersonaInfo:
    """The persona in force: its name, chat mode and token budget (if any)."""

    name: str
    chatmode: str | None = None
    budget: Any = None


@dataclass(frozen=True)
class SessionInfo:
    """The session in force: its id, user and kind, and the span attributes that carry them
    (``session.id``/``user.id`` and the ``langfuse.*`` names Langfuse's OTLP mapping reads)."""

    id: str
    user_id: str | None
    kind: str | None
    attributes: Mapping[str, str]


@dataclass
class WorkflowRun:
    """One run of a workflow: its name, which stages it entered, the last persona, the human
    interventions inside it, and whether (and since when) it is suspended."""

    name: str
    run_id: int
    started: float
    stage_entries: dict[str, int] = field(default_factory=dict)
    last_persona: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    interventions: int = 0
    suspended_point: str | None = None
    suspended_since: float | None = None
    """Wall-clock time (``time.time()``) the current suspension began, None while working."""
    checkpointed: bool = False
    """A checkpoint was taken: the run continues in :func:`agentobs.resume` elsewhere."""
    counted_in: object = None  # the recorders its start was counted in (one pipeline's)

    def enter_stage(self, stage: str) -> int:
        """Count an entry into ``stage``; return how many times it was entered in this run."""
        with self.lock:
            count = self.stage_entries.get(stage, 0) + 1
            self.stage_entries[stage] = count
            return count


_ids = itertools.count(1)
_running: dict[int, WorkflowRun] = {}
_running_lock = threading.Lock()
_counted: dict[str, object] = {}
"""Workflow names that ran, with the recorders (the pipeline) they last ran under: the
``agentobs.workflow.active`` series of a name whose runs all ended reads 0, not nothing."""
_MAX_COUNTED = 1024


def start_workflow(name: str, age: float = 0.0) -> WorkflowRun:
    """Register a workflow run as in progress (``age`` seconds old already: a resumed run),
    counted in ``agentobs.workflow.active`` of the current configuration."""
    run = WorkflowRun(name, next(_ids), time.monotonic() - age)
    recorders = run.counted_in = STATE.recorders
    with _running_lock:
        _running[run.run_id] = run
        if _counted.get(name) is not recorders:
            if name not in _counted and len(_counted) >= _MAX_COUNTED:
                _forget_other_configurations(recorders)
            if name in _counted or len(_counted) < _MAX_COUNTED:
                _counted[name] = recorders
    return run


def _forget_other_configurations(recorders: object) -> None:
    """Drop the names counted under configurations other than ``recorders`` (called with
    ``_running_lock`` held, when ``_counted`` is full)."""
    for name in [name for name, counted_in in _counted.items() if counted_in is not recorders]:
        del _counted[name]


def end_workflow(run: WorkflowRun) -> None:
    """Forget a workflow run that ended."""
    with _running_lock:
        _running.pop(run.run_id, None)


def active_workflows(recorders: object) -> Iterable[tuple[float, Mapping[str, Any]]]:
    """Workflow runs in progress now, per workflow name (for ``agentobs.workflow.active``):
    read from the registry of runs at collection rather than added to an up-down counter
    twice per run. Only runs begun under ``recorders`` (the configuration collecting) count:
    one begun before a reconfiguration is not counted in the new pipeline."""
    counts: dict[str, int] = {}
    with _running_lock:
        for name, counted_in in _counted.items():
            if counted_in is recorders:
                counts[name] = 0
        for run in _running.values():
            if run.counted_in is recorders:
                counts[run.name] = counts.get(run.name, 0) + 1
    return [(count, {"gen_ai.workflow.name": name}) for name, count in counts.items()]


def oldest_workflow_ages() -> Iterable[tuple[float, Mapping[str, Any]]]:
    """Age in seconds of the oldest run in progress, per workflow name and state (``working``
    or ``waiting``: inside :func:`agentobs.suspended`), for a gauge. A resumed run counts
    from when its workflow first started, in whichever process that was."""
    now = time.monotonic()
    oldest: dict[tuple[str, str], float] = {}
    with _running_lock:
        for run in _running.values():
            key = (run.name, "working" if run.suspended_since is None else "waiting")
            oldest[key] = max(oldest.get(key, 0.0), now - run.started)
    return [
        (age, {"gen_ai.workflow.name": name, "agentobs.workflow.state": state})
        for (name, state), age in oldest.items()
    ]


def suspended_workflows() -> Iterable[tuple[float, Mapping[str, Any]]]:
    """Workflow runs suspended now, per workflow and suspension point (for a gauge)."""
    counts: dict[tuple[str, str], int] = {}
    with _running_lock:
        for run in _running.values():
            if run.suspended_since is not None:
                key = (run.name, run.suspended_point or "unknown")
                counts[key] = counts.get(key, 0) + 1
    return [
        (count, {"gen_ai.workflow.name": name, "agentobs.suspension.point": point})
        for (name, point), count in counts.items()
    ]


_hooks.add_pipeline_gauge_source(cat.WORKFLOW_ACTIVE.name, active_workflows)
_hooks.add_gauge_source(cat.WORKFLOW_OLDEST_AGE.name, oldest_workflow_ages)
_hooks.add_gauge_source(cat.WORKFLOW_SUSPENDED.name, suspended_workflows)


BUDGETS_KEY = otel_context.create_key("agentobs.budgets")
"""The token budgets in force (``agentobs.TokenBudget``), outermost first."""


def push_budget(context: Any, budget: Any, owner: str | None) -> Any:
    """``context`` with ``budget`` added to the budgets in force there; a budget without a
    name is named after ``owner`` (the persona, workflow or stage it was given to)."""
    persona = context.get(PERSONA_KEY)
    try:
        budget = budget.for_run()
        budget.bind(owner, persona.name if isinstance(persona, PersonaInfo) else None)
    except Exception:  # not a TokenBudget: the scope still runs, without a budget
        warn_once(
            f"budget-type:{type(budget).__name__}",
            "agentobs: budget= takes an agentobs.TokenBudget, not a %s; ignored",
            type(budget).__name__,
        )
        return context
    budgets = context.get(BUDGETS_KEY) or ()
    if any(b is budget for b in budgets):
        return context
    budget.acquire()  # open until release_budget(): its gauges count it among its name's
    return otel_context.set_value(BUDGETS_KEY, (*budgets, budget), context)


def release_budget(context: Any, parent: Any) -> None:
    """Close the budget :func:`push_budget` put in force in ``context`` (over ``parent``),
    if it did: the scope or ``with`` block that holds it has ended."""
    if context is None or parent is None:
        return
    budgets = context.get(BUDGETS_KEY)
    if budgets and budgets is not parent.get(BUDGETS_KEY):
        budgets[-1].release()


def current_persona() -> PersonaInfo | None:
    """The persona in force here, or None."""
    value = otel_context.get_value(PERSONA_KEY)
    return value if isinstance(value, PersonaInfo) else None


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in the current context (span, workflow, persona) wherever it is
    called: pass the result to ``threading.Thread(target=...)`` or ``executor.submit``."""
    captured = otel_context.get_current()

    @functools.wraps(fn)
    def bound(*args: P.args, **kwargs: P.kwargs) -> R:
        token = otel_context.attach(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return bound
