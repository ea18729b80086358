"""``with_raw_response`` and ``with_streaming_response`` calls of the real OpenAI and Anthropic
clients (against the loopback fake API) are accounted: tokens, cost and budgets, however the
caller reads the HTTP response they return (issue 9, item 4)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

import agentobs
import agentobs.testing
from agentobs.integrations import anthropic as anthropic_integration
from agentobs.integrations import openai as openai_integration
from agentobs.testing import Capture
from tests.llm_server import ANTHROPIC_MODEL, CHAT_USAGE, OPENAI_MODEL, RESPONSES_USAGE, FakeLLM

MESSAGES = [{"role": "user", "content": "hi"}]
INCLUDE_USAGE = {"include_usage": True}


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_", "ANTHROPIC_", "OPENAI_")):
            monkeypatch.delenv(name)
    with agentobs.testing.capture() as capture:
        assert agentobs.instrument_openai()
        assert agentobs.instrument_anthropic()
        try:
            yield capture
        finally:
            openai_integration.uninstrument()
            anthropic_integration.uninstrument()


def oa(server: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-key", max_retries=0)


def an(server: FakeLLM) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_url, api_key="sk-ant-t", max_retries=0)


def llm_span(cap: Capture) -> Any:
    spans = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    assert len(spans) == 1, [s.name for s in cap.spans]
    return spans[0]


def assert_chat_usage(cap: Capture) -> None:
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.input_tokens"] == CHAT_USAGE["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == CHAT_USAGE["completion_tokens"]
    assert attrs["gen_ai.response.model"] == OPENAI_MODEL
    assert attrs["agentobs.cost.usd"] > 0
    assert "agentobs.usage.missing" not in attrs
    assert cap.metric_value("gen_ai.client.token.usage", **{"gen_ai.token.type": "input"}) == 1


def assert_anthropic_usage(cap: Capture) -> None:
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.input_tokens"] == 21  # 10 + cache read 8 + cache write 3
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.response.model"] == ANTHROPIC_MODEL
    assert attrs["agentobs.cost.usd"] > 0
    assert "agentobs.usage.missing" not in attrs


# Every documented way of reading a raw / streamed response.
READERS: dict[str, Callable[[Any], Any]] = {
    "parse": lambda r: r.parse(),
    "json": lambda r: r.json(),
    "text": lambda r: r.text(),
    "read": lambda r: r.read(),
    "iter_bytes": lambda r: list(r.iter_bytes()),
    "iter_text": lambda r: list(r.iter_text()),
    "iter_lines": lambda r: list(r.iter_lines()),
}


def test_openai_with_raw_response(cap: Capture, llm_server: FakeLLM) -> None:
    raw = oa(llm_server).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES
    )
    assert raw.headers.get("content-type", "").startswith("application/json")
    assert_chat_usage(cap)  # accounted even if the caller only reads the headers
    assert raw.parse().usage.prompt_tokens == CHAT_USAGE["prompt_tokens"]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_openai_with_streaming_response(cap: Capture, llm_server: FakeLLM, reader: str) -> None:
    with oa(llm_server).chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=MESSAGES
    ) as response:
        assert not cap.spans  # the body is not read yet: the call has not ended
        READERS[reader](response)
    assert_chat_usage(cap)


@pytest.mark.parametrize("how", ["raw-parse", "streaming-iter_lines", "streaming-parse"])
def test_openai_streams_with_usage_asked(cap: Capture, llm_server: FakeLLM, how: str) -> None:
    chat = oa(llm_server).chat.completions
    request: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": INCLUDE_USAGE,
    }
    if how == "raw-parse":
        chunks = list(chat.with_raw_response.create(**request).parse())
        assert chunks[-1].usage.prompt_tokens == CHAT_USAGE["prompt_tokens"]
    else:
        with chat.with_streaming_response.create(**request) as response:
            if how == "streaming-parse":
                list(response.parse())
            else:
                lines = [line for line in response.iter_lines() if line]
                assert lines[-1] == "data: [DONE]"
    assert_chat_usage(cap)
    assert llm_span(cap).attributes["agentobs.stream.end"] == "exhausted"


def test_openai_responses_with_streaming_response(cap: Capture, llm_server: FakeLLM) -> None:
    with oa(llm_server).responses.with_streaming_response.create(
        model="gpt-4o", input="hi"
    ) as response:
        response.parse()
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.input_tokens"] == RESPONSES_USAGE["input_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == RESPONSES_USAGE["output_tokens"]


def test_openai_async_raw_and_streaming(cap: Capture, llm_server: FakeLLM) -> None:
    async def main() -> None:
        async with openai.AsyncOpenAI(
            base_url=llm_server.base_url, api_key="sk-test-key", max_retries=0
        ) as c:
            raw = await c.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=MESSAGES
            )
            assert raw.parse().usage.prompt_tokens == CHAT_USAGE["prompt_tokens"]
            async with c.chat.completions.with_streaming_response.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options=INCLUDE_USAGE
            ) as response:
                assert [line async for line in response.iter_lines() if line]

    asyncio.run(main())
    spans = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [12, 12]


def test_anthropic_with_raw_response(cap: Capture, llm_server: FakeLLM) -> None:
    raw = an(llm_server).messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES
    )
    assert_anthropic_usage(cap)
    assert raw.parse().usage.output_tokens == 6


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reader", ["parse", "iter_lines", "json"])
def test_anthropic_with_streaming_response(
    cap: Capture, llm_server: FakeLLM, reader: str, stream: bool
) -> None:
    if stream and reader == "json":
        pytest.skip("an event stream is not one JSON document")
    with an(llm_server).messages.with_streaming_response.create(
        model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES, stream=stream
    ) as response:
        result = READERS[reader](response)
        if stream and reader == "parse":
            list(result)
    assert_anthropic_usage(cap)


def test_a_raise_budget_cannot_be_bypassed(cap: Capture, llm_server: FakeLLM) -> None:
    budget = agentobs.TokenBudget("raw", tokens=20, on_exceed="raise")
    chat = oa(llm_server).chat.completions
    with budget:
        with chat.with_streaming_response.create(model="gpt-4o", messages=MESSAGES) as r:
            json.loads(r.text())  # 17 tokens
        chat.with_raw_response.create(model="gpt-4o", messages=MESSAGES)  # 34 > 20
        with pytest.raises(agentobs.BudgetExceededError):
            chat.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        with pytest.raises(agentobs.BudgetExceededError):
            an(llm_server).messages.with_streaming_response.create(
                model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES
            ).__enter__()
    assert len(llm_server.requests) == 2


def test_closed_unread_or_dropped_ends_the_call(cap: Capture, llm_server: FakeLLM) -> None:
    chat = oa(llm_server).chat.completions
    with chat.with_streaming_response.create(model="gpt-4o", messages=MESSAGES):
        pass
    manager = chat.with_streaming_response.create(model="gpt-4o", messages=MESSAGES)
    response = manager.__enter__()
    del manager, response
    gc.collect()
    spans = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    assert len(spans) == 2  # each call ended, its usage unknown (the body was never read)
    assert all(s.attributes.get("agentobs.usage.missing") for s in spans)
