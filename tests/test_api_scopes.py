"""What each scope records: span names and attributes, metrics and their labels.

Workflows (runs by status, duration, running now, oldest running), stages (duration by
workflow, stage and persona; re-entries), tasks, agents and tools (GenAI names), human
interventions, attributes and events on the current span, and the bounds on metric labels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import agentobs
from agentobs import _catalogue, testing
from agentobs._state import STATE


@pytest.fixture
def cap() -> Iterator[testing.Capture]:
    with testing.capture() as capture:
        yield capture


def _points(cap: testing.Capture, name: str) -> list[dict[str, Any]]:
    return [dict(p.attributes) for p in cap.metric_points(name)]


# --- workflows -------------------------------------------------------------------------------


def test_workflow_span_and_metrics(cap: testing.Capture) -> None:
    with agentobs.workflow("release", run_id="r-42"):
        pass
    with pytest.raises(RuntimeError), agentobs.workflow("release"):
        raise RuntimeError("x")

    [ok, failed] = cap.spans_named("invoke_workflow release")
    assert ok.kind is SpanKind.INTERNAL
    assert ok.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert ok.attributes["gen_ai.workflow.name"] == "release"
    assert ok.attributes["agentobs.span.type"] == "workflow"
    assert ok.attributes["openinference.span.kind"] == "CHAIN"
    assert ok.attributes["run_id"] == "r-42"  # ids go on spans ...
    assert failed.attributes["error.type"] == "RuntimeError"

    runs = {p["agentobs.status"]: p for p in _points(cap, "agentobs.workflow.runs")}
    assert set(runs) == {"ok", "error"}
    assert all("run_id" not in p for p in _points(cap, "agentobs.workflow.runs"))  # ... only
    assert cap.metric_value("agentobs.workflow.runs", **{"gen_ai.workflow.name": "release"}) == 2
    assert cap.metric_value("gen_ai.workflow.duration") == 2
    durations = _points(cap, "gen_ai.workflow.duration")
    assert {p.get("error.type") for p in durations} == {None, "RuntimeError"}
    [point] = [
        p
        for p in cap.metric_points("gen_ai.workflow.duration")
        if not p.attributes.get("error.type")
    ]
    assert point.unit == "s"
    assert point.explicit_bounds == _catalogue.WORKFLOW_BUCKETS
    assert point.sum == pytest.approx(
        (ok.end_time - ok.start_time) / 1e9, rel=1e-6
    )  # equals the span's duration
    assert cap.metric_value("agentobs.workflow.active", **{"gen_ai.workflow.name": "release"}) == 0


def test_workflow_active_after_many_names_under_an_earlier_configuration() -> None:
    """The names kept at 0 are bounded; names of an earlier configuration make room for the
    current one's (a long test session, or an application that reconfigures)."""
    with testing.capture():
        for i in range(1100):  # more distinct names than are kept
            with agentobs.workflow(f"flow-{i}"):
                pass
    with testing.capture() as cap:
        with agentobs.workflow("release"):
            assert (
                cap.metric_value("agentobs.workflow.active", **{"gen_ai.workflow.name": "release"})
                == 1
            )
        assert (
            cap.metric_value("agentobs.workflow.active", **{"gen_ai.workflow.name": "release"}) == 0
        )
        assert cap.metric_points("agentobs.workflow.active")


def test_running_workflows_and_oldest_age(cap: testing.Capture) -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def run(name: str) -> None:
            async with agentobs.workflow(name):
                await gate.wait()

        tasks = [asyncio.create_task(run(n)) for n in ("a", "a", "b")]
        await asyncio.sleep(0.05)
        assert cap.metric_value("agentobs.workflow.active", **{"gen_ai.workflow.name": "a"}) == 2
        assert cap.metric_value("agentobs.workflow.active", **{"gen_ai.workflow.name": "b"}) == 1
        ages = {
            p.attributes["gen_ai.workflow.name"]: p.value
            for p in cap.metric_points("agentobs.workflow.oldest_age")
        }
        assert set(ages) == {"a", "b"}
        assert all(age is not None and age >= 0.04 for age in ages.values())
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert cap.metric_value("agentobs.workflow.active") == 0
    assert cap.metric_points("agentobs.workflow.oldest_age") == []


# --- stages ----------------------------------------------------------------------------------


def test_stage_attributes_duration_labels_and_reentries(cap: testing.Capture) -> None:
    with agentobs.workflow("flow"), agentobs.persona("coder"):
        for _ in range(3):
            with agentobs.stage("implement"):
                pass
        with agentobs.stage("review"):
            pass
    with agentobs.workflow("flow"), agentobs.stage("implement"):  # a new run: no re-entry
        pass
    with agentobs.stage("loose"):  # outside any workflow
        pass

    implement = cap.spans_named("stage implement")
    assert len(implement) == 4
    assert [s.attributes.get("agentobs.stage.entry") for s in implement] == [None, 2, 3, None]
    first = implement[0]
    assert first.attributes["agentobs.stage.name"] == "implement"
    assert first.attributes["agentobs.span.type"] == "stage"
    assert first.attributes["gen_ai.workflow.name"] == "flow"
    assert first.attributes["agentobs.persona.name"] == "coder"

    assert (
        cap.metric_value(
            "agentobs.stage.reentries",
            **{
                "gen_ai.workflow.name": "flow",
                "agentobs.stage.name": "implement",
                "agentobs.persona.name": "coder",
            },
        )
        == 2
    )
    assert cap.metric_value("agentobs.stage.reentries") == 2
    assert (
        cap.metric_value(
            "agentobs.stage.duration",
            **{
                "gen_ai.workflow.name": "flow",
                "agentobs.stage.name": "implement",
                "agentobs.persona.name": "coder",
            },
        )
        == 3
    )
    [loose] = [
        p for p in _points(cap, "agentobs.stage.duration") if p["agentobs.stage.name"] == "loose"
    ]
    assert loose == {"agentobs.stage.name": "loose"}


# --- tasks, agents, tools --------------------------------------------------------------------


def test_task_span_is_lightweight_and_its_metrics_carry_the_labels(cap: testing.Capture) -> None:
    @agentobs.task("summarise", agent="writer", task_type="llm", ticket="T-1")
    def summarise() -> str:
        return "ok"

    @agentobs.task("bare")
    def bare() -> None:
        pass

    summarise()
    bare()
    with agentobs.agent("planner"), agentobs.task("delegated"):
        pass

    span = cap.span("task summarise")
    assert dict(span.attributes) == {
        "ticket": "T-1",
        "agentobs.task.type": "llm",
        "gen_ai.agent.name": "writer",
    }
    assert dict(cap.span("task bare").attributes) == {}  # the name says it all
    runs = _points(cap, "agentobs.task.runs")
    assert {
        "gen_ai.agent.name": "writer",
        "agentobs.task.type": "llm",
        "agentobs.status": "ok",
    } in runs
    assert {"agentobs.status": "ok"} in runs
    # a task without an agent of its own is labelled with the agent it runs in
    assert {"gen_ai.agent.name": "planner", "agentobs.status": "ok"} in runs
    assert cap.metric_value("agentobs.task.duration") == 3
    assert all("ticket" not in p for p in runs)


def test_agent_and_tool_follow_the_genai_conventions(cap: testing.Capture) -> None:
    @agentobs.tool("web_search", tool_type="extension", query_id="q-9")
    def search(q: str) -> list[str]:
        return [q]

    with agentobs.agent("researcher", provider="openai"):
        search("otel")
    with pytest.raises(TimeoutError), agentobs.tool("fetch"):
        raise TimeoutError

    agent = cap.span("invoke_agent researcher")
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "researcher"
    assert agent.attributes["gen_ai.provider.name"] == "openai"
    assert "openinference.span.kind" not in agent.attributes  # Phoenix derives AGENT
    tool = cap.span("execute_tool web_search")
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "web_search"
    assert tool.attributes["gen_ai.tool.type"] == "extension"
    assert tool.attributes["query_id"] == "q-9"
    assert "openinference.span.kind" not in tool.attributes  # Phoenix derives TOOL

    assert _points(cap, "gen_ai.invoke_agent.duration") == [{"gen_ai.agent.name": "researcher"}]
    tools = _points(cap, "gen_ai.execute_tool.duration")
    assert {
        "gen_ai.tool.name": "web_search",
        "gen_ai.tool.type": "extension",
        "gen_ai.agent.name": "researcher",
    } in tools
    assert {
        "gen_ai.tool.name": "fetch",
        "gen_ai.tool.type": "function",
        "error.type": "TimeoutError",
    } in tools
    [point] = [
        p
        for p in cap.metric_points("gen_ai.execute_tool.duration")
        if p.attributes["gen_ai.tool.name"] == "fetch"
    ]
    assert point.explicit_bounds == _catalogue.DURATION_BUCKETS


# --- human interventions, attributes, events -------------------------------------------------


def test_human_intervention_counts_and_adds_an_event(cap: testing.Capture) -> None:
    with agentobs.workflow("deploy"), agentobs.persona("ops"), agentobs.stage("approve"):
        agentobs.human_intervention("approve-deploy", approver="sam")
    agentobs.human_intervention("outside")

    stage = cap.span("stage approve")
    [event] = [e for e in stage.events if e.name == "agentobs.human_intervention"]
    assert dict(event.attributes or {}) == {
        "approver": "sam",
        "agentobs.intervention.reason": "approve-deploy",
    }
    points = _points(cap, "agentobs.human_interventions")
    assert {
        "agentobs.intervention.reason": "approve-deploy",
        "gen_ai.workflow.name": "deploy",
        "agentobs.stage.name": "approve",
        "agentobs.persona.name": "ops",
    } in points
    assert {"agentobs.intervention.reason": "outside"} in points
    assert all("approver" not in p for p in points)


def test_set_attributes_and_event_on_the_current_span(cap: testing.Capture) -> None:
    @agentobs.tool("t")
    def t() -> None:
        agentobs.set_attributes(rows=3, source="db", skipped=None)
        agentobs.event("cache_miss", key="k")

    t()
    span = cap.span("execute_tool t")
    assert span.attributes["rows"] == 3
    assert span.attributes["source"] == "db"
    assert "skipped" not in span.attributes
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("cache_miss", {"key": "k"})
    ]
    # with no span current they do nothing, and say nothing
    agentobs.set_attributes(a=1)
    agentobs.event("e")
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_third_party_spans_inside_scopes_are_children(cap: testing.Capture) -> None:
    tracer = trace.get_tracer("thirdparty")
    with agentobs.stage("s"), tracer.start_as_current_span("http GET"):
        pass
    http = cap.span("http GET")
    assert http.parent is not None
    assert http.parent.span_id == cap.span("stage s").context.span_id


# --- metric attributes are bounded -----------------------------------------------------------


def test_unknown_metric_attribute_is_dropped_with_one_warning(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = STATE.recorders["agentobs.task.runs"]  # type: ignore[index]
    with caplog.at_level(logging.WARNING, logger="agentobs"):
        for i in range(5):
            recorder.record(1, {"agentobs.status": "ok", "session.id": f"s{i}"})
    assert _points(cap, "agentobs.task.runs") == [{"agentobs.status": "ok"}]
    assert cap.metric_value("agentobs.task.runs") == 5
    warnings = [r for r in caplog.records if "does not accept attribute" in r.getMessage()]
    assert len(warnings) == 1
    assert "session.id" in warnings[0].getMessage()


def test_too_many_distinct_values_fold_into_other_with_one_warning(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    limit = _catalogue.VALUE_LIMIT
    with caplog.at_level(logging.WARNING, logger="agentobs"):
        for i in range(limit + 50):
            agentobs.human_intervention(f"reason-{i}")
    reasons = {
        p["agentobs.intervention.reason"] for p in _points(cap, "agentobs.human_interventions")
    }
    assert len(reasons) == limit + 1
    assert "_other" in reasons
    assert (
        cap.metric_value(
            "agentobs.human_interventions", **{"agentobs.intervention.reason": "_other"}
        )
        == 50
    )
    assert cap.metric_value("agentobs.human_interventions") == limit + 50
    overflow = [r for r in caplog.records if "distinct values" in r.getMessage()]
    assert len(overflow) == 1
    # only the metric label is folded: the event on the span keeps the real reason
    with agentobs.stage("s"):
        agentobs.human_intervention(f"reason-{limit + 49}")
    [event] = cap.span("stage s").events
    assert event.attributes is not None
    assert event.attributes["agentobs.intervention.reason"] == f"reason-{limit + 49}"


def test_overflow_values_are_per_scope_cached_consistently(cap: testing.Capture) -> None:
    limit = _catalogue.VALUE_LIMIT
    for i in range(limit + 5):
        with agentobs.stage(f"s{i}"):
            pass
    for i in range(limit + 5):  # the same names again: same labels as the first time
        with agentobs.stage(f"s{i}"):
            pass
    names = {p["agentobs.stage.name"] for p in _points(cap, "agentobs.stage.duration")}
    assert len(names) == limit + 1
    assert cap.metric_value("agentobs.stage.duration", **{"agentobs.stage.name": "_other"}) == 10
    assert cap.metric_value("agentobs.stage.duration") == 2 * (limit + 5)


@pytest.mark.parametrize("id_key", ["trace_id", "session.id", "user.id", "task.id", "test.id"])
def test_ids_are_never_metric_labels(cap: testing.Capture, id_key: str) -> None:
    attrs = {id_key: "abc-123"}
    with (
        agentobs.workflow("w", **attrs),
        agentobs.persona("p", **attrs),
        agentobs.stage("s", **attrs),
    ):
        with agentobs.task("t", **attrs), agentobs.agent("a", **attrs), agentobs.tool("x", **attrs):
            agentobs.human_intervention("r", **attrs)
        with agentobs.quality_gate("g", **attrs) as gate:
            gate.score(1.0)
    assert all(s.attributes.get(id_key) == "abc-123" for s in cap.spans)
    for point in cap.metric_points():
        assert id_key not in point.attributes, point.name
        assert "abc-123" not in point.attributes.values(), point.name


def test_metric_cache_follows_reconfiguration() -> None:
    scope = agentobs.task("again")
    with testing.capture() as first:
        with scope:
            pass
        assert first.metric_value("agentobs.task.runs") == 1
    with testing.capture() as second:
        with scope:
            pass
        with scope:
            pass
        assert second.metric_value("agentobs.task.runs") == 2
