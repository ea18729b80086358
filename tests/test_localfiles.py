"""The local default: OTLP JSON Lines files, rotation, and an unwritable directory."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace

import agentobs
import agentobs.testing
from agentobs._export import pipeline as _pipeline
from agentobs._export.localfiles import JsonLinesWriter, rotated_files
from agentobs._settings import resolve

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def spans_in(path: Path) -> list[dict[str, Any]]:
    return [
        span
        for document in lines(path)
        for resource in document["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_default_without_endpoint_writes_otlp_json_lines(tmp_path: Path) -> None:
    agentobs.configure(service_name="files", metric_export_interval=60)
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner"):
        logging.getLogger("tests.app").warning("inside %s", "inner")
    metrics.get_meter("tests").create_counter("runs", unit="{run}").add(2)
    assert agentobs.shutdown(timeout=5)

    directory = tmp_path / ".agentobs"
    assert sorted(p.name for p in directory.iterdir()) == [
        "logs.jsonl",
        "metrics.jsonl",
        "traces.jsonl",
    ]
    spans = {span["name"]: span for span in spans_in(directory / "traces.jsonl")}
    assert set(spans) == {"outer", "inner"}
    for span in spans.values():
        assert HEX32.match(span["traceId"])
        assert HEX16.match(span["spanId"])
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"])
    assert spans["inner"]["parentSpanId"] == spans["outer"]["spanId"]
    assert spans["inner"]["traceId"] == f"{outer.get_span_context().trace_id:032x}"

    resource = lines(directory / "traces.jsonl")[0]["resourceSpans"][0]["resource"]
    assert {"key": "service.name", "value": {"stringValue": "files"}} in resource["attributes"]

    (log_doc,) = lines(directory / "logs.jsonl")
    record = log_doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["body"] == {"stringValue": "inside inner"}
    assert record["traceId"] == spans["inner"]["traceId"]
    assert record["spanId"] == spans["inner"]["spanId"]

    metric_names = {
        metric["name"]
        for document in lines(directory / "metrics.jsonl")
        for resource in document["resourceMetrics"]
        for scope in resource["scopeMetrics"]
        for metric in scope["metrics"]
    }
    assert "runs" in metric_names


def test_local_dir_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(tmp_path / "from-env"))
    agentobs.configure(logs=False)
    with trace.get_tracer("tests").start_as_current_span("x"):
        pass
    agentobs.shutdown()
    assert [s["name"] for s in spans_in(tmp_path / "from-env" / "traces.jsonl")] == ["x"]


def test_writer_rotates_at_the_size_cap_and_keeps_backups(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    writer = JsonLinesWriter(path, max_bytes=300, backups=3)
    for index in range(40):
        assert writer.write({"index": index, "pad": "x" * 40})
    writer.close()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["traces.1.jsonl", "traces.2.jsonl", "traces.3.jsonl", "traces.jsonl"]
    for file in tmp_path.iterdir():
        assert file.stat().st_size <= 300
    ordered = rotated_files(tmp_path, "traces")
    assert [p.name for p in ordered] == [
        "traces.3.jsonl",
        "traces.2.jsonl",
        "traces.1.jsonl",
        "traces.jsonl",
    ]
    indexes = [doc["index"] for p in ordered for doc in lines(p)]
    assert indexes == list(range(indexes[0], 40))  # oldest first, the newest kept, no gaps


def test_writer_appends_to_an_existing_file_and_counts_its_size(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text('{"old":true}\n' * 10)
    writer = JsonLinesWriter(path, max_bytes=135)  # 130 bytes already there
    writer.write({"new": True})
    writer.close()
    assert lines(tmp_path / "logs.1.jsonl") == [{"old": True}] * 10
    assert lines(path) == [{"new": True}]


def test_pipeline_rotates_traces_at_local_max_bytes(tmp_path: Path) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, local_max_bytes=2_000, logs=False)
    tracer = trace.get_tracer("tests")
    for _ in range(10):
        for _ in range(5):
            with tracer.start_as_current_span("batch"):
                pass
        agentobs.force_flush(timeout=5)
    agentobs.shutdown()
    assert (tmp_path / "traces.1.jsonl").exists()
    assert not (tmp_path / "traces.4.jsonl").exists()
    total = sum(len(spans_in(p)) for p in rotated_files(tmp_path, "traces"))
    assert 0 < total <= 50


def test_unwritable_directory_warns_once_and_the_app_carries_on(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    memory = InMemorySpanExporter()
    settings = resolve(exporter="local", local_dir=blocker / "telemetry")
    _pipeline.install(settings, span_processors=[SimpleSpanProcessor(memory)])

    tracer = trace.get_tracer("tests")
    for index in range(5):
        with tracer.start_as_current_span(f"span-{index}"):
            logging.getLogger("tests.app").warning("still working %d", index)
        assert agentobs.force_flush(timeout=5) in (True, False)
    metrics.get_meter("tests").create_counter("runs").add(1)
    assert agentobs.shutdown(timeout=5)

    assert [s.name for s in memory.get_finished_spans()] == [f"span-{i}" for i in range(5)]
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "agentobs" and r.levelno >= logging.WARNING
    ]
    # One warning, and the shutdown line with the exact figures of what was lost.
    shutdown_line = warnings.pop()
    assert shutdown_line.startswith("agentobs: shutdown;"), shutdown_line
    assert "spans: 0 exported, 5 failed (local_span_exporter/0 5)" in shutdown_line
    assert len(warnings) == 1, warnings
    assert "cannot write" in warnings[0]
    assert str(blocker) in warnings[0]
    assert blocker.read_text() == "not a directory"
