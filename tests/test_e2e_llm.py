"""End to end: a workflow calls the instrumented OpenAI client (against the loopback fake
API), streaming and not; Phoenix reads the LLM spans back as LLM kind with their tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import openai
import pytest

import agentobs
import agentobs.testing
from agentobs.integrations import openai as integration
from tests.backends import Phoenix
from tests.llm_server import CHAT_USAGE, RESPONSES_USAGE, FakeLLM

FLUSH_TIMEOUT = 15.0


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    """A fresh fake OpenAI/Anthropic API for one test."""
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_agentobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")) and name != (
            "AGENTOBS_REQUIRE_BACKENDS"
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # Phoenix takes traces only
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    agentobs.testing.reset()
    yield
    integration.uninstrument()
    agentobs.testing.reset()


@pytest.mark.backend("phoenix")
def test_phoenix_reads_llm_spans_with_their_tokens(phoenix: Phoenix, llm_server: FakeLLM) -> None:
    project = f"e2e-llm-{uuid.uuid4().hex[:8]}"
    agentobs.configure(
        service_name="agentobs-e2e-llm",
        exporter="otlp",
        endpoint=phoenix.http_endpoint,
        resource_attributes={"openinference.project.name": project},
        logs=False,
    )
    agentobs.instrument_openai()
    client = openai.OpenAI(base_url=llm_server.base_url, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    with agentobs.workflow("release"), agentobs.persona("coder"):
        client.chat.completions.create(model="gpt-4o", messages=messages)
        for _chunk in client.chat.completions.create(
            model="gpt-4o", messages=messages, stream=True
        ):
            pass
        for _event in client.responses.create(model="gpt-4o", input="hi", stream=True):
            pass
    assert agentobs.force_flush(FLUSH_TIMEOUT)

    spans = phoenix.spans(project, min_count=5, timeout=60)
    llm = [s for s in spans if s["name"] == "chat gpt-4o"]
    assert len(llm) == 3, [s["name"] for s in spans]
    assert {s["span_kind"] for s in llm} == {"LLM"}
    totals = sorted(s["attributes"]["llm.token_count.total"] for s in llm)
    chat_total = CHAT_USAGE["prompt_tokens"] + CHAT_USAGE["completion_tokens"]
    responses_total = RESPONSES_USAGE["input_tokens"] + RESPONSES_USAGE["output_tokens"]
    assert totals == sorted([chat_total, chat_total, responses_total])
    for span in llm:
        attributes = span["attributes"]
        assert (
            attributes["llm.token_count.prompt"] + attributes["llm.token_count.completion"]
            == (attributes["llm.token_count.total"])
        )
        assert attributes["agentobs.persona.name"] == "coder"
    workflow = next(s for s in spans if s["name"] == "invoke_workflow release")
    assert all(s["context"]["trace_id"] == workflow["context"]["trace_id"] for s in llm)
