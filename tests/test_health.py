"""Health endpoints, through a real HTTP client: /health, /readiness and /version beside
/metrics or on their own; failing, raising and hanging checks; readiness flipping; answers
within the timeout while the application is busy."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentobs
from agentobs import health, testing
from agentobs._export import pipeline


def get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, Any], float]:
    """GET ``url`` with urllib; the status, the decoded JSON body, and the seconds it took."""
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, raw = response.status, response.read()
            assert response.headers["Content-Type"] == "application/json"
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw), time.perf_counter() - began


@pytest.fixture
def served(clean_env: None, tmp_path: Path) -> Iterator[str]:
    """agentobs configured with /metrics (and so the health endpoints) on a free port."""
    testing.reset()
    agentobs.configure(
        service_name="fleet-api",
        service_version="3.1.4",
        exporter="local",
        local_dir=tmp_path / "telemetry",
        prometheus_port=0,
        logs=False,
    )
    current = pipeline.current()
    assert current is not None
    assert current.prometheus_address is not None
    host, port = current.prometheus_address
    yield f"http://{host}:{port}"
    testing.reset()


def test_endpoints_beside_metrics(served: str) -> None:
    with agentobs.task("answer"):
        pass
    with pytest.raises(ValueError, match="no"), agentobs.task("answer"):
        raise ValueError("no")
    agentobs.force_flush()
    health.register("model-server", lambda: True, readiness=True)

    status, body, _ = get(f"{served}/health")
    assert status == 200
    assert body["status"] == "pass"
    assert body["service"] == "fleet-api"
    assert body["version"] == "3.1.4"
    assert body["agentobs"] == agentobs.__version__
    assert body["uptime_seconds"] > 0
    check = body["checks"]["model-server"]
    assert check["status"] == "pass"
    assert check["readiness"] is True
    assert check["latency_ms"] >= 0
    assert body["tasks"]["completed"] == 2
    assert body["tasks"]["succeeded"] == 1
    assert body["tasks"]["success_rate"] == 0.5
    assert body["tasks"]["mean_duration_seconds"] >= 0
    assert body["tasks"]["window_seconds"] == 86400
    traces = body["exporters"]["traces/local"]
    assert traces["ok"] is True
    assert traces["successes"] >= 1
    assert traces["last_success"].endswith("Z")

    assert get(f"{served}/readiness")[:2] == (
        200,
        {
            "status": "pass",
            "checks": {
                "model-server": {**check, "latency_ms": pytest.approx(check["latency_ms"], abs=50)}
            },
        },
    )
    status, body, _ = get(f"{served}/version")
    assert status == 200
    assert body["service"] == "fleet-api"
    assert body["version"] == "3.1.4"
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:
        assert b"agentobs_task_runs_total" in response.read()


def test_failing_raising_and_hanging_checks(served: str) -> None:
    release = threading.Event()
    calls = {"hang": 0}

    def hang() -> bool:
        calls["hang"] += 1
        release.wait(30)
        return True

    def boom() -> None:
        raise ConnectionError("vector store at 10.0.0.7 refused: password=hunter2")

    health.register("queue", lambda: False)
    health.register("vector-store", boom, readiness=True)
    health.register("slow-model", hang, timeout=0.3)
    try:
        status, body, took = get(f"{served}/health")
        assert status == 503
        assert body["status"] == "fail"
        assert took < 2.0  # bounded by the slowest timeout, not by the hang
        checks = body["checks"]
        assert checks["queue"]["status"] == "fail"
        assert checks["queue"]["error"] == "returned bool False"
        assert checks["vector-store"] == {
            "status": "fail",
            "error": "ConnectionError",  # the type only: messages may hold secrets
            "latency_ms": checks["vector-store"]["latency_ms"],
            "readiness": True,
        }
        assert checks["slow-model"]["status"] == "fail"
        assert checks["slow-model"]["error"] == "timed out after 0.3 s"
        # still hanging: reported again within the timeout, and not started a second time
        status, body, took = get(f"{served}/health")
        assert status == 503
        assert took < 2.0
        assert body["checks"]["slow-model"]["error"] == "timed out after 0.3 s"
        assert calls["hang"] == 1
        assert get(f"{served}/readiness")[0] == 503  # only vector-store is needed for it
        health.unregister("vector-store")
        assert get(f"{served}/readiness")[:2] == (200, {"status": "pass", "checks": {}})
    finally:
        release.set()
    time.sleep(0.1)
    health.unregister("queue")
    status, body, _ = get(f"{served}/health")
    assert status == 200
    assert body["checks"]["slow-model"]["status"] == "pass"
    assert calls["hang"] == 2


def test_readiness_flips(served: str) -> None:
    ready = threading.Event()

    async def warmed_up() -> bool:  # coroutine checks work too
        return ready.is_set()

    health.register("warm-cache", warmed_up, readiness=True, timeout=1)
    assert get(f"{served}/readiness")[0] == 503
    ready.set()
    assert get(f"{served}/readiness")[0] == 200
    ready.clear()
    status, body, _ = get(f"{served}/readiness")
    assert status == 503
    assert body["checks"]["warm-cache"]["status"] == "fail"


def test_endpoints_answer_while_the_application_is_busy(served: str) -> None:
    stop = threading.Event()

    def busy() -> None:  # CPU-bound, holding the GIL most of the time, recording spans
        while not stop.is_set():
            with agentobs.workflow("crunch"), agentobs.task("step"):
                sum(i * i for i in range(20000))

    health.register("db", lambda: time.sleep(0.05) or True, timeout=0.5)
    workers = [threading.Thread(target=busy) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        took = []
        for path in ("/health", "/readiness", "/version") * 3:
            status, _body, seconds = get(f"{served}{path}", timeout=5)
            assert status == 200
            took.append(seconds)
        assert max(took) < 1.5, took
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def test_health_port_without_prometheus(clean_env: None) -> None:
    testing.reset()
    try:
        agentobs.configure(exporter="none", health_port=0, logs=False)
        current = pipeline.current()
        assert current is not None
        assert current.prometheus_server is None
        assert current.health_address is not None
        host, port = current.health_address
        status, body, _ = get(f"http://{host}:{port}/health")
        assert status == 200
        assert body["status"] == "pass"
        assert get(f"http://{host}:{port}/metrics")[0] == 404
    finally:
        testing.reset()


def test_serve_standalone_and_register_checks() -> None:
    server = health.serve(0)
    try:
        health.register("ok", lambda: None)
        status, body, _ = get(f"{server.url}/health")
        assert status == 200
        assert body["checks"]["ok"]["status"] == "pass"
    finally:
        server.close()
        health.clear()
    with pytest.raises(ValueError, match="must be callable"):
        health.register("x", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="greater than 0"):
        health.register("x", lambda: True, timeout=0)
