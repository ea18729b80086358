"""Grafana dashboards (classic dashboard JSON, Grafana 11), generated from the catalogue.

Every selector is built from the catalogue: a panel names an instrument, and the dashboard's
filter variables apply only to the labels that instrument carries, so no panel can filter on
a label its metric does not have, nor name a metric nothing emits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _metrics as m
from ._metrics import names as n

SCHEMA_VERSION = 41  # Grafana 11.6
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
RANGE = "$__range"

JOB = "job"
WORKFLOW = m.label(n.WORKFLOW_NAME)
STAGE = m.label(n.STAGE_NAME)
PERSONA = m.label(n.PERSONA_NAME)
AGENT = m.label(n.AGENT_NAME)
TASK_TYPE = m.label(n.TASK_TYPE)
MODEL = m.label(n.REQUEST_MODEL)
PROVIDER = m.label(n.PROVIDER)
SUITE = m.label(n.TEST_SUITE_NAME)
STATUS = m.label(n.STATUS)
STATE = m.label(n.WORKFLOW_STATE)
GATE = m.label(n.GATE_NAME)
GATE_RESULT = m.label(n.GATE_RESULT)
TOKEN_TYPE = m.label(n.TOKEN_TYPE)
ERROR_TYPE = m.label(n.ERROR_TYPE)
BUDGET = m.label(n.BUDGET_NAME)
TOOL = m.label(n.TOOL_NAME)
OUTCOME = m.label(n.TEST_OUTCOME)
CATEGORY = m.label(n.TEST_CATEGORY)
REASON = m.label(n.INTERVENTION_REASON)
COMPONENT = m.label("otel.component.name")


@dataclass(frozen=True)
class Variable:
    """A query variable: the values of ``label`` on ``instrument``'s series."""

    name: str
    title: str
    label: str
    instrument: str


SERVICE = Variable("service", "Service (job)", JOB, "")  # instrument: the board's first


@dataclass
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    title: str
    description: str
    unit: str
    targets: list[Target]
    type: str = "timeseries"
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None
    thresholds: Sequence[tuple[float | None, str]] = ()


@dataclass
class Board:
    uid: str
    title: str
    description: str
    variables: list[Variable]
    panels: list[Panel] = field(default_factory=list)
    service_instrument: str = ""
    """The instrument whose ``job`` values the Service variable lists (default: that of
    the first variable)."""


class Selectors:
    """Builds selectors that carry the board's filter variables an instrument has labels for."""

    def __init__(self, variables: Sequence[Variable]) -> None:
        self.variables = variables

    def __call__(
        self,
        instrument: str,
        part: str = "",
        *,
        skip: tuple[str, ...] = (),
        where: Mapping[str, str] | None = None,
    ) -> str:
        """``instrument``'s series, filtered by each board variable its labels allow (but
        the labels in ``skip``), and by ``where`` (label -> '="value"', '!=""', ...)."""
        labels = m.labels_of(instrument)
        parts = [f'{JOB}=~"${SERVICE.name}"']
        for variable in self.variables:
            if variable.label in labels and variable.label not in skip:
                parts.append(f'{variable.label}=~"${variable.name}"')
        for label, condition in (where or {}).items():
            if label not in labels:
                raise KeyError(f"{instrument} has no label {label!r}")
            parts.append(f"{label}{condition}")
        return f"{m.series(instrument, part)}{{{','.join(parts)}}}"


def _by(*labels: str) -> str:
    return f"sum by ({', '.join(labels)})"


def rate(selector: str, window: str = RATE) -> str:
    return f"rate({selector}[{window}])"


def quantile(q: float, bucket: str, *labels: str, window: str = RATE) -> str:
    return f"histogram_quantile({q}, {_by('le', *labels)} ({rate(bucket, window)}))"


def ratio(part: str, whole: str, *labels: str, window: str = RATE) -> str:
    """Share of ``whole``'s rate that ``part`` (a narrower selector) has; 0, not absent, when
    ``part`` has no series yet."""
    by = _by(*labels)
    return (
        f"({by} ({rate(part, window)}) or {by} ({rate(whole, window)}) * 0)"
        f" / {by} ({rate(whole, window)})"
    )


def quantiles_panel(title: str, description: str, bucket: str, label: str) -> Panel:
    """p50 and p95 over time of the histogram ``bucket``, by ``label``, in seconds."""
    return Panel(
        title,
        description,
        "s",
        [
            Target(quantile(q, bucket, label), f"p{round(q * 100)} {{{{{label}}}}}")
            for q in (0.5, 0.95)
        ],
    )


def share_panel(title: str, description: str, part: str, whole: str, label: str) -> Panel:
    """A time series of the share ``part`` has of ``whole``, by ``label``, from 0 to 100 %."""
    return Panel(
        title,
        description,
        "percentunit",
        [Target(ratio(part, whole, label), f"{{{{{label}}}}}")],
        min=0,
        max=1,
    )


def _agents() -> Board:
    variables = [
        Variable("agent", "Agent", AGENT, "gen_ai.invoke_agent.duration"),
        Variable("persona", "Persona", PERSONA, "gen_ai.invoke_agent.duration"),
        Variable("model", "Model", MODEL, "gen_ai.client.operation.duration"),
    ]
    s = Selectors(variables)
    task_runs, task_duration = "agentobs.task.runs", "agentobs.task.duration"
    invoke = "gen_ai.invoke_agent.duration"
    llm = "gen_ai.client.operation.duration"
    interventions = "agentobs.human_interventions"
    return Board(
        "agentobs-agents",
        "agentobs / Agents and tasks",
        "Runs, success and duration of agents' tasks, workflows in progress, LLM calls and "
        "human interventions.",
        variables,
        [
            Panel(
                "Task runs by agent and task type",
                "Tasks that ended per second.",
                "ops",
                [
                    Target(
                        f"{_by(AGENT, TASK_TYPE)} ({rate(s(task_runs))})",
                        f"{{{{{AGENT}}}}} {{{{{TASK_TYPE}}}}}",
                    )
                ],
            ),
            share_panel(
                "Task success rate by agent",
                "Share of tasks that ended with status ok.",
                s(task_runs, where={STATUS: '="ok"'}),
                s(task_runs),
                AGENT,
            ),
            quantiles_panel(
                "Task duration p50 / p95 by agent",
                "Quantiles of task duration.",
                s(task_duration, "bucket"),
                AGENT,
            ),
            Panel(
                "Agent invocation p95",
                "95th percentile of invoke_agent duration, by agent.",
                "s",
                [Target(quantile(0.95, s(invoke, "bucket"), AGENT), f"{{{{{AGENT}}}}}")],
            ),
            Panel(
                "Workflows running",
                "Workflow runs in progress, by workflow.",
                "short",
                [
                    Target(
                        f"{_by(WORKFLOW)} ({s('agentobs.workflow.active')})", f"{{{{{WORKFLOW}}}}}"
                    )
                ],
                width=8,
            ),
            Panel(
                "Oldest running workflow",
                "Age of the oldest workflow run still in progress, working or waiting inside "
                "agentobs.suspended (a stuck run grows here).",
                "s",
                [
                    Target(
                        f"max by ({WORKFLOW}, {STATE}) ({s('agentobs.workflow.oldest_age')})",
                        f"{{{{{WORKFLOW}}}}} ({{{{{STATE}}}}})",
                    )
                ],
                type="stat",
                width=8,
                thresholds=((None, "green"), (3600, "red")),
            ),
            Panel(
                "Human interventions by reason",
                "Times a person had to step in, over the dashboard's time range.",
                "short",
                [
                    Target(
                        f"{_by(REASON)} (increase({s(interventions)}[{RANGE}]))",
                        f"{{{{{REASON}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
                width=8,
            ),
            Panel(
                "Intervention rate",
                "Human interventions per workflow run that ended.",
                "percentunit",
                [
                    Target(
                        f"sum ({rate(s(interventions))}) / "
                        f"sum ({rate(s('agentobs.workflow.runs', skip=(PERSONA,)))})",
                        "interventions per run",
                    )
                ],
            ),
            Panel(
                "LLM calls by model",
                "LLM calls per second, by provider and model.",
                "ops",
                [
                    Target(
                        f"{_by(PROVIDER, MODEL)} ({rate(s(llm, 'count'))})",
                        f"{{{{{PROVIDER}}}}} {{{{{MODEL}}}}}",
                    )
                ],
            ),
            quantiles_panel(
                "LLM latency p50 / p95",
                "Quantiles of LLM call duration, by model.",
                s(llm, "bucket"),
                MODEL,
            ),
            share_panel(
                "LLM error rate",
                "Share of LLM calls that ended with an error, by model.",
                s(llm, "count", where={ERROR_TYPE: '!=""'}),
                s(llm, "count"),
                MODEL,
            ),
            Panel(
                "Tool duration p95",
                "95th percentile of tool execution duration, by tool.",
                "s",
                [
                    Target(
                        quantile(0.95, s("gen_ai.execute_tool.duration", "bucket"), TOOL),
                        f"{{{{{TOOL}}}}}",
                    )
                ],
            ),
        ],
    )


def _personas() -> Board:
    switches, tokens, cost = "agentobs.persona.switches", "agentobs.tokens", "agentobs.cost"
    variables = [
        Variable("workflow", "Workflow", WORKFLOW, tokens),
        Variable("persona", "Persona", PERSONA, tokens),
        Variable("model", "Model", MODEL, tokens),
    ]
    s = Selectors(variables)
    to, frm = m.label(n.PERSONA_TO), m.label(n.PERSONA_FROM)
    chatmode = m.label(n.PERSONA_CHATMODE)
    budget_panels = [
        Panel(
            f"{title} budget remaining",
            f"What is left of each {title.lower()} budget, as a share of its limit "
            "(negative once overspent).",
            "percentunit",
            [Target(f"{s(remaining)} / ({s(limit)} > 0)", f"{{{{{BUDGET}}}}} {{{{{PERSONA}}}}}")],
            type="gauge",
            width=6,
            min=0,
            max=1,
            thresholds=((None, "red"), (0.1, "orange"), (0.25, "green")),
        )
        for title, remaining, limit in (
            ("Token", "agentobs.budget.tokens.remaining", "agentobs.budget.tokens.limit"),
            ("Cost", "agentobs.budget.cost.remaining", "agentobs.budget.cost.limit"),
        )
    ]
    return Board(
        "agentobs-personas",
        "agentobs / Personas and tokens",
        "Persona switches and time in persona; tokens, cost and budgets by persona and model.",
        variables,
        [
            Panel(
                "Persona switch rate",
                "Changes of the current persona per second, by workflow.",
                "ops",
                [Target(f"{_by(WORKFLOW)} ({rate(s(switches))})", f"{{{{{WORKFLOW}}}}}")],
            ),
            Panel(
                "Top persona transitions",
                "The most frequent switches (from -> to, with the new chat mode) over the range.",
                "short",
                [
                    Target(
                        f"topk(10, {_by(frm, to, chatmode)} (increase({s(switches)}[{RANGE}])))",
                        f"{{{{{frm}}}}} -> {{{{{to}}}}} ({{{{{chatmode}}}}})",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            Panel(
                "Time in persona",
                "Seconds spent in each persona over the range.",
                "s",
                [
                    Target(
                        f"{_by(PERSONA)} (increase("
                        f"{s('agentobs.persona.duration', 'sum')}[{RANGE}]))",
                        f"{{{{{PERSONA}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            Panel(
                "Tokens by persona",
                "Tokens per second, by persona and token type.",
                "short",
                [
                    Target(
                        f"{_by(PERSONA, TOKEN_TYPE)} ({rate(s(tokens))})",
                        f"{{{{{PERSONA}}}}} {{{{{TOKEN_TYPE}}}}}",
                    )
                ],
            ),
            Panel(
                "Tokens by model",
                "Tokens per second, by model and token type.",
                "short",
                [
                    Target(
                        f"{_by(MODEL, TOKEN_TYPE)} ({rate(s(tokens))})",
                        f"{{{{{MODEL}}}}} {{{{{TOKEN_TYPE}}}}}",
                    )
                ],
            ),
            Panel(
                "Cost by persona and model",
                "US dollars per hour, by persona and model (unpriced calls add nothing).",
                "currencyUSD",
                [
                    Target(
                        f"{_by(PERSONA, MODEL)} ({rate(s(cost))}) * 3600",
                        f"{{{{{PERSONA}}}}} {{{{{MODEL}}}}}",
                    )
                ],
            ),
            *budget_panels,
            Panel(
                "Budget remaining and limit",
                "Tokens left in each token budget, against its limit.",
                "short",
                [
                    Target(s("agentobs.budget.tokens.remaining"), f"remaining {{{{{BUDGET}}}}}"),
                    Target(s("agentobs.budget.tokens.limit"), f"limit {{{{{BUDGET}}}}}"),
                ],
            ),
            Panel(
                "Unpriced calls",
                "LLM calls whose model has no known price, over the range (their cost is "
                "unknown, not zero).",
                "short",
                [
                    Target(
                        f"{_by(PROVIDER, MODEL)} (increase("
                        f"{s('agentobs.cost.unpriced_calls')}[{RANGE}]))",
                        f"{{{{{PROVIDER}}}}} {{{{{MODEL}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
                width=12,
            ),
        ],
    )


def _workflows() -> Board:
    runs, duration = "agentobs.workflow.runs", "gen_ai.workflow.duration"
    stage, gates = "agentobs.stage.duration", "agentobs.gate.checks"
    variables = [
        Variable("workflow", "Workflow", WORKFLOW, runs),
        Variable("stage", "Stage", STAGE, stage),
        Variable("persona", "Persona", PERSONA, stage),
    ]
    s = Selectors(variables)
    failed = s(gates, where={GATE_RESULT: '="fail"'})
    slowest = quantile(0.95, s(stage, "bucket"), WORKFLOW, STAGE, window=RANGE)
    return Board(
        "agentobs-workflows",
        "agentobs / Workflows and quality gates",
        "Workflow and stage durations, slow stages, re-entries, and quality-gate results.",
        variables,
        [
            Panel(
                "Workflow runs by status",
                "Workflow runs that ended per second, by workflow and status.",
                "ops",
                [
                    Target(
                        f"{_by(WORKFLOW, STATUS)} ({rate(s(runs, skip=(PERSONA,)))})",
                        f"{{{{{WORKFLOW}}}}} {{{{{STATUS}}}}}",
                    )
                ],
            ),
            quantiles_panel(
                "Workflow duration p50 / p95",
                "Quantiles of workflow duration.",
                s(duration, "bucket", skip=(PERSONA,)),
                WORKFLOW,
            ),
            quantiles_panel(
                "Stage duration p50 / p95",
                "Quantiles of stage duration, by stage.",
                s(stage, "bucket"),
                STAGE,
            ),
            Panel(
                "Slowest stages",
                "The five stages with the highest p95 duration over the range.",
                "s",
                [
                    Target(
                        f"topk(5, {slowest})",
                        f"{{{{{WORKFLOW}}}}} / {{{{{STAGE}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            Panel(
                "Stage re-entries",
                "Stages entered again within the same workflow run, over the range.",
                "short",
                [
                    Target(
                        f"{_by(WORKFLOW, STAGE)} (increase("
                        f"{s('agentobs.stage.reentries')}[{RANGE}]))",
                        f"{{{{{WORKFLOW}}}}} / {{{{{STAGE}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            share_panel(
                "Gate pass rate",
                "Share of quality-gate checks that passed, by gate.",
                s(gates, where={GATE_RESULT: '="pass"'}),
                s(gates),
                GATE,
            ),
            Panel(
                "Failing gates",
                "Quality-gate checks that failed over the range, by gate and stage.",
                "short",
                [
                    Target(
                        f"{_by(GATE, STAGE)} (increase({failed}[{RANGE}]))",
                        f"{{{{{GATE}}}}} ({{{{{STAGE}}}}})",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            Panel(
                "Gate scores",
                "Median and mean score given by scoring gates.",
                "percentunit",
                [
                    Target(
                        quantile(0.5, s("agentobs.gate.score", "bucket"), GATE),
                        f"p50 {{{{{GATE}}}}}",
                    ),
                    Target(
                        f"{_by(GATE)} ({rate(s('agentobs.gate.score', 'sum'))}) / "
                        f"{_by(GATE)} ({rate(s('agentobs.gate.score', 'count'))})",
                        f"mean {{{{{GATE}}}}}",
                    ),
                ],
                min=0,
                max=1,
            ),
        ],
    )


def _tests() -> Board:
    variables = [Variable("suite", "Suite", SUITE, "agentobs.test_run.pass_rate")]
    s = Selectors(variables)
    return Board(
        "agentobs-tests",
        "agentobs / Test-suite quality",
        "The last run of each test suite, as the pytest plugin pushes it to a Pushgateway "
        "(--agentobs-pushgateway). The names of the flaky tests: `agentobs flaky`.",
        variables,
        [
            Panel(
                "Pass rate",
                "Pass rate of each run: passed / (passed + failed + error).",
                "percentunit",
                [
                    Target(
                        f"max by ({SUITE}) ({s('agentobs.test_run.pass_rate')})", f"{{{{{SUITE}}}}}"
                    )
                ],
                min=0,
                max=1,
            ),
            Panel(
                "Outcomes by category",
                "Tests of the last run, by outcome and category.",
                "short",
                [
                    Target(
                        f"{_by(OUTCOME, CATEGORY)} ({s('agentobs.test_run.tests')})",
                        f"{{{{{OUTCOME}}}}} {{{{{CATEGORY}}}}}",
                        instant=True,
                    )
                ],
                type="bargauge",
            ),
            Panel(
                "Flaky tests",
                "Flaky tests in the last run (failed then passed on a rerun, or flipped across "
                "runs); `agentobs flaky` lists them by name.",
                "short",
                [Target(f"max by ({SUITE}) ({s('agentobs.test_run.flaky')})", f"{{{{{SUITE}}}}}")],
                type="stat",
                width=6,
                thresholds=((None, "green"), (1, "orange"), (4, "red")),
            ),
            Panel(
                "Run duration",
                "Wall-clock duration of the last run.",
                "s",
                [
                    Target(
                        f"max by ({SUITE}) ({s('agentobs.test_run.duration')})", f"{{{{{SUITE}}}}}"
                    )
                ],
                type="stat",
                width=6,
            ),
            Panel(
                "Coverage",
                "Line coverage of the last run, when pytest-cov measured it.",
                "percentunit",
                [
                    Target(
                        f"max by ({SUITE}) ({s('agentobs.test_run.coverage')})", f"{{{{{SUITE}}}}}"
                    )
                ],
                type="stat",
                width=6,
                min=0,
                max=1,
            ),
            Panel(
                "Time since the last run",
                "Seconds since the last run of each suite ended.",
                "s",
                [
                    Target(
                        f"time() - max by ({SUITE}) ({s('agentobs.test_run.timestamp')})",
                        f"{{{{{SUITE}}}}}",
                    )
                ],
                type="stat",
                width=6,
                thresholds=((None, "green"), (86400, "red")),
            ),
        ],
    )


SIGNALS = (("span", "spans"), ("log", "log records"), ("metric_data_point", "data points"))
"""The self-telemetry exporter counters (``otel.sdk.exporter.<key>.exported``), by signal."""
QUEUED = (("span", "spans"), ("log", "log records"))
"""The signals that go through a batch processor and its bounded queue."""


def _self() -> Board:
    s = Selectors([])
    exported = {key: f"otel.sdk.exporter.{key}.exported" for key, _ in SIGNALS}
    processed = {key: f"otel.sdk.processor.{key}.processed" for key, _ in QUEUED}
    sent = {key: s(name, where={ERROR_TYPE: '=""'}) for key, name in exported.items()}
    failed = {key: s(name, where={ERROR_TYPE: '!=""'}) for key, name in exported.items()}
    dropped = {key: s(name, where={ERROR_TYPE: '!=""'}) for key, name in processed.items()}
    by_component = _by(COMPONENT)
    by_error = _by(COMPONENT, ERROR_TYPE)
    lost = " or ".join(
        f"{by_error} (increase({selector}[{RANGE}]))"
        for selector in (*failed.values(), *dropped.values())
    )
    return Board(
        "agentobs-self",
        "agentobs / agentobs itself",
        "What each exporter exported, failed and dropped, by signal and exporter, and how full "
        "the batch queues are: the SDK's self-telemetry (otel.sdk.*). Components are named "
        "{type}/{index}, e.g. otlp_http_span_exporter/0, langfuse_span_exporter/0.",
        [],
        [
            Panel(
                "Exported by exporter",
                "Items each exporter sent per second, by signal (spans, log records, metric "
                "data points) and exporter.",
                "ops",
                [
                    Target(f"{by_component} ({rate(sent[key])})", f"{what} {{{{{COMPONENT}}}}}")
                    for key, what in SIGNALS
                ],
            ),
            Panel(
                "Failed by exporter",
                "Items an exporter failed to send per second (the backend refused them, was "
                "down or timed out), by signal, exporter and error type.",
                "ops",
                [
                    Target(
                        f"{by_error} ({rate(failed[key])})",
                        f"{what} {{{{{COMPONENT}}}}} {{{{{ERROR_TYPE}}}}}",
                    )
                    for key, what in SIGNALS
                ],
            ),
            Panel(
                "Export failure rate",
                "Share of each exporter's items that failed, by exporter.",
                "percentunit",
                [
                    Target(ratio(failed[key], s(exported[key]), COMPONENT), f"{{{{{COMPONENT}}}}}")
                    for key, _ in SIGNALS
                ],
                min=0,
                max=1,
            ),
            Panel(
                "Dropped by processor",
                "Items a batch processor dropped per second: queue_full when its queue was "
                "full (the exporter could not keep up), already_shutdown after shutdown.",
                "ops",
                [
                    Target(
                        f"{by_error} ({rate(dropped[key])})",
                        f"{what} {{{{{COMPONENT}}}}} {{{{{ERROR_TYPE}}}}}",
                    )
                    for key, what in QUEUED
                ],
            ),
            Panel(
                "Queue size vs capacity",
                "Items waiting in each batch processor's queue, against what it holds at most "
                "(max_queue_size); a full queue drops.",
                "short",
                [
                    Target(
                        f"{by_component} ({s(f'otel.sdk.processor.{key}.queue.{part}')})",
                        f"{what} {part} {{{{{COMPONENT}}}}}",
                    )
                    for key, what in QUEUED
                    for part in ("size", "capacity")
                ],
            ),
            Panel(
                "Queue fill",
                "The fullest batch queue of each signal, as a share of its capacity.",
                "percentunit",
                [
                    Target(
                        f"max ({s(f'otel.sdk.processor.{key}.queue.size')} / "
                        f"{s(f'otel.sdk.processor.{key}.queue.capacity')})",
                        what,
                    )
                    for key, what in QUEUED
                ],
                type="gauge",
                width=6,
                min=0,
                max=1,
                thresholds=((None, "green"), (0.8, "orange"), (1, "red")),
            ),
            Panel(
                "Lost over the range",
                "Items failed or dropped over the dashboard's time range, by component and "
                "error type (exact counts: agentobs counts every loss).",
                "short",
                [Target(lost, f"{{{{{COMPONENT}}}}} {{{{{ERROR_TYPE}}}}}", instant=True)],
                type="bargauge",
                width=6,
            ),
        ],
        service_instrument=exported["span"],
    )


BOARDS = (_agents, _personas, _workflows, _tests, _self)


# --- JSON ----------------------------------------------------------------------------------


def _variable_json(
    variable: Variable, service_instrument: str, previous: Sequence[Variable]
) -> dict[str, Any]:
    """A query variable; its values are filtered by the variables before it (chained)."""
    if variable is SERVICE:
        query = f"label_values({m.series(*_plain(service_instrument))}, {JOB})"
    else:
        labels = m.labels_of(variable.instrument)
        matchers = [f'{JOB}=~"${SERVICE.name}"'] + [
            f'{v.label}=~"${v.name}"' for v in previous if v.label in labels
        ]
        selector = f"{m.series(*_plain(variable.instrument))}{{{','.join(matchers)}}}"
        query = f"label_values({selector}, {variable.label})"
    return {
        "type": "query",
        "name": variable.name,
        "label": variable.title,
        "datasource": DATASOURCE,
        "query": {
            "qryType": 1,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
        "regex": "",
        "skipUrlSync": False,
    }


def _plain(instrument: str) -> tuple[str, str]:
    """A series name fit for label_values: the ``_count`` of a histogram."""
    return (instrument, "count") if m.kind(instrument) == "histogram" else (instrument, "")


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    steps = panel.thresholds or ((None, "green"),)
    defaults["thresholds"] = {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }
    if panel.type == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": True,
        }
        options: dict[str, Any] = {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "auto",
        }
        if panel.type == "bargauge":
            options |= {"displayMode": "gradient", "showUnfilled": True}
        elif panel.type == "stat":
            options |= {
                "colorMode": "value",
                "graphMode": "area",
                "justifyMode": "auto",
                "textMode": "auto",
            }
        else:
            options |= {"showThresholdLabels": False, "showThresholdMarkers": True}
    return {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "datasource": DATASOURCE,
                "refId": chr(ord("A") + index),
                "expr": target.expr,
                "legendFormat": target.legend or "__auto",
                "range": not target.instant,
                "instant": target.instant,
                "editorMode": "code",
            }
            for index, target in enumerate(panel.targets)
        ],
    }


def render(board: Board) -> dict[str, Any]:
    """The Grafana dashboard JSON of ``board``."""
    first = _first_instrument(board)
    variables: list[dict[str, Any]] = [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "hide": 0,
            "refresh": 1,
            "regex": "",
            "includeAll": False,
            "multi": False,
            "options": [],
            "skipUrlSync": False,
        }
    ]
    for index, variable in enumerate([SERVICE, *board.variables]):
        variables.append(_variable_json(variable, first, board.variables[: max(index - 1, 0)]))
    panels = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(board.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": ["agentobs"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables},
        "panels": panels,
    }


def _first_instrument(board: Board) -> str:
    return board.service_instrument or board.variables[0].instrument


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by file name."""
    out: dict[str, dict[str, Any]] = {}
    for build in BOARDS:
        board = build()
        out[f"{board.uid}.json"] = render(board)
    return out


def selectors_in(dashboard: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard (panel targets and variable queries)."""
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return found
