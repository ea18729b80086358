"""How the report shows values: unknown costs, metrics by meaning, rows told apart, filters.

The sample directory is the one of ``test_report.py``; the metric files here are written by
a real MeterProvider and encoded by the OTLP JSON encoder, as the local default writes them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.json.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from agentobs._spanindex import iso_time
from agentobs.cli import main
from agentobs.cli.report import build_report, render_html, render_text
from tests.test_report import BASE_NS, Telemetry, new_telemetry, write_sample_telemetry


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
    assert "$0 " not in text
    assert not re.search(r"\$0$", text, re.M)
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


# --- 17 and 18: metrics by meaning, rows that can be told apart --------------------------------

RUN_ENDED = 1_764_757_405.0  # 2025-12-03 10:23:25 UTC


def write_metrics(directory: Path) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "fleet"})
    )
    meter = provider.get_meter("agentobs")
    suite = {"test.suite.name": "release-checks"}
    meter.create_gauge("agentobs.test_run.timestamp", unit="s").set(RUN_ENDED, suite)
    meter.create_gauge("agentobs.test_run.duration", unit="s").set(0.415, suite)
    meter.create_gauge("agentobs.test_run.pass_rate", unit="1").set(0.8571, suite)
    meter.create_gauge("agentobs.test_run.coverage", unit="1").set(0.9, suite)
    meter.create_counter("agentobs.cost", unit="{USD}").add(0.0016, {"agentobs.persona.name": "c"})
    meter.create_histogram("agentobs.gate.score", unit="1").record(
        0.75, {"agentobs.gate.name": "g"}
    )
    tokens = meter.create_counter("agentobs.tokens", unit="{token}")
    common = {
        "agentobs.persona.name": "reviewer",
        "gen_ai.provider.name": "local",
        "gen_ai.request.model": "fleet-reviewer-7b-instruct-q4-k-m-long-model-name",
        "agentobs.status": "ok",
    }
    tokens.add(331, {**common, "gen_ai.token.type": "output"})
    tokens.add(240, {**common, "gen_ai.token.type": "input"})
    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps(encode_metrics(reader.get_metrics_data()).to_dict())
    (directory / "metrics.jsonl").write_text(line + "\n", encoding="utf-8")
    provider.shutdown()


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("metrics") / ".agentobs"
    write_metrics(directory)
    return directory


def metric_block(text: str, name: str) -> list[str]:
    """The lines of one metric in the terminal METRICS section: its header and its rows."""
    lines = section(text, "METRICS").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}  ("))
    end = next(
        (i for i, line in enumerate(lines[start + 1 :], start + 1) if not line.startswith("    ")),
        len(lines),
    )
    return lines[start:end]


def test_metrics_are_rendered_by_meaning(metrics_dir: Path) -> None:
    report = build_report(metrics_dir)
    text = render_text(report)
    expected = {
        "agentobs.test_run.timestamp": "2025-12-03 10:23:25Z",
        "agentobs.test_run.duration": "415ms",
        "agentobs.test_run.pass_rate": "85.7%",
        "agentobs.test_run.coverage": "90.0%",
        "agentobs.cost": "$0.0016",
        "agentobs.gate.score": "avg 0.75",
    }
    for name, shown in expected.items():
        block = metric_block(text, name)
        assert block[-1].rstrip().endswith(shown), (name, block)
    assert not re.search(r"\d+h\d\dm", text)  # no timestamp shown as a duration
    page = render_html(report)
    for shown in expected.values():
        assert f">{shown.removeprefix('avg ')}<" in page, shown
    assert "490" not in page.split('id="metrics"', 1)[1]  # hours since 1970, as a duration


def test_metric_rows_stay_apart_and_keys_are_shortened_alike(metrics_dir: Path) -> None:
    text = render_text(build_report(metrics_dir))
    header, *rows = metric_block(text, "agentobs.tokens")
    assert "all: " in header  # what every series shares is said once
    assert [row.split()[0] for row in rows] == ["token.type=output", "token.type=input"]
    assert [row.split()[-1] for row in rows] == ["331", "240"]
    assert "status=ok" in header
    assert "persona.name=reviewer" in header
    assert "agentobs." not in " ".join([header.split("all:", 1)[1], *rows])
    assert max(len(line) for line in text.splitlines() if not line.startswith("  $ ")) <= 100


# --- 19: concurrent runs are not re-entries ----------------------------------------------------


def test_tasks_run_many_times_are_not_reentries_stages_are(tmp_path: Path) -> None:
    t = new_telemetry()
    with t.span(
        "invoke_workflow release",
        0.0,
        10.0,
        agentobs__span__type="workflow",
        gen_ai__workflow__name="release",
    ) as root:
        for attempt in range(2):  # the same stage twice, one after the other: 1 re-entry
            at = 1.0 + attempt * 4
            with t.span(
                "stage implement",
                at,
                3.0,
                root,
                agentobs__span__type="stage",
                agentobs__stage__name="implement",
            ) as stage:
                for i in range(4 if attempt == 0 else 0):  # four at once (asyncio.gather)
                    with t.span(
                        "task fetch",
                        at + 0.01 * i,
                        1.0,
                        stage,
                        agentobs__span__type="task",
                        agentobs__task__name="fetch",
                    ):
                        pass
    (tmp_path / "traces.jsonl").write_text(t.flush_line() + "\n", encoding="utf-8")
    report = build_report(tmp_path)
    (stage_row,) = report.stages
    (task_row,) = report.tasks
    assert (stage_row.count, stage_row.reentries) == (2, 1)
    assert (task_row.count, task_row.reentries) == (4, 0)
    page = render_html(report)
    tasks = page.split('id="tasks"', 1)[1].split("</section>", 1)[0]
    assert "re-entries" not in tasks
    assert "re-entries" in page.split('id="stages"', 1)[1].split("</section>", 1)[0]


# --- 20: filters and any trace ----------------------------------------------------------------


def _run(t: Telemetry, workflow: str, at: float, seconds: float) -> str:
    with (
        t.span(
            f"invoke_workflow {workflow}",
            at,
            seconds,
            agentobs__span__type="workflow",
            gen_ai__workflow__name=workflow,
        ) as root,
        t.span(
            "stage build",
            at,
            seconds / 2,
            root,
            agentobs__span__type="stage",
            agentobs__stage__name="build",
        ),
    ):
        pass
    return format(root.get_span_context().trace_id, "032x")


@pytest.fixture(scope="module")
def two_services(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``fleet`` ran ``release`` at +0s (slow) and ``nightly`` at +100s; ``ops`` ran
    ``backup`` at +200s."""
    directory = tmp_path_factory.mktemp("filters")
    fleet, ops = new_telemetry("fleet"), new_telemetry("ops")
    traces = {
        "release": _run(fleet, "release", 0.0, 9.0),
        "nightly": _run(fleet, "nightly", 100.0, 2.0),
        "backup": _run(ops, "backup", 200.0, 1.0),
    }
    lines = [fleet.flush_line(), ops.flush_line()]
    (directory / "traces.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory, traces


def report_lines(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["report", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_filters_by_service_workflow_and_time(
    two_services: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = two_services
    by_service = build_report(directory, service="ops")
    assert [w.name for w in by_service.workflows] == ["backup"]
    assert by_service.services == ["ops"]
    by_workflow = build_report(directory, workflow="nightly")
    assert [w.name for w in by_workflow.workflows] == ["nightly"]
    assert [s.name for s in by_workflow.stages] == ["build"]
    since = iso_time(BASE_NS + 50 * 10**9)
    recent = build_report(directory, since=since)
    assert sorted(w.name for w in recent.workflows) == ["backup", "nightly"]
    assert recent.filters == {"--since": since}
    assert build_report(directory, since="1m").is_empty  # the sample is 15 minutes old
    assert not build_report(directory, since="1h").is_empty

    status, out, _ = report_lines(
        capsys, "--dir", str(directory), "--service", "fleet", "--since", since
    )
    assert status == 0
    assert f"Filtered     --since {since} --service fleet" in out
    assert "nightly" in out
    assert "release" not in out
    assert "backup" not in out
    status, _, err = report_lines(capsys, "--dir", str(directory), "--workflow", "nope")
    assert status == 1
    assert "nothing in" in err
    assert "matches --workflow nope" in err
    status, _, err = report_lines(capsys, "--dir", str(directory), "--since", "yesterday")
    assert status == 2
    assert "expected a duration such as 30m" in err


def test_any_trace_as_a_waterfall(
    two_services: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, traces = two_services
    default = build_report(directory)
    assert default.slowest_trace is not None
    assert default.slowest_trace.trace_id == traces["release"]  # the slowest
    chosen = traces["backup"]
    status, out, _ = report_lines(capsys, "--dir", str(directory), "--trace", chosen[:8])
    assert status == 0
    assert re.search(r"^TRACE -+$", out, re.MULTILINE)
    assert f"backup  1.00s  trace {chosen}" in out
    assert "stage build" in section(out, "TRACE")
    assert "release" not in out
    page = render_html(build_report(directory, trace=chosen))
    assert "Timeline of the trace: backup" in page
    status, _, err = report_lines(capsys, "--dir", str(directory), "--trace", "abc")
    assert status == 2
    assert "at least 6 hex digits" in err
    status, _, err = report_lines(capsys, "--dir", str(directory), "--trace", "f" * 32)
    assert status == 2
    assert "no trace in" in err


# --- 8: the Budgets section ---------------------------------------------------------------------


def test_budgets_section_from_a_real_run(tmp_path: Path) -> None:
    """Limit, used, remaining, breaches and refusals of each budget, from what the SDK
    recorded in a real (local-files) pipeline."""
    script = (
        "import agentobs\n"
        "agentobs.configure(service_name='b', local_dir='out', logs=False)\n"
        "budget = agentobs.TokenBudget('coder', tokens=150, on_exceed='raise')\n"
        "with budget:\n"
        "    for _ in range(3):\n"
        "        try:\n"
        "            with agentobs.llm(provider='openai', model='gpt-4o') as call:\n"
        "                call.record_usage(input_tokens=90, output_tokens=10)\n"
        "        except agentobs.BudgetExceededError:\n"
        "            pass\n"
        "agentobs.shutdown()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = build_report(tmp_path / "out")
    (row,) = report.budgets
    assert (row.name, row.unit, row.limit, row.used, row.remaining) == (
        "coder",
        "token",
        150,
        200,
        -50,
    )
    assert (row.breaches, row.refusals) == (1, 1)
    lines = section(render_text(report), "BUDGETS").splitlines()
    assert lines[-1].split() == ["coder", "token", "150", "200", "-50", "1", "1"]
    page = render_html(report)
    assert 'id="budgets"' in page
    budgets = page.split('id="budgets"', 1)[1].split("</section>", 1)[0]
    assert "<td>coder</td>" in budgets
