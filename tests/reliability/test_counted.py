"""Every drop and failure counted: self-telemetry under the OpenTelemetry SDK's own names,
exact figures in the shutdown line, the same figures on /metrics (read back by Prometheus)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from opentelemetry import trace

import agentobs
from agentobs._export import pipeline as _pipeline
from tests.backends import PrometheusFactory
from tests.reliability._support import (
    StatusServer,
    closed_port,
    report,
    shutdown_figures,
    stalling_server,
)

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def burst(spans: int, threads: int) -> None:
    tracer = trace.get_tracer("tests.reliability")

    def work(count: int) -> None:
        for _ in range(count):
            with tracer.start_as_current_span("burst"):
                pass

    workers = [threading.Thread(target=work, args=(spans // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def configure_and_burst(url: str, *, timeout: float, spans: int, threads: int) -> None:
    """OTLP to ``url`` (a stalling server: nothing gets exported) with a queue of 600, then
    ``spans`` spans from ``threads`` threads."""
    agentobs.configure(
        exporter="otlp", endpoint=url, timeout=timeout, max_queue_size=600, logs=False
    )
    burst(spans, threads)


def shutdown_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "agentobs")


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_backend_down_every_span_is_counted_exactly(
    caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    agentobs.configure(
        exporter="otlp",
        endpoint=f"http://127.0.0.1:{closed_port()}",
        protocol=protocol,
        timeout=0.3,
        max_queue_size=64,
        logs=False,
    )
    burst(4000, threads=4)
    agentobs.shutdown(timeout=3)
    figures = shutdown_figures(shutdown_text(caplog))
    report(f"backend down ({protocol}), 4000 spans, queue 64", **figures)
    assert figures["exported"] == 0
    assert figures["dropped (queue full)"] > 0
    lost = figures["failed"] + figures["dropped (queue full)"] + figures["still queued"]
    assert lost == 4000, figures


def test_shutdown_that_times_out_still_gives_exact_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    with stalling_server() as stalled:
        configure_and_burst(stalled.url, timeout=5, spans=1500, threads=3)
        assert agentobs.shutdown(timeout=0.5) is False
    text = shutdown_text(caplog)
    assert "agentobs: shutdown timed out;" in text
    figures = shutdown_figures(text)
    report("stalled backend, shutdown timeout 0.5 s, 1500 spans", **figures)
    in_flight = 1500 - sum(figures.values())
    assert figures["exported"] == 0
    # At most one batch (512) is in the exporter's hands, neither sent nor failed yet.
    assert 0 <= in_flight <= 512, figures


def test_a_timed_out_shutdown_reports_once_and_leaves_the_next_pipeline_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The shutdown that gave up waiting goes on closing in its thread: when it ends (the
    stalled request times out), it neither logs a second shutdown line nor switches off the
    secret scrubbing of the pipeline configured meanwhile."""
    from agentobs import _secrets

    caplog.set_level(logging.INFO, logger="agentobs")
    with stalling_server() as stalled:
        configure_and_burst(stalled.url, timeout=1, spans=600, threads=1)
        earlier = set(threading.enumerate())  # earlier tests' shutdowns may still be closing
        assert agentobs.shutdown(timeout=0.3) is False
        agentobs.configure(exporter="none", logs=False)
        scrubber = _secrets.ACTIVE
        assert scrubber is not None
        closing = [
            t for t in threading.enumerate() if t.name == "agentobs-shutdown" and t not in earlier
        ]
        assert closing, "the timed-out shutdown's thread"
        for thread in closing:
            thread.join(10)
            assert not thread.is_alive()
    heads = ("agentobs: shutdown;", "agentobs: shutdown timed out;")
    lines = [line for line in shutdown_text(caplog).splitlines() if line.startswith(heads)]
    assert len(lines) == 1, lines
    assert lines[0].startswith(heads[1])
    assert _secrets.ACTIVE is scrubber


def test_self_telemetry_reaches_prometheus_with_the_exact_counts(
    prometheus: PrometheusFactory, tmp_path: Any
) -> None:
    refusing = StatusServer(400)  # Langfuse refuses every batch
    try:
        agentobs.configure(
            exporter="local",
            local_dir=tmp_path,
            prometheus_port=0,
            max_queue_size=2048,
            logs=False,
            langfuse={"public_key": "pk-lf-x", "secret_key": "sk-lf-x", "host": refusing.url},
        )
        pipeline = _pipeline.current()
        assert pipeline is not None
        assert pipeline.prometheus_address is not None
        with agentobs.workflow("counted"):
            burst(300, threads=3)
        assert agentobs.force_flush(timeout=10)
        traces = pipeline.counts.tally("traces")
        host, port = pipeline.prometheus_address
        server = prometheus([f"{host}:{port}"])

        def total(query: str) -> float:
            return sum(float(r["value"][1]) for r in server.query(query, timeout=30))

        local = total(
            'otel_sdk_exporter_span_exported_total{otel_component_type="local_span_exporter",'
            'error_type=""}'
        )
        langfuse_failed = total(
            'otel_sdk_exporter_span_exported_total{otel_component_type="langfuse_span_exporter",'
            'error_type="export_failed"}'
        )
        handed = total(
            'otel_sdk_processor_span_processed_total{otel_component_type="batching_span_processor",'
            'error_type=""}'
        )
        capacity = total("otel_sdk_processor_span_queue_capacity")
        report(
            "self-telemetry in Prometheus",
            local_exported=local,
            langfuse_failed=langfuse_failed,
            processor_handed=handed,
            queue_capacity=capacity,
        )
        assert local == 301 == traces["exported"]  # 300 spans and the workflow
        assert langfuse_failed == 301 == traces["failed"]
        assert handed == 602
        assert capacity == 2 * 2048
        assert refusing.requests >= 1
    finally:
        agentobs.shutdown()
        refusing.close()
