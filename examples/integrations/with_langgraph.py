"""A LangGraph graph traced by OpenInference's LangChain instrumentation, inside agentobs
scopes: the graph's spans carry the persona, workflow and stage; its model calls (and only
those, not the chains around them) count in agentobs's tokens, cost and budgets.

    pip install agentobs openinference-instrumentation-langchain langchain-openai langgraph
    OPENAI_API_KEY=sk-... python examples/integrations/with_langgraph.py
    agentobs report
"""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from openinference.instrumentation.langchain import LangChainInstrumentor

import agentobs


def build_graph() -> Any:
    model = ChatOpenAI(model="gpt-4o")

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph.compile()


def main() -> None:
    agentobs.configure(service_name="interop-langgraph")
    LangChainInstrumentor().instrument()
    budget = agentobs.TokenBudget("research", tokens=10_000)
    with (
        agentobs.workflow("release"),
        agentobs.stage("research"),
        agentobs.persona("researcher", budget=budget),
    ):
        result = build_graph().invoke({"messages": [("user", "What changed?")]})
    print(result["messages"][-1].content)
    print(f"budget used: {budget.used_tokens} tokens, ${budget.used_usd:.6f}")
    agentobs.shutdown()


if __name__ == "__main__":
    main()
