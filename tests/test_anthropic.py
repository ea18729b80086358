"""instrument_anthropic(): the real anthropic client against a loopback fake of its API."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

import agentobs
import agentobs.testing
from agentobs.integrations import anthropic as integration
from agentobs.testing import Capture
from tests.llm_server import ANTHROPIC_MODEL, TEXT, FakeLLM

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "hi"}]
# input 10 + cache read 8 + cache write 3; output 6 (see tests/llm_server.py)
COST = 10 * 1e-6 + 8 * 0.1e-6 + 3 * 1.25e-6 + 6 * 5e-6


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    """A fresh fake OpenAI/Anthropic API for one test."""
    with FakeLLM() as server:
        yield server


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    with agentobs.testing.capture() as capture:
        assert agentobs.instrument_anthropic()
        try:
            yield capture
        finally:
            integration.uninstrument()


def client(server: FakeLLM, **options: Any) -> anthropic.Anthropic:
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=server.anthropic_url, api_key="sk-ant-test", **options)


def async_client(server: FakeLLM) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.anthropic_url, api_key="sk-ant-test", max_retries=0
    )


def llm_spans(cap: Capture) -> list[Any]:
    return [s for s in cap.spans if s.attributes.get("gen_ai.operation.name") == "chat"]


def only(cap: Capture) -> Any:
    spans = llm_spans(cap)
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in cap.spans]
    return spans[0]


def check_usage(attrs: Any) -> None:
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.model"] == ANTHROPIC_MODEL
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 8
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 3
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["agentobs.cost.usd"] == pytest.approx(COST)


def test_messages_create(cap: Capture, llm_server: FakeLLM) -> None:
    message = client(llm_server).messages.create(
        model=MODEL, max_tokens=64, stop_sequences=["END"], messages=MESSAGES
    )
    assert message.content[0].text == "".join(TEXT)
    span = only(cap)
    assert span.name == f"chat {MODEL}"
    assert span.instrumentation_scope.name == "agentobs"
    check_usage(span.attributes)
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.attributes["gen_ai.request.stop_sequences"] == ("END",)


def test_create_with_stream_true(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.first_chunk_delay = 0.05
    events = list(
        client(llm_server).messages.create(
            model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
        )
    )
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    attrs = only(cap).attributes
    check_usage(attrs)
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0.045


def test_messages_stream_helper(cap: Capture, llm_server: FakeLLM) -> None:
    c = client(llm_server)
    with c.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert not llm_spans(cap)  # the call ends with its stream
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(TEXT)
    assert final.usage.output_tokens == 6
    attrs = only(cap).attributes
    check_usage(attrs)
    assert attrs["agentobs.stream.end"] == "exhausted"
    assert attrs["gen_ai.request.stream"] is True


def test_messages_stream_left_early_ends_when_closed(cap: Capture, llm_server: FakeLLM) -> None:
    with client(llm_server).messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as s:
        next(iter(s))
    attrs = only(cap).attributes
    assert attrs["agentobs.stream.end"] == "closed"
    assert attrs["gen_ai.usage.input_tokens"] == 21  # message_start had come


def test_async_create_and_stream(cap: Capture, llm_server: FakeLLM) -> None:
    async def main() -> str:
        async with async_client(llm_server) as c:
            await c.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
            async with c.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as s:
                return "".join([t async for t in s.text_stream])

    assert asyncio.run(main()) == "".join(TEXT)
    spans = llm_spans(cap)
    assert len(spans) == 2
    for span in spans:
        check_usage(span.attributes)


def test_sdk_spans_are_left_out_unless_kept(cap: Capture, llm_server: FakeLLM) -> None:
    client(llm_server).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert {s.instrumentation_scope.name for s in cap.spans} == {"agentobs"}
    integration.uninstrument()
    cap.clear()
    client(llm_server).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    sdk_only = {s.instrumentation_scope.name for s in cap.spans}
    assert sdk_only
    assert "agentobs" not in sdk_only
    cap.clear()
    agentobs.instrument_anthropic(keep_sdk_spans=True)
    client(llm_server).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    ours = [s for s in cap.spans if s.instrumentation_scope.name == "agentobs"]
    theirs = [s for s in cap.spans if s.instrumentation_scope.name != "agentobs"]
    assert len(ours) == 1
    assert len(theirs) == 1
    assert theirs[0].parent.span_id == ours[0].context.span_id


def test_errors(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.fail("/v1/messages", 429, retry_after="0")
    client(llm_server, max_retries=1).messages.create(model=MODEL, max_tokens=8, messages=MESSAGES)
    assert only(cap).status.status_code.name != "ERROR"
    cap.clear()
    llm_server.fail("/v1/messages", 500)
    with pytest.raises(anthropic.InternalServerError):
        client(llm_server).messages.create(model=MODEL, max_tokens=8, messages=MESSAGES)
    assert only(cap).attributes["error.type"] == "anthropic.InternalServerError"


def test_stream_cut_midway(cap: Capture, llm_server: FakeLLM) -> None:
    llm_server.cut("/v1/messages", after=4)
    received: list[str] = []
    c = client(llm_server)
    with (
        c.messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as stream,
        pytest.raises(httpx2.RemoteProtocolError),  # the client's own error, unchanged
    ):
        received.extend(stream.text_stream)
    assert received == TEXT[:1]
    span = only(cap)
    assert span.attributes["agentobs.stream.end"] == "error"
    assert span.attributes["error.type"] == "httpx2.RemoteProtocolError"
    assert span.attributes["gen_ai.usage.input_tokens"] == 21  # what arrived is kept


def test_content_capture_with_system(llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_OPEN_TELEMETRY", raising=False)
    with agentobs.testing.capture(capture_content=True) as cap:
        agentobs.instrument_anthropic()
        try:
            client(llm_server).messages.create(
                model=MODEL, max_tokens=8, system="be brief", messages=MESSAGES
            )
        finally:
            integration.uninstrument()
        attrs = only(cap).attributes
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be brief"}
    ]
    assert json.loads(attrs["gen_ai.output.messages"])[0]["finish_reason"] == "end_turn"
