"""A static preview of a Grafana dashboard: each panel's queries run against a live
Prometheus and drawn with the HTML report's SVG helpers (no Grafana server runs here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from agentobs.cli._svg import PALETTE, WIDTH, Series, bar_chart, esc, nice_ticks

_UNITS: dict[str, Callable[[float], str]] = {
    "percentunit": lambda v: f"{v * 100:.1f}%",
    "s": lambda v: f"{v:.3g}s",
    "ops": lambda v: f"{v:.3g}/s",
    "currencyUSD": lambda v: f"${v:.4g}",
}


def _format(unit: str) -> Callable[[float], str]:
    return _UNITS.get(unit, lambda v: f"{v:.4g}")


def _legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace(f"{{{{{key}}}}}", value)
    return text if text != "__auto" else ", ".join(f"{k}={v}" for k, v in labels.items())


def line_chart(
    title: str, lines: Sequence[tuple[str, list[tuple[float, float]]]], fmt: Callable[[float], str]
) -> str:
    """Lines over time, one per series, with a value axis from 0 (or the lowest value)."""
    height, left, right, top, bottom = 260, 70, 20, 14, 60
    points = [p for _, values in lines for p in values]
    if not points:
        return f'<p class="empty">{esc(title)}: no data</p>'
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    low = min(0.0, min(v for _, v in points))
    ticks = nice_ticks(max(v for _, v in points) - low)
    span_t, span_v = max(t1 - t0, 1e-9), ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def xy(t: float, v: float) -> str:
        x = left + (t - t0) / span_t * plot_w
        return f"{x:.1f},{top + plot_h - (v - low) / span_v * plot_h:.1f}"

    out = [
        f'<svg class="chart" role="img" width="100%" viewBox="0 0 {WIDTH} {height}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{esc(title)}</title>",
    ]
    for tick in ticks:
        y = top + plot_h - tick / span_v * plot_h
        out.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="currentColor" stroke-opacity="0.15"/>')  # fmt: skip
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor" '
                   f'fill-opacity="0.7">{esc(fmt(tick + low))}</text>')  # fmt: skip
    legend_x = float(left)
    for index, (label, values) in enumerate(lines[:12]):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join(xy(t, v) for t, v in values)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
                   f"<title>{esc(label)}</title></polyline>")  # fmt: skip
        row = height - 30 + 16 * (index // 4)
        out.append(
            f'<rect x="{legend_x:.0f}" y="{row - 9}" width="10" height="10" fill="{color}"/>'
        )
        out.append(f'<text x="{legend_x + 14:.0f}" y="{row}" fill="currentColor">'
                   f"{esc(label[:28])}</text>")  # fmt: skip
        legend_x = left if index % 4 == 3 else legend_x + 200
    out.append("</svg>")
    return "\n".join(out)


def panel_html(panel: dict[str, Any], query: Callable[[str], list[dict[str, Any]]]) -> str:
    """One panel: its title, its chart, and its queries."""
    fmt = _format(panel["fieldConfig"]["defaults"]["unit"])
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    for target in panel["targets"]:
        for series in query(target["expr"]):
            values = [(float(t), float(v)) for t, v in series["values"]]
            values = [(t, v) for t, v in values if math.isfinite(v)]
            if values:
                lines.append((_legend(target["legendFormat"], series["metric"]), values))
    if panel["type"] == "timeseries":
        chart = line_chart(panel["title"], lines, fmt)
    elif lines:
        last = [(label, values[-1][1]) for label, values in lines][:15]
        chart = bar_chart(
            panel["title"],
            [label for label, _ in last],
            [Series(panel["title"], [max(v, 0.0) for _, v in last], PALETTE[0])],
            value_format=fmt,
        )
    else:
        chart = f'<p class="empty">{esc(panel["title"])}: no data</p>'
    grid = panel["gridPos"]
    queries = "".join(f"<code>{esc(t['expr'])}</code>" for t in panel["targets"])
    return (
        f'<section class="panel" style="grid-column: span {grid["w"]}">'
        f"<h3>{esc(panel['title'])} <small>({esc(panel['type'])}, "
        f"{esc(panel['fieldConfig']['defaults']['unit'])})</small></h3>{chart}"
        f"<details><summary>PromQL</summary>{queries}</details></section>"
    )


def page(
    boards: Sequence[dict[str, Any]], query: Callable[[str], list[dict[str, Any]]], note: str
) -> str:
    """The preview page of ``boards``; ``query`` runs one panel expression (variables and
    ``$__rate_interval`` already substituted by the caller's function)."""
    body = []
    for board in boards:
        panels = "".join(panel_html(p, query) for p in board["panels"])
        body.append(
            f'<h2 id="{esc(board["uid"])}">{esc(board["title"])}</h2>'
            f'<p>{esc(board["description"])}</p><div class="grid">{panels}</div>'
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>agentobs dashboards preview"
        "</title><style>body{font-family:system-ui,sans-serif;margin:16px;background:#fff;"
        "color:#222}.grid{display:grid;grid-template-columns:repeat(24,1fr);gap:8px}"
        ".panel{border:1px solid #ddd;border-radius:4px;padding:6px;min-width:0}"
        "h3{font-size:13px;margin:0 0 4px}code{display:block;font-size:10px;white-space:"
        "pre-wrap;word-break:break-all}.empty{color:#d64545;font-weight:bold}</style></head>"
        f"<body><h1>agentobs dashboards: preview</h1><p>{esc(note)}</p>{''.join(body)}"
        "</body></html>"
    )
