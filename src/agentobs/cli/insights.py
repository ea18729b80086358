"""``agentobs insights``: failure patterns, success patterns and regressions, from the local
telemetry files or a directory of OTLP JSON (see :mod:`agentobs.insights` for definitions)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .. import insights as _insights
from .._settings import DEFAULT_LOCAL_DIR
from ._text import heading, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``agentobs insights`` options to ``parser``."""
    parser.add_argument(
        "--dir",
        metavar="PATH",
        help="directory (or file) of the telemetry: agentobs's local files or any OTLP JSON "
        f"(default: $AGENTOBS_LOCAL_DIR or {DEFAULT_LOCAL_DIR})",
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only spans that started since WHEN: 7d, 24h, 30m or an ISO 8601 date or time",
    )
    parser.add_argument(
        "--split",
        metavar="WHEN",
        help="regressions compare the spans before WHEN with those after it (default: the "
        "middle of the window); --since 14d --split 7d compares two weeks",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    """Run ``agentobs insights``; 1 when there are no spans to learn from, 2 for a bad --since."""
    path = Path(
        getattr(args, "dir", None) or os.environ.get("AGENTOBS_LOCAL_DIR") or DEFAULT_LOCAL_DIR
    )
    try:
        found = _insights.patterns(
            path, since=getattr(args, "since", None), split=getattr(args, "split", None)
        )
    except ValueError as exc:
        print(f"agentobs insights: {exc}", file=sys.stderr)
        return 2
    if not found.spans:
        print(
            f"agentobs insights: no spans found in {path}"
            + (f" since {found.since}" if found.since else "")
            + ". Run code that calls agentobs.configure() without an OTLP endpoint, or pass "
            "--dir.",
            file=sys.stderr,
        )
        return 1
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(found.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(found))
    return 0


def _num(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def render_text(found: _insights.Insights) -> str:
    """The three sections as terminal tables."""
    window = f"{found.start} .. {found.end}" if found.start else "no spans"
    lines = [
        f"agentobs insights: {found.source}",
        f"  {found.spans} spans, {found.workflow_runs} workflow runs, {window}"
        + (f" (since {found.since})" if found.since else ""),
        *heading("Failure patterns"),
        "  by workflow, stage and error type; recovered: the workflow run still succeeded",
    ]
    rows = [
        [
            f.workflow or "-",
            f.stage or "-",
            f.error_type + (f": {f.reason}" if f.reason else ""),
            str(f.occurrences),
            _pct(f.recovery_rate),
            _num(f.mean_time_to_recover_s, 1, " s"),
            ", ".join(f.personas + f.models) or "-",
        ]
        for f in found.failures
    ]
    headers = ["workflow", "stage", "error", "seen", "recovered", "to recover", "who"]
    lines += table(headers, rows, "lllrrrl") if rows else ["  none"]
    lines += [
        *heading("Success patterns"),
        f"  by agent and task type; proven past {found.proven_after} successes",
    ]
    rows = [
        [
            s.agent or "-",
            s.task_type,
            f"{s.successes}/{s.attempts}",
            _pct(s.success_rate),
            _num(s.mean_s, 2, " s"),
            _num(s.p95_s, 2, " s"),
            _num(s.tokens_per_success, 0),
            _num(s.cost_per_success_usd, 4),
            "proven" if s.proven else "",
        ]
        for s in found.successes
    ]
    headers = ["agent", "task type", "ok", "rate", "mean", "p95", "tok/ok", "$/ok", ""]
    lines += table(headers, rows, "llrrrrrrl") if rows else ["  none"]
    lines += [*heading("Regressions"), "  the first part of the window against the second"]
    rows = [
        [
            r.kind,
            r.name,
            r.metric,
            f"{r.before:g}",
            f"{r.after:g}",
            f"{r.runs_before}/{r.runs_after}",
        ]
        for r in found.regressions
    ]
    headers = ["kind", "name", "figure", "before", "after", "runs"]
    lines += table(headers, rows, "lllrrr") if rows else ["  none"]
    return "\n".join(lines) + "\n"
