"""The process that owns the run (a serial run, or the xdist controller) records each test.

In a serial run the runner hands over each finished test, classified from the reports of its
last attempt (:class:`Finished`). On the xdist controller, :class:`ReportListener` reads the
reports xdist replays there (``pytest_runtest_logreport``), with the runner's payload on each
teardown report. Either way each test is counted once, with the outcome pytest's terminal and
JUnit XML give it. At the end of the session the recorder decides which tests were flaky
(within the run, and across runs from the history) and sums the run up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from .. import _flaky_history as _history
from ._category import Categories
from ._metrics import RunStats
from ._outcomes import FAILED, LETTERS, PASS_LIKE, PAYLOAD, classify, is_subtest, subtest_id


class Finished(NamedTuple):
    """A test the runner of this process finished (a serial run), already classified.

    The recorder keeps it as a plain tuple of strings and numbers, which the garbage
    collector stops tracking (it does not untrack named tuples): a long run does not give
    every collection thousands more objects to traverse."""

    outcome: str
    reason: str | None
    category: str
    duration: float
    fingerprint: str | None
    failed_before: int
    """Attempts that failed before the last one (reruns within the run)."""


@dataclass
class Seen:
    """What the reports of one test said: those of its last attempt (no rerun reports), how
    many attempts were reported as reruns, its total duration and the runner's payload."""

    reports: list[Any] = field(default_factory=list)
    reruns: int = 0
    duration: float = 0.0
    payload: dict[str, Any] | None = None
    rerun_in_attempt: bool = False


@dataclass(slots=True)
class TestResult:
    """One test of the run, decided."""

    nodeid: str
    outcome: str
    reason: str | None
    category: str
    duration: float
    fingerprint: str | None
    reruns: int
    flaky_kind: str | None = None
    verdict: _history.Verdict | None = None


@dataclass
class RunResult:
    """The run, summed up."""

    tests: list[TestResult]
    stats: RunStats
    warnings: list[str] = field(default_factory=list)

    @property
    def flaky(self) -> list[TestResult]:
        """The tests found flaky, in node id order."""
        return [t for t in self.tests if t.flaky_kind is not None]


class Recorder:
    """Collects finished tests; decides outcomes and flakiness at the end."""

    def __init__(self, categories: Categories) -> None:
        self.categories = categories
        self.tests: dict[str, Seen | tuple[Any, ...]] = {}
        self.others: dict[str, TestResult] = {}
        """What pytest counts beside the tests: a module (or other collector) that failed to
        collect is an ``error``, a module-level skip one ``skipped``, a failed subtest one
        ``failed`` (keyed ``<test node id> <subtest>``); none is in the flaky-test history."""

    def add(self, nodeid: str, finished: Finished) -> None:
        """A finished test, from the runner of this process."""
        self.tests[nodeid] = tuple(finished)

    def add_other(self, nodeid: str, outcome: str, reason: str | None) -> None:
        """A collector's failed or skipped collection (each once, as xdist dedups them), or
        a failed subtest."""
        category = self.categories.of_nodeid(nodeid)
        self.others[nodeid] = TestResult(nodeid, outcome, reason, category, 0.0, None, 0)

    def finish(
        self,
        *,
        suite: str,
        update_history: bool,
        started: float,
        coverage: float | None,
        history_path: Path | None,
        window: int,
    ) -> RunResult:
        """Decide every test, update the history and sum the run up."""
        tests: list[TestResult] = []
        for nodeid, seen in sorted(self.tests.items()):
            if not isinstance(seen, Seen):  # a Finished, kept as a plain tuple
                finished = Finished._make(seen)
                failed_before = finished.failed_before
                tests.append(
                    TestResult(
                        nodeid,
                        finished.outcome,
                        finished.reason,
                        self.categories.bounded(finished.category),
                        finished.duration,
                        finished.fingerprint,
                        failed_before,
                        "rerun" if finished.outcome in PASS_LIKE and failed_before > 0 else None,
                    )
                )
                continue
            if not seen.reports:
                continue  # only rerun reports: the run stopped before the last attempt
            outcome, reason = classify(seen.reports)
            payload = seen.payload or {}
            category = payload.get("cat")
            category = (
                self.categories.bounded(category)
                if isinstance(category, str)
                else self.categories.of_nodeid(nodeid)
            )
            failed_before = int(payload.get("fa", 0) or 0) + (0 if payload else seen.reruns)
            rerun_flaky = outcome in PASS_LIKE and (failed_before > 0 or seen.reruns > 0)
            fp = payload.get("fp")
            tests.append(
                TestResult(
                    nodeid,
                    outcome,
                    reason,
                    category,
                    seen.duration,
                    fp if isinstance(fp, str) else None,
                    max(seen.reruns, failed_before),
                    "rerun" if rerun_flaky else None,
                )
            )
        warnings: list[str] = []
        if history_path is not None and tests and update_history:
            tests = self._with_history(tests, history_path, window, warnings)
        if self.others:
            tests = sorted([*tests, *self.others.values()], key=lambda t: t.nodeid)
        stats = RunStats(suite=suite, coverage=coverage, timestamp=time.time())
        stats.duration = max(time.time() - started, 0.0)
        for test in tests:
            key = (test.outcome, test.category)
            stats.counts[key] = stats.counts.get(key, 0) + 1
        stats.flaky = sum(1 for t in tests if t.flaky_kind is not None)
        return RunResult(tests, stats, warnings)

    @staticmethod
    def _with_history(
        tests: list[TestResult], path: Path, window: int, warnings: list[str]
    ) -> list[TestResult]:
        with _history.locked(path) as held:
            if not held:
                warnings.append(
                    f"the flaky-test history {path} stayed locked by another run for "
                    f"{_history.LOCK_TIMEOUT:.0f} s; this run is not recorded in it"
                )
                return tests
            return Recorder._update_history(tests, path, window, warnings)

    @staticmethod
    def _update_history(
        tests: list[TestResult], path: Path, window: int, warnings: list[str]
    ) -> list[TestResult]:
        try:
            history, problem = _history.load(path)
        except _history.Unreadable as exc:
            warnings.append(f"{exc}; flaky tests are not tracked across runs")
            return tests
        if problem:
            warnings.append(problem)
        history.record(
            (
                (t.nodeid, t.fingerprint, "k" if t.flaky_kind == "rerun" else LETTERS[t.outcome])
                for t in tests
                if t.outcome in LETTERS
            ),
            window,
        )
        problem = _history.save(history, path)
        if problem:
            warnings.append(problem)
        verdicts = {v.nodeid: v for v in history.verdicts(t.nodeid for t in tests)}
        for test in tests:
            found = verdicts.get(test.nodeid)
            test.verdict = found
            if test.flaky_kind is None and found is not None and found.flaky:
                test.flaky_kind = "history"
        return tests


class ReportListener:
    """On the xdist controller: feeds the recorder from the reports workers send."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if is_subtest(report):  # the test's own reports decide its outcome
            if report.failed:
                self.recorder.add_other(subtest_id(report), FAILED, None)
            return
        tests = self.recorder.tests
        seen = tests.get(report.nodeid)
        if not isinstance(seen, Seen):  # none yet (a controller's runner delivers none)
            seen = tests[report.nodeid] = Seen()
        if report.when == "setup":
            if seen.reports:
                seen.reports = []
            seen.rerun_in_attempt = False
        seen.duration += report.duration
        outcome: str = report.outcome  # pytest-rerunfailures adds "rerun" to the three
        if outcome == "rerun":
            if not seen.rerun_in_attempt:
                seen.reruns += 1
                seen.rerun_in_attempt = True
        else:
            seen.reports.append(report)
        payload = getattr(report, PAYLOAD, None)
        if isinstance(payload, dict):
            seen.payload = payload
