"""The one configuration table: explicit argument, then environment, then default.

Explicit arguments to :func:`agentobs.configure` that are wrong raise :class:`ValueError`
naming the argument and what is accepted. A malformed environment value logs one warning
and the default is used. Standard ``OTEL_*`` variables are reused; ``AGENTOBS_*`` variables
exist only for agentobs's own settings and are listed in :data:`ENV_VARS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from ._errors import warn_once
from ._llm.settings import ENV_VARS as _LLM_ENV_VARS
from ._llm.settings import LangfuseTarget, resolve_llm
from ._parsers import check_url, parse_bool, parse_float, parse_int, truthy

T = TypeVar("T")

SIGNALS = ("traces", "metrics", "logs")
EXPORTERS = ("otlp", "console", "local", "none")
PROTOCOLS = ("http/protobuf", "grpc")
COMPRESSIONS = ("gzip", "none")
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
RESUME_TRACE_MODES = ("join", "link")
EXEMPLAR_FILTERS = ("always_off", "always_on", "trace_based")
DEFAULT_PROMETHEUS_PORT = 9464
DEFAULT_LOCAL_DIR = ".agentobs"

ENV_VARS: dict[str, str] = {
    "AGENTOBS_ENVIRONMENT": "deployment.environment.name of the resource.",
    "AGENTOBS_SERVICE_VERSION": "service.version of the resource.",
    "AGENTOBS_LOCAL_DIR": "Directory of the local default files (default .agentobs).",
    "AGENTOBS_LOCAL_MAX_BYTES": "Size at which a local file is rotated (default 16 MiB).",
    "AGENTOBS_PROMETHEUS_PORT": "Serve /metrics on this port (9464 when set to 'true').",
    "AGENTOBS_PROMETHEUS_HOST": "Bind address of /metrics (default 127.0.0.1).",
    "AGENTOBS_LOGS": "Bridge standard logging to OpenTelemetry logs: true (default) or false.",
    "AGENTOBS_LOG_LEVEL": "Lowest level bridged to OpenTelemetry logs (default INFO).",
    "AGENTOBS_SYSTEM_METRICS": "Record process CPU, memory and threads: true or false.",
    "AGENTOBS_RESUME_SECRET": "Key that signs checkpoint tokens (HMAC-SHA256); same in every "
    "process that resumes.",
    "AGENTOBS_RESUME_MAX_AGE": "Seconds a checkpoint token stays valid (default 30 days).",
    "AGENTOBS_RESUME_TRACE": "How a resumed run joins its workflow: join (same trace) or link.",
    "AGENTOBS_HEALTH_PORT": "Serve /health, /readiness and /version alone on this port.",
    **_LLM_ENV_VARS,
}
"""Every ``AGENTOBS_*`` variable read by :func:`agentobs.configure`, with what it does."""


@dataclass(frozen=True)
class OtlpTarget:
    """Where and how one signal is sent over OTLP."""

    endpoint: str
    protocol: str
    headers: Mapping[str, str]
    timeout: float
    compression: str
    insecure: bool
    certificate: str | None


DEFAULT_QUEUE_SIZE = 8192
"""Items each batch processor's queue holds (the SDK's default is 2,048). Measured with eight
threads recording spans flat out, the SDK's 2,048 dropped 34-80 % of a 20,000-span burst, and
8,192 (with merged batches) 0-44 %, for about 3 KB a queued span: 24 MB at most per signal
(docs/reliability.md, "Queue size and busy threads")."""


@dataclass(frozen=True)
class BatchOptions:
    """How a batch processor exports (``OTEL_BSP_*`` for spans, ``OTEL_BLRP_*`` for logs),
    read and checked here so that the SDK never reads a malformed value itself."""

    max_export_batch_size: int = 512
    schedule_delay_ms: float = 5000.0
    export_timeout_ms: float = 30000.0

    def kwargs(self, max_queue_size: int) -> dict[str, Any]:
        """The SDK batch processor's keyword arguments (a batch never larger than the queue,
        which the SDK refuses)."""
        return {
            "max_queue_size": max_queue_size,
            "max_export_batch_size": min(self.max_export_batch_size, max_queue_size),
            "schedule_delay_millis": self.schedule_delay_ms,
            "export_timeout_millis": self.export_timeout_ms,
        }


LIMIT_VARS = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
)
"""The SDK's span and log record limits: read here (a whole number >= 0, or ``unset``); a
malformed one is warned about and left out, instead of making the SDK raise."""
UNSET_LIMIT = -1


@dataclass(frozen=True)
class Settings:
    """The effective configuration, with where each value came from (``sources``)."""

    service_name: str
    service_version: str | None
    environment: str | None
    resource_attributes: Mapping[str, str]
    exporters: Mapping[str, tuple[str, ...]]
    otlp: Mapping[str, OtlpTarget]
    local_dir: Path
    local_max_bytes: int
    prometheus_port: int | None
    prometheus_host: str
    sampler: str
    sampler_arg: float
    metric_export_interval: float
    max_queue_size: int
    logs: bool
    log_level: int
    system_metrics: bool
    interop: bool = True
    """Count the GenAI spans other instrumentations start inside agentobs scopes."""
    # LLM calls (see _llm_settings): content capture, scrubbing, prices, Langfuse
    capture_content: bool = False
    content_hard_off: bool = False
    max_content_size: int = 16384
    scrubbing: bool = True
    scrub_patterns: tuple[tuple[str, str], ...] = ()
    scrub_callback: Callable[..., Any] | None = None
    langfuse: LangfuseTarget | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    span_batch: BatchOptions = field(default_factory=BatchOptions)
    log_batch: BatchOptions = field(default_factory=BatchOptions)
    log_queue_size: int = DEFAULT_QUEUE_SIZE
    limits: Mapping[str, int] = field(default_factory=dict)
    """The valid ``OTEL_*_LIMIT`` values set (``UNSET_LIMIT`` for ``unset``)."""
    resume_secret: str | None = None
    """Key of the HMAC that signs checkpoint tokens (else they carry a SHA-256 checksum)."""
    resume_max_age: float = 30 * 86400.0
    resume_trace: str = "join"
    health_port: int | None = None
    exemplar_filter: str = "always_off"
    """Which measurements may become exemplars in the MeterProvider agentobs builds
    (``OTEL_METRICS_EXEMPLAR_FILTER``). Off unless asked for: sampling them costs every
    histogram record, and the Prometheus scrape path does not export them."""
    sources: Mapping[str, str] = field(default_factory=dict)


class _Resolver:
    """Resolves one value at a time and records its source."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.sources: dict[str, str] = {}

    def value(
        self,
        name: str,
        arg: T | None,
        env_names: Sequence[str],
        parse: Callable[[str], T],
        default: T,
        check: Callable[[T], str | None] = lambda _v: None,
        default_text: str | None = None,
    ) -> T:
        """Argument (checked: raises), else the first env var set (checked: warns), else default.

        ``default_text`` is how a warning names the default, when its value is a sentinel."""
        if arg is not None:
            problem = check(arg)
            if problem:
                raise ValueError(f"agentobs.configure({name}={arg!r}): {problem}")
            self.sources[name] = "argument"
            return arg
        for env_name in env_names:
            raw = self.env.get(env_name, "").strip()
            if not raw:
                continue
            try:
                parsed = parse(raw)
                problem = check(parsed)
            except ValueError as exc:
                problem = str(exc)
            if problem:
                warn_once(
                    f"env:{env_name}:{raw}",
                    "agentobs: ignoring %s=%s: %s; using the default %s",
                    env_name,
                    "<hidden>" if "HEADERS" in env_name else repr(raw),  # may hold credentials
                    problem,
                    repr(default) if default_text is None else default_text,
                )
                break
            self.sources[name] = f"env {env_name}"
            return parsed
        self.sources[name] = "default"
        return default


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_strings(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and all(isinstance(item, str) for item in value)
    )


_ARGUMENT_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "service_name": (lambda v: isinstance(v, str), "a string"),
    "service_version": (lambda v: isinstance(v, str), "a string"),
    "environment": (lambda v: isinstance(v, str), "a string"),
    "resource_attributes": (lambda v: isinstance(v, Mapping), "a mapping of name to value"),
    "exporter": (
        lambda v: isinstance(v, str) or _is_strings(v),
        "a string such as 'otlp' or a list of them",
    ),
    "endpoint": (lambda v: isinstance(v, str), "a URL string such as 'http://localhost:4318'"),
    "protocol": (lambda v: isinstance(v, str), "'http/protobuf' or 'grpc'"),
    "headers": (lambda v: isinstance(v, Mapping), "a mapping of header name to value"),
    "timeout": (_is_number, "a number of seconds"),
    "compression": (lambda v: isinstance(v, str), "'gzip' or 'none'"),
    "insecure": (lambda v: isinstance(v, bool), "True or False"),
    "certificate": (lambda v: isinstance(v, (str, os.PathLike)), "a file path"),
    "local_dir": (lambda v: isinstance(v, (str, os.PathLike)), "a directory path"),
    "local_max_bytes": (_is_int, "a whole number of bytes"),
    "prometheus_port": (
        lambda v: isinstance(v, int),
        "a port number (0 picks a free one), or True for 9464",
    ),
    "prometheus_host": (lambda v: isinstance(v, str), "a host name or address"),
    "sample_ratio": (_is_number, "a number between 0 and 1"),
    "metric_export_interval": (_is_number, "a number of seconds"),
    "max_queue_size": (_is_int, "a whole number"),
    "logs": (lambda v: isinstance(v, bool), "True or False"),
    "log_level": (
        lambda v: _is_int(v) or isinstance(v, str),
        "a logging level such as logging.INFO or 'INFO'",
    ),
    "system_metrics": (lambda v: isinstance(v, bool), "True or False"),
    "capture_content": (lambda v: isinstance(v, bool), "True or False"),
    "max_content_size": (_is_int, "a whole number of characters"),
    "scrubbing": (lambda v: isinstance(v, bool), "True or False"),
    "scrub_patterns": (
        lambda v: isinstance(v, Mapping) or _is_strings(v),
        "a list of regexes or a mapping of name to regex",
    ),
    "scrub_callback": (callable, "a function of the match"),
    "langfuse": (
        lambda v: isinstance(v, (bool, Mapping)),
        "True, False or a mapping of public_key, secret_key and host",
    ),
    "prices": (lambda v: isinstance(v, Mapping), "a mapping of model to its prices"),
}


def _check_types(arguments: Mapping[str, Any]) -> None:
    """A ValueError naming the first explicit argument of the wrong type, and what it takes."""
    for name, value in arguments.items():
        check = _ARGUMENT_TYPES.get(name)
        if check is not None and not check[0](value):
            raise ValueError(
                f"agentobs.configure({name}={value!r}): expected {check[1]}, "
                f"got {type(value).__name__}"
            )


def _one_of(choices: Sequence[str]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if value in choices:
            return None
        return f"expected one of {', '.join(repr(c) for c in choices)}"

    return check


def _parse_headers(raw: str) -> dict[str, str]:
    """Parse the W3C-baggage-like ``key=value,key2=value2`` form of OTEL_*_HEADERS."""
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError("expected comma-separated key=value pairs")
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _parse_exporters(raw: str | Sequence[str]) -> tuple[str, ...]:
    names = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(dict.fromkeys(str(n).strip().lower() for n in names if str(n).strip()))


def _check_exporters(names: tuple[str, ...]) -> str | None:
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown or not names:
        return f"unknown exporter {unknown!r}; expected any of {', '.join(EXPORTERS)}"
    return None


def _check_endpoint(value: str) -> str | None:
    """Accept http(s)://host[:port][/path], or host:port (gRPC style)."""
    return check_url(value, "http://127.0.0.1:4318")


_LONGEST_WAIT_MS = 3_600_000.0
"""Timeouts and intervals longer than an hour are mistakes (``inf`` makes every export fail)."""


def _check_non_negative(value: float) -> str | None:
    if value >= 0 and value <= _LONGEST_WAIT_MS:  # NaN fails both
        return None
    return "expected a number of milliseconds between 0 and 3600000"


def _check_millis(value: float) -> str | None:
    if value > 0 and value <= _LONGEST_WAIT_MS:
        return None
    return "expected a number of milliseconds > 0 and at most 3600000"


def _parse_limit(raw: str) -> int:
    if raw.lower() == "unset":
        return UNSET_LIMIT
    value = parse_int(raw)
    if not 0 <= value < 2**31:
        raise ValueError("expected a whole number >= 0 and < 2**31, or 'unset'")
    return value


def _check_certificate(path: str) -> str | None:
    if not path or (os.path.isfile(path) and os.access(path, os.R_OK)):
        return None
    return "no readable certificate file there; expected the path of a PEM file"


def _check_ratio(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "expected a ratio between 0.0 and 1.0"


def _check_port(value: int) -> str | None:
    return None if 0 <= value < 65536 else "expected a port between 0 and 65535"


def _check_secret(value: str) -> str | None:
    if not isinstance(value, str) or len(value) < 16:
        return "expected a string of at least 16 characters (the key that signs checkpoints)"
    return None


def _check_positive_float(value: float) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return "expected a number of seconds greater than 0"
    return None


def _check_positive(value: int) -> str | None:
    return None if value > 0 else "expected a whole number > 0"


MAX_QUEUE_SIZE = 1_000_000


def _check_queue(value: int) -> str | None:
    if 0 < value <= MAX_QUEUE_SIZE:
        return None
    return f"expected a whole number > 0 and at most {MAX_QUEUE_SIZE:,}"


def _level(raw: str | int) -> int:
    if isinstance(raw, int):
        return raw
    import logging

    level = logging.getLevelName(raw.upper())
    if not isinstance(level, int):
        raise ValueError("expected a logging level such as INFO or WARNING")
    return level


def _signal_endpoint(base: str, protocol: str, signal: str) -> str:
    """OTLP/HTTP appends ``/v1/{signal}`` to a base endpoint; gRPC uses it as it is."""
    if protocol == "grpc":
        return base
    return f"{base.rstrip('/')}/v1/{signal}"


def resolve(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    environment: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    exporter: str | Sequence[str] | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    compression: str | None = None,
    insecure: bool | None = None,
    certificate: str | None = None,
    local_dir: str | os.PathLike[str] | None = None,
    local_max_bytes: int | None = None,
    prometheus_port: int | bool | None = None,
    prometheus_host: str | None = None,
    sample_ratio: float | None = None,
    metric_export_interval: float | None = None,
    max_queue_size: int | None = None,
    logs: bool | None = None,
    log_level: int | str | None = None,
    system_metrics: bool | None = None,
    interop: bool | None = None,
    capture_content: bool | None = None,
    max_content_size: int | None = None,
    scrubbing: bool | None = None,
    scrub_patterns: Sequence[str] | Mapping[str, str] | None = None,
    scrub_callback: Callable[..., Any] | None = None,
    langfuse: bool | Mapping[str, str] | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    resume_secret: str | None = None,
    resume_max_age: float | None = None,
    resume_trace: str | None = None,
    health_port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the effective :class:`Settings`; raise ValueError for a bad explicit argument."""
    _check_types(
        {name: value for name, value in locals().items() if name != "env" and value is not None}
    )
    r = _Resolver(os.environ if env is None else env)
    resource = {str(k): str(v) for k, v in (resource_attributes or {}).items()}
    default_service = resource.get("service.name", "unknown_service:python")
    name = r.value("service_name", service_name, ["OTEL_SERVICE_NAME"], str, default_service)
    version = r.value("service_version", service_version, ["AGENTOBS_SERVICE_VERSION"], str, "")
    env_name = r.value("environment", environment, ["AGENTOBS_ENVIRONMENT"], str, "")

    check_proto = _one_of(PROTOCOLS)
    proto = r.value(
        "protocol", protocol, ["OTEL_EXPORTER_OTLP_PROTOCOL"], str, "http/protobuf", check_proto
    )
    base = r.value("endpoint", endpoint, ["OTEL_EXPORTER_OTLP_ENDPOINT"], str, "", _check_endpoint)
    if exporter is not None and not (
        isinstance(exporter, str)
        or (isinstance(exporter, (list, tuple)) and all(isinstance(e, str) for e in exporter))
    ):
        raise ValueError(
            f"agentobs.configure(exporter={exporter!r}): expected a name or a list of names "
            f"among {', '.join(EXPORTERS)}"
        )
    arg_exporters = None if exporter is None else _parse_exporters(exporter)
    if arg_exporters is not None and (problem := _check_exporters(arg_exporters)):
        raise ValueError(f"agentobs.configure(exporter={exporter!r}): {problem}")

    if timeout is not None and not 0 <= timeout <= _LONGEST_WAIT_MS / 1000:
        raise ValueError(
            f"agentobs.configure(timeout={timeout!r}): expected seconds between 0 and 3600"
        )
    exporters: dict[str, tuple[str, ...]] = {}
    otlp: dict[str, OtlpTarget] = {}
    for signal in SIGNALS:
        up = signal.upper()
        sig_endpoint = r.value(
            f"{signal}.endpoint",
            None,
            [f"OTEL_EXPORTER_OTLP_{up}_ENDPOINT"],
            str,
            "",
            _check_endpoint,
        )
        configured = bool(base or sig_endpoint)
        default_exporters = ("otlp",) if configured else ("local",)
        exporters[signal] = r.value(
            f"{signal}.exporter",
            arg_exporters,
            [f"OTEL_{up}_EXPORTER"],
            _parse_exporters,
            default_exporters,
            _check_exporters,
        )
        if "none" in exporters[signal]:
            exporters[signal] = ()
        sig_proto = r.value(
            f"{signal}.protocol",
            protocol,
            [f"OTEL_EXPORTER_OTLP_{up}_PROTOCOL"],
            str,
            proto,
            check_proto,
        )
        if base and endpoint is not None:
            target = _signal_endpoint(base, sig_proto, signal)
        elif sig_endpoint:
            target = sig_endpoint
        elif base:
            target = _signal_endpoint(base, sig_proto, signal)
        else:
            default_base = (
                "http://localhost:4317" if sig_proto == "grpc" else "http://localhost:4318"
            )
            target = _signal_endpoint(default_base, sig_proto, signal)
        env_names = [f"OTEL_EXPORTER_OTLP_{up}_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"]
        sig_headers = r.value(f"{signal}.headers", headers, env_names, _parse_headers, {})
        env_names = [f"OTEL_EXPORTER_OTLP_{up}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
        timeout_ms = None if timeout is None else timeout * 1000.0
        sig_timeout = r.value(
            f"{signal}.timeout",
            timeout_ms,
            env_names,
            parse_float,
            10_000.0,
            _check_non_negative,
        )
        env_names = [f"OTEL_EXPORTER_OTLP_{up}_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"]
        sig_compression = r.value(
            f"{signal}.compression",
            compression,
            env_names,
            str.lower,
            "none",
            _one_of(COMPRESSIONS),
        )
        env_names = [f"OTEL_EXPORTER_OTLP_{up}_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"]
        sig_insecure = r.value(
            f"{signal}.insecure", insecure, env_names, parse_bool, target.startswith("http://")
        )
        env_names = [f"OTEL_EXPORTER_OTLP_{up}_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"]
        sig_cert = r.value(
            f"{signal}.certificate", certificate, env_names, str, "", _check_certificate
        )
        otlp[signal] = OtlpTarget(
            endpoint=target,
            protocol=sig_proto,
            headers=dict(sig_headers),
            timeout=sig_timeout / 1000.0,
            compression=sig_compression,
            insecure=sig_insecure,
            certificate=sig_cert or None,
        )

    directory = r.value(
        "local_dir",
        None if local_dir is None else str(local_dir),
        ["AGENTOBS_LOCAL_DIR"],
        str,
        DEFAULT_LOCAL_DIR,
    )
    max_bytes = r.value(
        "local_max_bytes",
        local_max_bytes,
        ["AGENTOBS_LOCAL_MAX_BYTES"],
        parse_int,
        16 * 1024 * 1024,
        _check_positive,
    )
    port_arg: int | None
    if prometheus_port is True:
        port_arg = DEFAULT_PROMETHEUS_PORT
    elif prometheus_port is False:
        port_arg = -1
    else:
        port_arg = prometheus_port
    port = r.value(
        "prometheus_port",
        port_arg,
        ["AGENTOBS_PROMETHEUS_PORT"],
        _parse_port_env,
        -1,
        lambda p: None if p == -1 else _check_port(p),
        default_text="(off: no /metrics endpoint)",
    )
    host = r.value(
        "prometheus_host", prometheus_host, ["AGENTOBS_PROMETHEUS_HOST"], str, "127.0.0.1"
    )

    if sample_ratio is not None:
        if not isinstance(sample_ratio, (int, float)) or (problem := _check_ratio(sample_ratio)):
            raise ValueError(
                f"agentobs.configure(sample_ratio={sample_ratio!r}): "
                "expected a ratio between 0.0 and 1.0"
            )
        sampler, sampler_arg = "parentbased_traceidratio", float(sample_ratio)
        r.sources["sampler"] = "argument"
    else:
        sampler = r.value(
            "sampler",
            None,
            ["OTEL_TRACES_SAMPLER"],
            str.lower,
            "parentbased_always_on",
            _one_of(SAMPLERS),
        )
        sampler_arg = r.value(
            "sampler_arg", None, ["OTEL_TRACES_SAMPLER_ARG"], parse_float, 1.0, _check_ratio
        )
    interval_ms = None if metric_export_interval is None else metric_export_interval * 1000.0
    if metric_export_interval is not None and metric_export_interval <= 0:
        raise ValueError(
            f"agentobs.configure(metric_export_interval={metric_export_interval!r}): "
            "expected a number of seconds > 0"
        )
    interval = r.value(
        "metric_export_interval",
        interval_ms,
        ["OTEL_METRIC_EXPORT_INTERVAL"],
        parse_float,
        60_000.0,
        _check_millis,
    )
    queue = r.value(
        "max_queue_size",
        max_queue_size,
        ["OTEL_BSP_MAX_QUEUE_SIZE"],
        parse_int,
        DEFAULT_QUEUE_SIZE,
        _check_queue,
    )
    log_queue = r.value(
        "log_queue_size",
        max_queue_size,
        ["OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"],
        parse_int,
        DEFAULT_QUEUE_SIZE,
        _check_queue,
    )
    span_batch = _batch_options(r, "span_batch", "OTEL_BSP", queue)
    log_batch = _batch_options(r, "log_batch", "OTEL_BLRP", log_queue)
    limits = {}
    for limit in LIMIT_VARS:
        value = r.value(
            f"limits.{limit}", None, [limit], _parse_limit, None, default_text="(the SDK's)"
        )
        if value is not None:
            limits[limit] = value
    bridge_logs = r.value("logs", logs, ["AGENTOBS_LOGS"], parse_bool, True)
    level = r.value(
        "log_level",
        None if log_level is None else _checked_level(log_level),
        ["AGENTOBS_LOG_LEVEL"],
        _level,
        20,
    )
    sysm = r.value("system_metrics", system_metrics, ["AGENTOBS_SYSTEM_METRICS"], parse_bool, False)
    other_spans = r.value("interop", interop, ["AGENTOBS_INTEROP"], parse_bool, True)
    secret = r.value(
        "resume_secret", resume_secret, ["AGENTOBS_RESUME_SECRET"], str, "", _check_secret
    )
    max_age = r.value(
        "resume_max_age",
        resume_max_age,
        ["AGENTOBS_RESUME_MAX_AGE"],
        parse_float,
        30 * 86400.0,
        _check_positive_float,
    )
    resume_mode = r.value(
        "resume_trace",
        resume_trace,
        ["AGENTOBS_RESUME_TRACE"],
        str.lower,
        "join",
        _one_of(RESUME_TRACE_MODES),
    )
    health = r.value(
        "health_port", health_port, ["AGENTOBS_HEALTH_PORT"], parse_int, -1, _check_port
    )
    exemplars = r.value(
        "exemplar_filter",
        None,
        ["OTEL_METRICS_EXEMPLAR_FILTER"],
        str.lower,
        "always_off",
        _one_of(EXEMPLAR_FILTERS),
    )

    return Settings(
        service_name=name,
        service_version=version or None,
        environment=env_name or None,
        resource_attributes=resource,
        exporters=exporters,
        otlp=otlp,
        local_dir=Path(directory),
        local_max_bytes=max_bytes,
        prometheus_port=None if port == -1 else port,
        prometheus_host=host,
        sampler=sampler,
        sampler_arg=sampler_arg,
        metric_export_interval=interval / 1000.0,
        max_queue_size=queue,
        logs=bridge_logs,
        log_level=level,
        system_metrics=sysm,
        interop=other_spans,
        **resolve_llm(
            r,
            capture_content=capture_content,
            max_content_size=max_content_size,
            scrubbing=scrubbing,
            scrub_patterns=scrub_patterns,
            scrub_callback=scrub_callback,
            langfuse=langfuse,
            prices=prices,
        ),
        span_batch=span_batch,
        log_batch=log_batch,
        log_queue_size=log_queue,
        limits=limits,
        resume_secret=secret or None,
        resume_max_age=float(max_age),
        resume_trace=resume_mode,
        health_port=None if health == -1 else health,
        exemplar_filter=exemplars,
        sources=r.sources,
    )


def _batch_options(r: _Resolver, name: str, prefix: str, queue: int) -> BatchOptions:
    """The batch options of one signal from ``{prefix}_*`` (the batch size at most the
    queue: a larger one is warned about and the default used)."""
    default = BatchOptions()
    size = r.value(
        f"{name}.max_export_batch_size",
        None,
        [f"{prefix}_MAX_EXPORT_BATCH_SIZE"],
        parse_int,
        min(default.max_export_batch_size, queue),
        lambda v: (
            None
            if 0 < v <= queue
            else f"expected a whole number > 0 and <= {queue} (the queue size)"
        ),
    )
    delay = r.value(
        f"{name}.schedule_delay_ms",
        None,
        [f"{prefix}_SCHEDULE_DELAY"],
        parse_float,
        default.schedule_delay_ms,
        _check_millis,
    )
    timeout = r.value(
        f"{name}.export_timeout_ms",
        None,
        [f"{prefix}_EXPORT_TIMEOUT"],
        parse_float,
        default.export_timeout_ms,
        _check_millis,
    )
    return BatchOptions(size, delay, timeout)


def _parse_port_env(raw: str) -> int:
    """A port number, or a word: true/yes/on for the default port, false/no/off for none."""
    if not raw.isdigit():
        switch = truthy(raw)
        if switch is not None:
            return DEFAULT_PROMETHEUS_PORT if switch else -1
    return parse_int(raw)


def _checked_level(value: int | str) -> int:
    try:
        return _level(value)
    except (ValueError, AttributeError):
        raise ValueError(
            f"agentobs.configure(log_level={value!r}): expected a logging level such as "
            "'INFO' or logging.WARNING"
        ) from None
