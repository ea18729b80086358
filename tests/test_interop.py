"""Every GenAI span counts, whoever made it: other instrumentations inside agentobs scopes.

Each test drives a real library (the OpenTelemetry contrib OpenAI instrumentation, LangChain
and LangGraph with OpenInference, Pydantic AI's own instrumentation, the OpenAI Agents SDK with
OpenInference) against the loopback fake API of tests/llm_server.py, and reads back from the
exported spans and metrics: the persona, workflow and stage on the library's span, its nesting
under agentobs's spans, and the tokens, cost and budget figures agentobs counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import agentobs
from agentobs.integrations import openai as our_openai
from agentobs.testing import Capture
from tests.backends import Phoenix
from tests.llm_server import CHAT_USAGE, OPENAI_MODEL, RESPONSES_USAGE, TEXT, FakeLLM

pytest_plugins = ["pytester"]

# gpt-4o in the price table: USD per token.
INPUT, CACHED, OUTPUT = 2.5e-6, 1.25e-6, 10e-6
CHAT_IN, CHAT_OUT = CHAT_USAGE["prompt_tokens"], CHAT_USAGE["completion_tokens"]
CHAT_COST = CHAT_IN * INPUT + CHAT_OUT * OUTPUT  # usage without the cached part
CHAT_COST_CACHED = (CHAT_IN - 4) * INPUT + 4 * CACHED + CHAT_OUT * OUTPUT
RESP_IN, RESP_OUT = RESPONSES_USAGE["input_tokens"], RESPONSES_USAGE["output_tokens"]
RESP_COST = RESP_IN * INPUT + RESP_OUT * OUTPUT
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def llm_server() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def openai_v2(cap: Capture) -> Iterator[Any]:
    """The contrib OpenAI instrumentation, on the pipeline ``cap`` installed."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


def client(server: FakeLLM) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test-key", max_retries=0)


def ancestors(cap: Capture, span: Any) -> list[str]:
    """The names of the span's ancestors, innermost first."""
    by_id = {s.context.span_id: s for s in cap.spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def metric(cap: Capture, name: str, **attributes: Any) -> float:
    """The summed value of ``name`` over the points whose attributes include these."""
    return sum(
        point.value or 0.0
        for point in cap.metric_points(name)
        if all(point.attributes.get(k) == v for k, v in attributes.items())
    )


def tokens(cap: Capture, token_type: str, **attributes: Any) -> float:
    return metric(cap, "agentobs.tokens", **{"gen_ai.token.type": token_type, **attributes})


def only(spans: list[Any]) -> Any:
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def scoped(budget: agentobs.TokenBudget | None = None) -> Any:
    """A workflow > stage > persona scope, as an agent system would open."""
    from contextlib import ExitStack

    stack = ExitStack()
    stack.enter_context(agentobs.workflow("release"))
    stack.enter_context(agentobs.stage("plan"))
    stack.enter_context(agentobs.persona("coder", budget=budget))
    return stack


def assert_stamped(span: Any) -> None:
    attributes = span.attributes
    assert attributes["agentobs.persona.name"] == "coder"
    assert attributes["gen_ai.workflow.name"] == "release"
    assert attributes["agentobs.stage.name"] == "plan"


# --- opentelemetry-instrumentation-openai-v2 ---


def test_openai_v2_call_is_stamped_and_counted_by_persona_with_its_budget(
    cap: Capture, openai_v2: Any, llm_server: FakeLLM
) -> None:
    budget = agentobs.TokenBudget("plan-budget", tokens=100, usd=1.0)
    with scoped(budget):
        client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    chat = only([s for s in cap.spans if s.instrumentation_scope.name != "agentobs"])
    assert chat.name == "chat gpt-4o"
    assert_stamped(chat)
    assert ancestors(cap, chat) == ["persona coder", "stage plan", "invoke_workflow release"]
    labels = {"agentobs.persona.name": "coder", "gen_ai.request.model": "gpt-4o"}
    labels |= {"gen_ai.provider.name": "openai", "gen_ai.workflow.name": "release"}
    assert tokens(cap, "input", **labels) == CHAT_IN
    assert tokens(cap, "output", **labels) == CHAT_OUT
    assert metric(cap, "agentobs.cost", **labels, **{"agentobs.cost.source": "genai-prices"}) == (
        pytest.approx(CHAT_COST)
    )
    assert (budget.used_tokens, budget.used_usd) == (CHAT_IN + CHAT_OUT, pytest.approx(CHAT_COST))
    by_budget = {"agentobs.budget.name": "plan-budget", "agentobs.persona.name": "coder"}
    assert metric(cap, "agentobs.budget.tokens.remaining", **by_budget) == 100 - 17
    assert metric(cap, "agentobs.budget.cost.remaining", **by_budget) == pytest.approx(
        1.0 - CHAT_COST
    )
    # the contrib instrumentation records its own gen_ai.client.token.usage: agentobs does not
    # record it a second time
    usage_points = cap.metric_points("gen_ai.client.token.usage")
    assert sum(p.sum or 0 for p in usage_points) == CHAT_IN + CHAT_OUT


def test_a_breach_by_another_instrumentations_call_is_recorded_on_the_enclosing_span(
    cap: Capture, openai_v2: Any, llm_server: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    budget = agentobs.TokenBudget("tight", tokens=10, on_exceed="raise")
    with scoped(budget):
        response = client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert response.choices[0].message.content == "".join(TEXT)  # never refused by us
    persona = cap.span("persona coder")
    events = [e for e in persona.events if e.name == "agentobs.budget.exceeded"]
    assert [dict(e.attributes or {})["agentobs.budget.used"] for e in events] == [17.0]
    breaches = {"agentobs.budget.name": "tight", "agentobs.budget.unit": "token"}
    assert metric(cap, "agentobs.budget.breaches", **breaches) == 1
    assert "budget 'tight' exceeded" in caplog.text


def test_a_raise_budget_spent_by_another_instrumentation_refuses_the_next_call_agentobs_traces(
    cap: Capture, langchain_instrumented: None, llm_server: FakeLLM
) -> None:
    """agentobs cannot refuse a call only another instrumentation traces (it sees the span
    after the call), but the call counts, so the next call agentobs traces is refused."""
    budget = agentobs.TokenBudget("tight", tokens=10, on_exceed="raise")
    with scoped(budget):
        chat_model(llm_server).invoke("hi")  # not refused: its span is all agentobs sees
        chat_model(llm_server).invoke("again")  # nor this one, though the budget is spent
        assert budget.exceeded
        with pytest.raises(agentobs.BudgetExceededError), agentobs.llm(model="gpt-4o"):
            pass
        agentobs.instrument_openai()
        try:
            with pytest.raises(agentobs.BudgetExceededError):
                client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
        finally:
            our_openai.uninstrument()
    assert len(llm_server.requests) == 2
    assert budget.used_tokens == 2 * (CHAT_IN + CHAT_OUT)
    refused = {"agentobs.budget.name": "tight"}
    assert metric(cap, "agentobs.budget.refusals", **refused) == 2


def test_instrument_openai_under_a_framework_refuses_its_calls_once_the_budget_is_spent(
    cap: Capture, langchain_instrumented: None, ours_too: None, llm_server: FakeLLM
) -> None:
    """With the client instrumented too, a framework's call is refused before it is sent,
    and each call still counts once."""
    budget = agentobs.TokenBudget("tight", tokens=20, on_exceed="raise")
    with scoped(budget):
        chat_model(llm_server).invoke("hi")  # 17 tokens: within the budget
        chat_model(llm_server).invoke("again")  # 34: spends it
        with pytest.raises(agentobs.BudgetExceededError):
            chat_model(llm_server).invoke("once more")
    assert len(llm_server.requests) == 2
    assert budget.used_tokens == 2 * (CHAT_IN + CHAT_OUT)


def test_spans_outside_agentobs_scopes_are_left_alone(
    cap: Capture, openai_v2: Any, llm_server: FakeLLM
) -> None:
    client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    chat = only(cap.spans)
    assert "agentobs.persona.name" not in chat.attributes
    assert cap.metric_points("agentobs.tokens") == []


def test_interop_off_stamps_and_counts_nothing(
    clean_env: None, llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    import agentobs.testing

    monkeypatch.setenv("AGENTOBS_INTEROP", "false")
    with agentobs.testing.capture() as cap:
        OpenAIInstrumentor().instrument()
        try:
            with agentobs.workflow("release"):
                client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
        finally:
            OpenAIInstrumentor().uninstrument()
        chat = cap.span("chat gpt-4o")
        assert "gen_ai.workflow.name" not in chat.attributes
        assert cap.metric_points("agentobs.tokens") == []


@pytest.mark.parametrize("ours", ["inside", "outside"])
def test_a_call_traced_by_both_openai_instrumentations_counts_once_for_ours(
    cap: Capture, llm_server: FakeLLM, caplog: pytest.LogCaptureFixture, ours: str
) -> None:
    """Whichever patch wraps the other, the innermost span counts the call and the other is
    not counted again; one warning says so."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    if ours == "inside":  # patched first, so the contrib wrapper runs outside it
        agentobs.instrument_openai()
        instrumentor.instrument()
    else:
        instrumentor.instrument()
        agentobs.instrument_openai()
    budget = agentobs.TokenBudget("b", tokens=1000)
    try:
        with scoped(budget):
            for _ in range(2):
                client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:  # undone in the reverse order: each unpatch restores what it wrapped
        if ours == "inside":
            instrumentor.uninstrument()
            our_openai.uninstrument()
        else:
            our_openai.uninstrument()
            instrumentor.uninstrument()
    ours_spans = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    theirs = [s for s in cap.spans if s.instrumentation_scope.name != "agentobs"]
    assert len(ours_spans) == len(theirs) == 2
    assert all(s.attributes["agentobs.persona.name"] == "coder" for s in theirs)
    assert tokens(cap, "input", **{"agentobs.persona.name": "coder"}) == 2 * CHAT_IN
    assert budget.used_tokens == 2 * (CHAT_IN + CHAT_OUT)
    assert caplog.text.count("traced by both agentobs's LLM instrumentation") == 1
    counted_by_ours = ours == "inside"  # the innermost span counts
    assert all(("gen_ai.usage.input_tokens" in s.attributes) is counted_by_ours for s in ours_spans)
    assert "reported no token usage" not in caplog.text


def test_an_agentobs_llm_scope_around_another_instrumentations_call_counts_it_once(
    cap: Capture, openai_v2: Any, llm_server: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    """``agentobs.llm`` around a framework call: the framework's span inside counts, the
    agentobs call records no usage of its own (and does not warn that it has none)."""
    with scoped(), agentobs.llm(provider="openai", model="gpt-4o"):
        client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert tokens(cap, "input", **{"agentobs.persona.name": "coder"}) == CHAT_IN
    ours = only([s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"])
    assert "gen_ai.usage.input_tokens" not in ours.attributes
    assert "agentobs.usage.missing" not in ours.attributes
    assert "reported no token usage" not in caplog.text


# --- LangChain and LangGraph with OpenInference ---


@pytest.fixture
def langchain_instrumented(cap: Capture) -> Iterator[None]:
    from openinference.instrumentation.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def test_langgraph_with_openinference_counts_the_llm_span_not_the_chains(
    cap: Capture, langchain_instrumented: None, llm_server: FakeLLM
) -> None:
    from langchain_openai import ChatOpenAI
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = ChatOpenAI(
        model="gpt-4o", base_url=llm_server.base_url, api_key="sk-test-key", max_retries=0
    )

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    budget = agentobs.TokenBudget("graph", tokens=1000)
    with scoped(budget):
        result = graph.compile().invoke({"messages": [("user", "hi")]})
    assert result["messages"][-1].content == "".join(TEXT)
    foreign = [s for s in cap.spans if s.instrumentation_scope.name != "agentobs"]
    assert len(foreign) >= 3  # the graph, its node and the model call
    assert all(s.attributes["agentobs.persona.name"] == "coder" for s in foreign)
    llm = only([s for s in foreign if s.attributes.get("openinference.span.kind") == "LLM"])
    assert_stamped(llm)
    assert ancestors(cap, llm)[-3:] == ["persona coder", "stage plan", "invoke_workflow release"]
    assert "answer" in ancestors(cap, llm)
    coder = {"agentobs.persona.name": "coder", "gen_ai.provider.name": "openai"}
    assert tokens(cap, "input", **coder) == CHAT_IN
    assert tokens(cap, "output", **coder) == CHAT_OUT
    assert tokens(cap, "cache_read", **coder) == 4
    assert metric(cap, "agentobs.cost", **coder) == pytest.approx(CHAT_COST_CACHED)
    assert budget.used_tokens == CHAT_IN + CHAT_OUT


# --- Pydantic AI's own instrumentation ---


def pydantic_agent(server: FakeLLM) -> Any:
    """A Pydantic AI agent with its own instrumentation on, calling the loopback API."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=server.base_url, api_key="sk-test-key")
    agent = Agent(OpenAIChatModel("gpt-4o", provider=provider), name="helper")
    agent.instrument = True
    return agent


def test_pydantic_ai_instrumented_agent_counts_its_model_requests_with_their_own_cost(
    cap: Capture, llm_server: FakeLLM
) -> None:
    agent = pydantic_agent(llm_server)
    budget = agentobs.TokenBudget("agent", usd=1.0)
    with scoped(budget):
        assert agent.run_sync("hi").output == "".join(TEXT)
    run = cap.span("invoke_agent helper")
    chat = cap.span("chat gpt-4o")
    assert_stamped(run)
    assert_stamped(chat)
    assert ancestors(cap, chat) == [
        "invoke_agent helper",
        "persona coder",
        "stage plan",
        "invoke_workflow release",
    ]
    coder = {"agentobs.persona.name": "coder", "gen_ai.request.model": "gpt-4o"}
    # the agent run span repeats its requests' usage: only the request counts
    assert tokens(cap, "input", **coder) == CHAT_IN
    assert tokens(cap, "output", **coder) == CHAT_OUT
    # Pydantic AI prices its requests itself (operation.cost): that cost is kept
    cost = chat.attributes["operation.cost"]
    assert cost == pytest.approx(CHAT_COST_CACHED)
    by_source = {**coder, "agentobs.cost.source": "instrumentation"}
    assert metric(cap, "agentobs.cost", **by_source) == pytest.approx(cost)
    assert budget.used_usd == pytest.approx(cost)
    assert metric(cap, "agentobs.budget.cost.remaining", **{"agentobs.budget.name": "agent"}) == (
        pytest.approx(1.0 - cost)
    )


# --- the OpenAI Agents SDK with OpenInference (Responses API) ---


def run_agents_sdk(server: FakeLLM, budget: agentobs.TokenBudget) -> Any:
    """One Agents SDK run (Responses API), traced by OpenInference, in the scope of ``budget``."""
    from agents import Agent, OpenAIResponsesModel, Runner
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument()  # replaces the SDK's own exporter to OpenAI's servers
    try:
        model = OpenAIResponsesModel(
            "gpt-4o",
            openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0),
        )
        agent = Agent(name="helper", instructions="be brief", model=model)
        with scoped(budget):
            return Runner.run_sync(agent, "hi")
    finally:
        instrumentor.uninstrument()


def test_openai_agents_with_openinference_counts_the_response_under_our_persona(
    cap: Capture, llm_server: FakeLLM
) -> None:
    budget = agentobs.TokenBudget("agents", tokens=1000)
    result = run_agents_sdk(llm_server, budget)
    assert result.final_output == "".join(TEXT)
    assert [r.path for r in llm_server.requests] == ["/v1/responses"]
    response = only([s for s in cap.spans if s.attributes.get("openinference.span.kind") == "LLM"])
    assert_stamped(response)
    assert "helper" in ancestors(cap, response)
    assert ancestors(cap, response)[-3:] == [
        "persona coder",
        "stage plan",
        "invoke_workflow release",
    ]
    coder = {"agentobs.persona.name": "coder", "gen_ai.workflow.name": "release"}
    assert tokens(cap, "input", **coder) == RESP_IN
    assert tokens(cap, "output", **coder) == RESP_OUT
    assert metric(cap, "agentobs.cost", **coder) == pytest.approx(RESP_COST)
    assert budget.used_tokens == RESP_IN + RESP_OUT
    model_name = response.attributes["llm.model_name"]
    assert model_name == OPENAI_MODEL
    assert tokens(cap, "input", **{"gen_ai.request.model": model_name}) == RESP_IN


# --- one call traced by a framework's instrumentation and by instrument_openai() ---


@pytest.fixture
def ours_too() -> Iterator[None]:
    """agentobs's OpenAI instrumentation, on top of the framework's."""
    agentobs.instrument_openai()
    yield
    our_openai.uninstrument()


def chat_model(server: FakeLLM) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o", base_url=server.base_url, api_key="sk-test", max_retries=0)


def test_langchain_with_openinference_and_instrument_openai_counts_each_call_once(
    cap: Capture,
    langchain_instrumented: None,
    ours_too: None,
    llm_server: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """OpenInference's LangChain span is not made current, so agentobs's span of the same
    call is its sibling: matched by parent and usage, counted once (by agentobs's span), also
    for calls made concurrently under one persona."""
    import asyncio

    model = chat_model(llm_server)
    budget = agentobs.TokenBudget("chain", tokens=1000)
    with scoped(budget):
        model.invoke("hi")
        asyncio.run(model.abatch(["hi", "hello"]))  # two calls at once, side by side
    assert len(llm_server.requests) == 3
    theirs = [s for s in cap.spans if s.attributes.get("openinference.span.kind") == "LLM"]
    ours = [s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"]
    assert len(theirs) == len(ours) == 3
    assert {s.parent.span_id for s in theirs + ours} == {cap.span("persona coder").context.span_id}
    assert all(s.attributes["llm.token_count.prompt"] == CHAT_IN for s in theirs)
    coder = {"agentobs.persona.name": "coder"}
    assert tokens(cap, "input", **coder) == 3 * CHAT_IN
    assert tokens(cap, "output", **coder) == 3 * CHAT_OUT
    assert metric(cap, "agentobs.cost", **coder) == pytest.approx(3 * CHAT_COST_CACHED)
    assert budget.used_tokens == 3 * (CHAT_IN + CHAT_OUT)
    assert all(s.attributes["gen_ai.usage.input_tokens"] == CHAT_IN for s in ours)  # ours won
    assert caplog.text.count("traced by both agentobs's LLM instrumentation") == 1


@pytest.mark.parametrize("same_usage", [True, False])
def test_a_span_beside_ours_is_the_same_call_only_with_the_same_usage(
    cap: Capture, ours_too: None, llm_server: FakeLLM, same_usage: bool
) -> None:
    """Another tracer's model-call span left open (not current) around an agentobs-traced
    call: the same call if it ends with the same tokens, else another call, counted too."""
    from opentelemetry import trace

    tracer = trace.get_tracer("some.framework")
    with scoped():
        theirs = tracer.start_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"})
        client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
        theirs.set_attributes(
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": CHAT_IN if same_usage else 3,
                "gen_ai.usage.output_tokens": CHAT_OUT if same_usage else 2,
            }
        )
        theirs.end()
    assert tokens(cap, "input") == CHAT_IN + (0 if same_usage else 3)
    assert tokens(cap, "output") == CHAT_OUT + (0 if same_usage else 2)


def test_pydantic_ai_with_instrument_openai_counts_each_request_once(
    cap: Capture, ours_too: None, llm_server: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    budget = agentobs.TokenBudget("agent", tokens=1000)
    with scoped(budget):
        pydantic_agent(llm_server).run_sync("hi")
    ours = only([s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"])
    assert ancestors(cap, ours)[:2] == ["chat gpt-4o", "invoke_agent helper"]
    assert tokens(cap, "input", **{"agentobs.persona.name": "coder"}) == CHAT_IN
    assert budget.used_tokens == CHAT_IN + CHAT_OUT
    assert caplog.text.count("traced by both agentobs's LLM instrumentation") == 1


def test_openai_agents_with_openinference_and_instrument_openai_counts_the_response_once(
    cap: Capture, ours_too: None, llm_server: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    """The Agents SDK's response span (OpenInference) is current around the client call:
    agentobs's span is inside it and counts the call; the response span is not counted."""
    budget = agentobs.TokenBudget("agents", tokens=1000)
    run_agents_sdk(llm_server, budget)
    response = only([s for s in cap.spans if s.attributes.get("openinference.span.kind") == "LLM"])
    ours = only([s for s in cap.spans if s.attributes.get("agentobs.span.type") == "llm"])
    assert ours.parent.span_id == response.context.span_id
    assert ours.attributes["gen_ai.usage.input_tokens"] == RESP_IN
    coder = {"agentobs.persona.name": "coder"}
    assert tokens(cap, "input", **coder) == RESP_IN
    assert tokens(cap, "output", **coder) == RESP_OUT
    assert budget.used_tokens == RESP_IN + RESP_OUT
    assert caplog.text.count("traced by both agentobs's LLM instrumentation") == 1


def test_a_failing_hook_never_reaches_the_application(
    cap: Capture, openai_v2: Any, llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentobs import _errors
    from agentobs._export import interop

    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_errors, "RAISE_INTERNAL_ERRORS", False)
    monkeypatch.setattr(interop, "CALL_HOOKS", [broken])
    logging.getLogger("agentobs").setLevel(logging.WARNING)
    with scoped():
        response = client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert response.choices[0].message.content == "".join(TEXT)
    assert tokens(cap, "input") == CHAT_IN  # counted before the hook failed


# --- the enclosing pytest test ---

PYTEST_SUITE = """
import os

import openai
import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor


@pytest.fixture
def chat():
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    client = openai.OpenAI(base_url=os.environ["FAKE_LLM_URL"], api_key="sk-x", max_retries=0)
    yield lambda: client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    instrumentor.uninstrument()


def test_two_calls(chat):
    chat()
    chat()


@pytest.mark.agentobs_budget(tokens=20)
def test_over_budget(chat):
    chat()
    chat()
"""


def test_the_enclosing_test_counts_another_instrumentations_calls(
    pytester: pytest.Pytester, llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentobs.testing import capture
    from tests.test_pytest_plugin_support import attributes, setup_suite

    monkeypatch.setenv("FAKE_LLM_URL", llm_server.base_url)
    setup_suite(pytester, {"tests/test_chat.py": PYTEST_SUITE})
    with capture() as cap:
        result = pytester.runpytest_inprocess()
        spans = cap.spans
    result.assert_outcomes(passed=1, failed=1)
    tests = {
        s.name: attributes(s) for s in spans if attributes(s).get("agentobs.span.type") == "test"
    }
    for name in ("test_two_calls", "test_over_budget"):
        found = next(v for k, v in tests.items() if k.endswith(name))
        assert found["agentobs.test.usage.input_tokens"] == 2 * CHAT_IN
        assert found["agentobs.test.usage.output_tokens"] == 2 * CHAT_OUT
        assert found["agentobs.test.cost.usd"] == pytest.approx(2 * CHAT_COST)
    result.stdout.fnmatch_lines(["*agentobs_budget exceeded: 34 tokens used, budget 20*"])


# --- read back from a real backend ---


@pytest.mark.backend("phoenix")
def test_phoenix_reads_the_langchain_llm_span_with_our_persona_under_our_stage(
    phoenix: Phoenix, llm_server: FakeLLM, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phoenix, which reads OpenInference natively, shows LangChain's LLM span with its
    tokens, stamped with the persona, workflow and stage, inside agentobs's stage span."""
    import uuid

    from langchain_openai import ChatOpenAI
    from openinference.instrumentation.langchain import LangChainInstrumentor

    import agentobs.testing

    project = f"interop-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # Phoenix takes traces only
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    agentobs.testing.reset()
    agentobs.configure(
        service_name="agentobs-interop",
        exporter="otlp",
        endpoint=phoenix.http_endpoint,
        resource_attributes={"openinference.project.name": project},
        logs=False,
    )
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    try:
        model = ChatOpenAI(
            model="gpt-4o", base_url=llm_server.base_url, api_key="sk-test-key", max_retries=0
        )
        with scoped():
            model.invoke("hi")
        assert agentobs.force_flush(15.0)
    finally:
        instrumentor.uninstrument()
        agentobs.testing.reset()
    spans = phoenix.spans(project, min_count=4, timeout=60)
    by_id = {s["context"]["span_id"]: s for s in spans}
    llm = only([s for s in spans if s["span_kind"] == "LLM"])
    attributes = llm["attributes"]
    assert attributes["agentobs.persona.name"] == "coder"
    assert attributes["gen_ai.workflow.name"] == "release"
    assert attributes["agentobs.stage.name"] == "plan"
    assert attributes["llm.token_count.prompt"] == CHAT_IN
    assert attributes["llm.token_count.completion"] == CHAT_OUT
    chain = []
    span = llm
    while span.get("parent_id") in by_id:
        span = by_id[span["parent_id"]]
        chain.append(span["name"])
    assert chain == ["persona coder", "stage plan", "invoke_workflow release"]


def test_spans_beyond_the_followed_limit_are_stamped_not_counted_and_said_once(
    cap: Capture,
    openai_v2: Any,
    llm_server: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agentobs._export import interop, pipeline

    monkeypatch.setattr(interop, "PENDING_LIMIT", 0)
    with scoped():
        for _ in range(2):
            client(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert all(
        s.attributes["agentobs.persona.name"] == "coder" for s in cap.spans_named("chat gpt-4o")
    )
    assert cap.metric_points("agentobs.tokens") == []
    current = pipeline.current()
    assert current is not None
    assert current.interop.dropped == 2
    assert caplog.text.count("spans of other instrumentations are open at once") == 1
