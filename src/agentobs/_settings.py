"""The one configuration table: explicit argument, then environment, then default.

:data:`ROWS` holds one :class:`~agentobs._parsers.Row` per setting (its argument, environment
variables, default, parser, check and doc line) and :func:`load` is the one loader over them;
:func:`resolve` runs it and applies the few rules that join rows (an OTLP endpoint per signal,
the content hard off switch, Langfuse). Explicit arguments to :func:`agentobs.configure` that
are wrong raise :class:`ValueError` naming the argument and what is accepted. A malformed
environment value logs one warning and the default is used. Standard ``OTEL_*`` variables
are reused (their names are the SDK's, pinned by a test: importing
``opentelemetry.sdk.environment_variables`` here would load the SDK at ``import agentobs``);
``AGENTOBS_*`` variables exist only for agentobs's own settings and are listed in
:data:`ENV_VARS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ._errors import warn_once
from ._llm.settings import HARD_OFF_ENV, LangfuseTarget, content_hard_off, langfuse_target
from ._llm.settings import ROWS as _LLM_ROWS
from ._parsers import Derived, Row, check_url, parse_bool, parse_float, parse_int, truthy

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


# --- how an explicit argument becomes a value ------------------------------------------


def _parse_port_env(raw: str) -> int:
    """A port number, or a word: true/yes/on for the default port, false/no/off for none."""
    if not raw.isdigit():
        switch = truthy(raw)
        if switch is not None:
            return DEFAULT_PROMETHEUS_PORT if switch else -1
    return parse_int(raw)


def _port_argument(value: int | bool) -> int:
    """``True`` is the default port, ``False`` none (-1), a number that port."""
    if value is True:
        return DEFAULT_PROMETHEUS_PORT
    return -1 if value is False else value


def _level_argument(value: int | str) -> int:
    try:
        return _level(value)
    except (ValueError, AttributeError):
        raise ValueError("expected a logging level such as 'INFO' or logging.WARNING") from None


def _exporter_argument(value: str | Sequence[str]) -> tuple[str, ...]:
    if not (
        isinstance(value, str)
        or (isinstance(value, (list, tuple)) and all(isinstance(e, str) for e in value))
    ):
        raise ValueError(f"expected a name or a list of names among {', '.join(EXPORTERS)}")
    return _parse_exporters(value)


def _timeout_argument(seconds: float) -> float:
    """Seconds (the argument) to milliseconds (the variables)."""
    if not 0 <= seconds <= _LONGEST_WAIT_MS / 1000:
        raise ValueError("expected seconds between 0 and 3600")
    return seconds * 1000.0


def _interval_argument(seconds: float) -> float:
    """Seconds (the argument) to milliseconds (the variable)."""
    if not 0 < seconds <= _LONGEST_WAIT_MS / 1000:  # NaN fails too
        raise ValueError("expected a number of seconds > 0 and at most 3600")
    return seconds * 1000.0


def _check_port_or_off(port: int) -> str | None:
    return None if port == -1 else _check_port(port)


# --- the table ----------------------------------------------------------------------------

_STRING = (lambda v: isinstance(v, str), "a string")
_BOOL = (lambda v: isinstance(v, bool), "True or False")


def _target(loaded: Loaded, signal: str) -> str:
    """The OTLP endpoint of ``signal``: an ``endpoint`` argument, else the per-signal
    variable as it is, else the base endpoint (+ ``/v1/{signal}`` over HTTP), else the
    protocol's default on localhost."""
    values = loaded.values
    base, own = values["endpoint"], values[f"{signal}.endpoint"]
    protocol = values[f"{signal}.protocol"]
    if base and (loaded.sources["endpoint"] == "argument" or not own):
        return _signal_endpoint(base, protocol, signal)
    if own:
        return str(own)
    default = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    return _signal_endpoint(default, protocol, signal)


def _signal_rows(signal: str) -> tuple[Row, ...]:
    """The rows of one signal's exporter and OTLP target (``OTEL_EXPORTER_OTLP_{SIGNAL}_*``
    first, then ``OTEL_EXPORTER_OTLP_*``)."""
    up = signal.upper()

    def both(suffix: str) -> tuple[str, str]:
        return (f"OTEL_EXPORTER_OTLP_{up}_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}")

    def default_exporters(loaded: Loaded) -> tuple[str, ...]:
        configured = loaded.values["endpoint"] or loaded.values[f"{signal}.endpoint"]
        return ("otlp",) if configured else ("local",)

    return (
        Row(
            f"{signal}.endpoint",
            (f"OTEL_EXPORTER_OTLP_{up}_ENDPOINT",),
            "",
            check=_check_endpoint,
            doc=f"OTLP endpoint of {signal}, used as it is.",
        ),
        Row(
            f"{signal}.exporter",
            (f"OTEL_{up}_EXPORTER",),
            Derived(default_exporters),
            _parse_exporters,
            _check_exporters,
            arg="exporter",
            accepts=(
                lambda v: isinstance(v, str) or _is_strings(v),
                "a string such as 'otlp' or a list of them",
            ),
            argument=_exporter_argument,
            doc=f"Where {signal} go: otlp, console, local or none (otlp when an endpoint is "
            "set, else local).",
        ),
        Row(
            f"{signal}.protocol",
            (f"OTEL_EXPORTER_OTLP_{up}_PROTOCOL",),
            Derived(lambda loaded: loaded.values["protocol"]),
            check=_one_of(PROTOCOLS),
            arg="protocol",
            doc=f"OTLP protocol of {signal}.",
        ),
        Row(
            f"{signal}.headers",
            both("HEADERS"),
            {},
            _parse_headers,
            arg="headers",
            accepts=(lambda v: isinstance(v, Mapping), "a mapping of header name to value"),
            doc="OTLP request headers, key=value,key2=value2 (URL-encoded).",
            secret=True,
        ),
        Row(
            f"{signal}.timeout",
            both("TIMEOUT"),
            10_000.0,
            parse_float,
            _check_non_negative,
            arg="timeout",
            accepts=(_is_number, "a number of seconds"),
            argument=_timeout_argument,
            doc="OTLP export timeout: argument in seconds, variables in milliseconds.",
        ),
        Row(
            f"{signal}.compression",
            both("COMPRESSION"),
            "none",
            str.lower,
            _one_of(COMPRESSIONS),
            arg="compression",
            accepts=(lambda v: isinstance(v, str), "'gzip' or 'none'"),
            doc="OTLP compression: gzip or none.",
        ),
        Row(
            f"{signal}.insecure",
            both("INSECURE"),
            Derived(lambda loaded: _target(loaded, signal).startswith("http://")),
            parse_bool,
            arg="insecure",
            accepts=_BOOL,
            doc="gRPC without TLS (true for an http:// endpoint).",
        ),
        Row(
            f"{signal}.certificate",
            both("CERTIFICATE"),
            "",
            check=_check_certificate,
            arg="certificate",
            accepts=(lambda v: isinstance(v, (str, os.PathLike)), "a file path"),
            doc="CA bundle (PEM) for TLS.",
        ),
    )


def _batch_rows(name: str, prefix: str, queue: str, what: str) -> tuple[Row, ...]:
    """The batch options of one signal from ``{prefix}_*``: a batch size larger than the
    ``queue`` row's value is warned about and the default used."""
    default = BatchOptions()

    def check_size(loaded: Loaded) -> Callable[[int], str | None]:
        size = loaded.values[queue]
        return lambda v: (
            None if 0 < v <= size else f"expected a whole number > 0 and <= {size} (the queue size)"
        )

    return (
        Row(
            f"{name}.max_export_batch_size",
            (f"{prefix}_MAX_EXPORT_BATCH_SIZE",),
            Derived(lambda loaded: min(default.max_export_batch_size, loaded.values[queue])),
            parse_int,
            Derived(check_size),
            doc=f"Most {what} in one export (at most the queue size).",
        ),
        Row(
            f"{name}.schedule_delay_ms",
            (f"{prefix}_SCHEDULE_DELAY",),
            default.schedule_delay_ms,
            parse_float,
            _check_millis,
            doc=f"Milliseconds between two exports of {what}.",
        ),
        Row(
            f"{name}.export_timeout_ms",
            (f"{prefix}_EXPORT_TIMEOUT",),
            default.export_timeout_ms,
            parse_float,
            _check_millis,
            doc=f"Milliseconds an export of {what} may take.",
        ),
    )


ROWS: tuple[Row, ...] = (
    Row(
        "resource_attributes",
        (),  # OTEL_RESOURCE_ATTRIBUTES is merged by the SDK's Resource.create()
        {},
        arg="resource_attributes",
        accepts=(lambda v: isinstance(v, Mapping), "a mapping of name to value"),
        argument=lambda attributes: {str(k): str(v) for k, v in attributes.items()},
        doc="More resource attributes; OTEL_RESOURCE_ATTRIBUTES is merged, arguments win.",
    ),
    Row(
        "service_name",
        ("OTEL_SERVICE_NAME",),
        Derived(
            lambda loaded: loaded.values["resource_attributes"].get(
                "service.name", "unknown_service:python"
            )
        ),
        arg="service_name",
        accepts=_STRING,
        doc="service.name of the resource.",
    ),
    Row(
        "service_version",
        ("AGENTOBS_SERVICE_VERSION",),
        "",
        arg="service_version",
        accepts=_STRING,
        doc="service.version of the resource.",
    ),
    Row(
        "environment",
        ("AGENTOBS_ENVIRONMENT",),
        "",
        arg="environment",
        accepts=_STRING,
        doc="deployment.environment.name of the resource.",
    ),
    Row(
        "protocol",
        ("OTEL_EXPORTER_OTLP_PROTOCOL",),
        "http/protobuf",
        check=_one_of(PROTOCOLS),
        arg="protocol",
        accepts=(lambda v: isinstance(v, str), "'http/protobuf' or 'grpc'"),
        doc="OTLP protocol: http/protobuf or grpc.",
    ),
    Row(
        "endpoint",
        ("OTEL_EXPORTER_OTLP_ENDPOINT",),
        "",
        check=_check_endpoint,
        arg="endpoint",
        accepts=(lambda v: isinstance(v, str), "a URL string such as 'http://localhost:4318'"),
        doc="OTLP base endpoint (/v1/{signal} is appended over HTTP).",
    ),
    *(row for signal in SIGNALS for row in _signal_rows(signal)),
    Row(
        "local_dir",
        ("AGENTOBS_LOCAL_DIR",),
        DEFAULT_LOCAL_DIR,
        arg="local_dir",
        accepts=(lambda v: isinstance(v, (str, os.PathLike)), "a directory path"),
        argument=str,
        doc="Directory of the local default files (default .agentobs).",
    ),
    Row(
        "local_max_bytes",
        ("AGENTOBS_LOCAL_MAX_BYTES",),
        16 * 1024 * 1024,
        parse_int,
        _check_positive,
        arg="local_max_bytes",
        accepts=(_is_int, "a whole number of bytes"),
        doc="Size at which a local file is rotated (default 16 MiB).",
    ),
    Row(
        "prometheus_port",
        ("AGENTOBS_PROMETHEUS_PORT",),
        -1,
        _parse_port_env,
        _check_port_or_off,
        arg="prometheus_port",
        accepts=(
            lambda v: isinstance(v, int),
            "a port number (0 picks a free one), or True for 9464",
        ),
        argument=_port_argument,
        default_text="(off: no /metrics endpoint)",
        doc="Serve /metrics on this port (9464 when set to 'true').",
    ),
    Row(
        "prometheus_host",
        ("AGENTOBS_PROMETHEUS_HOST",),
        "127.0.0.1",
        arg="prometheus_host",
        accepts=(lambda v: isinstance(v, str), "a host name or address"),
        doc="Bind address of /metrics (default 127.0.0.1).",
    ),
    Row(
        "sampler",
        ("OTEL_TRACES_SAMPLER",),
        "parentbased_always_on",
        str.lower,
        _one_of(SAMPLERS),
        arg="sample_ratio",
        accepts=(_is_number, "a number between 0 and 1"),
        argument=lambda _ratio: "parentbased_traceidratio",  # a ratio means this sampler
        doc="The trace sampler (a sample_ratio argument means parentbased_traceidratio).",
    ),
    Row(
        "sampler_arg",
        ("OTEL_TRACES_SAMPLER_ARG",),
        1.0,
        parse_float,
        _check_ratio,
        arg="sample_ratio",
        argument=float,
        doc="The sampler's ratio, between 0.0 and 1.0.",
    ),
    Row(
        "metric_export_interval",
        ("OTEL_METRIC_EXPORT_INTERVAL",),
        60_000.0,
        parse_float,
        _check_millis,
        arg="metric_export_interval",
        accepts=(_is_number, "a number of seconds"),
        argument=_interval_argument,
        doc="Between metric exports: argument in seconds, variable in milliseconds.",
    ),
    Row(
        "max_queue_size",
        ("OTEL_BSP_MAX_QUEUE_SIZE",),
        DEFAULT_QUEUE_SIZE,
        parse_int,
        _check_queue,
        arg="max_queue_size",
        accepts=(_is_int, "a whole number"),
        doc="Bound of the span batch queue.",
    ),
    Row(
        "log_queue_size",
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"),
        DEFAULT_QUEUE_SIZE,
        parse_int,
        _check_queue,
        arg="max_queue_size",
        doc="Bound of the log record batch queue.",
    ),
    *_batch_rows("span_batch", "OTEL_BSP", "max_queue_size", "spans"),
    *_batch_rows("log_batch", "OTEL_BLRP", "log_queue_size", "log records"),
    *(
        Row(
            f"limits.{name}",
            (name,),
            None,
            _parse_limit,
            default_text="(the SDK's)",
            doc="A span or log record limit of the SDK: a whole number >= 0, or unset.",
        )
        for name in LIMIT_VARS
    ),
    Row(
        "logs",
        ("AGENTOBS_LOGS",),
        True,
        parse_bool,
        arg="logs",
        accepts=_BOOL,
        doc="Bridge standard logging to OpenTelemetry logs: true (default) or false.",
    ),
    Row(
        "log_level",
        ("AGENTOBS_LOG_LEVEL",),
        20,
        _level,
        arg="log_level",
        accepts=(
            lambda v: _is_int(v) or isinstance(v, str),
            "a logging level such as logging.INFO or 'INFO'",
        ),
        argument=_level_argument,
        doc="Lowest level bridged to OpenTelemetry logs (default INFO).",
    ),
    Row(
        "system_metrics",
        ("AGENTOBS_SYSTEM_METRICS",),
        False,
        parse_bool,
        arg="system_metrics",
        accepts=_BOOL,
        doc="Record process CPU, memory and threads: true or false.",
    ),
    Row(
        "interop",
        ("AGENTOBS_INTEROP",),
        True,
        parse_bool,
        arg="interop",
        doc="Count the GenAI spans other instrumentations start inside agentobs scopes: "
        "true (default) or false.",
    ),
    Row(
        "resume_secret",
        ("AGENTOBS_RESUME_SECRET",),
        "",
        check=_check_secret,
        arg="resume_secret",
        doc="Key that signs checkpoint tokens (HMAC-SHA256); same in every process that resumes.",
        secret=True,
    ),
    Row(
        "resume_max_age",
        ("AGENTOBS_RESUME_MAX_AGE",),
        30 * 86400.0,
        parse_float,
        _check_positive_float,
        arg="resume_max_age",
        doc="Seconds a checkpoint token stays valid (default 30 days).",
    ),
    Row(
        "resume_trace",
        ("AGENTOBS_RESUME_TRACE",),
        "join",
        str.lower,
        _one_of(RESUME_TRACE_MODES),
        arg="resume_trace",
        doc="How a resumed run joins its workflow: join (same trace) or link.",
    ),
    Row(
        "health_port",
        ("AGENTOBS_HEALTH_PORT",),
        -1,
        parse_int,
        _check_port,
        arg="health_port",
        doc="Serve /health, /readiness and /version alone on this port.",
    ),
    Row(
        "exemplar_filter",
        ("OTEL_METRICS_EXEMPLAR_FILTER",),
        "always_off",
        str.lower,
        _one_of(EXEMPLAR_FILTERS),
        doc="Which measurements may become exemplars: always_off, always_on or trace_based.",
    ),
    *_LLM_ROWS,
)
"""Every setting, in the order it is resolved (a row's derived default or check reads only
rows above it)."""

ARGUMENTS: tuple[str, ...] = tuple(dict.fromkeys(row.arg for row in ROWS if row.arg))
"""The arguments of :func:`agentobs.configure`, as the table names them."""
_ARGUMENT_NAMES = frozenset(ARGUMENTS)

ENV_VARS: dict[str, str] = {
    name: row.doc for row in ROWS for name in row.env if name.startswith("AGENTOBS_")
}
"""Every ``AGENTOBS_*`` variable read by :func:`agentobs.configure`, with what it does."""

_ACCEPTS = {row.arg: row.accepts for row in reversed(ROWS) if row.arg and row.accepts}


# --- the loader ---------------------------------------------------------------------------


class Loaded:
    """The values of the rows loaded so far, and where each came from."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def load(self, row: Row, arguments: Mapping[str, Any]) -> None:
        """Argument (checked: raises), else the first variable set (checked: warns), else
        the default."""
        default = row.default.fn(self) if isinstance(row.default, Derived) else row.default
        check = row.check.fn(self) if isinstance(row.check, Derived) else row.check
        arg = None if row.arg is None else arguments.get(row.arg)
        if arg is not None:
            shown = f"{row.arg}={arg!r}" if row.show_argument else f"{row.arg}=..."
            try:
                value = arg if row.argument is None else row.argument(arg)
                problem = check(value)
            except ValueError as exc:
                problem = str(exc)
            if problem:
                raise ValueError(f"agentobs.configure({shown}): {problem}") from None
            self.values[row.name], self.sources[row.name] = value, "argument"
            return
        assert row.parse is not None
        for env_name in row.env:
            raw = self.env.get(env_name, "").strip()
            if not raw:
                continue
            try:
                parsed = row.parse(raw)
                problem = check(parsed)
            except ValueError as exc:
                problem = str(exc)
            if problem:
                warn_once(
                    f"env:{env_name}:{raw}",
                    "agentobs: ignoring %s=%s: %s; using the default %s",
                    env_name,
                    "<hidden>" if row.secret else repr(raw),  # headers may hold credentials
                    problem,
                    repr(default) if row.default_text is None else row.default_text,
                )
                break
            self.values[row.name], self.sources[row.name] = parsed, f"env {env_name}"
            return
        self.values[row.name], self.sources[row.name] = default, "default"


def load(rows: Sequence[Row], arguments: Mapping[str, Any], env: Mapping[str, str]) -> Loaded:
    """Every row of ``rows`` but those resolved by a rule (``parse`` None), in order: the
    explicit ``arguments`` (not None) are type-checked first, in the order given."""
    for name, value in arguments.items():
        accepts = _ACCEPTS.get(name)
        if accepts is not None and not accepts[0](value):
            raise ValueError(
                f"agentobs.configure({name}={value!r}): expected {accepts[1]}, "
                f"got {type(value).__name__}"
            )
    loaded = Loaded(env)
    for row in rows:
        if row.parse is not None:
            loaded.load(row, arguments)
    return loaded


def resolve(*, env: Mapping[str, str] | None = None, **arguments: Any) -> Settings:
    """Build the effective :class:`Settings` from :func:`agentobs.configure`'s keyword
    arguments (named by :data:`ARGUMENTS`; configure() holds their types for users and
    mypy) and ``env`` (default ``os.environ``); raise ValueError for a bad explicit argument,
    TypeError for a name that is no argument of configure()."""
    unknown = sorted(name for name in arguments if name not in _ARGUMENT_NAMES)
    if unknown:
        raise TypeError(f"resolve() got unexpected keyword argument(s): {', '.join(unknown)}")
    arguments = {name: value for name, value in arguments.items() if value is not None}
    environ = os.environ if env is None else env
    loaded = load(ROWS, arguments, environ)
    values, sources = loaded.values, loaded.sources
    # The rules that join rows: content capture never on under the hard off switch, the
    # exporter "none" and the OTLP target of each signal, the limits set, Langfuse's keys.
    hard_off = content_hard_off(environ)
    if hard_off:
        sources["capture_content"] = f"env {HARD_OFF_ENV} (hard off)"
    exporters = {s: _exporters(values[f"{s}.exporter"]) for s in SIGNALS}
    otlp = {s: _otlp_target(loaded, s) for s in SIGNALS}
    limits = {n: values[f"limits.{n}"] for n in LIMIT_VARS if values[f"limits.{n}"] is not None}
    port, health = values["prometheus_port"], values["health_port"]
    return Settings(
        service_name=values["service_name"],
        service_version=values["service_version"] or None,
        environment=values["environment"] or None,
        resource_attributes=values["resource_attributes"],
        exporters=exporters,
        otlp=otlp,
        local_dir=Path(values["local_dir"]),
        local_max_bytes=values["local_max_bytes"],
        prometheus_port=None if port == -1 else port,
        prometheus_host=values["prometheus_host"],
        sampler=values["sampler"],
        sampler_arg=values["sampler_arg"],
        metric_export_interval=values["metric_export_interval"] / 1000.0,
        max_queue_size=values["max_queue_size"],
        logs=values["logs"],
        log_level=values["log_level"],
        system_metrics=values["system_metrics"],
        interop=values["interop"],
        capture_content=values["capture_content"] and not hard_off,
        content_hard_off=hard_off,
        max_content_size=values["max_content_size"],
        scrubbing=values["scrubbing"],
        scrub_patterns=values["scrub_patterns"],
        scrub_callback=values["scrub_callback"],
        langfuse=langfuse_target(arguments.get("langfuse"), environ, sources),
        prices=values["prices"],
        span_batch=_batch(values, "span_batch"),
        log_batch=_batch(values, "log_batch"),
        log_queue_size=values["log_queue_size"],
        limits=limits,
        resume_secret=values["resume_secret"] or None,
        resume_max_age=float(values["resume_max_age"]),
        resume_trace=values["resume_trace"],
        health_port=None if health == -1 else health,
        exemplar_filter=values["exemplar_filter"],
        sources=sources,
    )


def _exporters(names: tuple[str, ...]) -> tuple[str, ...]:
    return () if "none" in names else names


def _otlp_target(loaded: Loaded, signal: str) -> OtlpTarget:
    values = loaded.values
    return OtlpTarget(
        endpoint=_target(loaded, signal),
        protocol=values[f"{signal}.protocol"],
        headers=dict(values[f"{signal}.headers"]),
        timeout=values[f"{signal}.timeout"] / 1000.0,
        compression=values[f"{signal}.compression"],
        insecure=values[f"{signal}.insecure"],
        certificate=values[f"{signal}.certificate"] or None,
    )


def _batch(values: Mapping[str, Any], name: str) -> BatchOptions:
    return BatchOptions(
        values[f"{name}.max_export_batch_size"],
        values[f"{name}.schedule_delay_ms"],
        values[f"{name}.export_timeout_ms"],
    )
