"""Quality gates: verdicts, scores against thresholds, the decorator's rules, record_gate,
the ``gen_ai.evaluation.result`` event and the check and score metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import agentobs
from agentobs import _catalogue, testing


@pytest.fixture
def cap() -> Iterator[testing.Capture]:
    with testing.capture() as capture:
        yield capture


def _gate(cap: testing.Capture, name: str) -> tuple[Any, dict[str, Any]]:
    span = cap.span(f"quality_gate {name}")
    [event] = [e for e in span.events if e.name == "gen_ai.evaluation.result"]
    return span, dict(event.attributes or {})


def test_passed(cap: testing.Capture) -> None:
    with agentobs.workflow("ci"), agentobs.stage("verify"), agentobs.quality_gate("lint") as g:
        g.passed()
    span, event = _gate(cap, "lint")
    assert span.attributes["agentobs.gate.result"] == "pass"
    assert span.attributes["agentobs.span.type"] == "gate"
    assert span.attributes["openinference.span.kind"] == "EVALUATOR"
    assert span.status.status_code is StatusCode.UNSET
    assert event == {"gen_ai.evaluation.name": "lint", "gen_ai.evaluation.score.label": "pass"}
    [point] = cap.metric_points("agentobs.gate.checks")
    assert dict(point.attributes) == {
        "agentobs.gate.name": "lint",
        "agentobs.gate.result": "pass",
        "gen_ai.workflow.name": "ci",
        "agentobs.stage.name": "verify",
    }
    assert cap.metric_points("agentobs.gate.score") == []


def test_failed_with_reason(cap: testing.Capture) -> None:
    with agentobs.quality_gate("tests") as g:
        g.failed("3 errors")
    span, event = _gate(cap, "tests")
    assert span.attributes["agentobs.gate.result"] == "fail"
    assert span.attributes["agentobs.gate.reason"] == "3 errors"
    assert event["gen_ai.evaluation.score.label"] == "fail"
    assert event["gen_ai.evaluation.explanation"] == "3 errors"
    assert cap.metric_value("agentobs.gate.checks", **{"agentobs.gate.result": "fail"}) == 1


def test_no_verdict_and_no_exception_passes(cap: testing.Capture) -> None:
    with agentobs.quality_gate("silent"):
        pass
    assert _gate(cap, "silent")[0].attributes["agentobs.gate.result"] == "pass"


@pytest.mark.parametrize(
    ("score", "threshold", "result"),
    [(0.9, 0.8, "pass"), (0.8, 0.8, "pass"), (0.79, 0.8, "fail"), (0.2, None, "pass")],
)
def test_score_against_threshold(
    cap: testing.Capture, score: float, threshold: float | None, result: str
) -> None:
    with agentobs.persona("reviewer"), agentobs.quality_gate("quality", threshold=threshold) as g:
        g.score(score)
    span, event = _gate(cap, "quality")
    assert span.attributes["agentobs.gate.result"] == result
    assert span.attributes["agentobs.gate.score"] == score
    assert event["gen_ai.evaluation.score.value"] == score
    assert event["gen_ai.evaluation.score.label"] == result
    if threshold is not None:
        assert span.attributes["agentobs.gate.threshold"] == threshold
    if result == "fail":
        assert event["gen_ai.evaluation.explanation"] == "score 0.79 below threshold 0.8"
    [point] = cap.metric_points("agentobs.gate.score")
    assert point.sum == pytest.approx(score)
    assert point.explicit_bounds == _catalogue.SCORE_BUCKETS
    assert dict(point.attributes) == {
        "agentobs.gate.name": "quality",
        "agentobs.persona.name": "reviewer",
    }


def test_explicit_pass_with_a_low_score_still_fails(cap: testing.Capture) -> None:
    with agentobs.quality_gate("strict", threshold=0.5) as g:
        g.passed()
        g.score(0.1)
    assert _gate(cap, "strict")[0].attributes["agentobs.gate.result"] == "fail"


def test_exception_fails_the_gate_and_passes_through(cap: testing.Capture) -> None:
    with pytest.raises(AssertionError, match="bad output"), agentobs.quality_gate("check"):
        raise AssertionError("bad output")
    span, event = _gate(cap, "check")
    assert span.attributes["agentobs.gate.result"] == "fail"
    assert span.attributes["error.type"] == "AssertionError"
    assert event["gen_ai.evaluation.explanation"] == "AssertionError"
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    ("returned", "result"),
    [(True, "pass"), ("ok", "pass"), (1, "pass"), (None, "fail"), (False, "fail"), ([], "fail")],
)
def test_decorator_falsy_return_fails(cap: testing.Capture, returned: Any, result: str) -> None:
    @agentobs.quality_gate("returns")
    def check() -> Any:
        return returned

    assert check() is returned
    span, event = _gate(cap, "returns")
    assert span.attributes["agentobs.gate.result"] == result
    if result == "fail":
        assert event["gen_ai.evaluation.explanation"] == f"returned {returned!r}"


def test_decorator_on_coroutine_and_exception(cap: testing.Capture) -> None:
    @agentobs.quality_gate("async_check")
    async def check(ok: bool) -> bool:
        await asyncio.sleep(0)
        if not ok:
            raise ValueError("nope")
        return True

    assert asyncio.run(check(True)) is True
    with pytest.raises(ValueError, match="nope"):
        asyncio.run(check(False))
    results = [
        s.attributes["agentobs.gate.result"] for s in cap.spans_named("quality_gate async_check")
    ]
    assert results == ["pass", "fail"]
    assert cap.metric_value("agentobs.gate.checks", **{"agentobs.gate.result": "fail"}) == 1
    assert cap.metric_value("agentobs.gate.checks", **{"agentobs.gate.result": "pass"}) == 1


def test_record_gate_for_results_computed_elsewhere(cap: testing.Capture) -> None:
    with agentobs.workflow("ci"), agentobs.stage("eval"):
        agentobs.record_gate("faithfulness", False, score=0.42, reason="hallucinated a citation")
        agentobs.record_gate("toxicity", True)
    stage = cap.span("stage eval")
    span, event = _gate(cap, "faithfulness")
    assert span.parent is not None
    assert span.parent.span_id == stage.context.span_id
    assert event == {
        "gen_ai.evaluation.name": "faithfulness",
        "gen_ai.evaluation.score.label": "fail",
        "gen_ai.evaluation.score.value": 0.42,
        "gen_ai.evaluation.explanation": "hallucinated a citation",
    }
    assert span.attributes["agentobs.gate.result"] == "fail"
    assert _gate(cap, "toxicity")[0].attributes["agentobs.gate.result"] == "pass"
    assert (
        cap.metric_value(
            "agentobs.gate.checks",
            **{"gen_ai.workflow.name": "ci", "agentobs.stage.name": "eval"},
        )
        == 2
    )
    assert cap.metric_value("agentobs.gate.score", **{"agentobs.gate.name": "faithfulness"}) == 1


def test_bad_scores_and_thresholds_are_ignored_with_a_warning(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with agentobs.quality_gate("g", threshold="high") as g:  # type: ignore[arg-type]
        g.score(float("nan"))
        g.score("0.7")  # a numeric string is a number
    span, event = _gate(cap, "g")
    assert "agentobs.gate.threshold" not in span.attributes
    assert event["gen_ai.evaluation.score.value"] == 0.7
    agentobs.record_gate("h", True, score=float("inf"))
    span, event = _gate(cap, "h")
    assert "gen_ai.evaluation.score.value" not in event
    assert "not a finite number" in caplog.text
