"""instrument_openai(): the real openai client against a loopback fake of the OpenAI API."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import context as otel_context

import agentobs
import agentobs.testing
from agentobs.integrations import openai as integration
from agentobs.testing import Capture
from tests.llm_server import CHAT_USAGE, OPENAI_MODEL, TEXT, FakeLLM

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    """A fresh fake OpenAI/Anthropic API for one test."""
    with FakeLLM() as server:
        yield server


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    with agentobs.testing.capture() as capture:
        assert agentobs.instrument_openai()
        try:
            yield capture
        finally:
            integration.uninstrument()


def client(server: FakeLLM, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-key", **options)


def async_client(server: FakeLLM, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test-key", **options)


def llm_span(cap: Capture) -> Any:
    spans = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    assert len(spans) == 1, [s.name for s in cap.spans]
    return spans[0]


def test_chat_completion(cap: Capture, llm_server: FakeLLM) -> None:
    response = client(llm_server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, temperature=0.2, max_tokens=50, n=1
    )
    assert response.choices[0].message.content == "".join(TEXT)
    span = llm_span(cap)
    attrs = span.attributes
    assert span.name == "chat gpt-4o"
    assert span.kind.name == "CLIENT"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", llm_server.port)
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert "gen_ai.request.choice.count" not in attrs
    assert attrs["gen_ai.response.model"] == OPENAI_MODEL
    assert attrs["gen_ai.usage.input_tokens"] == CHAT_USAGE["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == CHAT_USAGE["completion_tokens"]
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 2
    assert attrs["agentobs.cost.usd"] == pytest.approx(8 * 2.5e-6 + 4 * 1.25e-6 + 5 * 10e-6)
    assert "gen_ai.input.messages" not in attrs  # content is off by default
    assert (
        cap.metric_value("gen_ai.client.operation.duration", **{"server.address": "127.0.0.1"}) == 1
    )


def test_async_chat_completion(cap: Capture, llm_server: FakeLLM) -> None:
    async def main() -> Any:
        async with async_client(llm_server) as c:
            return await c.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert asyncio.run(main()).usage.prompt_tokens == 12
    assert llm_span(cap).attributes["gen_ai.usage.input_tokens"] == 12


def _chunks(stream: Any) -> list[Any]:
    return [chunk.model_dump() for chunk in stream]


def test_stream_asks_for_usage_without_changing_what_the_caller_receives(
    cap: Capture, llm_server: FakeLLM
) -> None:
    llm_server.first_chunk_delay = 0.05
    c = client(llm_server)
    received = _chunks(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert llm_server.requests[-1].body["stream_options"] == {"include_usage": True}
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 5
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.045
    assert attrs["agentobs.stream.end"] == "exhausted"

    integration.uninstrument()  # what the caller receives without agentobs
    plain = _chunks(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "stream_options" not in llm_server.requests[-1].body
    assert [json.dumps(x, sort_keys=True) for x in received] == [
        json.dumps({**x, "usage": None}, sort_keys=True) for x in plain
    ]
    assert len(received) == len(TEXT) + 2


def test_stream_usage_can_be_turned_off(cap: Capture, llm_server: FakeLLM) -> None:
    agentobs.instrument_openai(stream_usage=False)
    try:
        stream = client(llm_server).chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        list(stream)
    finally:
        agentobs.instrument_openai(stream_usage=True)
    assert "stream_options" not in llm_server.requests[-1].body
    assert llm_span(cap).attributes["agentobs.usage.missing"] is True


def test_stream_where_the_caller_asked_for_usage(cap: Capture, llm_server: FakeLLM) -> None:
    stream = client(llm_server).chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 12
    assert llm_span(cap).attributes["gen_ai.usage.input_tokens"] == 12


def test_stream_helper(cap: Capture, llm_server: FakeLLM) -> None:
    with client(llm_server).chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        text = "".join(
            event.delta for event in stream if event.type == "content.delta"
        )  # fmt: skip
    assert text == "".join(TEXT)
    assert llm_span(cap).attributes["gen_ai.usage.output_tokens"] == 5


def test_async_stream(cap: Capture, llm_server: FakeLLM) -> None:
    async def main() -> list[Any]:
        async with async_client(llm_server) as c:
            stream = await c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            return [chunk async for chunk in stream]

    assert len(asyncio.run(main())) == len(TEXT) + 2
    assert llm_span(cap).attributes["gen_ai.usage.input_tokens"] == 12


def test_responses_api(cap: Capture, llm_server: FakeLLM) -> None:
    c = client(llm_server)
    response = c.responses.create(model="gpt-4o", input="hi", instructions="be brief")
    assert response.output_text == "".join(TEXT)
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.input_tokens"] == 20
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.response.finish_reasons"] == ("completed",)
    cap.clear()
    events = [e.type for e in c.responses.create(model="gpt-4o", input="hi", stream=True)]
    assert events[0] == "response.created"
    assert events[-1] == "response.completed"
    attrs = llm_span(cap).attributes
    assert attrs["gen_ai.usage.output_tokens"] == 7
    assert attrs["gen_ai.response.id"] == "resp_1"


def test_async_responses_stream(cap: Capture, llm_server: FakeLLM) -> None:
    async def main() -> list[str]:
        async with async_client(llm_server) as c:
            stream = await c.responses.create(model="gpt-4o", input="hi", stream=True)
            return [event.type async for event in stream]

    assert len(asyncio.run(main())) == len(TEXT) + 2
    assert llm_span(cap).attributes["gen_ai.usage.input_tokens"] == 20


def test_rate_limit_retry_is_one_call(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.fail("/v1/chat/completions", 429, retry_after="0")
    response = client(llm_server, max_retries=2).chat.completions.create(
        model="gpt-4o", messages=MESSAGES
    )
    assert response.usage.prompt_tokens == 12
    assert len(llm_server.requests) == 2
    span = llm_span(cap)
    assert span.status.status_code.name != "ERROR"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12


def test_server_error_is_recorded_and_reraised_unchanged(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.fail("/v1/chat/completions", 500)
    with pytest.raises(openai.InternalServerError):
        client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = llm_span(cap)
    assert span.attributes["error.type"] == "openai.InternalServerError"
    points = cap.metric_points("gen_ai.client.operation.duration")
    assert points[0].attributes["error.type"] == "openai.InternalServerError"


def test_timeout(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.hang("/v1/chat/completions", 1.0)
    with pytest.raises(openai.APITimeoutError):
        client(llm_server, timeout=0.2).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert llm_span(cap).attributes["error.type"] == "openai.APITimeoutError"


def test_stream_cut_midway(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.cut("/v1/chat/completions", after=2)
    stream = client(llm_server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    received: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(stream)  # keeps what arrived, then raises
    assert len(received) == 2  # what arrived before the cut reached the caller
    span = llm_span(cap)
    assert span.attributes["agentobs.stream.end"] == "error"
    assert span.attributes["error.type"] == "openai.APIConnectionError"


def test_idempotent_and_reversible(cap: Capture, llm_server: FakeLLM) -> None:
    assert agentobs.instrument_openai()  # a second call changes nothing
    c = client(llm_server)
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(cap.spans) == 1
    integration.uninstrument()
    assert not integration.instrumented()
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(cap.spans) == 1
    agentobs.instrument_openai()
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(cap.spans) == 2


def test_suppressed_instrumentation_makes_no_span(cap: Capture, llm_server: FakeLLM) -> None:
    key = otel_context._SUPPRESS_INSTRUMENTATION_KEY
    token = otel_context.attach(otel_context.set_value(key, True))
    try:
        client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        otel_context.detach(token)
    assert not cap.spans


def test_spent_budget_refuses_before_any_request(cap: Capture, llm_server: FakeLLM) -> None:
    budget = agentobs.TokenBudget("tiny", tokens=10, on_exceed="raise")
    c = client(llm_server)
    with budget:
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        with pytest.raises(agentobs.BudgetExceededError):
            c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(llm_server.requests) == 1


def test_content_capture(llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    with agentobs.testing.capture() as cap:
        agentobs.instrument_openai()
        try:
            client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
            stream = client(llm_server).chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            list(stream)
        finally:
            integration.uninstrument()
        for span in cap.spans:
            messages = json.loads(span.attributes["gen_ai.input.messages"])
            assert messages[0] == {
                "role": "system",
                "parts": [{"type": "text", "content": "be brief"}],
            }
            output = json.loads(span.attributes["gen_ai.output.messages"])
            assert output[0]["parts"] == [{"type": "text", "content": "".join(TEXT)}]
            assert output[0]["finish_reason"] == "stop"


def test_raw_response_streams_are_left_as_they_are(cap: Capture, llm_server: FakeLLM) -> None:
    raw = client(llm_server).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    assert "stream_options" not in llm_server.requests[-1].body
    assert len(list(raw.parse())) == len(TEXT) + 2


def test_messages_given_as_an_iterator_are_not_consumed(
    llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    with agentobs.testing.capture(capture_content=True):
        agentobs.instrument_openai()
        try:
            client(llm_server).chat.completions.create(model="gpt-4o", messages=iter(MESSAGES))
        finally:
            integration.uninstrument()
    assert llm_server.requests[-1].body["messages"] == MESSAGES
