"""Turn the spans, metric points and log records read from a directory into a Report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

from .._localdata import LocalData, SpanData
from .._spanindex import (
    SpanIndex,
    display_name,
    flag_attr,
    iso_time,
    number_attr,
    percentile,
    text_attr,
)
from ._model import (
    BudgetRow,
    CountRow,
    DurationRow,
    ErrorRow,
    GateRow,
    LLMSummary,
    MetricRow,
    ModelRow,
    PersonaRow,
    Report,
    TestRow,
    TestSummary,
    TraceView,
    WaterfallSpan,
)
from ._records import summarize_logs, summarize_metrics

MAX_ERRORS = 10
MAX_TESTS = 10
MAX_WATERFALL_SPANS = 80

_PASS_WORDS = {"pass", "passed", "true", "ok", "success"}
_FAIL_WORDS = {"fail", "failed", "false", "error", "failure"}


def summarize(data: LocalData, trace_id: str = "") -> Report:
    """Build the :class:`Report` for data already read from a directory; its waterfall is
    of ``trace_id`` when given, else of the slowest run."""
    index = SpanIndex(data.spans)
    report = Report(
        directory=str(data.directory),
        generated_at=iso_time(int(datetime.now(tz=timezone.utc).timestamp() * 1e9)),
        files=[str(path) for path in data.files],
        lines_read=data.lines_read,
        lines_skipped=data.lines_skipped,
        spans_total=len(data.spans),
        spans_error=sum(1 for s in data.spans if s.is_error),
        traces=len({s.trace_id for s in data.spans}),
        log_records=len(data.logs),
        metric_points=len(data.points),
        services=sorted({s.service for s in data.spans if s.service}),
    )
    _fill_time_range(report, data)
    report.errors = _errors(index)
    report.workflows = _durations(index, "workflow", grouped=False)
    report.stages = _durations(index, "stage", grouped=True)
    report.tasks = _durations(index, "task", grouped=True)
    rank = {row.name: i for i, row in enumerate(report.workflows)}
    for rows in (report.stages, report.tasks):  # stable: first-run order within a workflow
        rows.sort(key=lambda r: rank.get(r.group, len(rank)))
    report.agents = _durations(index, "agent", grouped=False)
    report.tools = _durations(index, "tool", grouped=False)
    report.personas = _personas(index)
    report.gates = _gates(index)
    report.interventions = _interventions(index)
    report.llm = _llm(index)
    report.tests = _tests(index)
    report.logs = summarize_logs(data.logs)
    report.metrics, report.metrics_omitted = summarize_metrics(data.points)
    report.budgets = _budgets(report.metrics)
    report.slowest_trace = _trace_view(index, trace_id)
    if data.spans:
        from ..insights import analyse

        report.insights = analyse(data.spans, source=str(data.directory))
    return report


def _fill_time_range(report: Report, data: LocalData) -> None:
    starts = [s.start_ns for s in data.spans if s.start_ns > 0]
    ends = [s.end_ns for s in data.spans if s.end_ns > 0]
    others = [r.time_ns for r in data.logs if r.time_ns > 0]
    others += [p.time_ns for p in data.points if p.time_ns > 0]
    first = min(starts + others, default=0)
    last = max(ends + others, default=0)
    if first and last:
        report.start, report.end = iso_time(first), iso_time(last)
        report.duration_s = max(0, last - first) / 1e9


def _errors(index: SpanIndex) -> list[ErrorRow]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for span in index.spans:
        if not span.is_error:
            continue
        kind = index.kind_of(span)
        error = text_attr(span.attributes, "error.type") or span.status_message.split("\n")[0]
        counts[(kind or "span", display_name(span, kind), error[:120] or "error")] += 1
    return [
        ErrorRow(kind=kind, name=name, error=error, count=count)
        for (kind, name, error), count in counts.most_common(MAX_ERRORS)
    ]


def _duration_row(name: str, spans: list[SpanData], group: str = "") -> DurationRow:
    durations = [s.duration_s for s in spans]
    return DurationRow(
        name=name,
        group=group,
        count=len(spans),
        errors=sum(1 for s in spans if s.is_error),
        p50_s=percentile(durations, 0.5),
        p95_s=percentile(durations, 0.95),
        max_s=max(durations, default=0.0),
        total_s=sum(durations),
    )


def _durations(index: SpanIndex, kind: str, *, grouped: bool) -> list[DurationRow]:
    """Rows per name; for stages and tasks per (workflow, name) in order of first run.
    Stages count their re-entries: entries beyond the first within one workflow run. Tasks
    do not: many runs of one task in a workflow run is what ``asyncio.gather`` does."""
    groups: dict[tuple[str, str], list[SpanData]] = defaultdict(list)
    runs: Counter[tuple[str, str, str, str]] = Counter()
    for span in sorted(index.of_kind(kind), key=lambda s: s.start_ns):
        workflow = index.nearest(span, "workflow") if grouped else None
        group = display_name(workflow, "workflow") if workflow else ""
        key = (group, display_name(span, kind))
        groups[key].append(span)
        run_id = workflow.span_id if workflow else span.trace_id
        runs[(*key, span.trace_id, run_id)] += 1
    rows = [_duration_row(name, spans, group) for (group, name), spans in groups.items()]
    if kind == "stage":  # as agentobs.stage.reentries counts them; tasks run concurrently
        extra: Counter[tuple[str, str]] = Counter()
        for (group, name, _, _), n in runs.items():
            extra[(group, name)] += n - 1
        for row in rows:
            row.reentries = extra[(row.group, row.name)]
    else:
        rows.sort(key=lambda r: (-r.count, r.name))
    return rows


def _personas(index: SpanIndex) -> list[PersonaRow]:
    rows: dict[str, PersonaRow] = {}
    for span in index.spans:
        name = index.persona(span)
        if not name:
            continue
        row = rows.setdefault(name, PersonaRow(name, 0, 0.0, 0, 0, 0, None))
        row.spans += 1
        kind = index.kind_of(span)
        if kind == "persona":
            row.time_s += span.duration_s
        elif kind == "llm":
            row.llm_calls += 1
            row.input_tokens += int(number_attr(span.attributes, "gen_ai.usage.input_tokens") or 0)
            row.output_tokens += int(
                number_attr(span.attributes, "gen_ai.usage.output_tokens") or 0
            )
            usd = priced_cost(span)
            if usd is None:
                row.unpriced += 1
            else:
                row.cost_usd = (row.cost_usd or 0.0) + usd
    return sorted(rows.values(), key=lambda r: (-r.time_s, -r.spans, r.name))


def _verdict(text: str) -> bool | None:
    word = text.strip().lower()
    if word in _PASS_WORDS:
        return True
    if word in _FAIL_WORDS:
        return False
    return None


def _gates(index: SpanIndex) -> list[GateRow]:
    """Gate spans; ``gen_ai.evaluation.result`` events only in traces without gate spans."""
    results: dict[str, list[tuple[bool, float | None, str]]] = defaultdict(list)
    gate_traces: set[str] = set()
    for span in sorted(index.of_kind("gate"), key=lambda s: s.start_ns):
        gate_traces.add(span.trace_id)
        verdict = _verdict(text_attr(span.attributes, "agentobs.gate.result"))
        if verdict is None and span.is_error:
            verdict = False
        if verdict is None:
            continue
        score = number_attr(span.attributes, "agentobs.gate.score")
        reason = text_attr(span.attributes, "agentobs.gate.reason") or span.status_message
        for event in span.events:
            if event.name == "gen_ai.evaluation.result":
                attrs = event.attributes
                if score is None:
                    score = number_attr(attrs, "gen_ai.evaluation.score.value")
                reason = reason or text_attr(attrs, "gen_ai.evaluation.explanation")
        results[display_name(span, "gate")].append((verdict, score, reason))
    for span in index.spans:
        if span.trace_id in gate_traces:
            continue
        for event in span.events:
            if event.name != "gen_ai.evaluation.result":
                continue
            attrs = event.attributes
            label = text_attr(attrs, "agentobs.gate.result") or text_attr(
                attrs, "gen_ai.evaluation.score.label"
            )
            verdict = _verdict(label)
            if verdict is None:
                continue
            name = text_attr(attrs, "gen_ai.evaluation.name") or display_name(span, "gate")
            score = number_attr(attrs, "gen_ai.evaluation.score.value")
            results[name].append(
                (verdict, score, text_attr(attrs, "gen_ai.evaluation.explanation"))
            )
    rows = []
    for name, items in results.items():
        passed = sum(1 for ok, _, _ in items if ok)
        scores = [score for _, score, _ in items if score is not None]
        failures = [reason for ok, _, reason in items if not ok]
        rows.append(
            GateRow(
                name=name,
                passed=passed,
                failed=len(items) - passed,
                pass_rate=passed / len(items),
                score_avg=sum(scores) / len(scores) if scores else None,
                score_min=min(scores, default=None),
                score_max=max(scores, default=None),
                last_failure=(failures[-1] or "(no reason given)")[:200] if failures else "",
            )
        )
    return sorted(rows, key=lambda r: (r.pass_rate or 0.0, r.name))


_BUDGET_GAUGES = {
    "agentobs.budget.tokens.limit": ("token", "limit"),
    "agentobs.budget.tokens.remaining": ("token", "remaining"),
    "agentobs.budget.cost.limit": ("USD", "limit"),
    "agentobs.budget.cost.remaining": ("USD", "remaining"),
}


def _budgets(metrics: list[MetricRow]) -> list[BudgetRow]:
    """Budgets from their gauges (limit, remaining) and counters (breaches, refusals)."""
    rows: dict[tuple[str, str], BudgetRow] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for m in metrics:
        name = m.labels.get("agentobs.budget.name", "")
        if m.name in _BUDGET_GAUGES and name:
            unit, field_name = _BUDGET_GAUGES[m.name]
            row = rows.setdefault((name, unit), BudgetRow(name, unit, 0.0, 0.0))
            setattr(row, field_name, m.value)
        elif m.name in ("agentobs.budget.breaches", "agentobs.budget.refusals") and name:
            unit = m.labels.get("agentobs.budget.unit", "")
            counts[(name, unit, m.name.rsplit(".", 1)[1])] += int(m.value)
    for (name, unit, what), count in counts.items():
        found = rows.get((name, unit))
        if found is not None:
            setattr(found, what, getattr(found, what) + count)
    return sorted(rows.values(), key=lambda r: (r.name, r.unit))


def _interventions(index: SpanIndex) -> list[CountRow]:
    reasons: Counter[str] = Counter()
    for span in index.spans:
        kind = index.kind_of(span)
        if kind in ("intervention", "human_intervention"):
            reasons[text_attr(span.attributes, "agentobs.intervention.reason") or span.name] += 1
        for event in span.events:
            if event.name == "agentobs.human_intervention":
                reason = text_attr(event.attributes, "agentobs.intervention.reason")
                reasons[reason or "(no reason given)"] += 1
    return [CountRow(name, count) for name, count in reasons.most_common()]


def _llm(index: SpanIndex) -> LLMSummary | None:
    calls = sorted(index.of_kind("llm"), key=lambda s: s.start_ns)
    breaches: Counter[str] = Counter()
    for span in index.spans:
        for event in span.events:
            if event.name == "agentobs.budget.exceeded":
                name = text_attr(event.attributes, "agentobs.budget.name")
                name = name or index.inherited(span, "agentobs.budget.name")
                breaches[name or index.persona(span) or "(unnamed budget)"] += 1
    if not calls and not breaches:
        return None
    models: dict[str, list[SpanData]] = defaultdict(list)
    for span in calls:
        attrs = span.attributes
        model = text_attr(attrs, "gen_ai.request.model") or text_attr(
            attrs, "gen_ai.response.model"
        )
        models[model or "(unknown model)"].append(span)
    rows = [_model_row(model, spans) for model, spans in models.items()]
    rows.sort(key=lambda r: (-(r.cost_usd or 0.0), -(r.input_tokens + r.output_tokens), r.model))
    return LLMSummary(
        calls=len(calls),
        errors=sum(r.errors for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cost_usd=known_sum(r.cost_usd for r in rows),
        unpriced=sum(r.unpriced for r in rows),
        models=rows,
        budget_breaches=[CountRow(name, n) for name, n in breaches.most_common()],
    )


def _model_row(model: str, spans: list[SpanData]) -> ModelRow:
    def total(key: str) -> float:
        return sum(number_attr(s.attributes, key) or 0.0 for s in spans)

    providers = {text_attr(s.attributes, "gen_ai.provider.name") for s in spans}
    providers |= {text_attr(s.attributes, "gen_ai.system") for s in spans}
    durations = [s.duration_s for s in spans]
    return ModelRow(
        model=model,
        provider=", ".join(sorted(p for p in providers if p)),
        calls=len(spans),
        errors=sum(1 for s in spans if s.is_error),
        input_tokens=int(total("gen_ai.usage.input_tokens")),
        output_tokens=int(total("gen_ai.usage.output_tokens")),
        cost_usd=known_sum(priced_cost(s) for s in spans),
        unpriced=sum(1 for s in spans if priced_cost(s) is None),
        p50_s=percentile(durations, 0.5),
        p95_s=percentile(durations, 0.95),
    )


def priced_cost(span: SpanData) -> float | None:
    """The USD cost of one LLM call, or None when no price was known for it. A call that
    ended before the price table loaded (``agentobs.cost.pending``: its cost went to the
    metrics and budgets only) is priced here from the same table."""
    attrs = span.attributes
    if flag_attr(attrs, "agentobs.cost.unpriced"):
        return None
    usd = number_attr(attrs, "agentobs.cost.usd")
    if usd is None and flag_attr(attrs, "agentobs.cost.pending"):
        usd = _pending_cost(attrs)
    return usd


def _pending_cost(attrs: dict[str, object]) -> float | None:
    from .._llm import cost
    from .._llm.usage import Usage

    def tokens(key: str) -> int | None:
        value = number_attr(attrs, key)
        return None if value is None else int(value)

    usage = Usage(
        tokens("gen_ai.usage.input_tokens"),
        tokens("gen_ai.usage.output_tokens"),
        tokens("gen_ai.usage.cache_read.input_tokens"),
        tokens("gen_ai.usage.cache_creation.input_tokens"),
        tokens("gen_ai.usage.reasoning.output_tokens"),
    )
    provider = text_attr(attrs, "gen_ai.provider.name") or text_attr(attrs, "gen_ai.system")
    cost.warm()
    cost.wait_ready(30.0)
    for key in ("gen_ai.response.model", "gen_ai.request.model"):
        model = text_attr(attrs, key)
        rates = cost.rates_from_table(provider or None, model) if model else None
        if rates is not None:
            return rates.cost(usage)
    return None


def known_sum(values: Iterable[float | None]) -> float | None:
    """The sum of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _outcome(span: SpanData) -> str:
    outcome = text_attr(span.attributes, "agentobs.test.outcome")
    if outcome:
        return outcome
    status = text_attr(span.attributes, "test.case.result.status")
    if status in ("pass", "fail"):
        return "passed" if status == "pass" else "failed"
    return "failed" if span.is_error else "unknown"


def _tests(index: SpanIndex) -> TestSummary | None:
    runs = sorted(index.of_kind("test"), key=lambda s: s.start_ns)
    if not runs:
        return None
    rows: list[TestRow] = []
    flaky: Counter[str] = Counter()
    for span in runs:
        name = display_name(span, "test")
        outcome = _outcome(span)
        error = text_attr(span.attributes, "error.type")
        message = span.status_message.split("\n")[0]
        detail = message if message.startswith(error) else f"{error}: {message}".strip(": ")
        rows.append(TestRow(name, outcome, span.duration_s, detail[:200]))
        if flag_attr(span.attributes, "agentobs.test.flaky"):
            flaky[name] += 1
    outcomes = Counter(row.outcome for row in rows)
    decided = outcomes["passed"] + outcomes["failed"] + outcomes["error"]
    order = ["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
    ordered = {k: outcomes[k] for k in order if outcomes[k]}
    ordered.update({k: n for k, n in sorted(outcomes.items()) if k not in ordered})
    return TestSummary(
        total=len(rows),
        sessions=sum(1 for _ in index.of_kind("test_session")),
        outcomes=ordered,
        pass_rate=outcomes["passed"] / decided if decided else None,
        flaky=[CountRow(name, n) for name, n in flaky.most_common()],
        slowest=sorted(rows, key=lambda r: -r.duration_s)[:MAX_TESTS],
        failures=[r for r in rows if r.outcome in ("failed", "error")][-MAX_TESTS:],
    )


def _trace_view(index: SpanIndex, trace_id: str = "") -> TraceView | None:
    """The waterfall of the slowest workflow run (or root span), within ``trace_id`` if given."""
    spans = [s for s in index.spans if s.trace_id == trace_id] if trace_id else index.spans
    workflows = [s for s in index.of_kind("workflow") if not trace_id or s.trace_id == trace_id]
    candidates = workflows or [s for s in spans if index.parent(s) is None] or spans
    if not candidates:
        return None
    root = max(candidates, key=lambda s: s.duration_s)
    children: dict[str, list[SpanData]] = defaultdict(list)
    for span in index.spans:
        if span.trace_id == root.trace_id and span.parent_id:
            children[span.parent_id].append(span)
    view = TraceView(root.trace_id, display_name(root, index.kind_of(root)), root.duration_s)
    stack: list[tuple[SpanData, int]] = [(root, 0)]
    visited: set[str] = set()
    while stack:
        span, depth = stack.pop()
        if span.span_id in visited:
            continue
        visited.add(span.span_id)
        if len(view.spans) >= MAX_WATERFALL_SPANS:
            view.omitted += 1
        else:
            kind = index.kind_of(span)
            view.spans.append(
                WaterfallSpan(
                    name=display_name(span, kind),
                    kind=kind,
                    depth=depth,
                    offset_s=max(0, span.start_ns - root.start_ns) / 1e9,
                    duration_s=span.duration_s,
                    error=span.is_error,
                )
            )
        for child in sorted(children.get(span.span_id, []), key=lambda s: -s.start_ns):
            stack.append((child, depth + 1))
    return view
