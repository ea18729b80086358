"""End to end: ``agentobs.configure()`` sends to real backends, and we read it back.

Traces go to Phoenix over both OTLP protocols; metrics and logs go to rotel (an OTel
collector that prints what it receives); the Prometheus endpoint is scraped by a real
Prometheus. Each test configures agentobs once and resets it afterwards.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import metrics, trace

import agentobs
from tests.backends import Phoenix, PrometheusFactory, Rotel, free_port

PROTOCOLS = ["http/protobuf", "grpc"]
FLUSH_TIMEOUT = 15.0


def _reset_agentobs() -> None:
    try:
        from agentobs import testing
    except ImportError:
        agentobs.shutdown(5.0)
        return
    testing.reset()


@pytest.fixture(autouse=True)
def fresh_agentobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_*/AGENTOBS_* settings from the environment; agentobs reset around the test."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_")) and name != "AGENTOBS_REQUIRE_BACKENDS":
            monkeypatch.delenv(name)
    _reset_agentobs()
    yield
    _reset_agentobs()


def unique(prefix: str) -> str:
    """A name no other test (or earlier run against the same server) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.backend("phoenix")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_spans_reach_phoenix(phoenix: Phoenix, protocol: str) -> None:
    project = unique(f"e2e-{protocol.replace('/', '-')}")
    endpoint = phoenix.grpc_endpoint if protocol == "grpc" else phoenix.http_endpoint
    agentobs.configure(
        service_name="agentobs-e2e",
        exporter="otlp",
        endpoint=endpoint,
        protocol=protocol,
        resource_attributes={"openinference.project.name": project},
        logs=False,
    )
    tracer = trace.get_tracer("tests.e2e")
    with (
        tracer.start_as_current_span(
            "invoke_agent planner", attributes={"gen_ai.operation.name": "invoke_agent"}
        ),
        tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 11,
                "gen_ai.usage.output_tokens": 7,
            },
        ),
    ):
        pass
    assert agentobs.force_flush(FLUSH_TIMEOUT)

    spans = {s["name"]: s for s in phoenix.spans(project, min_count=2, timeout=30)}
    assert set(spans) == {"invoke_agent planner", "chat gpt-4o"}
    agent, chat = spans["invoke_agent planner"], spans["chat gpt-4o"]
    assert agent["span_kind"] == "AGENT"
    assert chat["span_kind"] == "LLM"
    assert chat["parent_id"] == agent["context"]["span_id"]
    assert chat["context"]["trace_id"] == agent["context"]["trace_id"]
    assert chat["attributes"]["llm.token_count.total"] == 18


@pytest.mark.backend("rotel")
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metrics_and_logs_reach_otlp_collector(rotel: Rotel, protocol: str) -> None:
    metric_name = f"agentobs.e2e.calls.{uuid.uuid4().hex[:8]}"
    message = unique(f"e2e warning over {protocol}")
    agentobs.configure(
        service_name="agentobs-e2e",
        exporter="otlp",
        endpoint=rotel.endpoint(protocol),
        protocol=protocol,
        metric_export_interval=60,  # only the explicit flush exports
    )
    counter = metrics.get_meter("tests.e2e").create_counter(metric_name, unit="{call}")
    counter.add(2, {"gen_ai.operation.name": "chat"})
    counter.add(3, {"gen_ai.operation.name": "chat"})
    logging.getLogger("tests.e2e").warning("%s", message)
    assert agentobs.force_flush(FLUSH_TIMEOUT)

    point = rotel.wait_for_metric(metric_name, attributes={"gen_ai.operation.name": "chat"})
    assert point.value == 5
    assert point.fields["Unit"] == "{call}"
    assert point.resource["service.name"] == "agentobs-e2e"

    record = rotel.wait_for_log(message)
    assert record.body == message
    assert record.fields["SeverityText"] == "WARN"
    assert record.resource["service.name"] == "agentobs-e2e"


@pytest.mark.backend("prometheus")
def test_prometheus_endpoint_is_scraped(prometheus: PrometheusFactory) -> None:
    port = free_port()
    agentobs.configure(
        service_name="agentobs-e2e",
        exporter="none",
        prometheus_port=port,
        prometheus_host="127.0.0.1",
        logs=False,
    )
    meter = metrics.get_meter("tests.e2e")
    meter.create_counter("agentobs.e2e.scraped.requests", unit="{request}").add(
        4, {"gen_ai.operation.name": "chat"}
    )
    meter.create_histogram("agentobs.e2e.scraped.duration", unit="s").record(0.25)

    prom = prometheus([f"127.0.0.1:{port}"])
    [sample] = prom.query(
        'agentobs_e2e_scraped_requests_total{gen_ai_operation_name="chat"}', timeout=30
    )
    assert float(sample["value"][1]) == 4
    assert sample["metric"]["otel_scope_name"] == "tests.e2e"
    [count] = prom.query("agentobs_e2e_scraped_duration_seconds_count", timeout=30)
    assert float(count["value"][1]) == 1
    [info] = prom.query('target_info{service_name="agentobs-e2e"}', timeout=30)
    assert info["metric"]["instance"] == f"127.0.0.1:{port}"


@pytest.mark.backend("prometheus")
def test_a_picked_prometheus_port_is_logged_exposed_and_scraped(
    prometheus: PrometheusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    assert agentobs.prometheus_address() is None
    with caplog.at_level(logging.INFO, logger="agentobs"):
        agentobs.configure(service_name="picked", exporter="none", prometheus_port=0, logs=False)
    address = agentobs.prometheus_address()
    assert address is not None
    assert address.startswith("127.0.0.1:")
    assert int(address.rsplit(":", 1)[1]) > 0
    assert f"Prometheus metrics are served at http://{address}/metrics" in caplog.text
    with agentobs.workflow("scraped"):
        pass
    prom = prometheus([address])
    [sample] = prom.query('agentobs_workflow_runs_total{gen_ai_workflow_name="scraped"}')
    assert float(sample["value"][1]) == 1
    agentobs.shutdown()
    assert agentobs.prometheus_address() is None
