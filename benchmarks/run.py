"""Run every registered benchmark in this one process; print a table, write results.json.

    python benchmarks/run.py            # what `make bench` runs
    python benchmarks/run.py --quick    # a tenth of the calls, for a smoke test
    python benchmarks/run.py --check    # exit 1 when a figure misses its target

To add rows (an LLM wrapper, the pytest plugin...), write a module in ``benchmarks/`` with a
``BENCHMARKS`` list of ``(session) -> None`` functions and add it to :data:`SUITES`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import bench_interop
import bench_llm
import bench_pytest
import core
from _harness import ROUNDS, Row, Session

SUITES: list[tuple[str, list[Callable[[Session], None]]]] = [
    ("core", core.BENCHMARKS),
    ("llm", bench_llm.BENCHMARKS),
    ("pytest", bench_pytest.BENCHMARKS),
    ("interop", bench_interop.BENCHMARKS),
]
"""Every benchmark module, run in this order (order matters within a module)."""

HERE = Path(__file__).resolve().parent


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ns/call":
        return f"{value:,.0f} ns" if value >= 100 else f"{value:.1f} ns"
    return f"{value:.1f} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    header = ("benchmark", "median", "ratio", "target", "")
    lines = [header]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        target = "-" if row.target is None else f"<= {row.target:g}"
        verdict = {True: "ok", False: "MISSED", None: ""}[row.met]
        note = f"  ({row.note})" if row.note else ""
        lines.append((row.name, _figure(row.value, row.unit), ratio, target, verdict + note))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [line[i].rjust(widths[i]) for i in (1, 2, 3)]
        out.append("  ".join(cells) + "  " + line[4])
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("agentobs", "opentelemetry-api", "opentelemetry-sdk"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the calls")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"default {ROUNDS}")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    session = Session(rounds=args.rounds, scale=0.1 if args.quick else 1.0)
    started = time.monotonic()
    for _suite, benchmarks in SUITES:
        for benchmark in benchmarks:
            benchmark(session)
    elapsed = time.monotonic() - started

    print(table(session.rows))
    print(f"\nmedian of {session.rounds} rounds; ratio = median / its baseline; {elapsed:.1f} s")
    results = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rounds": session.rounds,
        "quick": args.quick,
        "versions": _versions(),
        "rows": [row.to_json() for row in session.rows],
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")
    missed = [row.name for row in session.rows if row.met is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
