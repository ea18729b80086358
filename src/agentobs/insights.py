"""What the telemetry teaches: failure patterns, success patterns and regressions.

``agentobs.insights.patterns(path, since=...)`` reads the local files (``.agentobs/``) or a
directory (or file) of OTLP JSON and returns :class:`Insights`: typed records an agent can
consult before it starts a task (what failed before at this stage, which agent succeeds at
this task type) and that ``agentobs insights`` prints. Definitions, as computed here:

- A **workflow run** is a trace's ``invoke_workflow`` span together with the
  ``resume_workflow`` spans that continued it; its outcome is that of the last of them to end.
- A **failure** is a span with status ERROR none of whose children failed with the same
  ``error.type`` (the innermost span of an exception that propagated), or a quality gate whose
  result is ``fail``. Failures are grouped by workflow, stage and ``error.type`` (gates by gate
  and reason). A failure **recovered** when its workflow run still ended without an error;
  **time to recover** is from the failing span's end to the end of that run.
- A **success pattern** groups ``agentobs.task`` spans by agent and task type: attempts,
  success rate, mean and p95 duration of the successful ones, and tokens and cost of every
  attempt per success. It is **proven** past :data:`PROVEN_AFTER` successes.
- A **regression** compares the first and second half of the window (by time; or the spans
  before and after ``split``) for every stage, agent and model with at least
  :data:`MIN_SAMPLES` runs in each part: p95 duration up by :data:`P95_RATIO` (and at least
  :data:`P95_MIN_SECONDS`), failure rate up by :data:`FAILURE_RATE_POINTS`, or cost per run
  up by :data:`COST_RATIO`.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "COST_RATIO",
    "FAILURE_RATE_POINTS",
    "MIN_SAMPLES",
    "P95_MIN_SECONDS",
    "P95_RATIO",
    "PROVEN_AFTER",
    "FailurePattern",
    "Insights",
    "Regression",
    "SuccessPattern",
    "parse_since",
    "patterns",
]

PROVEN_AFTER = 10
"""Successes past which a success pattern is marked proven."""
MIN_SAMPLES = 5
"""Runs a subject needs in each half of the window to be compared."""
P95_RATIO = 1.5
P95_MIN_SECONDS = 0.05
FAILURE_RATE_POINTS = 0.10
COST_RATIO = 1.5
_MAX_REASON = 120


@dataclass(frozen=True)
class FailurePattern:
    """A recurring failure: where, what, how often, and whether the workflow got over it."""

    workflow: str
    stage: str
    error_type: str
    """``error.type``, or ``gate <name>`` for a failed quality gate."""
    reason: str
    """The gate's reason (empty for errors)."""
    occurrences: int
    runs: int
    """Workflow runs in which it occurred."""
    first_seen: str
    last_seen: str
    recovered: int
    """Occurrences after which the workflow run still ended without an error."""
    recovery_rate: float | None
    mean_time_to_recover_s: float | None
    personas: tuple[str, ...]
    models: tuple[str, ...]


@dataclass(frozen=True)
class SuccessPattern:
    """How well an agent does a task type."""

    agent: str
    task_type: str
    attempts: int
    successes: int
    success_rate: float
    mean_s: float | None
    p95_s: float | None
    tokens_per_success: float | None
    cost_per_success_usd: float | None
    proven: bool


@dataclass(frozen=True)
class Regression:
    """A stage, agent or model whose figure moved past its threshold between two halves."""

    kind: str  # stage | agent | model
    name: str
    metric: str  # p95_duration_s | failure_rate | cost_per_run_usd
    before: float
    after: float
    runs_before: int
    runs_after: int


@dataclass
class Insights:
    """Everything :func:`patterns` found."""

    source: str
    since: str | None
    start: str | None
    end: str | None
    spans: int
    workflow_runs: int
    failures: list[FailurePattern] = field(default_factory=list)
    successes: list[SuccessPattern] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    proven_after: int = PROVEN_AFTER

    def failures_at(self, stage: str, workflow: str | None = None) -> list[FailurePattern]:
        """The failure patterns seen at ``stage`` (of ``workflow``), most frequent first."""
        return [
            f
            for f in self.failures
            if f.stage == stage and (workflow is None or f.workflow == workflow)
        ]

    def best_for(self, task_type: str) -> list[SuccessPattern]:
        """The success patterns of ``task_type``, best success rate (then most proven) first."""
        found = [s for s in self.successes if s.task_type == task_type]
        return sorted(found, key=lambda s: (-s.success_rate, -s.successes, s.agent))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready built-in types."""
        return asdict(self)


# --- since -------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: Any, now: float | None = None) -> float | None:
    """Unix seconds from ``value``: None, a Unix time, a ``datetime`` (naive means UTC), a
    ``timedelta`` or ``"7d"``/``"24h"``/``"30m"`` (that long before ``now``), or an ISO 8601
    date or time. Raises ValueError for anything else."""
    if value is None:
        return None
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    if isinstance(value, timedelta):
        return current - value.total_seconds()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if match:
            return current - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parse_since(moment)
    raise ValueError(
        f"since={value!r}: expected a duration such as 7d, 24h or 30m, an ISO 8601 date or "
        "time, a datetime, a timedelta or a Unix time"
    )


# --- reading -------------------------------------------------------------------------------------


def _spans(path: str | os.PathLike[str]) -> list[Any]:
    from ._localdata import read_otlp_json

    return read_otlp_json(Path(path)).spans


# --- analysis ------------------------------------------------------------------------------------


@dataclass
class _Run:
    workflow: str
    end_ns: int = 0
    failed: bool = False


def _percentile(values: list[float], q: float) -> float | None:
    from ._spanindex import percentile

    return percentile(values, q) if values else None


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def patterns(
    path: str | os.PathLike[str] = ".agentobs",
    *,
    since: Any = None,
    split: Any = None,
    now: float | None = None,
) -> Insights:
    """Read the telemetry under ``path`` (spans that started at or after ``since``) and find
    failure patterns, success patterns and regressions. Regressions compare the spans before
    ``split`` with those after it (default: the middle of the window), so ``since="14d",
    split="7d"`` compares last week with the week before. ``since`` and ``split`` take what
    :func:`parse_since` does. See the module doc for definitions.

    Raises:
        ValueError: ``since`` or ``split`` cannot be read as a time.
    """
    cutoff = parse_since(since, now)
    middle = parse_since(split, now)
    spans = _spans(path)
    if cutoff is not None:
        spans = [s for s in spans if s.start_ns >= cutoff * 1e9]
    return analyse(spans, source=str(path), since=cutoff, split=middle)


def analyse(
    spans: list[Any], *, source: str = "", since: float | None = None, split: float | None = None
) -> Insights:
    """The :class:`Insights` of already-read spans (``agentobs._localdata.SpanData``)."""
    from ._spanindex import SpanIndex, display_name, iso_time, number_attr, text_attr

    index = SpanIndex(spans)
    children: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for span in spans:
        if span.parent_id:
            children[(span.trace_id, span.parent_id)].append(span)

    # LLM usage rolled up to every ancestor: tokens, cost, models
    usage: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    models_under: dict[int, set[str]] = defaultdict(set)
    for span in index.of_kind("llm"):
        attrs = span.attributes
        tokens = (number_attr(attrs, "gen_ai.usage.input_tokens") or 0.0) + (
            number_attr(attrs, "gen_ai.usage.output_tokens") or 0.0
        )
        cost = number_attr(attrs, "agentobs.cost.usd") or 0.0
        model = text_attr(attrs, "gen_ai.request.model") or text_attr(
            attrs, "gen_ai.response.model"
        )
        current: Any = span
        for _ in range(512):
            if current is None:
                break
            entry = usage[id(current)]
            entry[0] += tokens
            entry[1] += cost
            if model:
                models_under[id(current)].add(model)
            current = index.parent(current)

    # workflow runs: (trace, workflow) -> outcome of the last workflow/resume span to end
    runs: dict[tuple[str, str], _Run] = {}
    holders = index.of_kind("workflow") + index.of_kind("resume")
    for span in sorted(holders, key=lambda s: s.end_ns):
        name = text_attr(span.attributes, "gen_ai.workflow.name") or display_name(span, "workflow")
        entry_run = runs.setdefault((span.trace_id, name), _Run(name))
        entry_run.end_ns, entry_run.failed = span.end_ns, span.is_error

    def run_of(span: Any) -> _Run | None:
        holder = index.nearest(span, "workflow") or index.nearest(span, "resume")
        if holder is None:
            return None
        name = text_attr(holder.attributes, "gen_ai.workflow.name") or display_name(
            holder, "workflow"
        )
        return runs.get((span.trace_id, name))

    # --- failures ---
    groups: dict[tuple[str, str, str, str], list[tuple[Any, _Run | None]]] = defaultdict(list)
    for span in spans:
        kind = index.kind_of(span)
        if kind == "gate":
            if text_attr(span.attributes, "agentobs.gate.result") != "fail":
                continue
            error = f"gate {display_name(span, 'gate')}"
            reason = text_attr(span.attributes, "agentobs.gate.reason")[:_MAX_REASON]
        elif span.is_error:
            error = text_attr(span.attributes, "error.type") or "_OTHER"
            below = children.get((span.trace_id, span.span_id), ())
            if any(c.is_error and text_attr(c.attributes, "error.type") == error for c in below):
                continue  # it propagated from a child: counted there
            reason = ""
        else:
            continue
        run = run_of(span)
        stage = index.inherited(span, "agentobs.stage.name")
        groups[(run.workflow if run else "", stage, error, reason)].append((span, run))

    failures: list[FailurePattern] = []
    for (workflow, stage, error, reason), found in groups.items():
        recover_times = [
            max(0.0, (run.end_ns - span.end_ns) / 1e9)
            for span, run in found
            if run is not None and not run.failed
        ]
        in_runs = [run for _, run in found if run is not None]
        personas = sorted({p for p in (index.persona(s) for s, _ in found) if p})
        models: set[str] = set()
        for span, _ in found:
            models |= models_under.get(id(span), set())
            stage_span = index.nearest(span, "stage")
            if stage_span is not None:
                models |= models_under.get(id(stage_span), set())
        starts = [span.start_ns for span, _ in found]
        failures.append(
            FailurePattern(
                workflow=workflow,
                stage=stage,
                error_type=error,
                reason=reason,
                occurrences=len(found),
                runs=len({id(r) for r in in_runs}),
                first_seen=iso_time(min(starts)),
                last_seen=iso_time(max(starts)),
                recovered=len(recover_times),
                recovery_rate=_rounded(len(recover_times) / len(found)) if in_runs else None,
                mean_time_to_recover_s=_rounded(sum(recover_times) / len(recover_times))
                if recover_times
                else None,
                personas=tuple(personas),
                models=tuple(sorted(models)),
            )
        )
    failures.sort(key=lambda f: (-f.occurrences, f.workflow, f.stage, f.error_type))

    # --- successes ---
    by_task: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for span in index.of_kind("task"):
        agent = text_attr(span.attributes, "gen_ai.agent.name")
        if not agent:
            holder = index.nearest(span, "agent")
            agent = display_name(holder, "agent") if holder else ""
        task_type = text_attr(span.attributes, "agentobs.task.type") or display_name(span, "task")
        by_task[(agent, task_type)].append(span)
    successes: list[SuccessPattern] = []
    for (agent, task_type), attempts in by_task.items():
        good = [s.duration_s for s in attempts if not s.is_error]
        tokens = sum(usage[id(s)][0] for s in attempts if id(s) in usage)
        cost = sum(usage[id(s)][1] for s in attempts if id(s) in usage)
        count = len(good)
        successes.append(
            SuccessPattern(
                agent=agent,
                task_type=task_type,
                attempts=len(attempts),
                successes=count,
                success_rate=round(count / len(attempts), 6),
                mean_s=_rounded(sum(good) / count) if count else None,
                p95_s=_rounded(_percentile(good, 0.95)),
                tokens_per_success=_rounded(tokens / count) if count and tokens else None,
                cost_per_success_usd=_rounded(cost / count, 9) if count and cost else None,
                proven=count >= PROVEN_AFTER,
            )
        )
    successes.sort(key=lambda s: (-s.successes, -s.success_rate, s.agent, s.task_type))

    # --- regressions ---
    subjects: dict[tuple[str, str], list[tuple[int, float, bool, float]]] = defaultdict(list)
    for span in spans:
        kind = index.kind_of(span)
        if kind == "stage":
            name = display_name(span, "stage")
            run = run_of(span)
            key = ("stage", f"{run.workflow}/{name}" if run else name)
        elif kind == "agent":
            key = ("agent", display_name(span, "agent"))
        elif kind == "llm":
            model = text_attr(span.attributes, "gen_ai.request.model")
            if not model:
                continue
            key = ("model", model)
        else:
            continue
        cost = usage[id(span)][1] if id(span) in usage else 0.0
        subjects[key].append((span.start_ns, span.duration_s, span.is_error, cost))
    regressions: list[Regression] = []
    if spans:
        middle = (min(s.start_ns for s in spans) + max(s.start_ns for s in spans)) / 2
        if split is not None:
            middle = split * 1e9
        for (kind, name), samples in sorted(subjects.items()):
            before = [s for s in samples if s[0] < middle]
            after = [s for s in samples if s[0] >= middle]
            if len(before) < MIN_SAMPLES or len(after) < MIN_SAMPLES:
                continue
            regressions.extend(_compare(kind, name, before, after))

    start = min((s.start_ns for s in spans), default=None)
    end = max((s.end_ns for s in spans), default=None)
    return Insights(
        source=source,
        since=None if since is None else iso_time(int(since * 1e9)),
        start=None if start is None else iso_time(start),
        end=None if end is None else iso_time(end),
        spans=len(spans),
        workflow_runs=len(runs),
        failures=failures,
        successes=successes,
        regressions=regressions,
    )


def _compare(
    kind: str,
    name: str,
    before: list[tuple[int, float, bool, float]],
    after: list[tuple[int, float, bool, float]],
) -> Iterable[Regression]:
    def make(metric: str, old: float, new: float) -> Regression:
        return Regression(kind, name, metric, round(old, 6), round(new, 6), len(before), len(after))

    old_p95 = _percentile([s[1] for s in before], 0.95) or 0.0
    new_p95 = _percentile([s[1] for s in after], 0.95) or 0.0
    if new_p95 >= old_p95 * P95_RATIO and new_p95 - old_p95 >= P95_MIN_SECONDS:
        yield make("p95_duration_s", old_p95, new_p95)
    old_rate = sum(s[2] for s in before) / len(before)
    new_rate = sum(s[2] for s in after) / len(after)
    if new_rate - old_rate >= FAILURE_RATE_POINTS - 1e-9:
        yield make("failure_rate", old_rate, new_rate)
    old_cost = sum(s[3] for s in before) / len(before)
    new_cost = sum(s[3] for s in after) / len(after)
    if old_cost > 0 and new_cost >= old_cost * COST_RATIO and math.isfinite(new_cost):
        yield make("cost_per_run_usd", old_cost, new_cost)
