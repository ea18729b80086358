"""Building blocks of the HTML report: sections, figures and escaped tables."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._svg import esc

MAX_CHART_ROWS = 20
"""Charts show at most this many bars; the table under them shows every row."""

Cell = object


Section = tuple[str, str, str] | None  # (anchor, title, html)


def section(anchor: str, title: str, *parts: str) -> Section:
    """A report panel: ``(anchor, title, html)`` for the table of contents and the page."""
    inner = "\n".join(part for part in parts if part)
    html = f'<section class="panel" id="{anchor}">\n<h2>{esc(title)}</h2>\n{inner}\n</section>'
    return anchor, title, html


_BREAK_AFTER = re.compile(r"(/|::|(?<=[A-Za-z])\.(?=[A-Za-z]))")
_LONG_WORD = re.compile(r"\S{16,}")


def breakable(text: object) -> str:
    """Escaped text in which a long name may break only between its parts: after the dots
    of a dotted name, the slashes of a path, the ``::`` of a test id
    (``agentobs.budget.<wbr>breaches``); never inside a word."""
    return _LONG_WORD.sub(lambda m: _BREAK_AFTER.sub(r"\1<wbr>", m.group(0)), esc(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], numeric: str = "") -> str:
    """An escaped data table; ``numeric`` marks right-aligned columns with ``n`` and columns
    that must stay on one line (times) with ``t``."""

    def cls(i: int) -> str:
        kind = numeric[i] if i < len(numeric) else "-"
        return f' class="{kind}"' if kind in "nt" else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{breakable(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


def figure(svg: str, note: str = "") -> str:
    """The chart with a visible caption (its ``<title>``, already escaped) and a note."""
    title = re.search(r"<title>(.*?)</title>", svg)
    caption = f"<figcaption>{title.group(1)}</figcaption>" if title else ""
    extra = f'<p class="note">{esc(note)}</p>' if note else ""
    return f"<figure>{caption}{svg}</figure>{extra}"


def top_note(shown: int, total: int, what: str) -> str:
    """Say that a chart is cut to its first ``shown`` rows, when it is."""
    return f"Chart shows the top {shown} of {total} {what}." if total > shown else ""
