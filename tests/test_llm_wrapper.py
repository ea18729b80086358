"""agentobs.llm: the span, its attributes and metrics, on every kind of callable."""

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


def completion(model: str = "gpt-4o-2024-08-06", prompt: int = 100, out: int = 20) -> Any:
    return {
        "id": "chatcmpl-1",
        "model": model,
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": out},
    }


def test_before_configure_it_is_a_plain_call() -> None:
    agentobs.testing.reset()

    @agentobs.llm(model="gpt-4o")
    def call() -> str:
        return "ok"

    assert call() == "ok"
    with agentobs.llm(model="gpt-4o") as handle:
        handle.record_usage(input_tokens=1, output_tokens=1)


def test_decorated_sync_call_records_span_and_metrics(cap: Capture) -> None:
    @agentobs.llm(provider="openai", model="gpt-4o")
    def call() -> Any:
        return completion()

    assert call()["id"] == "chatcmpl-1"
    span = cap.span("chat gpt-4o")
    attrs = span.attributes
    assert span.kind.name == "CLIENT"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attrs["gen_ai.response.id"] == "chatcmpl-1"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert attrs["agentobs.span.type"] == "llm"
    assert isinstance(attrs["agentobs.cost.usd"], float)
    assert attrs["agentobs.cost.usd"] > 0
    assert attrs["agentobs.cost.source"] == "genai-prices"
    assert (
        cap.metric_value("gen_ai.client.operation.duration", **{"gen_ai.provider.name": "openai"})
        == 1
    )
    usage = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in cap.metric_points("gen_ai.client.token.usage")
    }
    assert usage == {"input": 100, "output": 20}
    histogram = cap.metric_points("gen_ai.client.token.usage")[0]
    assert histogram.explicit_bounds[:4] == (1, 4, 16, 64)
    tokens = {
        p.attributes["gen_ai.token.type"]: p.value for p in cap.metric_points("agentobs.tokens")
    }
    assert tokens == {"input": 100, "output": 20}
    assert cap.metric_value("agentobs.cost", **{"gen_ai.request.model": "gpt-4o"}) == pytest.approx(
        attrs["agentobs.cost.usd"]
    )


def test_async_call_and_persona_labels(cap: Capture) -> None:
    @agentobs.llm(provider="anthropic", model="claude-haiku-4-5")
    async def call() -> Any:
        await asyncio.sleep(0.01)
        return {"model": "claude-haiku-4-5", "usage": {"input_tokens": 10, "output_tokens": 5}}

    async def main() -> None:
        with agentobs.workflow("release"), agentobs.persona("coder"):
            await call()

    asyncio.run(main())
    span = cap.span("chat claude-haiku-4-5")
    assert span.attributes["agentobs.persona.name"] == "coder"
    assert span.end_time - span.start_time >= 10_000_000  # the coroutine's whole life
    points = cap.metric_points("agentobs.tokens")
    assert {p.attributes["agentobs.persona.name"] for p in points} == {"coder"}
    assert {p.attributes["gen_ai.workflow.name"] for p in points} == {"release"}
    duration = cap.metric_points("gen_ai.client.operation.duration")[0]
    assert duration.attributes["agentobs.persona.name"] == "coder"


def test_with_block_record_usage_adds_up(cap: Capture) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_usage(input_tokens=10, output_tokens=2, cache_read_input_tokens=4)
        call.record_usage(input_tokens=5, output_tokens=1, reasoning_output_tokens=1)
    attrs = cap.span("chat gpt-4o").attributes
    assert attrs["gen_ai.usage.input_tokens"] == 15
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 1


def test_record_usage_replaces_what_the_result_says(cap: Capture) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_response(completion(prompt=999))
        call.record_usage(input_tokens=7, output_tokens=1)
    assert cap.span("chat gpt-4o").attributes["gen_ai.usage.input_tokens"] == 7


def test_record_response_in_a_with_block(cap: Capture) -> None:
    with agentobs.llm(model="gpt-4o") as call:
        call.record_response(completion())
    attrs = cap.span("chat gpt-4o").attributes
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert "gen_ai.provider.name" not in attrs  # a dict says nothing about its provider


def test_error_is_recorded_and_reraised(cap: Capture) -> None:
    class RateLimited(Exception):
        pass

    @agentobs.llm(provider="openai", model="gpt-4o")
    def call() -> None:
        raise RateLimited("slow down")

    with pytest.raises(RateLimited, match="slow down"):
        call()
    span = cap.span("chat gpt-4o")
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"].endswith("RateLimited")
    assert "agentobs.usage.missing" not in span.attributes
    points = cap.metric_points("gen_ai.client.operation.duration")
    assert points[0].attributes["error.type"].endswith("RateLimited")


def test_missing_usage_is_said_never_silent(cap: Capture, caplog: pytest.LogCaptureFixture) -> None:
    @agentobs.llm(provider="openai", model="gpt-4o")
    def call() -> str:
        return "just text"

    with caplog.at_level(logging.WARNING, logger="agentobs"):
        call()
        call()
    attrs = cap.spans_named("chat gpt-4o")[0].attributes
    assert attrs["agentobs.usage.missing"] is True
    assert "gen_ai.usage.input_tokens" not in attrs
    assert not cap.metric_points("gen_ai.client.token.usage")
    assert sum("reported no token usage" in r.getMessage() for r in caplog.records) == 1


def test_nested_llm_counts_tokens_once(cap: Capture) -> None:
    @agentobs.llm(provider="openai", model="gpt-4o")
    def inner() -> Any:
        return completion()

    @agentobs.llm(model="my-agent-call")
    def outer() -> Any:
        return inner()  # an instrumented client inside a decorated function

    outer()
    assert cap.span("chat gpt-4o").attributes["gen_ai.usage.input_tokens"] == 100
    outer_attrs = cap.span("chat my-agent-call").attributes
    assert "gen_ai.usage.input_tokens" not in outer_attrs
    assert "agentobs.usage.missing" not in outer_attrs
    tokens = sum(p.value or 0 for p in cap.metric_points("agentobs.tokens"))
    assert tokens == 120


def test_operation_and_span_name(cap: Capture) -> None:
    with agentobs.llm(operation="embeddings", model="text-embedding-3-small") as call:
        call.record_usage(input_tokens=8)
    with agentobs.llm() as call:
        call.record_usage(input_tokens=1, output_tokens=1)
    assert cap.span("embeddings text-embedding-3-small").attributes["gen_ai.operation.name"] == (
        "embeddings"
    )
    assert cap.span("chat").attributes["gen_ai.operation.name"] == "chat"


def test_bad_usage_values_are_ignored_with_a_warning(
    cap: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agentobs"), agentobs.llm(model="m") as call:
        call.record_usage(input_tokens="many", output_tokens=-3)  # type: ignore[arg-type]
    assert "gen_ai.usage.input_tokens" not in cap.span("chat m").attributes
    assert any("not a number of tokens" in r.getMessage() for r in caplog.records)


def test_content_off_by_default_on_when_asked(cap: Capture) -> None:
    with agentobs.llm(model="gpt-4o") as call:
        call.record_input([{"role": "user", "content": "secret plan"}])
        call.record_response(completion())
    attrs = cap.span("chat gpt-4o").attributes
    assert "gen_ai.input.messages" not in attrs
    assert "gen_ai.output.messages" not in attrs
    cap.clear()
    with agentobs.llm(model="gpt-4o", capture_content=True) as call:
        call.record_input([{"role": "user", "content": "plan"}], system="be brief")
        call.record_response(completion())
    attrs = cap.span("chat gpt-4o").attributes
    assert attrs["gen_ai.input.messages"] == (
        '[{"role": "user", "parts": [{"type": "text", "content": "plan"}]}]'
    )
    assert attrs["gen_ai.system_instructions"] == '[{"type": "text", "content": "be brief"}]'
    assert '"finish_reason": "stop"' in attrs["gen_ai.output.messages"]
    assert '"content": "hi"' in attrs["gen_ai.output.messages"]


def _of_ours_or_the_sdks(obj: object) -> bool:
    module = getattr(obj, "__module__", None) if callable(obj) else type(obj).__module__
    return str(module).startswith(("agentobs", "opentelemetry")) or type(obj).__name__ in (
        "Context",
        "Token",
    )


def test_calls_leave_no_reference_cycles(cap: Capture) -> None:
    """A run's context holds the run itself: it is dropped at the end, so calls are freed by
    reference counting rather than piling up for the cyclic garbage collector."""
    import gc

    call = agentobs.llm(provider="openai", model="gpt-4o")(completion)

    def calls() -> None:
        call()
        with agentobs.llm(provider="openai", model="gpt-4o") as handle:
            handle.record_usage(input_tokens=10, output_tokens=5)
        with agentobs.workflow("w"), agentobs.stage("s"):
            pass

    # Warm: price table, metric bindings, and the workflow names of earlier tests'
    # configurations making room (their pipelines are freed then).
    calls()
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            calls()
        # Only cycles of ours count: an earlier test's loopback server may be freed meanwhile.
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [o for o in gc.garbage if _of_ours_or_the_sdks(o)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
    assert len(cap.spans_named("chat gpt-4o")) == 42
