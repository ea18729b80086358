"""The one engine behind every scope: each kind of callable, each way of using a scope.

Sync, async, generator and async-generator functions, each as ``@decorator``, ``with`` and
``async with``; signatures and ``functools.wraps`` kept; nesting and parent links; the user's
exceptions pass through unchanged and are recorded; cancelled tasks and abandoned generators
still end their span; nothing happens (and nothing breaks) before ``configure()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import itertools
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import agentobs
from agentobs import testing
from agentobs._state import STATE

SCOPES = {
    "workflow": (lambda: agentobs.workflow("flow"), "invoke_workflow flow"),
    "stage": (lambda: agentobs.stage("plan"), "stage plan"),
    "task": (lambda: agentobs.task("job"), "task job"),
    "agent": (lambda: agentobs.agent("planner"), "invoke_agent planner"),
    "tool": (lambda: agentobs.tool("search"), "execute_tool search"),
    "persona": (lambda: agentobs.persona("coder"), "persona coder"),
    "quality_gate": (lambda: agentobs.quality_gate("lint"), "quality_gate lint"),
}


@pytest.fixture
def cap() -> Iterator[testing.Capture]:
    with testing.capture() as capture:
        yield capture


def _ended(cap: testing.Capture, name: str) -> Any:
    spans = cap.spans_named(name)
    assert len(spans) == 1, f"{name}: {[s.name for s in cap.spans]}"
    return spans[0]


# --- every kind of callable, as a decorator --------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_sync_function(cap: testing.Capture, kind: str) -> None:
    make, span_name = SCOPES[kind]

    @make()
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add(1) == 3
    assert add(1, b=5) == 6
    assert len(cap.spans_named(span_name)) == 2


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_async_function_span_lasts_as_long_as_the_coroutine(
    cap: testing.Capture, kind: str
) -> None:
    make, span_name = SCOPES[kind]

    @make()
    async def slow(x: int) -> int:
        await asyncio.sleep(0.02)
        return x * 2

    assert inspect.iscoroutinefunction(slow)
    assert asyncio.run(slow(4)) == 8
    span = _ended(cap, span_name)
    assert span.end_time - span.start_time >= 15_000_000  # not a zero-length span


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_generator_span_covers_every_item(cap: testing.Capture, kind: str) -> None:
    make, span_name = SCOPES[kind]
    seen_inside: list[Any] = []

    @make()
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            seen_inside.append(trace.get_current_span().name)  # type: ignore[attr-defined]
            yield i
        return None

    assert inspect.isgeneratorfunction(numbers)
    gen = numbers(3)
    assert cap.spans_named(span_name) == []  # nothing ends before the consumer is done
    assert list(gen) == [0, 1, 2]
    span = _ended(cap, span_name)
    assert seen_inside == [span_name] * 3  # the generator's code runs in its span
    assert "agentobs.generator.closed_early" not in span.attributes


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_async_generator_span_covers_every_item(cap: testing.Capture, kind: str) -> None:
    make, span_name = SCOPES[kind]

    @make()
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0.005)
            yield i

    assert inspect.isasyncgenfunction(numbers)

    async def consume() -> list[int]:
        return [i async for i in numbers(3)]

    assert asyncio.run(consume()) == [0, 1, 2]
    span = _ended(cap, span_name)
    assert span.end_time - span.start_time >= 10_000_000


def test_generator_send_throw_and_return_value_pass_through(cap: testing.Capture) -> None:
    @agentobs.task("echo")
    def echo() -> Any:
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield "caught"
        return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.send("b") == 2
    assert gen.throw(KeyError("k")) == "caught"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == ["a", "b"]
    span = _ended(cap, "task echo")
    assert span.status.status_code is StatusCode.UNSET


def test_async_generator_asend_and_athrow_pass_through(cap: testing.Capture) -> None:
    @agentobs.task("echo")
    async def echo() -> AsyncIterator[Any]:
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            yield f"caught after {received}"

    async def drive() -> list[Any]:
        agen = echo()
        out = [await agen.__anext__(), await agen.asend("a"), await agen.athrow(KeyError())]
        with pytest.raises(StopAsyncIteration):
            await agen.__anext__()
        return out

    assert asyncio.run(drive()) == [0, 1, "caught after ['a']"]
    _ended(cap, "task echo")


# --- every kind of callable, as with / async with --------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_with_block_inside_each_kind_of_function(cap: testing.Capture, kind: str) -> None:
    make, span_name = SCOPES[kind]

    def sync() -> int:
        with make():
            return 1

    async def coro() -> int:
        async with make():
            await asyncio.sleep(0)
            return 2

    def gen() -> Iterator[int]:
        with make():
            yield 3

    async def agen() -> AsyncIterator[int]:
        async with make():
            yield 4

    async def run_async() -> list[int]:
        return [await coro()] + [i async for i in agen()]

    assert sync() == 1
    assert list(gen()) == [3]
    assert asyncio.run(run_async()) == [2, 4]
    assert len(cap.spans_named(span_name)) == 4


def test_with_yields_a_handle_for_attributes_and_events(cap: testing.Capture) -> None:
    with agentobs.stage("plan") as run:
        run.set_attributes(files=3, note="x")
        run.event("checkpoint", step=1)
    span = _ended(cap, "stage plan")
    assert span.attributes["files"] == 3
    assert span.attributes["note"] == "x"
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("checkpoint", {"step": 1})
    ]


def test_one_scope_object_is_reusable_as_decorator_and_with(cap: testing.Capture) -> None:
    plan = agentobs.stage("plan")

    @plan
    def step() -> None:
        pass

    step()
    step()
    with plan:
        pass
    with plan:
        pass
    assert len(cap.spans_named("stage plan")) == 4


def test_one_scope_object_entered_concurrently_ends_each_run_in_its_own_task(
    cap: testing.Capture,
) -> None:
    shared = agentobs.stage("shared")

    async def worker(i: int) -> None:
        async with shared as run:
            run.set_attributes(worker=i)
            await asyncio.sleep(0.001 * (i % 3))
            with agentobs.task(f"inner-{i}"):
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(worker(i) for i in range(20)))

    asyncio.run(main())
    stages = {s.attributes["worker"]: s for s in cap.spans_named("stage shared")}
    assert sorted(stages) == list(range(20))
    for i, stage in stages.items():
        inner = _ended(cap, f"task inner-{i}")
        assert inner.parent is not None
        assert inner.parent.span_id == stage.context.span_id
        assert stage.end_time >= inner.end_time


def test_one_scope_object_entered_from_threads(cap: testing.Capture) -> None:
    shared = agentobs.task("threaded")
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        with shared as run:
            run.set_attributes(worker=i)
            barrier.wait(5)
            with agentobs.tool(f"t{i}"):
                pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tasks = {s.attributes["worker"]: s for s in cap.spans_named("task threaded")}
    assert sorted(tasks) == [0, 1, 2, 3]
    for i, task in tasks.items():
        tool = _ended(cap, f"execute_tool t{i}")
        assert tool.parent is not None
        assert tool.parent.span_id == task.context.span_id


# --- signature, wraps, introspection ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_signature_and_metadata_are_kept(kind: str) -> None:
    make, _ = SCOPES[kind]

    def plain(a: int, *, b: str = "x") -> str:
        """Plain doc."""
        return b * a

    async def coro(a: int, *, b: str = "x") -> str:
        return b * a

    def gen(a: int) -> Iterator[int]:
        yield a

    async def agen(a: int) -> AsyncIterator[int]:
        yield a

    for fn, check in (
        (plain, inspect.isfunction),
        (coro, inspect.iscoroutinefunction),
        (gen, inspect.isgeneratorfunction),
        (agen, inspect.isasyncgenfunction),
    ):
        wrapped = make()(fn)
        assert wrapped is not fn
        assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
        assert wrapped.__name__ == fn.__name__
        assert wrapped.__qualname__ == fn.__qualname__
        assert wrapped.__doc__ == fn.__doc__
        assert wrapped.__module__ == fn.__module__
        assert inspect.signature(wrapped) == inspect.signature(fn)
        assert check(wrapped)


def test_methods_and_callable_objects(cap: testing.Capture) -> None:
    class Agent:
        @agentobs.task("act")
        def act(self, x: int) -> int:
            return x + 1

        @agentobs.task("think")
        async def think(self) -> str:
            return "ok"

    class AsyncCallable:
        async def __call__(self) -> int:
            await asyncio.sleep(0.01)
            return 5

    agent = Agent()
    assert agent.act(1) == 2
    assert asyncio.run(agent.think()) == "ok"
    wrapped = agentobs.tool("callable")(AsyncCallable())
    assert asyncio.run(wrapped()) == 5
    span = _ended(cap, "execute_tool callable")
    assert span.end_time - span.start_time >= 5_000_000  # awaited, not a zero-length span
    assert len(cap.spans_named("task act")) == 1


def test_decorating_a_non_callable_fails_at_decoration(cap: testing.Capture) -> None:
    with pytest.raises(TypeError, match=r"decorates functions; got a int"):
        agentobs.task("x")(42)  # type: ignore[type-var]


# --- nesting ---------------------------------------------------------------------------------


def test_nesting_links_every_span_to_its_parent(cap: testing.Capture) -> None:
    @agentobs.tool("search")
    def search() -> str:
        return "found"

    @agentobs.agent("planner")
    async def plan() -> str:
        with agentobs.task("draft"):
            return search()

    async def main() -> str:
        async with agentobs.workflow("release"), agentobs.persona("coder"):
            with agentobs.stage("implement"):
                return await plan()

    assert asyncio.run(main()) == "found"
    names = [
        "invoke_workflow release",
        "persona coder",
        "stage implement",
        "invoke_agent planner",
        "task draft",
        "execute_tool search",
    ]
    spans = [_ended(cap, name) for name in names]
    assert spans[0].parent is None
    for parent, child in itertools.pairwise(spans):
        assert child.parent is not None
        assert child.parent.span_id == parent.context.span_id, child.name
        assert child.context.trace_id == spans[0].context.trace_id
        assert parent.start_time <= child.start_time <= child.end_time <= parent.end_time


def test_context_is_restored_after_each_scope(cap: testing.Capture) -> None:
    before = trace.get_current_span()
    with agentobs.workflow("w"):
        inside = trace.get_current_span()
        with agentobs.stage("s"):
            pass
        assert trace.get_current_span() is inside
    assert trace.get_current_span() is before

    @agentobs.task("boom")
    def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError, match="x"):
        boom()
    assert trace.get_current_span() is before


def test_generator_does_not_leak_its_context_to_the_consumer(cap: testing.Capture) -> None:
    @agentobs.task("producer")
    def produce() -> Iterator[int]:
        yield 1
        yield 2

    outer = trace.get_current_span()
    for _ in produce():
        assert trace.get_current_span() is outer
        with agentobs.tool("consume"):
            pass
    for tool in cap.spans_named("execute_tool consume"):
        assert tool.parent is None  # a sibling of the producer's span, not its child


# --- exceptions ------------------------------------------------------------------------------


class Boom(Exception):
    pass


def _raise_with_traceback(seen: list[Any]) -> None:
    try:
        raise Boom("kaput")
    except Boom as exc:
        seen.append(exc.__traceback__)
        raise


def _traceback_chain(tb: Any) -> list[Any]:
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    return chain


@pytest.mark.parametrize("form", ["sync", "async", "gen", "agen", "with", "async with"])
def test_user_exception_passes_through_unchanged_and_is_recorded(
    cap: testing.Capture, form: str
) -> None:
    seen: list[Any] = []
    scope = agentobs.task("fails")

    @scope
    def sync_fn() -> None:
        _raise_with_traceback(seen)

    @scope
    async def async_fn() -> None:
        await asyncio.sleep(0)
        _raise_with_traceback(seen)

    @scope
    def gen_fn() -> Iterator[int]:
        yield 1
        _raise_with_traceback(seen)

    @scope
    async def agen_fn() -> AsyncIterator[int]:
        yield 1
        _raise_with_traceback(seen)

    def with_block() -> None:
        with agentobs.task("fails"):
            _raise_with_traceback(seen)

    async def async_with_block() -> None:
        async with agentobs.task("fails"):
            _raise_with_traceback(seen)

    async def consume_agen() -> None:
        async for _ in agen_fn():
            pass

    runners = {
        "sync": sync_fn,
        "async": lambda: asyncio.run(async_fn()),
        "gen": lambda: list(gen_fn()),
        "agen": lambda: asyncio.run(consume_agen()),
        "with": with_block,
        "async with": lambda: asyncio.run(async_with_block()),
    }
    with pytest.raises(Boom) as info:
        runners[form]()
    exc = info.value
    assert str(exc) == "kaput"
    assert exc.__cause__ is None
    assert exc.__context__ is None
    # The traceback is the one raised: every frame of it is still there, in order.
    original = seen[0]
    chain = _traceback_chain(exc.__traceback__)
    assert original in chain
    assert chain[-1].tb_frame.f_code.co_name == "_raise_with_traceback"
    span = _ended(cap, "task fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "kaput"
    assert span.attributes["error.type"] == f"{__name__}.Boom"
    assert span.attributes["agentobs.status"] == "error"
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.type"] == f"{__name__}.Boom"
    assert cap.metric_value("agentobs.task.runs", **{"agentobs.status": "error"}) == 1


def test_exception_object_identity_for_builtin_errors(cap: testing.Capture) -> None:
    err = KeyError("missing")

    @agentobs.tool("lookup")
    def lookup() -> None:
        raise err

    with pytest.raises(KeyError) as info:
        lookup()
    assert info.value is err
    span = _ended(cap, "execute_tool lookup")
    assert span.attributes["error.type"] == "KeyError"
    [point] = cap.metric_points("gen_ai.execute_tool.duration")
    assert point.attributes["error.type"] == "KeyError"


def test_base_exceptions_pass_through(cap: testing.Capture) -> None:
    @agentobs.task("exit")
    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit) as info:
        leave()
    assert info.value.code == 3
    assert _ended(cap, "task exit").attributes["error.type"] == "SystemExit"


# --- cancellation ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["decorator", "async with", "async generator"])
def test_cancelled_task_ends_its_span_as_cancelled(cap: testing.Capture, form: str) -> None:
    started = asyncio.Event

    @agentobs.task("waits")
    async def waits(event: asyncio.Event) -> None:
        event.set()
        await asyncio.sleep(60)

    async def waits_with(event: asyncio.Event) -> None:
        async with agentobs.task("waits"):
            event.set()
            await asyncio.sleep(60)

    @agentobs.task("waits")
    async def stream(event: asyncio.Event) -> AsyncIterator[int]:
        event.set()
        await asyncio.sleep(60)
        yield 1

    async def consume(event: asyncio.Event) -> None:
        async for _ in stream(event):
            pass

    bodies = {"decorator": waits, "async with": waits_with, "async generator": consume}

    async def main() -> None:
        event = started()
        task = asyncio.create_task(bodies[form](event))
        await event.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    span = _ended(cap, "task waits")
    assert span.attributes["agentobs.status"] == "cancelled"
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "cancelled"
    assert not [e for e in span.events if e.name == "exception"]
    assert cap.metric_value("agentobs.task.runs", **{"agentobs.status": "cancelled"}) == 1


def test_timeout_cancels_and_ends_the_span(cap: testing.Capture) -> None:
    @agentobs.tool("slow")
    async def slow() -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow(), 0.01)

    asyncio.run(main())
    assert _ended(cap, "execute_tool slow").attributes["agentobs.status"] == "cancelled"


# --- abandoned generators --------------------------------------------------------------------


def _endless(scope: Any) -> Any:
    @scope
    def endless() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    return endless


def test_generator_closed_early_ends_its_span(cap: testing.Capture) -> None:
    gen = _endless(agentobs.task("stream"))()
    assert next(gen) == 0
    assert next(gen) == 1
    gen.close()
    span = _ended(cap, "task stream")
    assert span.attributes["agentobs.generator.closed_early"] is True
    assert span.status.status_code is StatusCode.UNSET
    assert cap.metric_value("agentobs.task.runs", **{"agentobs.status": "ok"}) == 1


def test_break_out_of_a_for_loop_ends_the_span(cap: testing.Capture) -> None:
    endless = _endless(agentobs.task("stream"))
    for i in endless():
        if i == 2:
            break
    assert _ended(cap, "task stream").attributes["agentobs.generator.closed_early"] is True


def test_garbage_collected_generator_ends_its_span(cap: testing.Capture) -> None:
    gen = _endless(agentobs.task("stream"))()
    next(gen)
    del gen
    gc.collect()
    _ended(cap, "task stream")


def test_generator_finally_block_runs_in_its_context(cap: testing.Capture) -> None:
    cleanup: list[str] = []

    @agentobs.task("stream")
    def stream() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            cleanup.append(trace.get_current_span().name)  # type: ignore[attr-defined]

    gen = stream()
    next(gen)
    gen.close()
    assert cleanup == ["task stream"]


def _endless_async(scope: Any) -> Any:
    @scope
    async def endless() -> AsyncIterator[int]:
        i = 0
        while True:
            await asyncio.sleep(0)
            yield i
            i += 1

    return endless


def test_async_generator_aclose_ends_its_span(cap: testing.Capture) -> None:
    async def main() -> None:
        agen = _endless_async(agentobs.task("astream"))()
        assert await agen.__anext__() == 0
        await agen.aclose()

    asyncio.run(main())
    assert _ended(cap, "task astream").attributes["agentobs.generator.closed_early"] is True


def test_async_generator_break_with_aclosing_ends_its_span(cap: testing.Capture) -> None:
    async def main() -> None:
        async with contextlib.aclosing(_endless_async(agentobs.task("astream"))()) as agen:
            async for i in agen:
                if i == 3:
                    break

    asyncio.run(main())
    _ended(cap, "task astream")


def test_async_generator_abandoned_in_a_loop_ends_its_span(cap: testing.Capture) -> None:
    async def main() -> None:
        async for i in _endless_async(agentobs.task("astream"))():
            if i == 1:
                break
        for _ in range(5):  # the loop's finalizer hook schedules aclose()
            gc.collect()
            await asyncio.sleep(0)

    asyncio.run(main())
    _ended(cap, "task astream")


def test_garbage_collected_async_generator_ends_its_span(cap: testing.Capture) -> None:
    async def main() -> None:
        agen = _endless_async(agentobs.task("astream"))()
        await agen.__anext__()
        del agen
        for _ in range(5):
            gc.collect()
            await asyncio.sleep(0)

    asyncio.run(main())
    _ended(cap, "task astream")


def test_async_generator_left_open_is_closed_at_loop_shutdown(cap: testing.Capture) -> None:
    keep: list[Any] = []

    async def main() -> None:
        agen = _endless_async(agentobs.task("astream"))()
        keep.append(agen)
        await agen.__anext__()

    asyncio.run(main())  # asyncio.run shuts down async generators
    _ended(cap, "task astream")


# --- before configure() ----------------------------------------------------------------------


def test_calls_before_configure_are_no_ops_that_return_results() -> None:
    testing.reset()
    assert STATE.tracer is None

    @agentobs.task("early")
    def early(x: int) -> int:
        return x + 1

    @agentobs.tool("early")
    async def early_async() -> str:
        return "a"

    @agentobs.stage("early")
    def early_gen() -> Iterator[int]:
        got = yield 1
        yield got

    @agentobs.agent("early")
    async def early_agen() -> AsyncIterator[int]:
        yield 1
        yield 2

    async def collect() -> list[int]:
        return [i async for i in early_agen()]

    assert early(1) == 2
    assert asyncio.run(early_async()) == "a"
    gen = early_gen()
    assert next(gen) == 1
    assert gen.send(5) == 5
    assert asyncio.run(collect()) == [1, 2]
    with agentobs.workflow("w") as run, agentobs.persona("p"):
        run.set_attributes(a=1)
        run.event("e")
        with agentobs.quality_gate("g") as gate:
            gate.passed()
            gate.failed("x")
            gate.score(0.1)
    agentobs.record_gate("g", True)
    agentobs.human_intervention("r")
    agentobs.set_attributes(a=1)
    agentobs.event("e")
    with pytest.raises(ValueError, match="still raised"), agentobs.stage("s"):
        raise ValueError("still raised")


def test_configure_later_starts_recording_already_decorated_functions() -> None:
    testing.reset()

    @agentobs.task("late")
    def late() -> int:
        return 1

    assert late() == 1
    with testing.capture() as cap:
        assert late() == 1
        _ended(cap, "task late")


def test_shutdown_between_start_and_end_is_harmless() -> None:
    with testing.capture():
        with agentobs.workflow("w"):
            agentobs.shutdown()
        assert STATE.tracer is None


# --- internal errors never reach the caller --------------------------------------------------


def test_an_internal_error_is_logged_once_and_the_call_still_works(
    cap: testing.Capture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agentobs import _errors

    monkeypatch.setattr(_errors, "RAISE_INTERNAL_ERRORS", False)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("metrics broke")

    monkeypatch.setattr(agentobs.task, "on_end", broken)

    @agentobs.task("resilient")
    def resilient() -> str:
        return "result"

    assert resilient() == "result"
    assert resilient() == "result"
    assert caplog.text.count("internal error in task.end") == 1
    assert len(cap.spans_named("task resilient")) == 2  # the spans still end


def test_a_failing_tracer_falls_back_to_running_the_function(
    cap: testing.Capture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agentobs import _errors

    monkeypatch.setattr(_errors, "RAISE_INTERNAL_ERRORS", False)

    class BrokenTracer:
        def start_span(self, *_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("tracer broke")

    monkeypatch.setattr(STATE, "tracer", BrokenTracer())

    @agentobs.tool("t")
    def t() -> int:
        return 7

    @agentobs.tool("t")
    def g() -> Iterator[int]:
        yield 8

    assert t() == 7
    assert list(g()) == [8]
    with agentobs.tool("t") as run:
        run.set_attributes(x=1)
    assert "internal error in tool.start" in caplog.text


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+")
def test_task_group_children_are_children(cap: testing.Capture) -> None:
    async def child(i: int) -> None:
        async with agentobs.tool(f"child{i}"):
            await asyncio.sleep(0)

    async def main() -> None:
        async with agentobs.workflow("tg"), asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
            for i in range(3):
                group.create_task(child(i))

    asyncio.run(main())
    flow = _ended(cap, "invoke_workflow tg")
    for i in range(3):
        span = _ended(cap, f"execute_tool child{i}")
        assert span.parent is not None
        assert span.parent.span_id == flow.context.span_id
