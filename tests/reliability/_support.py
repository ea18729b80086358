"""What the reliability tests share: loopback servers that refuse, stall or answer with an
error, a rotel collector that is really stopped and started again on the same ports, child
processes running a script, and the shutdown line's figures."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import (
    ROTEL_AGENT,
    Rotel,
    ServerProcess,
    clean_env,
    free_ports,
    missing_backend,
    port_open,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class StallingServer:
    """Accepts TCP connections and reads them, but never answers (a stalled backend)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for connection in self.connections:
            connection.close()
        self.sock.close()


class StatusServer:
    """Answers every request with one HTTP status (400: the backend refuses the data)."""

    def __init__(self, status: int) -> None:
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(handler) -> None:
                handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
                self.requests += 1
                body = b"{}"
                handler.send_response(status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            do_GET = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OtlpCapture:
    """An OTLP/HTTP traces receiver that decodes every request and counts malformed ones."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        kinds: dict[str, Any] = {
            "/v1/traces": ExportTraceServiceRequest,
            "/v1/metrics": ExportMetricsServiceRequest,
            "/v1/logs": ExportLogsServiceRequest,
        }

        self.requests = 0
        self.malformed = 0
        self.names: list[str] = []
        lock = threading.Lock()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = kinds.get(self.path, ExportTraceServiceRequest)()
                try:  # a body mixed with another request's bytes does not decode
                    ok = self.path in kinds and message.ParseFromString(body) == len(body)
                except Exception:
                    ok = False
                with lock:
                    capture.requests += 1
                    if not ok:
                        capture.malformed += 1
                    for resource in getattr(message, "resource_spans", ()):
                        for scope in resource.scope_spans:
                            capture.names += [span.name for span in scope.spans]
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def span_names(self) -> list[str]:
        return list(self.names)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def stalling_server() -> Iterator[StallingServer]:
    server = StallingServer()
    try:
        yield server
    finally:
        server.close()


class RestartableRotel(Rotel):
    """A private rotel this test stops (SIGKILL) and starts again on the same ports."""

    def __init__(self, work: Path) -> None:
        binary = Path(os.environ.get("AGENTOBS_ROTEL_AGENT", ROTEL_AGENT))
        if not (binary.exists() and os.access(binary, os.X_OK)):
            missing_backend("rotel", f"no {binary}")
        self.work = work
        self.binary = binary
        self.starts = 0
        self.grpc_port, self.http_port = free_ports(2)
        super().__init__(self.grpc_port, self.http_port, self._server())

    def _server(self) -> ServerProcess:
        argv = [
            str(self.binary),
            "start",
            "--otlp-grpc-endpoint",
            f"127.0.0.1:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"127.0.0.1:{self.http_port}",
            "--exporter",
            "blackhole",
            "--debug-log",
            "traces",
            "--debug-log-verbosity",
            "detailed",
            "--pid-file",
            str(self.work / f"rotel-{self.starts}.pid"),
            "--log-file",
            str(self.work / f"rotel-daemon-{self.starts}.log"),
        ]
        return ServerProcess(
            "rotel", argv, self.work / f"rotel-{self.starts}.log", env=clean_env(), cwd=self.work
        )

    def start(self) -> None:
        self.server = self._server()
        self.starts += 1
        self.server.start(
            lambda: port_open(self.grpc_port) and port_open(self.http_port), timeout=30
        )

    def kill(self) -> None:
        """SIGKILL, as a crash would end it; wait until its ports are closed."""
        process = self.server.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def output(self) -> str:
        """Everything every run of rotel printed."""
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.work.glob("rotel-[0-9]*.log"))
        )

    def span_names(self) -> list[str]:
        return [r.name for r in self.records("span")]


@contextlib.contextmanager
def restartable_rotel(work: Path) -> Iterator[RestartableRotel]:
    collector = RestartableRotel(work)
    try:
        yield collector
    finally:
        collector.kill()


def run_script(
    script: str,
    *args: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (agentobs importable); return its outcome."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(**(env or {})),
        cwd=REPO_ROOT,
        check=False,
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    env.pop("LANGFUSE_PUBLIC_KEY", None)
    env.pop("LANGFUSE_SECRET_KEY", None)
    env.update(extra)
    return env


_FIGURE = re.compile(r"(\d+) (exported|failed|dropped \(queue full\)|still queued)")


def shutdown_figures(text: str, items: str = "spans") -> dict[str, int]:
    """The figures of ``items`` in the shutdown line found in ``text`` (log output)."""
    line = next(
        (line for line in text.splitlines() if "agentobs: shutdown" in line and items in line),
        None,
    )
    if line is None:
        pytest.fail(f"no shutdown line with {items} in:\n{text[-3000:]}", pytrace=False)
    part = line.split(f"{items}: ", 1)[1].split(";")[0]
    figures = {"exported": 0, "failed": 0, "dropped (queue full)": 0, "still queued": 0}
    for count, what in _FIGURE.findall(part):
        figures[what] = int(count)
    return figures


FIGURES: list[str] = []
"""Every figure measured in this session; ``conftest.py`` prints them after the run."""


def report(what: str, **figures: Any) -> None:
    """Record (and print, for ``pytest -s``) a property's measured figures; the terminal
    summary lists them all at the end of the run."""
    shown = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    FIGURES.append(f"{what}: {shown}")
    print(f"\n[reliability] {what}: {shown}", flush=True)


def wait_until(check: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
