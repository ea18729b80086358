"""Timing helpers shared by every benchmark module: rounds, medians, rows, fresh processes.

A benchmark is a function ``(session: Session) -> None`` that measures something and calls
``session.add(...)``. Modules list theirs in a ``BENCHMARKS`` list; ``run.py`` runs every
registered list in order, in one process, so per-call figures share one interpreter.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ROUNDS = 7
"""Rounds per figure; each figure is the median of its rounds."""


@dataclass
class Row:
    """One measured figure, optionally compared with another row (``ratio = value / base``)."""

    name: str
    value: float | None
    unit: str
    rounds: list[float] = field(default_factory=list)
    baseline: str | None = None
    ratio: float | None = None
    target: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the ratio is within its target (None when there is no target)."""
        if self.target is None or self.ratio is None:
            return None
        return self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["met"] = self.met
        return data


@dataclass
class Session:
    """The rows measured so far, and how hard to measure (``scale`` < 1 for a quick run)."""

    rounds: int = ROUNDS
    scale: float = 1.0
    rows: list[Row] = field(default_factory=list)

    def calls(self, count: int) -> int:
        return max(100, int(count * self.scale))

    def row(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def add(
        self,
        name: str,
        rounds: Sequence[float],
        unit: str,
        *,
        baseline: str | None = None,
        baseline_rounds: Sequence[float] | None = None,
        target: float | None = None,
        note: str = "",
    ) -> Row:
        """Record a figure; with ``baseline_rounds`` (paired rounds) the ratio is the median
        of the per-round ratios, else the ratio of the medians."""
        value = statistics.median(rounds)
        ratio = None
        if baseline_rounds is not None:
            ratio = statistics.median(a / b for a, b in zip(rounds, baseline_rounds, strict=True))
        elif baseline is not None:
            base = self.row(baseline).value
            ratio = value / base if base else None
        row = Row(name, value, unit, list(rounds), baseline, ratio, target, note)
        self.rows.append(row)
        return row

    def skip(self, name: str, note: str, *, baseline: str | None = None) -> Row:
        row = Row(name, None, "", baseline=baseline, note=note)
        self.rows.append(row)
        return row


def per_call_ns(call: Callable[[], object], calls: int, rounds: int) -> list[float]:
    """Nanoseconds per call of ``call``, one figure per round (after one warm-up round)."""
    loop = _loop(call)
    loop(min(calls, 1_000))
    return [_timed(loop, calls) for _ in range(rounds)]


def paired_per_call_ns(
    call: Callable[[], object],
    calls: int,
    baseline: Callable[[], object],
    baseline_calls: int,
    rounds: int,
) -> tuple[list[float], list[float]]:
    """Per-call nanoseconds of ``call`` and ``baseline``, measured in alternating rounds.

    On a shared machine the load changes from second to second; pairing each round of the
    candidate with a round of the baseline taken just before or after it lets the ratio be
    the median of per-round ratios, which that drift mostly cancels out of.
    """
    return paired_loops_ns(_loop(call), calls, _loop(baseline), baseline_calls, rounds)


def paired_loops_ns(
    loop: Callable[[int], None],
    calls: int,
    base_loop: Callable[[int], None],
    baseline_calls: int,
    rounds: int,
    settle: bool = True,
) -> tuple[list[float], list[float]]:
    """:func:`paired_per_call_ns` for loops ``(count) -> None`` (see :func:`async_loop`).
    ``settle=False`` skips the garbage collection before each round: for a smoke run, whose
    figures mean nothing, in a process whose heap (a large SDK's) takes long to collect."""
    loop(min(calls, 1_000))
    base_loop(min(baseline_calls, 1_000))
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if index % 2:
            theirs.append(_timed(base_loop, baseline_calls, settle))
            ours.append(_timed(loop, calls, settle))
        else:
            ours.append(_timed(loop, calls, settle))
            theirs.append(_timed(base_loop, baseline_calls, settle))
    return ours, theirs


def async_loop(call: Callable[[], Awaitable[object]]) -> Callable[[int], None]:
    """A loop ``(count) -> None`` awaiting ``call()`` ``count`` times in one event loop."""
    event_loop = asyncio.new_event_loop()

    async def many(count: int) -> None:
        for _ in range(count):
            await call()

    def loop(count: int) -> None:
        event_loop.run_until_complete(many(count))

    return loop


def _timed(loop: Callable[[int], None], calls: int, settle: bool = True) -> float:
    if settle:
        gc.collect()
    started = time.perf_counter_ns()
    loop(calls)
    return (time.perf_counter_ns() - started) / calls


def _loop(call: Callable[[], object]) -> Callable[[int], None]:
    def loop(count: int) -> None:
        for _ in range(count):
            call()

    return loop


_IMPORT_PROBE = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


def paired_import_seconds(
    module: str, baseline_module: str, rounds: int, warmup: bool = True
) -> tuple[list[float], list[float]]:
    """Seconds to import each module in a fresh interpreter, alternating between the two
    (after one warm-up run of each, which fills the bytecode and file caches, unless
    ``warmup`` is false)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "AGENTOBS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }

    def once(name: str) -> float:
        command = [sys.executable, "-c", _IMPORT_PROBE.format(module=name)]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        return float(done.stdout.strip())

    if warmup:
        once(module)
        once(baseline_module)
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        pair = (baseline_module, module) if index % 2 else (module, baseline_module)
        for name in pair:
            (ours if name == module else theirs).append(once(name))
    return ours, theirs
