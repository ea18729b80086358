"""pytest-xdist for real (``-n 2``, worker processes): counts, spans and flaky verdicts equal
those of the serial run, worker spans join the session's trace, nothing is counted twice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentobs._localdata import read_directory
from tests.test_pytest_plugin_support import (
    OUTCOMES_SUITE,
    isolate,
    last_gauges,
    session_spans,
    setup_suite,
    spans_of_tests,
)

pytest_plugins = ["pytester"]

FLIPS = """
import os
from pathlib import Path


def test_fails_in_the_second_run():
    assert os.environ["FLAKY_RUN"] != "1"


def test_first_attempt_fails():
    mark = Path(os.environ["MARKS"]) / ("attempted-" + os.environ["FLAKY_RUN"])
    first = not mark.exists()
    mark.touch()
    assert not first


def test_steady():
    pass
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate(monkeypatch)


def _runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, *args: str
) -> dict[str, Any]:
    work = pytester.path / mode
    (work / "marks").mkdir(parents=True)
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(work / "telemetry"))
    monkeypatch.setenv("MARKS", str(work / "marks"))
    outputs = []
    for index in (0, 1):
        monkeypatch.setenv("FLAKY_RUN", str(index))
        result = pytester.runpytest_subprocess(
            "--agentobs-export",
            "local",
            "--agentobs-history",
            str(work / "history.json"),
            "--reruns",
            "1",
            *args,
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        outputs.append(result)
    data = read_directory(work / "telemetry")
    history = json.loads((work / "history.json").read_text())
    last = outputs[-1].stdout.lines
    start = next(i for i, line in enumerate(last) if "agentobs: flaky tests" in line)
    flaky_lines = sorted(line for line in last[start + 1 :] if line.startswith("tests/"))
    return {"data": data, "history": history["tests"], "flaky": flaky_lines, "outputs": outputs}


def _spans_by_run(data: Any) -> list[Counter[tuple[Any, ...]]]:
    sessions = sorted(session_spans(data), key=lambda s: s.start_ns)
    runs = []
    for session in sessions:
        tests = [s for s in spans_of_tests(data) if s.trace_id == session.trace_id]
        for span in tests:
            assert span.parent_id == session.span_id, span.name
        runs.append(
            Counter(
                (
                    s.name,
                    s.attributes["agentobs.test.outcome"],
                    s.attributes.get("agentobs.test.attempts", 1),
                    s.attributes.get("agentobs.test.flaky", False),
                    s.status_code,
                )
                for s in tests
            )
        )
    return runs


def test_xdist_run_equals_the_serial_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_suite(
        pytester,
        {"tests/unit/test_outcomes.py": OUTCOMES_SUITE, "tests/tools/test_flips.py": FLIPS},
    )
    serial = _runs(pytester, monkeypatch, "serial")
    parallel = _runs(pytester, monkeypatch, "xdist", "-n", "2")

    assert parallel["outputs"][-1].parseoutcomes() == serial["outputs"][-1].parseoutcomes()
    serial_spans, parallel_spans = _spans_by_run(serial["data"]), _spans_by_run(parallel["data"])
    assert len(serial_spans) == len(parallel_spans) == 2
    assert serial_spans == parallel_spans
    assert sum(serial_spans[-1].values()) == 11

    workers = {s.attributes.get("agentobs.test.worker") for s in spans_of_tests(parallel["data"])}
    assert workers <= {"gw0", "gw1"}
    assert workers
    assert all("agentobs.test.worker" not in s.attributes for s in spans_of_tests(serial["data"]))
    sessions = session_spans(parallel["data"])
    assert all(s.attributes["agentobs.test_run.workers"] == 2 for s in sessions)

    for name in (
        "agentobs.test_run.tests",
        "agentobs.test_run.pass_rate",
        "agentobs.test_run.flaky",
    ):
        assert last_gauges(parallel["data"], name) == last_gauges(serial["data"], name), name
    assert _cases(parallel["data"]) == _cases(serial["data"])
    assert sum(_cases(serial["data"]).values()) == 11  # each test once per run (counters grow)

    assert parallel["flaky"] == serial["flaky"]
    assert parallel["flaky"] == [
        "tests/tools/test_flips.py::test_fails_in_the_second_run  flip rate 100% over the last "
        "2 runs (1 flip, code unchanged)",
        "tests/tools/test_flips.py::test_first_attempt_fails  failed 1 time then passed in this "
        "run",
    ]
    assert parallel["history"] == serial["history"]


def _cases(data: Any) -> dict[tuple[tuple[str, object], ...], float]:
    """The last value of each agentobs.test.cases series (one process per run)."""
    latest: dict[tuple[tuple[str, object], ...], tuple[int, float]] = {}
    for point in data.points:
        if point.name == "agentobs.test.cases":
            key = tuple(sorted(point.attributes.items()))
            if key not in latest or point.time_ns >= latest[key][0]:
                latest[key] = (point.time_ns, point.value)
    return {k: v for k, (_t, v) in latest.items()}


def test_workers_report_their_export_problems_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.backends import free_port

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    setup_suite(
        pytester, {"tests/test_a.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n"}
    )
    result = pytester.runpytest_subprocess("-n", "2")
    assert result.ret == pytest.ExitCode.OK
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert warnings, result.outlines
    assert len(warnings) == len(set(warnings)) <= 2, warnings  # one line per distinct problem
    assert all("telemetry export had problems" in w for w in warnings)


CRASH = """
import os

from opentelemetry import trace


def test_before():
    with trace.get_tracer("t").start_as_current_span("work of test_before"):
        pass


def test_also_before():
    trace.get_current_span().set_attribute("set.by.the.test", 7)


def test_crash():
    os._exit(3)
"""


def test_a_test_whose_worker_crashed_has_a_span_made_by_the_controller(
    pytester: pytest.Pytester,
) -> None:
    """...and the tests that worker finished before keep theirs (each went to the
    controller with its teardown report), children of the session span."""
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\naddopts = ["-p", "no:randomly", "-p", "no:flaky"]\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_crash.py").write_text(CRASH)
    # one file on one worker, in order: the crash ends the worker that ran the two before
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadfile", "--max-worker-restart", "0", "--agentobs-export", "local"
    )
    result.assert_outcomes(passed=2, failed=1)  # xdist reports a crashed test as failed
    data = read_directory(pytester.path / ".agentobs")
    by_name = {s.name: s for s in spans_of_tests(data)}
    (session,) = session_spans(data)
    before = by_name["tests/test_crash.py::test_before"]
    also_before = by_name["tests/test_crash.py::test_also_before"]
    for finished in (before, also_before):
        assert finished.attributes["agentobs.test.outcome"] == "passed"
        assert finished.parent_id == session.span_id
        assert finished.trace_id == session.trace_id
    assert also_before.attributes["set.by.the.test"] == 7
    assert (
        before.attributes["agentobs.test.worker"] == also_before.attributes["agentobs.test.worker"]
    )
    span = by_name["tests/test_crash.py::test_crash"]
    assert span.attributes["agentobs.test.outcome"] == "error"
    assert span.attributes["error.type"] == "worker_crashed"
    assert "crashed while running" in span.status_message
    assert span.attributes["agentobs.test.worker"] == before.attributes["agentobs.test.worker"]
    assert span.parent_id == session.span_id


SPANS_BEFORE_A_CRASH = """
import os

import pytest
from opentelemetry import trace

import agentobs


@pytest.fixture
def prepared():
    with agentobs.task("prepare"):
        pass


def test_a():
    with agentobs.task("summarise"):
        pass
    tracer = trace.get_tracer("foreign.instrumentation", "1.2")
    with tracer.start_as_current_span("foreign call", kind=trace.SpanKind.CLIENT):
        pass


def test_b(prepared):
    os._exit(3)
"""


def test_spans_the_tests_made_survive_their_worker_crashing(pytester: pytest.Pytester) -> None:
    """A worker sends the spans its tests made to the controller with the next report: a
    crash loses none that had finished before the last report (the worker exports none)."""
    setup_suite(pytester, {"tests/test_crash.py": SPANS_BEFORE_A_CRASH})
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadfile", "--max-worker-restart", "0", "--agentobs-export", "local"
    )
    result.assert_outcomes(passed=1, failed=1)
    data = read_directory(pytester.path / ".agentobs")
    spans = {s.name: s for s in data.spans}
    (session,) = session_spans(data)
    test_a = spans["tests/test_crash.py::test_a"]
    test_b = spans["tests/test_crash.py::test_b"]
    assert test_a.parent_id == session.span_id
    assert test_b.attributes["error.type"] == "worker_crashed"
    assert test_b.attributes["agentobs.test.outcome"] == "error"
    worker = test_a.attributes["agentobs.test.worker"]
    assert test_b.attributes["agentobs.test.worker"] == worker
    made = [s for s in data.spans if s.name not in (session.name, test_a.name, test_b.name)]
    summarise = next(s for s in made if "summarise" in s.name)
    foreign = spans["foreign call"]
    prepare = next(s for s in made if "prepare" in s.name)  # with the crashed test's setup
    for span in (summarise, foreign):
        assert span.parent_id == test_a.span_id, span.name
    assert prepare.parent_id == test_b.span_id  # the crashed test's span took the worker's id
    assert test_b.parent_id == session.span_id
    assert test_b.start_ns <= prepare.start_ns
    for span in (summarise, foreign, prepare):
        assert span.trace_id == session.trace_id
        assert span.attributes["agentobs.test.worker"] == worker, span.name
        assert span.service == session.service  # the run's resource, the controller's
    assert len(made) == 3, [s.name for s in made]
    raw = [json.loads(line) for line in (pytester.path / ".agentobs" / "traces.jsonl").open()]
    scopes = {
        scope["scope"]["name"]: scope["scope"].get("version")
        for line in raw
        for resource in line["resourceSpans"]
        for scope in resource["scopeSpans"]
    }
    assert scopes["foreign.instrumentation"] == "1.2"
    kinds = {
        span["name"]: span.get("kind")
        for line in raw
        for resource in line["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    }
    assert kinds["foreign call"] in (3, "SPAN_KIND_CLIENT")


MANY_SPANS = """
from opentelemetry import trace


def test_many():
    tracer = trace.get_tracer("many")
    for _ in range(2048 + 10):
        tracer.start_span("one of many").end()


def test_after():
    trace.get_tracer("after").start_span("after the many").end()
"""


def test_a_worker_keeps_a_bounded_number_of_spans_between_reports(
    pytester: pytest.Pytester,
) -> None:
    """Past 2,048 spans between two reports a worker drops the rest, counted in the pipeline's
    figures as spans a full queue dropped (its self-metrics, and its shutdown line: one
    warning)."""
    setup_suite(pytester, {"tests/test_many.py": MANY_SPANS})
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadfile", "--agentobs-export", "local"
    )
    result.assert_outcomes(passed=2)
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert len(warnings) == 1, warnings
    assert "spans: 2052 exported, 0 failed, 10 dropped (queue full)" in warnings[0]
    data = read_directory(pytester.path / ".agentobs")
    names = Counter(s.name for s in data.spans)
    assert names["one of many"] == 2048
    assert names["after the many"] == 1  # the next report took the worker's spans again
    dropped = last_gauges(data, "otel.sdk.processor.span.processed")
    assert {dict(key)["otel.component.type"]: value for key, value in dropped.items()} == {
        "batching_span_processor": 2052,
        "xdist_worker_span_shipper": 10,
    }
    shipper = next(dict(k) for k in dropped if "xdist" in str(k))
    assert shipper["error.type"] == "queue_full"
