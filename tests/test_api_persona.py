"""Personas: carried in context across await, tasks and (with bind_context) threads; stamped
on every nested span, ours and third-party ones; switches counted; time in persona measured.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

import agentobs
from agentobs import _context, testing


@pytest.fixture
def cap() -> Iterator[testing.Capture]:
    with testing.capture() as capture:
        yield capture


def _persona() -> str | None:
    info = _context.current_persona()
    return info.name if info is not None else None


@pytest.mark.parametrize("interop", [False, True])
def test_the_persona_processor_is_added_when_a_persona_is_first_entered(
    clean_env: None, interop: bool
) -> None:
    """The context stamper (persona and session on every span, ours included) is added the
    first time a persona is entered, with or without the interop processor."""
    from agentobs._export import pipeline as _pipeline
    from agentobs._export.processors import ContextSpanProcessor

    with testing.capture(interop=interop):
        pipeline = _pipeline.current()
        assert pipeline is not None
        provider: Any = pipeline.tracer_provider

        def stampers() -> list[Any]:
            processors = provider._active_span_processor._span_processors
            return [p for p in processors if isinstance(p, ContextSpanProcessor)]

        with agentobs.task("before"):
            pass
        assert stampers() == []  # no persona yet: no cost on every span
        for _ in range(2):
            with agentobs.persona("coder"):
                pass
        assert stampers() == [pipeline.persona_processor]


def test_persona_is_stamped_on_every_nested_span_and_metric(cap: testing.Capture) -> None:
    tracer = trace.get_tracer("thirdparty")
    with agentobs.workflow("w"), agentobs.persona("coder", chatmode="edit"):
        with (
            agentobs.stage("s"),
            agentobs.task("t"),
            agentobs.tool("x"),
            tracer.start_as_current_span("db query"),
        ):
            pass
        agentobs.human_intervention("why")
    for name in ("stage s", "task t", "execute_tool x", "db query"):
        span = cap.span(name)
        assert span.attributes["agentobs.persona.name"] == "coder", name
        assert span.attributes["agentobs.persona.chatmode"] == "edit", name
    assert "agentobs.persona.name" not in cap.span("invoke_workflow w").attributes
    for metric in (
        "agentobs.stage.duration",
        "agentobs.task.runs",
        "agentobs.task.duration",
        "gen_ai.execute_tool.duration",
        "agentobs.human_interventions",
        "agentobs.persona.duration",
    ):
        [point] = cap.metric_points(metric)
        assert point.attributes["agentobs.persona.name"] == "coder", metric


def test_nested_persona_span_names_its_own_persona(cap: testing.Capture) -> None:
    with agentobs.persona("outer", chatmode="ask"), agentobs.persona("inner"), agentobs.tool("t"):
        pass
    inner = cap.span("persona inner")
    assert inner.attributes["agentobs.persona.name"] == "inner"
    assert "agentobs.persona.chatmode" not in inner.attributes
    assert inner.attributes["agentobs.persona.from"] == "outer"
    tool = cap.span("execute_tool t")
    assert tool.attributes["agentobs.persona.name"] == "inner"
    assert "agentobs.persona.chatmode" not in tool.attributes


def test_persona_follows_await_and_create_task(cap: testing.Capture) -> None:
    seen: dict[str, Any] = {}

    async def child(label: str) -> None:
        await asyncio.sleep(0)
        seen[label] = _persona()
        with agentobs.tool(label):
            await asyncio.sleep(0)

    async def main() -> None:
        async with agentobs.persona("planner"):
            await child("awaited")
            await asyncio.create_task(child("task"))
            await asyncio.gather(child("gathered"))
            loop = asyncio.get_running_loop()
            seen["executor"] = await loop.run_in_executor(None, agentobs.bind_context(_persona))
        seen["after"] = _persona()

    asyncio.run(main())
    assert seen == {
        "awaited": "planner",
        "task": "planner",
        "gathered": "planner",
        "executor": "planner",
        "after": None,
    }
    for label in ("awaited", "task", "gathered"):
        assert cap.span(f"execute_tool {label}").attributes["agentobs.persona.name"] == "planner"


def test_tasks_keep_their_own_persona(cap: testing.Capture) -> None:
    async def worker(name: str) -> str | None:
        async with agentobs.persona(name):
            for _ in range(3):
                await asyncio.sleep(0)
                assert _persona() == name
            with agentobs.tool(f"tool-{name}"):
                pass
        return _persona()

    async def main() -> list[str | None]:
        return await asyncio.gather(*(worker(f"p{i}") for i in range(10)))

    assert asyncio.run(main()) == [None] * 10
    for i in range(10):
        assert cap.span(f"execute_tool tool-p{i}").attributes["agentobs.persona.name"] == f"p{i}"


def test_threads_need_bind_context(cap: testing.Capture) -> None:
    seen: dict[str, Any] = {}

    def work(label: str) -> None:
        seen[label] = _persona()
        with agentobs.tool(label):
            pass

    with agentobs.workflow("w"), agentobs.persona("coder"):
        bound = threading.Thread(target=agentobs.bind_context(work), args=("bound",))
        plain = threading.Thread(target=work, args=("plain",))
        for t in (bound, plain):
            t.start()
            t.join()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            pool.submit(agentobs.bind_context(work), "pool").result()

    assert seen == {"bound": "coder", "plain": None, "pool": "coder"}
    persona_span = cap.span("persona coder")
    for label in ("bound", "pool"):
        span = cap.span(f"execute_tool {label}")
        assert span.attributes["agentobs.persona.name"] == "coder"
        assert span.parent is not None
        assert span.parent.span_id == persona_span.context.span_id
    plain_span = cap.span("execute_tool plain")
    assert plain_span.parent is None
    assert "agentobs.persona.name" not in plain_span.attributes


def test_bind_context_keeps_the_function_metadata() -> None:
    def target(a: int, b: int = 1) -> int:
        """Doc."""
        return a + b

    bound = agentobs.bind_context(target)
    assert bound(1) == 2
    assert bound.__wrapped__ is target  # type: ignore[attr-defined]
    assert bound.__name__ == "target"
    assert bound.__doc__ == "Doc."


def test_switches_count_from_to_and_chatmode(cap: testing.Capture) -> None:
    with agentobs.workflow("fleet"):
        with agentobs.persona("planner"):
            pass
        with agentobs.persona("coder", chatmode="edit"):
            pass
        with agentobs.persona("coder", chatmode="edit"):  # the same persona again: no switch
            pass
        # nested: a switch from reviewer to coder
        with (
            agentobs.persona("reviewer", chatmode="ask"),
            agentobs.persona("coder", chatmode="edit"),
        ):
            pass
    points = {
        (p.attributes["agentobs.persona.from"], p.attributes["agentobs.persona.to"]): p
        for p in cap.metric_points("agentobs.persona.switches")
    }
    assert set(points) == {("planner", "coder"), ("coder", "reviewer"), ("reviewer", "coder")}
    assert points[("planner", "coder")].value == 1
    assert points[("planner", "coder")].attributes["agentobs.persona.chatmode"] == "edit"
    assert points[("coder", "reviewer")].attributes["agentobs.persona.chatmode"] == "ask"
    assert all(p.attributes["gen_ai.workflow.name"] == "fleet" for p in points.values())
    assert cap.metric_value("agentobs.persona.switches") == 3
    # the first persona of a workflow is not a switch; outside a workflow neither
    with agentobs.persona("solo"):
        pass
    assert cap.metric_value("agentobs.persona.switches") == 3


def test_time_in_persona(cap: testing.Capture) -> None:
    async def main() -> None:
        async with agentobs.workflow("w"), agentobs.persona("thinker", chatmode="plan"):
            await asyncio.sleep(0.05)

    asyncio.run(main())
    [point] = cap.metric_points("agentobs.persona.duration")
    assert dict(point.attributes) == {
        "agentobs.persona.name": "thinker",
        "agentobs.persona.chatmode": "plan",
        "gen_ai.workflow.name": "w",
    }
    assert point.count == 1
    assert point.sum is not None
    assert point.sum >= 0.04
    span = cap.span("persona thinker")
    assert point.sum == pytest.approx((span.end_time - span.start_time) / 1e9, rel=1e-6)


def test_budget_is_accepted_and_stored(cap: testing.Capture) -> None:
    budget = agentobs.TokenBudget(tokens=1000)
    with agentobs.persona("spender", budget=budget):
        info = _context.current_persona()
        assert info is not None
        assert info.budget is budget


def test_a_budget_that_is_not_one_is_ignored_with_a_warning(
    cap: testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with agentobs.persona("spender", budget="lots"), agentobs.tool("t"):
        assert _persona() == "spender"
    assert cap.span("execute_tool t").attributes["agentobs.persona.name"] == "spender"
    assert "budget= takes an agentobs.TokenBudget" in caplog.text
