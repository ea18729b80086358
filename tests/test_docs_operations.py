"""docs/operations.md stays true: every ```python block runs as printed (after configure),
and every ```promql expression is accepted by a real Prometheus and gives sensible figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agentobs
from agentobs import testing
from tests.backends import PrometheusFactory, free_port

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def _blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


PYTHON = _blocks("python")
BASH = [line for block in _blocks("bash") for line in block.splitlines() if line.strip()]
PROMQL = [block.strip() for block in _blocks("promql")]


def test_the_doc_has_examples() -> None:
    assert len(PYTHON) >= 8
    assert len(PROMQL) >= 4


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_examples_run(
    code: str, clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with testing.capture() as cap:
        exec(compile(code, f"docs/operations.md ({code.splitlines()[0]})", "exec"), {})
        assert cap.spans or cap.metric_points() or "insights" in code or "health" in code


def test_shell_commands_run_as_printed(clean_env: None, tmp_path: Path) -> None:
    assert BASH == [
        "agentobs demo",
        "agentobs insights --dir .agentobs/demo",
        "agentobs insights --dir .agentobs/demo --since 1d --json",
    ]
    binary = Path(sys.executable).parent / "agentobs"
    outputs = []
    for command in BASH:
        done = subprocess.run(
            [str(binary), *command.split()[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
        outputs.append(done.stdout)
    assert "FAILURE PATTERNS" in outputs[1]
    assert json.loads(outputs[2])["successes"][0]["proven"] is True


@pytest.mark.backend("prometheus")
def test_promql_expressions(clean_env: None, prometheus: PrometheusFactory) -> None:
    port = free_port()
    testing.reset()
    try:
        agentobs.configure(exporter="none", prometheus_port=port, logs=False)

        def runs(helped: bool) -> None:
            with agentobs.workflow("triage"):
                if helped:
                    agentobs.human_intervention("wrong label")

        runs(False)
        runs(True)
        token = _checkpoint()
        prom = prometheus([f"127.0.0.1:{port}"])
        prom.query('agentobs_workflow_runs_total{gen_ai_workflow_name="triage"}')
        time.sleep(1.5)  # a scrape of the series as they were
        for helped in (False, False, True):
            runs(helped)
        with agentobs.resume(token):
            pass
        time.sleep(2.5)  # scraped again

        results = {expression: prom.query_once(expression) for expression in PROMQL}
        unaided, rate, stuck, resumes = (results[e] for e in PROMQL)
        assert float(unaided[0]["value"][1]) > 0  # 2 more runs without help
        [share] = rate
        assert share["metric"] == {"gen_ai_workflow_name": "triage"}
        assert 0 < float(share["value"][1]) < 1  # 1 of the 3 later runs had help
        assert stuck == []  # nothing has been working for an hour
        assert {r["metric"]["agentobs_resume_result"] for r in resumes} == {"ok"}
    finally:
        testing.reset()


def _checkpoint() -> dict[str, object]:
    with agentobs.workflow("release"), agentobs.suspended("awaiting-review"):
        return agentobs.checkpoint()
