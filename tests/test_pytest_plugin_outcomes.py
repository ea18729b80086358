"""Outcomes pytest reports outside the test protocol, on projects with their own settings:
collection errors, module-level skips, interrupts, subtests, strict xpasses, stepwise runs.

Each inner run writes spans and metrics to the local files (``--agentobs-export local``) and
the counts are compared with pytest's own summary.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_pytest_plugin_support import (
    isolate,
    last_gauges,
    local,
    outcome_counts,
    run,
    session_spans,
    spans_of_tests,
)

pytest_plugins = ["pytester"]

PYPROJECT = """\
[tool.pytest.ini_options]
addopts = ["-p", "no:randomly", "-p", "no:flaky", "--strict-markers"]
markers = ["gpu: needs a GPU"]
asyncio_default_fixture_loop_scope = "function"
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate(monkeypatch)


def _project(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    pytester.makepyprojecttoml(PYPROJECT)
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _spans(pytester: pytest.Pytester) -> dict[str, Any]:
    return {s.name: s for s in spans_of_tests(local(pytester.path))}


COLLECTION = {
    "tests/unit/test_ok.py": "import pytest\n\n@pytest.mark.gpu\ndef test_a():\n    pass\n\n"
    "def test_b():\n    pass\n",
    "tests/unit/test_broken.py": "import not_a_module_anywhere\n\ndef test_x():\n    pass\n",
    "tests/unit/test_gpu.py": (
        "import pytest\n\npytest.skip('no GPU here', allow_module_level=True)\n"
    ),
}


@pytest.mark.parametrize("mode", ["continue", "xdist"])
def test_collection_errors_and_module_skips_count_as_pytest_counts_them(
    pytester: pytest.Pytester, mode: str
) -> None:
    _project(pytester, COLLECTION)
    args = ["--continue-on-collection-errors"] if mode == "continue" else ["-n", "2"]
    result = pytester.runpytest_subprocess("--agentobs-export", "local", *args)
    result.assert_outcomes(passed=2, errors=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = local(pytester.path)
    assert outcome_counts(data) == {"passed": 2, "error": 1, "skipped": 1}
    (rate,) = last_gauges(data, "agentobs.test_run.pass_rate").values()
    assert rate == pytest.approx(2 / 3)
    spans = _spans(pytester)
    broken = spans["tests/unit/test_broken.py"]
    assert broken.attributes["agentobs.test.outcome"] == "error"
    assert broken.attributes["agentobs.test.phase"] == "collect"
    assert broken.attributes["error.type"] == "ModuleNotFoundError"
    assert "not_a_module_anywhere" in broken.status_message
    skipped = spans["tests/unit/test_gpu.py"]
    assert skipped.attributes["agentobs.test.outcome"] == "skipped"
    assert skipped.attributes["agentobs.test.reason"] == "no GPU here"
    (session,) = session_spans(data)
    assert broken.parent_id == session.span_id
    assert session.attributes["agentobs.test_run.tests.error"] == 1


def test_a_run_stopped_by_collection_errors_says_why(pytester: pytest.Pytester) -> None:
    _project(pytester, COLLECTION)
    result = run(pytester, "--agentobs-export", "local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = local(pytester.path)
    (session,) = session_spans(data)
    assert session.attributes["test.suite.run.status"] == "aborted"
    assert "1 error during collection" in session.status_message
    assert session.attributes["agentobs.test_run.collection_errors"] == 1
    assert _spans(pytester)["tests/unit/test_broken.py"].attributes["error.type"] == (
        "ModuleNotFoundError"
    )


INTERRUPTED = """
def test_a():
    pass


def test_b():
    pass


def test_c():
    raise KeyboardInterrupt  # what Ctrl-C does


def test_d():
    pass
"""


def test_an_interrupted_test_is_interrupted_not_an_error(pytester: pytest.Pytester) -> None:
    _project(pytester, {"tests/test_ctrl_c.py": INTERRUPTED})
    result = pytester.runpytest_subprocess("--agentobs-export", "local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(passed=2)
    data = local(pytester.path)
    assert outcome_counts(data) == {"passed": 2, "interrupted": 1}
    (rate,) = last_gauges(data, "agentobs.test_run.pass_rate").values()
    assert rate == 1.0
    cases = {
        dict(p.attributes)["agentobs.test.outcome"]: p.value
        for p in data.points
        if p.name == "agentobs.test.cases"
    }
    assert cases == {"passed": 2, "interrupted": 1}
    span = _spans(pytester)["tests/test_ctrl_c.py::test_c"]
    assert span.attributes["agentobs.test.outcome"] == "interrupted"
    assert "test.case.result.status" not in span.attributes
    assert not span.is_error
    (session,) = session_spans(data)
    assert session.attributes["test.suite.run.status"] == "aborted"


def test_runs_sharing_a_history_wait_for_each_other_and_both_count(
    pytester: pytest.Pytester,
) -> None:
    ended = pytester.path / "ended"
    conftest = f"def pytest_sessionfinish():\n    open({str(ended)!r}, 'w').close()\n"
    _project(pytester, {"tests/test_a.py": "def test_a():\n    pass\n", "conftest.py": conftest})
    path = pytester.path / "history.json"
    other = {"fp": None, "h": "ppp", "last": 3}
    with open(pytester.path / "history.json.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run is updating the history
        inner = pytester.popen(
            [*pytester._getpytestargs(), "--agentobs-history", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not ended.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the inner run reached its end: it waits for the lock (or, unlocked, finishes)
        with contextlib.suppress(subprocess.TimeoutExpired):
            inner.wait(3)
        document = {"format": "agentobs-flaky-history", "version": 1, "runs": 3}
        path.write_text(json.dumps({**document, "tests": {"tests/test_other.py::t": other}}))
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert inner.wait(60) == 0
    saved = json.loads(path.read_text())
    assert saved["runs"] == 4
    assert saved["tests"]["tests/test_other.py::t"]["h"] == "ppp"
    assert saved["tests"]["tests/test_a.py::test_a"]["h"] == "p"


STRICT_AND_FAILING = """
import pytest


@pytest.mark.xfail(reason="should still fail", strict=True)
def test_strict_xpass():
    pass


def test_plain_failure():
    assert False, "plain"
"""


def test_strict_xpass_has_an_error_type_and_plain_failures_no_attempt_event(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, {"tests/test_strict.py": STRICT_AND_FAILING})
    result = run(pytester, "--agentobs-export", "local")
    result.assert_outcomes(failed=2)
    spans = _spans(pytester)
    strict = spans["tests/test_strict.py::test_strict_xpass"]
    assert strict.attributes["agentobs.test.outcome"] == "failed"
    assert strict.attributes["error.type"] == "xpass_strict"
    plain = spans["tests/test_strict.py::test_plain_failure"]
    assert plain.attributes["error.type"] == "AssertionError"
    assert plain.events == []  # attempt events are for reruns
    assert strict.events == []


def test_a_non_sampled_traceparent_is_honoured_and_said_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
    _project(pytester, {"tests/test_a.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"})
    result = run(pytester, "--agentobs-export", "local")
    result.assert_outcomes(passed=2)
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert len(warnings) == 1, warnings
    assert "TRACEPARENT is not sampled" in warnings[0]
    data = local(pytester.path)
    assert data.spans == []
    assert outcome_counts(data) == {"passed": 2}


def test_stepwise_runs_update_the_history(pytester: pytest.Pytester) -> None:
    suite = (
        "def test_a():\n    pass\n\ndef test_b():\n    assert False\n\ndef test_c():\n    pass\n"
    )
    _project(pytester, {"tests/test_sw.py": suite})
    for number in (1, 2):
        result = run(pytester, "--sw", "--agentobs-history", "history.json")
        assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest stops at the failure
        saved = json.loads((pytester.path / "history.json").read_text())
        assert saved["runs"] == number
    assert saved["tests"]["tests/test_sw.py::test_b"]["h"] == "ff"


def test_metrics_are_exported_once_per_run(pytester: pytest.Pytester) -> None:
    _project(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    run(pytester, "--agentobs-export", "local")
    data = local(pytester.path)
    cases = [p for p in data.points if p.name == "agentobs.test.cases"]
    assert len(cases) == 1, cases
    assert len([p for p in data.points if p.name == "agentobs.test_run.pass_rate"]) == 1


SUBTESTS = """
import unittest

import pytest


def test_native(subtests):
    for i in range(3):
        with subtests.test(msg="case", i=i):
            if i == 1:
                pytest.skip("skip one")
            assert i != 2


def test_native_passes_with_a_skipped_subtest(subtests):
    for i in range(2):
        with subtests.test(i=i):
            if i == 1:
                pytest.skip("skip one")


class TestCase(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 2)
"""


@pytest.mark.parametrize("mode", ["serial", "xdist"])
def test_subtests_follow_pytests_counts_and_are_events_of_their_test(
    pytester: pytest.Pytester, mode: str
) -> None:
    _project(pytester, {"tests/test_sub.py": SUBTESTS})
    args = ["-n", "2"] if mode == "xdist" else []
    result = pytester.runpytest_subprocess("--agentobs-export", "local", *args)
    result.assert_outcomes(failed=3, passed=2)  # two failed subtests, one failed test
    data = local(pytester.path)
    assert outcome_counts(data) == {"failed": 3, "passed": 2}
    spans = _spans(pytester)
    native = spans["tests/test_sub.py::test_native"]
    assert native.attributes["agentobs.test.outcome"] == "failed"
    assert native.attributes["error.type"] == "subtests_failed"
    assert native.attributes["agentobs.test.subtests.passed"] == 1
    assert native.attributes["agentobs.test.subtests.skipped"] == 1
    assert native.attributes["agentobs.test.subtests.failed"] == 1
    events = [e for e in native.events if e.name == "agentobs.test.subtest"]
    assert [e.attributes["agentobs.test.outcome"] for e in events] == [
        "passed",
        "skipped",
        "failed",
    ]
    assert events[2].attributes["subtest"] == "tests/test_sub.py::test_native [case] (i=2)"
    skipping = spans["tests/test_sub.py::test_native_passes_with_a_skipped_subtest"]
    assert skipping.attributes["agentobs.test.outcome"] == "passed"
    unit = spans["tests/test_sub.py::TestCase::test_sub"]
    assert unit.attributes["agentobs.test.outcome"] == "passed"  # as pytest reports it
    assert unit.attributes["agentobs.test.subtests.failed"] == 1
