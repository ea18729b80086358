"""Compare the benchmark rows of two revisions, alternating whole runs (old, new, new, old...).

    .venv/bin/python benchmarks/compare_revisions.py a10e220 main --runs 3

Each revision is exported (``git archive``) into a temporary directory and runs its own
``benchmarks/run.py`` with ``PYTHONPATH`` at its own ``src``, in this interpreter (so both use
the same installed dependencies); only the ``core`` and ``llm`` suites run (``--suites``).
The runs alternate so that a machine getting busier or quieter weighs on both alike. The
table gives, per row both revisions have, the median over runs of each revision's figure and
of its ratio to its baseline (the ratio pairs each round with a baseline round taken beside
it: the steadier figure on a loaded machine). ``--quick`` passes ``--quick`` to each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_DRIVER = (
    "import sys, run\n"
    "suites = sys.argv[1].split(',')\n"
    "run.SUITES = [s for s in run.SUITES if s[0] in suites]\n"
    "sys.exit(run.main(sys.argv[2:]))\n"
)


def export(revision: str, into: Path) -> Path:
    """The files of ``revision`` under ``into`` (from ``git archive``)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_once(tree: Path, suites: str, quick: bool, output: Path) -> list[dict[str, Any]]:
    """One whole run of ``tree``'s own benchmarks; its rows."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [sys.executable, "-c", _DRIVER, suites, "--output", str(output)]
    if quick:
        command.append("--quick")
    subprocess.run(command, cwd=tree / "benchmarks", env=env, check=True, capture_output=True)
    rows: list[dict[str, Any]] = json.loads(output.read_text())["rows"]
    return rows


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--runs", type=int, default=2, help="whole runs of each (default 2)")
    parser.add_argument("--suites", default="core,llm", help="default core,llm")
    parser.add_argument("--quick", action="store_true", help="a tenth of the calls per run")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {
            "old": export(args.old, Path(tmp) / "old"),
            "new": export(args.new, Path(tmp) / "new"),
        }
        for index in range(args.runs):
            for which in ("old", "new") if index % 2 == 0 else ("new", "old"):
                print(f"run {index + 1} of {which}: load {_load()}", file=sys.stderr, flush=True)
                output = Path(tmp) / f"{which}-{index}.json"
                for row in run_once(trees[which], args.suites, args.quick, output):
                    results[which].setdefault(row["name"], []).append(row)
    print(f"| row | {args.old} | {args.new} | change | ratio {args.old} | ratio {args.new} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, new_rows in results["new"].items():
        old_rows = results["old"].get(name)
        if not old_rows:
            continue
        unit = new_rows[0]["unit"]
        old_value = statistics.median(r["value"] for r in old_rows)
        new_value = statistics.median(r["value"] for r in new_rows)
        ratios = []
        for rows in (old_rows, new_rows):
            found = [r["ratio"] for r in rows if r["ratio"] is not None]
            ratios.append(f"{statistics.median(found):.3f}" if found else "-")
        print(
            f"| {name} | {old_value:,.1f} {unit} | {new_value:,.1f} {unit} "
            f"| {(new_value / old_value - 1) * 100:+.1f} % | {ratios[0]} | {ratios[1]} |"
        )
    print(f"\n{args.runs} whole runs of each, alternating; load at the end {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
