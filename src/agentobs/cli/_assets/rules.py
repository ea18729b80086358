"""Prometheus alerting and recording rules, generated from the catalogue.

Every threshold lives in :data:`THRESHOLDS` (documented there and in docs/runbooks/README.md);
``agentobs export alerts --set NAME=VALUE`` overrides one. Each alert is a list of
``(query, condition)`` parts joined by ``and``: the query alone (the threshold removed) is
what the live test runs against Prometheus and requires to be non-empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _metrics as m
from ._metrics import names as n

GROUP = "agentobs"
RUNBOOK_BASE = "https://github.com/agentobs/agentobs/blob/main/docs/runbooks"


@dataclass(frozen=True)
class Threshold:
    value: float | str
    doc: str


THRESHOLDS: dict[str, Threshold] = {
    "slo_success_ratio": Threshold(0.99, "Success objective of workflows, tasks and LLM calls."),
    "burn_fast": Threshold(14.4, "Burn rate paging over 1 h and 5 m (2 % of a 30-day budget/h)."),
    "burn_slow": Threshold(6.0, "Burn rate warning over 6 h and 30 m (5 % of the budget in 6 h)."),
    "burn_min_events": Threshold(10, "Runs or calls an hour needs before a burn-rate alert fires."),
    "budget_low_ratio": Threshold(0.10, "Budget remaining, as a share of its limit, to warn at."),
    "budget_predict_window": Threshold("30m", "History predict_linear extrapolates from."),
    "budget_predict_horizon_seconds": Threshold(3600, "How far ahead a budget must last."),
    "gate_failure_ratio": Threshold(0.25, "Share of failing quality-gate checks over 30 m."),
    "gate_min_checks": Threshold(4, "Checks of a gate in 30 m before its failure rate counts."),
    "persona_switches_per_minute": Threshold(10, "Persona switches per minute (thrashing)."),
    "stage_p95_seconds": Threshold(600, "p95 duration of a stage over 30 m."),
    "workflow_stuck_seconds": Threshold(3600, "Age of a running workflow run (stuck)."),
    "llm_p95_seconds": Threshold(20, "p95 duration of LLM calls over 10 m."),
    "agent_slowdown_ratio": Threshold(1.5, "Agent mean duration, last hour over last 24 h."),
    "agent_min_invocations": Threshold(10, "Invocations an hour before the slowdown counts."),
    "test_pass_rate": Threshold(0.95, "Pass rate of a test run to stay above."),
    "flaky_tests": Threshold(3, "Flaky tests in a run to stay at or below."),
    "test_run_seconds": Threshold(1800, "Duration of a test run to stay below."),
    "test_run_max_age_seconds": Threshold(86400, "Time without a test run (per suite)."),
    "scrape_jobs": Threshold(".*agentobs.*", "Regex of the scrape jobs that serve agentobs."),
    "exporter_failure_ratio": Threshold(0.1, "Share of an exporter's items failing over 5 m."),
    "telemetry_dropped_items": Threshold(0, "Items a batch processor may drop in 10 m."),
    "queue_fill_ratio": Threshold(0.9, "Share of a batch queue's capacity in use (drops next)."),
}


def defaults() -> dict[str, float | str]:
    """Every threshold's default value."""
    return {name: t.value for name, t in THRESHOLDS.items()}


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    parts: tuple[tuple[str, str], ...]  # (query, condition such as "> 0.1")
    summary: str
    description: str
    for_: str = "0m"
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def expr(self) -> str:
        return " and ".join(f"({q}) {c}".strip() if c else q for q, c in self.parts)


WF, AGENT, TASK_TYPE = m.label(n.WORKFLOW_NAME), m.label(n.AGENT_NAME), m.label(n.TASK_TYPE)
PROVIDER, MODEL, STAGE = m.label(n.PROVIDER), m.label(n.REQUEST_MODEL), m.label(n.STAGE_NAME)
GATE, SUITE, STATUS = m.label(n.GATE_NAME), m.label(n.TEST_SUITE_NAME), m.label(n.STATUS)
BUDGET, UNIT = m.label(n.BUDGET_NAME), m.label(n.BUDGET_UNIT)
WINDOWS = ("5m", "30m", "1h", "6h")


@dataclass(frozen=True)
class _Sli:
    """An error ratio: errors / all, by ``labels``, over the catalogue series ``total``."""

    key: str
    title: str
    total: str
    errors: str
    labels: tuple[str, ...]

    def record(self, window: str) -> str:
        return f"agentobs:{self.key}_errors:ratio_rate{window}"

    def ratio(self, window: str) -> str:
        by = f"sum by (job, {', '.join(self.labels)})"
        return (
            f"({by} (rate({self.errors}[{window}])) or {by} (rate({self.total}[{window}])) * 0)"
            f" / {by} (rate({self.total}[{window}]))"
        )

    def traffic(self) -> str:
        return f"sum by (job, {', '.join(self.labels)}) (increase({self.total}[1h]))"


def _slis() -> tuple[_Sli, ...]:
    runs, tasks = m.series("agentobs.workflow.runs"), m.series("agentobs.task.runs")
    calls = m.series("gen_ai.client.operation.duration", "count")
    return (
        _Sli("workflow", "workflow runs", runs, f'{runs}{{{STATUS}="error"}}', (WF,)),
        _Sli("task", "tasks", tasks, f'{tasks}{{{STATUS}="error"}}', (AGENT, TASK_TYPE)),
        _Sli("llm", "LLM calls", calls, f'{calls}{{error_type!=""}}', (PROVIDER, MODEL)),
    )


BUDGET_RATIO = "agentobs:budget_remaining:ratio"
EXPORTER_FAILURES = "agentobs:exporter_failures:ratio_rate5m"
COMPONENT_TYPE, COMPONENT = m.label("otel.component.type"), m.label("otel.component.name")
BY_COMPONENT = f"sum by (job, {COMPONENT_TYPE}, {COMPONENT})"
EXPORTED = tuple(
    m.series(f"otel.sdk.exporter.{key}.exported") for key in ("span", "log", "metric_data_point")
)
"""The self-telemetry counters of exporters, one per signal."""
QUEUED = ("span", "log")
"""The signals that go through a batch processor (its queue can fill and drop)."""


def _exporter_failures() -> str:
    """Share of each exporter's items that failed over 5 m; 0 when none did."""
    failed = [f'{BY_COMPONENT} (rate({name}{{error_type!=""}}[5m]))' for name in EXPORTED]
    total = [f"{BY_COMPONENT} (rate({name}[5m]))" for name in EXPORTED]
    zero = [f"{t} * 0" for t in total]
    return f"({' or '.join(failed + zero)}) / ({' or '.join(total)})"


def dropped_items(window: str) -> str:
    """Items each batch processor dropped over ``window``, by error type."""
    by = f"sum by (job, {COMPONENT_TYPE}, {COMPONENT}, error_type)"
    return " or ".join(
        f"{by} (increase({m.series(f'otel.sdk.processor.{key}.processed')}"
        f'{{error_type!=""}}[{window}]))'
        for key in QUEUED
    )


def queue_fill() -> str:
    """The share of its capacity each batch queue holds."""
    return " or ".join(
        f"max by (job, {COMPONENT_TYPE}, {COMPONENT}) "
        f"({m.series(f'otel.sdk.processor.{key}.queue.size')} / "
        f"{m.series(f'otel.sdk.processor.{key}.queue.capacity')})"
        for key in QUEUED
    )


def recording_rules() -> list[dict[str, str]]:
    """Error ratios per window for the burn-rate alerts, and budgets as a share left."""
    rules = [{"record": sli.record(w), "expr": sli.ratio(w)} for sli in _slis() for w in WINDOWS]
    parts = []
    for unit, kind in (("token", "tokens"), ("USD", "cost")):
        remaining = m.series(f"agentobs.budget.{kind}.remaining")
        limit = m.series(f"agentobs.budget.{kind}.limit")
        parts.append(f'label_replace({remaining} / ({limit} > 0), "{UNIT}", "{unit}", "", "")')
    rules.append({"record": BUDGET_RATIO, "expr": " or ".join(parts)})
    rules.append({"record": EXPORTER_FAILURES, "expr": _exporter_failures()})
    return rules


def alerts(t: Mapping[str, float | str]) -> list[Alert]:
    """Every alert, with thresholds ``t``."""
    budget = 1 - float(t["slo_success_ratio"])
    out: list[Alert] = []
    for sli in _slis():
        name = f"Agentobs{sli.key.capitalize() if sli.key != 'llm' else 'LLM'}ErrorBudgetBurn"
        where = " ".join(f"{{{{ $labels.{label} }}}}" for label in sli.labels)
        for severity, long, short, factor, for_ in (
            ("critical", "1h", "5m", float(t["burn_fast"]), "2m"),
            ("warning", "6h", "30m", float(t["burn_slow"]), "15m"),
        ):
            limit = round(factor * budget, 6)
            out.append(
                Alert(
                    name,
                    severity,
                    (
                        (sli.record(long), f"> {limit}"),
                        (sli.record(short), f"> {limit}"),
                        (sli.traffic(), f">= {t['burn_min_events']}"),
                    ),
                    f"{sli.title[0].upper()}{sli.title[1:]} are failing fast enough to spend "
                    "the error "
                    "budget early.",
                    f"The error ratio of {sli.title} of {where} (job {{{{ $labels.job }}}}) "
                    f"is {{{{ $value | humanizePercentage }}}} over {long}, above {factor}x "
                    f"the {budget:.2%} error budget, and still so over {short}.",
                    for_,
                )
            )
    ratio = BUDGET_RATIO
    who = f"{{{{ $labels.{BUDGET} }}}} ({{{{ $labels.{UNIT} }}}})"
    out += [
        Alert(
            "AgentobsBudgetLow",
            "warning",
            ((ratio, f"< {t['budget_low_ratio']}"), (ratio, "> 0")),
            "A budget is almost spent.",
            f"Budget {who} has {{{{ $value | humanizePercentage }}}} of its limit left.",
            "1m",
        ),
        Alert(
            "AgentobsBudgetExhaustionPredicted",
            "critical",
            (
                (
                    f"predict_linear({ratio}[{t['budget_predict_window']}], "
                    f"{t['budget_predict_horizon_seconds']})",
                    "< 0",
                ),
                (ratio, "> 0"),
            ),
            "A budget will run out within the hour at the current spend.",
            f"Budget {who} is predicted at {{{{ $value | humanizePercentage }}}} of its limit "
            f"in {t['budget_predict_horizon_seconds']} s.",
            "5m",
        ),
        Alert(
            "AgentobsBudgetExhausted",
            "warning",
            ((ratio, "<= 0"),),
            "A budget is spent.",
            f"Budget {who} is overspent: {{{{ $value | humanizePercentage }}}} of its limit "
            "left (negative means over).",
        ),
    ]
    checks = m.series("agentobs.gate.checks")
    by_gate = f"sum by (job, {WF}, {GATE})"
    stage = m.series("agentobs.stage.duration", "bucket")
    llm = m.series("gen_ai.client.operation.duration", "bucket")
    agent_sum = m.series("gen_ai.invoke_agent.duration", "sum")
    agent_count = m.series("gen_ai.invoke_agent.duration", "count")

    def mean(window: str) -> str:
        by = f"sum by (job, {AGENT})"
        return f"({by} (rate({agent_sum}[{window}])) / {by} (rate({agent_count}[{window}])))"

    out += [
        Alert(
            "AgentobsQualityGateFailing",
            "warning",
            (
                (
                    f'({by_gate} (rate({checks}{{{m.label(n.GATE_RESULT)}="fail"}}[30m])) or '
                    f"{by_gate} (rate({checks}[30m])) * 0) / {by_gate} (rate({checks}[30m]))",
                    f"> {t['gate_failure_ratio']}",
                ),
                (f"{by_gate} (increase({checks}[30m]))", f">= {t['gate_min_checks']}"),
            ),
            "A quality gate fails often.",
            f"Gate {{{{ $labels.{GATE} }}}} of workflow {{{{ $labels.{WF} }}}} failed "
            "{{ $value | humanizePercentage }} of its checks over 30 minutes.",
            "5m",
        ),
        Alert(
            "AgentobsPersonaThrashing",
            "warning",
            (
                (
                    f"sum by (job, {WF}) (rate({m.series('agentobs.persona.switches')}[15m])) * 60",
                    f"> {t['persona_switches_per_minute']}",
                ),
            ),
            "Agents switch persona too often.",
            f"Workflow {{{{ $labels.{WF} }}}} switches persona {{{{ $value | humanize }}}} "
            "times a minute.",
            "15m",
        ),
        Alert(
            "AgentobsStageSlow",
            "warning",
            (
                (
                    f"histogram_quantile(0.95, sum by (job, {WF}, {STAGE}, le) "
                    f"(rate({stage}[30m])))",
                    f"> {t['stage_p95_seconds']}",
                ),
            ),
            "A workflow stage is slow.",
            f"Stage {{{{ $labels.{STAGE} }}}} of workflow {{{{ $labels.{WF} }}}} has a p95 "
            "duration of {{ $value | humanizeDuration }}.",
            "15m",
        ),
        Alert(
            "AgentobsWorkflowStuck",
            "warning",
            (
                (
                    f"max by (job, {WF}) ({m.series('agentobs.workflow.oldest_age')}"
                    f'{{{m.label(n.WORKFLOW_STATE)}="working"}})',
                    f"> {t['workflow_stuck_seconds']}",
                ),
            ),
            "A workflow run has been working for too long; waiting runs do not count.",
            f"The oldest working run of workflow {{{{ $labels.{WF} }}}} started "
            "{{ $value | humanizeDuration }} ago and has not ended.",
        ),
        Alert(
            "AgentobsLLMLatencyHigh",
            "warning",
            (
                (
                    f"histogram_quantile(0.95, sum by (job, {PROVIDER}, {MODEL}, le) "
                    f"(rate({llm}[10m])))",
                    f"> {t['llm_p95_seconds']}",
                ),
            ),
            "LLM calls are slow.",
            f"Calls to {{{{ $labels.{MODEL} }}}} ({{{{ $labels.{PROVIDER} }}}}) have a p95 "
            "duration of {{ $value | humanizeDuration }}.",
            "10m",
        ),
        Alert(
            "AgentobsAgentSlowerThanUsual",
            "warning",
            (
                (f"{mean('1h')} / {mean('24h')}", f"> {t['agent_slowdown_ratio']}"),
                (
                    f"sum by (job, {AGENT}) (increase({agent_count}[1h]))",
                    f">= {t['agent_min_invocations']}",
                ),
            ),
            "An agent is slower than over the last day.",
            f"Agent {{{{ $labels.{AGENT} }}}} took {{{{ $value | humanize }}}} times its "
            "24-hour mean duration over the last hour.",
            "15m",
        ),
        Alert(
            "AgentobsTestPassRateLow",
            "warning",
            ((m.series("agentobs.test_run.pass_rate"), f"< {t['test_pass_rate']}"),),
            "The last test run passed too few tests.",
            f"Suite {{{{ $labels.{SUITE} }}}} passed {{{{ $value | humanizePercentage }}}} "
            "of its tests in its last run.",
        ),
        Alert(
            "AgentobsFlakyTestsHigh",
            "warning",
            ((m.series("agentobs.test_run.flaky"), f"> {t['flaky_tests']}"),),
            "Too many flaky tests in the last test run.",
            f"Suite {{{{ $labels.{SUITE} }}}} had {{{{ $value }}}} flaky tests in its last run.",
        ),
        Alert(
            "AgentobsTestRunSlow",
            "warning",
            ((m.series("agentobs.test_run.duration"), f"> {t['test_run_seconds']}"),),
            "The last test run was slow.",
            f"Suite {{{{ $labels.{SUITE} }}}} took {{{{ $value | humanizeDuration }}}} in "
            "its last run.",
        ),
        Alert(
            "AgentobsTestRunMissing",
            "warning",
            (
                (
                    f"time() - {m.series('agentobs.test_run.timestamp')}",
                    f"> {t['test_run_max_age_seconds']}",
                ),
            ),
            "A test suite has not reported a run for too long.",
            f"Suite {{{{ $labels.{SUITE} }}}} last pushed a run "
            "{{ $value | humanizeDuration }} ago.",
        ),
        Alert(
            "AgentobsTargetDown",
            "critical",
            ((f'up{{job=~"{t["scrape_jobs"]}"}}', "== 0"),),
            "Prometheus cannot scrape an agentobs metrics endpoint.",
            "Target {{ $labels.instance }} of job {{ $labels.job }} has been down for 5 "
            "minutes: its metrics are not reported.",
            "5m",
        ),
    ]
    component = f"{{{{ $labels.{COMPONENT} }}}} (job {{{{ $labels.job }}}})"
    out += [
        Alert(
            "AgentobsExporterFailing",
            "warning",
            ((EXPORTER_FAILURES, f"> {t['exporter_failure_ratio']}"),),
            "An agentobs exporter fails to send its telemetry.",
            f"Exporter {component} failed {{{{ $value | humanizePercentage }}}} of its items "
            "over the last 5 minutes.",
            "5m",
        ),
        Alert(
            "AgentobsTelemetryDropped",
            "warning",
            ((dropped_items("10m"), f"> {t['telemetry_dropped_items']}"),),
            "An agentobs batch processor drops telemetry.",
            f"Processor {component} dropped {{{{ $value | humanize }}}} items "
            "({{ $labels.error_type }}) over the last 10 minutes.",
        ),
        Alert(
            "AgentobsTelemetryQueueFull",
            "info",
            ((queue_fill(), f"> {t['queue_fill_ratio']}"),),
            "An agentobs batch queue is nearly full.",
            f"The queue of processor {component} is {{{{ $value | humanizePercentage }}}} "
            "full: its exporter does not keep up, and items are dropped once it is full.",
            "5m",
        ),
    ]
    return out


def runbook_url(alert: str, base: str = RUNBOOK_BASE) -> str:
    return f"{base.rstrip('/')}/{alert}.md"


def rule_groups(
    thresholds: Mapping[str, float | str] | None = None, runbook_base: str = RUNBOOK_BASE
) -> dict[str, Any]:
    """The rule file's content: ``{"groups": [...]}``."""
    t = {**defaults(), **(thresholds or {})}
    alerting = []
    for alert in alerts(t):
        rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr}
        if alert.for_ != "0m":
            rule["for"] = alert.for_
        rule["labels"] = {"severity": alert.severity, **alert.labels}
        rule["annotations"] = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": runbook_url(alert.name, runbook_base),
        }
        alerting.append(rule)
    return {
        "groups": [
            {"name": f"{GROUP}.rules", "rules": recording_rules()},
            {"name": f"{GROUP}.alerts", "rules": alerting},
        ]
    }
