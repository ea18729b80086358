"""Number formatting and headline findings shared by the text and HTML renderers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from ._model import Report


def duration(seconds: float) -> str:
    """A duration for people: ``850us``, ``12ms``, ``1.25s``, ``3m07s``, ``2h05m``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    if seconds < 1:
        millis = seconds * 1e3
        return f"{millis:.3g}ms" if millis < 100 else f"{millis:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def integer(value: int | float) -> str:
    """An integer with thousands separators."""
    return f"{round(value):,}"


def cost(usd: float) -> str:
    """A USD amount: cents from $1 up; below that up to four decimals, so small amounts
    never read as zero and axis ticks such as $0.025 stay exact."""
    if usd == 0:
        return "$0"
    sign, amount = ("-" if usd < 0 else ""), abs(usd)
    if round(amount, 4) >= 1:
        return f"{sign}${amount:,.2f}"
    if amount < 0.0001:
        return f"{sign}<$0.0001"
    decimals = f"{amount:.4f}".rstrip("0").partition(".")[2]
    return f"{sign}$0.{decimals.ljust(2, '0')}"


def known_cost(usd: float | None, unpriced: int = 0) -> str:
    """A cost that may be partly or wholly unknown: ``unknown`` when no price was known,
    ``$0.0016 + ?`` when some calls had none; never a silent ``$0``."""
    if usd is None:
        return "unknown" if unpriced else "-"
    return f"{cost(usd)} + ?" if unpriced else cost(usd)


def percent(ratio: float | None) -> str:
    """A ratio as a percentage, ``-`` when undefined."""
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def number(value: float | None) -> str:
    """A metric value: integers with separators, fractions with four significant digits."""
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


_RATIO_SUFFIXES = ("rate", "ratio", "coverage", "utilization", "share")


def metric_formatter(name: str, unit: str) -> Callable[[float], str]:
    """How to show values of one metric, by its meaning: Unix timestamps as UTC times,
    durations in seconds as durations, ratios as percentages, USD as money."""
    if unit == "s" and name.endswith("timestamp"):
        return timestamp
    if unit == "s":
        return duration
    if unit == "1" and name.endswith(_RATIO_SUFFIXES):
        return percent
    if unit.strip("{}").upper() == "USD":
        return cost
    return number


def timestamp(seconds: float) -> str:
    """A Unix time in seconds as ``2026-12-03 10:23:25Z``."""
    try:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return number(seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def plural(count: int, noun: str) -> str:
    """``1 session``, ``2 sessions``, ``3 re-entries``."""
    if count == 1:
        return f"1 {noun}"
    suffix = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{integer(count)} {suffix}"


def budget_rows(report: Report) -> list[list[str]]:
    """The Budgets table: budget, unit, limit, used, remaining, breaches, refusals."""
    show = {"token": integer, "USD": cost}
    return [
        [
            b.name,
            b.unit,
            show.get(b.unit, number)(b.limit),
            show.get(b.unit, number)(b.used),
            show.get(b.unit, number)(b.remaining),
            integer(b.breaches),
            integer(b.refusals),
        ]
        for b in report.budgets
    ]


BUDGET_HEADERS = ["budget", "unit", "limit", "used", "remaining", "breaches", "refusals"]


def waterfall_title(report: Report) -> str:
    """``Trace`` for the trace chosen with ``--trace``, else ``Slowest run``."""
    return "Trace" if "--trace" in report.filters else "Slowest run"


def filters(report: Report) -> str:
    """The filters in force, as they were given: ``--service fleet --since 2h``."""
    return " ".join(f"{option} {value}" for option, value in report.filters.items())


def highlights(report: Report) -> list[str]:
    """The few findings a person wants first: slowest stage, biggest spender, worst gate..."""
    lines: list[str] = []
    if report.spans_error:
        top = report.errors[0] if report.errors else None
        where = f"; most frequent: {top.kind} {top.name} ({top.error}, {top.count}x)" if top else ""
        lines.append(f"{integer(report.spans_error)} failed spans{where}")
    slow_stages = sorted(report.stages, key=lambda r: -r.p95_s)
    if slow_stages:
        stage = slow_stages[0]
        label = f"{stage.group} / {stage.name}" if stage.group else stage.name
        lines.append(f"Slowest stage (p95): {label} at {duration(stage.p95_s)}")
    reentered = [r for r in report.stages if r.reentries]
    if reentered:
        most = max(reentered, key=lambda r: r.reentries)
        lines.append(f"Most re-entered stage: {most.name} ({plural(most.reentries, 're-entry')})")
    spenders = sorted(
        report.personas, key=lambda r: (-(r.cost_usd or 0.0), -(r.input_tokens + r.output_tokens))
    )
    if spenders and (spenders[0].cost_usd or spenders[0].input_tokens):
        top_persona = spenders[0]
        tokens = top_persona.input_tokens + top_persona.output_tokens
        lines.append(
            f"Biggest spender: persona {top_persona.name} "
            f"({known_cost(top_persona.cost_usd, top_persona.unpriced)}, "
            f"{integer(tokens)} tokens)"
        )
    if report.llm:
        llm = report.llm
        lines.append(
            f"LLM: {integer(llm.calls)} calls, "
            f"{integer(llm.input_tokens + llm.output_tokens)} tokens, "
            f"{known_cost(llm.cost_usd, llm.unpriced)}"
            + (f", {llm.unpriced} unpriced calls (cost unknown)" if llm.unpriced else "")
        )
        if llm.budget_breaches:
            names = ", ".join(row.name for row in llm.budget_breaches[:3])
            total = sum(row.count for row in llm.budget_breaches)
            lines.append(f"Budget breaches: {total} ({names})")
    failing = [g for g in report.gates if g.failed]
    if failing:
        gate = failing[0]
        lines.append(
            f"Weakest gate: {gate.name} passed {gate.passed}/{gate.passed + gate.failed} "
            f"({percent(gate.pass_rate)})"
        )
    if report.interventions:
        total = sum(row.count for row in report.interventions)
        lines.append(f"Human interventions: {total} (top reason: {report.interventions[0].name})")
    if report.tests:
        tests = report.tests
        flaky = f", {len(tests.flaky)} flaky" if tests.flaky else ""
        lines.append(
            f"Tests: {integer(tests.total)} run, pass rate {percent(tests.pass_rate)}{flaky}"
        )
    return lines
