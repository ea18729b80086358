"""`agentobs demo`: the simulated workflow runs offline and its report shows what it did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_demo_runs_offline_and_reports_personas_stages_gates_interventions(tmp_path: Path) -> None:
    html = tmp_path / "demo.html"
    result = subprocess.run(
        [sys.executable, "-m", "agentobs", "demo", "--dir", str(tmp_path), "--html", str(html)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    sections = (
        "WORKFLOWS",
        "STAGES",
        "PERSONAS",
        "LLM CALLS",
        "QUALITY GATES",
        "HUMAN INTERVENTIONS",
    )
    for section in sections:
        assert section in text
    for name in ("planner", "coder", "reviewer", "review-escalated", "lint", "review-score"):
        assert name in text
    # fake LLM calls: priced models, an unpriced self-hosted one, and a budget breach
    assert "gpt-4o-mini" in text
    assert "fleet-reviewer-7b" in text
    assert "unpriced" in text
    assert "Budget breaches" in text
    # the small test run: its health, with the test that failed once and passed on a rerun
    assert "TESTS" in text
    assert "test_review_score_threshold" in text
    assert "Flaky tests" in text
    assert "test_flaky_sandbox" in text
    assert "<svg" in html.read_text(encoding="utf-8")

    spans = [
        span
        for line in (tmp_path / "traces.jsonl").read_text(encoding="utf-8").splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    workflows = [s for s in spans if s["name"] == "invoke_workflow release"]
    assert len(workflows) == 3  # the default --runs
    by_id = {s["spanId"]: s for s in spans}
    tools = [s for s in spans if s["name"].startswith("execute_tool ")]
    assert tools
    for tool in tools:  # every tool call sits inside an agent, inside a stage of a workflow
        chain = []
        parent = tool.get("parentSpanId")
        while parent:
            chain.append(by_id[parent]["name"].split(" ")[0])
            parent = by_id[parent].get("parentSpanId")
        assert chain[0] == "invoke_agent"
        assert "stage" in chain
        assert chain[-1] == "invoke_workflow"
    _check_fleet_parts(tmp_path, spans, text, html.read_text(encoding="utf-8"))


def _check_fleet_parts(directory: Path, spans: list[dict[str, Any]], text: str, html: str) -> None:
    """The demo's suspended and resumed workflow, queue, delegation and insights."""
    from agentobs import insights

    names = {s["name"]: s for s in spans}
    suspended, resumed = names["suspended awaiting-review"], names["resume_workflow hotfix"]
    assert resumed["traceId"] == suspended["traceId"]  # the resumed run joined the trace
    assert resumed["parentSpanId"] == suspended["spanId"]
    delegated = [s for s in spans if s["name"] == "invoke_agent test-agent"]
    assert delegated
    assert all(s.get("links") for s in delegated)  # linked to the coder-agent span
    metrics = (directory / "metrics.jsonl").read_text(encoding="utf-8")
    for metric in (
        "agentobs.queue.wait",
        "agentobs.queue.completed",
        "agentobs.delegations",
        "agentobs.suspension.duration",
        "agentobs.workflow.resumes",
    ):
        assert f'"{metric}"' in metrics, metric

    found = insights.patterns(directory)
    planted = [f for f in found.failures if f.error_type == "ConnectionError"]
    assert len(planted) == 1
    assert (planted[0].workflow, planted[0].stage) == ("release", "plan")
    assert planted[0].occurrences == 3  # once a run
    assert planted[0].recovery_rate == 1.0  # every run still released
    proven = [s for s in found.successes if s.proven]
    assert [(s.agent, s.task_type, s.successes) for s in proven] == [("triage-agent", "triage", 12)]
    assert "FAILURE PATTERNS" in text
    assert "ConnectionError" in text
    assert "proven" in text
    assert 'id="insights"' in html


def test_demo_is_deterministic_in_what_it_does(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        directory = tmp_path / run
        result = subprocess.run(
            [sys.executable, "-m", "agentobs", "demo", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(
            sorted(
                (s["name"], s.get("status", {}).get("code", 0))
                for line in (directory / "traces.jsonl").read_text().splitlines()
                for r in json.loads(line)["resourceSpans"]
                for sc in r["scopeSpans"]
                for s in sc["spans"]
            )
        )
    assert outputs[0] == outputs[1]
