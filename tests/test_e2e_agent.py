"""End to end, against real backends: Phoenix reads back an agent tree with the span kinds it
derives from the GenAI names, and Prometheus scraping ``/metrics`` finds every catalogue
metric under the name docs/metrics.md gives.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path

import pytest

import agentobs
from agentobs import _catalogue
from agentobs._prometheus import prometheus_name
from agentobs._state import STATE
from tests.backends import Phoenix, PrometheusFactory, free_port

FLUSH_TIMEOUT = 15.0


pytestmark = pytest.mark.usefixtures("backend_agentobs")


@pytest.mark.backend("phoenix")
def test_phoenix_reads_back_the_agent_tree(phoenix: Phoenix) -> None:
    project = f"agent-tree-{uuid.uuid4().hex[:8]}"
    agentobs.configure(
        service_name="agentobs-e2e",
        exporter="otlp",
        endpoint=phoenix.http_endpoint,
        resource_attributes={"openinference.project.name": project},
        logs=False,
    )

    @agentobs.tool("web_search")
    def search(query: str) -> str:
        return f"results for {query}"

    with agentobs.workflow("release"), agentobs.persona("coder", chatmode="edit"):
        with agentobs.agent("planner"), agentobs.stage("research"):
            search("otel")
        with agentobs.quality_gate("review", threshold=0.5) as gate:
            gate.score(0.9)
    assert agentobs.shutdown(FLUSH_TIMEOUT)

    spans = {s["name"]: s for s in phoenix.spans(project, min_count=6, timeout=60)}
    names = [
        "invoke_workflow release",
        "persona coder",
        "invoke_agent planner",
        "stage research",
        "execute_tool web_search",
    ]
    assert set(names) <= set(spans), sorted(spans)
    chain = [spans[name] for name in names]
    assert chain[0]["parent_id"] is None
    for parent, child in itertools.pairwise(chain):
        assert child["parent_id"] == parent["context"]["span_id"], child["name"]
        assert child["context"]["trace_id"] == chain[0]["context"]["trace_id"]

    kinds = {name: spans[name]["span_kind"] for name in names}
    assert kinds == {
        "invoke_workflow release": "CHAIN",
        "persona coder": "CHAIN",
        "invoke_agent planner": "AGENT",  # derived by Phoenix from gen_ai.operation.name
        "stage research": "CHAIN",
        "execute_tool web_search": "TOOL",  # derived by Phoenix from gen_ai.operation.name
    }
    tool = spans["execute_tool web_search"]["attributes"]
    assert tool["gen_ai.tool.name"] == "web_search"
    assert tool["agentobs.persona.name"] == "coder"
    gate = spans["quality_gate review"]
    assert gate["span_kind"] == "EVALUATOR"
    assert gate["parent_id"] == spans["persona coder"]["context"]["span_id"]
    assert gate["attributes"]["agentobs.gate.result"] == "pass"


def _record_every_instrument() -> None:
    """Record one value into every catalogue instrument: through the API for the agent
    instruments, through the catalogue's recorders for the others (LLM, tests, budgets)."""
    from opentelemetry.metrics import CallbackOptions, Observation

    with agentobs.workflow("w"), agentobs.persona("a"):
        with agentobs.persona("b"), agentobs.stage("s"), agentobs.agent("ag"):
            with agentobs.task("t"), agentobs.tool("x"):
                agentobs.human_intervention("r")
            agentobs.record_gate("g", True, score=0.9)
        with agentobs.stage("s"):
            pass
    recorders = STATE.recorders
    assert recorders is not None
    for instrument in _catalogue.CATALOGUE:
        if instrument.kind == "observable_gauge":
            if instrument.name not in recorders:  # reported by another part (pytest plugin)

                def observe(_options: CallbackOptions) -> list[Observation]:
                    return [Observation(1.0, {})]

                assert STATE.meter is not None
                STATE.meter.create_observable_gauge(
                    instrument.name,
                    callbacks=[observe],
                    unit=instrument.unit,
                    description=instrument.description,
                )
        else:
            recorders[instrument.name].record(1, {})


@pytest.mark.backend("prometheus")
def test_prometheus_scrapes_every_catalogue_metric(
    prometheus: PrometheusFactory, tmp_path: Path
) -> None:
    port = free_port()
    agentobs.configure(
        service_name="agentobs-e2e",
        exporter="local",  # batch processors and exporters: their self-telemetry
        local_dir=tmp_path,
        prometheus_port=port,
        prometheus_host="127.0.0.1",
        logs=False,
    )
    release, running = threading.Event(), threading.Event()

    def stuck_workflow() -> None:  # keeps the gauges of things in progress reporting
        jobs = agentobs.queue("q")
        with (
            agentobs.session("s", kind="chat"),
            agentobs.workflow("stuck"),
            jobs.work(jobs.enqueued()),
            agentobs.suspended("review"),
        ):
            running.set()
            release.wait(120)

    holder = threading.Thread(target=stuck_workflow)
    holder.start()
    try:
        assert running.wait(10)
        _record_every_instrument()
        prom = prometheus([f"127.0.0.1:{port}"])
        missing = []
        for instrument in _catalogue.CATALOGUE:
            name = prometheus_name(instrument)
            series = f"{name}_count" if instrument.kind == "histogram" else name
            result = prom.query(f'{{__name__="{series}", otel_scope_name="agentobs"}}', timeout=30)
            if not result:
                missing.append(series)
        assert not missing
        [runs] = prom.query(
            'agentobs_task_runs_total{agentobs_status="ok", otel_scope_name="agentobs"}'
        )
        assert float(runs["value"][1]) >= 1
        [age] = prom.query('agentobs_workflow_oldest_age_seconds{gen_ai_workflow_name="stuck"}')
        assert float(age["value"][1]) > 0
        [switch] = prom.query(
            'agentobs_persona_switches_total{agentobs_persona_from="a", agentobs_persona_to="b"}'
        )
        assert float(switch["value"][1]) == 1
    finally:
        release.set()
        holder.join(30)
