"""Right after a flush, the next scrape of /metrics lists each series once.

The SDK alone causes the repeat: its PrometheusMetricReader queues every collection (a
``force_flush`` of agentobs or of the MeterProvider is one) and the next scrape renders them
all. Read back over HTTP, and by a real Prometheus, which drops a scrape whose series repeat.
"""

from __future__ import annotations

import re
import urllib.request
from collections import Counter

import pytest
from opentelemetry import metrics

import agentobs
from agentobs._export import pipeline as _pipeline
from tests.backends import PrometheusFactory
from tests.reliability._support import report

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def scrape(host: str, port: int) -> list[str]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def test_each_series_once_right_after_a_flush(prometheus: PrometheusFactory) -> None:
    agentobs.configure(exporter="none", prometheus_port=0, logs=False)
    pipeline = _pipeline.current()
    assert pipeline is not None
    assert pipeline.prometheus_address is not None
    host, port = pipeline.prometheus_address
    with agentobs.workflow("scraped"), agentobs.stage("build"):
        pass
    agentobs.force_flush()
    after_ours = scrape(host, port)
    metrics.get_meter_provider().force_flush()  # type: ignore[attr-defined]
    agentobs.force_flush()
    after_both = scrape(host, port)
    repeats = {
        name: sum(c - 1 for line, c in Counter(lines).items() if c > 1)
        for name, lines in (("agentobs.force_flush", after_ours), ("both", after_both))
    }
    report("series repeated in the scrape after a flush", **repeats)
    assert re.search(
        r'^agentobs_workflow_runs_total\{.*gen_ai_workflow_name="scraped"',
        "\n".join(after_ours),
        re.M,
    )
    assert repeats == {"agentobs.force_flush": 0, "both": 0}

    server = prometheus([f"{host}:{port}"])
    agentobs.force_flush()
    result = server.query('agentobs_workflow_runs_total{gen_ai_workflow_name="scraped"}')
    assert [float(r["value"][1]) for r in result] == [1.0]
    health = server.api("targets")["activeTargets"][0]
    assert health["health"] == "up", health
