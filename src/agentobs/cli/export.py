"""``agentobs export {dashboards,alerts,runbooks,all} -o DIR``: Grafana dashboards,
Prometheus rules and runbooks, generated from the metric catalogue."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._assets import FOLDERS, KINDS, files, write
from ._assets.rules import RUNBOOK_BASE, THRESHOLDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``agentobs export`` options to ``parser``."""
    parser.add_argument(
        "kind",
        choices=[*KINDS, "all"],
        help="what to write (all: each kind into its own folder under DIR: "
        + ", ".join(f"{k} -> {v}/" for k, v in FOLDERS.items())
        + ")",
    )
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an alert threshold (see docs/runbooks/README.md); repeatable",
    )
    parser.add_argument(
        "--runbook-url",
        default=RUNBOOK_BASE,
        metavar="URL",
        help=f"base URL of the runbook pages in the alerts' runbook_url ({RUNBOOK_BASE})",
    )


def _thresholds(settings: list[str]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep or name not in THRESHOLDS:
            known = ", ".join(THRESHOLDS)
            raise ValueError(f"--set {setting!r}: expected NAME=VALUE, NAME one of {known}")
        default = THRESHOLDS[name].value
        if isinstance(default, str):
            out[name] = value
            continue
        try:
            out[name] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            raise ValueError(f"--set {setting!r}: {name} needs a number") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Write the chosen files; print each path."""
    try:
        thresholds = _thresholds(args.set)
    except ValueError as exc:
        print(f"agentobs export: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    for kind in kinds:
        directory = output / FOLDERS[kind] if args.kind == "all" else output
        for path in write(directory, files(kind, thresholds, args.runbook_url)):
            print(path)
    return 0
