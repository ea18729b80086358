"""``agentobs report``: summary numbers, text, JSON and HTML from real OTLP JSON Lines files.

The sample files are produced by the OpenTelemetry SDK and the OTLP JSON encoders, exactly
as the local default writes them, so the reader is checked against the real format.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.json.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Status, StatusCode, Tracer, set_span_in_context

from agentobs._spanindex import iso_time, percentile
from agentobs.cli import report as report_cli
from agentobs.cli.report import build_report, render_html, render_text

BASE_NS = (time.time_ns() // 10**9 - 900) * 10**9  # 15 minutes ago, whole seconds
WORKFLOW_RUNS = 10


def _ns(seconds: float) -> int:
    return BASE_NS + round(seconds * 1e9)


@dataclass
class Telemetry:
    """Builds spans with explicit timestamps, so durations in the files are exact."""

    tracer: Tracer
    exporter: InMemorySpanExporter
    spans_written: int = 0
    lines: list[str] = field(default_factory=list)

    def start(self, name: str, at: float, parent: Span | None = None, **attributes: object) -> Span:
        context = set_span_in_context(parent) if parent is not None else None
        attrs = {key.replace("__", "."): value for key, value in attributes.items()}
        return self.tracer.start_span(name, context=context, start_time=_ns(at), attributes=attrs)  # type: ignore[arg-type]

    @contextmanager
    def span(
        self,
        name: str,
        at: float,
        seconds: float,
        parent: Span | None = None,
        error: str = "",
        **attributes: object,
    ) -> Iterator[Span]:
        span = self.start(name, at, parent, **attributes)
        yield span
        if error:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, f"{error}: it broke"))
        span.end(end_time=_ns(at + seconds))

    def flush_line(self) -> str:
        """Encode the spans finished since the last call as one OTLP JSON line."""
        spans: Sequence[ReadableSpan] = self.exporter.get_finished_spans()
        self.exporter.clear()
        self.spans_written += len(spans)
        return json.dumps(encode_spans(spans).to_dict(), separators=(",", ":"))


def new_telemetry(service: str = "fleet") -> Telemetry:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Telemetry(provider.get_tracer("agentobs"), exporter)


def _workflow_run(t: Telemetry, run: int, workflow: str = "release") -> None:
    """One multi-agent run. Run ``r`` lasts ``r + 1`` seconds; run 9 fails its gate."""
    at = run * 20.0
    duration = run + 1.0
    failed = run == 9
    with t.span(
        f"invoke_workflow {workflow}",
        at,
        duration,
        error="GateFailed" if failed else "",
        gen_ai__operation__name="invoke_workflow",
        gen_ai__workflow__name=workflow,
        agentobs__span__type="workflow",
    ) as root:
        with (
            t.span(
                "persona planner",
                at,
                0.2,
                root,
                agentobs__span__type="persona",
                agentobs__persona__name="planner",
            ) as planner,
            t.span(
                "stage plan",
                at,
                0.2,
                planner,
                agentobs__span__type="stage",
                agentobs__stage__name="plan",
            ) as plan,
        ):
            _llm(t, plan, at + 0.01, 0.1, "gpt-4o", "openai", 100, 50, cost=0.001)
        coder_at = at + 0.2
        with t.span(
            "persona coder",
            coder_at,
            duration * 0.6,
            root,
            agentobs__span__type="persona",
            agentobs__persona__name="coder",
        ) as coder:
            entries = 2 if run == 3 else 1  # run 3 goes back to "implement" once
            for entry in range(entries):
                start = coder_at + entry * 0.1
                with t.span(
                    "stage implement",
                    start,
                    0.1 * (run + 1),
                    coder,
                    agentobs__span__type="stage",
                    agentobs__stage__name="implement",
                    agentobs__persona__name="coder",
                ) as implement:
                    llm = _llm(
                        t,
                        implement,
                        start + 0.01,
                        0.05,
                        "claude-sonnet",
                        "anthropic",
                        1000,
                        500,
                        cost=0.01,
                        end=False,
                    )
                    if run == 7:
                        llm.add_event(
                            "agentobs.budget.exceeded",
                            {"agentobs.budget.name": "coder-tokens"},
                            timestamp=_ns(start + 0.05),
                        )
                    llm.end(end_time=_ns(start + 0.06))
                    with t.span(
                        "execute_tool run_tests",
                        start + 0.07,
                        0.02,
                        implement,
                        error="TimeoutError" if run == 4 else "",
                        gen_ai__operation__name="execute_tool",
                        gen_ai__tool__name="run_tests",
                        agentobs__span__type="tool",
                    ):
                        pass
            passed = run not in (2, 5)
            with t.span(
                "gate lint",
                coder_at + 0.5,
                0.01,
                coder,
                agentobs__span__type="gate",
                agentobs__gate__name="lint",
                agentobs__gate__result="pass" if passed else "fail",
                agentobs__gate__score=0.9 if passed else 0.6,
            ) as gate:
                gate.add_event(
                    "gen_ai.evaluation.result",
                    {"gen_ai.evaluation.name": "lint", "gen_ai.evaluation.score.value": 0.5},
                )
        with t.span(
            "persona reviewer",
            at + duration * 0.8,
            duration * 0.2,
            root,
            agentobs__span__type="persona",
            agentobs__persona__name="reviewer",
        ) as reviewer:
            with (
                t.span(
                    "stage review",
                    at + duration * 0.8,
                    duration * 0.2,
                    reviewer,
                    agentobs__span__type="stage",
                    agentobs__stage__name="review",
                ) as review,
                t.span(
                    "invoke_agent critic",
                    at + duration * 0.8,
                    0.3,
                    review,
                    gen_ai__operation__name="invoke_agent",
                    gen_ai__agent__name="critic",
                ) as critic,
            ):
                _llm(
                    t,
                    critic,
                    at + duration * 0.8,
                    0.2,
                    "local-llama",
                    "ollama",
                    10,
                    5,
                    unpriced=True,
                )
            if run == 5:
                reviewer.add_event(
                    "agentobs.human_intervention",
                    {"agentobs.intervention.reason": "approve-deploy"},
                    timestamp=_ns(at + duration * 0.9),
                )


def _llm(
    t: Telemetry,
    parent: Span,
    at: float,
    seconds: float,
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    *,
    cost: float = 0.0,
    unpriced: bool = False,
    end: bool = True,
) -> Span:
    """An LLM span, left open with ``end=False`` so the caller can add events."""
    attributes: dict[str, object] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.provider.name": provider,
        "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out,
        "agentobs.span.type": "llm",
    }
    if unpriced:
        attributes["agentobs.cost.unpriced"] = True
    else:
        attributes["agentobs.cost.usd"] = cost
    span = t.tracer.start_span(
        f"chat {model}",
        context=set_span_in_context(parent),
        start_time=_ns(at),
        attributes=attributes,  # type: ignore[arg-type]
    )
    if end:
        span.end(end_time=_ns(at + seconds))
    return span


TEST_OUTCOMES = ["passed"] * 15 + ["failed"] * 2 + ["error", "skipped", "xfailed"]


def _test_session(t: Telemetry, at: float) -> None:
    with t.span(
        "pytest session", at, 30.0, agentobs__span__type="test_session", test__suite__name="unit"
    ) as session:
        for i, outcome in enumerate(TEST_OUTCOMES):
            attrs: dict[str, object] = {
                "agentobs__span__type": "test",
                "test__case__name": f"tests/test_app.py::test_{i:02d}",
                "agentobs__test__outcome": outcome,
                "test__case__result__status": "fail" if outcome in ("failed", "error") else "pass",
            }
            if i == 3:
                attrs["agentobs__test__flaky"] = True
            error = "AssertionError" if outcome == "failed" else ""
            with t.span(f"test_{i:02d}", at + i, 0.1 * (i + 1), session, error=error, **attrs):
                pass


def _metric_lines() -> list[str]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "fleet"})
    )
    meter = provider.get_meter("agentobs")
    tokens = meter.create_counter("agentobs.tokens.used", unit="{token}")
    duration = meter.create_histogram("agentobs.stage.duration", unit="s")
    remaining = meter.create_up_down_counter("agentobs.budget.remaining", unit="{token}")
    lines = []
    tokens.add(1000, {"agentobs.persona.name": "coder"})
    tokens.add(100, {"agentobs.persona.name": "planner"})
    duration.record(1.0, {"agentobs.stage.name": "implement"})
    remaining.add(5000, {"agentobs.budget.name": "coder-tokens"})
    lines.append(json.dumps(encode_metrics(reader.get_metrics_data()).to_dict()))
    tokens.add(500, {"agentobs.persona.name": "coder"})
    duration.record(3.0, {"agentobs.stage.name": "implement"})
    remaining.add(-1500, {"agentobs.budget.name": "coder-tokens"})
    lines.append(json.dumps(encode_metrics(reader.get_metrics_data()).to_dict()))
    provider.shutdown()
    return lines


def _log_line() -> str:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource.create({"service.name": "fleet"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("fleet.sample")
    records = [(SeverityNumber.INFO, "INFO", f"step {i} done") for i in range(5)]
    records += [
        (SeverityNumber.WARN, "WARNING", "budget 80% used by coder"),
        (SeverityNumber.WARN, "WARNING", "gate lint failed: 3 errors"),
        (SeverityNumber.ERROR, "ERROR", "tool run_tests timed out"),
    ]
    for i, (number, text, body) in enumerate(records):
        logger.emit(timestamp=_ns(i), severity_number=number, severity_text=text, body=body)
    return json.dumps(encode_logs(exporter.get_finished_logs()).to_dict())


def write_sample_telemetry(directory: Path) -> Telemetry:
    """Write a realistic local directory: ten workflow runs split over a rotated and a live
    traces file, a test session, two metric exports, logs, plus two unreadable lines."""
    directory.mkdir(parents=True, exist_ok=True)
    t = new_telemetry()
    for run in range(5):
        _workflow_run(t, run)
    (directory / "traces.1.jsonl").write_text(t.flush_line() + "\n", encoding="utf-8")
    for run in range(5, WORKFLOW_RUNS):
        _workflow_run(t, run)
    first = t.flush_line()
    _test_session(t, 300.0)
    second = t.flush_line()
    partial = second[: len(second) // 2]  # a line still being written
    (directory / "traces.jsonl").write_text(
        f"{first}\nthis is not json\n{second}\n{partial}", encoding="utf-8"
    )
    (directory / "metrics.jsonl").write_text("\n".join(_metric_lines()) + "\n", encoding="utf-8")
    (directory / "logs.jsonl").write_text(_log_line() + "\n", encoding="utf-8")
    return t


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("agentobs") / ".agentobs"
    write_sample_telemetry(directory)
    return directory


def _args(**values: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    namespace = parser.parse_args([])
    for key, value in values.items():
        setattr(namespace, key, value)
    return namespace


# --- summary numbers -----------------------------------------------------------------------


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([], 0.95) == 0.0
    assert percentile([4.0], 0.95) == 4.0
    assert percentile([float(i) for i in range(1, 11)], 0.5) == pytest.approx(5.5)
    assert percentile([float(i) for i in range(1, 11)], 0.95) == pytest.approx(9.55)


def test_reads_rotations_and_skips_unreadable_lines(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    names = [Path(f).name for f in report.files]
    assert names[:2] == ["traces.1.jsonl", "traces.jsonl"]  # oldest first
    assert "metrics.jsonl" in names
    assert "logs.jsonl" in names
    assert report.lines_skipped == 2  # the garbage line and the partial last line
    # 10 runs x 13 spans (+1 for run 3's second "implement" with its llm and tool) + tests
    assert report.spans_total == WORKFLOW_RUNS * 13 + 3 + 1 + len(TEST_OUTCOMES)
    assert report.services == ["fleet"]
    assert report.start == iso_time(BASE_NS)


def test_workflow_and_stage_numbers(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    (release,) = report.workflows
    assert (release.name, release.count, release.errors) == ("release", WORKFLOW_RUNS, 1)
    assert release.p50_s == pytest.approx(5.5)
    assert release.p95_s == pytest.approx(9.55)
    assert release.max_s == pytest.approx(10.0)
    stages = {row.name: row for row in report.stages}
    assert [row.name for row in report.stages] == ["plan", "implement", "review"]
    assert all(row.group == "release" for row in report.stages)
    assert stages["implement"].count == WORKFLOW_RUNS + 1
    assert stages["implement"].reentries == 1
    assert stages["plan"].reentries == 0
    implement = sorted([0.1 * (r + 1) for r in range(WORKFLOW_RUNS)] + [0.4])
    assert stages["implement"].p95_s == pytest.approx(percentile(implement, 0.95))
    (tool,) = report.tools
    assert (tool.name, tool.count, tool.errors) == ("run_tests", WORKFLOW_RUNS + 1, 1)
    (agent,) = report.agents
    assert (agent.name, agent.count) == ("critic", WORKFLOW_RUNS)


def test_personas_tokens_and_cost(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    personas = {row.name: row for row in report.personas}
    assert set(personas) == {"planner", "coder", "reviewer"}
    coder = personas["coder"]
    assert coder.llm_calls == WORKFLOW_RUNS + 1
    assert coder.input_tokens == 1000 * (WORKFLOW_RUNS + 1)
    assert coder.output_tokens == 500 * (WORKFLOW_RUNS + 1)
    assert coder.cost_usd == pytest.approx(0.01 * (WORKFLOW_RUNS + 1))
    assert coder.time_s == pytest.approx(sum(0.6 * (r + 1) for r in range(WORKFLOW_RUNS)))
    assert personas["planner"].input_tokens == 100 * WORKFLOW_RUNS  # via the ancestor persona


def test_llm_models_budgets_and_unpriced(sample_dir: Path) -> None:
    llm = build_report(sample_dir).llm
    assert llm is not None
    assert llm.calls == 3 * WORKFLOW_RUNS + 1
    assert llm.input_tokens == (100 + 10) * WORKFLOW_RUNS + 1000 * (WORKFLOW_RUNS + 1)
    assert llm.output_tokens == (50 + 5) * WORKFLOW_RUNS + 500 * (WORKFLOW_RUNS + 1)
    assert llm.cost_usd == pytest.approx(0.001 * WORKFLOW_RUNS + 0.01 * (WORKFLOW_RUNS + 1))
    assert llm.unpriced == WORKFLOW_RUNS
    models = {row.model: row for row in llm.models}
    assert models["local-llama"].unpriced == WORKFLOW_RUNS
    assert models["claude-sonnet"].provider == "anthropic"
    assert llm.models[0].model == "claude-sonnet"  # the most expensive first
    assert [(b.name, b.count) for b in llm.budget_breaches] == [("coder-tokens", 1)]


def test_gates_and_interventions(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    (lint,) = report.gates  # the evaluation events on gate spans are not counted twice
    assert (lint.name, lint.passed, lint.failed) == ("lint", 8, 2)
    assert lint.pass_rate == pytest.approx(0.8)
    assert lint.score_min == pytest.approx(0.6)
    assert lint.score_max == pytest.approx(0.9)
    assert lint.score_avg == pytest.approx((8 * 0.9 + 2 * 0.6) / 10)
    assert [(r.name, r.count) for r in report.interventions] == [("approve-deploy", 1)]


def test_test_outcomes(sample_dir: Path) -> None:
    tests = build_report(sample_dir).tests
    assert tests is not None
    assert tests.total == len(TEST_OUTCOMES)
    assert tests.sessions == 1
    assert tests.outcomes == {"passed": 15, "failed": 2, "error": 1, "skipped": 1, "xfailed": 1}
    assert tests.pass_rate == pytest.approx(15 / 18)
    assert [(f.name, f.count) for f in tests.flaky] == [("tests/test_app.py::test_03", 1)]
    assert tests.slowest[0].name == "tests/test_app.py::test_19"
    assert tests.slowest[0].duration_s == pytest.approx(2.0)
    assert {t.outcome for t in tests.failures} == {"failed", "error"}
    assert any("AssertionError" in t.detail for t in tests.failures)


def test_errors_logs_and_slowest_trace(sample_dir: Path) -> None:
    report = build_report(sample_dir)
    errors = {(e.kind, e.name, e.error): e.count for e in report.errors}
    assert errors[("workflow", "release", "GateFailed")] == 1
    assert errors[("tool", "run_tests", "TimeoutError")] == 1
    assert errors[("test", "tests/test_app.py::test_15", "AssertionError")] == 1
    logs = report.logs
    assert logs is not None
    assert logs.by_severity == {"INFO": 5, "WARN": 2, "ERROR": 1}
    assert [e.severity for e in logs.recent_problems] == ["WARN", "WARN", "ERROR"]
    assert logs.recent_problems[-1].body == "tool run_tests timed out"
    view = report.slowest_trace
    assert view is not None
    assert view.duration_s == pytest.approx(10.0)  # run 9
    assert view.spans[0].depth == 0
    assert view.spans[0].kind == "workflow"
    assert view.spans[0].error
    assert len(view.spans) == 13
    offsets = [s.offset_s for s in view.spans if s.depth == 1]
    assert offsets == sorted(offsets)


def test_metrics_final_values(sample_dir: Path) -> None:
    metrics = {(m.name, m.attributes): m for m in build_report(sample_dir).metrics}
    coder = metrics[("agentobs.tokens.used", "agentobs.persona.name=coder")]
    assert (coder.kind, coder.value) == ("counter", 1500)  # cumulative: the last line wins
    assert metrics[("agentobs.tokens.used", "agentobs.persona.name=planner")].value == 100
    hist = metrics[("agentobs.stage.duration", "agentobs.stage.name=implement")]
    assert (hist.kind, hist.count, hist.value) == ("histogram", 2, 4.0)
    budget = metrics[("agentobs.budget.remaining", "agentobs.budget.name=coder-tokens")]
    assert (budget.kind, budget.value) == ("updowncounter", 3500)


def test_metrics_from_two_processes_add_up(tmp_path: Path) -> None:
    lines = _metric_lines() + _metric_lines()  # two processes, two resources
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    metrics = {(m.name, m.attributes): m for m in build_report(tmp_path).metrics}
    assert metrics[("agentobs.tokens.used", "agentobs.persona.name=coder")].value == 3000


# --- odd input -----------------------------------------------------------------------------


def test_malformed_but_valid_json_never_crashes(tmp_path: Path) -> None:
    odd = [
        "[1, 2, 3]",
        '{"resourceSpans": "nope"}',
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5, "attributes": 7}]}]}]}',
        '{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {}}]}]}]}',
        '{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"kvlistValue": {}}}]}]}]}',
        "\x00\xff garbage",
        "{}",
    ]
    (tmp_path / "traces.jsonl").write_text("\n".join(odd) + "\n", encoding="utf-8")
    report = build_report(tmp_path)
    assert report.spans_total == 1
    assert report.lines_skipped == 3  # the list, the garbage and the empty object
    render_text(report)
    render_html(report)


def test_sections_without_data_are_omitted(tmp_path: Path) -> None:
    (tmp_path / "logs.jsonl").write_text(_log_line() + "\n", encoding="utf-8")
    report = build_report(tmp_path)
    text = render_text(report)
    assert "LOGS" in text
    for absent in ("WORKFLOWS", "STAGES", "LLM CALLS", "QUALITY GATES", "TESTS", "METRICS"):
        assert absent not in text
    page = render_html(report)
    assert 'id="logs"' in page
    assert 'id="workflows"' not in page


# --- text, JSON and the command ------------------------------------------------------------


def test_text_has_every_section_and_fits_the_width(sample_dir: Path) -> None:
    text = render_text(build_report(sample_dir))
    for section in (
        "HIGHLIGHTS",
        "ERRORS",
        "WORKFLOWS",
        "STAGES",
        "PERSONAS",
        "AGENTS",
        "TOOLS",
        "LLM CALLS",
        "QUALITY GATES",
        "HUMAN INTERVENTIONS",
        "TESTS",
        "SLOWEST RUN",
        "LOGS",
        "METRICS",
    ):
        assert re.search(rf"^{section}( \(.*\))? -+$", text, re.MULTILINE), section
    assert max(len(line) for line in text.splitlines() if not line.startswith("  $ ")) <= 100
    assert "2 unreadable skipped" in text
    assert "coder-tokens" in text
    assert "80.0%" in text  # the lint gate pass rate
    assert text.isascii()


def test_run_returns_1_for_missing_or_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_cli.run(_args(dir=str(tmp_path / "missing"))) == 1
    err = capsys.readouterr().err
    assert "no telemetry found" in err
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "traces.jsonl").write_text("garbage\n", encoding="utf-8")
    assert report_cli.run(_args(dir=str(tmp_path))) == 1
    err = capsys.readouterr().err
    assert "1 unreadable lines skipped" in err
    assert "Traceback" not in err


def test_run_prints_text_json_and_writes_html(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_cli.run(_args(dir=str(sample_dir))) == 0
    assert "WORKFLOWS" in capsys.readouterr().out
    assert report_cli.run(_args(dir=str(sample_dir), json=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workflows"][0]["name"] == "release"
    assert data["tests"]["outcomes"]["passed"] == 15
    page = tmp_path / "report.html"
    assert report_cli.run(_args(dir=str(sample_dir), html=str(page))) == 0
    assert "HTML report written" in capsys.readouterr().out
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_dir_defaults_to_agentobs_local_dir(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(sample_dir))
    assert report_cli.run(_args()) == 0
    assert str(sample_dir) in capsys.readouterr().out


def test_unwritable_html_path_is_a_message_not_a_traceback(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "report.html"
    assert report_cli.run(_args(dir=str(sample_dir), html=str(target))) == 1
    assert "cannot write" in capsys.readouterr().err


# --- HTML ----------------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>"


def _evil_directory(directory: Path) -> None:
    """Telemetry whose every user-provided string is markup."""
    t = new_telemetry(service=EVIL)
    with t.span(
        f"invoke_workflow {EVIL}",
        0.0,
        1.0,
        gen_ai__operation__name="invoke_workflow",
        gen_ai__workflow__name=EVIL,
    ) as root:
        with t.span(
            "stage",
            0.1,
            0.5,
            root,
            error=EVIL,
            agentobs__span__type="stage",
            agentobs__stage__name='"><img src=x onerror=alert(2)>',
            agentobs__persona__name=EVIL,
        ) as stage:
            stage.add_event("agentobs.human_intervention", {"agentobs.intervention.reason": EVIL})
            stage.add_event("agentobs.budget.exceeded", {"agentobs.budget.name": EVIL})
            llm = _llm(t, stage, 0.2, 0.1, EVIL, EVIL, 10, 5, cost=0.5, end=False)
            llm.set_attribute("agentobs.persona.name", EVIL)
            llm.end(end_time=_ns(0.3))
        for kind, key in (("gate", "agentobs.gate.name"), ("tool", "gen_ai.tool.name")):
            with t.span(EVIL, 0.6, 0.1, root, agentobs__span__type=kind, **{key: EVIL}) as span:
                span.set_attribute("agentobs.gate.result", "fail")
                span.set_attribute("agentobs.gate.reason", EVIL)
        with t.span(EVIL, 0.8, 0.1, root, agentobs__span__type="test", error=EVIL) as test:
            test.set_attribute("test.case.name", EVIL)
            test.set_attribute("agentobs.test.outcome", EVIL)
            test.set_attribute("agentobs.test.flaky", True)
    (directory / "traces.jsonl").write_text(t.flush_line() + "\n", encoding="utf-8")
    log = _log_line().replace("tool run_tests timed out", EVIL.replace('"', '\\"'))
    (directory / "logs.jsonl").write_text(log + "\n", encoding="utf-8")
    metrics = "\n".join(_metric_lines()).replace("coder-tokens", EVIL)
    (directory / "metrics.jsonl").write_text(metrics + "\n", encoding="utf-8")


def test_html_escapes_user_provided_names(tmp_path: Path) -> None:
    _evil_directory(tmp_path)
    report = build_report(tmp_path)
    assert report.gates[0].name == EVIL  # the names did reach the report
    assert report.llm is not None
    assert report.llm.models[0].model == EVIL
    page = render_html(report).replace("<wbr>", "")  # break points, not text
    assert EVIL not in page
    assert "<img" not in page
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert page.count(escaped) >= 20
    for anchor in ("errors", "personas", "llm", "gates", "interventions", "tests", "logs"):
        section = page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]
        assert escaped in section, anchor
    metrics = page.split('id="metrics"', 1)[1]
    assert "agentobs.budget.name=&lt;script&gt;" in metrics
    assert EVIL in render_text(report)  # the terminal shows names as they are


def test_html_is_self_contained(sample_dir: Path) -> None:
    page = render_html(build_report(sample_dir))
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page  # the CSP forbids any load even if something slips


def test_html_charts_have_titles_and_tables(sample_dir: Path) -> None:
    page = render_html(build_report(sample_dir))
    charts = re.findall(r'<svg class="chart"[^>]*>\s*<title>([^<]+)</title>', page)
    assert len(charts) == page.count('<svg class="chart"')
    assert len(charts) >= 10
    for title in (
        "Workflows: p50 and p95 duration",
        "Stages: p50 and p95 duration",
        "Tokens per model",
        "Tokens per persona",
        "Quality gate results",
        "Test outcomes",
        "Timeline of the slowest run: release",
    ):
        assert title in charts
    for anchor in ("workflows", "stages", "personas", "llm", "gates", "tests", "slowest"):
        section = page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]
        assert '<table class="data">' in section, anchor
