"""Helpers for the pytest plugin's tests (no tests here).

The plugin's tests run pytest inside pytest with ``pytester``. Inner runs see a clean
environment (no OTEL_*, AGENTOBS_*, CI or TRACEPARENT variables), an ini file that keeps
pytest-randomly off unless a test turns it on, and agentobs reset before and after.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agentobs import testing
from agentobs._localdata import LocalData, SpanData, read_directory


def _preload() -> None:
    """Import every module an inner run may import, before any inner run.

    ``pytester`` removes the modules an in-process run imported once the run ends. Were
    agentobs's lazily imported modules (``agentobs._api``, its OpenTelemetry context keys,
    the SDK) first imported inside an inner run, later tests would see second copies of them,
    out of step with the objects ``agentobs`` already handed out.
    """
    import agentobs

    for info in pkgutil.walk_packages(agentobs.__path__, "agentobs."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in (
        "opentelemetry.sdk.trace",
        "opentelemetry.sdk.trace.export",
        "opentelemetry.sdk.metrics",
        "opentelemetry.sdk.metrics.export",
        "opentelemetry.sdk._logs",
        "opentelemetry.sdk._logs.export",
        "opentelemetry.sdk.resources",
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "opentelemetry.exporter.otlp.json.common.trace_encoder",
        "opentelemetry.exporter.otlp.json.common.metrics_encoder",
        "opentelemetry.exporter.otlp.json.common._log_encoder",
        "opentelemetry.trace.propagation.tracecontext",
        "prometheus_client",
    ):
        importlib.import_module(name)


_preload()

CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "CIRCLECI")
KEPT = ("AGENTOBS_REQUIRE_BACKENDS", "AGENTOBS_BACKENDS_DIR")

INI = """\
[pytest]
addopts = -p no:randomly -p no:flaky
asyncio_default_fixture_loop_scope = function
markers =
    slow: a slow test
"""

OUTCOMES_SUITE = """
import pytest


def test_passes():
    pass


def test_fails():
    assert 1 == 2, "one is not two"


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfailed():
    raise ValueError("still broken")


@pytest.mark.xfail(reason="maybe fixed")
def test_xpassed():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("fixture boom")


def test_error(broken):
    pass


@pytest.mark.parametrize("n", [1, "two"])
@pytest.mark.slow
def test_param(n):
    pass
"""
"""A suite with every outcome: 3 passed, 1 failed, 1 error, 1 skipped, 1 xfailed, 1 xpassed."""


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every variable the plugin or agentobs reads from the environment."""
    for name in list(os.environ):
        if name in KEPT:
            continue
        if (
            name.startswith(("OTEL_", "AGENTOBS_", "PYTEST_ADDOPTS", "TRACE"))
            or name in CI_VARIABLES
        ):
            monkeypatch.delenv(name, raising=False)


def isolate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For an autouse fixture: a clean environment and a reset agentobs around the test."""
    clean_environment(monkeypatch)
    testing.reset()
    yield
    testing.reset()


def setup_suite(pytester: pytest.Pytester, files: dict[str, str], ini: str = INI) -> None:
    """Write the inner suite (paths relative to the pytester directory) and its ini file."""
    pytester.makefile(".ini", pytest=ini)
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the inner suite in this process; agentobs is reset afterwards."""
    try:
        return pytester.runpytest_inprocess(*args)
    finally:
        testing.reset()


def attributes(span: Any) -> dict[str, Any]:
    """A span's attributes as a plain dict (an SDK span or a local-file span)."""
    return dict(span.attributes or {})


def by_name(spans: Sequence[Any]) -> dict[str, Any]:
    """Spans by name (names must be unique)."""
    found = {s.name: s for s in spans}
    assert len(found) == len(spans), [s.name for s in spans]
    return found


def local(directory: Path) -> LocalData:
    """What the local default wrote in ``directory/.agentobs``."""
    return read_directory(directory / ".agentobs")


def spans_of_tests(data: LocalData) -> list[SpanData]:
    """The test spans of the local files."""
    return [s for s in data.spans if s.attributes.get("agentobs.span.type") == "test"]


def session_spans(data: LocalData) -> list[SpanData]:
    """The session spans of the local files."""
    return [s for s in data.spans if s.attributes.get("agentobs.span.type") == "test_session"]


def last_gauges(data: LocalData, name: str) -> dict[tuple[tuple[str, object], ...], float]:
    """The latest value of each series of a gauge in the local files."""
    latest: dict[tuple[tuple[str, object], ...], tuple[int, float]] = {}
    for point in data.points:
        if point.name != name:
            continue
        key = tuple(sorted(point.attributes.items()))
        if key not in latest or point.time_ns >= latest[key][0]:
            latest[key] = (point.time_ns, point.value)
    return {k: v for k, (_t, v) in latest.items()}


def outcome_counts(data: LocalData) -> dict[str, int]:
    """Tests by outcome, from the ``agentobs.test_run.tests`` gauge of the local files."""
    counts: dict[str, int] = {}
    for key, value in last_gauges(data, "agentobs.test_run.tests").items():
        outcome = str(dict(key)["agentobs.test.outcome"])
        counts[outcome] = counts.get(outcome, 0) + int(value)
    return counts


def history_file(directory: Path) -> Path:
    """The default history file of an inner run in ``directory``."""
    return directory / ".pytest_cache" / "d" / "agentobs" / "flaky-history.json"
