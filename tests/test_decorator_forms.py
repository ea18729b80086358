"""Every scope works as a bare decorator, and every other misuse fails at decoration time.

``@agentobs.task`` without parentheses used to make ``task`` take the function as its *name*
and then "decorate" the first argument of every call: the body never ran. Now the bare form
names the scope after the function's qualified name (as Langfuse's ``@observe`` and
Logfire's ``@instrument`` do), on sync, async, generator and async-generator functions and
methods, and a decorator given something it cannot decorate raises ``TypeError`` at once.

The bare form is typed as the scope class by type checkers (its ``__init__`` wins over its
``__new__``), so the decorated functions below are reached through ``Any``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import agentobs
from agentobs import testing

SCOPES: dict[str, Any] = {
    "workflow": (agentobs.workflow, "invoke_workflow {}"),
    "stage": (agentobs.stage, "stage {}"),
    "task": (agentobs.task, "task {}"),
    "agent": (agentobs.agent, "invoke_agent {}"),
    "tool": (agentobs.tool, "execute_tool {}"),
    "persona": (agentobs.persona, "persona {}"),
    "quality_gate": (agentobs.quality_gate, "quality_gate {}"),
}


def _span_names(cap: testing.Capture) -> list[str]:
    return [span.name for span in cap.spans]


@pytest.mark.parametrize("kind", list(SCOPES))
def test_bare_decorator_runs_the_body_and_names_the_span(cap: testing.Capture, kind: str) -> None:
    decorator, span_name = SCOPES[kind]

    def double(x: int) -> int:
        return x * 2

    decorated: Any = decorator(double)
    assert decorated(21) == 42
    assert decorated.__name__ == "double"
    expected = span_name.format("test_bare_decorator_runs_the_body_and_names_the_span.double")
    assert expected in _span_names(cap)


@pytest.mark.parametrize("kind", list(SCOPES))
def test_bare_decorator_on_every_kind_of_callable(cap: testing.Capture, kind: str) -> None:
    decorator: Any = SCOPES[kind][0]

    @decorator
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @decorator
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    @decorator
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    async def drain() -> list[int]:
        return [i async for i in stream(3)]

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(1)) == 2
    assert list(numbers(3)) == [0, 1, 2]
    assert asyncio.run(drain()) == [0, 1, 2]
    assert len(cap.spans) == 3


def test_bare_decorator_on_a_method_is_named_class_dot_method(cap: testing.Capture) -> None:
    tool: Any = agentobs.tool

    class Search:
        @tool
        def run(self, query: str) -> str:
            return query.upper()

    assert Search().run("q") == "Q"
    assert _span_names(cap) == [
        "execute_tool test_bare_decorator_on_a_method_is_named_class_dot_method.Search.run"
    ]


def test_bare_llm_decorator_reads_the_response(cap: testing.Capture) -> None:
    llm: Any = agentobs.llm

    @llm
    def ask() -> dict[str, Any]:
        return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}

    assert ask()["model"] == "gpt-4o-mini"
    (span,) = cap.spans
    assert span.attributes is not None
    assert span.attributes["gen_ai.usage.output_tokens"] == 4


def test_bare_decorator_before_configure_runs_the_body() -> None:
    task: Any = agentobs.task

    @task
    def double(x: int) -> int:
        return x * 2

    assert double(21) == 42


@pytest.mark.parametrize("kind", list(SCOPES))
def test_misuse_fails_at_decoration_time(kind: str) -> None:
    decorator: Any = SCOPES[kind][0]

    def work() -> None:
        pass

    with pytest.raises(TypeError, match="decorates functions; got a int"):
        decorator("named")(42)
    with pytest.raises(TypeError, match="not the class"):

        @decorator
        class Agent:
            pass

    with pytest.raises(TypeError, match="with the name as a string"):
        decorator(work, budget=None)
