"""The deployment recipes in docs/deploy/ are valid: Prometheus' config passes promtool (with
the rules it loads), the collector pipeline is wired to components it defines, and Grafana's
provisioning names the dashboard folder and a Prometheus datasource."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.backends import missing_backend

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "docs" / "deploy"


def test_prometheus_config_passes_promtool_with_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_backend("prometheus", "no promtool on PATH")
    config = DEPLOY / "prometheus.yml"
    result = subprocess.run(
        [promtool, "check", "config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agentobs-rules.yml" in result.stdout
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in loaded["scrape_configs"]}
    assert jobs["agentobs-pushgateway"]["honor_labels"] is True
    assert all("agentobs" in name for name in jobs)  # the scrape_jobs threshold matches them


def test_collector_pipelines_use_only_defined_components() -> None:
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text(encoding="utf-8"))
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"metrics", "traces", "logs"}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] == ["otlp"], name
        assert pipeline["processors"][0] == "memory_limiter", name
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), (name, kind)


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "agentobs.yaml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((provisioning / "dashboards" / "agentobs.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].endswith("/agentobs")
