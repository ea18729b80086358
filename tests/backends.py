"""Pytest fixtures that run real telemetry backends on free loopback ports.

Registered from ``tests/conftest.py``. Install the backends with ``make backends``
(see shared/design/BACKENDS.md). Each fixture starts its server on ports picked at
run time (bind port 0), polls until the server is ready, and stops every process it
started (terminate, wait, kill) when its scope ends. Work files live in pytest's
temporary directories.

A backend that is not installed skips its tests with "<backend> not installed: run
make backends", unless ``AGENTOBS_REQUIRE_BACKENDS=1``, which turns the skip into a
failure (CI sets it). A backend that is installed but fails to start always fails.

Fixtures:

* ``phoenix`` (session): Arize Phoenix, an OTLP traces backend (HTTP + gRPC). Read
  back through its REST API: ``phoenix.spans(project, min_count, timeout)``.
* ``rotel`` (session): the rotel OTel collector (Rust) as an OTLP sink for traces,
  metrics and logs over HTTP and gRPC. Read back through its debug exporter (see
  :class:`Rotel`): ``rotel.wait_for_metric(name)``, ``rotel.wait_for_log(body)``.
* ``prometheus`` (function): a factory ``prometheus(targets)`` that starts Prometheus
  scraping ``host:port`` targets every second; ``query(promql, timeout)``.
* ``pushgateway`` (function): a Prometheus Pushgateway.
* ``chromium`` (session): Debian's headless Chromium, with a ``screenshot`` helper.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS_DIR = Path(os.environ.get("AGENTOBS_BACKENDS_DIR", REPO_ROOT / ".backends"))
REQUIRE_BACKENDS_ENV = "AGENTOBS_REQUIRE_BACKENDS"

PHOENIX_PYTHON = BACKENDS_DIR / "phoenix-venv" / "bin" / "python"
PHOENIX_LAUNCHER = REPO_ROOT / "scripts" / "phoenix_loopback.py"
ROTEL_AGENT = BACKENDS_DIR / "bin" / "rotel-agent"

PHOENIX_START_TIMEOUT = 120.0
SERVER_START_TIMEOUT = 30.0

T = TypeVar("T")

__all__ = [
    "Alertmanager",
    "AlertmanagerFactory",
    "Chromium",
    "Phoenix",
    "Prometheus",
    "PrometheusFactory",
    "Pushgateway",
    "Rotel",
    "RotelRecord",
    "alertmanager",
    "chromium",
    "free_port",
    "free_ports",
    "missing_backend",
    "phoenix",
    "poll",
    "prometheus",
    "pushgateway",
    "rotel",
]


# --- helpers -------------------------------------------------------------------------------


def missing_backend(name: str, reason: str = "") -> NoReturn:
    """Skip the test because backend ``name`` is absent; fail instead when it is required."""
    message = f"{name} not installed: run make backends"
    if reason:
        message = f"{message} ({reason})"
    if os.environ.get(REQUIRE_BACKENDS_ENV, "") == "1":
        pytest.fail(f"{message}; {REQUIRE_BACKENDS_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that was free on ``host`` a moment ago."""
    return free_ports(1, host)[0]


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` until it returns something other than None/False; fail after ``timeout``.

    The failure message names ``what`` and appends ``details()`` when given.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:.0f}s waiting for {what}"
            if details is not None:
                message = f"{message}; {details()}"
            pytest.fail(message, pytrace=False)
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``; return (status, body). Connection errors give status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without OTel/Phoenix/venv settings, plus ``extra``."""
    dropped = ("OTEL_", "PHOENIX_", "ROTEL_", "AGENTOBS_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env.update(extra)
    return env


class _Readiness(Protocol):
    def __call__(self) -> bool: ...


@dataclass
class ServerProcess:
    """A server process this test session started, with its combined stdout/stderr log."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, ready: _Readiness, timeout: float) -> None:
        """Start the process and wait until ``ready()`` is true; fail with its log otherwise."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(
                    f"{self.name} exited with {self.process.returncode} during start-up:\n"
                    f"{self.log_tail()}",
                    pytrace=False,
                )
            if time.monotonic() >= deadline:
                self.stop()
                pytest.fail(
                    f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the process group, wait ``grace`` seconds, then kill it."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                process.wait(grace)
        # Children that outlived their parent in the same group.
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def log_text(self) -> str:
        """Everything the process printed so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log, for failure messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])


# --- Phoenix -------------------------------------------------------------------------------


@dataclass
class Phoenix:
    """A running Phoenix server (OTLP traces over HTTP and gRPC, SQLite storage)."""

    http_port: int
    grpc_port: int
    server: ServerProcess

    @property
    def http_endpoint(self) -> str:
        """Base URL of the HTTP server; OTLP/HTTP traces go to ``{http_endpoint}/v1/traces``."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """OTLP/gRPC endpoint (insecure)."""
        return f"http://127.0.0.1:{self.grpc_port}"

    def get_json(self, path: str) -> Any:
        """GET ``path`` from the REST API and decode the JSON; fail on an HTTP error."""
        status, body = http_get(self.http_endpoint + path)
        if status != 200:
            pytest.fail(f"Phoenix GET {path} -> {status}: {body[:500]!r}", pytrace=False)
        return json.loads(body)

    def spans(
        self, project: str, min_count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Poll ``/v1/projects/{project}/spans`` until it holds ``min_count`` spans.

        The project is named by the resource attribute ``openinference.project.name``
        (``default`` otherwise). A 404 means no span of the project has landed yet.
        """
        quoted = urllib.parse.quote(project, safe="")
        url = f"{self.http_endpoint}/v1/projects/{quoted}/spans?limit={max(100, min_count)}"
        seen: list[dict[str, Any]] = []

        def check() -> list[dict[str, Any]] | None:
            nonlocal seen
            status, body = http_get(url)
            if status == 404:
                return None
            if status != 200:
                pytest.fail(f"Phoenix GET {url} -> {status}: {body[:500]!r}", pytrace=False)
            seen = list(json.loads(body)["data"])
            return seen if len(seen) >= min_count else None

        return poll(
            check,
            timeout=timeout,
            interval=0.2,
            what=f"{min_count} span(s) in Phoenix project {project!r}",
            details=lambda: f"got {[s.get('name') for s in seen]}",
        )


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """A Phoenix server for the whole session; use a distinct project name per test."""
    if not PHOENIX_PYTHON.exists():
        missing_backend("phoenix", f"no {PHOENIX_PYTHON}")
    work = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = free_ports(2)
    env = clean_env(
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_WORKING_DIR=str(work / "data"),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_AGENTS_DISABLE_BASH="true",
        PHOENIX_AGENTS_DISABLE_WEB_ACCESS="true",
        PHOENIX_AGENTS_DISABLE_GITHUB="true",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",  # no public-internet requests of its own
        PHOENIX_LOG_MIGRATIONS="false",  # thousands of lines of SQL otherwise
    )
    server = ServerProcess(
        "phoenix",
        [str(PHOENIX_PYTHON), str(PHOENIX_LAUNCHER)],
        work / "phoenix.log",
        env=env,
        cwd=work,
    )
    server.start(
        lambda: (
            http_get(f"http://127.0.0.1:{http_port}/healthz")[0] == 200 and port_open(grpc_port)
        ),
        PHOENIX_START_TIMEOUT,
    )
    try:
        yield Phoenix(http_port, grpc_port, server)
    finally:
        server.stop()


# --- rotel ---------------------------------------------------------------------------------

# How rotel is read back: with ``--debug-log <signal> --debug-log-verbosity detailed``
# rotel prints every batch it receives in the OTel Collector debug-exporter layout:
# metric names, units, data-point attributes and values; log bodies, severities and
# attributes; span names, kinds and attributes (checked with rotel 0.0.1a15; the default
# ``basic`` verbosity prints only counts). ``Rotel.records()`` parses that text into
# ``RotelRecord`` objects so tests assert on content. The exporter is ``blackhole``:
# rotel is the sink. (Alternatives considered: rotel relaying to an in-test OTLP receiver,
# or oteltap; neither is needed while the debug log carries the content.)

_ROTEL_VALUE = re.compile(r"^(Str|Int|Double|Bool|Bytes|Array|Map|Empty)\((.*)\)$", re.DOTALL)
_ROTEL_ATTR = re.compile(r"^\s+-> ([^:]+): (.*)$")
_ROTEL_SPAN_FIELD = re.compile(
    r"^\s{4}(Trace ID|Parent ID|ID|Name|Kind|Status code|Status message)\s*: ?(.*)$"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _rotel_value(raw: str) -> Any:
    match = _ROTEL_VALUE.match(raw)
    if not match:
        return raw
    kind, inner = match.groups()
    if kind == "Int":
        return int(inner)
    if kind == "Double":
        return float(inner)
    if kind == "Bool":
        return inner == "true"
    return inner


@dataclass
class RotelRecord:
    """One span, log record or metric data point that rotel received.

    ``signal`` is "span", "log" or "metric". For metrics ``name`` is the metric name,
    ``fields`` holds ``Unit``/``DataType``/``Value``/``Count``/``Sum``..., and
    ``attributes`` the data-point attributes. For logs ``body`` is the body and
    ``fields`` holds ``SeverityText`` and the like. For spans ``name`` is the span name.
    """

    signal: str
    name: str = ""
    body: Any = None
    scope: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        """A number data point's value, or a histogram's sum."""
        raw = self.fields.get("Value", self.fields.get("Sum"))
        return None if raw is None else float(raw)


def parse_rotel_debug_log(text: str) -> list[RotelRecord]:
    """Parse rotel's detailed debug log into records (best effort, line based)."""
    records: list[RotelRecord] = []
    resource: dict[str, Any] = {}
    scope = ""
    metric: dict[str, Any] = {}
    current: RotelRecord | None = None
    attr_target: dict[str, Any] | None = None
    in_descriptor = False
    body_lines: list[str] | None = None

    def finish_body() -> None:
        nonlocal body_lines
        if current is not None and body_lines is not None:
            current.body = _rotel_value("\n".join(body_lines))
        body_lines = None

    for raw_line in text.splitlines():
        line = _ANSI.sub("", raw_line)
        if body_lines is not None:
            # A multi-line log body continues until the next known header.
            if not (line.startswith(("Attributes:", "Flags:")) or line.startswith("    Trace ID")):
                body_lines.append(line)
                continue
            finish_body()
        if line.startswith(("ResourceMetrics #", "ResourceLog #", "ResourceSpans #")):
            resource, scope, current, attr_target, in_descriptor = {}, "", None, None, False
            continue
        if line.startswith("Resource attributes:"):
            attr_target = resource
            continue
        if line.startswith(("ScopeMetrics", "ScopeLogs", "ScopeSpans", "Resource SchemaURL")):
            continue
        if line.startswith("InstrumentationScope"):
            scope = line[len("InstrumentationScope") :].strip()
            attr_target = None
            continue
        if line.startswith("Metric #"):
            metric, current, attr_target, in_descriptor = {}, None, None, False
            continue
        if line.startswith("Descriptor:"):
            in_descriptor = True
            continue
        if re.match(r"^\w*DataPoints #", line):
            in_descriptor = False
            current = RotelRecord(
                "metric",
                name=str(metric.get("Name", "")),
                scope=scope,
                resource=dict(resource),
                fields={k: v for k, v in metric.items() if k != "Name"},
            )
            records.append(current)
            attr_target = None
            continue
        if line.startswith("LogRecord #"):
            current = RotelRecord("log", scope=scope, resource=dict(resource))
            records.append(current)
            attr_target = None
            continue
        if line.startswith("Span #"):
            current = RotelRecord("span", scope=scope, resource=dict(resource))
            records.append(current)
            attr_target = None
            continue
        if line.startswith(("Data point attributes:", "Attributes:")):
            attr_target = current.attributes if current is not None else None
            continue
        attr = _ROTEL_ATTR.match(line)
        if attr:
            key, raw_value = attr.groups()
            if in_descriptor:
                metric[key] = raw_value.strip()
            elif attr_target is not None:
                attr_target[key] = _rotel_value(raw_value)
            continue
        span_field = _ROTEL_SPAN_FIELD.match(line)
        if span_field and current is not None:
            key, raw_value = span_field.groups()
            if key == "Name" and current.signal == "span":
                current.name = raw_value
            else:
                current.fields[key] = raw_value
            continue
        if line.startswith("Body: ") and current is not None:
            body_lines = [line[len("Body: ") :]]
            continue
        if ": " in line and current is not None and not line.startswith(" "):
            key, _, raw_value = line.partition(": ")
            current.fields[key] = raw_value
            attr_target = None
    finish_body()
    return records


@dataclass
class Rotel:
    """A running rotel collector that prints everything it receives (see the note above)."""

    grpc_port: int
    http_port: int
    server: ServerProcess

    @property
    def grpc_endpoint(self) -> str:
        """OTLP/gRPC endpoint (insecure)."""
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """OTLP/HTTP base URL; signals go to ``/v1/traces``, ``/v1/metrics``, ``/v1/logs``."""
        return f"http://127.0.0.1:{self.http_port}"

    def endpoint(self, protocol: str) -> str:
        """The endpoint for ``protocol`` ("grpc" or "http/protobuf")."""
        return self.grpc_endpoint if protocol == "grpc" else self.http_endpoint

    def output(self) -> str:
        """Rotel's raw debug log so far."""
        return self.server.log_text()

    def records(self, signal: str | None = None) -> list[RotelRecord]:
        """Everything received so far, parsed; only ``signal`` ("metric"/"log"/"span") if given."""
        records = parse_rotel_debug_log(self.output())
        return [r for r in records if signal is None or r.signal == signal]

    def wait_for(
        self,
        predicate: Callable[[RotelRecord], bool],
        *,
        signal: str | None = None,
        timeout: float = 30.0,
        what: str = "a matching record in rotel",
    ) -> RotelRecord:
        """Poll until a received record satisfies ``predicate``; return the latest such one."""

        def check() -> RotelRecord | None:
            matching = [r for r in self.records(signal) if predicate(r)]
            return matching[-1] if matching else None

        return poll(
            check,
            timeout=timeout,
            interval=0.2,
            what=what,
            details=lambda: f"rotel log tail:\n{self.server.log_tail(60)}",
        )

    def wait_for_metric(
        self,
        name: str,
        *,
        attributes: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> RotelRecord:
        """Wait for a data point of metric ``name`` whose attributes include ``attributes``."""
        wanted = attributes or {}
        return self.wait_for(
            lambda r: (
                r.name == name
                and wanted.items() <= r.attributes.items()
                and ("Value" in r.fields or "Count" in r.fields)
            ),  # the data point is complete
            signal="metric",
            timeout=timeout,
            what=f"metric {name!r} {wanted or ''} in rotel",
        )

    def wait_for_log(self, body: str, *, timeout: float = 30.0) -> RotelRecord:
        """Wait for a log record whose body contains ``body``."""
        return self.wait_for(
            lambda r: isinstance(r.body, str) and body in r.body and "Flags" in r.fields,
            signal="log",
            timeout=timeout,
            what=f"log body containing {body!r} in rotel",
        )

    def wait_for_span(self, name: str, *, timeout: float = 30.0) -> RotelRecord:
        """Wait for a span called ``name``."""
        return self.wait_for(
            lambda r: r.name == name,
            signal="span",
            timeout=timeout,
            what=f"span {name!r} in rotel",
        )


@pytest.fixture(scope="session")
def rotel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotel]:
    """A rotel collector for the whole session; give each test distinct metric names/bodies."""
    binary = Path(os.environ.get("AGENTOBS_ROTEL_AGENT", ROTEL_AGENT))
    if not (binary.exists() and os.access(binary, os.X_OK)):
        missing_backend("rotel", f"no {binary}")
    work = tmp_path_factory.mktemp("rotel")
    grpc_port, http_port = free_ports(2)
    argv = [
        str(binary),
        "start",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{grpc_port}",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http_port}",
        "--exporter",
        "blackhole",
        "--debug-log",
        "traces",
        "--debug-log",
        "metrics",
        "--debug-log",
        "logs",
        "--debug-log-verbosity",
        "detailed",
        # The defaults are shared files in /tmp (used by --daemon); keep ours private.
        "--pid-file",
        str(work / "rotel.pid"),
        "--log-file",
        str(work / "rotel-daemon.log"),
    ]
    server = ServerProcess("rotel", argv, work / "rotel.log", env=clean_env(), cwd=work)
    server.start(lambda: port_open(grpc_port) and port_open(http_port), SERVER_START_TIMEOUT)
    try:
        yield Rotel(grpc_port, http_port, server)
    finally:
        server.stop()


# --- Prometheus and Pushgateway ------------------------------------------------------------


@dataclass
class Prometheus:
    """A running Prometheus that scrapes its targets every second."""

    port: int
    targets: list[str]
    server: ServerProcess
    config_path: Path

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/{path}`` and return ``data``; fail when the status is not success."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        status, body = http_get(url)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        if status != 200 or payload.get("status") != "success":
            pytest.fail(f"Prometheus GET {url} -> {status}: {body[:500]!r}", pytrace=False)
        return payload["data"]

    def query_once(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query now; return its result list (maybe empty)."""
        return list(self.api("query", query=promql)["result"])

    def query(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll an instant query until its result is non-empty; return the result list.

        Each element looks like ``{"metric": {labels...}, "value": [ts, "1.0"]}``.
        """

        def check() -> list[dict[str, Any]] | None:
            return self.query_once(promql) or None

        def target_health() -> str:
            targets = self.api("targets")["activeTargets"]
            health = {t["scrapeUrl"]: (t["health"], t.get("lastError", "")) for t in targets}
            return f"targets: {health}"

        return poll(
            check,
            timeout=timeout,
            interval=0.25,
            what=f"a non-empty result for PromQL {promql!r}",
            details=target_health,
        )


class PrometheusFactory(Protocol):
    """``prometheus(targets, rule_files=())`` starts a Prometheus; see :func:`prometheus`."""

    def __call__(
        self,
        targets: Sequence[str],
        rule_files: Sequence[Path] = (),
        alertmanagers: Sequence[str] = (),
    ) -> Prometheus: ...


def _start_ready(name: str, argv: list[str], work: Path, port: int) -> ServerProcess:
    """Start ``argv`` in ``work`` (log ``work/<name>.log``) and wait until its ``/-/ready``
    on 127.0.0.1:``port`` answers 200 (Prometheus, the Pushgateway and Alertmanager)."""
    server = ServerProcess(name, argv, work / f"{name}.log", env=clean_env(), cwd=work)
    server.start(
        lambda: http_get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, SERVER_START_TIMEOUT
    )
    return server


def _prometheus_config(
    targets: Sequence[str], rule_files: Sequence[Path], alertmanagers: Sequence[str] = ()
) -> str:
    # JSON is valid YAML, so no YAML library is needed.
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "agentobs-test",
                "honor_labels": True,  # keep job/instance labels pushed to a Pushgateway
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    if rule_files:
        config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
    return json.dumps(config, indent=2)


@pytest.fixture
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusFactory]:
    """Factory: ``prometheus(["127.0.0.1:8000"])`` starts a Prometheus scraping those targets
    (``rule_files=`` to load rules, ``alertmanagers=["host:port"]`` to send alerts to)."""
    found = shutil.which("prometheus")
    if found is None:
        missing_backend("prometheus", "no prometheus on PATH")
    binary: str = found
    started: list[ServerProcess] = []

    def start(
        targets: Sequence[str], rule_files: Sequence[Path] = (), alertmanagers: Sequence[str] = ()
    ) -> Prometheus:
        work = tmp_path_factory.mktemp("prometheus")
        config_path = work / "prometheus.yml"
        config = _prometheus_config(targets, rule_files, list(alertmanagers))
        config_path.write_text(config, encoding="utf-8")
        port = free_port()
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
        ]
        server = _start_ready("prometheus", argv, work, port)
        started.append(server)
        return Prometheus(port, list(targets), server, config_path)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@dataclass
class Pushgateway:
    """A running Prometheus Pushgateway."""

    port: int
    server: ServerProcess

    @property
    def address(self) -> str:
        """``host:port``, as ``prometheus_client.push_to_gateway`` and scrape targets want it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.address}"


@pytest.fixture
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    """A Pushgateway on a free port (in-memory, no persistence)."""
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        missing_backend("pushgateway", "no prometheus-pushgateway on PATH")
    work = tmp_path_factory.mktemp("pushgateway")
    port = free_port()
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    server = _start_ready("pushgateway", argv, work, port)
    try:
        yield Pushgateway(port, server)
    finally:
        server.stop()


@dataclass
class Alertmanager:
    """A running Alertmanager (cluster gossip off) and its configuration file."""

    port: int
    server: ServerProcess

    @property
    def address(self) -> str:
        """``host:port``, as Prometheus' ``alerting`` section wants it."""
        return f"127.0.0.1:{self.port}"

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``."""
        status, body = http_get(f"http://{self.address}/api/v2/alerts")
        assert status == 200, body[:500]
        alerts: list[dict[str, Any]] = json.loads(body)
        return alerts


class AlertmanagerFactory(Protocol):
    """``alertmanager(config_yaml)`` starts an Alertmanager; see :func:`alertmanager`."""

    def __call__(self, config: str) -> Alertmanager: ...


@pytest.fixture
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerFactory]:
    """Factory: ``alertmanager(config_yaml)`` starts an Alertmanager on a free port, bound to
    127.0.0.1 with its HA gossip listener off."""
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found is None:
        missing_backend("alertmanager", "no prometheus-alertmanager on PATH")
    binary: str = found
    started: list[ServerProcess] = []

    def start(config: str) -> Alertmanager:
        work = tmp_path_factory.mktemp("alertmanager")
        (work / "alertmanager.yml").write_text(config, encoding="utf-8")
        port = free_port()
        argv = [
            binary,
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        server = _start_ready("alertmanager", argv, work, port)
        started.append(server)
        return Alertmanager(port, server)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


# --- Chromium ------------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


@dataclass
class Chromium:
    """Debian's Chromium, run headless (no network but loopback and files)."""

    path: Path
    work: Path

    def screenshot(
        self, target: str | Path, output: Path, *, width: int = 1280, height: int = 800
    ) -> Path:
        """Render ``target`` (a URL or an HTML file) into the PNG ``output``; return it."""
        url = target if isinstance(target, str) else Path(target).resolve().as_uri()
        profile = self.work / f"profile-{time.monotonic_ns()}"
        argv = [
            str(self.path),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={output}",
            url,
        ]
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
        shutil.rmtree(profile, ignore_errors=True)
        if result.returncode != 0 or not output.exists():
            stderr = result.stderr.decode(errors="replace")[-2000:]
            pytest.fail(f"chromium screenshot failed ({result.returncode}):\n{stderr}")
        return output


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Chromium:
    """Headless Chromium (``/usr/bin/chromium``, or ``AGENTOBS_CHROMIUM``)."""
    path = Path(os.environ.get("AGENTOBS_CHROMIUM", "/usr/bin/chromium"))
    if not (path.exists() and os.access(path, os.X_OK)):
        missing_backend("chromium", f"no {path}")
    return Chromium(path, tmp_path_factory.mktemp("chromium"))
