"""The OpenTelemetry contrib OpenAI instrumentation (opentelemetry-instrumentation-openai-v2)
inside agentobs scopes: its spans carry the persona, workflow and stage, and its calls count
in agentobs's tokens, cost and budgets.

    pip install agentobs opentelemetry-instrumentation-openai-v2 'opentelemetry-util-genai<1.2'
    OPENAI_API_KEY=sk-... python examples/integrations/with_openai_v2.py
    agentobs report

``OPENAI_BASE_URL`` points the client at any OpenAI-compatible server.
"""

from __future__ import annotations

import openai
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

import agentobs


def main() -> None:
    agentobs.configure(service_name="interop-openai-v2")
    OpenAIInstrumentor().instrument()  # after configure(): it traces to agentobs's pipeline
    client = openai.OpenAI()
    budget = agentobs.TokenBudget("planning", tokens=10_000)
    with (
        agentobs.workflow("release"),
        agentobs.stage("plan"),
        agentobs.persona("planner", budget=budget),
    ):
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Plan the release."}]
        )
    print(reply.choices[0].message.content)
    print(f"budget used: {budget.used_tokens} tokens, ${budget.used_usd:.6f}")
    agentobs.shutdown()


if __name__ == "__main__":
    main()
