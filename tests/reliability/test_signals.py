"""Signals and shutdown: the application's SIGTERM handler runs first and on time, even with
the backend stalled; what it records while winding down arrives; ``timeout=None`` is safe."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry import trace

import agentobs
from tests.reliability._support import REPO_ROOT, child_env, report, stalling_server

APP = """
import signal, sys, time
import agentobs

exporter, where = sys.argv[1], sys.argv[2]
stop = False

def on_sigterm(signum, frame):
    global stop
    print(f"handler {time.time():.6f}", flush=True)
    stop = True

signal.signal(signal.SIGTERM, on_sigterm)
if exporter == "local":
    agentobs.configure(exporter="local", local_dir=where, logs=False)
else:
    agentobs.configure(exporter="otlp", endpoint=where, timeout=5, logs=False)
with agentobs.workflow("warm-up"):
    pass
print("ready", flush=True)
while not stop:
    with agentobs.workflow("loop"):
        time.sleep(0.02)
with agentobs.workflow("last-words"):
    pass
print("done", flush=True)
"""


def run_app(exporter: str, where: str) -> tuple[float, str, str, int]:
    """Start the app, SIGTERM it once ready; return the handler's delay, output, rc."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(APP), exporter, where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=REPO_ROOT,
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        sent = time.time()
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    handled = next(
        float(line.split()[1]) for line in out.splitlines() if line.startswith("handler")
    )
    return handled - sent, out, err, child.returncode


def test_the_applications_handler_runs_first_and_on_time_with_the_backend_stalled() -> None:
    with stalling_server() as stalled:
        delay, out, err, returncode = run_app("otlp", stalled.url)
    report("SIGTERM, backend stalled: application handler delay", seconds=delay)
    assert returncode == 0, err
    assert "done" in out
    assert delay < 1.0, f"the application's handler started {delay:.2f} s after SIGTERM"


def test_what_the_handler_lets_the_app_record_arrives(tmp_path: Path) -> None:
    delay, _out, err, returncode = run_app("local", str(tmp_path))
    report("SIGTERM, local files: application handler delay", seconds=delay)
    assert returncode == 0, err
    traces = (tmp_path / "traces.jsonl").read_text()
    assert "warm-up" in traces
    assert "last-words" in traces, "the workflow recorded after SIGTERM was lost"


@pytest.mark.usefixtures("fresh_agentobs")
def test_timeout_none_never_raises_and_still_flushes(tmp_path: Path) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
    with trace.get_tracer("tests").start_as_current_span("before-flush"):
        pass
    assert agentobs.force_flush(None) is True
    assert "before-flush" in (tmp_path / "traces.jsonl").read_text()
    with trace.get_tracer("tests").start_as_current_span("before-shutdown"):
        pass
    assert agentobs.shutdown(timeout=None) is True
    assert "before-shutdown" in (tmp_path / "traces.jsonl").read_text()


@pytest.mark.usefixtures("fresh_agentobs")
@pytest.mark.parametrize("bad", [-1, float("nan"), "soon"])
def test_a_bad_timeout_warns_and_uses_the_default(
    tmp_path: Path, bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
    with trace.get_tracer("tests").start_as_current_span("flushed"):
        pass
    assert agentobs.force_flush(bad) is True  # type: ignore[arg-type]
    assert agentobs.shutdown(bad) is True  # type: ignore[arg-type]
    assert "flushed" in (tmp_path / "traces.jsonl").read_text()
    assert "expected seconds >= 0" in caplog.text
