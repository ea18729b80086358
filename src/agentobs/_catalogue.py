"""The catalogue: every instrument agentobs emits, and the one way to record into them.

Each :class:`Instrument` names its kind, unit, description, the attributes it accepts and,
for histograms, its bucket boundaries. ``docs/metrics.md`` is generated from this table
(``python -m agentobs._catalogue > docs/metrics.md``) and a test fails when it is stale.

Metric attributes are bounded: a key the catalogue does not list for an instrument is dropped
(one warning), and once a key has seen ``VALUE_LIMIT`` distinct values, further values fold
into ``_other`` (one warning). Identifiers (trace, task, session, user, test ids) belong on
spans only and are never accepted here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _names as n
from ._errors import warn_once

VALUE_LIMIT = 200
"""Distinct values one attribute of one instrument may take before the rest fold together."""

_CACHE_LIMIT = 4096

DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
WORKFLOW_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
AGENT_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
STAGE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LONG_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 259200, 604800)
"""Seconds, up to a week: sessions and suspensions (a workflow may wait days for a review)."""
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip


@dataclass(frozen=True)
class Instrument:
    """One metric: what it is called, measures and may be broken down by."""

    name: str
    kind: str  # counter | updown_counter | histogram | gauge | observable_gauge
    unit: str
    description: str
    attributes: tuple[str, ...]
    buckets: tuple[float, ...] | None = None

    @property
    def prometheus_name(self) -> str:
        """The name the Prometheus scrape endpoint exposes (``_bucket``/``_sum``/``_count``
        are added to histograms)."""
        return prometheus_name(self.name, self.unit, self.kind)


_PERSONA = n.PERSONA_NAME
CATALOGUE: tuple[Instrument, ...] = (
    Instrument(
        "gen_ai.workflow.duration",
        "histogram",
        "s",
        "Duration of a workflow run (equals its invoke_workflow span).",
        (n.WORKFLOW_NAME, n.ERROR_TYPE, _PERSONA),
        WORKFLOW_BUCKETS,
    ),
    Instrument(
        "agentobs.workflow.runs",
        "counter",
        "{run}",
        "Workflow runs that ended, by status (ok, error, cancelled; suspended when the run "
        "took a checkpoint to continue elsewhere) and whether a human intervened in it.",
        (n.WORKFLOW_NAME, n.STATUS, _PERSONA, n.HUMAN_INTERVENED),
    ),
    Instrument(
        "agentobs.workflow.active",
        "updown_counter",
        "{workflow}",
        "Workflow runs in progress now.",
        (n.WORKFLOW_NAME,),
    ),
    Instrument(
        "agentobs.workflow.oldest_age",
        "observable_gauge",
        "s",
        "Age of the oldest workflow run still in progress, per workflow and state (working, "
        "or waiting inside agentobs.suspended); a resumed run counts from its first start.",
        (n.WORKFLOW_NAME, n.WORKFLOW_STATE),
    ),
    Instrument(
        "agentobs.workflow.suspended",
        "observable_gauge",
        "{workflow}",
        "Workflow runs suspended now (inside agentobs.suspended), by suspension point.",
        (n.WORKFLOW_NAME, n.SUSPENSION_POINT),
    ),
    Instrument(
        "agentobs.suspension.duration",
        "histogram",
        "s",
        "Time a workflow spent suspended (waiting on the outside world), by suspension point; "
        "recorded where the suspension ends, in the resuming process for a checkpoint.",
        (n.WORKFLOW_NAME, n.STAGE_NAME, n.SUSPENSION_POINT, _PERSONA),
        LONG_BUCKETS,
    ),
    Instrument(
        "agentobs.workflow.checkpoints",
        "counter",
        "{checkpoint}",
        "Checkpoints taken (agentobs.checkpoint), by workflow and suspension point.",
        (n.WORKFLOW_NAME, n.SUSPENSION_POINT),
    ),
    Instrument(
        "agentobs.workflow.resumes",
        "counter",
        "{resume}",
        "Attempts to resume from a checkpoint, by result (ok, malformed, tampered, expired): "
        "attempts are the sum, successes result=ok.",
        (n.WORKFLOW_NAME, n.SUSPENSION_POINT, n.RESUME_RESULT),
    ),
    Instrument(
        "agentobs.session.active",
        "observable_gauge",
        "{session}",
        "Sessions in progress now (agentobs.session scopes), by kind.",
        (n.SESSION_KIND,),
    ),
    Instrument(
        "agentobs.session.duration",
        "histogram",
        "s",
        "Duration of a session scope, by kind and outcome (ok, error, cancelled).",
        (n.SESSION_KIND, n.STATUS),
        LONG_BUCKETS,
    ),
    Instrument(
        "agentobs.delegations",
        "counter",
        "{delegation}",
        "Work one agent gave another: an agent scope inside another (kind nested, with the "
        "inner agent's status) or agentobs.handoff (kind handoff, status ok).",
        (n.DELEGATION_FROM, n.DELEGATION_TO, n.DELEGATION_KIND, n.STATUS),
    ),
    Instrument(
        "agentobs.queue.depth",
        "observable_gauge",
        "{item}",
        "Items in an application queue now, by state (pending, in_progress).",
        (n.QUEUE_NAME, n.QUEUE_STATE),
    ),
    Instrument(
        "agentobs.queue.enqueued",
        "counter",
        "{item}",
        "Items put on a queue.",
        (n.QUEUE_NAME,),
    ),
    Instrument(
        "agentobs.queue.completed",
        "counter",
        "{item}",
        "Items a queue's consumers finished, by status (throughput: its rate).",
        (n.QUEUE_NAME, n.STATUS),
    ),
    Instrument(
        "agentobs.queue.wait",
        "histogram",
        "s",
        "Time an item waited in a queue before work on it started.",
        (n.QUEUE_NAME,),
        STAGE_BUCKETS,
    ),
    Instrument(
        "agentobs.queue.service",
        "histogram",
        "s",
        "Time spent working on a queue item, by status.",
        (n.QUEUE_NAME, n.STATUS),
        STAGE_BUCKETS,
    ),
    Instrument(
        "agentobs.stage.duration",
        "histogram",
        "s",
        "Duration of a stage, by workflow, stage and persona.",
        (n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA, n.ERROR_TYPE),
        STAGE_BUCKETS,
    ),
    Instrument(
        "agentobs.stage.reentries",
        "counter",
        "{reentry}",
        "Stages entered again within the same workflow run.",
        (n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.task.runs",
        "counter",
        "{run}",
        "Tasks that ended, by agent, task type and status.",
        (n.AGENT_NAME, n.TASK_TYPE, n.STATUS, _PERSONA),
    ),
    Instrument(
        "agentobs.task.duration",
        "histogram",
        "s",
        "Duration of a task, by agent, task type and status.",
        (n.AGENT_NAME, n.TASK_TYPE, n.STATUS, _PERSONA),
        STAGE_BUCKETS,
    ),
    Instrument(
        "agentobs.task.wait",
        "histogram",
        "s",
        "Time a task waited between being enqueued (task(..., enqueued_at=...)) and starting.",
        (n.AGENT_NAME, n.TASK_TYPE),
        STAGE_BUCKETS,
    ),
    Instrument(
        "gen_ai.invoke_agent.duration",
        "histogram",
        "s",
        "Duration of an agent invocation (equals its invoke_agent span).",
        (n.AGENT_NAME, n.ERROR_TYPE, _PERSONA),
        AGENT_BUCKETS,
    ),
    Instrument(
        "gen_ai.execute_tool.duration",
        "histogram",
        "s",
        "Duration of a tool execution (equals its execute_tool span).",
        (n.TOOL_NAME, n.TOOL_TYPE, n.AGENT_NAME, n.ERROR_TYPE, _PERSONA),
        DURATION_BUCKETS,
    ),
    Instrument(
        "agentobs.persona.switches",
        "counter",
        "{switch}",
        "Changes of the current persona, from one to another, with the new chat mode.",
        (n.PERSONA_FROM, n.PERSONA_TO, n.PERSONA_CHATMODE, n.WORKFLOW_NAME),
    ),
    Instrument(
        "agentobs.persona.duration",
        "histogram",
        "s",
        "Time spent in a persona block.",
        (_PERSONA, n.PERSONA_CHATMODE, n.WORKFLOW_NAME),
        STAGE_BUCKETS,
    ),
    Instrument(
        "agentobs.gate.checks",
        "counter",
        "{check}",
        "Quality-gate checks, by gate and result (pass, fail), workflow and stage.",
        (n.GATE_NAME, n.GATE_RESULT, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.gate.score",
        "histogram",
        "1",
        "Scores given by quality gates.",
        (n.GATE_NAME, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
        SCORE_BUCKETS,
    ),
    Instrument(
        "agentobs.human_interventions",
        "counter",
        "{intervention}",
        "Times a person had to step in, by reason.",
        (n.INTERVENTION_REASON, n.WORKFLOW_NAME, n.STAGE_NAME, _PERSONA),
    ),
    # pytest plugin (agentobs.pytest_plugin): recorded once per test and once per run by the
    # process that owns the session (the xdist controller), never by the workers.
    Instrument(
        "agentobs.test.cases",
        "counter",
        "{test}",
        "Tests that ran, by final outcome (passed, failed, error, skipped, xfailed, xpassed), "
        "category and suite.",
        (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
    ),
    Instrument(
        "agentobs.test.duration",
        "histogram",
        "s",
        "Duration of a test (setup, call and teardown of every attempt), by outcome, category "
        "and suite.",
        (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
        (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    ),
    Instrument(
        "agentobs.test.flaky",
        "counter",
        "{test}",
        "Tests found flaky, by how (rerun: failed then passed in the same run; history: the "
        "outcome flipped across runs while the test's code did not), category and suite.",
        (n.TEST_FLAKY_KIND, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
    ),
    Instrument(
        "agentobs.test_run.tests",
        "observable_gauge",
        "{test}",
        "Tests of the last run, by outcome and category (a gauge, fit for short-lived jobs).",
        (n.TEST_OUTCOME, n.TEST_CATEGORY, n.TEST_SUITE_NAME),
    ),
    Instrument(
        "agentobs.test_run.pass_rate",
        "observable_gauge",
        "1",
        "Pass rate of the last run: passed / (passed + failed + error).",
        (n.TEST_SUITE_NAME,),
    ),
    Instrument(
        "agentobs.test_run.flaky",
        "observable_gauge",
        "{test}",
        "Flaky tests in the last run (either way of detecting them).",
        (n.TEST_SUITE_NAME,),
    ),
    Instrument(
        "agentobs.test_run.duration",
        "observable_gauge",
        "s",
        "Wall-clock duration of the last run.",
        (n.TEST_SUITE_NAME,),
    ),
    Instrument(
        "agentobs.test_run.coverage",
        "observable_gauge",
        "1",
        "Line coverage ratio (0-1) of the last run, when pytest-cov measured it.",
        (n.TEST_SUITE_NAME,),
    ),
    Instrument(
        "agentobs.test_run.timestamp",
        "observable_gauge",
        "s",
        "Unix time at which the last run ended.",
        (n.TEST_SUITE_NAME,),
    ),
    # LLM calls (agentobs.llm and the OpenAI / Anthropic integrations). Token types of the
    # agentobs.tokens counter: input and output are totals (input includes cached input,
    # output includes reasoning); cache_read, cache_creation and reasoning are parts of them.
    Instrument(
        "gen_ai.client.token.usage",
        "histogram",
        "{token}",
        "Billable tokens per LLM call, by token type (input, output), as the provider reported.",
        (
            n.OPERATION,
            n.PROVIDER,
            n.TOKEN_TYPE,
            n.REQUEST_MODEL,
            n.RESPONSE_MODEL,
            n.SERVER_ADDRESS,
            n.SERVER_PORT,
            _PERSONA,
        ),
        TOKEN_BUCKETS,
    ),
    Instrument(
        "gen_ai.client.operation.duration",
        "histogram",
        "s",
        "Duration of an LLM call, until its stream (if any) ended.",
        (
            n.OPERATION,
            n.PROVIDER,
            n.REQUEST_MODEL,
            n.RESPONSE_MODEL,
            n.SERVER_ADDRESS,
            n.SERVER_PORT,
            n.ERROR_TYPE,
            _PERSONA,
        ),
        DURATION_BUCKETS,
    ),
    Instrument(
        "gen_ai.client.operation.time_to_first_chunk",
        "histogram",
        "s",
        "Time from the start of a streaming LLM call to its first chunk.",
        (
            n.OPERATION,
            n.PROVIDER,
            n.REQUEST_MODEL,
            n.RESPONSE_MODEL,
            n.SERVER_ADDRESS,
            n.SERVER_PORT,
            _PERSONA,
        ),
        DURATION_BUCKETS,
    ),
    Instrument(
        "agentobs.tokens",
        "counter",
        "{token}",
        "Tokens used by LLM calls, by type (input and output are totals; cache_read, "
        "cache_creation and reasoning are parts of them), model, provider, persona, workflow.",
        (n.TOKEN_TYPE, n.REQUEST_MODEL, n.PROVIDER, _PERSONA, n.WORKFLOW_NAME),
    ),
    Instrument(
        "agentobs.cost",
        "counter",
        "{USD}",
        "Cost of LLM calls in US dollars, by model, provider, persona, workflow and where the "
        "price came from (genai-prices, user, provider). Unpriced calls add nothing here.",
        (n.REQUEST_MODEL, n.PROVIDER, _PERSONA, n.WORKFLOW_NAME, n.COST_SOURCE),
    ),
    Instrument(
        "agentobs.cost.unpriced_calls",
        "counter",
        "{call}",
        "LLM calls whose model has no known price (their cost is unknown, not zero).",
        (n.REQUEST_MODEL, n.PROVIDER, _PERSONA),
    ),
    Instrument(
        "agentobs.cost.unpriced_tokens",
        "counter",
        "{token}",
        "Tokens (input, output) of LLM calls whose model has no known price.",
        (n.REQUEST_MODEL, n.PROVIDER, n.TOKEN_TYPE, _PERSONA),
    ),
    Instrument(
        "agentobs.budget.tokens.limit",
        "gauge",
        "{token}",
        "Token limit of a budget.",
        (n.BUDGET_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.budget.tokens.remaining",
        "gauge",
        "{token}",
        "Tokens left in a budget (negative once it is overspent).",
        (n.BUDGET_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.budget.cost.limit",
        "gauge",
        "{USD}",
        "Cost limit of a budget, in US dollars.",
        (n.BUDGET_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.budget.cost.remaining",
        "gauge",
        "{USD}",
        "US dollars left in a budget (negative once it is overspent).",
        (n.BUDGET_NAME, _PERSONA),
    ),
    Instrument(
        "agentobs.budget.breaches",
        "counter",
        "{breach}",
        "Budgets that ran out, by budget, unit (token or USD), policy (warn, raise), persona.",
        (n.BUDGET_NAME, n.BUDGET_UNIT, n.BUDGET_POLICY, _PERSONA),
    ),
)
"""Every instrument agentobs emits."""

BY_NAME: dict[str, Instrument] = {i.name: i for i in CATALOGUE}


# --- Prometheus naming (as opentelemetry-exporter-prometheus exposes it) ---

_UNITS = {
    "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
    "min": "minutes", "h": "hours", "d": "days", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "%": "percent", "1": "",
}  # fmt: skip


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """Translate an OpenTelemetry metric name and unit to its Prometheus name."""
    base = re.sub(r"[^a-zA-Z0-9:]+", "_", name)
    unit = re.sub(r"\{[^}]*\}", "", unit)
    suffix = _UNITS.get(unit, re.sub(r"[^a-zA-Z0-9]+", "_", unit))
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if kind == "counter" and not base.endswith("_total"):
        base = f"{base}_total"
    return base


def render_markdown() -> str:
    """docs/metrics.md, generated from the catalogue."""
    lines = [
        "# Metrics",
        "",
        "Generated from `src/agentobs/_catalogue.py` by `python -m agentobs._catalogue`;",
        "a test fails when this file is stale. Prometheus names are those the `/metrics`",
        "endpoint (`configure(prometheus_port=...)`) exposes; histograms add `_bucket`,",
        '`_sum` and `_count`. Every series also carries `otel_scope_name="agentobs"`.',
        "",
        "| OpenTelemetry name | Prometheus name | Kind | Unit | Attributes | Description |",
        "|---|---|---|---|---|---|",
    ]
    for i in CATALOGUE:
        attributes = ", ".join(f"`{a}`" for a in i.attributes)
        lines.append(
            f"| `{i.name}` | `{i.prometheus_name}` | {i.kind} | `{i.unit}` | {attributes} "
            f"| {i.description} |"
        )
    lines += ["", "## Histogram buckets", ""]
    for i in CATALOGUE:
        if i.buckets:
            lines.append(f"- `{i.name}`: {', '.join(f'{b:g}' for b in i.buckets)}")
    lines += [
        "",
        f"Attribute values are bounded: after {VALUE_LIMIT} distinct values of one attribute",
        f"of one metric, further values are recorded as `{n.OVERFLOW_VALUE}` (one warning).",
        "",
    ]
    return "\n".join(lines)


# --- Recording ---


class Recorder:
    """Records into one SDK instrument, keeping its attributes inside the catalogue's bounds."""

    __slots__ = ("_cache", "_lock", "_record", "_seen", "allowed", "instrument")

    def __init__(self, instrument: Instrument, record: Callable[..., None]) -> None:
        self.instrument = instrument
        self.allowed = frozenset(instrument.attributes)
        self._record = record
        self._cache: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._seen: dict[str, set[Any]] = {key: set() for key in instrument.attributes}
        self._lock = threading.Lock()

    def record(self, value: float, attributes: Mapping[str, Any]) -> None:
        """Record ``value`` with ``attributes`` (cleaned once per distinct attribute set)."""
        key = tuple(attributes.items())
        clean = self._cache.get(key)
        if clean is None:
            clean = self._clean(attributes)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = clean
        self._record(value, clean)

    def bind(self, attributes: Mapping[str, Any]) -> tuple[Callable[..., None], Any]:
        """A record function and ``attributes`` cleaned (for a counter: their key), for a
        caller that keeps both and records with ``fn(value, clean, context)`` (the hot path
        of ``_api``)."""
        key = tuple(attributes.items())
        clean = self._cache.get(key)
        if clean is None:
            clean = self._clean(attributes)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = clean
        totals = getattr(self._record, "__self__", None)
        if isinstance(totals, CounterTotals):  # the key, computed once instead of per add
            return totals.add_key, frozenset(clean.items())
        return self._record, clean

    def _clean(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        name = self.instrument.name
        with self._lock:
            for key, value in attributes.items():
                if value is None:
                    continue
                if key not in self.allowed:
                    warn_once(
                        f"metric-attr:{name}:{key}",
                        "agentobs: metric %s does not accept attribute %r; dropped (put ids "
                        "and other unbounded values on spans)",
                        name,
                        key,
                    )
                    continue
                if not isinstance(value, (str, bool, int, float)):
                    value = str(value)
                seen = self._seen[key]
                if value not in seen:
                    if len(seen) >= VALUE_LIMIT:
                        warn_once(
                            f"metric-overflow:{name}:{key}",
                            "agentobs: attribute %r of metric %s passed %d distinct values; "
                            "further values are recorded as %r",
                            key,
                            name,
                            VALUE_LIMIT,
                            n.OVERFLOW_VALUE,
                        )
                        value = n.OVERFLOW_VALUE
                    else:
                        seen.add(value)
                clean[key] = value
        return clean


class CounterTotals:
    """A counter aggregated in-process and reported as an asynchronous (observable) counter.

    Adding is a dict update under a lock, about a tenth of an SDK measurement, which matters
    on the hot path (every task and workflow run adds to one). The SDK reads the cumulative
    totals at each collection; Prometheus and OTLP see an ordinary monotonic counter under
    the same name. Amounts that are negative, NaN or infinite are ignored, as the SDK does.
    """

    __slots__ = ("_lock", "_totals", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._totals: dict[frozenset[tuple[str, Any]], float] = {}

    def add(self, amount: float, attributes: Mapping[str, Any], context: Any = None) -> None:
        """Add ``amount`` to the total of ``attributes`` (already cleaned by the recorder)."""
        self.add_key(amount, frozenset(attributes.items()))

    def add_key(self, amount: float, key: frozenset[tuple[str, Any]], context: Any = None) -> None:
        """Add ``amount`` to the total of the attributes ``key`` stands for (``bind``'s)."""
        if not 0 <= amount < _INF:
            warn_once(
                f"counter-amount:{self.name}",
                "agentobs: counter %s ignores amount %r (negative or not finite)",
                self.name,
                amount,
            )
            return
        with self._lock:
            totals = self._totals
            totals[key] = totals.get(key, 0) + amount

    def totals(self) -> list[tuple[float, dict[str, Any]]]:
        """Every total so far with its attributes."""
        with self._lock:
            items = list(self._totals.items())
        return [(total, dict(key)) for key, total in items]


_INF = float("inf")


class LiveCounts:
    """Counts of things in progress now (sessions, queue items), kept in-process and read by
    an observable gauge: adding is a dict update under a lock, far cheaper than an SDK
    up-down counter on a hot path. Keys are attribute tuples ``((key, value), ...)``; a key
    back at zero is forgotten, so memory follows what is live, not what ever was."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[tuple[str, Any], ...], int] = {}

    def add(self, key: tuple[tuple[str, Any], ...], delta: int) -> None:
        """Add ``delta`` to the count of ``key`` (never below zero)."""
        with self._lock:
            count = self._counts.get(key, 0) + delta
            if count > 0:
                self._counts[key] = count
            else:
                self._counts.pop(key, None)

    def get(self, key: tuple[tuple[str, Any], ...]) -> int:
        """The count of ``key`` now."""
        return self._counts.get(key, 0)

    def observe(self) -> list[tuple[float, Mapping[str, Any]]]:
        """Every live count with its attributes (for the gauge's callback)."""
        with self._lock:
            items = list(self._counts.items())
        return [(count, dict(key)) for key, count in items]

    def clear(self) -> None:
        """Forget every count (``agentobs.testing.reset``)."""
        with self._lock:
            self._counts.clear()


class _Disabled:
    """Stands in for a recorder before configure(): accepts and drops."""

    def record(self, value: float, attributes: Mapping[str, Any]) -> None:
        return None


DISABLED = _Disabled()


def build(
    meter: Any,
    callbacks: Mapping[str, Callable[[], Iterable[tuple[float, Mapping[str, Any]]]]],
) -> dict[str, Recorder]:
    """Create every catalogue instrument on ``meter``; return recorders by name."""
    from opentelemetry.metrics import CallbackOptions, Observation

    recorders: dict[str, Recorder] = {}
    for i in CATALOGUE:
        if i.kind == "counter":
            totals = CounterTotals(i.name)

            def observe_totals(
                _options: CallbackOptions, totals: CounterTotals = totals
            ) -> Iterable[Observation]:
                return [Observation(v, a) for v, a in totals.totals()]

            meter.create_observable_counter(
                i.name, callbacks=[observe_totals], unit=i.unit, description=i.description
            )
            recorders[i.name] = Recorder(i, totals.add)
        elif i.kind == "updown_counter":
            updown = meter.create_up_down_counter(i.name, unit=i.unit, description=i.description)
            recorders[i.name] = Recorder(i, updown.add)
        elif i.kind == "gauge":
            gauge = meter.create_gauge(i.name, unit=i.unit, description=i.description)
            recorders[i.name] = Recorder(i, gauge.set)
        elif i.kind == "histogram":
            histogram = meter.create_histogram(
                i.name,
                unit=i.unit,
                description=i.description,
                explicit_bucket_boundaries_advisory=list(i.buckets or ()),
            )
            recorders[i.name] = Recorder(i, histogram.record)
        elif i.kind == "observable_gauge" and i.name in callbacks:
            source = callbacks[i.name]
            recorder = Recorder(i, lambda value, attributes: None)

            def observe(
                _options: CallbackOptions,
                source: Callable[[], Iterable[tuple[float, Mapping[str, Any]]]] = source,
                recorder: Recorder = recorder,
            ) -> Iterable[Observation]:
                return [Observation(v, recorder._clean(a)) for v, a in source()]

            meter.create_observable_gauge(
                i.name, callbacks=[observe], unit=i.unit, description=i.description
            )
            recorders[i.name] = recorder
    return recorders


if __name__ == "__main__":
    print(render_markdown(), end="")
