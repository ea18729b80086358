"""The pytest plugin: what it costs a test run, end to end.

* ``pytest_plugin_run`` — 2,000 generated trivial tests (20 modules of 100), each run as a
  fresh ``python -m pytest -q`` process: with the plugin recording spans and metrics to the
  local default files (``--agentobs-export local``, history in a file of the work directory),
  against plain pytest with the plugin off (``-p no:agentobs``), in paired rounds that
  alternate which goes first; the ratio is the median of the per-round ratios (target
  ≤ 1.15). Two rows from the same runs: the CPU seconds of the pytest process (user +
  system, all its threads: what a busy shared machine changes least) and wall-clock
  seconds. Both run in ``.bench-peers/agentobs`` (this checkout with pytest and the common
  packages of ``make bench-peers``, nothing else), as a user's project would: the development
  ``.venv``'s other plugins make plain pytest cost 2.7 times the CPU there and would hide
  the plugin's cost. A ``--quick`` run (the test suite's smoke run) uses the running Python.
* ``pytest_plugin_real_suite`` — the same comparison on a real suite: six's own tests, from
  its source distribution (downloaded once into ``.bench-peers/sdists``), target ≤ 1.03.
  six's suite is short (well under a second of tests), so the plugin's fixed cost per run
  (imports, building the pipeline, shutting it down) weighs heavily in it. Left out of a
  ``--quick`` run.
* ``pytest_plugin_subtests_suite`` — the same on a suite of realistic length: more-itertools'
  own unittest-style tests (663 tests, 2,332 ``subTest`` subtests; seconds of plain pytest),
  from its source distribution (:data:`MORE_ITERTOOLS`), target ≤ 1.03. Left out of a
  ``--quick`` run.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _harness import Session

MODULES, TESTS_PER_MODULE = 20, 100
TARGET = 1.15


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


REAL_TARGET = 1.03
FLOOR = ["-p", "no:agentobs", "-p", "pytest_sdk_floor"]
"""Plain pytest with the raw SDK's floor plugin (:mod:`pytest_sdk_floor`) instead of ours."""


def six_suite(sdist: Path) -> Callable[[Path], None]:
    """A ``populate`` for :func:`measure`: six's own test suite from its sdist."""
    import tarfile

    def populate(work: Path) -> None:
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                if name in ("six.py", "test_six.py") and member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    (work / name).write_bytes(source.read())
        # test_lazy asserts that nothing in the process imported html.parser yet: it
        # depends on what ran before it (it failed once under agentobs's plugin here).
        (work / "pytest.ini").write_text(
            "[pytest]\naddopts = -p no:randomly --deselect test_six.py::test_lazy\n"
        )

    return populate


MORE_ITERTOOLS = "more-itertools==10.5.0"
"""The real suite of realistic length: more-itertools' own tests, from its sdist."""


def more_itertools_suite(sdist: Path) -> Callable[[Path], None]:
    """A ``populate`` for :func:`measure`: more-itertools' package and tests from its sdist
    (the package imported from the work directory, not from an installed copy)."""
    import tarfile

    def populate(work: Path) -> None:
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                parts = Path(member.name).parts
                if len(parts) > 2 and parts[1] in ("more_itertools", "tests") and member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    target = work.joinpath(*parts[1:])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(source.read())
        (work / "pytest.ini").write_text(
            "[pytest]\naddopts = -p no:randomly\npythonpath = .\ntestpaths = tests\n"
        )

    return populate


def _run(directory: Path, args: list[str], env: dict[str, str], python: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one pytest process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"pytest {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def measure(
    rounds: int,
    modules: int,
    tests: int,
    plugin: list[str] | None = None,
    plain: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    populate: Callable[[Path], None] | None = None,
    warmup: bool = True,
    cpu: dict[str, list[float]] | None = None,
    python: str = sys.executable,
    floor: bool = False,
) -> tuple[list[float], list[float]]:
    """Wall-clock seconds per run with the plugin and without, in alternating rounds (after
    a warm-up); the CPU seconds of the same runs go to ``cpu["ours"]`` and ``cpu["theirs"]``.

    By default the plugin is agentobs's (local files, history in the work directory); another
    plugin's options (``plugin``) and how to turn it off (``plain``) can be given instead,
    and ``populate(directory)`` can lay out another suite than the generated one. ``python``
    is the environment's interpreter. With ``floor``, each round also runs the raw SDK's
    floor (:mod:`pytest_sdk_floor`, agentobs's plugin off): its CPU seconds go to
    ``cpu["floor"]``.
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
        floor_env = {**env, "PYTHONPATH": str(Path(__file__).resolve().parent)}
        if warmup:  # bytecode and assertion-rewrite caches
            _run(work, plugin, env, python)
            _run(work, plain, env, python)
            if floor:
                _run(work, FLOOR, floor_env, python)
        variants = [("ours", plugin, env), ("theirs", plain, env)]
        if floor:
            variants.append(("floor", FLOOR, floor_env))
        wall: dict[str, list[float]] = {}
        cpu = cpu if cpu is not None else {}
        for index in range(rounds):  # each variant first in turn
            for name, args, variant_env in (
                variants[index % len(variants) :] + variants[: index % len(variants)]
            ):
                elapsed, seconds = _run(work, args, variant_env, python)
                wall.setdefault(name, []).append(elapsed)
                cpu.setdefault(name, []).append(seconds)
            shutil.rmtree(work / "telemetry", ignore_errors=True)
        return wall["ours"], wall["theirs"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add_rows(
    session: Session,
    suite: str,
    wall: tuple[list[float], list[float]],
    cpu: dict[str, list[float]],
    target: float,
) -> None:
    """The rows of one suite, in CPU and wall-clock seconds, each with its plain baseline,
    then the raw SDK's floor on the same suite (CPU seconds)."""
    for clock, (plugin_rounds, plain_rounds) in (
        ("CPU", (cpu["ours"], cpu["theirs"])),
        ("wall", wall),
    ):
        baseline = f"plain pytest: {suite} (-p no:agentobs), {clock} s"
        session.add(baseline, plain_rounds, "s")
        session.add(
            f"pytest plugin: {suite}, spans + metrics to local files, {clock} s",
            plugin_rounds,
            "s",
            baseline=baseline,
            baseline_rounds=plain_rounds,
            target=target,
        )
    session.add(
        f"raw OpenTelemetry SDK floor: {suite}, a span, a count and a duration per test "
        "to local files, CPU s",
        cpu["floor"],
        "s",
        baseline=f"plain pytest: {suite} (-p no:agentobs), CPU s",
        baseline_rounds=cpu["theirs"],
        note="the least of the plugin's job done with the SDK alone (pytest_sdk_floor.py): "
        "a lower bound for any plugin that builds the SDK",
    )


def _python(session: Session) -> str:
    """The interpreter of ``.bench-peers/agentobs`` (created or brought up to date first), or
    the running one in a quick run."""
    if session.scale < 1:
        return sys.executable
    from bench_peers import install, python_of

    install("agentobs")
    return str(python_of("agentobs"))


def pytest_plugin_run(session: Session) -> None:
    """Row: the plugin's cost on 2,000 trivial tests (``session.scale`` shrinks the suite)."""
    modules = max(2, int(MODULES * session.scale))
    cpu: dict[str, list[float]] = {}
    wall = measure(
        session.rounds, modules, TESTS_PER_MODULE, cpu=cpu, python=_python(session), floor=True
    )
    _add_rows(session, f"{modules * TESTS_PER_MODULE:,} trivial tests", wall, cpu, TARGET)


def pytest_plugin_real_suite(session: Session) -> None:
    """Row: the plugin's cost on six's own test suite (from its sdist). Not in a ``--quick``
    run either: the test suite's smoke run downloads nothing."""
    from bench_peers import SIX, six_sdist

    if session.scale < 1:
        return
    cpu: dict[str, list[float]] = {}
    populate = six_suite(six_sdist())
    wall = measure(
        session.rounds, 0, 0, populate=populate, cpu=cpu, python=_python(session), floor=True
    )
    suite = f"{SIX.replace('==', '-')}'s own test suite"
    _add_rows(session, suite, wall, cpu, REAL_TARGET)


def pytest_plugin_subtests_suite(session: Session) -> None:
    """Row: the plugin's cost on more-itertools' own tests, 2,332 of them subtests (from its
    sdist): a real suite of realistic length. Not in a ``--quick`` run (the smoke run the
    test suite makes): it downloads the sdist and takes a minute."""
    from bench_peers import sdist

    if session.scale < 1:
        return
    cpu: dict[str, list[float]] = {}
    populate = more_itertools_suite(sdist(MORE_ITERTOOLS))
    wall = measure(
        session.rounds, 0, 0, populate=populate, cpu=cpu, python=_python(session), floor=True
    )
    suite = f"{MORE_ITERTOOLS.replace('==', '-')}'s own test suite (2,332 subtests)"
    _add_rows(session, suite, wall, cpu, REAL_TARGET)


BENCHMARKS = [pytest_plugin_run, pytest_plugin_real_suite, pytest_plugin_subtests_suite]


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cpu: dict[str, list[float]] = {}
    ours, theirs = measure(rounds, MODULES, TESTS_PER_MODULE, cpu=cpu)
    for clock, plugin_rounds, plain_rounds in (
        ("cpu", cpu["ours"], cpu["theirs"]),
        ("wall", ours, theirs),
    ):
        ratios = sorted(a / b for a, b in zip(plugin_rounds, plain_rounds, strict=True))
        print(f"{clock}: plugin {[round(x, 2) for x in sorted(plugin_rounds)]}")
        print(f"{clock}: plain  {[round(x, 2) for x in sorted(plain_rounds)]}")
        median = ratios[len(ratios) // 2]
        print(f"{clock}: ratios {[round(r, 3) for r in ratios]}  median {median:.3f}")
