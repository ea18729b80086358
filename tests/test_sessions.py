"""Sessions (ids on every span inside, never on metrics), delegation between agents (nested
scopes and hand-offs) and autonomy (whether a human intervened in a workflow run)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry import trace

import agentobs
from agentobs import testing

IDS = {"session.id", "user.id", "langfuse.session.id", "langfuse.user.id"}


def _every_metric_attribute(cap: testing.Capture) -> list[dict[str, Any]]:
    return [dict(p.attributes) for p in cap.metric_points()]


def test_session_ids_on_every_span_inside_and_never_on_metrics(cap: testing.Capture) -> None:
    third_party = trace.get_tracer("some.library")
    began = time.perf_counter()
    with agentobs.session("conv-8f3a", user_id="user-77", kind="chat", channel="web"):
        assert cap.metric_value("agentobs.session.active", **{"agentobs.session.kind": "chat"}) == 1
        with agentobs.workflow("support"), agentobs.task("answer", agent="helper"):
            with third_party.start_as_current_span("http GET"):
                pass
            agentobs.human_intervention("approve")
        with agentobs.workflow("follow-up"):
            pass
    elapsed = time.perf_counter() - began
    with agentobs.workflow("outside"):
        pass

    inside = ["invoke_workflow support", "task answer", "http GET", "invoke_workflow follow-up"]
    for name in inside:
        attributes = cap.span(name).attributes
        assert attributes["session.id"] == "conv-8f3a", name
        assert attributes["user.id"] == "user-77", name
        assert attributes["langfuse.session.id"] == "conv-8f3a", name  # Langfuse's mapping
        assert attributes["langfuse.user.id"] == "user-77", name
        assert attributes["channel"] == "web", name
    assert not IDS & set(cap.span("invoke_workflow outside").attributes)
    # no span of its own: each workflow keeps its own trace, grouped by session.id
    assert not [s for s in cap.spans if s.name.startswith("session")]
    assert cap.span("invoke_workflow support").parent is None
    assert cap.span("invoke_workflow follow-up").parent is None
    support, follow_up = cap.span("invoke_workflow support"), cap.span("invoke_workflow follow-up")
    assert support.context.trace_id != follow_up.context.trace_id

    metric_attributes = _every_metric_attribute(cap)
    assert metric_attributes, "metrics were recorded"
    for attributes in metric_attributes:
        assert not {k.replace(".", "_") for k in IDS} & set(attributes)
        assert not IDS & set(attributes)
        assert "conv-8f3a" not in attributes.values()
        assert "user-77" not in attributes.values()

    [duration] = cap.metric_points("agentobs.session.duration")
    assert duration.attributes == {"agentobs.session.kind": "chat", "agentobs.status": "ok"}
    assert duration.count == 1
    assert duration.sum is not None
    assert 0 < duration.sum <= elapsed
    assert cap.metric_value("agentobs.session.active") == 0  # nothing live any more


def test_session_outcomes_decorator_and_async(cap: testing.Capture) -> None:
    @agentobs.session("job-1", kind="batch")
    def job(fail: bool) -> str:
        if fail:
            raise ValueError("bad input")
        return "done"

    assert job(False) == "done"
    with pytest.raises(ValueError, match="bad input"):
        job(True)

    async def main() -> None:
        async with agentobs.session("conv-2"):
            with agentobs.task("reply"):
                await asyncio.sleep(0)

    asyncio.run(main())
    assert cap.span("task reply").attributes["session.id"] == "conv-2"
    assert "user.id" not in cap.span("task reply").attributes
    outcomes = {
        (p.attributes.get("agentobs.session.kind"), p.attributes["agentobs.status"]): p.count
        for p in cap.metric_points("agentobs.session.duration")
    }
    assert outcomes == {("batch", "ok"): 1, ("batch", "error"): 1, (None, "ok"): 1}


def test_session_bad_ids_warn_and_never_raise(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with agentobs.session(None, user_id=12345), agentobs.task("t"):
        pass
    attributes = cap.span("task t").attributes
    assert attributes["session.id"] == "unknown"
    assert attributes["user.id"] == "12345"
    assert "session id name is empty" in caplog.text


def _delegations(cap: testing.Capture) -> dict[tuple[str, str, str, str], float]:
    return {
        (
            p.attributes.get("agentobs.delegation.from", ""),
            p.attributes["agentobs.delegation.to"],
            p.attributes["agentobs.delegation.kind"],
            p.attributes["agentobs.status"],
        ): p.value or 0.0
        for p in cap.metric_points("agentobs.delegations")
    }


def test_nested_agents_count_delegations_and_link_spans(cap: testing.Capture) -> None:
    with agentobs.agent("planner"):
        for _ in range(2):
            with agentobs.agent("coder"):
                pass
        with pytest.raises(RuntimeError), agentobs.agent("reviewer"):
            raise RuntimeError("review crashed")
        with agentobs.tool("search"), agentobs.agent("researcher"):  # through a tool
            pass
    with agentobs.agent("solo"):
        pass

    assert _delegations(cap) == {
        ("planner", "coder", "nested", "ok"): 2,
        ("planner", "reviewer", "nested", "error"): 1,
        ("planner", "researcher", "nested", "ok"): 1,
    }
    planner = cap.span("invoke_agent planner")
    for coder in cap.spans_named("invoke_agent coder"):
        [link] = coder.links
        assert link.context.span_id == planner.context.span_id
        assert link.attributes == {"agentobs.link.type": "delegation"}
        assert coder.attributes["agentobs.delegation.from"] == "planner"
    assert not cap.span("invoke_agent solo").links
    assert not cap.span("invoke_agent planner").links


def test_handoff_counts_and_the_next_agent_links_to_it(cap: testing.Capture) -> None:
    with agentobs.agent("triage"):
        agentobs.handoff("billing", reason="invoice question")
    with agentobs.agent("billing"):  # not nested: the framework ran it after triage
        pass
    with agentobs.agent("billing"):  # a later run, not from that hand-off
        pass
    agentobs.handoff("nobody")  # outside any agent: counted from no agent, never raises

    assert _delegations(cap)[("triage", "billing", "handoff", "ok")] == 1
    triage = cap.span("invoke_agent triage")
    [event] = [e for e in triage.events if e.name == "agentobs.handoff"]
    assert event.attributes == {
        "agentobs.delegation.to": "billing",
        "agentobs.delegation.from": "triage",
        "agentobs.handoff.reason": "invoice question",
    }
    first, second = cap.spans_named("invoke_agent billing")
    [link] = first.links
    assert link.context.span_id == triage.context.span_id
    assert link.attributes == {"agentobs.link.type": "handoff"}
    assert first.attributes["agentobs.delegation.from"] == "triage"
    assert not second.links
    points = cap.metric_points("agentobs.delegations")
    assert any(p.attributes.get("agentobs.delegation.to") == "nobody" for p in points)


def test_workflow_runs_say_whether_a_human_intervened(cap: testing.Capture) -> None:
    for index in range(4):
        with agentobs.workflow("triage"), agentobs.stage("decide"):
            if index == 0:
                agentobs.human_intervention("wrong label")
                agentobs.human_intervention("again")
    with pytest.raises(KeyError), agentobs.workflow("triage"):
        raise KeyError("x")

    runs = {
        (p.attributes["agentobs.status"], p.attributes["agentobs.workflow.human_intervened"]): (
            p.value
        )
        for p in cap.metric_points("agentobs.workflow.runs")
    }
    assert runs == {("ok", "true"): 1, ("ok", "false"): 3, ("error", "false"): 1}
    flags = [
        s.attributes["agentobs.workflow.human_intervened"]
        for s in cap.spans_named("invoke_workflow triage")
    ]
    assert flags == [True, False, False, False, False]
