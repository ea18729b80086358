"""Small parts of the pytest plugin on their own: CI variables, outcomes, categories, budgets,
option precedence."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agentobs.pytest_plugin import _ci, _options
from agentobs.pytest_plugin._budget import Budget, Usage, budget_of
from agentobs.pytest_plugin._category import Categories, folder_category, roots_from
from agentobs.pytest_plugin._outcomes import classify
from tests.test_pytest_plugin_support import isolate


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate(monkeypatch)


@pytest.mark.parametrize(
    ("env", "system", "expected"),
    [
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKFLOW": "CI",
                "GITHUB_RUN_ID": "9",
                "GITHUB_RUN_ATTEMPT": "2",
                "GITHUB_JOB": "test",
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_SERVER_URL": "https://ghe.example",
            },
            "github_actions",
            {
                "cicd.pipeline.name": "CI",
                "cicd.pipeline.run.id": "9",
                "cicd.pipeline.run.url.full": "https://ghe.example/o/r/actions/runs/9",
                "cicd.pipeline.task.name": "test",
                "cicd.pipeline.task.run.id": "9-test-2",
            },
        ),
        (
            {
                "GITLAB_CI": "true",
                "CI_PROJECT_PATH": "g/p",
                "CI_PIPELINE_ID": "5",
                "CI_PIPELINE_URL": "https://gl/p/5",
                "CI_JOB_NAME": "pytest",
                "CI_JOB_ID": "51",
                "CI_JOB_URL": "https://gl/j/51",
            },
            "gitlab_ci",
            {
                "cicd.pipeline.name": "g/p",
                "cicd.pipeline.run.id": "5",
                "cicd.pipeline.run.url.full": "https://gl/p/5",
                "cicd.pipeline.task.name": "pytest",
                "cicd.pipeline.task.run.id": "51",
                "cicd.pipeline.task.run.url.full": "https://gl/j/51",
            },
        ),
        (
            {
                "JENKINS_URL": "https://j/",
                "JOB_NAME": "agent",
                "BUILD_NUMBER": "7",
                "BUILD_URL": "https://j/7",
                "STAGE_NAME": "Test",
            },
            "jenkins",
            {
                "cicd.pipeline.name": "agent",
                "cicd.pipeline.run.id": "7",
                "cicd.pipeline.run.url.full": "https://j/7",
                "cicd.pipeline.task.name": "Test",
            },
        ),
        (
            {
                "BUILDKITE": "true",
                "BUILDKITE_PIPELINE_SLUG": "agent",
                "BUILDKITE_BUILD_ID": "b-1",
                "BUILDKITE_BUILD_URL": "https://bk/1",
                "BUILDKITE_LABEL": ":pytest:",
                "BUILDKITE_JOB_ID": "j-1",
            },
            "buildkite",
            {
                "cicd.pipeline.name": "agent",
                "cicd.pipeline.run.id": "b-1",
                "cicd.pipeline.run.url.full": "https://bk/1",
                "cicd.pipeline.task.name": ":pytest:",
                "cicd.pipeline.task.run.id": "j-1",
            },
        ),
        (
            {
                "CIRCLECI": "true",
                "CIRCLE_PROJECT_REPONAME": "agent",
                "CIRCLE_WORKFLOW_ID": "w-1",
                "CIRCLE_JOB": "tests",
                "CIRCLE_BUILD_NUM": "88",
                "CIRCLE_BUILD_URL": "https://circle/88",
            },
            "circleci",
            {
                "cicd.pipeline.name": "agent",
                "cicd.pipeline.run.id": "w-1",
                "cicd.pipeline.task.name": "tests",
                "cicd.pipeline.task.run.id": "88",
                "cicd.pipeline.task.run.url.full": "https://circle/88",
            },
        ),
        ({"CI": "true"}, None, {}),
        ({"GITHUB_ACTIONS": "false"}, None, {}),
    ],
)
def test_ci_systems(env: dict[str, str], system: str | None, expected: dict[str, str]) -> None:
    found_system, attributes = _ci.detect(env)
    assert found_system == system
    if system is not None:
        expected = {**expected, "cicd.pipeline.task.type": "test"}
    assert attributes == expected


@dataclass
class Report:
    when: str
    outcome: str
    longrepr: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["extra"][name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        (
            [Report("setup", "passed"), Report("call", "passed"), Report("teardown", "passed")],
            "passed",
        ),
        ([Report("setup", "failed"), Report("teardown", "passed")], "error"),
        (
            [Report("setup", "passed"), Report("call", "passed"), Report("teardown", "failed")],
            "error",
        ),
        (
            [Report("setup", "passed"), Report("call", "failed"), Report("teardown", "failed")],
            "failed",
        ),
        (
            [Report("setup", "skipped", ("f", 1, "Skipped: later")), Report("teardown", "passed")],
            "skipped",
        ),
        (
            [Report("setup", "passed"), Report("call", "skipped", ("f", 1, "Skipped: inside"))],
            "skipped",
        ),
        ([Report("call", "skipped", extra={"wasxfail": "bug"})], "xfailed"),
        ([Report("setup", "skipped", extra={"wasxfail": "bug"})], "xfailed"),
        ([Report("call", "passed", extra={"wasxfail": "fixed?"})], "xpassed"),
        ([Report("call", "failed", "[XPASS(strict)] bug")], "failed"),
        ([Report("???", "failed", "worker 'gw0' crashed")], "error"),
        ([Report("call", "rerun"), Report("call", "passed")], "passed"),
        ([Report("call", "passed"), Report("call", "failed"), Report("call", "passed")], "failed"),
        ([], "error"),
    ],
)
def test_classify(reports: list[Report], expected: str) -> None:
    assert classify(reports)[0] == expected


def test_classify_gives_the_reasons() -> None:
    skipped = [Report("setup", "skipped", ("f", 1, "Skipped: not on Fridays"))]
    assert classify(skipped) == ("skipped", "not on Fridays")
    assert classify([Report("call", "skipped", extra={"wasxfail": "issue 7"})]) == (
        "xfailed",
        "issue 7",
    )


@pytest.mark.parametrize(
    ("nodeid", "category"),
    [
        ("tests/tools/test_x.py::test_a", "tools"),
        ("tests/tools/deep/test_x.py::TestA::test_a", "tools"),
        ("tests/test_x.py::test_a", "tests"),
        ("test_x.py::test_a", "."),
        ("src/pkg/test_x.py::test_a", "src"),
        ("checks/agents/test_x.py::test_a", "agents"),
    ],
)
def test_folder_categories(nodeid: str, category: str) -> None:
    assert folder_category(nodeid, roots_from(["checks"])) == category


def test_categories_are_bounded() -> None:
    categories = Categories(None, roots_from(()))
    names = [categories.bounded(f"c{i}") for i in range(250)]
    assert names[:200] == [f"c{i}" for i in range(200)]
    assert set(names[200:]) == {"_other"}
    assert categories.bounded("c3") == "c3"


@dataclass
class Marker:
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def test_budgets() -> None:
    assert budget_of(Marker(kwargs={"tokens": 100})) == Budget(100, None)
    assert budget_of(Marker(kwargs={"usd": 0.5, "tokens": None})) == Budget(None, 0.5)
    used = Usage(80, 30, 0.25)
    assert Budget(100, None).exceeded(used) == "110 tokens used, budget 100"
    assert Budget(None, 0.1).exceeded(used) == "$0.25 spent, budget $0.1"
    assert Budget(200, 1.0).exceeded(used) is None
    for bad in (
        Marker(args=(1,)),
        Marker(kwargs={}),
        Marker(kwargs={"tokens": -1}),
        Marker(kwargs={"usd": "0.1"}),
        Marker(kwargs={"tokens": True}),
        Marker(kwargs={"cost": 1}),
    ):
        with pytest.raises(ValueError, match="agentobs_budget"):
            budget_of(bad)


class FakeConfig:
    def __init__(self, options: dict[str, Any], ini: dict[str, Any]) -> None:
        self.options, self.ini = options, ini
        self.rootpath = "/work/project"

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def getini(self, name: str) -> Any:
        return self.ini.get(name, "")


def test_option_precedence_command_line_then_environment_then_ini() -> None:
    ini = {"agentobs_export": "console", "agentobs_suite": "from-ini"}
    both = FakeConfig({"agentobs_export": "local"}, ini)
    env = {"AGENTOBS_EXPORT": "none"}
    assert _options.read_options(both, env).export == "local"  # type: ignore[arg-type]
    assert _options.read_options(FakeConfig({}, ini), env).export == "none"  # type: ignore[arg-type]
    options = _options.read_options(FakeConfig({}, ini), {})  # type: ignore[arg-type]
    assert (options.export, options.suite) == ("console", "from-ini")
    default = _options.read_options(FakeConfig({}, {}), {})  # type: ignore[arg-type]
    assert (default.export, default.suite, default.flaky_window) == (None, "project", 20)
    endpoint = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    found = _options.read_options(FakeConfig({}, {}), endpoint)  # type: ignore[arg-type]
    assert (found.export, found.export_explicit) == ("otlp", False)


def test_a_test_span_takes_what_the_tests_code_records_on_the_current_span() -> None:
    """The test span is recorded as plain values and built by :func:`_spans.emit`: what the
    SDK would have recorded for the same calls (attributes, events, exception, status, links,
    name), a child of the session span, with the SDK's limits."""
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    from agentobs.pytest_plugin import _spans

    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_events=3, max_span_attribute_length=8))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agentobs")
    session = tracer.start_span("session")
    starter = _spans.TestSpans(tracer, trace.set_span_in_context(session, otel_context.Context()))
    span = starter.start("t.py::test_x", {"test.case.name": "t.py::test_x"})
    assert isinstance(span, _spans.TestSpan)
    assert span.is_recording()
    # the interop processor follows other instrumentations' spans under agentobs's own
    assert span.instrumentation_scope.name == "agentobs"
    span.set_attribute("user.n", 3)
    span.set_attributes({"user.long": "0123456789"})
    span.update_name("renamed")
    span.add_link(session.get_span_context(), {"why": "because"})
    span.set_status(Status(StatusCode.ERROR, "set by the test"))
    span.record_exception(ValueError("boom"))
    for index in range(5):  # three events at most
        span.add_event(f"e{index}", {"i": index}, timestamp=index)
    span.end()  # ignored: the plugin ends it
    attrs: dict[str, Any] = {}
    status = _spans.test_outcome("passed", None, None, None, attrs)
    data = span.data(attrs, [("attempt", {"attempt": 1}, 10)], status, span.start + 5)
    _spans.emit(tracer, [data])
    (built,) = exporter.get_finished_spans()
    assert built.name == "renamed"
    assert built.parent is not None
    assert built.parent.span_id == session.get_span_context().span_id
    assert built.context.trace_id == session.get_span_context().trace_id
    assert built.context.span_id == span.get_span_context().span_id
    assert built.end_time == span.start + 5
    assert dict(built.attributes or {}) == {
        "test.case.name": "t.py::te",  # the length limit, as the SDK applies it
        "user.n": 3,
        "user.long": "01234567",
        "agentobs.test.outcome": "passed",
        "test.case.result.status": "pass",
    }
    assert [e.name for e in built.events] == ["exception", "e0", "e1", "attempt"]
    assert built.events[0].attributes["exception.type"] == "ValueError"  # type: ignore[index]
    assert built.status.status_code is StatusCode.ERROR  # the test's own status wins
    assert built.status.description == "set by the test"
    (link,) = built.links
    assert link.context.span_id == session.get_span_context().span_id
    assert dict(link.attributes or {}) == {"why": "because"}
    assert built.instrumentation_scope is not None
    assert built.instrumentation_scope.name == "agentobs"


def test_test_spans_follow_the_sessions_sampling_decision() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from agentobs.pytest_plugin import _spans

    tracer = TracerProvider().get_tracer("agentobs")
    unsampled = _spans.context_from_traceparent(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    )
    span = _spans.TestSpans(tracer, unsampled).start("t.py::test_x", {})
    assert not span.is_recording()
    assert not span.get_span_context().trace_flags.sampled
    assert span.get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    root = _spans.TestSpans(tracer, None).start("t.py::test_x", {})
    assert isinstance(root, _spans.TestSpan)
    assert trace.get_current_span(None) is not root
