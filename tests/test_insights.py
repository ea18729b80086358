"""``agentobs.insights`` on a generated four-day data set, every figure checked against a
hand computation; the ``agentobs insights`` command (terminal and JSON) on the same files.

The data set: 12 runs of workflow ``release`` (3 a day, an hour apart, 4 days). Each run:

    workflow [0, 3+R]                               R = 1 s on days 0-1, 3 s on days 2-3
      stage build [0.1, 2.6]
        task compile (agent builder, type compile) [0.2, 2.4]
          tool fetch [0.3, 0.8]  ERROR TimeoutError    runs 1, 4, 7, 10 (caught: task ok)
          chat m-small [1.0, 2.0]  100 + 50 tokens, $0.001
        gate lint [2.45, 2.5]  fail "style" in runs 2 and 5, pass otherwise
      stage review [2.7, 2.9+R]
        task review (agent reviewer, type review) [2.8, 2.8+R]   ERROR ValueError in run 11,
                                                                 up to the workflow
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentobs import insights
from agentobs.cli import main

BASE = 1_790_000_000.0  # a Unix time, seconds
DAY, HOUR = 86400, 3600


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


class Trace:
    """Builds the OTLP JSON spans of one trace."""

    def __init__(self, number: int, start: float) -> None:
        self.trace_id = f"{number + 1:032x}"
        self.start = start
        self.spans: list[dict[str, Any]] = []

    def span(
        self,
        name: str,
        begin: float,
        end: float,
        parent: str | None = None,
        error: str | None = None,
        **attributes: Any,
    ) -> str:
        span_id = f"{len(self.spans) + 1:016x}"
        if error:
            attributes["error.type"] = error
        self.spans.append(
            {
                "traceId": self.trace_id,
                "spanId": span_id,
                "parentSpanId": parent or "",
                "name": name,
                "startTimeUnixNano": str(int((self.start + begin) * 1e9)),
                "endTimeUnixNano": str(int((self.start + end) * 1e9)),
                "attributes": [{"key": k, "value": _value(v)} for k, v in attributes.items()],
                "status": {"code": 2 if error else 0},
            }
        )
        return span_id


def _run(i: int) -> Trace:
    day, slot = divmod(i, 3)
    review = 1.0 if day < 2 else 3.0
    t = Trace(i, BASE + day * DAY + slot * HOUR)
    failed = "ValueError" if i == 11 else None
    flow = t.span(
        "invoke_workflow release",
        0,
        3 + review,
        error=failed,
        **{"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "release"},
    )
    build = t.span(
        "stage build",
        0.1,
        2.6,
        flow,
        **{"agentobs.span.type": "stage", "agentobs.stage.name": "build"},
    )
    compile_ = t.span(
        "task compile",
        0.2,
        2.4,
        build,
        **{"gen_ai.agent.name": "builder", "agentobs.task.type": "compile"},
    )
    if i % 3 == 1:
        t.span(
            "execute_tool fetch",
            0.3,
            0.8,
            compile_,
            error="TimeoutError",
            **{
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "fetch",
                "agentobs.persona.name": "builder-persona",
            },
        )
    t.span(
        "chat m-small",
        1.0,
        2.0,
        compile_,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m-small",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 50,
            "agentobs.cost.usd": 0.001,
        },
    )
    gate: dict[str, Any] = {"agentobs.span.type": "gate", "agentobs.gate.name": "lint"}
    if i in (2, 5):
        gate.update({"agentobs.gate.result": "fail", "agentobs.gate.reason": "style"})
    else:
        gate["agentobs.gate.result"] = "pass"
    t.span("quality_gate lint", 2.45, 2.5, build, **gate)
    stage = t.span(
        "stage review",
        2.7,
        2.9 + review,
        flow,
        error=failed,
        **{"agentobs.span.type": "stage", "agentobs.stage.name": "review"},
    )
    t.span(
        "task review",
        2.8,
        2.8 + review,
        stage,
        error=failed,
        **{"gen_ai.agent.name": "reviewer", "agentobs.task.type": "review"},
    )
    return t


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data set as a directory of OTLP JSON: one request per run, JSON Lines."""
    directory = tmp_path_factory.mktemp("otlp")
    lines = []
    for i in range(12):
        request = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "fleet"}}]
                    },
                    "scopeSpans": [{"scope": {"name": "agentobs"}, "spans": _run(i).spans}],
                }
            ]
        }
        lines.append(json.dumps(request))
    (directory / "export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def _iso(seconds: float) -> str:
    return insights_iso(seconds)


def insights_iso(seconds: float) -> str:
    from agentobs._spanindex import iso_time

    return iso_time(int(seconds * 1e9))


def test_every_figure_against_a_hand_computation(telemetry: Path) -> None:
    found = insights.patterns(telemetry)
    assert found.spans == 12 * 7 + 4  # 7 spans a run, and the 4 failing tool calls
    assert found.workflow_runs == 12

    timeout, lint, value_error = found.failures
    run_start = {i: BASE + (i // 3) * DAY + (i % 3) * HOUR for i in range(12)}
    assert timeout == insights.FailurePattern(
        workflow="release",
        stage="build",
        error_type="TimeoutError",
        reason="",
        occurrences=4,
        runs=4,
        first_seen=_iso(run_start[1] + 0.3),
        last_seen=_iso(run_start[10] + 0.3),
        recovered=4,  # every run still succeeded
        recovery_rate=1.0,
        # from the tool's end (0.8) to the workflow's end (3 + R): 3.2, 3.2, 5.2, 5.2
        mean_time_to_recover_s=pytest.approx((3.2 + 3.2 + 5.2 + 5.2) / 4),
        personas=("builder-persona",),
        models=("m-small",),  # used in the stage where it failed
    )
    assert lint == insights.FailurePattern(
        workflow="release",
        stage="build",
        error_type="gate lint",
        reason="style",
        occurrences=2,
        runs=2,
        first_seen=_iso(run_start[2] + 2.45),
        last_seen=_iso(run_start[5] + 2.45),
        recovered=2,
        recovery_rate=1.0,
        mean_time_to_recover_s=pytest.approx(4.0 - 2.5),
        personas=(),
        models=("m-small",),
    )
    # the ValueError propagated task -> stage -> workflow: counted once, at the task
    assert value_error == insights.FailurePattern(
        workflow="release",
        stage="review",
        error_type="ValueError",
        reason="",
        occurrences=1,
        runs=1,
        first_seen=_iso(run_start[11] + 2.8),
        last_seen=_iso(run_start[11] + 2.8),
        recovered=0,
        recovery_rate=0.0,
        mean_time_to_recover_s=None,
        personas=(),
        models=(),
    )

    compile_, review = found.successes
    assert compile_ == insights.SuccessPattern(
        agent="builder",
        task_type="compile",
        attempts=12,
        successes=12,
        success_rate=1.0,
        mean_s=pytest.approx(2.2),
        p95_s=pytest.approx(2.2),
        tokens_per_success=150.0,
        cost_per_success_usd=pytest.approx(0.001),
        proven=True,  # 12 successes > PROVEN_AFTER = 10
    )
    # 11 successes: six of 1 s (days 0-1), five of 3 s (days 2-3, run 11 failed).
    # p95 of 11 sorted values: position 0.95 * 10 = 9.5, between two 3 s values.
    assert review == insights.SuccessPattern(
        agent="reviewer",
        task_type="review",
        attempts=12,
        successes=11,
        success_rate=pytest.approx(11 / 12, abs=1e-6),
        mean_s=pytest.approx((6 * 1.0 + 5 * 3.0) / 11, abs=1e-6),
        p95_s=pytest.approx(3.0),
        tokens_per_success=None,
        cost_per_success_usd=None,
        proven=True,
    )
    assert insights.PROVEN_AFTER == 10

    # halves: days 0-1 (6 runs) and days 2-3 (6 runs). The review stage takes R + 0.2:
    # 1.2 s then 3.2 s (p95 x2.67), and fails once in six (0 -> 1/6). Nothing else moved.
    assert found.regressions == [
        insights.Regression(
            "stage",
            "release/review",
            "p95_duration_s",
            pytest.approx(1.2),
            pytest.approx(3.2),
            6,
            6,
        ),
        insights.Regression(
            "stage", "release/review", "failure_rate", 0.0, pytest.approx(1 / 6, abs=1e-6), 6, 6
        ),
    ]

    # the questions an agent asks before it starts
    assert [f.error_type for f in found.failures_at("build")] == ["TimeoutError", "gate lint"]
    assert found.best_for("review")[0].agent == "reviewer"


def test_since_keeps_the_later_days(telemetry: Path) -> None:
    day2 = _iso(BASE + 2 * DAY)
    found = insights.patterns(telemetry, since=day2)
    assert found.workflow_runs == 6
    [timeout, value_error] = found.failures
    assert (timeout.error_type, timeout.occurrences) == ("TimeoutError", 2)
    assert value_error.error_type == "ValueError"
    assert found.since == day2
    # two windows: days 0-2 against day 3 (the review stage: 1 s, 1 s, 3 s against 3 s)
    split = insights.patterns(telemetry, split=_iso(BASE + 3 * DAY))
    assert [(r.metric, r.runs_before, r.runs_after) for r in split.regressions] == []  # 3 < 5
    weekly = insights.patterns(telemetry, since=_iso(BASE), split=_iso(BASE + 2 * DAY))
    assert [r.metric for r in weekly.regressions] == ["p95_duration_s", "failure_rate"]
    relative = insights.patterns(telemetry, since="1d", now=BASE + 3 * DAY + 3 * HOUR)
    assert relative.workflow_runs == 3
    with pytest.raises(ValueError, match="since='last tuesday'"):
        insights.patterns(telemetry, since="last tuesday")


def test_cli_terminal_and_json(telemetry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["insights", "--dir", str(telemetry), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["failures"][0]["error_type"] == "TimeoutError"
    assert data["failures"][0]["recovery_rate"] == 1.0
    assert data["successes"][0]["proven"] is True
    assert data["regressions"][0]["name"] == "release/review"

    assert main(["insights", "--dir", str(telemetry)]) == 0
    out = capsys.readouterr().out
    assert "FAILURE PATTERNS" in out
    assert "TimeoutError" in out
    assert "SUCCESS PATTERNS" in out
    assert "proven" in out
    assert "REGRESSIONS" in out
    assert "release/review" in out

    assert main(["insights", "--dir", str(telemetry / "missing")]) == 1
    assert "no spans" in capsys.readouterr().err
