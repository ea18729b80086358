"""The pytest plugin end to end, in real pytest processes.

* A real third-party project (``six``, installed from its source distribution during the
  test) has its own test suite run with the plugin: the outcome counts the plugin records
  equal those of pytest's JUnit XML of the same run.
* Session and test spans read back from Phoenix (OTLP/HTTP).
* Pass rate and outcome counts read back from Prometheus after a push to a Pushgateway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.backends import BACKENDS_DIR, Phoenix, PrometheusFactory, Pushgateway, missing_backend
from tests.test_pytest_plugin_support import (
    INI,
    OUTCOMES_SUITE,
    clean_environment,
    local,
    outcome_counts,
    spans_of_tests,
)

SDIST_PROJECT, SDIST_VERSION = "six", "1.17.0"
SDIST_CACHE = BACKENDS_DIR / "sdists"
TIMEOUT = 300


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


def _pytest(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pytest`` in ``cwd`` as a separate process (the plugin auto-loads)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _write_suite(directory: Path, files: dict[str, str]) -> None:
    (directory / "pytest.ini").write_text(INI)
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# --- a real third-party project ------------------------------------------------------------


def _sdist() -> Path:
    """The project's source distribution, downloaded once into .backends/sdists."""
    name = f"{SDIST_PROJECT}-{SDIST_VERSION}.tar.gz"
    cached = SDIST_CACHE / name
    if cached.exists():
        return cached
    SDIST_CACHE.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--dest",
        str(SDIST_CACHE),
        f"{SDIST_PROJECT}=={SDIST_VERSION}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0 or not cached.exists():
        missing_backend(f"{name} (PyPI)", done.stderr.strip().splitlines()[-1:] or "")
    return cached


def _install(sdist: Path, target: Path) -> None:
    """Build and install the sdist into ``target`` (build dependencies come from the index)."""
    uv = Path(sys.executable).with_name("uv")
    if uv.exists():
        command = [str(uv), "pip", "install", "--python", sys.executable]
    else:
        command = [sys.executable, "-m", "pip", "install", "--quiet"]
    command += ["--no-deps", "--target", str(target), str(sdist)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr


def _junit_counts(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    return {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}


def test_a_real_projects_suite_counts_equal_its_junit_xml(tmp_path: Path) -> None:
    sdist = _sdist()
    site = tmp_path / "site"
    _install(sdist, site)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    work = tmp_path / "run"
    (work / "tests").mkdir(parents=True)
    shutil.copy(
        tmp_path / "src" / f"{SDIST_PROJECT}-{SDIST_VERSION}" / "test_six.py", work / "tests"
    )

    env = {"PYTHONPATH": str(site), "AGENTOBS_LOCAL_DIR": str(work / ".agentobs")}
    probe = subprocess.run(
        [sys.executable, "-c", "import six; print(six.__file__)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site))  # the installed sdist, not a copy

    result = _pytest(
        work,
        "tests",
        "-p",
        "no:randomly",
        "--junitxml=junit.xml",
        "--agentobs-export",
        "local",
        **env,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    junit = _junit_counts(work / "junit.xml")
    counts = outcome_counts(local(work))
    assert sum(counts.values()) == junit["tests"] > 50
    assert counts.get("passed", 0) + counts.get("xpassed", 0) == (
        junit["tests"] - junit["failures"] - junit["errors"] - junit["skipped"]
    )
    assert counts.get("failed", 0) == junit["failures"]
    assert counts.get("error", 0) == junit["errors"]
    assert counts.get("skipped", 0) + counts.get("xfailed", 0) == junit["skipped"] > 0
    assert len(spans_of_tests(local(work))) == junit["tests"]


# --- Phoenix -----------------------------------------------------------------------------------

AGENT_TEST = """
from opentelemetry import trace

import agentobs


def test_agent_answers():
    with agentobs.agent("planner"):
        with trace.get_tracer("llm").start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 30,
                "gen_ai.usage.output_tokens": 12,
            },
        ):
            pass
"""


@pytest.mark.backend("phoenix")
def test_session_and_test_spans_reach_phoenix(phoenix: Phoenix, tmp_path: Path) -> None:
    project = f"pytest-{uuid.uuid4().hex[:8]}"
    _write_suite(
        tmp_path,
        {"tests/unit/test_outcomes.py": OUTCOMES_SUITE, "tests/agents/test_agent.py": AGENT_TEST},
    )
    result = _pytest(
        tmp_path,
        "--agentobs-suite",
        project,
        OTEL_EXPORTER_OTLP_ENDPOINT=phoenix.http_endpoint,
        OTEL_METRICS_EXPORTER="none",  # Phoenix takes traces only
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "agentobs: warning" not in result.stdout

    spans = phoenix.spans(project, min_count=12, timeout=60)
    sessions = [s for s in spans if s["attributes"].get("agentobs.span.type") == "test_session"]
    assert len(sessions) == 1
    session = sessions[0]
    assert session["name"] == f"pytest {project}"
    assert session["attributes"]["test.suite.name"] == project
    assert session["attributes"]["test.suite.run.status"] == "failure"
    assert session["status_code"] == "ERROR"
    tests = {
        s["attributes"]["test.case.name"]: s
        for s in spans
        if s["attributes"].get("agentobs.span.type") == "test"
    }
    assert len(tests) == 9
    for span in tests.values():
        assert span["parent_id"] == session["context"]["span_id"]
        assert span["context"]["trace_id"] == session["context"]["trace_id"]
    outcomes = {
        name.split("::")[1]: s["attributes"]["agentobs.test.outcome"] for name, s in tests.items()
    }
    assert outcomes == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_xfailed": "xfailed",
        "test_xpassed": "xpassed",
        "test_error": "error",
        "test_param[1]": "passed",
        "test_param[two]": "passed",
        "test_agent_answers": "passed",
    }
    agent_test = tests["tests/agents/test_agent.py::test_agent_answers"]
    assert agent_test["attributes"]["agentobs.test.usage.input_tokens"] == 30
    assert agent_test["attributes"]["agentobs.test.usage.output_tokens"] == 12
    agent = next(s for s in spans if s["name"] == "invoke_agent planner")
    assert agent["parent_id"] == agent_test["context"]["span_id"]
    chat = next(s for s in spans if s["name"] == "chat gpt-4o")
    assert chat["parent_id"] == agent["context"]["span_id"]


# --- Pushgateway and Prometheus -------------------------------------------------------------------


@pytest.mark.backend("prometheus")
def test_run_gauges_reach_prometheus_through_the_pushgateway(
    pushgateway: Pushgateway, prometheus: PrometheusFactory, tmp_path: Path
) -> None:
    suite = f"suite-{uuid.uuid4().hex[:8]}"
    _write_suite(tmp_path, {"tests/unit/test_outcomes.py": OUTCOMES_SUITE})
    result = _pytest(tmp_path, "--agentobs-suite", suite, "--agentobs-pushgateway", pushgateway.url)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "agentobs: warning" not in result.stdout

    prom = prometheus([pushgateway.address])
    selector = f'test_suite_name="{suite}",job="agentobs_pytest"'
    [rate] = prom.query(f"agentobs_test_run_pass_rate{{{selector}}}", timeout=30)
    assert float(rate["value"][1]) == pytest.approx(3 / 5)
    assert rate["metric"]["cicd_pipeline_task_name"] == "local"
    series = prom.query(f"agentobs_test_run_tests{{{selector}}}", timeout=30)
    counts: dict[str, float] = {}
    for sample in series:
        outcome = sample["metric"]["agentobs_test_outcome"]
        counts[outcome] = counts.get(outcome, 0) + float(sample["value"][1])
        assert sample["metric"]["agentobs_test_category"] == "unit"
    assert counts == {
        "passed": 3,
        "failed": 1,
        "error": 1,
        "skipped": 1,
        "xfailed": 1,
        "xpassed": 1,
    }
    [flaky] = prom.query(f"agentobs_test_run_flaky{{{selector}}}", timeout=30)
    assert float(flaky["value"][1]) == 0
    [stamp] = prom.query(f"agentobs_test_run_timestamp_seconds{{{selector}}}", timeout=30)
    assert float(stamp["value"][1]) > 1.7e9
