"""The HTML rendering of a Report: one self-contained page, inline CSS and SVG, no network.

A Content-Security-Policy of ``default-src 'none'`` makes the offline promise enforceable:
even a name that slipped past escaping could not load or run anything.
"""

from __future__ import annotations

from . import _format as fmt
from . import _htmlsections as panels
from ._htmlparts import Section, section
from ._model import Report
from ._svg import esc

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root{--bg:#f5f6f8;--fg:#1f2328;--muted:#5f6b7a;--card:#fff;--border:#e2e5ea;
--accent:#3b6ea5;--bad:#c93c3c;--good:#2e8b4a}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--fg:#e6e8eb;--muted:#9aa4b2;
--card:#171a20;--border:#2a2f37;--accent:#7aa7d9}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:1000px;margin:0 auto;padding:0 24px}
header{padding-top:24px}
h1{margin:0;font-size:24px}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:13px;margin:18px 0 6px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
.sub,.note{color:var(--muted)}
.note{font-size:12px;margin:4px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;
margin:16px 0}
.card{background:var(--card);border:1px solid var(--border);border-radius:10px;
padding:10px 14px}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.card .l{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.card.bad .v{color:var(--bad)}
.card.good .v{color:var(--good)}
section.panel{background:var(--card);border:1px solid var(--border);border-radius:10px;
padding:16px 20px;margin:14px 0}
nav.toc{margin:8px 0 0;font-size:13px}
nav.toc a{margin-right:14px;color:var(--accent);text-decoration:none}
ul.highlights{margin:0;padding-left:20px}
ul.highlights li{margin:3px 0}
figure{margin:14px 0 4px}
figcaption{font-size:13px;font-weight:600;margin:0 0 4px}
svg.chart{display:block;height:auto;overflow:visible}
.table-wrap{overflow-x:auto}
table.data{border-collapse:collapse;width:100%;font-size:13px;margin:4px 0}
table.data th{text-align:left;color:var(--muted);font-weight:600;padding:4px 8px;
border-bottom:1px solid var(--border);white-space:nowrap}
table.data td{padding:3px 8px;border-bottom:1px solid var(--border);vertical-align:top;
overflow-wrap:break-word}
table.data .n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.data .t,.nowrap{white-space:nowrap}
td.bad{color:var(--bad);font-weight:600}
footer{color:var(--muted);font-size:12px;padding-bottom:32px}
"""


def render_html(report: Report) -> str:
    """Render ``report`` as one self-contained HTML page (inline CSS and SVG charts)."""
    sections = [
        _highlights(report),
        panels.errors_section(report),
        panels.durations_section("workflows", "Workflows", report.workflows, "runs"),
        panels.durations_section("stages", "Stages", report.stages, "runs"),
        panels.durations_section("tasks", "Tasks", report.tasks, "runs"),
        panels.personas_section(report),
        panels.durations_section("agents", "Agents", report.agents, "calls"),
        panels.durations_section("tools", "Tools", report.tools, "calls"),
        panels.llm_section(report),
        panels.budgets_section(report),
        panels.gates_section(report),
        panels.interventions_section(report),
        panels.tests_section(report),
        panels.insights_section(report),
        panels.slowest_section(report),
        panels.logs_section(report),
        panels.metrics_section(report),
    ]
    present = [s for s in sections if s]
    toc = " ".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title, _ in present if title)
    body = "\n".join(html for _, _, html in present)
    where = esc(report.directory)
    when = (
        f' &middot; <span class="nowrap">{esc(report.start)}</span> &rarr; '
        f'<span class="nowrap">{esc(report.end)}</span> '
        if report.start
        else ""
    )
    when += f"({esc(fmt.duration(report.duration_s))})" if report.start else ""
    services = f" &middot; {esc(', '.join(report.services))}" if report.services else ""
    services += f" &middot; filtered: {esc(fmt.filters(report))}" if report.filters else ""
    skipped = f", {report.lines_skipped} unreadable lines skipped" if report.lines_skipped else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>agentobs report: {where}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>agentobs report</h1>
<p class="sub">{where}{when}{services}</p>
<nav class="toc">{toc}</nav>
</header>
<main>
{_cards(report)}
{body}
</main>
<footer>Generated {esc(report.generated_at)} by agentobs from {len(report.files)} files
({report.lines_read} lines{skipped}). This page is self-contained and works offline.</footer>
</body>
</html>
"""


def _card(label: str, value: str, tone: str = "") -> str:
    css = f"card {tone}".strip()
    return (
        f'<div class="{css}"><div class="v">{esc(value)}</div>'
        f'<div class="l">{esc(label)}</div></div>'
    )


def _cards(report: Report) -> str:
    cards = [
        _card("spans", fmt.integer(report.spans_total)),
        _card(
            "failed spans", fmt.integer(report.spans_error), "bad" if report.spans_error else "good"
        ),
        _card("traces", fmt.integer(report.traces)),
    ]
    if report.workflows:
        cards.append(_card("workflow runs", fmt.integer(sum(w.count for w in report.workflows))))
    if report.llm:
        tokens = report.llm.input_tokens + report.llm.output_tokens
        cards += [
            _card("llm calls", fmt.integer(report.llm.calls)),
            _card("tokens", fmt.integer(tokens)),
            _card("cost", fmt.known_cost(report.llm.cost_usd, report.llm.unpriced)),
        ]
        if report.llm.budget_breaches:
            breaches = sum(b.count for b in report.llm.budget_breaches)
            cards.append(_card("budget breaches", fmt.integer(breaches), "bad"))
    if report.gates:
        passed = sum(g.passed for g in report.gates)
        total = passed + sum(g.failed for g in report.gates)
        rate = passed / total if total else None
        cards.append(_card("gate pass rate", fmt.percent(rate), _tone(rate)))
    if report.tests:
        cards.append(
            _card(
                "test pass rate", fmt.percent(report.tests.pass_rate), _tone(report.tests.pass_rate)
            )
        )
    if report.interventions:
        cards.append(
            _card("interventions", fmt.integer(sum(i.count for i in report.interventions)))
        )
    return f'<section class="cards">{"".join(cards)}</section>'


def _tone(rate: float | None) -> str:
    if rate is None:
        return ""
    return "good" if rate >= 0.95 else "bad" if rate < 0.8 else ""


def _highlights(report: Report) -> Section:
    lines = fmt.highlights(report)
    if not lines:
        return None
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return section("highlights", "Highlights", f'<ul class="highlights">{items}</ul>')
