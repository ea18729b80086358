"""Inline SVG charts drawn in Python: horizontal bar charts and a trace waterfall.

Every chart is ``<svg class="chart">`` whose first child is a ``<title>``; every string
that reaches the markup goes through :func:`esc`. Text uses ``currentColor`` so the page's
light or dark colour scheme carries into the charts.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._model import TraceView

WIDTH = 900
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d")
PASS_COLOR = "#2e9e4f"
FAIL_COLOR = "#d64545"
OUTCOME_COLORS = {
    "passed": PASS_COLOR,
    "failed": FAIL_COLOR,
    "error": "#8e2c2c",
    "skipped": "#9aa0a6",
    "xfailed": "#c9a227",
    "xpassed": "#6c8ebf",
}
KIND_COLORS = {
    "workflow": "#4c78a8",
    "stage": "#72b7b2",
    "task": "#54a24b",
    "persona": "#9aa0a6",
    "agent": "#b279a2",
    "tool": "#f58518",
    "llm": "#e8a33d",
    "gate": "#6b6ecf",
    "test": "#5b9bd5",
    "test_session": "#4c78a8",
}
OTHER_COLOR = "#8c8c8c"


def esc(text: object) -> str:
    """Escape any value for HTML text and attribute positions."""
    return html.escape(str(text), quote=True)


@dataclass
class Series:
    """One series of a bar chart: a label, one value per category, a colour."""

    label: str
    values: Sequence[float]
    color: str


def nice_ticks(maximum: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round axis ticks from 0 to at least ``maximum`` (steps of 1, 2, 2.5 or 5 x 10^k);
    with ``integer`` the step is a whole number."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = max(maximum / count, 1.0) if integer else maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for factor in (1, 2, 2.5, 5, 10):
        if integer and factor == 2.5 and magnitude < 10:
            continue
        if factor * magnitude >= raw:
            step = factor * magnitude
            break
    steps = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(steps + 1)]


def _short(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters; test ids keep their tail."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 5
    return text[:head] + "\u2026" + text[len(text) - (limit - 1 - head) :]


def _open(title: str, height: float, desc: str = "") -> list[str]:
    label = esc(title)
    return [
        f'<svg class="chart" role="img" width="100%" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{label}</title>",
        f"<desc>{esc(desc or title)}</desc>",
    ]


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for label, color in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{y:.1f}" fill="currentColor">{esc(label)}</text>')
        x += 24 + 7 * len(label)
    return out


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    value_format: Callable[[float], str],
    stacked: bool = False,
    bar_colors: Sequence[str] | None = None,
    integer: bool = False,
) -> str:
    """Horizontal bars, one row per category; several series are grouped or stacked.

    ``bar_colors`` (single series only) colours each category's bar on its own;
    ``integer`` keeps the axis ticks whole (counts)."""
    label_w, right_w, top = 260, 90, 34 if len(series) > 1 else 12
    plot_w = WIDTH - label_w - right_w
    bar_h = 18 if stacked or len(series) == 1 else 12
    row_h = (bar_h if stacked else bar_h * len(series)) + 10
    totals = [
        sum(s.values[i] for s in series) if stacked else max(s.values[i] for s in series)
        for i in range(len(categories))
    ]
    ticks = nice_ticks(max(totals, default=0.0), integer=integer)
    scale = plot_w / ticks[-1]
    height = top + row_h * len(categories) + 28
    out = _open(title, height)
    if len(series) > 1:
        out += _legend([(s.label, s.color) for s in series], label_w, 16)
    axis_y = top + row_h * len(categories)
    for tick in ticks:
        x = label_w + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y}" '
            'stroke="currentColor" stroke-opacity="0.15"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="currentColor" '
            f'fill-opacity="0.7">{esc(value_format(tick))}</text>'
        )
    for i, category in enumerate(categories):
        y = top + i * row_h + 5
        out.append(
            f'<text x="{label_w - 8}" y="{y + (row_h - 10) / 2 + 4:.1f}" text-anchor="end" '
            f'fill="currentColor"><title>{esc(category)}</title>{esc(_short(category, 40))}</text>'
        )
        x = float(label_w)
        for k, s in enumerate(series):
            value = s.values[i]
            color = bar_colors[i] if bar_colors and len(series) == 1 else s.color
            width = max(value * scale, 1.0 if value > 0 else 0.0)
            bar_y = y if stacked else y + k * bar_h
            tip = f"{category} - {s.label}: {value_format(value)}"
            out.append(
                f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="{bar_h - 2}" '
                f'fill="{color}" rx="2"><title>{esc(tip)}</title></rect>'
            )
            if stacked:
                x += width
            elif value > 0 or len(series) == 1:
                out.append(
                    f'<text x="{x + width + 4:.1f}" y="{bar_y + bar_h - 4:.1f}" '
                    f'fill="currentColor" font-size="11">{esc(value_format(value))}</text>'
                )
        if stacked:
            out.append(
                f'<text x="{x + 4:.1f}" y="{y + bar_h - 5:.1f}" fill="currentColor" '
                f'font-size="11">{esc(value_format(totals[i]))}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def waterfall(view: TraceView, *, duration_format: Callable[[float], str], title: str = "") -> str:
    """A timeline of one trace: one row per span, indented by depth, coloured by kind,
    outlined in red when the span failed."""
    label_w, right_w, top, row_h = 280, 70, 44, 18
    plot_w = WIDTH - label_w - right_w
    total = view.duration_s or max((s.offset_s + s.duration_s for s in view.spans), default=1.0)
    total = total or 1.0
    ticks = nice_ticks(total, 6)
    scale = plot_w / ticks[-1]
    height = top + row_h * len(view.spans) + 8
    out = _open(title or f"Timeline of {view.name}", height, f"trace {view.trace_id}")
    kinds = list(dict.fromkeys(s.kind or "span" for s in view.spans))
    out += _legend([(k, KIND_COLORS.get(k, OTHER_COLOR)) for k in kinds], label_w, 14)
    bottom = top + row_h * len(view.spans)
    for tick in ticks:
        x = label_w + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{bottom}" '
            'stroke="currentColor" stroke-opacity="0.12"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" fill="currentColor" '
            f'fill-opacity="0.7" font-size="11">{esc(duration_format(tick))}</text>'
        )
    for i, span in enumerate(view.spans):
        y = top + i * row_h
        if i % 2:
            out.append(
                f'<rect x="0" y="{y}" width="{WIDTH}" height="{row_h}" '
                'fill="currentColor" fill-opacity="0.04"/>'
            )
        indent = min(span.depth, 10) * 10
        name = _short(f"{span.kind} {span.name}" if span.kind else span.name, 40 - span.depth)
        out.append(
            f'<text x="{6 + indent}" y="{y + 13}" fill="currentColor">'
            f"<title>{esc(span.kind)} {esc(span.name)}</title>{esc(name)}</text>"
        )
        x = label_w + span.offset_s * scale
        width = max(span.duration_s * scale, 1.5)
        color = KIND_COLORS.get(span.kind, OTHER_COLOR)
        stroke = f' stroke="{FAIL_COLOR}" stroke-width="2"' if span.error else ""
        tip = (
            f"{span.name}: {duration_format(span.duration_s)} at +{duration_format(span.offset_s)}"
        )
        if span.error:
            tip += " (error)"
        out.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{color}"{stroke} rx="2"><title>{esc(tip)}</title></rect>'
        )
        out.append(
            f'<text x="{min(x + width + 4, WIDTH - right_w + 4):.1f}" y="{y + 13}" '
            f'fill="currentColor" font-size="11">{esc(duration_format(span.duration_s))}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
