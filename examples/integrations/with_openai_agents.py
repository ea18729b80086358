"""The OpenAI Agents SDK traced by OpenInference's instrumentor, inside agentobs scopes: the
agent's spans carry the persona, workflow and stage; its model responses count in agentobs's
tokens, cost and budgets.

    pip install agentobs openai-agents openinference-instrumentation-openai-agents
    OPENAI_API_KEY=sk-... python examples/integrations/with_openai_agents.py
    agentobs report

The instrumentor replaces the SDK's own exporter to OpenAI's servers (its default,
``exclusive_processor=True``), so the traces go to agentobs's pipeline only.
"""

from __future__ import annotations

from agents import Agent, Runner
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

import agentobs


def main() -> None:
    agentobs.configure(service_name="interop-openai-agents")
    OpenAIAgentsInstrumentor().instrument()
    agent = Agent(name="writer", instructions="Be brief.", model="gpt-4o")
    budget = agentobs.TokenBudget("writing", tokens=10_000)
    with (
        agentobs.workflow("release"),
        agentobs.stage("write"),
        agentobs.persona("writer", budget=budget),
    ):
        result = Runner.run_sync(agent, "Write the release announcement.")
    print(result.final_output)
    print(f"budget used: {budget.used_tokens} tokens, ${budget.used_usd:.6f}")
    agentobs.shutdown()


if __name__ == "__main__":
    main()
