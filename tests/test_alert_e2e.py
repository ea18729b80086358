"""One alert end to end: a token budget spent in a real run (the instrumented OpenAI client
against the loopback LLM server) fires AgentobsBudgetExhausted in a real Prometheus with the
shipped rules, which sends it to a real Alertmanager, which delivers it to a webhook receiver
on loopback with its labels and runbook URL."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import agentobs
import agentobs.testing
from agentobs.integrations import openai as openai_integration
from tests.backends import AlertmanagerFactory, PrometheusFactory, free_port, poll
from tests.llm_server import FakeLLM

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "agentobs-rules.yml"
ALERT = "AgentobsBudgetExhausted"


class Webhook:
    """An Alertmanager webhook receiver on 127.0.0.1: keeps every notification it gets."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [
            alert
            for notification in list(self.notifications)
            for alert in notification["alerts"]
            if alert["labels"].get("alertname") == name and alert["status"] == "firing"
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.mark.backend("alertmanager")
def test_a_spent_budget_reaches_the_webhook(
    prometheus: PrometheusFactory,
    alertmanager: AlertmanagerFactory,
    webhook: Webhook,
    clean_env: None,
) -> None:
    route = {
        "route": {"receiver": "webhook", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook.url}]}],
    }  # fmt: skip
    manager = alertmanager(json.dumps(route))
    port = free_port()
    agentobs.testing.reset()
    try:
        agentobs.configure(
            service_name="agentobs-alert", exporter="none", prometheus_port=port, logs=False
        )
        agentobs.instrument_openai()
        prometheus([f"127.0.0.1:{port}"], rule_files=[RULES], alertmanagers=[manager.address])
        with FakeLLM() as llm:
            client = openai.OpenAI(base_url=llm.base_url, api_key="sk-test", max_retries=0)
            budget = agentobs.TokenBudget("nightly-run", tokens=20)
            with agentobs.workflow("nightly", budget=budget):
                for _ in range(2):  # 17 tokens a call: the second one overspends
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                    )
            assert budget.remaining_tokens is not None
            assert budget.remaining_tokens < 0

            [alert] = poll(
                lambda: webhook.alerts(ALERT) or None,
                timeout=45,
                interval=0.25,
                what=f"{ALERT} at the webhook",
            )
    finally:
        openai_integration.uninstrument()
        agentobs.testing.reset()
    labels = alert["labels"]
    assert labels["severity"] == "warning"
    assert labels["agentobs_budget_name"] == "nightly-run"
    assert labels["agentobs_budget_unit"] == "token"
    assert labels["job"] == "agentobs-test"
    url = alert["annotations"]["runbook_url"]
    assert url.endswith(f"/{ALERT}.md")
    assert (ROOT / "docs" / "runbooks" / f"{ALERT}.md").is_file()
    assert "nightly-run (token) is overspent" in alert["annotations"]["description"]
    assert [a["labels"]["alertname"] for a in manager.alerts()].count(ALERT) == 1


def test_concurrent_runs_of_one_budget_name_alert_on_the_most_spent(
    prometheus: PrometheusFactory, clean_env: None
) -> None:
    """Two runs of one workflow, each with its ``per_run`` budget named alike, in threads:
    the shipped ratio rule, scraped by a real Prometheus, shows the run that is low (10 %
    left), not whichever wrote last (90 %), also after the other run has ended."""
    port = free_port()
    agentobs.testing.reset()
    steps = {name: threading.Event() for name in ("a", "b", "b_may_end", "a_may_end")}

    @agentobs.llm(provider="openai", model="gpt-4o-mini")
    def call(tokens: int) -> Any:
        return {"usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10}}

    @agentobs.workflow("nightly", budget=agentobs.TokenBudget("run", tokens=1_000, per_run=True))
    def run(tokens: int, me: str) -> None:
        call(tokens)
        steps[me].set()
        steps[f"{me}_may_end"].wait(60)

    ratio = 'agentobs:budget_remaining:ratio{agentobs_budget_name="run"}'
    workers = [
        threading.Thread(target=run, args=(900, "a")),
        threading.Thread(target=run, args=(100, "b")),
    ]

    def evaluated_after(moment: float) -> list[dict[str, Any]]:
        """The ratio, once the rule has been evaluated on a scrape made after ``moment``."""
        fresh = f"{ratio} and timestamp({ratio}) > {moment + 2:.3f}"
        return poll(
            lambda: server.query_once(fresh) or None,
            timeout=30,
            interval=0.25,
            what=f"PromQL {fresh!r}",
        )

    try:
        agentobs.configure(
            service_name="agentobs-budgets", exporter="none", prometheus_port=port, logs=False
        )
        server = prometheus([f"127.0.0.1:{port}"], rule_files=[RULES])
        workers[0].start()
        assert steps["a"].wait(10)
        workers[1].start()  # run b spends after run a
        assert steps["b"].wait(10)
        [low] = evaluated_after(time.time())
        steps["b_may_end"].set()
        workers[1].join(10)
        ended = evaluated_after(time.time())  # run b has ended: still run a's 10 %
    finally:
        for step in steps.values():
            step.set()
        for worker in workers:
            worker.join(10)
        agentobs.testing.reset()
    assert float(low["value"][1]) == pytest.approx(0.1)
    assert [float(r["value"][1]) for r in ended] == [pytest.approx(0.1)]
    assert len(server.query_once(ratio)) == 1  # one series for the two runs
