"""How the report shows values: unknown costs, metrics by meaning, rows told apart, filters.

The sample directory is the one of ``test_report.py``; the metric files here are written by
a real MeterProvider and encoded by the OTLP JSON encoder, as the local default writes them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.json.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from agentobs.cli.report import build_report, render_html, render_text
from tests.test_report import write_sample_telemetry


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("agentobs") / ".agentobs"
    write_sample_telemetry(directory)
    return directory


def section(text: str, title: str) -> str:
    """One section of the terminal report, from its heading to the next."""
    match = re.search(rf"^{title}[^\n]*-+\n(.*?)(?=\n[A-Z][A-Z ()]+ -+\n|\Z)", text, re.M | re.S)
    assert match is not None, title
    return match.group(1)


# --- 16: unknown cost is never a silent $0 ---------------------------------------------------


def test_unknown_cost_is_shown_as_unknown_never_zero(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    personas = {p.name: p for p in report.personas}
    reviewer = personas["reviewer"]  # only calls to an unpriced self-hosted model
    assert reviewer.cost_usd is None
    assert reviewer.unpriced == reviewer.llm_calls > 0
    assert personas["coder"].cost_usd == pytest.approx(0.11)
    assert report.llm is not None
    models = {m.model: m for m in report.llm.models}
    assert models["local-llama"].cost_usd is None

    text = render_text(report)
    rows = section(text, "PERSONAS").splitlines()
    (reviewer_row,) = [row for row in rows if row.strip().startswith("reviewer")]
    assert reviewer_row.rstrip().endswith("unknown")
    (model_row,) = [row for row in section(text, "LLM CALLS").splitlines() if "local-llama" in row]
    assert " unknown " in model_row
    assert "$0 " not in text and not re.search(r"\$0$", text, re.M)
    llm_line = section(text, "LLM CALLS").splitlines()[0]
    assert "+ ?" in llm_line  # the priced part, marked as missing the unpriced calls

    document = json.loads(json.dumps(report.to_dict()))
    by_name = {p["name"]: p for p in document["personas"]}
    assert by_name["reviewer"]["cost_usd"] is None
    assert {m["model"]: m for m in document["llm"]["models"]}["local-llama"]["cost_usd"] is None

    page = render_html(report)
    assert not re.search(r"<td[^>]*>\$0</td>", page)
    assert '<td class="n">unknown</td>' in page
    assert "No known price, not charted: local-llama." in page
