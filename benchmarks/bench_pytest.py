"""The pytest plugin: what it costs a test run, end to end.

* ``pytest_plugin_run`` — 2,000 generated trivial tests (20 modules of 100), each run as a
  fresh ``python -m pytest -q`` process: with the plugin recording spans and metrics to the
  local default files (``--agentobs-export local``, history in pytest's cache), against plain
  pytest with the plugin off (``-p no:agentobs``). Wall-clock seconds per run, in paired
  rounds that alternate which goes first; the ratio is the median of the per-round ratios
  (target ≤ 1.10). Every other installed plugin loads in both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _harness import Session

NAME = "pytest plugin: 2,000 trivial tests, spans + metrics to local files"
BASELINE = "plain pytest: 2,000 trivial tests (-p no:agentobs)"
MODULES, TESTS_PER_MODULE = 20, 100
TARGET = 1.10


def write_suite(directory: Path, modules: int, tests: int) -> None:
    """``modules`` test files of ``tests`` trivial tests each, and a pytest.ini."""
    (directory / "pytest.ini").write_text(
        "[pytest]\naddopts = -p no:randomly\nasyncio_default_fixture_loop_scope = function\n"
    )
    body = "".join(f"def test_{i}():\n    assert True\n\n\n" for i in range(tests))
    tests_dir = directory / "tests"
    tests_dir.mkdir()
    for index in range(modules):
        (tests_dir / f"test_generated_{index:02d}.py").write_text(body)


def _run(directory: Path, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pytest {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def measure(
    rounds: int,
    modules: int,
    tests: int,
    plugin: list[str] | None = None,
    plain: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    populate: Callable[[Path], None] | None = None,
    warmup: bool = True,
) -> tuple[list[float], list[float]]:
    """Seconds per run with the plugin and without, in alternating rounds (after a warm-up).

    By default the plugin is agentobs's (local files, history in the work directory); another
    plugin's options (``plugin``) and how to turn it off (``plain``) can be given instead,
    and ``populate(directory)`` can lay out another suite than the generated one.
    """
    work = Path(tempfile.mkdtemp(prefix="agentobs-bench-pytest-"))
    try:
        if populate is None:
            write_suite(work, modules, tests)
        else:
            populate(work)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OTEL_", "AGENTOBS_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env["AGENTOBS_LOCAL_DIR"] = str(work / "telemetry")
        env.update(extra_env or {})
        if plugin is None:
            history = str(work / "history.json")
            plugin = ["--agentobs-export", "local", "--agentobs-history", history]
        if plain is None:
            plain = ["-p", "no:agentobs"]
        if warmup:  # bytecode and assertion-rewrite caches
            _run(work, plugin, env)
            _run(work, plain, env)
        ours: list[float] = []
        theirs: list[float] = []
        for index in range(rounds):
            if index % 2:
                theirs.append(_run(work, plain, env))
                ours.append(_run(work, plugin, env))
            else:
                ours.append(_run(work, plugin, env))
                theirs.append(_run(work, plain, env))
            shutil.rmtree(work / "telemetry", ignore_errors=True)
        return ours, theirs
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pytest_plugin_run(session: Session) -> None:
    """Row: the plugin's cost on 2,000 trivial tests (``session.scale`` shrinks the suite)."""
    modules = max(2, int(MODULES * session.scale))
    ours, theirs = measure(session.rounds, modules, TESTS_PER_MODULE)
    count = modules * TESTS_PER_MODULE
    session.add(BASELINE.replace("2,000", f"{count:,}"), theirs, "s")
    session.add(
        NAME.replace("2,000", f"{count:,}"),
        ours,
        "s",
        baseline=BASELINE.replace("2,000", f"{count:,}"),
        baseline_rounds=theirs,
        target=TARGET,
    )


BENCHMARKS = [pytest_plugin_run]


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    ours, theirs = measure(rounds, MODULES, TESTS_PER_MODULE)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    print(f"plugin  {sorted(ours)}")
    print(f"plain   {sorted(theirs)}")
    print(f"ratios  {[round(r, 3) for r in ratios]}  median {ratios[len(ratios) // 2]:.3f}")
