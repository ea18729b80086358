"""The smallest useful agentobs program: a workflow with a persona, stages, a tool and a gate.

Run it with ``python examples/quickstart.py``, then ``agentobs report`` to read what it wrote
to ``.agentobs/`` (or set OTEL_EXPORTER_OTLP_ENDPOINT to send it to a collector instead).
"""

from __future__ import annotations

import agentobs


@agentobs.tool("search")
def search(query: str) -> list[str]:
    return [f"result for {query}"]


@agentobs.stage("plan")
def plan(goal: str) -> list[str]:
    return search(goal)


def main() -> None:
    agentobs.configure(service_name="quickstart")
    with agentobs.workflow("answer"), agentobs.persona("researcher"):
        results = plan("what changed in the release?")
        with agentobs.quality_gate("has-results") as gate:
            if results:
                gate.passed()
            else:
                gate.failed("no results")
    agentobs.shutdown()


if __name__ == "__main__":
    main()
