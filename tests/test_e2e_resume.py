"""End to end, two processes: a workflow checkpoints while suspended and its process exits;
this test's process resumes it from the token. Phoenix shows one trace across both
processes (or the link, when configured), and the suspension duration reads back from a real
Prometheus scraping the resuming process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import agentobs
from tests.backends import Phoenix, PrometheusFactory, clean_env, free_port

FLUSH_TIMEOUT = 15.0
SUSPEND_SECONDS = 1.5

FIRST_PROCESS = textwrap.dedent(
    """
    import json, sys
    import agentobs

    endpoint, project = sys.argv[1], sys.argv[2]
    agentobs.configure(
        service_name="fleet-worker-a",
        endpoint=endpoint,
        resource_attributes={"openinference.project.name": project},
        logs=False,
    )
    with agentobs.session("conv-1", user_id="u-1"), agentobs.workflow("release"):
        with agentobs.persona("reviewer"), agentobs.stage("review"):
            with agentobs.suspended("awaiting-review"):
                token = agentobs.checkpoint()
    print(json.dumps(token))
    """
)


TRACES_ONLY = {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
"""Phoenix takes traces only; metrics are read from the Prometheus endpoint."""


@pytest.fixture(autouse=True)
def traces_only(backend_agentobs: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TRACES_ONLY.items():
        monkeypatch.setenv(name, value)


def _first_process(tmp_path: Path, phoenix: Phoenix, project: str) -> dict[str, object]:
    script = tmp_path / "worker_a.py"
    script.write_text(FIRST_PROCESS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), phoenix.http_endpoint, project],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(PYTHONPATH=os.pathsep.join(sys.path), **TRACES_ONLY),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    token: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return token


@pytest.mark.backend("phoenix")
@pytest.mark.backend("prometheus")
def test_resume_in_another_process_joins_the_trace(
    tmp_path: Path, phoenix: Phoenix, prometheus: PrometheusFactory
) -> None:
    project = f"resume-{uuid.uuid4().hex[:8]}"
    token = _first_process(tmp_path, phoenix, project)  # its process has exited
    time.sleep(SUSPEND_SECONDS)  # the review takes a while

    port = free_port()
    agentobs.configure(
        service_name="fleet-worker-b",
        endpoint=phoenix.http_endpoint,
        resource_attributes={"openinference.project.name": project},
        prometheus_port=port,
        logs=False,
    )
    with agentobs.resume(json.dumps(token)), agentobs.task("merge"):
        pass
    assert agentobs.force_flush(FLUSH_TIMEOUT)

    spans = {s["name"]: s for s in phoenix.spans(project, min_count=6, timeout=60)}
    first = spans["invoke_workflow release"]
    suspended = spans["suspended awaiting-review"]
    resumed = spans["resume_workflow release"]
    merge = spans["task merge"]
    trace_id = first["context"]["trace_id"]
    assert {s["context"]["trace_id"] for s in spans.values()} == {trace_id}  # one trace
    assert resumed["parent_id"] == suspended["context"]["span_id"]
    assert merge["parent_id"] == resumed["context"]["span_id"]
    assert suspended["attributes"]["agentobs.suspension.checkpointed"] is True
    assert resumed["attributes"]["agentobs.resume.result"] == "ok"
    waited = resumed["attributes"]["agentobs.suspension.seconds"]
    assert waited >= SUSPEND_SECONDS
    assert merge["attributes"]["agentobs.persona.name"] == "reviewer"  # persona restored
    assert merge["attributes"]["session.id"] == "conv-1"  # and the session
    assert merge["attributes"]["user.id"] == "u-1"
    assert first["attributes"]["session.id"] == "conv-1"

    prom = prometheus([f"127.0.0.1:{port}"])
    selector = '{gen_ai_workflow_name="release", agentobs_suspension_point="awaiting-review"}'
    [count] = prom.query(f"agentobs_suspension_duration_seconds_count{selector}")
    assert float(count["value"][1]) == 1
    [total] = prom.query(f"agentobs_suspension_duration_seconds_sum{selector}")
    assert float(total["value"][1]) == pytest.approx(waited, abs=1e-3)
    [resumes] = prom.query('agentobs_workflow_resumes_total{agentobs_resume_result="ok"}')
    assert float(resumes["value"][1]) == 1
    # ids are never labels: no agentobs series carries them
    ids = '{__name__=~"agentobs_.+", session_id!=""} or {__name__=~"agentobs_.+", user_id!=""}'
    assert prom.query_once(ids) == []


@pytest.mark.backend("phoenix")
def test_resume_in_another_process_links_when_configured(tmp_path: Path, phoenix: Phoenix) -> None:
    project = f"resume-link-{uuid.uuid4().hex[:8]}"
    token = _first_process(tmp_path, phoenix, project)
    agentobs.configure(
        service_name="fleet-worker-b",
        endpoint=phoenix.http_endpoint,
        resource_attributes={"openinference.project.name": project},
        resume_trace="link",
        logs=False,
    )
    with agentobs.resume(token):
        pass
    assert agentobs.force_flush(FLUSH_TIMEOUT)

    spans = {s["name"]: s for s in phoenix.spans(project, min_count=5, timeout=60)}
    suspended = spans["suspended awaiting-review"]
    resumed = spans["resume_workflow release"]
    assert resumed["context"]["trace_id"] != suspended["context"]["trace_id"]
    assert resumed["parent_id"] is None
    assert resumed["attributes"]["agentobs.resume.mode"] == "link"
    assert resumed["attributes"]["agentobs.suspension.seconds"] > 0
    # (Phoenix's REST API does not return span links; the link itself is checked in
    # tests/test_resume.py::test_resume_links_instead_when_configured.)
