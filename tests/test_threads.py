"""The persona and parent span across threads: lost by default, kept with bind_context or
with agentobs.instrument_threading() for every Thread, ThreadPoolExecutor job and
run_in_executor call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import agentobs
from agentobs import testing


def work(name: str) -> None:
    with agentobs.task(name):
        pass


def run_everywhere() -> None:
    with agentobs.workflow("fleet"), agentobs.persona("coder"):
        thread = threading.Thread(target=work, args=("in-thread",))
        thread.start()
        thread.join()
        with ThreadPoolExecutor(2) as pool:
            pool.submit(work, "in-pool").result()

        async def in_loop() -> None:
            await asyncio.get_running_loop().run_in_executor(None, work, "in-executor")

        asyncio.run(in_loop())


def where(cap: testing.Capture, name: str) -> tuple[str | None, bool]:
    (span,) = cap.spans_named(f"task {name}")
    assert span.attributes is not None
    persona = span.attributes.get("agentobs.persona.name")
    return (None if persona is None else str(persona)), span.parent is not None


@pytest.fixture
def threading_instrumented() -> Iterator[None]:
    agentobs.instrument_threading()
    agentobs.instrument_threading()  # idempotent
    try:
        yield
    finally:
        agentobs.uninstrument_threading()


def test_threads_lose_the_context_by_default(cap: testing.Capture) -> None:
    run_everywhere()
    for name in ("in-thread", "in-pool", "in-executor"):
        assert where(cap, name) == (None, False), name


def test_instrument_threading_carries_persona_and_parent(
    cap: testing.Capture, threading_instrumented: None
) -> None:
    run_everywhere()
    for name in ("in-thread", "in-pool", "in-executor"):
        assert where(cap, name) == ("coder", True), name


def test_uninstrument_threading_restores_the_classes(cap: testing.Capture) -> None:
    originals = (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit)
    agentobs.instrument_threading()
    assert threading.Thread.start is not originals[0]
    agentobs.uninstrument_threading()
    assert (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit) == originals


def test_bind_context_for_one_callable(cap: testing.Capture) -> None:
    with agentobs.persona("reviewer"):
        thread = threading.Thread(target=agentobs.bind_context(work), args=("bound",))
        thread.start()
        thread.join()
    assert where(cap, "bound") == ("reviewer", True)
