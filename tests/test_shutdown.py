"""Bounded flush and shutdown: a backend that is down, interpreter exit, and SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry import trace

import agentobs
import agentobs.testing
from agentobs._export import pipeline as _pipeline
from agentobs._state import STATE

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- a backend that is down ----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_backend_down_neither_raises_nor_grows_nor_hangs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    caplog.set_level(logging.WARNING)
    # The SDK's own filter hides a message repeated within 20 s, even across tests: forget it.
    for sdk_filter in logging.getLogger("opentelemetry.sdk._shared_internal").filters:
        monkeypatch.setattr(sdk_filter, "last_log", None, raising=False)
    agentobs.configure(
        exporter="otlp",
        endpoint=f"http://127.0.0.1:{closed_port()}",
        protocol=protocol,
        timeout=0.5,
        max_queue_size=100,
        logs=False,
    )
    pipeline = _pipeline.current()
    assert pipeline is not None
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    (processor,) = [p for p in pipeline.span_processors if isinstance(p, BatchSpanProcessor)]
    queue = processor._batch_processor._queue
    assert queue.maxlen == 100

    tracer = trace.get_tracer("tests")
    longest = 0
    for _ in range(5_000):
        with tracer.start_as_current_span("dropped"):
            pass
        longest = max(longest, len(queue))
    assert longest <= 100

    started = time.monotonic()
    agentobs.force_flush(timeout=1)
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    agentobs.shutdown(timeout=1)
    assert time.monotonic() - started < 1.5

    templates = Counter(
        (record.name, str(record.msg))
        for record in caplog.records
        if record.name.startswith("opentelemetry") and record.levelno >= logging.WARNING
    )
    queue_full = [key for key in templates if "Queue full" in key[1]]
    export_failed = [key for key in templates if key[0].startswith("opentelemetry.exporter")]
    assert len(queue_full) == 1
    assert export_failed, templates
    assert max(templates.values()) == 1, templates  # each message once, not once per span
    suppressed = [r for r in caplog.records if "repeated export warnings" in r.getMessage()]
    assert len(suppressed) <= 1  # the count of repeats, if any were hidden by agentobs


def test_shutdown_is_idempotent_and_makes_agentobs_a_no_op(tmp_path: Path) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
    assert STATE.active
    assert agentobs.shutdown(timeout=5) is True
    assert not STATE.active
    assert STATE.tracer is None
    assert _pipeline.current() is None
    assert agentobs.shutdown(timeout=5) is True
    assert agentobs.force_flush(timeout=5) is True


def test_force_flush_writes_without_shutting_down(tmp_path: Path) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
    with trace.get_tracer("tests").start_as_current_span("flushed"):
        pass
    assert agentobs.force_flush(timeout=5) is True
    assert "flushed" in (tmp_path / "traces.jsonl").read_text()
    assert _pipeline.current() is not None


def test_shutdown_gives_up_waiting_on_a_stuck_exporter(tmp_path: Path) -> None:
    import threading

    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    release = threading.Event()

    class Stuck(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            release.wait(10)

    settings = agentobs._settings.resolve(exporter="none")
    _pipeline.install(settings, span_processors=[SimpleSpanProcessor(Stuck())])
    started = time.monotonic()
    try:
        assert agentobs.shutdown(timeout=0.5) is False
        assert time.monotonic() - started < 1.5
    finally:
        release.set()


# --- interpreter exit and SIGTERM ----------------------------------------------------------

CHILD = """
import signal, sys, time
import agentobs
from opentelemetry import trace

mode, directory = sys.argv[1], sys.argv[2]
if mode == "chained":
    def app_handler(signum, frame):
        print("app handler ran", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, app_handler)

agentobs.configure(exporter="local", local_dir=directory, logs=False)
with trace.get_tracer("child").start_as_current_span("child-span"):
    pass
if mode == "exit":
    sys.exit(0)
print("ready", flush=True)
time.sleep(60)
print("not interrupted", flush=True)
"""


def start_child(mode: str, directory: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), mode, str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def terminate_when_ready(child: subprocess.Popen[str]) -> tuple[str, str]:
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return out, err


def test_spans_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    child = start_child("exit", tmp_path)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert '"name":"child-span"' in (tmp_path / "traces.jsonl").read_text()


def test_sigterm_flushes_then_dies_of_sigterm(tmp_path: Path) -> None:
    child = start_child("sleep", tmp_path)
    out, err = terminate_when_ready(child)
    assert child.returncode == -signal.SIGTERM, err
    assert "not interrupted" not in out
    assert '"name":"child-span"' in (tmp_path / "traces.jsonl").read_text()


def test_sigterm_chains_to_the_applications_handler(tmp_path: Path) -> None:
    child = start_child("chained", tmp_path)
    out, err = terminate_when_ready(child)
    assert "app handler ran" in out
    assert child.returncode == 3, err
    assert '"name":"child-span"' in (tmp_path / "traces.jsonl").read_text()
