"""`agentobs export`: the committed dashboards, rules and runbooks equal the generator's
output, and pass the offline lint (PromQL parses and names only catalogue series with labels
they carry; Grafana and Prometheus mixin conventions)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agentobs.cli import main
from agentobs.cli._assets import FOLDERS, KINDS, PROMETHEUS_RULE_FILE, RULES_FILE, files
from agentobs.cli._assets import rules as rules_module
from agentobs.cli._assets.runbooks import diagnosis_queries
from tests import promql_check as check

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = {
    "dashboards": ROOT / "deploy" / "grafana",
    "alerts": ROOT / "deploy" / "prometheus",
    "runbooks": ROOT / "docs" / "runbooks",
}
REGENERATE = {
    "dashboards": "agentobs export dashboards -o deploy/grafana",
    "alerts": "agentobs export alerts -o deploy/prometheus",
    "runbooks": "agentobs export runbooks -o docs/runbooks",
}


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in files("dashboards").items()}


def rule_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(files("alerts")[RULES_FILE])
    return loaded


def alerting_rules() -> list[dict[str, Any]]:
    return [r for g in rule_file()["groups"] for r in g["rules"] if "alert" in r]


def recorded() -> set[str]:
    return {r["record"] for g in rule_file()["groups"] for r in g["rules"] if "record" in r}


# --- the committed copies ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_committed_files_equal_the_generator_output(kind: str) -> None:
    generated = files(kind)
    folder = COMMITTED[kind]
    pattern = {"dashboards": "*.json", "alerts": "agentobs-*.yml", "runbooks": "*.md"}[kind]
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in folder.glob(pattern)}
    assert set(on_disk) == set(generated), f"stale files; run: {REGENERATE[kind]}"
    stale = [name for name, text in generated.items() if on_disk[name] != text]
    assert not stale, f"{stale} differ from the generator; run: {REGENERATE[kind]}"


def test_export_all_writes_every_kind_into_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "all", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    for kind in KINDS:
        for name, text in files(kind).items():
            path = tmp_path / FOLDERS[kind] / name
            assert path.read_text(encoding="utf-8") == text
            assert str(path) in printed


def test_export_set_overrides_a_threshold(tmp_path: Path) -> None:
    assert main(["export", "alerts", "-o", str(tmp_path), "--set", "stage_p95_seconds=300"]) == 0
    loaded = yaml.safe_load((tmp_path / RULES_FILE).read_text(encoding="utf-8"))
    stage = next(
        r for g in loaded["groups"] for r in g["rules"] if r.get("alert") == "AgentobsStageSlow"
    )
    assert stage["expr"].endswith("> 300")
    base = "https://runbooks.example/agentobs"
    assert main(["export", "alerts", "-o", str(tmp_path), "--runbook-url", base]) == 0
    text = (tmp_path / RULES_FILE).read_text(encoding="utf-8")
    assert f'"{base}/AgentobsStageSlow.md"' in text


@pytest.mark.parametrize("bad", ["nope=1", "stage_p95_seconds", "stage_p95_seconds=fast"])
def test_export_rejects_a_bad_threshold(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "alerts", "-o", str(tmp_path), "--set", bad]) == 2
    assert "--set" in capsys.readouterr().err
    assert not (tmp_path / RULES_FILE).exists()


def test_prometheus_rule_resource_holds_the_same_groups() -> None:
    resource = yaml.safe_load(files("alerts")[PROMETHEUS_RULE_FILE])
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"] == rule_file()


# --- PromQL: parses, names catalogue series with labels they carry -------------------------


def every_query() -> list[tuple[str, str, bool]]:
    """(where, PromQL, whether it is evaluated for values) of every dashboard, rule and
    runbook query."""
    found = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((f"{name}: {panel['title']} {target['refId']}", target["expr"], True))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                inner = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
                assert inner, variable["query"]["query"]
                found.append((f"{name}: variable {variable['name']}", inner.group(1), False))
    for group in rule_file()["groups"]:
        for rule in group["rules"]:
            found.append((rule.get("alert") or rule["record"], rule["expr"], True))
    found += [(f"runbook query {q}", q, True) for q in diagnosis_queries()]
    return found


def test_every_query_parses_and_names_only_catalogue_series() -> None:
    queries = every_query()
    assert len(queries) > 80
    wrong = {}
    for where, expr, values in queries:
        found = check.problems(check.substitute(expr), recorded(), values=values)
        if found:
            wrong[where] = found
    assert not wrong


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(agentobs_token_total[5m])", "not a series the catalogue emits"),
        ("rate(gen_ai_client_operation_duration_bucket[5m])", "not a series"),
        ("sum(agentobs_tokens_total)", "a counter outside rate/increase"),
        ('rate(agentobs_task_runs_total{gen_ai_request_model="x"}[5m])', "never carries"),
        ("agentobs:nothing:ratio", "no recording rule records it"),
    ],
)
def test_the_checker_catches_dead_queries(expr: str, problem: str) -> None:
    assert any(problem in p for p in check.problems(expr, recorded()))


# --- Grafana conventions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(files("dashboards")))
def test_dashboard_follows_the_grafana_conventions(name: str) -> None:
    board = dashboards()[name]
    assert board["uid"] == name.removesuffix(".json")
    assert re.fullmatch(r"agentobs-[a-z]{1,30}", board["uid"])
    assert board["title"].startswith("agentobs / ")
    assert board["schemaVersion"] >= 39  # Grafana 11
    assert "agentobs" in board["tags"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    assert "service" in variables
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert (variable["includeAll"], variable["allValue"]) == (True, ".*"), variable
    used: set[str] = set()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        where = f"{name}: {panel['title']}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
        assert panel["description"], where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, where
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                 for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & occupied, f"{where} overlaps another panel"
        occupied |= cells
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, where
        assert all(refs), where
        assert len(refs) == len(set(refs)), where
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], where
            expr = target["expr"]
            windows = re.findall(r"\[([^\]]+)\]", expr)
            assert all(w in ("$__rate_interval", "$__range") for w in windows), where
            used |= check.variables_in(expr)
            assert check.variables_in(expr) <= set(variables), where
    unused = set(variables) - used - {"datasource"}
    assert not unused, f"{name}: variables no panel uses: {unused}"


GRAFANA_SCHEMA = ROOT / "tests" / "data" / "grafana-dashboard-11.6.16.schema.json"
"""Grafana's own dashboard type (@grafana/schema 11.6.16) as a JSON Schema, made by
scripts/grafana-dashboard-schema.sh."""


def grafana_errors(board: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json.loads(GRAFANA_SCHEMA.read_text("utf-8")))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(board)]


@pytest.mark.parametrize("name", sorted(files("dashboards")))
def test_dashboard_is_valid_for_grafanas_own_dashboard_type(name: str) -> None:
    assert grafana_errors(dashboards()[name]) == []


def test_grafanas_type_rejects_a_wrong_dashboard() -> None:
    board = dashboards()["agentobs-agents.json"]
    board["panels"][0]["gridPos"]["w"] = "wide"
    board["tittle"] = board.pop("title")
    found = "\n".join(grafana_errors(board))
    assert "'tittle' was unexpected" in found
    assert "['panels', 0]: " in found  # gridPos.w must be a number


# --- Prometheus rule conventions ----------------------------------------------------------


def test_alert_rules_follow_the_mixin_conventions() -> None:
    names = set()
    for rule in alerting_rules():
        name = rule["alert"]
        names.add(name)
        assert re.fullmatch(r"Agentobs(?:[A-Z][a-z0-9]*|LLM)+", name), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        summary, description = rule["annotations"]["summary"], rule["annotations"]["description"]
        assert re.fullmatch(r"[A-Z][^.{}]+\.", summary), f"{name}: summary {summary!r}"
        assert re.fullmatch(r"[A-Z].*\{\{.+\}\}.*\.", description), f"{name}: {description!r}"
        url = rule["annotations"]["runbook_url"]
        assert url == f"{rules_module.RUNBOOK_BASE}/{name}.md"
        assert (COMMITTED["runbooks"] / f"{name}.md").is_file(), f"{name}: no runbook"
    for record in recorded():
        assert re.fullmatch(r"agentobs:[a-z_]+:[a-z0-9_]+", record), record
    pages = {p.stem for p in COMMITTED["runbooks"].glob("Agentobs*.md")}
    assert pages == names, "a runbook without an alert, or an alert without a runbook"


def test_burn_rate_alerts_page_and_warn_with_a_traffic_guard() -> None:
    burn = [r for r in alerting_rules() if r["alert"].endswith("ErrorBudgetBurn")]
    assert {r["alert"] for r in burn} == {
        "AgentobsWorkflowErrorBudgetBurn", "AgentobsTaskErrorBudgetBurn",
        "AgentobsLLMErrorBudgetBurn",
    }  # fmt: skip
    assert sorted(r["labels"]["severity"] for r in burn) == ["critical"] * 3 + ["warning"] * 3
    for rule in burn:
        windows, traffic = rule["expr"].split(" and ")[:2], rule["expr"].split(" and ")[2]
        assert all(w.startswith("(agentobs:") for w in windows), rule
        assert re.match(r"\(sum by \(job, .+\(increase\(", traffic), rule
