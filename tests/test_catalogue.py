"""The catalogue: docs/metrics.md is current, names follow the unit rules, every instrument
the API records is catalogued, and the Prometheus names it gives are the exporter's own.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

import agentobs
from agentobs import _catalogue, _recorder, testing
from agentobs._catalogue import BY_NAME, CATALOGUE
from agentobs._prometheus import metric_name, prometheus_name
from agentobs.cli._metricsdoc import render_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
SOURCES = sorted(Path(agentobs.__file__).parent.rglob("*.py"))


def test_docs_metrics_md_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/metrics.md is stale: run `python -m agentobs.cli._metricsdoc > docs/metrics.md`"
    )


def test_docs_give_every_prometheus_name() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for instrument in CATALOGUE:
        assert f"| `{instrument.name}` | `{prometheus_name(instrument)}` |" in text


def test_catalogue_is_one_tuple_of_unique_names() -> None:
    assert isinstance(CATALOGUE, tuple)
    names = [i.name for i in CATALOGUE]
    assert len(names) == len(set(names))
    assert set(BY_NAME) == set(names)


@pytest.mark.parametrize("instrument", CATALOGUE, ids=lambda i: i.name)
def test_units_follow_the_rules(instrument: _catalogue.Instrument) -> None:
    unit = instrument.unit
    assert unit == "s" or unit == "1" or re.fullmatch(r"\{[a-zA-Z_]+\}", unit), unit
    assert unit not in ("token", "ms", "USD", "tokens", "usd")
    if "duration" in instrument.name or instrument.name.endswith(".age"):
        assert unit == "s"
    prom = prometheus_name(instrument)
    assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", prom)
    # The unit adds nothing to the name but "_seconds" (never "_token", "_USD", "_ms"...).
    base = re.sub(r"[^a-zA-Z0-9:]+", "_", instrument.name)
    core = prom.removesuffix("_total") if instrument.kind == "counter" else prom
    assert core in (base, f"{base}_seconds", base.removesuffix("_total")), prom
    if instrument.kind == "counter":
        assert prom.endswith("_total")
        assert not prom.endswith("_total_total")
    if unit == "s":
        assert prom.endswith("_seconds") or "_seconds_" in prom


@pytest.mark.parametrize("instrument", CATALOGUE, ids=lambda i: i.name)
def test_kinds_buckets_and_attributes(instrument: _catalogue.Instrument) -> None:
    assert instrument.kind in (
        "counter",
        "updown_counter",
        "histogram",
        "gauge",
        "observable_gauge",
    )
    if instrument.kind == "histogram":
        assert instrument.buckets
        assert list(instrument.buckets) == sorted(set(instrument.buckets))
    else:
        assert instrument.buckets is None
    ids = {"trace_id", "span_id", "session.id", "user.id", "task.id", "test.id"}
    assert not ids & set(instrument.attributes)
    assert instrument.description.endswith(".")


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("gen_ai.client.token.usage", "{token}", "histogram", "gen_ai_client_token_usage"),
        (
            "gen_ai.client.operation.duration",
            "s",
            "histogram",
            "gen_ai_client_operation_duration_seconds",
        ),
        ("agentobs.test.runs", "{test}", "counter", "agentobs_test_runs_total"),
        ("agentobs.tokens.used", "token", "counter", "agentobs_tokens_used_token_total"),
        ("agentobs.cost", "USD", "counter", "agentobs_cost_USD_total"),
        ("agentobs.cost.usd", "{USD}", "counter", "agentobs_cost_usd_total"),
        ("agentobs.budget.remaining", "{run}", "updown_counter", "agentobs_budget_remaining"),
        ("agentobs.quality.score", "1", "gauge", "agentobs_quality_score"),
        ("agentobs.test.duration", "ms", "histogram", "agentobs_test_duration_milliseconds"),
        ("agentobs.test.duration_seconds", "s", "histogram", "agentobs_test_duration_seconds"),
        ("agentobs.requests_total", "{request}", "counter", "agentobs_requests_total"),
    ],
)
def test_prometheus_name_translation(name: str, unit: str, kind: str, expected: str) -> None:
    """The examples SEMCONV.md section 3 observed from the real exporter."""
    assert metric_name(name, unit, kind) == expected


def test_catalogue_names_match_the_real_prometheus_exporter() -> None:
    """Every catalogue instrument, recorded through a real PrometheusMetricReader, appears
    under the name the catalogue gives (in-process; the e2e test scrapes over HTTP)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    meter = provider.get_meter("agentobs")
    observable = [i.name for i in CATALOGUE if i.kind == "observable_gauge"]

    def source() -> list[tuple[float, dict[str, str]]]:
        return [(1.0, {})]

    recorders = _recorder.build(meter, dict.fromkeys(observable, source))
    for instrument in CATALOGUE:
        if instrument.kind != "observable_gauge":
            recorders[instrument.name].record(1, {})
    exposition = generate_latest(registry).decode()
    families = set(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE))
    try:
        for instrument in CATALOGUE:
            prom = prometheus_name(instrument)
            if instrument.kind == "histogram":
                assert f"{prom}_count" in exposition, prom
                assert (prom, "histogram") in families
            elif instrument.kind == "counter":
                assert re.search(rf"^{prom}(\{{| )", exposition, re.MULTILINE), prom
                assert {(prom, "counter"), (prom.removesuffix("_total"), "counter")} & families
            else:
                assert (prom, "gauge") in families, prom
    finally:
        provider.shutdown()


def _recorded_names(cap: testing.Capture) -> set[str]:
    return {p.name for p in cap.metric_points()}


def test_every_instrument_the_api_records_is_catalogued() -> None:
    with testing.capture() as cap:

        async def scenario() -> None:
            async with agentobs.workflow("w"), agentobs.persona("a"):
                async with agentobs.persona("b", chatmode="x"), agentobs.stage("s"):
                    with agentobs.agent("ag"), agentobs.task("t"), agentobs.tool("x"):
                        agentobs.human_intervention("r")
                    with agentobs.quality_gate("g", threshold=0.5) as gate:
                        gate.score(0.7)
                    agentobs.record_gate("h", False, score=0.1)
                with agentobs.stage("s"):  # a re-entry
                    pass
                assert cap.metric_points("agentobs.workflow.oldest_age")

        asyncio.run(scenario())
        recorded = _recorded_names(cap)
        points = cap.metric_points()
    assert recorded <= set(BY_NAME), recorded - set(BY_NAME)
    ours = {
        "gen_ai.workflow.duration",
        "agentobs.workflow.runs",
        "agentobs.workflow.active",
        "gen_ai.invoke_agent.duration",
        "gen_ai.execute_tool.duration",
        "agentobs.stage.duration",
        "agentobs.stage.reentries",
        "agentobs.task.runs",
        "agentobs.task.duration",
        "agentobs.persona.switches",
        "agentobs.persona.duration",
        "agentobs.gate.checks",
        "agentobs.gate.score",
        "agentobs.human_interventions",
    }
    assert ours <= recorded, ours - recorded
    for point in points:
        instrument = BY_NAME[point.name]
        assert point.unit == instrument.unit, point.name
        assert set(point.attributes) <= set(instrument.attributes), point.name
        if instrument.buckets:
            assert point.explicit_bounds == tuple(float(b) for b in instrument.buckets)


def test_the_source_names_instruments_by_their_constants() -> None:
    """A static check: metrics are recorded through the catalogue's named constants (a typo
    fails at import and in mypy), never through a name spelled out in a string."""
    literal = re.compile(
        r'(?:_record\(|recorders\[|recorders\.get\(|add_gauge_source\()\s*"'
        r'|"(?:' + "|".join(re.escape(name) for name in BY_NAME) + r')"'
    )
    used: set[str] = set()
    for path in SOURCES:
        if path.name in ("_catalogue.py", "_names.py", "testing.py") or "cli" in path.parts:
            continue  # the table; attribute keys; a docstring example; the CLI reads, not records
        text = path.read_text(encoding="utf-8")
        assert not literal.search(text), (path, literal.search(text))
        used |= set(re.findall(r"\bcat\.([A-Z][A-Z0-9_]+)\.name\b", text))
    assert len(used) >= 30
    for constant in used:
        assert getattr(_catalogue, constant) in CATALOGUE, constant


def test_counters_are_totalled_in_process_and_read_as_monotonic_sums(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with testing.capture() as cap:
        recorder = _recorders()["agentobs.human_interventions"]
        for _ in range(3):
            recorder.record(1, {"agentobs.intervention.reason": "r"})
        recorder.record(2.5, {"agentobs.intervention.reason": "r"})
        for bad in (-1, float("nan"), float("inf")):
            recorder.record(bad, {"agentobs.intervention.reason": "r"})
        [point] = cap.metric_points("agentobs.human_interventions")
        assert point.value == 5.5
        assert point.kind == "Sum"
        assert cap.metric_value("agentobs.human_interventions") == 5.5  # cumulative, re-read
    assert caplog.text.count("ignores amount") == 1


def _recorders() -> dict[str, _recorder.Recorder]:
    from agentobs._state import STATE

    assert STATE.recorders is not None
    return STATE.recorders
