"""The sections of the HTML report, one function per panel; None when there is no data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from . import _format as fmt
from ._htmlparts import MAX_CHART_ROWS, Cell, Section, figure, section, table, top_note
from ._model import DurationRow, Report
from ._svg import (
    FAIL_COLOR,
    OTHER_COLOR,
    OUTCOME_COLORS,
    PALETTE,
    PASS_COLOR,
    Series,
    bar_chart,
    esc,
    waterfall,
)

MAX_HTML_METRICS = 300
SEVERITY_COLORS = {
    "TRACE": "#b8bec6",
    "DEBUG": "#9aa0a6",
    "INFO": "#4c78a8",
    "WARN": "#f58518",
    "ERROR": FAIL_COLOR,
    "FATAL": "#8e2c2c",
}


def errors_section(report: Report) -> Section:
    if not report.errors:
        return None
    labels = [f"{e.kind} {e.name}: {e.error}" for e in report.errors]
    chart = bar_chart(
        "Failed spans by kind, name and error",
        labels,
        [Series("failed spans", [e.count for e in report.errors], FAIL_COLOR)],
        value_format=fmt.integer,
        integer=True,
    )
    rows = [[e.kind, e.name, e.error, e.count] for e in report.errors]
    return section(
        "errors", "Errors", figure(chart), table(["kind", "name", "error", "count"], rows, "---n")
    )


def durations_section(anchor: str, title: str, rows: list[DurationRow], count: str) -> Section:
    if not rows:
        return None
    grouped = any(r.group for r in rows)
    shown = (
        sorted(rows, key=lambda r: -r.p95_s)[:MAX_CHART_ROWS]
        if len(rows) > MAX_CHART_ROWS
        else rows
    )
    labels = [f"{r.group} / {r.name}" if r.group else r.name for r in shown]
    chart = bar_chart(
        f"{title}: p50 and p95 duration",
        labels,
        [
            Series("p50", [r.p50_s for r in shown], PALETTE[0]),
            Series("p95", [r.p95_s for r in shown], PALETTE[1]),
        ],
        value_format=fmt.duration,
    )
    reentries = any(r.reentries for r in rows)
    headers = (["workflow"] if grouped else []) + [title.rstrip("s").lower(), count, "errors"]
    headers += ["p50", "p95", "max", "total"] + (["re-entries"] if reentries else [])
    body = []
    for r in rows:
        cells: list[Cell] = [r.group] if grouped else []
        cells += [r.name, fmt.integer(r.count), fmt.integer(r.errors), fmt.duration(r.p50_s)]
        cells += [fmt.duration(r.p95_s), fmt.duration(r.max_s), fmt.duration(r.total_s)]
        cells += [fmt.integer(r.reentries)] if reentries else []
        body.append(cells)
    numeric = ("-" if grouped else "") + "-nnnnnnn"
    note = top_note(len(shown), len(rows), f"{title.lower()} by p95")
    return section(anchor, title, figure(chart, note), table(headers, body, numeric))


def personas_section(report: Report) -> Section:
    rows = report.personas[:MAX_CHART_ROWS]
    if not rows:
        return None
    parts = []
    if any(p.input_tokens or p.output_tokens for p in rows):
        parts.append(_tokens_chart("Tokens per persona", [p.name for p in rows], rows))
    if any(p.time_s for p in rows):
        parts.append(
            figure(
                bar_chart(
                    "Time in persona",
                    [p.name for p in rows],
                    [Series("time", [p.time_s for p in rows], PALETTE[4])],
                    value_format=fmt.duration,
                )
            )
        )
    llm = any(p.llm_calls for p in report.personas)
    headers = ["persona", "spans", "time"]
    headers += ["llm calls", "tokens in", "tokens out", "cost"] if llm else []
    body: list[list[Cell]] = []
    for p in report.personas:
        row: list[Cell] = [p.name, fmt.integer(p.spans), fmt.duration(p.time_s)]
        if llm:
            row += [fmt.integer(p.llm_calls), fmt.integer(p.input_tokens)]
            row += [fmt.integer(p.output_tokens), fmt.known_cost(p.cost_usd, p.unpriced)]
        body.append(row)
    return section("personas", "Personas", *parts, table(headers, body, "-nnnnnn"))


class _Tokens(Protocol):
    input_tokens: int
    output_tokens: int


def _tokens_chart(title: str, labels: list[str], rows: Sequence[_Tokens]) -> str:
    chart = bar_chart(
        title,
        labels,
        [
            Series("input tokens", [r.input_tokens for r in rows], PALETTE[0]),
            Series("output tokens", [r.output_tokens for r in rows], PALETTE[1]),
        ],
        value_format=_compact,
        stacked=True,
        integer=True,
    )
    return figure(chart)


def _compact(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return fmt.integer(value)


def llm_section(report: Report) -> Section:
    llm = report.llm
    if llm is None:
        return None
    models = llm.models[:MAX_CHART_ROWS]
    parts = [
        f'<p class="note">{fmt.integer(llm.calls)} calls, {fmt.integer(llm.errors)} errors, '
        f"{fmt.integer(llm.input_tokens)} input and {fmt.integer(llm.output_tokens)} output "
        f"tokens, {esc(fmt.known_cost(llm.cost_usd, llm.unpriced))}"
        + (f", {llm.unpriced} calls with no known price" if llm.unpriced else "")
        + "</p>"
    ]
    if models:
        parts.append(_tokens_chart("Tokens per model", [m.model for m in models], models))
    priced = [m for m in models if m.cost_usd is not None]
    if any(m.cost_usd for m in priced):
        chart = bar_chart(
            "Cost per model (USD)",
            [m.model for m in priced],
            [Series("cost", [m.cost_usd or 0.0 for m in priced], PALETTE[2])],
            value_format=fmt.cost,
        )
        unknown = [m.model for m in models if m.cost_usd is None]
        note = f"No known price, not charted: {', '.join(unknown)}." if unknown else ""
        parts.append(figure(chart, note))
    headers = ["model", "provider", "calls", "errors", "in", "out", "cost", "unpriced"]
    headers += ["p50", "p95"]
    rows = [
        [
            m.model,
            m.provider,
            fmt.integer(m.calls),
            fmt.integer(m.errors),
            fmt.integer(m.input_tokens),
            fmt.integer(m.output_tokens),
            fmt.known_cost(m.cost_usd, m.unpriced),
            fmt.integer(m.unpriced),
            fmt.duration(m.p50_s),
            fmt.duration(m.p95_s),
        ]
        for m in llm.models
    ]
    if rows:
        parts.append(table(headers, rows, "--nnnnnnnn"))
    if llm.budget_breaches:
        breaches = [[b.name, b.count] for b in llm.budget_breaches]
        parts += ["<h3>Budget breaches</h3>", table(["budget", "breaches"], breaches, "-n")]
    return section("llm", "LLM calls", *parts)


def budgets_section(report: Report) -> Section:
    if not report.budgets:
        return None
    note = (
        '<p class="note">Final values of the budget gauges: limit, used, and what is left '
        "(negative when overspent); breaches and refused calls.</p>"
    )
    rows = table(fmt.BUDGET_HEADERS, fmt.budget_rows(report), "--nnnnn")
    return section("budgets", "Budgets", note, rows)


def gates_section(report: Report) -> Section:
    gates = report.gates[:MAX_CHART_ROWS]
    if not gates:
        return None
    chart = bar_chart(
        "Quality gate results",
        [g.name for g in gates],
        [
            Series("pass", [g.passed for g in gates], PASS_COLOR),
            Series("fail", [g.failed for g in gates], FAIL_COLOR),
        ],
        value_format=fmt.integer,
        integer=True,
        stacked=True,
    )
    rows = [
        [
            g.name,
            g.passed,
            g.failed,
            fmt.percent(g.pass_rate),
            fmt.number(g.score_avg),
            fmt.number(g.score_min),
            fmt.number(g.score_max),
            g.last_failure,
        ]
        for g in report.gates
    ]
    headers = ["gate", "pass", "fail", "pass rate", "avg score", "min", "max", "last failure"]
    note = top_note(len(gates), len(report.gates), "gates")
    return section("gates", "Quality gates", figure(chart, note), table(headers, rows, "-nnnnnn-"))


def interventions_section(report: Report) -> Section:
    rows = report.interventions
    if not rows:
        return None
    chart = bar_chart(
        "Human interventions by reason",
        [r.name for r in rows[:MAX_CHART_ROWS]],
        [Series("interventions", [r.count for r in rows[:MAX_CHART_ROWS]], PALETTE[5])],
        value_format=fmt.integer,
        integer=True,
    )
    body = [[r.name, r.count] for r in rows]
    return section(
        "interventions",
        "Human interventions",
        figure(chart),
        table(["reason", "count"], body, "-n"),
    )


def tests_section(report: Report) -> Section:
    tests = report.tests
    if tests is None:
        return None
    names = list(tests.outcomes)
    outcome_chart = bar_chart(
        "Test outcomes",
        names,
        [Series("tests", [tests.outcomes[n] for n in names], OTHER_COLOR)],
        value_format=fmt.integer,
        integer=True,
        bar_colors=[OUTCOME_COLORS.get(n, OTHER_COLOR) for n in names],
    )
    sessions = f" in {fmt.plural(tests.sessions, 'session')}" if tests.sessions else ""
    parts = [
        f'<p class="note">{fmt.integer(tests.total)} test runs{sessions}; pass rate '
        f"{fmt.percent(tests.pass_rate)} (passed / passed + failed + error)</p>",
        figure(outcome_chart),
        table(["outcome", "tests"], [[n, tests.outcomes[n]] for n in names], "-n"),
    ]
    if tests.flaky:
        flaky = [[f.name, f.count] for f in tests.flaky]
        parts += ["<h3>Flaky tests</h3>", table(["test", "times flagged flaky"], flaky, "-n")]
    if tests.failures:
        failed = [[t.name, t.outcome, fmt.duration(t.duration_s), t.detail] for t in tests.failures]
        parts += [
            "<h3>Failures</h3>",
            table(["test", "outcome", "duration", "detail"], failed, "--n-"),
        ]
    if tests.slowest:
        slow_chart = bar_chart(
            "Slowest tests",
            [t.name for t in tests.slowest],
            [Series("duration", [t.duration_s for t in tests.slowest], OTHER_COLOR)],
            value_format=fmt.duration,
            bar_colors=[OUTCOME_COLORS.get(t.outcome, OTHER_COLOR) for t in tests.slowest],
        )
        slow = [[t.name, t.outcome, fmt.duration(t.duration_s)] for t in tests.slowest]
        parts.append(figure(slow_chart))
        parts.append(table(["test", "outcome", "duration"], slow, "--n"))
    return section("tests", "Tests", *parts)


def slowest_section(report: Report) -> Section:
    view = report.slowest_trace
    if view is None or not view.spans:
        return None
    chart = waterfall(
        view,
        duration_format=fmt.duration,
        title=f"Timeline of the {fmt.waterfall_title(report).lower()}: {view.name}",
    )
    omitted = f" {view.omitted} deeper spans are not shown." if view.omitted else ""
    note = (
        f"{view.name}, {fmt.duration(view.duration_s)}, trace {view.trace_id}. "
        f"Red outlines mark failed spans.{omitted}"
    )
    rows = [
        [
            "\u2003" * min(s.depth, 8) + s.name,
            s.kind,
            "+" + fmt.duration(s.offset_s),
            fmt.duration(s.duration_s),
            "error" if s.error else "ok",
        ]
        for s in view.spans
    ]
    return section(
        "slowest",
        fmt.waterfall_title(report),
        figure(chart, note),
        table(["span", "kind", "start", "duration", "status"], rows, "--nn-"),
    )


def logs_section(report: Report) -> Section:
    logs = report.logs
    if logs is None:
        return None
    names = list(logs.by_severity)
    chart = bar_chart(
        "Log records by severity",
        names,
        [Series("records", [logs.by_severity[n] for n in names], OTHER_COLOR)],
        value_format=fmt.integer,
        integer=True,
        bar_colors=[SEVERITY_COLORS.get(n, OTHER_COLOR) for n in names],
    )
    parts = [
        figure(chart),
        table(["severity", "records"], [[n, logs.by_severity[n]] for n in names], "-n"),
    ]
    if logs.recent_problems:
        rows = [[e.time, e.severity, e.logger, e.body] for e in logs.recent_problems]
        parts += [
            "<h3>Latest warnings and errors</h3>",
            table(["time", "level", "logger", "message"], rows, "tt"),
        ]
    return section("logs", "Logs", *parts)


def metrics_section(report: Report) -> Section:
    if not report.metrics:
        return None
    rows = []
    for m in report.metrics[:MAX_HTML_METRICS]:
        show = fmt.metric_formatter(m.name, m.unit)
        count = fmt.integer(m.count) if m.kind == "histogram" else ""
        mean = show(m.value / m.count) if m.kind == "histogram" and m.count else ""
        rows.append([m.name, m.kind, m.unit, m.attributes or "-", show(m.value), count, mean])
    omitted = len(report.metrics) - len(rows) + report.metrics_omitted
    note = f'<p class="note">{omitted} more series not shown.</p>' if omitted > 0 else ""
    headers = ["metric", "kind", "unit", "attributes", "value / sum", "count", "mean"]
    explain = (
        '<p class="note">Final values: counter totals, latest gauge values, histogram '
        "count and sum.</p>"
    )
    return section("metrics", "Metrics", explain, table(headers, rows, "----nnn"), note)


def insights_section(report: Report) -> Section:
    found = report.insights
    if found is None or not (found.failures or found.successes or found.regressions):
        return None
    regressions = found.regressions
    parts = [
        "<h3>Failure patterns</h3>",
        '<p class="note">By workflow, stage and error type (gates by gate and reason); '
        "recovered: the workflow run still succeeded.</p>",
        table(
            ["workflow", "stage", "error", "seen", "runs", "recovered", "to recover"],
            [
                [
                    f.workflow or "-",
                    f.stage or "-",
                    f.error_type + (f": {f.reason}" if f.reason else ""),
                    f.occurrences,
                    f.runs,
                    fmt.percent(f.recovery_rate),
                    "-"
                    if f.mean_time_to_recover_s is None
                    else fmt.duration(f.mean_time_to_recover_s),
                ]
                for f in found.failures
            ],
            "---nnnn",
        )
        if found.failures
        else '<p class="note">No failures.</p>',
        "<h3>Success patterns</h3>",
        f'<p class="note">By agent and task type; proven past {found.proven_after} successes.</p>',
        table(
            ["agent", "task type", "successes", "attempts", "rate", "mean", "p95", ""],
            [
                [
                    s.agent or "-",
                    s.task_type,
                    s.successes,
                    s.attempts,
                    fmt.percent(s.success_rate),
                    "-" if s.mean_s is None else fmt.duration(s.mean_s),
                    "-" if s.p95_s is None else fmt.duration(s.p95_s),
                    "proven" if s.proven else "",
                ]
                for s in found.successes
            ],
            "--nnnnn-",
        )
        if found.successes
        else '<p class="note">No tasks.</p>',
        "<h3>Regressions</h3>",
        table(
            ["kind", "name", "figure", "before", "after"],
            [[r.kind, r.name, r.metric, f"{r.before:g}", f"{r.after:g}"] for r in regressions],
            "---nn",
        )
        if found.regressions
        else '<p class="note">None between the first and second half of the window.</p>',
    ]
    return section("insights", "Insights", *parts)
