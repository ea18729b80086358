"""1,000 asyncio tasks and 8 threads, all at once, each running nested workflows
(workflow -> persona -> stage -> tool, plus a task): every parent link is right and every
metric count is exact.

The scope objects are shared (module-level decorators and one ``with`` scope object entered by
every task), the way real code shares them, so per-run state must never leak between runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import agentobs
from agentobs import testing

TASKS = 1_000
THREADS = 8
RUNS_PER_THREAD = 40
PERSONAS = ("planner", "coder", "reviewer")

shared_stage = agentobs.stage("work")  # one object, entered by every run


@agentobs.tool("lookup")
async def lookup(run: str) -> str:
    await asyncio.sleep(0)
    agentobs.set_attributes(run=run)
    return run


@agentobs.tool("lookup")
def lookup_sync(run: str) -> str:
    agentobs.set_attributes(run=run)
    return run


@agentobs.task("step", task_type="concurrency")
async def step(run: str) -> None:
    await asyncio.sleep(0)
    agentobs.set_attributes(run=run)


async def async_run(i: int) -> str:
    run = f"a{i}"
    persona = PERSONAS[i % len(PERSONAS)]
    async with agentobs.workflow("fleet", run=run):
        await asyncio.sleep(0)
        async with agentobs.persona(persona), shared_stage as stage:
            stage.set_attributes(run=run)
            await asyncio.sleep(0)
            assert await lookup(run) == run
            await step(run)
    return run


def thread_run(t: int, i: int) -> str:
    run = f"t{t}-{i}"
    persona = PERSONAS[(t + i) % len(PERSONAS)]
    with agentobs.workflow("fleet", run=run), agentobs.persona(persona), shared_stage as stage:
        stage.set_attributes(run=run)
        assert lookup_sync(run) == run
    return run


@pytest.fixture
def cap() -> Iterator[testing.Capture]:
    with testing.capture() as capture:
        yield capture


def test_thousand_tasks_and_eight_threads(cap: testing.Capture) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def thread_main(t: int) -> None:
        try:
            start.wait(30)
            for i in range(RUNS_PER_THREAD):
                thread_run(t, i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread_main, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()

    async def main() -> list[str]:
        start.wait(30)
        return await asyncio.gather(*(async_run(i) for i in range(TASKS)))

    assert len(asyncio.run(main())) == TASKS
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    thread_runs = THREADS * RUNS_PER_THREAD
    total = TASKS + thread_runs
    spans = cap.spans
    by_id = {s.context.span_id: s for s in spans}
    kinds = Counter(s.name for s in spans)
    assert kinds == {
        "invoke_workflow fleet": total,
        **{f"persona {p}": n for p, n in _expected_personas().items()},
        "stage work": total,
        "execute_tool lookup": total,
        "task step": TASKS,
    }

    def parent(span: Any) -> Any:
        assert span.parent is not None, span.name
        found = by_id[span.parent.span_id]
        assert found.context.trace_id == span.context.trace_id
        return found

    workflows = {s.attributes["run"]: s for s in spans if s.name == "invoke_workflow fleet"}
    assert len(workflows) == total
    for span in spans:
        if span.name not in ("execute_tool lookup", "task step"):
            continue
        run = span.attributes["run"]
        stage = parent(span)
        assert stage.name == "stage work"
        assert stage.attributes["run"] == run  # its own stage, not another run's
        persona = parent(stage)
        assert persona.name.startswith("persona ")
        assert (
            span.attributes["agentobs.persona.name"] == persona.attributes["agentobs.persona.name"]
        )
        flow = parent(persona)
        assert flow is workflows[run]
        assert flow.parent is None
        assert flow.start_time <= persona.start_time <= stage.start_time <= span.start_time
        assert span.end_time <= stage.end_time <= persona.end_time <= flow.end_time

    # metrics: every count exact
    assert cap.metric_value("agentobs.workflow.runs", **{"agentobs.status": "ok"}) == total
    assert cap.metric_value("gen_ai.workflow.duration") == total
    assert cap.metric_value("agentobs.workflow.active") == 0
    assert cap.metric_value("agentobs.stage.duration") == total
    assert cap.metric_value("agentobs.stage.reentries") == 0
    assert cap.metric_value("gen_ai.execute_tool.duration") == total
    assert cap.metric_value("agentobs.task.runs") == TASKS
    assert cap.metric_value("agentobs.task.duration") == TASKS
    assert cap.metric_value("agentobs.persona.switches") == 0  # one persona per workflow run
    for persona, count in _expected_personas().items():
        labels = {"agentobs.persona.name": persona}
        assert cap.metric_value("agentobs.persona.duration", **labels) == count
        assert cap.metric_value("gen_ai.execute_tool.duration", **labels) == count
        assert cap.metric_value("agentobs.stage.duration", **labels) == count
    assert cap.metric_value("agentobs.task.runs", **{"agentobs.persona.name": "planner"}) == sum(
        1 for i in range(TASKS) if i % len(PERSONAS) == 0
    )


def _expected_personas() -> Counter[str]:
    counts: Counter[str] = Counter()
    for i in range(TASKS):
        counts[PERSONAS[i % len(PERSONAS)]] += 1
    for t in range(THREADS):
        for i in range(RUNS_PER_THREAD):
            counts[PERSONAS[(t + i) % len(PERSONAS)]] += 1
    return counts


def test_counters_are_exact_under_thread_contention(cap: testing.Capture) -> None:
    per_thread = 2_000

    def hammer() -> None:
        for _ in range(per_thread):
            with agentobs.task("hot"):
                pass

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert cap.metric_value("agentobs.task.runs") == THREADS * per_thread
    assert cap.metric_value("agentobs.task.duration") == THREADS * per_thread
