"""``agentobs report``: summarise the local telemetry files in the terminal, JSON or HTML.

With no OTLP endpoint configured agentobs writes OTLP JSON Lines files (``traces.jsonl``,
``metrics.jsonl``, ``logs.jsonl`` and their rotations) to a directory, ``.agentobs/`` by
default. This command reads them and answers the usual questions: which workflow or stage
is slow, which persona spends the tokens, which gate fails, which test is flaky.

Library use::

    from agentobs.cli.report import build_report, render_html, render_text

    report = build_report(".agentobs")
    print(render_text(report))
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from .._export.localfiles import FILE_NAMES
from .._localdata import read_directory
from .._settings import DEFAULT_LOCAL_DIR
from ._filters import FilterError, Filters, apply, parse_since
from ._html import render_html as _render_html
from ._model import Report
from ._summary import summarize
from ._text import render_text as _render_text

__all__ = [
    "DEFAULT_DIR",
    "FilterError",
    "Report",
    "add_arguments",
    "build_report",
    "render_html",
    "render_text",
    "run",
]

DEFAULT_DIR = DEFAULT_LOCAL_DIR
"""Where agentobs writes its local files when neither ``--dir`` nor ``AGENTOBS_LOCAL_DIR``
says otherwise."""


def build_report(
    directory: str | os.PathLike[str],
    *,
    since: str = "",
    service: str = "",
    workflow: str = "",
    trace: str = "",
) -> Report:
    """Read every telemetry file in ``directory`` (all rotations, oldest first) and
    summarise it. A missing or empty directory gives a report whose ``is_empty`` is True;
    unreadable lines are skipped and counted in ``lines_skipped``.

    ``since`` (``30m``, ``2h``, ``1d`` or an ISO 8601 time), ``service``, ``workflow`` and
    ``trace`` (a trace id or its first digits, whose waterfall the report then shows)
    narrow what is summarised; a filter that cannot be applied raises :class:`FilterError`."""
    chosen = Filters(
        since_ns=parse_since(since) if since else 0,
        service=service,
        workflow=workflow,
        trace=trace,
    )
    data, trace_id = apply(read_directory(Path(directory)), chosen)
    report = summarize(data, trace_id)
    report.filters = replace(chosen, trace=trace_id).described(since)
    return report


def render_text(report: Report) -> str:
    """Render ``report`` as a plain-text terminal summary about 100 columns wide."""
    return _render_text(report)


def render_html(report: Report) -> str:
    """Render ``report`` as one self-contained HTML page with inline CSS and SVG charts.

    The page loads nothing from the network (its Content-Security-Policy forbids it) and
    every user-provided name is HTML-escaped."""
    return _render_html(report)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``agentobs report`` options to ``parser``."""
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help=f"directory of the telemetry files (default: $AGENTOBS_LOCAL_DIR or {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--html", metavar="FILE", help="also write a self-contained HTML report to FILE"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of text"
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        default="",
        help="only what happened since WHEN: 30m, 2h, 1d ago, or an ISO 8601 time",
    )
    parser.add_argument("--service", metavar="NAME", default="", help="only this service.name")
    parser.add_argument(
        "--workflow", metavar="NAME", default="", help="only the runs of this workflow"
    )
    parser.add_argument(
        "--trace",
        metavar="ID",
        default="",
        help="only this trace (its id or first digits), shown as a waterfall",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``agentobs report``; return the exit code (1 when there is nothing to report)."""
    directory = Path(
        getattr(args, "dir", None) or os.environ.get("AGENTOBS_LOCAL_DIR") or DEFAULT_DIR
    )
    try:
        report = build_report(
            directory,
            since=getattr(args, "since", "") or "",
            service=getattr(args, "service", "") or "",
            workflow=getattr(args, "workflow", "") or "",
            trace=getattr(args, "trace", "") or "",
        )
    except FilterError as exc:
        print(f"agentobs report: {exc}", file=sys.stderr)
        return 2
    if report.is_empty and report.filters:
        chosen = " ".join(f"{k} {v}" for k, v in report.filters.items())
        print(f"agentobs report: nothing in {directory} matches {chosen}", file=sys.stderr)
        return 1
    if report.is_empty:
        expected = ", ".join(FILE_NAMES.values())
        reason = "does not exist" if not directory.is_dir() else f"has no readable {expected}"
        skipped = (
            f" ({report.lines_skipped} unreadable lines skipped)" if report.lines_skipped else ""
        )
        print(
            f"agentobs report: no telemetry found: {directory} {reason}{skipped}. "
            "Run code that calls agentobs.configure() without an OTLP endpoint, or pass --dir.",
            file=sys.stderr,
        )
        return 1
    html_path = getattr(args, "html", None)
    if html_path:
        try:
            Path(html_path).write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            print(f"agentobs report: cannot write {html_path}: {exc}", file=sys.stderr)
            return 1
    as_json = bool(getattr(args, "json", False))
    if as_json:
        _write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        _write(render_text(report))
    if html_path:
        print(f"HTML report written to {html_path}", file=sys.stderr if as_json else sys.stdout)
    return 0


def _write(text: str) -> None:
    """Write to stdout, replacing characters the terminal's encoding cannot show."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, "replace").decode(encoding))
    sys.stdout.flush()
