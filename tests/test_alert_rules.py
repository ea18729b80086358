"""The shipped rules pass `promtool check rules --lint=all`, and `promtool test rules` proves
every alert fires on a bad series and stays quiet on a healthy one (and, for the burn-rate
alerts, on one failure in a quiet hour). The Alertmanager example passes `amtool`."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends import missing_backend

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "agentobs-rules.yml"
ALERTMANAGER_EXAMPLE = ROOT / "docs" / "deploy" / "alertmanager.yml"
JOB = "agentobs-app"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_backend("prometheus", f"no {name} on PATH")
    return found


@functools.cache
def shipped_alerts() -> dict[str, list[dict[str, Any]]]:
    """The rule file's alerting rules by alert name."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in (r for g in groups for r in g["rules"] if "alert" in r):
        found.setdefault(rule["alert"], []).append(rule)
    return found


# --- expected annotations: Prometheus' template functions, for the values used below ----------


def _humanize(v: float) -> str:
    prefix = ""
    for p in ("k", "M", "G", "T"):
        if abs(v) < 1000:
            break
        prefix, v = p, v / 1000
    return f"{v:.4g}{prefix}"


def _duration(v: float) -> str:
    if abs(v) < 1:
        return f"{v * 1000:.4g}ms"
    d = int(v)
    days, hours, minutes, seconds = d // 86400, d // 3600 % 24, d // 60 % 60, d % 60
    if days:
        return f"{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{v:.4g}s"


_FUNCTIONS = {
    "": lambda v: str(int(v)) if float(v).is_integer() else repr(v),
    "humanize": _humanize,
    "humanizePercentage": lambda v: f"{v * 100:.4g}%",
    "humanizeDuration": _duration,
}


def render(template: str, labels: Mapping[str, str], value: float) -> str:
    """``template`` as Prometheus renders it for an alert with ``labels`` and ``value``."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner.startswith("$labels."):
            return labels[inner.removeprefix("$labels.")]
        head, _, function = (part.strip() for part in inner.partition("|"))
        assert head == "$value", template
        return _FUNCTIONS[function](value)

    return re.sub(r"\{\{(.+?)\}\}", one, template)


def expected(name: str, severity: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    rule = next(r for r in shipped_alerts()[name] if r["labels"]["severity"] == severity)
    annotations = {k: render(v, labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": {**labels, "severity": severity}, "exp_annotations": annotations}


# --- the unit tests: one group per alert ----------------------------------------------------


def series(name: str, labels: Mapping[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, **labels}.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _burn(name: str, total: str, ok: dict[str, str], error: dict[str, str], key: dict[str, str]):
    """Firing (1 in 6 fails), healthy (no failure) and quiet-hour (one failure among a few
    runs an hour) cases of a burn-rate alert."""
    labels = {"job": JOB, **key}
    firing = [
        expected(name, "critical", labels, 1 / 6),
        expected(name, "warning", labels, 1 / 6),
    ]
    return [
        {
            "input_series": [series(total, ok, "0+100x120"), series(total, error, "0+20x120")],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": name, "exp_alerts": []},
                {"eval_time": "20m", "alertname": name, "exp_alerts": firing},
            ],
        },
        {
            "input_series": [series(total, ok, "0+100x120"), series(total, error, "0x120")],
            "alert_rule_test": [{"eval_time": "20m", "alertname": name, "exp_alerts": []}],
        },
        {  # a quiet hour: 6 runs, one of them failed (a 14 % error ratio), no page
            "input_series": [series(total, ok, "0+0.1x30"), series(total, error, "0x10 1x20")],
            "alert_rule_test": [{"eval_time": "15m", "alertname": name, "exp_alerts": []}],
        },
    ]


def _simple(
    name: str,
    severity: str,
    metric: str,
    labels: dict[str, str],
    bad: str,
    good: str,
    eval_time: str,
    value: float,
) -> list[dict[str, Any]]:
    firing = [expected(name, severity, {"job": JOB, **labels}, value)]
    return [
        {
            "input_series": [series(metric, labels, bad)],
            "alert_rule_test": [{"eval_time": eval_time, "alertname": name, "exp_alerts": firing}],
        },
        {
            "input_series": [series(metric, labels, good)],
            "alert_rule_test": [{"eval_time": eval_time, "alertname": name, "exp_alerts": []}],
        },
    ]


def _histogram(
    name: str, metric: str, labels: dict[str, str], bad: dict[str, str], good: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {"input_series": [series(metric, {**labels, "le": le}, v) for le, v in buckets.items()]}
        for buckets in (bad, good)
    ]


def cases() -> list[dict[str, Any]]:
    wf = {"gen_ai_workflow_name": "release"}
    tests: list[dict[str, Any]] = []
    runs = "agentobs_workflow_runs_total"
    tests += _burn(
        "AgentobsWorkflowErrorBudgetBurn", runs,
        {**wf, "agentobs_status": "ok"}, {**wf, "agentobs_status": "error"}, wf,
    )  # fmt: skip
    task = {"gen_ai_agent_name": "coder", "agentobs_task_type": "edit"}
    tests += _burn(
        "AgentobsTaskErrorBudgetBurn", "agentobs_task_runs_total",
        {**task, "agentobs_status": "ok"}, {**task, "agentobs_status": "error"}, task,
    )  # fmt: skip
    model = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o-mini"}
    tests += _burn(
        "AgentobsLLMErrorBudgetBurn", "gen_ai_client_operation_duration_seconds_count",
        model, {**model, "error_type": "timeout"}, model,
    )  # fmt: skip

    budget = {"agentobs_budget_name": "coder"}
    unit = {**budget, "agentobs_budget_unit": "token"}
    limit = series("agentobs_budget_tokens_limit", budget, "1000x20")
    remaining = "agentobs_budget_tokens_remaining"
    for name, severity, bad, good, at, value in (
        ("AgentobsBudgetLow", "warning", "50x60", "500x60", "5m", 0.05),
        ("AgentobsBudgetExhaustionPredicted", "critical", "1000-20x60", "1000x60", "10m", -0.4),
        ("AgentobsBudgetExhausted", "warning", "-50x60", "50x60", "1m", -0.05),
    ):
        for values, alerts in ((bad, [expected(name, severity, {"job": JOB, **unit}, value)]),
                               (good, [])):  # fmt: skip
            tests.append({
                "input_series": [limit, series(remaining, budget, values)],
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": alerts}],
            })  # fmt: skip

    gate = {**wf, "agentobs_gate_name": "lint"}
    checks = "agentobs_gate_checks_total"
    for fail, alerts in (
        ("0+2x60", [expected("AgentobsQualityGateFailing", "warning", {"job": JOB, **gate}, 0.5)]),
        ("0x60", []),
    ):
        tests.append({
            "input_series": [
                series(checks, {**gate, "agentobs_gate_result": "pass"}, "0+2x60"),
                series(checks, {**gate, "agentobs_gate_result": "fail"}, fail),
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "AgentobsQualityGateFailing",
                 "exp_alerts": alerts}
            ],
        })  # fmt: skip

    tests += _simple(
        "AgentobsPersonaThrashing", "warning", "agentobs_persona_switches_total",
        {**wf, "agentobs_persona_from": "coder", "agentobs_persona_to": "reviewer",
         "agentobs_persona_chatmode": "review"},
        "0+20x40", "0+5x40", "35m", 20,
    )  # fmt: skip
    tests[-2]["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"] = {
        "job": JOB,
        **wf,
        "severity": "warning",
    }

    stage = {**wf, "agentobs_stage_name": "implement"}
    for name, metric, labels, bad, good, value in (
        (
            "AgentobsStageSlow", "agentobs_stage_duration_seconds_bucket", stage,
            {"600": "0x60", "1800": "0+10x60", "+Inf": "0+10x60"},
            {"600": "0+10x60", "1800": "0+10x60", "+Inf": "0+10x60"}, 1740.0,
        ),
        (
            "AgentobsLLMLatencyHigh", "gen_ai_client_operation_duration_seconds_bucket", model,
            {"20.48": "0x60", "40.96": "0+10x60", "+Inf": "0+10x60"},
            {"20.48": "0+10x60", "40.96": "0+10x60", "+Inf": "0+10x60"}, 39.936,
        ),
    ):  # fmt: skip
        firing, healthy = _histogram(name, metric, labels, bad, good)
        alert = expected(name, "warning", {"job": JOB, **labels}, value)
        firing["alert_rule_test"] = [{"eval_time": "20m", "alertname": name, "exp_alerts": [alert]}]
        healthy["alert_rule_test"] = [{"eval_time": "20m", "alertname": name, "exp_alerts": []}]
        tests += [firing, healthy]

    stuck = expected("AgentobsWorkflowStuck", "warning", {"job": JOB, **wf}, 4200)
    working, waiting = (
        {**wf, "agentobs_workflow_state": state} for state in ("working", "waiting")
    )
    tests.append({  # a run that has not ended: 600 s older each minute; one waiting, older
        "input_series": [
            series("agentobs_workflow_oldest_age_seconds", working, "0+600x10"),
            series("agentobs_workflow_oldest_age_seconds", waiting, "0+900x10"),
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "AgentobsWorkflowStuck", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "AgentobsWorkflowStuck", "exp_alerts": [stuck]},
        ],
    })  # fmt: skip

    agent = {"gen_ai_agent_name": "coder"}
    slower = expected("AgentobsAgentSlowerThanUsual", "warning", {"job": JOB, **agent}, 18 / 7)
    # a day of history: input every hour, and rules evaluated every hour (LONG); the mean
    # duration is 1 s, then 3 s over the last two hours
    count = series("gen_ai_invoke_agent_duration_seconds_count", agent, "0+600x25")
    for sums, alerts in (("0+600x23 15600 17400", [slower]), ("0+600x25", [])):
        tests.append({
            "interval": LONG,
            "input_series": [
                count, series("gen_ai_invoke_agent_duration_seconds_sum", agent, sums)
            ],
            "alert_rule_test": [
                {"eval_time": "25h", "alertname": "AgentobsAgentSlowerThanUsual",
                 "exp_alerts": alerts},
            ],
        })  # fmt: skip

    suite = {"test_suite_name": "unit"}
    for name, metric, bad, good, at, value in (
        ("AgentobsTestPassRateLow", "agentobs_test_run_pass_rate", "0.8x10", "1x10", "5m", 0.8),
        ("AgentobsFlakyTestsHigh", "agentobs_test_run_flaky", "5x10", "2x10", "5m", 5),
        ("AgentobsTestRunSlow", "agentobs_test_run_duration_seconds", "2000x10", "60x10", "5m",
         2000),
    ):  # fmt: skip
        tests += _simple(name, "warning", metric, suite, bad, good, at, value)
    missing = expected("AgentobsTestRunMissing", "warning", {"job": JOB, **suite}, 90000)
    tests.append({
        "interval": LONG,
        "input_series": [series("agentobs_test_run_timestamp_seconds", suite, "0x25")],
        "alert_rule_test": [
            {"eval_time": "1h", "alertname": "AgentobsTestRunMissing", "exp_alerts": []},
            {"eval_time": "25h", "alertname": "AgentobsTestRunMissing", "exp_alerts": [missing]},
        ],
    })  # fmt: skip

    down = {"job": JOB, "instance": "app:9464"}
    tests.append({
        "input_series": [
            {"series": f'up{{job="{JOB}",instance="app:9464"}}', "values": "0x10"},
            {"series": 'up{job="node",instance="db:9100"}', "values": "0x10"},  # not agentobs
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "AgentobsTargetDown", "exp_alerts": []},
            {"eval_time": "6m", "alertname": "AgentobsTargetDown",
             "exp_alerts": [expected("AgentobsTargetDown", "critical", down, 0)]},
        ],
    })  # fmt: skip
    tests.append({
        "input_series": [{"series": f'up{{job="{JOB}",instance="app:9464"}}', "values": "1x10"}],
        "alert_rule_test": [
            {"eval_time": "6m", "alertname": "AgentobsTargetDown", "exp_alerts": []}
        ],
    })  # fmt: skip
    tests += self_telemetry_cases()
    for test in tests:
        test.setdefault("interval", "1m")
    return tests


def component(kind: str, **labels: str) -> dict[str, str]:
    return {"otel_component_type": kind, "otel_component_name": f"{kind}/0", **labels}


def self_telemetry_cases() -> list[dict[str, Any]]:
    """Exporters failing, processors dropping, queues filling (the SDK's self-telemetry)."""
    tests: list[dict[str, Any]] = []
    spans, logs = "otel_sdk_exporter_span_exported_total", "otel_sdk_exporter_log_exported_total"
    points = "otel_sdk_exporter_metric_data_point_exported_total"
    langfuse, otlp_logs = component("langfuse_span_exporter"), component("otlp_http_log_exporter")
    local_points = component("local_metric_exporter")
    failed = {"error_type": "export_failed"}
    failing = [
        expected("AgentobsExporterFailing", "warning", {"job": JOB, **labels}, 1.0)
        for labels in (langfuse, otlp_logs)
    ]
    tests.append({  # Langfuse and the OTLP log backend down; the local metric files fine
        "input_series": [
            series(spans, langfuse, "0x30"), series(spans, {**langfuse, **failed}, "0+10x30"),
            series(logs, {**otlp_logs, **failed}, "0+10x30"),
            series(points, local_points, "0+50x30"),
        ],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "AgentobsExporterFailing", "exp_alerts": []},
            {"eval_time": "15m", "alertname": "AgentobsExporterFailing", "exp_alerts": failing},
        ],
    })  # fmt: skip
    for failures in ("0+1x30", "0x5 512x25"):  # 1 % of the spans failed; one batch failed
        tests.append({
            "input_series": [
                series(spans, langfuse, "0+100x30"),
                series(spans, {**langfuse, **failed}, failures),
            ],
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": "AgentobsExporterFailing",
                 "exp_alerts": []}
                for minute in range(6, 16)
            ],
        })  # fmt: skip

    processed = "otel_sdk_processor_span_processed_total"
    processor = component("batching_span_processor")
    full = {**processor, "error_type": "queue_full"}
    dropped = expected("AgentobsTelemetryDropped", "warning", {"job": JOB, **full}, 50)
    for values, alerts in (("0+5x30", [dropped]), ("0x30", [])):
        tests.append({
            "input_series": [series(processed, processor, "0+100x30"),
                             series(processed, full, values)],
            "alert_rule_test": [
                {"eval_time": "15m", "alertname": "AgentobsTelemetryDropped", "exp_alerts": alerts}
            ],
        })  # fmt: skip

    size, capacity = "otel_sdk_processor_log_queue_size", "otel_sdk_processor_log_queue_capacity"
    queue = component("batching_log_processor")
    nearly_full = expected("AgentobsTelemetryQueueFull", "info", {"job": JOB, **queue}, 2040 / 2048)
    for values, alerts in (("2040x20", [nearly_full]), ("100x20", [])):
        tests.append({
            "input_series": [series(size, queue, values), series(capacity, queue, "2048x20")],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "AgentobsTelemetryQueueFull",
                 "exp_alerts": alerts}
            ],
        })  # fmt: skip
    return tests


LONG = "1h"
"""Input interval of the cases that need a day of history; promtool evaluates their rules
every hour too (a second test file), which keeps the run short."""


def run_promtool_tests(
    tests: list[dict[str, Any]], directory: Path
) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` over ``tests``: one file per input interval."""
    argv = [tool("promtool"), "test", "rules"]
    for interval in sorted({test["interval"] for test in tests}):
        path = directory / f"agentobs-rules-{interval}.test.yml"
        document = {
            "rule_files": [str(RULES)],
            "evaluation_interval": interval,
            "tests": [test for test in tests if test["interval"] == interval],
        }
        path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
        argv.append(str(path))
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def test_promtool_lints_the_rules_clean() -> None:
    result = subprocess.run(
        [tool("promtool"), "check", "rules", "--lint=all", "--lint-fatal", str(RULES)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in cases():
        for check in test["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert firing == set(shipped_alerts()) == quiet


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    result = run_promtool_tests(cases(), tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "SUCCESS" in result.stdout


def test_promtool_fails_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests can fail: the quiet-hour case, expected to page, does not."""
    quiet = cases()[2]
    name = quiet["alert_rule_test"][0]["alertname"]
    labels = {"job": JOB, "gen_ai_workflow_name": "release"}
    quiet["alert_rule_test"][0]["exp_alerts"] = [expected(name, "critical", labels, 1)]
    result = run_promtool_tests([quiet], tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_example() -> None:
    result = subprocess.run(
        [tool("amtool"), "check-config", str(ALERTMANAGER_EXAMPLE)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("template", "value", "text"),
    [
        ("{{ $value | humanizeDuration }}", 4200, "1h 10m 0s"),
        ("{{ $value | humanizePercentage }}", 1 / 6, "16.67%"),
        ("{{ $value | humanize }}", 18 / 7, "2.571"),
    ],
)
def test_the_expected_annotations_render_like_prometheus(
    template: str, value: float, text: str
) -> None:
    assert render(template, {}, value) == text
