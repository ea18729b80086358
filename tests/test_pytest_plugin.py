"""The pytest plugin, run in-process with ``pytester``: spans, metrics, budgets and switches.

Most inner runs record into ``agentobs.testing.capture()``: the plugin finds agentobs already
configured when the inner session starts and records into that pipeline, so the spans and
metrics can be read from memory.
"""

from __future__ import annotations

import json
import socket
import threading
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from agentobs._export import pipeline as _pipeline
from agentobs.testing import capture
from tests.backends import free_port
from tests.test_pytest_plugin_support import (
    INI,
    OUTCOMES_SUITE,
    attributes,
    by_name,
    history_file,
    isolate,
    local,
    outcome_counts,
    run,
    session_spans,
    setup_suite,
    spans_of_tests,
)

pytest_plugins = ["pytester"]

SUITE = "tests/unit/test_outcomes.py"
NODE = SUITE + "::"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate(monkeypatch)


def _test_spans(spans: list[Any]) -> dict[str, Any]:
    return by_name([s for s in spans if attributes(s).get("agentobs.span.type") == "test"])


def _session_span(spans: list[Any]) -> Any:
    found = [s for s in spans if attributes(s).get("agentobs.span.type") == "test_session"]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


# --- spans -----------------------------------------------------------------------------------


def test_every_outcome_gets_a_span_under_the_session_span(pytester: pytest.Pytester) -> None:
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE})
    with capture() as cap:
        result = pytester.runpytest_inprocess("--agentobs-suite", "demo-suite")
        spans = cap.spans
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)

    session = _session_span(spans)
    tests = _test_spans(spans)
    assert session.name == "pytest demo-suite"
    assert session.parent is None
    assert attributes(session)["test.suite.name"] == "demo-suite"
    assert attributes(session)["test.suite.run.status"] == "failure"
    assert attributes(session)["agentobs.test_run.tests.passed"] == 3
    assert attributes(session)["agentobs.test_run.pass_rate"] == pytest.approx(3 / 5)
    assert session.status.status_code is StatusCode.ERROR
    for span in tests.values():
        assert span.parent.span_id == session.context.span_id
        assert span.context.trace_id == session.context.trace_id
        assert span.start_time >= session.start_time
        assert span.end_time <= session.end_time

    expected = {
        "test_passes": ("passed", "pass", None, StatusCode.OK),
        "test_fails": ("failed", "fail", None, StatusCode.ERROR),
        "test_skipped": ("skipped", None, "not today", StatusCode.UNSET),
        "test_xfailed": ("xfailed", None, "known bug", StatusCode.UNSET),
        "test_xpassed": ("xpassed", "pass", "maybe fixed", StatusCode.OK),
        "test_error": ("error", "fail", None, StatusCode.ERROR),
        "test_param[1]": ("passed", "pass", None, StatusCode.OK),
        "test_param[two]": ("passed", "pass", None, StatusCode.OK),
    }
    assert set(tests) == {NODE + name for name in expected}
    for name, (outcome, status, reason, code) in expected.items():
        span = tests[NODE + name]
        found = attributes(span)
        assert found["test.case.name"] == NODE + name
        assert found["agentobs.test.outcome"] == outcome, name
        assert found.get("test.case.result.status") == status, name
        assert found.get("agentobs.test.reason") == reason, name
        assert span.status.status_code is code, name
        assert found["agentobs.span.type"] == "test"
        assert found["code.file.path"] == SUITE
        assert found["agentobs.test.category"] == "unit"

    fails = attributes(tests[NODE + "test_fails"])
    assert fails["error.type"] == "AssertionError"
    assert "one is not two" in tests[NODE + "test_fails"].status.description
    assert attributes(tests[NODE + "test_error"])["error.type"] == "RuntimeError"
    assert fails["code.line.number"] == OUTCOMES_SUITE.splitlines().index("def test_fails():") + 1
    param = attributes(tests[NODE + "test_param[two]"])
    assert param["agentobs.test.parameters"] == "two"
    assert param["agentobs.test.param.n"] == "two"
    assert param["code.function.name"] == "test_param"
    assert "slow" in param["agentobs.test.markers"]
    assert "skip" in attributes(tests[NODE + "test_skipped"])["agentobs.test.markers"]


def test_metrics_count_each_test_once_by_outcome_and_category(pytester: pytest.Pytester) -> None:
    setup_suite(
        pytester,
        {
            SUITE: OUTCOMES_SUITE,
            "tests/tools/test_tools.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
        },
    )
    with capture() as cap:
        pytester.runpytest_inprocess("--agentobs-suite", "s")

        def value(name: str, **where: Any) -> float:
            keys = {k.replace("__", "."): v for k, v in where.items()}
            return cap.metric_value(name, **keys)

        cases = "agentobs.test.cases"
        assert value(cases) == 10
        assert value(cases, agentobs__test__outcome="passed") == 5
        assert value(cases, agentobs__test__outcome="passed", agentobs__test__category="unit") == 3
        assert value(cases, agentobs__test__category="tools") == 2
        for outcome in ("failed", "error", "skipped", "xfailed", "xpassed"):
            assert value(cases, agentobs__test__outcome=outcome) == 1, outcome
        assert value("agentobs.test.duration") == 10  # histogram count
        assert value("agentobs.test.flaky") == 0
        gauges = {p.name: p for p in cap.metric_points() if p.name.startswith("agentobs.test_run")}
        assert gauges["agentobs.test_run.pass_rate"].value == pytest.approx(5 / 7)
        assert gauges["agentobs.test_run.pass_rate"].attributes == {"test.suite.name": "s"}
        assert gauges["agentobs.test_run.flaky"].value == 0
        assert gauges["agentobs.test_run.duration"].value > 0
        assert gauges["agentobs.test_run.timestamp"].value > 1.7e9
        assert "agentobs.test_run.coverage" not in gauges  # pytest-cov did not run
        tools = value(
            "agentobs.test_run.tests",
            agentobs__test__category="tools",
            agentobs__test__outcome="passed",
        )
        assert tools == 2


NESTED_SUITE = """
import pytest
from opentelemetry import trace

import agentobs


def llm_call(tokens_in, tokens_out, usd):
    tracer = trace.get_tracer("fake-llm")
    with agentobs.agent("helper"):
        with tracer.start_as_current_span(
            "chat fake-model",
            attributes={
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "agentobs.cost.usd": usd,
            },
        ):
            pass


@pytest.fixture
def warm_up():
    llm_call(1, 1, 0.0)
    yield


def test_uses_tokens(warm_up):
    llm_call(100, 20, 0.01)
    llm_call(5, 5, 0.001)


def test_uses_nothing():
    pass


@pytest.mark.agentobs_budget(tokens=50)
def test_over_token_budget():
    llm_call(100, 20, 0.01)


@pytest.mark.agentobs_budget(tokens=1000, usd=1.0)
def test_within_budget():
    llm_call(100, 20, 0.01)


@pytest.mark.agentobs_budget(usd=0.001)
def test_over_usd_budget():
    llm_call(1, 1, 0.5)


@pytest.mark.agentobs_budget(bogus=1)
def test_bad_budget():
    pass
"""


def test_agent_spans_nest_under_the_test_span_which_carries_usage(
    pytester: pytest.Pytester,
) -> None:
    setup_suite(pytester, {"tests/test_llm.py": NESTED_SUITE})
    with capture() as cap:
        result = pytester.runpytest_inprocess("--strict-markers")
        spans = cap.spans
    result.assert_outcomes(passed=3, failed=3)
    tests = _test_spans(spans)
    uses = tests["tests/test_llm.py::test_uses_tokens"]
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == uses.context.span_id
    ]
    assert sorted(s.name for s in children) == ["invoke_agent helper"] * 3
    chats = [s for s in spans if s.name == "chat fake-model"]
    assert all(s.context.trace_id == uses.context.trace_id for s in chats)
    found = attributes(uses)
    assert found["agentobs.test.usage.input_tokens"] == 106  # fixture + two calls
    assert found["agentobs.test.usage.output_tokens"] == 26
    assert found["agentobs.test.cost.usd"] == pytest.approx(0.011)
    assert "agentobs.test.usage.input_tokens" not in attributes(
        tests["tests/test_llm.py::test_uses_nothing"]
    )

    over = tests["tests/test_llm.py::test_over_token_budget"]
    assert attributes(over)["agentobs.test.outcome"] == "failed"
    assert attributes(over)["error.type"] == "agentobs_budget"
    result.stdout.fnmatch_lines(
        [
            "*_ test_over_token_budget _*",
            "agentobs_budget exceeded: 120 tokens used, budget 50",
            "*_ test_over_usd_budget _*",
            "agentobs_budget exceeded: $0.5 spent, budget $0.001",
            "*_ test_bad_budget _*",
            "agentobs_budget: unknown argument(s) ['bogus']; expected tokens= and/or usd=",
        ]
    )
    assert attributes(tests["tests/test_llm.py::test_within_budget"])["agentobs.test.outcome"] == (
        "passed"
    )


def test_budget_works_with_nothing_configured(pytester: pytest.Pytester) -> None:
    """With no export asked for, the plugin configures a pipeline that exports nothing, so
    the budget can count tokens; it shuts that pipeline down at the end."""
    setup_suite(pytester, {"tests/test_llm.py": NESTED_SUITE})
    result = run(pytester, "-k", "budget")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(["*agentobs_budget exceeded: 120 tokens used, budget 50*"])
    assert _pipeline.current() is None
    assert not (pytester.path / ".agentobs").exists()


def test_reruns_by_rerunfailures_make_one_flaky_test(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    setup_suite(pytester, {"tests/test_flip.py": _first_attempt_fails(tmp_path)})
    with capture() as cap:
        result = pytester.runpytest_inprocess("--reruns", "2")
        spans = cap.spans
        flaky = cap.metric_value("agentobs.test.flaky", **{"agentobs.test.flaky.kind": "rerun"})
        passed = cap.metric_value("agentobs.test.cases", **{"agentobs.test.outcome": "passed"})
    assert result.parseoutcomes() == {"passed": 2, "rerun": 1}
    assert (flaky, passed) == (1, 2)
    span = _test_spans(spans)["tests/test_flip.py::test_first_attempt_fails"]
    found = attributes(span)
    assert found["agentobs.test.attempts"] == 2
    assert found["agentobs.test.flaky"] is True
    assert found["agentobs.test.outcome"] == "passed"
    assert span.status.status_code is StatusCode.OK
    assert [e.name for e in span.events] == ["agentobs.test.attempt"]
    assert span.events[0].attributes["error.type"] == "AssertionError"
    result.stdout.fnmatch_lines(
        [
            "*= agentobs: flaky tests =*",
            "tests/test_flip.py::test_first_attempt_fails  failed 1 time then passed in this run",
        ]
    )


def test_flaky_plugin_reruns_are_attempts_too(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """In a subprocess: flaky keeps its report in a process-wide stream."""
    suite = _first_attempt_fails(tmp_path).replace(
        "def test_first_attempt_fails", "@flaky(max_runs=3)\ndef test_first_attempt_fails"
    )
    ini = INI.replace(" -p no:flaky", "")
    setup_suite(pytester, {"tests/test_flip.py": "from flaky import flaky\n" + suite}, ini=ini)
    result = pytester.runpytest_subprocess("-p", "no:rerunfailures", "--agentobs-export", "local")
    result.assert_outcomes(passed=2)
    spans = by_name(spans_of_tests(local(pytester.path)))
    found = spans["tests/test_flip.py::test_first_attempt_fails"].attributes
    assert found["agentobs.test.attempts"] == 2
    assert found["agentobs.test.flaky"] is True
    result.stdout.fnmatch_lines(["*test_first_attempt_fails  failed 1 time then passed*"])


def _first_attempt_fails(tmp_path: Path) -> str:
    marker = tmp_path / "attempted"
    return f"""
from pathlib import Path

MARK = Path({str(marker)!r})


def test_first_attempt_fails():
    first = not MARK.exists()
    MARK.touch()
    assert not first, "first attempt"


def test_steady():
    pass
"""


def test_pytest_randomly_keeps_the_counts(pytester: pytest.Pytester) -> None:
    ini = INI.replace(" -p no:randomly", "")
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE}, ini=ini)
    with capture() as cap:
        result = pytester.runpytest_inprocess("--randomly-seed=42")
        spans = cap.spans
    result.stdout.fnmatch_lines(["*randomly-seed=42*"])
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)
    assert len(_test_spans(spans)) == 8


ASYNC_SUITE = """
import asyncio

import pytest
import pytest_asyncio
from opentelemetry import trace


@pytest_asyncio.fixture
async def resource():
    await asyncio.sleep(0)
    with trace.get_tracer("t").start_as_current_span("async fixture work"):
        pass
    yield 1


@pytest.mark.asyncio
async def test_async(resource):
    async def call():
        with trace.get_tracer("t").start_as_current_span("chat async"):
            await asyncio.sleep(0)

    await asyncio.gather(call(), call())
"""


def test_pytest_asyncio_tests_nest_their_spans(pytester: pytest.Pytester) -> None:
    setup_suite(pytester, {"tests/test_async.py": ASYNC_SUITE})
    with capture() as cap:
        result = pytester.runpytest_inprocess()
        spans = cap.spans
    result.assert_outcomes(passed=1)
    test = _test_spans(spans)["tests/test_async.py::test_async"]
    inner = [s for s in spans if s.name in ("chat async", "async fixture work")]
    assert len(inner) == 3
    assert all(s.parent.span_id == test.context.span_id for s in inner)


# --- where telemetry goes, and the switches ---------------------------------------------------


def test_unconfigured_plugin_makes_no_call_and_writes_only_the_cache(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE})
    connections: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        connections.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    before = set(pytester.path.rglob("*"))
    result = run(pytester)
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)
    created = {p.relative_to(pytester.path) for p in pytester.path.rglob("*")} - {
        p.relative_to(pytester.path) for p in before
    }
    outside = [p for p in created if p.parts[0] != ".pytest_cache" and "__pycache__" not in p.parts]
    assert outside == []
    assert connections == []
    assert _pipeline.current() is None
    assert history_file(pytester.path).exists()
    assert "agentobs:" not in result.stdout.str()  # quiet: nothing flaky, nothing wrong


def test_local_export_writes_the_local_files_and_shuts_its_pipeline_down(
    pytester: pytest.Pytester,
) -> None:
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE})
    result = run(pytester, "--agentobs-export", "local")
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)
    assert _pipeline.current() is None
    data = local(pytester.path)
    assert len(spans_of_tests(data)) == 8
    assert len(session_spans(data)) == 1
    assert outcome_counts(data) == {
        "passed": 3,
        "failed": 1,
        "error": 1,
        "skipped": 1,
        "xfailed": 1,
        "xpassed": 1,
    }


@pytest.mark.parametrize(
    ("how", "args", "env", "ini"),
    [
        ("-p no:agentobs", ["-p", "no:agentobs"], {}, ""),
        ("--agentobs-off", ["--agentobs-off"], {}, ""),
        ("ini agentobs_off", [], {}, "agentobs_off = true\n"),
        ("AGENTOBS_PYTEST=0", [], {"AGENTOBS_PYTEST": "0"}, ""),
    ],
)
def test_switches_turn_the_plugin_off(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    args: list[str],
    env: dict[str, str],
    ini: str,
) -> None:
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE}, ini=INI + ini)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AGENTOBS_EXPORT", "local")
    with capture() as cap:
        result = pytester.runpytest_inprocess(*args)
        spans = cap.spans
    result.assert_outcomes(passed=3, failed=1, errors=1, skipped=1, xfailed=1, xpassed=1)
    assert spans == [], how
    assert not history_file(pytester.path).exists(), how
    assert not (pytester.path / ".agentobs").exists(), how


def test_a_run_with_the_plugin_off_imports_neither_its_session_nor_the_pipeline(
    pytester: pytest.Pytester,
) -> None:
    """The entry module is all a run with the plugin off pays for: ``import agentobs``
    loads no pipeline, settings or scrubber, and the session plugin is never imported."""
    pytester.makeini("[pytest]\naddopts = -p no:randomly\n")
    pytester.makepyfile(
        test_modules="""
        import sys

        def test_what_is_loaded():
            deferred = (
                "agentobs._export",
                "agentobs._settings",
                "agentobs._secrets",
                "agentobs._commands",
                "agentobs._api",
                "agentobs.pytest_plugin._plugin",
                "agentobs.pytest_plugin._telemetry",
            )
            assert "agentobs.pytest_plugin" in sys.modules
            assert sorted(m for m in sys.modules if m.startswith(deferred)) == []
        """
    )
    result = pytester.runpytest_subprocess("--agentobs-off", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_run_that_exports_nothing_does_not_load_the_pipeline(
    pytester: pytest.Pytester,
) -> None:
    """The plugin's default (on, recording the flaky history, exporting nothing): the pipeline,
    its settings and scrubber (and through them the OpenTelemetry SDK) are not imported, yet
    the history is written."""
    pytester.makeini("[pytest]\naddopts = -p no:randomly\n")
    pytester.makepyfile(
        test_modules="""
        import sys

        def test_what_is_loaded():
            deferred = ("agentobs._export", "agentobs._settings", "agentobs._secrets")
            assert "agentobs.pytest_plugin._plugin" in sys.modules
            assert sorted(m for m in sys.modules if m.startswith(deferred)) == []
        """
    )
    result = pytester.runpytest_subprocess(f"--agentobs-history={pytester.path / 'h.json'}")
    result.assert_outcomes(passed=1)
    assert "test_modules.py::test_what_is_loaded" in (pytester.path / "h.json").read_text()


@pytest.mark.parametrize(
    ("args", "env", "ini", "named"),
    [
        (["--agentobs-export", "zipkin"], {}, "", "--agentobs-export='zipkin'"),
        ([], {"AGENTOBS_EXPORT": "jaeger"}, "", "AGENTOBS_EXPORT='jaeger'"),
        ([], {}, "agentobs_export = datadog\n", "ini agentobs_export='datadog'"),
        (["--agentobs-flaky-window", "1"], {}, "", "--agentobs-flaky-window='1'"),
        (["--agentobs-pushgateway", "ftp://x"], {}, "", "--agentobs-pushgateway='ftp://x'"),
        ([], {"AGENTOBS_PYTEST": "maybe"}, "", "AGENTOBS_PYTEST='maybe'"),
        ([], {}, "agentobs_category_marker = not a marker\n", "ini agentobs_category_marker"),
    ],
)
def test_unknown_option_values_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    ini: str,
    named: str,
) -> None:
    setup_suite(pytester, {SUITE: OUTCOMES_SUITE}, ini=INI + ini)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert named in result.stderr.str()


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP receiver that only counts requests."""

    paths: typing.ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).paths.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_otlp_is_the_default_when_an_endpoint_is_configured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Collector.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        setup_suite(pytester, {SUITE: OUTCOMES_SUITE})
        result = run(pytester)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "/v1/traces" in _Collector.paths
    assert "/v1/metrics" in _Collector.paths
    assert "agentobs: warning" not in result.stdout.str()
    assert not (pytester.path / ".agentobs").exists()


@pytest.mark.parametrize("failing", [False, True])
def test_unreachable_collector_and_pushgateway_give_one_warning_each(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, failing: bool
) -> None:
    closed = free_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    body = "def test_a():\n    assert %s\n" % ("False" if failing else "True")
    setup_suite(pytester, {"tests/test_a.py": body})
    result = run(pytester, "--agentobs-pushgateway", f"http://127.0.0.1:{closed}")
    assert result.ret == (pytest.ExitCode.TESTS_FAILED if failing else pytest.ExitCode.OK)
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert len(warnings) == 2, warnings
    assert any("telemetry export" in w for w in warnings)
    assert any("Pushgateway" in w for w in warnings)


def test_traceparent_and_ci_variables_shape_the_session_span(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    monkeypatch.setenv("TRACEPARENT", f"00-{trace_id}-{parent_id}-01")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKFLOW", "CI")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_JOB", "unit-tests")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/agent")
    setup_suite(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    with capture() as cap:
        run_result = pytester.runpytest_inprocess()
        spans = cap.spans
    run_result.assert_outcomes(passed=1)
    session = _session_span(spans)
    assert f"{session.context.trace_id:032x}" == trace_id
    assert f"{session.parent.span_id:016x}" == parent_id
    found = attributes(session)
    assert found["cicd.pipeline.name"] == "CI"
    assert found["cicd.pipeline.run.id"] == "77"
    assert found["cicd.pipeline.task.name"] == "unit-tests"
    assert found["cicd.pipeline.run.url.full"] == "https://github.com/acme/agent/actions/runs/77"
    assert found["cicd.pipeline.task.type"] == "test"
    test = _test_spans(spans)["tests/test_a.py::test_a"]
    assert f"{test.context.trace_id:032x}" == trace_id


def test_category_marker_named_in_the_ini(pytester: pytest.Pytester) -> None:
    suite = (
        "import pytest\n\n@pytest.mark.component('tools')\ndef test_a():\n    pass\n\n"
        "def test_b():\n    pass\n"
    )
    ini = INI + "    component(name): a category\nagentobs_category_marker = component\n"
    setup_suite(pytester, {"tests/agents/test_c.py": suite}, ini=ini)
    with capture() as cap:
        pytester.runpytest_inprocess()
        spans = _test_spans(cap.spans)
    assert attributes(spans["tests/agents/test_c.py::test_a"])["agentobs.test.category"] == "tools"
    assert attributes(spans["tests/agents/test_c.py::test_b"])["agentobs.test.category"] == "agents"


# --- pipelines the plugin did not create ------------------------------------------------------


def test_a_pipeline_configured_before_the_run_is_used_and_left_running(
    pytester: pytest.Pytester,
) -> None:
    setup_suite(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    with capture() as cap:
        before = _pipeline.current()
        pytester.runpytest_inprocess("--agentobs-export", "local")
        assert _pipeline.current() is before
        assert len(_test_spans(cap.spans)) == 1
    assert not (pytester.path / ".agentobs").exists()


def test_tests_that_reconfigure_agentobs_are_left_alone(pytester: pytest.Pytester) -> None:
    suite = """
from agentobs import testing


def test_first():
    pass


def test_takes_over(agentobs_capture):
    import agentobs

    with agentobs.workflow("inside"):
        pass
    assert [s.name for s in agentobs_capture.spans] == ["invoke_workflow inside"]


def test_after():
    pass
"""
    setup_suite(pytester, {"tests/test_a.py": suite})
    result = run(pytester, "--agentobs-export", "local")
    result.assert_outcomes(passed=3)
    assert "agentobs: warning" not in result.stdout.str()
    names = {s.name for s in spans_of_tests(local(pytester.path))}
    # the capture fixture sets the session's pipeline aside for its test, then puts it back
    assert names == {
        f"tests/test_a.py::{t}" for t in ("test_first", "test_takes_over", "test_after")
    }


# --- flaky history -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"hello": "world"}', b"\xff\xfe", b'{"format": "agentobs-flaky'],
)
def test_a_corrupt_or_foreign_history_is_moved_aside_with_one_warning(
    pytester: pytest.Pytester, content: bytes
) -> None:
    setup_suite(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    path = history_file(pytester.path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.OK
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert len(warnings) == 1, warnings
    assert "moved it to" in warnings[0]
    aside = list(path.parent.glob("flaky-history.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == content
    document = json.loads(path.read_text())
    assert document["format"] == "agentobs-flaky-history"
    assert document["runs"] == 1
    again = run(pytester)
    assert "agentobs: warning" not in again.stdout.str()


def test_history_path_option_and_none(pytester: pytest.Pytester, tmp_path: Path) -> None:
    setup_suite(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    target = tmp_path / "deep" / "history.json"
    run(pytester, "--agentobs-history", str(target))
    assert json.loads(target.read_text())["tests"]["tests/test_a.py::test_a"]["h"] == "p"
    assert not history_file(pytester.path).exists()
    run(pytester, "--agentobs-history", "none", "-p", "no:cacheprovider")
    assert not history_file(pytester.path).exists()
    result = run(pytester, "--agentobs-history", str(tmp_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_an_unwritable_history_is_one_warning_and_the_run_passes(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    setup_suite(pytester, {"tests/test_a.py": "def test_a():\n    pass\n"})
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run(pytester, "--agentobs-history", str(blocker / "history.json"))
    assert result.ret == pytest.ExitCode.OK
    warnings = [line for line in result.outlines if line.startswith("agentobs: warning")]
    assert len(warnings) == 1, warnings
    assert "the flaky-test history" in warnings[0]


_OWN_INI = """\
[pytest]
addopts = -p no:randomly -p no:flaky --strict-markers
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
markers =
    slow: a slow test
"""

_OWN_SUITE = """
import pytest


@pytest.mark.slow
def test_marked():
    pass


async def test_async_in_auto_mode():
    pass
"""


@pytest.mark.parametrize("spelling", ["space", "equals"])
@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_history_option_never_moves_the_rootdir_or_ignores_the_projects_ini(
    pytester: pytest.Pytester, tmp_path: Path, spelling: str, where: str
) -> None:
    setup_suite(pytester, {"tests/test_own.py": _OWN_SUITE}, ini=_OWN_INI)
    value = "ci/history.json" if where == "relative" else str(tmp_path / "out" / "history.json")
    target = pytester.path / value if where == "relative" else Path(value)
    args = ["--agentobs-history", value] if spelling == "space" else [f"--agentobs-history={value}"]
    for number in (1, 2):  # from the second run on, the file exists
        result = run(pytester, *args)
        result.assert_outcomes(passed=2)
        assert f"rootdir: {pytester.path}" in result.stdout.str(), number
        assert "configfile: pytest.ini" in result.stdout.str(), number
        assert json.loads(target.read_text())["runs"] == number
    assert not history_file(pytester.path).exists()


def test_relative_history_paths_follow_where_they_were_given(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_suite(pytester, {"tests/test_own.py": _OWN_SUITE}, ini=_OWN_INI)
    monkeypatch.chdir(pytester.path / "tests")
    run(pytester, "--agentobs-history", "from-cli.json")
    assert (pytester.path / "tests" / "from-cli.json").exists()
    monkeypatch.setenv("AGENTOBS_FLAKY_HISTORY", "from-env.json")
    run(pytester)
    assert (pytester.path / "tests" / "from-env.json").exists()
    monkeypatch.delenv("AGENTOBS_FLAKY_HISTORY")
    pytester.makefile(".ini", pytest=_OWN_INI + "agentobs_history = ci/from-ini.json\n")
    run(pytester)
    assert (pytester.path / "ci" / "from-ini.json").exists()


CAPTURE_SUITE = """
import agentobs


def test_before():
    pass


def test_uses_capture(agentobs_capture):
    with agentobs.workflow("inside"):
        pass
    assert [s.name for s in agentobs_capture.spans] == ["invoke_workflow inside"]


def test_after():
    pass
"""


@pytest.mark.parametrize("seed", ["0", "1", "2"])
def test_the_capture_fixture_keeps_the_runs_own_telemetry(
    pytester: pytest.Pytester, seed: str
) -> None:
    """One test using ``agentobs_capture`` under a locally exporting plugin: the session span,
    every test's span and the test metrics are all there, whatever order pytest-randomly
    picks (issue 9, item 3)."""
    setup_suite(
        pytester, {"tests/test_c.py": CAPTURE_SUITE}, ini=INI.replace(" -p no:randomly", "")
    )
    result = run(pytester, "--agentobs-export", "local", f"--randomly-seed={seed}")
    result.assert_outcomes(passed=3)
    data = local(pytester.path)
    assert len(session_spans(data)) == 1
    assert sorted(s.name.rpartition("::")[2] for s in spans_of_tests(data)) == [
        "test_after",
        "test_before",
        "test_uses_capture",
    ]
    assert outcome_counts(data) == {"passed": 3}
    names = {point.name for point in data.points}
    assert any(name.startswith("agentobs.test.") for name in names), names
    # the captured test's own spans went to its capture only
    assert "invoke_workflow inside" not in {s.name for s in data.spans}
