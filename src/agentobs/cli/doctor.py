"""``agentobs doctor``: the effective configuration, where each value came from, and checks.

It resolves the settings exactly as :func:`agentobs.configure` would (without building the
pipeline), lists the ``OTEL_*`` and ``AGENTOBS_*`` variables that are set (secrets masked),
and checks that each configured destination answers: a TCP connection (and for OTLP/HTTP an
empty export request) to every OTLP endpoint in use, a writable local directory, a free
Prometheus port. Exit status 0 when everything is fine, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.util
import json
import logging
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import _errors, _secrets
from .._settings import ROWS, SIGNALS, OtlpTarget, Settings, resolve
from .._version import __version__

DEFAULT_TIMEOUT = 2.0
_MASK = "***"
_SECRET_WORDS = ("HEADERS", "KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH")
_SECRET_ROWS = frozenset(row.name for row in ROWS if row.secret)
"""The settings whose values are masked (header values keep their names)."""


@dataclass(frozen=True)
class Check:
    """One connectivity or permission check."""

    name: str
    target: str
    ok: bool
    detail: str


@dataclass
class Diagnosis:
    """Everything ``agentobs doctor`` found."""

    settings: dict[str, tuple[Any, str]]
    environment: dict[str, str]
    used_env: dict[str, list[str]]
    warnings: list[str]
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No warning about the configuration and every check passed."""
        return not self.warnings and all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view of the diagnosis."""
        return {
            "agentobs": __version__,
            "ok": self.ok,
            "settings": {
                key: {"value": _jsonable(value), "source": source}
                for key, (value, source) in self.settings.items()
            },
            "environment": self.environment,
            "warnings": self.warnings,
            "checks": [dataclasses.asdict(check) for check in self.checks],
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``agentobs doctor``."""
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for each endpoint (default {DEFAULT_TIMEOUT:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Diagnose the configuration in the environment and print the result."""
    diagnosis = diagnose(timeout=args.timeout)
    output = json.dumps(diagnosis.to_json(), indent=2) if args.json else render(diagnosis)
    print(_secrets.text(output, "doctor"))  # the last net: values are scrubbed already
    return 0 if diagnosis.ok else 1


def diagnose(env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Diagnosis:
    """Resolve the settings from ``env`` (default ``os.environ``) and run every check."""
    environ = dict(os.environ if env is None else env)
    with _collect_warnings() as warnings:
        settings = resolve(env=environ)
    relevant = {
        name: value
        for name, value in sorted(environ.items())
        if name.startswith(("OTEL_", "AGENTOBS_")) and value.strip()
    }
    masked = {name: mask_env(name, value) for name, value in relevant.items()}
    for name, value in relevant.items():  # a warning may quote the value it rejected
        if masked[name] != value:
            warnings[:] = [w.replace(value, masked[name]) for w in warnings]
    flat = {key: (_scrubbed(value), source) for key, (value, source) in flatten(settings).items()}
    used: dict[str, list[str]] = {}
    for key, (_value, source) in flat.items():
        if source.startswith("env "):
            used.setdefault(source.removeprefix("env ").split()[0], []).append(key)
    diagnosis = Diagnosis(flat, masked, used, [_secrets.text(w) for w in warnings])
    diagnosis.checks.extend(
        dataclasses.replace(c, target=_secrets.text(c.target), detail=_secrets.text(c.detail))
        for c in _otlp_checks(settings, timeout)
    )
    if any("local" in names for names in settings.exporters.values()):
        diagnosis.checks.append(check_directory(settings.local_dir))
    if settings.prometheus_port is not None:
        diagnosis.checks.append(check_port(settings.prometheus_host, settings.prometheus_port))
    if settings.system_metrics:
        found = importlib.util.find_spec("opentelemetry.instrumentation") is not None and (
            importlib.util.find_spec("opentelemetry.instrumentation.system_metrics") is not None
        )
        detail = "installed" if found else "missing: pip install 'agentobs[system]'"
        diagnosis.checks.append(Check("system metrics", "process.*", found, detail))
    return diagnosis


# --- configuration ---------------------------------------------------------------------


def _scrubbed(value: Any) -> Any:
    """A setting's value with secrets (a password in an endpoint URL) redacted."""
    if isinstance(value, str):
        return _secrets.text(value, "setting")
    if isinstance(value, Mapping):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_scrubbed(v) for v in value)
    return value


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    """Collect the configuration warnings, even those already given once in this process."""
    handler = _ListHandler()
    log = _errors.logger
    saved_level = log.level
    if not log.isEnabledFor(logging.WARNING):
        log.setLevel(logging.WARNING)
    log.addHandler(handler)
    try:
        with _errors.warnings_given_again():
            yield handler.messages
    finally:
        log.removeHandler(handler)
        log.setLevel(saved_level)


def flatten(settings: Settings) -> dict[str, tuple[Any, str]]:
    """Every field of ``settings`` as ``{key: (value, source)}``, OTLP targets per signal."""
    sources = settings.sources
    flat: dict[str, tuple[Any, str]] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "sources":
            continue
        if f.name == "exporters":
            for signal in SIGNALS:
                source = sources.get(f"{signal}.exporter", "default")
                if source == "default" and value[signal] == ("otlp",):
                    source = "default (an OTLP endpoint is set)"
                flat[f"exporters.{signal}"] = (value[signal], source)
        elif f.name == "otlp":
            for signal in SIGNALS:
                flat.update(_flatten_target(signal, value[signal], sources))
        elif dataclasses.is_dataclass(value):  # the batch options of a signal
            for part in dataclasses.fields(value):
                key = f"{f.name}.{part.name}"
                flat[key] = (getattr(value, part.name), sources.get(key, "default"))
        else:
            if f.name in _SECRET_ROWS and value:
                value = _MASK
            flat[f.name] = (value, sources.get(f.name, "default"))
    return flat


def _flatten_target(
    signal: str, target: OtlpTarget, sources: Mapping[str, str]
) -> dict[str, tuple[Any, str]]:
    flat: dict[str, tuple[Any, str]] = {}
    for f in dataclasses.fields(target):
        value = getattr(target, f.name)
        source = sources.get(f"{signal}.{f.name}", "default")
        base = sources.get("endpoint", "default")
        if f.name == "endpoint" and (base == "argument" or (source == "default" != base)):
            source = base + ("" if target.protocol == "grpc" else f" + /v1/{signal}")
        if f.name == "protocol" and source == "default":
            source = sources.get("protocol", "default")
        if f"{signal}.{f.name}" in _SECRET_ROWS:  # the headers: their names are no secret
            value = dict.fromkeys(value, _MASK)
        flat[f"otlp.{signal}.{f.name}"] = (value, source)
    return flat


def mask_env(name: str, value: str) -> str:
    """The value of an environment variable, with anything that may be a secret masked."""
    upper = name.upper()
    if "HEADERS" in upper:
        pairs = []
        for item in value.split(","):
            key, sep, _secret = item.partition("=")
            pairs.append(f"{key.strip()}={_MASK}" if sep else _MASK)
        return ",".join(pairs)
    if any(word in upper for word in _SECRET_WORDS):
        return _MASK
    if "://" in value and "@" in value:  # credentials in a URL
        with contextlib.suppress(ValueError):
            parts = urlsplit(value)
            if parts.password:
                return value.replace(f":{parts.password}@", f":{_MASK}@", 1)
    return _secrets.text(value, name)


_SDK_READS = (
    ("OTEL_RESOURCE_ATTRIBUTES", "resource attributes"),
    ("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "resource detectors"),
    ("OTEL_SDK_DISABLED", "the whole SDK"),
    ("OTEL_BSP_", "the span batch processor"),
    ("OTEL_BLRP_", "the log batch processor"),
    ("OTEL_ATTRIBUTE_", "attribute limits"),
    ("OTEL_SPAN_", "span limits"),
    ("OTEL_EVENT_", "span event limits"),
    ("OTEL_LINK_", "span link limits"),
    ("OTEL_LOGRECORD_", "log record limits"),
    ("OTEL_METRIC_EXPORT_TIMEOUT", "the periodic metric reader"),
    ("OTEL_PROPAGATORS", "context propagation"),
    ("OTEL_PYTHON_", "the OpenTelemetry Python SDK"),
    ("OTEL_EXPORTER_OTLP_", "the OTLP exporters"),
)


def sdk_reader(name: str) -> str:
    """What part of the OpenTelemetry SDK reads the variable ``name``, or ``""``."""
    for prefix, reader in _SDK_READS:
        if name == prefix or (prefix.endswith("_") and name.startswith(prefix)):
            return reader
    return ""


# --- checks ----------------------------------------------------------------------------


def _otlp_checks(settings: Settings, timeout: float) -> list[Check]:
    """One check per OTLP host and port in use, naming the signals sent there."""
    groups: dict[tuple[str, int, str], dict[str, OtlpTarget]] = {}
    for signal in SIGNALS:
        if "otlp" not in settings.exporters[signal]:
            continue
        target = settings.otlp[signal]
        host, port, _scheme, _path = _host_port(target.endpoint)
        groups.setdefault((host, port, target.protocol), {})[signal] = target
    return [check_otlp(targets, timeout) for targets in groups.values()]


def _host_port(endpoint: str) -> tuple[str, int, str, str]:
    """Host, port, scheme and path of an endpoint (``host:port`` taken as plain http)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return parts.hostname or "", port, scheme, parts.path or "/"


def check_otlp(targets: Mapping[str, OtlpTarget], timeout: float) -> Check:
    """A TCP connection to one host and port, then for OTLP/HTTP an empty export request
    to each signal's endpoint there (a zero-length protobuf body is a valid, empty export)."""
    first = next(iter(targets.values()))
    name = f"otlp {','.join(targets)} ({first.protocol})"
    host, port, scheme, _path = _host_port(first.endpoint)
    endpoints = list(dict.fromkeys(target.endpoint for target in targets.values()))
    where = endpoints[0] if len(endpoints) == 1 else f"{scheme}://{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        return Check(name, where, False, f"cannot connect to {host}:{port}: {reason}")
    if first.protocol == "grpc":
        return Check(name, where, True, f"TCP connection to {host}:{port} accepted")
    answers = {
        target.endpoint: _http_request(target, timeout)
        for target in {t.endpoint: t for t in targets.values()}.values()
    }
    failed = {endpoint: detail for endpoint, (ok, detail) in answers.items() if not ok}
    if failed:
        detail = "; ".join(f"{urlsplit(e).path or e}: {d}" for e, d in failed.items())
        return Check(name, where, False, detail)
    details = sorted({detail for _ok, detail in answers.values()})
    paths = ", ".join(urlsplit(e).path or "/" for e in answers)
    return Check(name, where, True, f"{'; '.join(details)} ({paths})")


def _http_request(target: OtlpTarget, timeout: float) -> tuple[bool, str]:
    host, port, scheme, path = _host_port(target.endpoint)
    connection: http.client.HTTPConnection
    if scheme == "https":
        context = ssl.create_default_context(cafile=target.certificate)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {**target.headers, "Content-Type": "application/x-protobuf"}
    try:
        connection.request("POST", path, body=b"", headers=headers)
        response = connection.getresponse()
        status, reason = response.status, response.reason
    except (OSError, http.client.HTTPException) as exc:
        return False, f"no HTTP answer: {exc}"
    finally:
        connection.close()
    if status < 400:
        return True, f"HTTP {status} {reason}"
    hint = {
        401: "check OTEL_EXPORTER_OTLP_HEADERS (credentials)",
        403: "check OTEL_EXPORTER_OTLP_HEADERS (credentials)",
        404: "check the path: a per-signal endpoint must end in /v1/<signal>",
    }.get(status, "the endpoint refused an empty export request")
    return False, f"HTTP {status} {reason}: {hint}"


def check_directory(directory: Path) -> Check:
    """Whether the local default can write under ``directory`` (created if missing)."""
    path = directory.absolute()
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    name = "local directory"
    if not probe.is_dir():
        return Check(name, str(directory), False, f"{probe} is not a directory")
    if probe != path:
        # Permission bits say nothing for root or for /proc and /sys: really create it, then
        # remove exactly what was created.
        created = [parent for parent in [path, *path.parents] if not parent.exists()]
        try:
            path.mkdir(parents=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return Check(name, str(directory), False, f"cannot create it: {exc.strerror or exc}")
        finally:
            for parent in created:
                with contextlib.suppress(OSError):
                    parent.rmdir()
        return Check(name, str(directory), True, f"will be created under {probe}")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return Check(name, str(directory), False, f"not writable: {exc.strerror or exc}")
    return Check(name, str(directory), True, "writable")


def check_port(host: str, port: int) -> Check:
    """Whether Prometheus's ``/metrics`` could listen on ``host:port``."""
    name, target = "prometheus /metrics", f"{host}:{port}"
    if port == 0:
        return Check(name, target, True, "a free port is picked at configure()")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return Check(name, target, False, f"cannot listen: {exc.strerror or exc}")
    return Check(name, target, True, "port is free")


# --- output ----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _text(key: str, value: Any) -> str:
    if key == "prometheus_port" and value is None:
        return "off"
    if key == "log_level" and isinstance(value, int):
        return logging.getLevelName(value)
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    return str(value)


def render(diagnosis: Diagnosis) -> str:
    """The diagnosis as text for a terminal."""
    lines = [f"agentobs {__version__} doctor", "", "Configuration (value, then where it came from)"]
    width = max(len(key) for key in diagnosis.settings) + 2
    for key, (value, source) in diagnosis.settings.items():
        lines.append(f"  {key:<{width}}{_text(key, value):<40} {source}")
    lines += ["", "Environment (OTEL_*, AGENTOBS_*)"]
    if not diagnosis.environment:
        lines.append("  (none set)")
    for name, value in diagnosis.environment.items():
        used = diagnosis.used_env.get(name)
        sdk = sdk_reader(name)
        if used:
            note = f"  -> {', '.join(used)}"
        elif sdk:
            note = f"  -> {sdk} (read by the OpenTelemetry SDK)"
        else:
            note = "  (unused: overridden by a more specific variable, or invalid)"
        lines.append(f"  {name}={value}{note}")
    if diagnosis.warnings:
        lines += ["", "Problems in the environment"]
        lines += [f"  FAIL  {warning}" for warning in diagnosis.warnings]
    lines += ["", "Checks"]
    if not diagnosis.checks:
        lines.append("  (nothing to check: no exporter writes anywhere)")
    for check in diagnosis.checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"  {mark}  {check.name}: {check.target}: {check.detail}")
    problems = len(diagnosis.warnings) + sum(not check.ok for check in diagnosis.checks)
    lines += ["", "All checks passed." if not problems else f"{problems} problem(s) found."]
    return "\n".join(lines)
