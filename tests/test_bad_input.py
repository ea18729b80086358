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


def test_many_distinct_model_names_bound_warnings_and_caches(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 distinct unpriced model names: a bounded number of warnings, and no cache of
    ours or of genai-prices grows past its bound (the limit is lowered to keep this fast)."""
    from genai_prices import data_snapshot

    from agentobs._errors import MAX_WARNING_KEYS, _warned
    from agentobs._llm import cost

    monkeypatch.setattr(cost, "CACHE_LIMIT", 500)
    with testing.capture():
        for i in range(2_000):
            with agentobs.llm(provider="local", model=f"fleet-{i}") as call:
                call.record_usage(input_tokens=1, output_tokens=1)
    unpriced = [r for r in caplog.records if "no price is known" in r.getMessage()]
    assert len(unpriced) == cost.UNPRICED_WARNINGS
    assert any("the others are not logged" in r.getMessage() for r in caplog.records)
    assert len(_warned) <= MAX_WARNING_KEYS
    assert len(cost._cache) <= 501
    snapshot = data_snapshot.get_snapshot()
    for name in cost._GENAI_CACHES:
        assert len(getattr(snapshot, name, ())) <= 501, name


def test_distinct_warnings_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    from agentobs._errors import MAX_WARNING_KEYS, _warned, reset_warnings, warn_once

    reset_warnings()
    try:
        for i in range(MAX_WARNING_KEYS + 50):
            warn_once(f"test-bound:{i}", "warning %d", i)
        assert len(_warned) <= MAX_WARNING_KEYS + 1
        assert "further ones are not logged" in caplog.text
        assert len(caplog.records) <= MAX_WARNING_KEYS + 1
    finally:
        reset_warnings()  # later tests expect their warnings to be given
