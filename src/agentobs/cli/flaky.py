"""``agentobs flaky``: the flaky tests the pytest plugin's history knows, as a table or JSON.

The history is the one the pytest plugin keeps (``.pytest_cache/d/agentobs/flaky-history.json``
by default, found from the current directory upwards, or ``--history PATH``). Reading it never
changes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import _flaky_history as _history
from .._commands import DEFAULT_DEMO_DIR, agentobs_command

_LAST = {
    "p": "passed",
    "f": "failed",
    "e": "error",
    "s": "skipped",
    "x": "xfailed",
    "X": "xpassed",
    "k": "passed (rerun)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``agentobs flaky``."""
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="the history file, or a directory whose .pytest_cache holds it "
        "(default: the current directory or the nearest parent with one)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--all", action="store_true", help="list every test of the history, not only flaky ones"
    )


def _find(argument: str | None) -> Path | None:
    if argument is None:
        return _history.find(Path.cwd())
    path = Path(argument).expanduser()
    if path.is_dir():
        direct = path / _history.FILE_NAME
        return direct if direct.exists() else _history.find(path)
    return path


def _row(verdict: _history.Verdict) -> dict[str, Any]:
    return {
        "nodeid": verdict.nodeid,
        "flaky": verdict.flaky,
        "flip_rate": round(verdict.flip_rate, 4),
        "flips": verdict.flips,
        "runs": verdict.runs,
        "last": _LAST.get(verdict.last, verdict.last),
        "outcomes": verdict.letters,
    }


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON); 0 when the history could be read, 1 otherwise."""
    path = _find(args.history)
    if path is None or not path.exists():
        where = path if path is not None else Path.cwd()
        demo = Path(DEFAULT_DEMO_DIR)
        hint = (
            f"; the demo's history is read with `{agentobs_command()} flaky --history {demo}`"
            if args.history is None and (demo / _history.FILE_NAME).exists()
            else ""
        )
        print(
            f"agentobs flaky: no flaky-test history at {where}; run pytest with agentobs "
            f"installed first (or pass --history PATH){hint}",
            file=sys.stderr,
        )
        return 1
    try:
        history = _history.History.from_json(json.loads(path.read_bytes()))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"agentobs flaky: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    verdicts = [v for v in history.verdicts() if args.all or v.flaky]
    verdicts.sort(key=lambda v: (not v.flaky, -v.flip_rate, v.nodeid))
    if args.json:
        document = {
            "history": str(path),
            "runs": history.runs,
            "tests": [_row(v) for v in verdicts],
        }
        print(json.dumps(document, indent=2))
        return 0
    flaky = sum(1 for v in history.verdicts() if v.flaky)
    runs = f"{history.runs} run" + ("" if history.runs == 1 else "s")
    print(f"{flaky} flaky of {len(history.tests)} tests over {runs} ({path})")
    if not verdicts:
        return 0
    rows = [
        (
            v.nodeid,
            str(v.runs),
            str(v.flips),
            f"{v.flip_rate:.0%}",
            _LAST.get(v.last, v.last),
            v.letters,
        )
        for v in verdicts
    ]
    header = ("TEST", "RUNS", "FLIPS", "FLIP RATE", "LAST", "HISTORY (oldest first)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0
