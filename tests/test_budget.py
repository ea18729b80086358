"""Token budgets: where they are in force, warn and raise policies, events, gauges, counters."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

import agentobs
import agentobs.testing
from agentobs.testing import Capture


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    with agentobs.testing.capture() as capture:
        yield capture


calls: list[str] = []


@agentobs.llm(provider="openai", model="gpt-4o")
def call(tokens: int = 100) -> Any:
    calls.append("sent")
    return {"usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10}}


def breaches(cap: Capture) -> list[dict[str, Any]]:
    return [
        dict(e.attributes or {})
        for s in cap.spans
        for e in s.events
        if e.name == "agentobs.budget.exceeded"
    ]


def test_warn_policy_records_the_breach_once_and_lets_calls_through(
    cap: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    budget = agentobs.TokenBudget("coding", tokens=250)
    with caplog.at_level(logging.WARNING, logger="agentobs"), budget:
        for _ in range(4):
            call()
    assert budget.used_tokens == 400
    assert budget.remaining_tokens == -150
    assert budget.exceeded
    assert breaches(cap) == [
        {
            "agentobs.budget.name": "coding",
            "agentobs.budget.unit": "token",
            "agentobs.budget.limit": 250.0,
            "agentobs.budget.used": 300.0,
            "agentobs.budget.policy": "warn",
        }
    ]
    assert sum("budget 'coding' exceeded" in r.getMessage() for r in caplog.records) == 1
    assert cap.metric_value("agentobs.budget.breaches", **{"agentobs.budget.name": "coding"}) == 1
    remaining = cap.metric_points("agentobs.budget.tokens.remaining")
    assert [p.value for p in remaining] == [-150]
    assert [p.value for p in cap.metric_points("agentobs.budget.tokens.limit")] == [250]
    assert all(
        s.attributes["agentobs.budget.name"] == "coding" for s in cap.spans_named("chat gpt-4o")
    )


def test_raise_policy_refuses_the_next_call_not_the_one_in_flight(cap: Capture) -> None:
    budget = agentobs.TokenBudget("strict", tokens=150, on_exceed="raise")
    calls.clear()
    with budget:
        call()  # 100
        call()  # 200: goes past the limit, completes, its usage is recorded
        with pytest.raises(agentobs.BudgetExceededError, match="'strict' is spent") as info:
            call()
    assert calls == ["sent", "sent"]  # the refused call was never made
    assert (info.value.budget, info.value.unit, info.value.limit, info.value.used) == (
        "strict",
        "token",
        150,
        200,
    )
    spans = cap.spans_named("chat gpt-4o")
    assert [s.attributes.get("gen_ai.usage.input_tokens") for s in spans] == [90, 90, None]
    refused = spans[-1]
    assert refused.attributes["error.type"] == "agentobs.BudgetExceededError"  # public path
    assert refused.attributes["agentobs.budget.refused"] is True
    assert len(breaches(cap)) == 1
    # a refusal is counted as one, not as an LLM call with an error and a ~0 ms duration
    refusals = {"agentobs.budget.name": "strict", "agentobs.budget.unit": "token"}
    assert cap.metric_value("agentobs.budget.refusals", **refusals) == 1
    assert cap.metric_value("gen_ai.client.operation.duration") == 2
    assert not [
        p
        for p in cap.metric_points("gen_ai.client.operation.duration")
        if "error.type" in p.attributes
    ]


def test_a_per_run_budget_starts_afresh_in_every_run(cap: Capture) -> None:
    nightly = agentobs.TokenBudget("nightly", tokens=250, on_exceed="raise", per_run=True)

    @agentobs.workflow("nightly", budget=nightly)
    def run() -> None:
        call()  # 100
        call()  # 200

    calls.clear()
    for _ in range(3):  # without per_run, run 2 would go past 250 and run 3 be refused
        run()
    assert calls == ["sent"] * 6
    assert breaches(cap) == []
    assert cap.metric_points("agentobs.budget.refusals") == []


def test_raise_in_a_with_block_and_async(cap: Capture) -> None:
    budget = agentobs.TokenBudget(tokens=10, on_exceed="raise")
    with budget:
        call()
        with pytest.raises(agentobs.BudgetExceededError):  # noqa: SIM117
            with agentobs.llm(model="m") as handle:
                handle.record_usage(input_tokens=1)

    @agentobs.llm(model="async-m")
    async def acall() -> None:
        return None

    async def main() -> None:
        async with budget:
            with pytest.raises(agentobs.BudgetExceededError):
                await acall()

    asyncio.run(main())
    assert budget.name == "budget"


def test_budgets_nest_and_every_enclosing_one_counts(cap: Capture) -> None:
    flow_budget = agentobs.TokenBudget(tokens=10_000)
    stage_budget = agentobs.TokenBudget(tokens=10_000)
    coder_budget = agentobs.TokenBudget(tokens=150, on_exceed="raise")
    with agentobs.workflow("release", budget=flow_budget):
        with agentobs.stage("plan", budget=stage_budget):
            call()
        with agentobs.persona("coder", budget=coder_budget):
            call()
            call()
            with pytest.raises(agentobs.BudgetExceededError):
                call()
    assert flow_budget.used_tokens == 300
    assert stage_budget.used_tokens == 100
    assert coder_budget.used_tokens == 200
    assert (flow_budget.name, stage_budget.name, coder_budget.name) == ("release", "plan", "coder")
    assert coder_budget.persona == "coder"
    points = {
        p.attributes["agentobs.budget.name"]: p
        for p in cap.metric_points("agentobs.budget.tokens.remaining")
    }
    assert points["coder"].value == -50
    assert points["coder"].attributes["agentobs.persona.name"] == "coder"
    assert points["release"].value == 9_700


def test_usd_budget(cap: Capture) -> None:
    budget = agentobs.TokenBudget("spend", usd=0.001)
    with budget:
        call(100)  # gpt-4o: 90 * 2.5e-6 + 10 * 10e-6 = 0.000325
        call(100)
        call(100)
        call(100)
    assert budget.used_usd == pytest.approx(4 * 0.000325)
    [event] = breaches(cap)
    assert event["agentobs.budget.unit"] == "USD"
    assert [p.value for p in cap.metric_points("agentobs.budget.cost.limit")] == [0.001]


def test_threads_share_the_budget_through_bind_context(cap: Capture) -> None:
    import threading

    budget = agentobs.TokenBudget("shared", tokens=1_000)
    with budget:
        workers = [threading.Thread(target=agentobs.bind_context(call)) for _ in range(5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert budget.used_tokens == 500


def test_bad_budgets_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="on_exceed"):
        agentobs.TokenBudget(tokens=5, on_exceed="explode")
    with pytest.raises(ValueError, match="tokens"):
        agentobs.TokenBudget(tokens=-1)


def test_reset_forgets_usage(cap: Capture) -> None:
    budget = agentobs.TokenBudget(tokens=50, on_exceed="raise")
    with budget:
        call()
    budget.reset()
    assert budget.used_tokens == 0
    assert not budget.exceeded
    with budget:
        call()


def remaining(cap: Capture, name: str = "run") -> tuple[float, float]:
    """(remaining, limit) as the token gauges of budget ``name`` read now."""
    [left] = [
        p.value
        for p in cap.metric_points("agentobs.budget.tokens.remaining")
        if p.attributes["agentobs.budget.name"] == name
    ]
    [limit] = [
        p.value
        for p in cap.metric_points("agentobs.budget.tokens.limit")
        if p.attributes["agentobs.budget.name"] == name
    ]
    return (left or 0.0, limit or 0.0)


def test_concurrent_runs_with_one_budget_name_show_the_most_spent_in_threads(
    cap: Capture,
) -> None:
    import threading

    run_budget = agentobs.TokenBudget("run", tokens=1_000, per_run=True)
    steps = {name: threading.Event() for name in ("a_spent", "b_spent", "b_may_end", "a_may_end")}
    seen: dict[str, tuple[float, float]] = {}

    @agentobs.workflow("nightly", budget=run_budget)
    def run(tokens: int, spent: str, may_end: str) -> None:
        call(tokens)
        steps[spent].set()
        assert steps[may_end].wait(10)

    a = threading.Thread(target=run, args=(900, "a_spent", "a_may_end"))
    b = threading.Thread(target=run, args=(100, "b_spent", "b_may_end"))
    a.start()
    assert steps["a_spent"].wait(10)
    b.start()  # run b charges its own budget after run a: it must not hide run a's
    assert steps["b_spent"].wait(10)
    seen["both open"] = remaining(cap)
    steps["b_may_end"].set()
    b.join(10)
    seen["b ended"] = remaining(cap)  # b closing does not overwrite a's figures
    steps["a_may_end"].set()
    a.join(10)
    seen["both ended"] = remaining(cap)
    assert seen == {
        "both open": (100, 1_000),
        "b ended": (100, 1_000),
        "both ended": (100, 1_000),  # the last to end: its final figures stay
    }
    assert len(cap.metric_points("agentobs.budget.tokens.remaining")) == 1  # one series


def test_concurrent_budgets_of_one_name_in_asyncio_tasks(cap: Capture) -> None:
    seen: dict[str, tuple[float, float]] = {}

    @agentobs.llm(provider="openai", model="gpt-4o")
    async def acall(tokens: int) -> Any:
        return {"usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10}}

    async def main() -> None:
        spent, ended = asyncio.Event(), asyncio.Event()

        async def big() -> None:  # spends 800 of 1,000, then ends first
            async with agentobs.TokenBudget("run", tokens=1_000):
                await acall(800)
                spent.set()
                await asyncio.sleep(0)
            ended.set()

        async def small() -> None:  # spends 300 of 2,000 after it, still open when it ends
            async with agentobs.TokenBudget("run", tokens=2_000):
                await spent.wait()
                await acall(300)
                seen["both open"] = remaining(cap)
                await ended.wait()
                seen["big ended"] = remaining(cap)

        await asyncio.gather(big(), small())

    asyncio.run(main())
    assert seen == {
        "both open": (200, 1_000),  # 20 % left beats 85 % left: the one to alert on
        "big ended": (1_700, 2_000),  # the one still open, not the finished one
    }


def test_budget_series_stay_bounded_and_closed_budgets_are_forgotten(cap: Capture) -> None:
    import contextlib

    from agentobs._catalogue import VALUE_LIMIT
    from agentobs._llm import budget as budget_module

    with contextlib.ExitStack() as runs:
        for _ in range(300):  # 300 runs' budgets open at once, one name: one series
            runs.enter_context(agentobs.TokenBudget("run", tokens=10_000))
        call(50)
        assert remaining(cap) == (9_950, 10_000)
    for i in range(VALUE_LIMIT + 50):
        with agentobs.TokenBudget(f"bounded-{i}", tokens=100):
            call(10)
    names = [
        p.attributes["agentobs.budget.name"]
        for p in cap.metric_points("agentobs.budget.tokens.remaining")
    ]
    assert len(names) <= VALUE_LIMIT + 1  # the rest fold into _other
    kept = [name for name, _persona in budget_module._OPEN if name.startswith(("run", "bounded-"))]
    assert kept == []  # nothing kept of budgets no longer in force
