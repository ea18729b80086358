"""The terminal rendering of a Report: plain ASCII structure, aligned columns, ~100 wide."""

from __future__ import annotations

from collections.abc import Sequence

from .._commands import report_command
from . import _format as fmt
from ._model import DurationRow, MetricRow, Report, TraceView

WIDTH = 100
MAX_TEXT_METRICS = 60
MAX_TEXT_WATERFALL = 25


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...`` when longer."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - 3)] + "..." if width > 3 else flat[:width]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Aligned columns; ``align`` has one ``l`` or ``r`` per column. Wide text columns
    are narrowed (widest first) until the table fits in :data:`WIDTH`."""
    cells = [[clip(cell, 200) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    gap, indent = 2, 2
    while indent + sum(widths) + gap * (len(widths) - 1) > WIDTH:
        text_columns = [i for i, a in enumerate(align) if a == "l" and widths[i] > 12]
        if not text_columns:
            break
        widest = max(text_columns, key=lambda i: widths[i])
        widths[widest] -= 1

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            value = clip(value, widths[i])
            parts.append(value.rjust(widths[i]) if align[i] == "r" else value.ljust(widths[i]))
        return (" " * indent + (" " * gap).join(parts)).rstrip()

    rule = " " * indent + (" " * gap).join("-" * w for w in widths)
    return [line(headers), rule, *(line(row) for row in cells)]


def heading(title: str) -> list[str]:
    """A blank line, then ``TITLE ----...`` across the width."""
    label = f"{title.upper()} "
    return ["", label + "-" * (WIDTH - len(label))]


def bar(ratio: float, width: int = 20) -> str:
    """``[#########-----------]`` for a ratio between 0 and 1."""
    filled = round(max(0.0, min(1.0, ratio)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def render_text(report: Report) -> str:
    """Render ``report`` as a terminal summary (plain text, no colour codes)."""
    out: list[str] = _overview(report)
    lines = fmt.highlights(report)
    if lines:
        out += heading("Highlights") + [f"  * {clip(line, WIDTH - 4)}" for line in lines]
    if report.errors:
        out += heading("Errors (most frequent)")
        rows = [[e.kind, e.name, e.error, str(e.count)] for e in report.errors]
        out += table(["kind", "name", "error", "count"], rows, "lllr")
    out += _durations("Workflows", report.workflows, "workflow", "runs")
    out += _durations("Stages", report.stages, "stage", "runs", reentries=True)
    out += _durations("Tasks", report.tasks, "task", "runs")
    out += _personas(report)
    out += _durations("Agents", report.agents, "agent", "calls")
    out += _durations("Tools", report.tools, "tool", "calls")
    out += _llm(report)
    if report.budgets:
        out += heading("Budgets") + table(fmt.BUDGET_HEADERS, fmt.budget_rows(report), "llrrrrr")
    out += _gates(report)
    if report.interventions:
        out += heading("Human interventions")
        rows = [[r.name, str(r.count)] for r in report.interventions]
        out += table(["reason", "count"], rows, "lr")
    out += _tests(report)
    if report.slowest_trace:
        out += _waterfall(report.slowest_trace, fmt.waterfall_title(report))
    out += _logs(report)
    out += _metrics(report)
    command = report_command(report.directory, "--html", "report.html")
    out += ["", "Tip: write this report as an HTML page with charts:"]
    out += [f"  $ {command}"]
    return "\n".join(out) + "\n"


def _overview(report: Report) -> list[str]:
    out = [f"agentobs report: {report.directory}", "=" * WIDTH]
    if report.filters:
        out.append(f"Filtered     {clip(fmt.filters(report), WIDTH - 13)}")
    if report.start and report.end:
        span = f"{report.start} .. {report.end}  ({fmt.duration(report.duration_s)})"
        out.append(f"Time range   {span}")
    if report.services:
        out.append(f"Services     {clip(', '.join(report.services), WIDTH - 13)}")
    if report.spans_total:
        rate = report.spans_error / report.spans_total
        out.append(
            f"Spans        {fmt.integer(report.spans_total)} in {fmt.integer(report.traces)} "
            f"traces, {fmt.integer(report.spans_error)} errors ({fmt.percent(rate)})"
        )
    out.append(
        f"Records      {fmt.integer(report.metric_points)} metric points, "
        f"{fmt.integer(report.log_records)} log records"
    )
    skipped = f", {report.lines_skipped} unreadable skipped" if report.lines_skipped else ""
    out.append(f"Read         {len(report.files)} files, {report.lines_read} lines{skipped}")
    return out


def _durations(
    title: str, rows: list[DurationRow], noun: str, count: str, *, reentries: bool = False
) -> list[str]:
    if not rows:
        return []
    grouped = any(row.group for row in rows)
    headers = (["workflow"] if grouped else []) + [noun, count, "errors", "p50", "p95", "max"]
    headers += ["re-entries"] if reentries else []
    body = []
    for row in rows:
        cells = [row.group] if grouped else []
        cells += [row.name, fmt.integer(row.count), fmt.integer(row.errors)]
        cells += [fmt.duration(row.p50_s), fmt.duration(row.p95_s), fmt.duration(row.max_s)]
        cells += [fmt.integer(row.reentries)] if reentries else []
        body.append(cells)
    align = ("l" if grouped else "") + "lrrrrr" + ("r" if reentries else "")
    return heading(title) + table(headers, body, align)


def _personas(report: Report) -> list[str]:
    if not report.personas:
        return []
    llm = any(p.llm_calls for p in report.personas)
    headers = ["persona", "spans", "time"]
    headers += ["llm calls", "tokens in", "tokens out", "cost"] if llm else []
    rows = []
    for p in report.personas:
        row = [p.name, fmt.integer(p.spans), fmt.duration(p.time_s)]
        if llm:
            row += [fmt.integer(p.llm_calls), fmt.integer(p.input_tokens)]
            row += [fmt.integer(p.output_tokens), fmt.known_cost(p.cost_usd, p.unpriced)]
        rows.append(row)
    return heading("Personas") + table(headers, rows, "lrrrrrr"[: len(headers)])


def _llm(report: Report) -> list[str]:
    llm = report.llm
    if llm is None:
        return []
    out = heading("LLM calls")
    out.append(
        f"  {fmt.integer(llm.calls)} calls, {fmt.integer(llm.errors)} errors, "
        f"{fmt.integer(llm.input_tokens)} input + {fmt.integer(llm.output_tokens)} output "
        f"tokens, {fmt.known_cost(llm.cost_usd, llm.unpriced)}"
        + (f", {llm.unpriced} unpriced" if llm.unpriced else "")
    )
    if llm.models:
        out.append("")
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
        out += table(headers, rows, "llrrrrrrrr")
    if llm.budget_breaches:
        out += ["", "  Budget breaches:"]
        out += table(
            ["budget", "breaches"], [[b.name, str(b.count)] for b in llm.budget_breaches], "lr"
        )
    return out


def _gates(report: Report) -> list[str]:
    if not report.gates:
        return []
    rows = [
        [
            g.name,
            str(g.passed),
            str(g.failed),
            f"{bar(g.pass_rate or 0.0, 10)} {fmt.percent(g.pass_rate)}",
            fmt.number(g.score_avg),
            f"{fmt.number(g.score_min)}..{fmt.number(g.score_max)}"
            if g.score_min is not None
            else "-",
            g.last_failure,
        ]
        for g in report.gates
    ]
    headers = ["gate", "pass", "fail", "pass rate", "score", "range", "last failure"]
    return heading("Quality gates") + table(headers, rows, "lrrlrll")


def _tests(report: Report) -> list[str]:
    tests = report.tests
    if tests is None:
        return []
    out = heading("Tests")
    counts = ", ".join(f"{n} {name}" for name, n in tests.outcomes.items())
    sessions = f" in {fmt.plural(tests.sessions, 'session')}" if tests.sessions else ""
    out.append(f"  {fmt.integer(tests.total)} test runs{sessions}: {counts}")
    if tests.pass_rate is not None:
        rate = f"{bar(tests.pass_rate)} {fmt.percent(tests.pass_rate)}"
        out.append(f"  pass rate {rate}  (passed / passed+failed+error)")
    if tests.flaky:
        out += ["", "  Flaky tests:"]
        out += table(["test", "times flagged"], [[f.name, str(f.count)] for f in tests.flaky], "lr")
    if tests.failures:
        out += ["", "  Failures (latest):"]
        rows = [[t.name, t.outcome, t.detail] for t in tests.failures]
        out += table(["test", "outcome", "detail"], rows, "lll")
    if tests.slowest:
        out += ["", "  Slowest tests:"]
        rows = [[t.name, t.outcome, fmt.duration(t.duration_s)] for t in tests.slowest]
        out += table(["test", "outcome", "duration"], rows, "llr")
    return out


def _waterfall(view: TraceView, title: str) -> list[str]:
    out = heading(title)
    out.append(f"  {view.name}  {fmt.duration(view.duration_s)}  trace {view.trace_id}")
    scale, label_width = 40, 34
    total = view.duration_s or 1.0
    for span in view.spans[:MAX_TEXT_WATERFALL]:
        label = clip("  " * span.depth + (f"{span.kind} " if span.kind else "") + span.name, 34)
        start = min(scale - 1, int(span.offset_s / total * scale))
        length = max(1, round(span.duration_s / total * scale))
        track = " " * start + ("X" if span.error else "=") * min(length, scale - start)
        out.append(
            f"  {label.ljust(label_width)} |{track.ljust(scale)}| {fmt.duration(span.duration_s)}"
        )
    hidden = len(view.spans) - MAX_TEXT_WATERFALL + view.omitted
    if hidden > 0:
        out.append(f"  ... {hidden} more spans (see --html)")
    return out


def _logs(report: Report) -> list[str]:
    logs = report.logs
    if logs is None:
        return []
    out = heading("Logs")
    counts = ", ".join(f"{n} {name}" for name, n in logs.by_severity.items())
    out.append(f"  {fmt.plural(logs.total, 'record')}: {counts}")
    if logs.recent_problems:
        out += ["", "  Latest warnings and errors:"]
        rows = [[e.time[11:23], e.severity, e.logger, e.body] for e in logs.recent_problems]
        out += table(["time", "level", "logger", "message"], rows, "llll")
    return out


def metric_value(name: str, kind: str, unit: str, value: float, count: int) -> str:
    """A metric's final value by its meaning; histograms as count, sum and mean."""
    show = fmt.metric_formatter(name, unit)
    if kind != "histogram":
        return show(value)
    mean = value / count if count else 0.0
    return f"n={fmt.integer(count)}  sum {show(value)}  avg {show(mean)}"


_NAMESPACES = ("agentobs.", "gen_ai.")


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Attribute keys without their ``agentobs.`` or ``gen_ai.`` namespace, the same rule for
    every key; a metric whose keys would then collide keeps them whole."""
    short = {key: key.removeprefix(_NAMESPACES[0]).removeprefix(_NAMESPACES[1]) for key in keys}
    return short if len(set(short.values())) == len(short) else {key: key for key in keys}


def _wrap(pairs: list[str], room: int) -> list[str]:
    """``k=v`` pairs joined by ``, `` into lines of at most ``room`` characters; a pair
    longer than a line is cut, the only case where text is lost."""
    lines: list[str] = []
    for pair in pairs:
        if lines and len(lines[-1]) + 2 + len(pair) <= room:
            lines[-1] += ", " + pair
        else:
            if lines:
                lines[-1] += ","
            lines.append(clip(pair, room))
    return lines or ["(no attributes)"]


def _metrics(report: Report) -> list[str]:
    if not report.metrics:
        return []
    out = heading("Metrics (final values)")
    out.append(f"  (attribute keys without their {' or '.join(_NAMESPACES)} prefix)")
    shown = report.metrics[:MAX_TEXT_METRICS]
    groups: dict[str, list[MetricRow]] = {}
    for m in shown:
        groups.setdefault(m.name, []).append(m)
    for name, rows in groups.items():
        first = rows[0]
        keys = sorted({key for row in rows for key in row.labels})
        short = short_keys(keys)
        common = {
            key
            for key in keys
            if len(rows) > 1
            and len({row.labels.get(key) for row in rows}) == 1
            and key in first.labels
        }
        unit = f", {first.unit}" if first.unit else ""
        header = f"  {clip(name, WIDTH - 30)}  ({first.kind}{unit})"
        if common:
            shared = ", ".join(f"{short[k]}={first.labels[k]}" for k in sorted(common))
            header += f"  all: {clip(shared, max(12, WIDTH - len(header) - 7))}"
        out.append(header)
        for m in rows:
            value = metric_value(m.name, m.kind, m.unit, m.value, m.count)
            pairs = [f"{short[k]}={v}" for k, v in m.labels.items() if k not in common]
            room = WIDTH - 6 - max(len(value), 12) - 2
            lines = _wrap(pairs, room)
            out.append(f"      {lines[0].ljust(room)}  {value.rjust(12)}".rstrip())
            out += [f"        {line}" for line in lines[1:]]
    hidden = len(report.metrics) - MAX_TEXT_METRICS + report.metrics_omitted
    if hidden > 0:
        out.append(f"  ... {hidden} more series (see --json or --html)")
    return out
