"""A Pydantic AI agent with its own OpenTelemetry instrumentation, inside agentobs scopes: the
agent's spans carry the persona, workflow and stage; each model request counts in agentobs's
tokens, cost (Pydantic AI's own ``operation.cost`` when it has one) and budgets.

    pip install agentobs 'pydantic-ai-slim[openai]'
    OPENAI_API_KEY=sk-... python examples/integrations/with_pydantic_ai.py
    agentobs report
"""

from __future__ import annotations

from pydantic_ai import Agent

import agentobs


def main() -> None:
    agentobs.configure(service_name="interop-pydantic-ai")
    agent = Agent("openai:gpt-4o", name="reviewer", instructions="Be brief.")
    agent.instrument = True  # Pydantic AI traces to the global provider agentobs installed
    budget = agentobs.TokenBudget("review", usd=0.50)
    with (
        agentobs.workflow("release"),
        agentobs.stage("review"),
        agentobs.persona("reviewer", budget=budget),
    ):
        result = agent.run_sync("Review the release notes.")
    print(result.output)
    print(f"budget used: {budget.used_tokens} tokens, ${budget.used_usd:.6f}")
    agentobs.shutdown()


if __name__ == "__main__":
    main()
