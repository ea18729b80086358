"""Suspend and resume: the suspension span and metrics, waiting versus working in the
oldest-age gauge, checkpoint tokens (JSON, signed), resuming in the same trace or a linked
one, and malformed, tampered, wrongly signed and expired tokens (one warning, a fresh linked
run, never an exception)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

import agentobs
from agentobs import testing

SECRET = "s3cret-key-of-the-fleet"


def _point_values(cap: testing.Capture, name: str) -> list[tuple[dict[str, Any], float]]:
    return [
        (dict(p.attributes), p.value if p.value is not None else float(p.count or 0))
        for p in cap.metric_points(name)
    ]


def _checkpointed(**kwargs: Any) -> dict[str, Any]:
    """A token taken inside workflow release / persona reviewer / stage review / a session."""
    with (
        agentobs.session("conv-1", user_id="u-1"),
        agentobs.workflow("release", **kwargs),
        agentobs.persona("reviewer", chatmode="strict"),
        agentobs.stage("review"),
        agentobs.suspended("awaiting-review"),
    ):
        return agentobs.checkpoint()


def test_suspension_in_one_process_is_waiting_not_working(cap: testing.Capture) -> None:
    with agentobs.workflow("release"), agentobs.stage("review"):
        states = {
            p["agentobs.workflow.state"]
            for p, _ in _point_values(cap, "agentobs.workflow.oldest_age")
        }
        assert states == {"working"}
        with agentobs.suspended("awaiting-review"):
            time.sleep(0.05)
            [(attributes, age)] = _point_values(cap, "agentobs.workflow.oldest_age")
            assert attributes == {
                "gen_ai.workflow.name": "release",
                "agentobs.workflow.state": "waiting",
            }
            assert age >= 0.05
            assert _point_values(cap, "agentobs.workflow.suspended") == [
                (
                    {
                        "gen_ai.workflow.name": "release",
                        "agentobs.suspension.point": "awaiting-review",
                    },
                    1,
                )
            ]
        assert _point_values(cap, "agentobs.workflow.suspended") == []

    span = cap.span("suspended awaiting-review")
    assert span.parent is not None
    assert span.parent.span_id == cap.span("stage review").context.span_id
    assert span.attributes["agentobs.suspension.seconds"] >= 0.05
    [(attributes, count)] = _point_values(cap, "agentobs.suspension.duration")
    assert attributes == {
        "gen_ai.workflow.name": "release",
        "agentobs.stage.name": "review",
        "agentobs.suspension.point": "awaiting-review",
    }
    assert count == 1
    [point] = cap.metric_points("agentobs.suspension.duration")
    assert point.sum == pytest.approx(span.attributes["agentobs.suspension.seconds"])


def test_checkpoint_is_json_and_resume_joins_the_trace(cap: testing.Capture) -> None:
    token = _checkpointed()
    text = json.dumps(token)  # JSON-serialisable, as it is stored
    assert token["traceparent"].startswith("00-")
    assert token["workflow"] == "release"
    assert token["stage"] == "review"
    assert token["persona"] == "reviewer"
    assert token["point"] == "awaiting-review"
    assert token["sig"].startswith("sha256:")  # no secret configured: a checksum
    assert len(text) < 1024

    time.sleep(0.05)
    with agentobs.resume(text), agentobs.task("merge"):
        pass

    suspended = cap.span("suspended awaiting-review")
    assert suspended.attributes["agentobs.suspension.checkpointed"] is True
    resumed = cap.span("resume_workflow release")
    assert resumed.context.trace_id == suspended.context.trace_id  # one trace
    assert resumed.parent is not None
    assert resumed.parent.span_id == suspended.context.span_id
    assert resumed.attributes["agentobs.resume.result"] == "ok"
    assert resumed.attributes["agentobs.resume.mode"] == "join"
    assert resumed.attributes["agentobs.suspension.seconds"] >= 0.05
    merge = cap.span("task merge").attributes
    assert merge["agentobs.persona.name"] == "reviewer"  # persona restored
    assert merge["agentobs.persona.chatmode"] == "strict"
    assert merge["session.id"] == "conv-1"  # session restored
    assert merge["user.id"] == "u-1"

    runs = {p["agentobs.status"]: v for p, v in _point_values(cap, "agentobs.workflow.runs")}
    assert runs == {"suspended": 1, "ok": 1}  # the first process's part, then the whole run
    [duration] = cap.metric_points("gen_ai.workflow.duration")
    assert duration.count == 1
    workflow_span = cap.span("invoke_workflow release")
    assert duration.sum >= (resumed.end_time - workflow_span.start_time) / 1e9 - 0.01
    [(attributes, count)] = _point_values(cap, "agentobs.suspension.duration")
    assert count == 1
    assert attributes["agentobs.suspension.point"] == "awaiting-review"
    assert attributes["agentobs.stage.name"] == "review"
    assert attributes["agentobs.persona.name"] == "reviewer"
    resumes = _point_values(cap, "agentobs.workflow.resumes")
    assert [(p["agentobs.resume.result"], v) for p, v in resumes] == [("ok", 1)]
    checkpoints = _point_values(cap, "agentobs.workflow.checkpoints")
    assert checkpoints == [
        ({"gen_ai.workflow.name": "release", "agentobs.suspension.point": "awaiting-review"}, 1)
    ]


def test_an_intervention_before_the_checkpoint_counts_for_the_resumed_run(
    cap: testing.Capture,
) -> None:
    with agentobs.workflow("release"), agentobs.suspended("awaiting-review"):
        agentobs.human_intervention("approved by hand")
        token = agentobs.checkpoint()
    assert token["interventions"] == 1
    with agentobs.resume(token):
        pass
    resumed = cap.span("resume_workflow release")
    assert resumed.attributes["agentobs.workflow.human_intervened"] is True
    runs = {
        (p["agentobs.status"], p["agentobs.workflow.human_intervened"]): v
        for p, v in _point_values(cap, "agentobs.workflow.runs")
    }
    assert runs == {("suspended", "true"): 1, ("ok", "true"): 1}


def test_resume_links_instead_when_configured() -> None:
    with testing.capture(resume_trace="link") as cap:
        token = _checkpointed()
        with agentobs.resume(token):
            pass
        with agentobs.resume(token, trace="join"):  # per call
            pass
    suspended = cap.span("suspended awaiting-review")
    linked, joined = cap.spans_named("resume_workflow release")
    assert linked.context.trace_id != suspended.context.trace_id
    assert linked.parent is None
    [link] = linked.links
    assert link.context.span_id == suspended.context.span_id
    assert link.attributes == {"agentobs.link.type": "resume"}
    assert linked.attributes["agentobs.resume.mode"] == "link"
    assert joined.context.trace_id == suspended.context.trace_id


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="agentobs")
    return caplog


def _resume_twice(token: Any) -> None:
    for _ in range(2):
        with agentobs.resume(token), agentobs.task("after"):
            pass


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda t: "{not json", "not JSON"),
        (lambda t: 42, "not a checkpoint token"),
        (lambda t: {**t, "v": 99}, "not a checkpoint token"),
        (lambda t: {**t, "stage": ["a", "list"]}, "wrong type"),
        (lambda t: {k: v for k, v in t.items() if k != "sig"}, "no signature"),
    ],
)
def test_malformed_tokens_give_one_warning_and_a_fresh_run(
    cap: testing.Capture, warnings: pytest.LogCaptureFixture, spoil: Any, problem: str
) -> None:
    token = _checkpointed()
    _resume_twice(spoil(token))
    messages = [r.getMessage() for r in warnings.records if "checkpoint token" in r.getMessage()]
    assert len(messages) == 1, messages
    assert "malformed" in messages[0]
    assert problem in messages[0]
    fresh = [s for s in cap.spans if s.name.startswith("resume_workflow")]
    assert len(fresh) == 2
    assert all(s.attributes["agentobs.resume.result"] == "malformed" for s in fresh)
    assert all(s.attributes["agentobs.resume.mode"] == "fresh" for s in fresh)
    assert all("agentobs.persona.name" not in s.attributes for s in cap.spans_named("task after"))
    results = {
        p["agentobs.resume.result"]: v for p, v in _point_values(cap, "agentobs.workflow.resumes")
    }
    assert results == {"malformed": 2}


def test_tampered_token_is_a_fresh_run_linked_to_the_original(
    cap: testing.Capture, warnings: pytest.LogCaptureFixture
) -> None:
    token = _checkpointed()
    _resume_twice({**token, "persona": "admin"})
    [message] = [r.getMessage() for r in warnings.records if "checkpoint token" in r.getMessage()]
    assert "tampered" in message
    suspended = cap.span("suspended awaiting-review")
    for span in cap.spans_named("resume_workflow release"):
        assert span.context.trace_id != suspended.context.trace_id
        [link] = span.links
        assert link.context.span_id == suspended.context.span_id
        assert span.attributes["agentobs.resume.result"] == "tampered"
    for span in cap.spans_named("task after"):
        assert "agentobs.persona.name" not in span.attributes  # nothing restored from it
    assert not cap.metric_points("agentobs.suspension.duration")


def test_tokens_are_signed_with_the_secret(warnings: pytest.LogCaptureFixture) -> None:
    with testing.capture(resume_secret=SECRET) as cap:
        token = _checkpointed()
        assert token["sig"].startswith("hmac-sha256:")
        with agentobs.resume(token):
            pass
        unsigned = {k: v for k, v in token.items() if k != "sig"}
        from agentobs._resume import _signature

        forged = {**unsigned, "sig": _signature(unsigned, None)}  # a checksum, no key
        with agentobs.resume(forged):
            pass
        other_key = {**unsigned, "sig": _signature(unsigned, "another-key-0123456789")}
        with agentobs.resume(other_key):
            pass
        results = [
            s.attributes["agentobs.resume.result"]
            for s in cap.spans_named("resume_workflow release")
        ]
    assert results == ["ok", "tampered", "tampered"]
    text = warnings.text
    assert "not signed with the configured resume_secret" in text


def test_expired_token(warnings: pytest.LogCaptureFixture) -> None:
    with testing.capture(resume_max_age=0.1) as cap:
        token = _checkpointed()
        time.sleep(0.15)
        with agentobs.resume(token):
            pass
        [span] = cap.spans_named("resume_workflow release")
        assert span.attributes["agentobs.resume.result"] == "expired"
        assert len(span.links) == 1
    assert "expired checkpoint token" in warnings.text
    assert "past resume_max_age=0.1" in warnings.text


def test_resume_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="resume_secret"):
        agentobs.configure(resume_secret="short", exporter="none")
    with pytest.raises(ValueError, match="resume_trace"):
        agentobs.configure(resume_trace="merge", exporter="none")
    with pytest.raises(ValueError, match="resume_max_age"):
        agentobs.configure(resume_max_age=0, exporter="none")


def test_checkpoint_and_resume_before_configure_are_harmless() -> None:
    testing.reset()
    token = agentobs.checkpoint()
    assert json.loads(json.dumps(token))["v"] == 1
    with agentobs.resume(token), agentobs.suspended("x"):
        pass
