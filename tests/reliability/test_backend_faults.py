"""A backend down from the start, stalled, or killed and started again mid-run (a real rotel
collector, really killed): no user call blocks, shutdown keeps its timeout, spans recorded
after the restart arrive (recovery time measured), every span is accounted for exactly."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

import agentobs
from tests.reliability._support import (
    RestartableRotel,
    StatusServer,
    report,
    restartable_rotel,
    shutdown_figures,
    stalling_server,
)

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


class Recorder:
    """Records workflows by name and keeps the slowest user call."""

    def __init__(self) -> None:
        self.count = 0
        self.slowest = 0.0
        self.slowest_name = ""

    def record(self, name: str) -> None:
        started = time.perf_counter()
        with agentobs.workflow(name):
            pass
        took = time.perf_counter() - started
        if took > self.slowest and self.count:  # the first call imports the API: not timed
            self.slowest, self.slowest_name = took, name
        self.count += 1


def warm_http_stack() -> None:
    """One request through requests/urllib3 first: their lazy imports, done by the export
    thread otherwise, would hold the import lock a user call may wait on (a test artefact,
    seconds long on a loaded machine)."""
    import requests

    server = StatusServer(200)
    try:
        requests.post(server.url + "/v1/traces", data=b"", timeout=5)
    finally:
        server.close()


def arrived(collector: RestartableRotel, prefix: str) -> set[str]:
    names = (n.removeprefix("invoke_workflow ") for n in collector.span_names())
    return {n for n in names if n.startswith(prefix)}


def wait_for(collector: RestartableRotel, name: str, timeout: float) -> float | None:
    """Seconds until span ``name`` arrived, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if name in arrived(collector, name):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("fault", ["down-from-start", "killed-and-restarted"])
def test_backend_fault_then_recovery(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    protocol: str,
    fault: str,
) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    with restartable_rotel(tmp_path) as collector:
        agentobs.configure(
            exporter="otlp",
            endpoint=collector.endpoint(protocol),
            protocol=protocol,
            timeout=2,
            logs=False,
            metric_export_interval=3600,
        )
        calls = Recorder()
        if fault == "killed-and-restarted":
            collector.start()
            calls.record("before-0")
            assert wait_for(collector, "before-0", 20) is not None
            collector.kill()
        down_since = time.monotonic()
        index = 0
        while time.monotonic() - down_since < 3:  # the backend is down for 3 s
            calls.record(f"during-{index}")
            index += 1
            time.sleep(0.01)
        collector.start()
        restarted = time.monotonic()
        recovered = None
        step = 0
        while recovered is None and time.monotonic() - restarted < 30:
            calls.record(f"after-{step}")
            if arrived(collector, f"after-{step}"):
                recovered = time.monotonic() - restarted
            step += 1
            time.sleep(0.1)
            if any(arrived(collector, "after-")):
                recovered = time.monotonic() - restarted
        assert recovered is not None, "no span recorded after the restart arrived in 30 s"
        last = f"after-{step}"
        calls.record(last)
        assert wait_for(collector, last, 20) is not None
        started = time.monotonic()
        agentobs.shutdown(timeout=3)
        shutdown_seconds = time.monotonic() - started
        figures = shutdown_figures(caplog.text)
        seen = arrived(collector, "")
    report(
        f"{fault} ({protocol})",
        recovery_seconds=recovered,
        slowest_user_call_ms=calls.slowest * 1000,
        shutdown_seconds=shutdown_seconds,
        recorded=calls.count,
        arrived=len(seen),
        **figures,
    )
    assert calls.slowest < 1.5, "a user call blocked"  # blocked, it would wait the 2 s timeout
    assert shutdown_seconds < 3.5
    assert figures["exported"] + figures["failed"] + figures["dropped (queue full)"] == calls.count
    assert figures["exported"] == len(seen)  # every span the exporter sent was received


def test_stalled_backend_never_blocks_a_user_call(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    calls = Recorder()
    warm_http_stack()
    with stalling_server() as stalled:
        agentobs.configure(
            exporter="otlp", endpoint=stalled.url, timeout=10, max_queue_size=256, logs=False
        )
        for index in range(3000):
            calls.record(f"stalled-{index}")
        started = time.monotonic()
        assert agentobs.force_flush(timeout=0.5) is False
        flush_seconds = time.monotonic() - started
        started = time.monotonic()
        agentobs.shutdown(timeout=1)
        shutdown_seconds = time.monotonic() - started
    figures = shutdown_figures(caplog.text)
    report(
        "stalled backend",
        slowest_user_call_ms=calls.slowest * 1000,
        force_flush_seconds=flush_seconds,
        shutdown_seconds=shutdown_seconds,
        **figures,
    )
    assert calls.slowest < 2.0, calls.slowest_name  # blocked, it would wait the 10 s timeout
    assert flush_seconds < 1.0
    assert shutdown_seconds < 1.5
    assert figures["dropped (queue full)"] >= 3000 - 256 - 512
    in_flight = calls.count - sum(figures.values())
    assert 0 <= in_flight <= 512, figures
