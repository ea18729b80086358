"""The examples of docs/integrations.md run as printed, offline: each example under
examples/integrations/ runs as ``__main__`` (in this process, so the frameworks are imported
once for the suite) against the loopback fake OpenAI API, and what it wrote to the local
default (.agentobs/) shows the framework's model call stamped with the persona, workflow and
stage, and counted in agentobs.tokens and agentobs.cost."""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import agentobs.testing
from agentobs._localdata import read_directory
from tests.llm_server import FakeLLM

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "integrations"
CHAT_TOKENS, RESPONSE_TOKENS = 17, 27


def _uninstrument_openai_v2() -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().uninstrument()


def _uninstrument_langchain() -> None:
    from openinference.instrumentation.langchain import LangChainInstrumentor

    LangChainInstrumentor().uninstrument()


def _uninstrument_agents() -> None:
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    OpenAIAgentsInstrumentor().uninstrument()


def _nothing() -> None:
    return None


# example: (persona, stage, tokens of its one model call, what undoes its instrumentation)
CASES: dict[str, tuple[str, str, int, Callable[[], None]]] = {
    "with_openai_v2.py": ("planner", "plan", CHAT_TOKENS, _uninstrument_openai_v2),
    "with_langgraph.py": ("researcher", "research", CHAT_TOKENS, _uninstrument_langchain),
    "with_pydantic_ai.py": ("reviewer", "review", RESPONSE_TOKENS, _nothing),
    "with_openai_agents.py": ("writer", "write", RESPONSE_TOKENS, _uninstrument_agents),
}


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("example", sorted(CASES))
def test_example_runs_offline_and_counts_the_frameworks_call(
    example: str,
    llm_server: FakeLLM,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    persona, stage, expected_tokens, undo = CASES[example]
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "OPENAI_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.chdir(tmp_path)
    agentobs.testing.reset()
    try:
        runpy.run_path(str(EXAMPLES / example), run_name="__main__")
    finally:
        undo()
        agentobs.testing.reset()
    out = capsys.readouterr().out
    assert "Hello world" in out
    data = read_directory(tmp_path / ".agentobs")
    calls = [
        s
        for s in data.spans
        if "agentobs.span.type" not in s.attributes
        and s.attributes.get("agentobs.persona.name") == persona
        and not {"gen_ai.usage.input_tokens", "llm.token_count.prompt"}.isdisjoint(s.attributes)
        and s.attributes.get("gen_ai.operation.name") != "invoke_agent"
        and s.attributes.get("openinference.span.kind", "LLM") == "LLM"
    ]
    assert len(calls) == 1, [s.name for s in data.spans]
    assert calls[0].attributes["gen_ai.workflow.name"] == "release"
    assert calls[0].attributes["agentobs.stage.name"] == stage
    tokens = {
        p.attributes["gen_ai.token.type"]: p.value
        for p in data.points
        if p.name == "agentobs.tokens" and p.attributes.get("agentobs.persona.name") == persona
    }
    assert tokens["input"] + tokens["output"] == expected_tokens
    cost = sum(
        p.value
        for p in data.points
        if p.name == "agentobs.cost" and p.attributes.get("agentobs.persona.name") == persona
    )
    assert cost > 0
    assert f"budget used: {expected_tokens} tokens, ${cost:.6f}" in out
