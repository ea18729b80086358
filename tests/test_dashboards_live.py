"""Live: every dashboard panel and every alert expression returns data from a real Prometheus.

A real workload (the demo's fleet, plus tasks and OpenAI calls against the loopback LLM
server) serves /metrics; a real pytest run pushes its gauges to a Pushgateway; Prometheus
scrapes both every second with the shipped rules loaded. Then, over the run, `query_range`
of every panel target (variables set to `.*` and to real values) and of every alert
expression with its threshold removed must return at least one finite value: Prometheus
answers `success` with an empty result for a name nothing emits, so emptiness is the failure.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

import agentobs
import agentobs.testing
from agentobs.cli._assets import files
from agentobs.cli._assets import rules as rules_module
from agentobs.cli.demo import FakeModel, Fleet
from agentobs.integrations import openai as openai_integration
from tests import dashboard_preview
from tests import promql_check as check
from tests.backends import (
    Chromium,
    Prometheus,
    PrometheusFactory,
    Pushgateway,
    free_port,
    http_get,
)
from tests.backends import clean_env as process_env
from tests.llm_server import FakeLLM

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "agentobs-rules.yml"
RATE_INTERVAL = "5s"  # Grafana's $__rate_interval for a 1 s scrape is 4 s
SUITE = "release-checks"
BOARD_ORDER = ("agentobs-agents", "agentobs-personas", "agentobs-workflows", "agentobs-tests")

SUITE_TESTS = textwrap.dedent(
    """
    import os
    import pytest

    def test_passes():
        assert True

    def test_fails():
        assert 0.62 >= 0.7

    @pytest.mark.skip(reason="needs a GPU runner")
    def test_skipped():
        pass

    def test_flaky():
        marker = os.path.join(os.path.dirname(__file__), "warm")
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise TimeoutError("cold")
    """
)


def start_test_suite(pushgateway: Pushgateway, directory: Path) -> subprocess.Popen[str]:
    """A pytest run under the agentobs plugin, with coverage and a rerun (a flaky test),
    pushing its gauges to the Pushgateway."""
    (directory / "test_release_checks.py").write_text(SUITE_TESTS, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:flaky"]
    command += ["-p", "no:randomly", "--reruns", "1", f"--cov={directory}"]
    command += ["--agentobs-pushgateway", pushgateway.address, "--agentobs-suite", SUITE]
    command += ["--agentobs-export", "none", "--agentobs-history", "none", str(directory)]
    return subprocess.Popen(
        command, cwd=directory, env=process_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


class Workload:
    """The demo fleet's release workflow, triage tasks calling the real OpenAI client, human
    interventions, and a workflow that stays open (stuck), in threads until stopped."""

    def __init__(self, llm: FakeLLM) -> None:
        self.llm = llm
        self.budget = agentobs.TokenBudget("planner", usd=100.0)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._guard, args=(self._loop,), daemon=True),
            threading.Thread(target=self._guard, args=(self._stuck,), daemon=True),
        ]

    def _guard(self, target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def _loop(self) -> None:
        fleet = Fleet(FakeModel(3), 3)
        client = openai.OpenAI(base_url=self.llm.base_url, api_key="sk-test", max_retries=0)
        number = 0
        while not self.stop.is_set():
            number += 1
            fleet.release(f"change-{number}")
            with (
                agentobs.workflow("triage"),
                agentobs.persona("planner", chatmode="plan", budget=self.budget),
                agentobs.agent("triage-agent"),
            ):
                with agentobs.task("classify", task_type="classify"):
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                    )
                if number % 3 == 0:  # a failing task and a failing LLM call
                    self.llm.fail("/v1/chat/completions", 500)
                    try:
                        with agentobs.task("fetch", task_type="fetch"):
                            client.chat.completions.create(
                                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
                            )
                    except openai.InternalServerError:
                        pass
                agentobs.human_intervention("approval")
            time.sleep(0.2)

    def _stuck(self) -> None:
        with agentobs.workflow("nightly-batch"):
            self.stop.wait()

    def __enter__(self) -> Workload:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@dataclass
class Run:
    prometheus: Prometheus
    start: float
    end: float

    def query_range(self, promql: str) -> list[dict[str, Any]]:
        data = self.prometheus.api(
            "query_range", query=promql, start=f"{self.start:.3f}", end=f"{self.end:.3f}",
            step="1",
        )  # fmt: skip
        return list(data["result"])

    def has_data(self, promql: str) -> bool:
        """At least one finite value over the run."""
        return any(
            math.isfinite(float(value))
            for series in self.query_range(promql)
            for _, value in series["values"]
        )

    def label_values(self, selector: str, label: str) -> list[str]:
        query = urllib.parse.urlencode(
            {"match[]": selector, "start": f"{self.start:.3f}", "end": f"{self.end:.3f}"}
        )
        url = f"{self.prometheus.url}/api/v1/label/{label}/values?{query}"
        status, body = http_get(url)
        assert status == 200, body[:300]
        values: list[str] = json.loads(body)["data"]
        return values


@pytest.fixture
def live_run(
    prometheus: PrometheusFactory, pushgateway: Pushgateway, tmp_path: Path, clean_env: None
) -> Iterator[Run]:
    """The workload and the test run, scraped by Prometheus with the rules loaded."""
    port = free_port()
    agentobs.testing.reset()
    agentobs.configure(
        service_name="agentobs-live", exporter="none", prometheus_port=port, logs=False
    )
    agentobs.instrument_openai()
    suite = start_test_suite(pushgateway, tmp_path)
    prom = prometheus([f"127.0.0.1:{port}", pushgateway.address], rule_files=[RULES])
    start = time.time()
    try:
        with FakeLLM() as llm, Workload(llm) as workload:
            output, _ = suite.communicate(timeout=60)
            assert re.search(r"1 failed, 2 passed, 1 skipped, \d+ rerun", output), output
            prom.query('agentobs_test_run_pass_rate{job="agentobs_pytest"}', timeout=20)
            time.sleep(4)  # a few scrapes and rule evaluations of the steady workload
            assert not workload.errors, workload.errors
            yield Run(prom, start, time.time())
    finally:
        if suite.poll() is None:
            suite.kill()
        openai_integration.uninstrument()
        agentobs.testing.reset()


def board_variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"] if v["type"] == "query"}


def variable_query(variable: dict[str, Any], values: dict[str, str]) -> tuple[str, str]:
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
    assert match, variable["query"]["query"]
    return check.substitute(match.group(1), values), match.group(2)


def real_value(run: Run, expr: str, variable: dict[str, Any], choices: list[str]) -> str | None:
    """A value of ``variable`` its dropdown offers and the target's series carry."""
    _, label = variable_query(variable, {})
    shown: set[str] = set()
    for selector in check.selectors(check.substitute(expr)):
        if selector.name in check.COUNTER_FUNCTIONS or not selector.name:
            continue
        shown |= set(run.label_values(selector.name, label))
    return next((value for value in choices if value in shown), None)


@pytest.mark.backend("prometheus")
def test_every_panel_and_alert_returns_data_and_the_preview_renders(
    live_run: Run, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    boards = {name: json.loads(text) for name, text in files("dashboards").items()}
    dead: list[str] = []
    checked = 0
    for name, board in boards.items():
        variables = board_variables(board)
        choices: dict[str, list[str]] = {}
        for var_name, variable in variables.items():
            selector, label = variable_query(variable, {})
            choices[var_name] = live_run.label_values(selector, label)
            if not choices[var_name]:
                dead.append(f"{name}: variable ${var_name} has no values ({selector})")
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                settings: list[dict[str, str]] = [{}]
                for var_name in sorted(check.variables_in(expr)):
                    value = real_value(live_run, expr, variables[var_name], choices[var_name])
                    if value is None:
                        dead.append(f"{name}: {panel['title']}: no value of ${var_name} shows data")
                    else:
                        settings.append({var_name: value})
                for values in settings:
                    promql = check.substitute(
                        expr, {**values, "__range": "60s"}, interval=RATE_INTERVAL
                    )
                    checked += 1
                    if not live_run.has_data(promql):
                        dead.append(f"{name}: {panel['title']} {target['refId']} {values}")
    t = rules_module.defaults()
    for alert in rules_module.alerts(t):
        for query, _condition in alert.parts:
            checked += 1
            if not live_run.has_data(query):
                dead.append(f"alert {alert.name} ({alert.severity}): {query}")
    assert not dead, "\n".join(dead)
    assert checked > 100
    # the check can fail: a name nothing emits (a missed unit suffix) answers empty
    assert not live_run.has_data(f"rate(agentobs_workflow_runs[{RATE_INTERVAL}])")

    # the picture: each board's panels drawn from the same Prometheus, shot by Chromium
    chromium: Chromium = request.getfixturevalue("chromium")
    boards_in_order = [boards[f"{uid}.json"] for uid in BOARD_ORDER]
    html = dashboard_preview.page(
        boards_in_order,
        lambda expr: live_run.query_range(
            check.substitute(expr, {"__range": "60s"}, interval=RATE_INTERVAL)
        ),
        f"Every panel's queries run against a live Prometheus ({live_run.prometheus.url}), "
        "variables at All.",
    )
    assert "no data" not in html
    preview = tmp_path / "dashboards-preview.html"
    preview.write_text(html, encoding="utf-8")
    shot = chromium.screenshot(preview, tmp_path / "dashboards-preview.png", height=6000)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 50_000  # charts, not a blank page

    groups = live_run.prometheus.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert len(rules) == sum(len(g["rules"]) for g in rules_module.rule_groups()["groups"])
    assert not unhealthy
