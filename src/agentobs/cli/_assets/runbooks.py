"""One runbook page per alert (Meaning, Impact, Diagnosis with PromQL, Mitigation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import rules as r
from ._metrics import series


@dataclass(frozen=True)
class Runbook:
    meaning: str
    impact: str
    diagnosis: tuple[tuple[str, str], ...]  # (what it shows, PromQL)
    mitigation: tuple[str, ...]


def _q(quantile: float, instrument: str, labels: str, window: str) -> str:
    bucket = series(instrument, "bucket")
    return f"histogram_quantile({quantile}, sum by ({labels}, le) (rate({bucket}[{window}])))"


def _rate(labels: str, instrument: str, window: str, part: str = "") -> str:
    return f"sum by ({labels}) (rate({series(instrument, part)}[{window}]))"


def _mean(labels: str, instrument: str, window: str) -> str:
    total, count = (
        _rate(labels, instrument, window, "sum"),
        _rate(labels, instrument, window, "count"),
    )
    return f"{total} / {count}"


PERSONA_MODEL = "agentobs_persona_name, gen_ai_request_model"
PROVIDER_MODEL = "gen_ai_provider_name, gen_ai_request_model"
TRANSITION = "agentobs_persona_from, agentobs_persona_to"


def _burn(key: str, what: str, labels: str, total: str) -> Runbook:
    return Runbook(
        f"The share of {what} that end in an error is high enough, over both a long and a "
        "short window, to spend the error budget of the success objective early (the "
        "multi-window, multi-burn-rate method of the Google SRE workbook). `critical` burns "
        "2 % of a 30-day budget in an hour; `warning` 5 % in 6 hours. A traffic guard keeps "
        "one failure in a quiet hour from firing it.",
        f"Work of the affected series (by {labels}) fails for its users; retries add cost "
        "and latency.",
        (
            ("Error ratio over each window", f'{{__name__=~"agentobs:{key}_errors:ratio_rate.+"}}'),
            ("Volume in the last hour", f"sum by (job, {labels}) (increase({total}[1h]))"),
        ),
        (
            "Find the failing spans: in the traces backend, filter on `error.type` and the "
            f"labels of the alert ({labels}).",
            "If one model or provider fails, check its status page and quotas; switch the "
            "model or lower the concurrency.",
            "If a release started it, roll it back.",
        ),
    )


def _book() -> dict[str, Runbook]:
    ratio = r.BUDGET_RATIO
    breaches = series("agentobs.budget.breaches")
    checks = series("agentobs.gate.checks")
    by_gate = "sum by (job, gen_ai_workflow_name, agentobs_gate_name)"
    return {
        "AgentobsWorkflowErrorBudgetBurn": _burn(
            "workflow", "workflow runs", r.WF, series("agentobs.workflow.runs")
        ),
        "AgentobsTaskErrorBudgetBurn": _burn(
            "task", "tasks", f"{r.AGENT}, {r.TASK_TYPE}", series("agentobs.task.runs")
        ),
        "AgentobsLLMErrorBudgetBurn": _burn(
            "llm",
            "LLM calls",
            f"{r.PROVIDER}, {r.MODEL}",
            series("gen_ai.client.operation.duration", "count"),
        ),
        "AgentobsBudgetLow": Runbook(
            "A token or cost budget has less than the configured share (10 % by default) of "
            "its limit left. Budgets of one name in force at once (the `per_run` budgets of "
            "concurrent runs) show the most spent of them: at least one run is low.",
            "Once spent, a budget with `on_exceed='raise'` refuses further LLM calls; with "
            "`'warn'` (the default) spending goes on past the limit.",
            (
                ("Share left of every budget", ratio),
                (
                    "Tokens by persona and model",
                    _rate(PERSONA_MODEL, "agentobs.tokens", "15m"),
                ),
            ),
            (
                "Check what spends it (persona, model) and whether that is expected.",
                "Raise the limit (`agentobs.TokenBudget(..., tokens=/usd=)`) or stop the run.",
            ),
        ),
        "AgentobsBudgetExhaustionPredicted": Runbook(
            "At the spending rate of the last 30 minutes the budget runs out within the hour "
            "(`predict_linear` of the share left reaches zero), like a filling disk.",
            "LLM calls under the budget will be refused (`on_exceed='raise'`) or overspend "
            "(`'warn'`).",
            (
                (
                    "Share left, and its forecast in an hour",
                    f"{ratio}\npredict_linear({ratio}[30m], 3600)",
                ),
                (
                    "Cost per hour by persona and model",
                    f"{_rate(PERSONA_MODEL, 'agentobs.cost', '15m')} * 3600",
                ),
            ),
            (
                "Find a loop or a retry storm: LLM calls per workflow, persona switches.",
                "Pause the workflow, raise the limit, or switch to a cheaper model.",
            ),
        ),
        "AgentobsBudgetExhausted": Runbook(
            "A budget is spent: the share of its limit left is zero or negative (overspent). "
            "Of budgets of one name in force at once, the most spent is shown; once none is, "
            "the last one's final figures stay until a budget of that name is next in force.",
            "With `on_exceed='raise'`, LLM calls under this budget now fail with "
            "`agentobs.BudgetExceededError`; with `'warn'` they continue and cost more than "
            "planned.",
            (
                ("Budgets spent", f"{ratio} <= 0"),
                (
                    "Breaches by budget, unit and policy",
                    "sum by (agentobs_budget_name, agentobs_budget_unit, agentobs_budget_policy) "
                    f"(increase({breaches}[1h]))",
                ),
            ),
            (
                "Decide whether the overspend is legitimate; raise the limit or stop the run.",
                "Look at the run's trace: the `agentobs.budget.exceeded` event names the call.",
            ),
        ),
        "AgentobsQualityGateFailing": Runbook(
            "More than the configured share (25 %) of a quality gate's checks failed over 30 "
            "minutes, with at least a few checks.",
            "Work that does not meet the gate is redone (stage re-entries) or shipped worse.",
            (
                (
                    "Failure share by gate",
                    f'{by_gate} (rate({checks}{{agentobs_gate_result="fail"}}[30m])) / '
                    f"{by_gate} (rate({checks}[30m]))",
                ),
                (
                    "Scores given by the gate",
                    _q(0.5, "agentobs.gate.score", "agentobs_gate_name", "30m"),
                ),
            ),
            (
                "Read the failing gate spans' `agentobs.gate.reason`.",
                "Check the model, prompt or tool change that preceded it.",
            ),
        ),
        "AgentobsPersonaThrashing": Runbook(
            "Agents switch persona more often than the threshold (10 a minute) over 15 minutes.",
            "Thrashing usually means a loop between personas: tokens and time spent for no "
            "progress.",
            (
                (
                    "Top transitions",
                    f"topk(10, {_rate(TRANSITION, 'agentobs.persona.switches', '15m')})",
                ),
            ),
            (
                "Open a recent trace of the workflow and follow the persona blocks.",
                "Cap the hand-offs in the orchestrator; fix the prompt that bounces work back.",
            ),
        ),
        "AgentobsStageSlow": Runbook(
            "The 95th percentile duration of a stage over 30 minutes is above the threshold "
            "(600 s).",
            "Workflows take longer; users wait.",
            (
                (
                    "p95 by stage",
                    _q(
                        0.95,
                        "agentobs.stage.duration",
                        "gen_ai_workflow_name, agentobs_stage_name",
                        "30m",
                    ),
                ),
                (
                    "LLM p95 by model",
                    _q(0.95, "gen_ai.client.operation.duration", "gen_ai_request_model", "30m"),
                ),
            ),
            (
                "Look at the slow stage's traces: LLM calls, tools or re-entries?",
                "Raise the threshold if the stage is slow by design.",
            ),
        ),
        "AgentobsWorkflowStuck": Runbook(
            "A workflow run has been in progress for longer than the threshold (1 h).",
            "A stuck run holds resources and never delivers its result.",
            (
                ("Oldest run per workflow", series("agentobs.workflow.oldest_age")),
                ("Runs in progress", series("agentobs.workflow.active")),
            ),
            (
                "Find the run's trace (span `invoke_workflow <name>` with no end) and its last "
                "child span: a waiting tool or LLM call, or a person.",
                "Cancel the run; add timeouts to the call that hung.",
            ),
        ),
        "AgentobsLLMLatencyHigh": Runbook(
            "The 95th percentile of LLM call duration over 10 minutes is above the threshold "
            "(20 s) for a model.",
            "Every agent that calls the model slows down; streams stall.",
            (
                (
                    "p95 by model",
                    _q(0.95, "gen_ai.client.operation.duration", PROVIDER_MODEL, "10m"),
                ),
                (
                    "Output tokens per call",
                    _mean("gen_ai_request_model", "gen_ai.client.token.usage", "10m"),
                ),
            ),
            (
                "Check the provider's status; longer outputs also take longer.",
                "Lower max_tokens, stream, or move to a faster model.",
            ),
        ),
        "AgentobsAgentSlowerThanUsual": Runbook(
            "An agent's mean invocation duration over the last hour is more than 1.5 times its "
            "mean over the last 24 hours.",
            "A regression (model, prompt, tool) slows the agent's users.",
            (
                (
                    "Mean duration, last hour and last day",
                    _mean("gen_ai_agent_name", "gen_ai.invoke_agent.duration", "1h"),
                ),
                (
                    "Tool p95 for the agent",
                    _q(0.95, "gen_ai.execute_tool.duration", "gen_ai_tool_name", "1h"),
                ),
            ),
            (
                "Compare traces of the agent before and after; look for a release.",
                "Roll back the change that slowed it.",
            ),
        ),
        "AgentobsTestPassRateLow": Runbook(
            "The last run of a test suite passed fewer tests than the threshold (95 %).",
            "The suite is red: merges wait, or go in untested.",
            (
                (
                    "Outcomes of the last run",
                    "sum by (test_suite_name, agentobs_test_outcome, agentobs_test_category) "
                    f"({series('agentobs.test_run.tests')})",
                ),
            ),
            (
                "Open the CI run; `agentobs report` shows the failures by category.",
                "Fix or quarantine the failing tests.",
            ),
        ),
        "AgentobsFlakyTestsHigh": Runbook(
            "The last run of a suite had more flaky tests than the threshold (3).",
            "Flaky tests hide real failures and waste reruns.",
            (("Flaky tests per suite", series("agentobs.test_run.flaky")),),
            (
                "Run `agentobs flaky` on the test history to list them.",
                "Fix or quarantine the worst ones.",
            ),
        ),
        "AgentobsTestRunSlow": Runbook(
            "The last run of a suite took longer than the threshold (30 minutes).",
            "Feedback is slow; CI minutes cost more.",
            (("Run duration per suite", series("agentobs.test_run.duration")),),
            (
                "Find the slowest tests in the session trace or `agentobs report`.",
                "Parallelise (pytest-xdist) or move slow tests out of the default run.",
            ),
        ),
        "AgentobsTestRunMissing": Runbook(
            "No run of a suite has been pushed for longer than the threshold (a day).",
            "The suite's health is unknown; the scheduled job may be broken.",
            (
                (
                    "Age of the last run per suite",
                    f"time() - {series('agentobs.test_run.timestamp')}",
                ),
                ("Age of the last push to the Pushgateway", "time() - push_time_seconds"),
            ),
            (
                "Check the scheduled CI job and its `--agentobs-pushgateway` option.",
                "A suite that was retired: delete its group from the Pushgateway.",
            ),
        ),
        "AgentobsTargetDown": Runbook(
            "Prometheus could not scrape an agentobs `/metrics` endpoint (or the Pushgateway) "
            "for 5 minutes. The scrape jobs are chosen by the `scrape_jobs` threshold.",
            "Its metrics are not reported: dashboards go blank and other alerts cannot fire.",
            (("Targets down", 'up{job=~".*agentobs.*"} == 0'),),
            (
                "Check the process runs and serves `configure(prometheus_port=...)`.",
                "Check the scrape config, network policy and the target's last error in "
                "Prometheus' Targets page.",
            ),
        ),
        "AgentobsExporterFailing": Runbook(
            "More than the configured share (10 %) of the items an exporter of the agentobs "
            "SDK handed to its backend (OTLP collector, Langfuse, local files) failed over 5 "
            "minutes, for 5 minutes: the backend refused them, was down or timed out. The "
            "exporter is `otel.component.name` (`{type}/{index}`, e.g. "
            "`langfuse_span_exporter/0`), the reason `error.type`.",
            "Failed items are lost: traces, logs or metrics of the application are missing "
            "from that backend (the others still get theirs). Nothing of the application "
            "itself is affected.",
            (
                ("Failure share per exporter", r.EXPORTER_FAILURES),
                (
                    "Failed items per second, by exporter and reason",
                    "\n".join(
                        f"sum by (job, otel_component_name, error_type) (rate({name}"
                        f'{{error_type!=""}}[5m]))'
                        for name in r.EXPORTED
                    ),
                ),
            ),
            (
                "Read the application's log: agentobs logs the exporter's first error of "
                "each kind (`agentobs: the traces exporter raised ...`).",
                "Check the backend is up and reachable from the application (endpoint, "
                "TLS, `OTEL_EXPORTER_OTLP_HEADERS` or the Langfuse keys); `agentobs doctor`, "
                "run with the application's environment, checks the OTLP endpoints answer.",
                "If the backend is slow rather than down, raise `timeout` in "
                "`agentobs.configure()` or put a collector close to the application.",
            ),
        ),
        "AgentobsTelemetryDropped": Runbook(
            "A batch processor of the agentobs SDK dropped spans or log records over the last "
            "10 minutes: with `error.type=queue_full` its queue was full because the "
            "exporter behind it could not keep up; with `already_shutdown` they came after "
            "shutdown.",
            "The dropped items are lost to the backend behind that processor (each exporter "
            "has its own processor and queue); the application itself is not slowed (a full "
            "queue drops rather than blocks).",
            (
                ("Dropped items by processor and reason", r.dropped_items("10m")),
                (
                    "Queue size against capacity",
                    "otel_sdk_processor_span_queue_size / otel_sdk_processor_span_queue_capacity"
                    "\notel_sdk_processor_log_queue_size / otel_sdk_processor_log_queue_capacity",
                ),
            ),
            (
                "Check first whether the exporter behind the processor fails or is slow "
                "(`AgentobsExporterFailing`, the dashboard *agentobs / agentobs itself*).",
                "For bursts, raise `max_queue_size` (`OTEL_BSP_MAX_QUEUE_SIZE`); for a "
                "steady overload, sample (`sample_ratio`) or lower the log level.",
            ),
        ),
        "AgentobsTelemetryQueueFull": Runbook(
            "A batch processor's queue has held more than the configured share (90 %) of "
            "its capacity for 5 minutes: its exporter sends more slowly than the "
            "application produces.",
            "None yet; once the queue is full, new items are dropped (`AgentobsTelemetryDropped`).",
            (("Queue fill per processor", r.queue_fill()),),
            (
                "Look at the exporter's latency and failures on the dashboard "
                "*agentobs / agentobs itself*.",
                "Raise `max_queue_size`, sample, or move the backend closer (a collector on "
                "the node).",
            ),
        ),
    }


def _severities(alerts: list[r.Alert]) -> str:
    return ", ".join(dict.fromkeys(a.severity for a in alerts))


def render(name: str, book: Runbook, alerts: list[r.Alert]) -> str:
    """The runbook page of the alert ``name`` (``alerts``: its rules, one per severity)."""
    lines = [
        f"# {name}",
        "",
        f"Severity: {_severities(alerts)}. Summary: {alerts[0].summary}",
        "",
        "Generated by `agentobs export runbooks`; thresholds are in the README of this folder.",
        "",
        "## Meaning",
        "",
        book.meaning,
        "",
        "The rule, with the default thresholds:",
        "",
    ]
    for alert in alerts:
        wait = f", for {alert.for_}" if alert.for_ != "0m" else ""
        lines += [f"{alert.severity}{wait}:", "", "```promql", alert.expr, "```", ""]
    lines += [
        "## Impact",
        "",
        book.impact,
        "",
        "## Diagnosis",
        "",
    ]
    for what, promql in book.diagnosis:
        lines += [f"{what}:", "", "```promql", promql, "```", ""]
    lines += ["## Mitigation", ""]
    lines += [f"- {step}" for step in book.mitigation]
    return "\n".join(lines) + "\n"


def diagnosis_queries() -> list[str]:
    """Every PromQL query the runbooks tell a reader to run."""
    return [
        q for book in _book().values() for _, block in book.diagnosis for q in block.split("\n")
    ]


def runbooks(thresholds: Mapping[str, float | str] | None = None) -> dict[str, str]:
    """Every runbook page by file name, and README.md (the index and the thresholds)."""
    t = {**r.defaults(), **(thresholds or {})}
    book = _book()
    by_name: dict[str, list[r.Alert]] = {}
    for alert in r.alerts(t):
        by_name.setdefault(alert.name, []).append(alert)
    missing = set(by_name) ^ set(book)
    if missing:
        raise KeyError(f"alerts and runbooks differ: {sorted(missing)}")
    pages = {f"{name}.md": render(name, book[name], rules) for name, rules in by_name.items()}
    index = [
        "# Runbooks",
        "",
        "One page per alert of `deploy/prometheus/agentobs-rules.yml`; each alert's",
        "`runbook_url` points here. Generated by `agentobs export runbooks -o docs/runbooks`.",
        "",
        "| Alert | Severity | Summary |",
        "|---|---|---|",
    ]
    for name, rules in by_name.items():
        index.append(f"| [{name}]({name}.md) | {_severities(rules)} | {rules[0].summary} |")
    index += [
        "",
        "## Thresholds",
        "",
        "Override any of them with `agentobs export alerts -o DIR --set NAME=VALUE`.",
        "",
        "| Name | Default | Meaning |",
        "|---|---|---|",
    ]
    for name, threshold in r.THRESHOLDS.items():
        index.append(f"| `{name}` | `{threshold.value}` | {threshold.doc} |")
    pages["README.md"] = "\n".join(index) + "\n"
    return pages
