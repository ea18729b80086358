"""Bad input to gates, usage and scopes: warned about once, and never turned into a pass,
a silent drop or a false error."""

from __future__ import annotations

import math
import sys

import pytest

import agentobs
from agentobs import testing


@pytest.mark.parametrize("score", ["high", math.nan, math.inf, [0.9]], ids=repr)
def test_a_gate_with_an_unreadable_score_fails(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture, score: object
) -> None:
    with agentobs.quality_gate("faithfulness", threshold=0.7) as gate:
        gate.score(score)
    (span,) = cap.spans_named("quality_gate faithfulness")
    assert span.attributes is not None
    assert span.attributes["agentobs.gate.result"] == "fail"
    assert "invalid score" in str(span.attributes["agentobs.gate.reason"])
    assert "not a finite number" in caplog.text
    assert cap.metric_value("agentobs.gate.checks", **{"agentobs.gate.result": "fail"}) == 1


def test_a_gate_without_threshold_and_an_unreadable_score_fails(cap: testing.Capture) -> None:
    with agentobs.quality_gate("tone") as gate:
        gate.score("high")
    (span,) = cap.spans_named("quality_gate tone")
    assert span.attributes is not None
    assert span.attributes["agentobs.gate.result"] == "fail"


def test_bad_token_counts_warn_for_each_field_and_keep_the_rest(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o-mini") as call:
        call.record_usage(input_tokens=3, output_tokens="5")  # type: ignore[arg-type]
    with agentobs.llm(provider="openai", model="gpt-4o-mini") as call:
        call.record_usage(input_tokens=-1, output_tokens=math.nan)  # type: ignore[arg-type]
    assert "record_usage(output_tokens='5')" in caplog.text
    assert "record_usage(input_tokens=-1)" in caplog.text
    assert "record_usage(output_tokens=nan)" in caplog.text
    assert "internal error" not in caplog.text
    first, _second = cap.spans
    assert first.attributes is not None
    assert first.attributes["gen_ai.usage.input_tokens"] == 3


@pytest.mark.parametrize("code", [0, None])
def test_system_exit_zero_is_not_an_error(cap: testing.Capture, code: int | None) -> None:
    with pytest.raises(SystemExit), agentobs.workflow("cli"):
        sys.exit(code)
    (span,) = cap.spans_named("invoke_workflow cli")
    assert span.status.is_ok or span.status.status_code.name == "UNSET"
    assert cap.metric_value("agentobs.workflow.runs", **{"agentobs.status": "ok"}) == 1


def test_system_exit_with_a_failure_code_is_an_error(cap: testing.Capture) -> None:
    with pytest.raises(SystemExit), agentobs.workflow("cli"):
        sys.exit(2)
    (span,) = cap.spans_named("invoke_workflow cli")
    assert span.status.status_code.name == "ERROR"
