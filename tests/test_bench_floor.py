"""``benchmarks/pytest_sdk_floor.py``, the raw SDK's floor beside the pytest plugin's rows in
``make bench``: it must do the job it stands for (a span per test under a session span, with
the test's outcome; a count and a duration per test), or the floor it measures is too low."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUITE = """
import pytest

def test_passes():
    pass

def test_fails():
    assert False

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


def test_the_floor_records_a_span_a_count_and_a_duration_per_test(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    env["PYTHONPATH"] = str(ROOT / "benchmarks")
    plugins = ["-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:agentobs"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugins, "-p", "pytest_sdk_floor", "test_suite.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one test fails, as written

    spans = [json.loads(line) for line in (tmp_path / "sdk-floor-spans.jsonl").open()]
    session = next(s for s in spans if s["name"] == "pytest session")
    tests = {s["name"]: s for s in spans if s is not session}
    assert {name: s["attributes"]["test.outcome"] for name, s in tests.items()} == {
        "test_suite.py::test_passes": "passed",
        "test_suite.py::test_fails": "failed",
        "test_suite.py::test_skipped": "skipped",
    }
    assert {s["parentSpanId"] for s in tests.values()} == {session["spanId"]}
    assert {s["traceId"] for s in spans} == {session["traceId"]}

    exported = [json.loads(line) for line in (tmp_path / "sdk-floor-metrics.jsonl").open()]
    metrics = {
        metric["name"]: metric["data"]["data_points"]
        for batch in exported
        for resource in batch["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert sum(point["value"] for point in metrics["test.cases"]) == 3
    assert sum(point["count"] for point in metrics["test.duration"]) == 3
