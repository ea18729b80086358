"""Streams returned by LLM calls: the call ends exactly once however the stream ends, time to
first chunk is measured, usage of the last chunks is read, and no chunk is lost or altered."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import agentobs
import agentobs.testing
from agentobs import _errors
from agentobs._llm import usage as _usage
from agentobs.testing import Capture

CHUNKS: list[dict[str, Any]] = [
    {"id": "c1", "model": "gpt-4o", "choices": [{"delta": {"content": "a"}}]},
    {
        "id": "c1",
        "model": "gpt-4o",
        "choices": [{"delta": {"content": "b"}, "finish_reason": "stop"}],
    },
    {
        "id": "c1",
        "model": "gpt-4o",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2},
    },
]


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    with agentobs.testing.capture() as capture:
        yield capture


@agentobs.llm(provider="openai", model="gpt-4o")
def stream_call() -> Iterator[dict[str, Any]]:
    return iter(CHUNKS)


def only_span(cap: Capture) -> Any:
    spans = cap.spans_named("chat gpt-4o")
    assert len(spans) == 1, [s.name for s in cap.spans]
    return spans[0]


def test_exhausted_stream_ends_the_call_with_its_usage(cap: Capture) -> None:
    stream = stream_call()
    assert not cap.spans  # the call is still going
    assert list(stream) == CHUNKS  # every chunk, unchanged, the same objects
    attrs = only_span(cap).attributes
    assert attrs["agentobs.stream.end"] == "exhausted"
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.input_tokens"] == 9
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0
    assert cap.metric_value("gen_ai.client.operation.time_to_first_chunk") == 1


def test_chunks_are_the_same_objects(cap: Capture) -> None:
    assert all(a is b for a, b in zip(stream_call(), CHUNKS, strict=True))


def test_time_to_first_chunk_is_measured() -> None:
    @agentobs.llm(model="slow")
    def slow() -> Iterator[int]:
        time.sleep(0.05)
        yield 1
        time.sleep(0.05)
        yield 2

    with agentobs.testing.capture() as cap:
        assert list(slow()) == [1, 2]
        attrs = cap.span("chat slow").attributes
        assert 0.045 <= attrs["gen_ai.response.time_to_first_chunk"] < 0.09
        span = cap.span("chat slow")
        assert (span.end_time - span.start_time) / 1e9 >= 0.095


def test_closed_early_ends_once(cap: Capture) -> None:
    stream = stream_call()
    assert next(stream) is CHUNKS[0]
    stream.close()
    stream.close()
    assert next(stream) is CHUNKS[1]  # a list iterator has no close(): it goes on
    assert list(stream) == CHUNKS[2:]
    assert only_span(cap).attributes["agentobs.stream.end"] == "closed"  # ended once


def test_with_block_closes(cap: Capture) -> None:
    class Closable:
        def __init__(self) -> None:
            self.items = iter(CHUNKS)
            self.closed = False

        def __iter__(self) -> Closable:
            return self

        def __next__(self) -> Any:
            return next(self.items)

        def __enter__(self) -> Closable:
            return self

        def __exit__(self, *exc: object) -> None:
            self.closed = True

    @agentobs.llm(model="gpt-4o")
    def call() -> Closable:
        return Closable()

    with call() as stream:
        assert next(stream) is CHUNKS[0]  # iterating the proxy, not the raw object
    assert stream.closed
    assert isinstance(stream, Closable)
    assert only_span(cap).attributes["agentobs.stream.end"] == "closed"


def test_error_midway_is_recorded_and_reraised(cap: Capture) -> None:
    @agentobs.llm(model="gpt-4o")
    def call() -> Iterator[Any]:
        def gen() -> Iterator[Any]:
            yield CHUNKS[0]
            raise ConnectionError("cut")

        return gen()

    stream = call()
    assert next(stream) is CHUNKS[0]
    with pytest.raises(ConnectionError, match="cut"):
        next(stream)
    span = only_span(cap)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["agentobs.stream.end"] == "error"
    assert span.attributes["error.type"] == "ConnectionError"


def test_abandoned_stream_ends_when_collected(cap: Capture) -> None:
    stream = stream_call()
    next(stream)
    del stream
    gc.collect()
    assert only_span(cap).attributes["agentobs.stream.end"] == "abandoned"


def test_failure_in_our_code_never_drops_a_chunk(
    cap: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_errors, "RAISE_INTERNAL_ERRORS", False)

    def broken(self: Any, chunk: Any) -> None:
        raise RuntimeError("bug in agentobs")

    monkeypatch.setattr(_usage.StreamState, "add", broken)
    assert list(stream_call()) == CHUNKS
    assert only_span(cap).attributes["agentobs.stream.end"] == "exhausted"


def test_decorated_generator_function_runs_in_the_call_context(cap: Capture) -> None:
    @agentobs.llm(model="gpt-4o")
    def generate() -> Iterator[str]:
        with agentobs.tool("lookup"):
            pass
        yield "x"
        received = yield "y"
        yield f"got {received}"

    stream = generate()
    assert next(stream) == "x"
    assert next(stream) == "y"
    assert stream.send("z") == "got z"
    with pytest.raises(StopIteration):
        next(stream)
    tool = cap.span("execute_tool lookup")
    llm_span = only_span(cap)
    assert tool.parent is not None
    assert tool.parent.span_id == llm_span.context.span_id
    assert llm_span.attributes["agentobs.stream.end"] == "exhausted"


def test_async_iterator_and_async_generator(cap: Capture) -> None:
    class Chunks:
        def __init__(self) -> None:
            self.items = iter(CHUNKS)

        def __aiter__(self) -> Chunks:
            return self

        async def __anext__(self) -> Any:
            try:
                return next(self.items)
            except StopIteration:
                raise StopAsyncIteration from None

    @agentobs.llm(provider="openai", model="gpt-4o")
    async def call() -> Chunks:
        return Chunks()

    @agentobs.llm(model="agen")
    async def agen() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0)
        yield 2

    async def main() -> None:
        assert [c async for c in await call()] == CHUNKS
        assert [i async for i in agen()] == [1, 2]
        early = agen()
        assert await early.__anext__() == 1
        await early.aclose()

    asyncio.run(main())
    assert only_span(cap).attributes["gen_ai.usage.output_tokens"] == 2
    ends = sorted(s.attributes["agentobs.stream.end"] for s in cap.spans_named("chat agen"))
    assert ends == ["closed", "exhausted"]


def test_stream_content_is_collected_when_captured(cap: Capture) -> None:
    @agentobs.llm(model="gpt-4o", capture_content=True)
    def call() -> Iterator[Any]:
        return iter(CHUNKS)

    list(call())
    output = only_span(cap).attributes["gen_ai.output.messages"]
    assert output == (
        '[{"role": "assistant", "parts": [{"type": "text", "content": "ab"}], '
        '"finish_reason": "stop"}]'
    )


def test_a_decorated_generator_runs_its_own_code_in_the_call(cap: Capture) -> None:
    """The code of an ``@agentobs.llm`` generator (sync or async) runs inside the call: a
    scope it opens is a child of the LLM span; the consumer's code between chunks is not."""

    @agentobs.llm(model="gen")
    def gen() -> Iterator[int]:
        with agentobs.task("inside-sync"):
            yield 1

    @agentobs.llm(model="agen")
    async def agen() -> AsyncIterator[int]:
        with agentobs.task("inside-async"):
            yield 1

    async def consume() -> list[int]:
        return [i async for i in agen()]

    for item in gen():
        with agentobs.task("consumer"):
            assert item == 1
    assert asyncio.run(consume()) == [1]
    for inner, outer in (("task inside-sync", "chat gen"), ("task inside-async", "chat agen")):
        assert cap.span(inner).parent.span_id == cap.span(outer).context.span_id
    assert cap.span("task consumer").parent is None
