"""configure(), force_flush() and shutdown(): the one place that builds the SDK pipeline.

The OpenTelemetry SDK and the exporters are imported here, inside :func:`configure`, so
``import agentobs`` stays cheap and instrumentation calls before ``configure()`` are no-ops.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _secrets
from .._errors import logger, warn_once
from .._settings import Settings, resolve
from .._state import INSTRUMENTATION_SCOPE, STATE
from .._version import __version__

if TYPE_CHECKING:
    from .selfmetrics import Counts

_LOCK = threading.RLock()
_DEFAULT_TIMEOUT = 5.0

# Loggers of the SDK and exporters that repeat one warning per dropped item or failed batch.
_NOISY_LOGGERS = (
    "opentelemetry.attributes",  # one warning per attribute dropped past a span's limit
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._logs._internal.export",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)


class _OncePerMessage(logging.Filter):
    """Lets the first record of each message template through and counts the repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        if key in self.seen:
            self.suppressed += 1
            return False
        self.seen.add(key)
        return True


def _new_counts() -> Counts:
    from .selfmetrics import Counts  # the SDK is imported by configure(), not by import

    return Counts()


@dataclass
class _Pipeline:
    settings: Settings
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    owned: set[str]
    span_processors: list[Any] = field(default_factory=list)
    metric_readers: list[Any] = field(default_factory=list)
    log_processors: list[Any] = field(default_factory=list)
    log_handler: logging.Handler | None = None
    prometheus_server: Any = None
    prometheus_address: tuple[str, int] | None = None
    prometheus_reader: Any = None
    health_server: Any = None
    health_address: tuple[str, int] | None = None
    system_metrics: Any = None
    langfuse_scores: Any = None
    persona_processor: Any = None
    interop: Any = None
    noise_filter: _OncePerMessage = field(default_factory=_OncePerMessage)
    counts: Counts = field(default_factory=lambda: _new_counts())
    scrubber: _secrets.Scrubber | None = None
    reporting: threading.Lock = field(default_factory=threading.Lock)  # held once reported

    def force_flush(self, timeout: float) -> bool:
        millis = int(timeout * 1000)
        ok = True
        for processor in self.span_processors + self.log_processors:
            ok = processor.force_flush(millis) is not False and ok
        for reader in self.metric_readers:
            if reader is self.prometheus_reader:  # pulled: the next scrape collects anew
                continue
            ok = reader.force_flush(millis) is not False and ok
        if self.langfuse_scores is not None:
            self.langfuse_scores.client.flush()
        return ok

    def shutdown(self, timeout: float) -> None:
        millis = int(timeout * 1000)
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
        if self.system_metrics is not None:
            self.system_metrics.uninstrument()
        if self.langfuse_scores is not None:
            from .langfuse import stop_scores

            stop_scores(self.langfuse_scores)
        for server in (self.prometheus_server, self.health_server):
            if server is not None:
                server.close()
        for kind, provider, parts in (
            ("traces", self.tracer_provider, self.span_processors),
            ("metrics", self.meter_provider, self.metric_readers),
            ("logs", self.logger_provider, self.log_processors),
        ):
            if kind in self.owned:
                provider.shutdown()
            else:
                for part in parts:
                    part.shutdown(**({"timeout_millis": millis} if kind == "metrics" else {}))

    def report(self, timed_out: bool) -> None:
        """The shutdown line: exact figures of what was exported, dropped and failed. Once:
        a shutdown that timed out reports then, and its closing thread, when it ends later,
        neither reports again nor clears what a newer pipeline set up."""
        if not self.reporting.acquire(blocking=False):
            return
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).removeFilter(self.noise_filter)
        if _secrets.ACTIVE is self.scrubber:
            _secrets.ACTIVE = None
        if self.counts.signals:
            from .selfmetrics import log_summary

            log_summary(self.counts, self.noise_filter.suppressed, timed_out)
        elif self.noise_filter.suppressed:
            logger.warning(
                "agentobs: %d repeated export warnings were suppressed (the first of each "
                "was logged)",
                self.noise_filter.suppressed,
            )


_PIPELINE: _Pipeline | None = None


def configure(
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
) -> None:
    """Build the OpenTelemetry tracer, meter and logger providers agentobs records through.

    Every argument falls back to its standard ``OTEL_*`` (or ``AGENTOBS_*``) environment
    variable and then to a default; with no OTLP endpoint anywhere, telemetry goes to the
    local default (OTLP JSON Lines files under ``.agentobs/``). See ``docs/configuration.md``.

    Args:
        service_name: ``service.name`` of the resource (``OTEL_SERVICE_NAME``).
        service_version: ``service.version`` (``AGENTOBS_SERVICE_VERSION``).
        environment: ``deployment.environment.name`` (``AGENTOBS_ENVIRONMENT``).
        resource_attributes: more resource attributes; ``OTEL_RESOURCE_ATTRIBUTES`` is merged.
        exporter: ``"otlp"``, ``"console"``, ``"local"`` or ``"none"``, or several of them, for
            every signal (``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``,
            ``OTEL_LOGS_EXPORTER``). Default: ``otlp`` when an endpoint is set, else ``local``.
        endpoint: OTLP base endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` and the per-signal ones).
        protocol: ``"http/protobuf"`` (default) or ``"grpc"`` (``OTEL_EXPORTER_OTLP_PROTOCOL``).
        headers, timeout, compression, insecure, certificate: as ``OTEL_EXPORTER_OTLP_*``;
            ``timeout`` in seconds.
        local_dir, local_max_bytes: where the local default writes and when it rotates.
        prometheus_port: serve ``/metrics`` on this port (``True`` means 9464; 0 picks one).
        prometheus_host: the bind address of ``/metrics`` (default ``127.0.0.1``).
        sample_ratio: parent-based trace-id ratio sampling (``OTEL_TRACES_SAMPLER``).
        metric_export_interval: seconds between metric exports (``OTEL_METRIC_EXPORT_INTERVAL``).
        max_queue_size: bound of each batch processor's queue (``OTEL_BSP_MAX_QUEUE_SIZE``).
        logs: bridge standard ``logging`` to OpenTelemetry logs (default on).
        log_level: lowest level bridged (default ``INFO``).
        system_metrics: record process CPU, memory and threads (needs ``agentobs[system]``).
        interop: count the GenAI spans other instrumentations (OpenTelemetry contrib,
            OpenInference, Pydantic AI) start inside agentobs scopes: persona, workflow and
            stage on the span, tokens and cost in agentobs's counters, budgets and tests
            (default on; ``AGENTOBS_INTEROP``). See ``docs/integrations.md``.
        capture_content: record LLM prompts and completions on spans (default off;
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``). Never on while
            ``AGENTOBS_DISABLE_CONTENT_CAPTURE=true``. See ``docs/llm.md``.
        max_content_size: characters kept of captured content (``AGENTOBS_MAX_CONTENT_SIZE``).
        scrubbing: redact secrets from every span at export (default on).
        scrub_patterns: more regexes to redact, a list or a mapping of name to regex.
        scrub_callback: ``fn(match) -> str | None`` deciding each redaction (None: redact).
        langfuse: send traces and gate scores to Langfuse (``True``, or a mapping of
            ``public_key``, ``secret_key``, ``host``); default: on when ``LANGFUSE_PUBLIC_KEY``
            and ``LANGFUSE_SECRET_KEY`` are set.
        prices: model prices in USD per million tokens, overriding the price table
            (``AGENTOBS_PRICES`` names a JSON file of the same form).
        resume_secret: key that signs checkpoint tokens with HMAC-SHA256
            (``AGENTOBS_RESUME_SECRET``; at least 16 characters); without it a token carries a
            SHA-256 checksum. Every process that resumes needs the same key.
        resume_max_age: seconds a checkpoint token stays valid (``AGENTOBS_RESUME_MAX_AGE``,
            default 30 days).
        resume_trace: ``"join"`` (a resumed run continues the checkpoint's trace, the default)
            or ``"link"`` (a new trace that links to it) (``AGENTOBS_RESUME_TRACE``).
        health_port: serve ``/health``, ``/readiness`` and ``/version`` on this port without
            Prometheus (``AGENTOBS_HEALTH_PORT``; 0 picks one). With ``prometheus_port``, the
            same endpoints are served beside ``/metrics`` anyway.

    Raises:
        ValueError: an argument is malformed; the message names it and what is accepted.
        OSError: the Prometheus port cannot be bound.

    A second call while configured changes nothing and logs that it was ignored; call
    :func:`shutdown` first to configure again. If the application already installed SDK
    providers, agentobs adds its processors to them instead of replacing them.
    """
    # configure() spells out, with their types, the arguments the settings table names
    # (_settings.ARGUMENTS, kept equal by a test); its locals here are exactly those.
    settings = resolve(**locals())
    install(settings)


def install(
    settings: Settings,
    *,
    span_processors: Sequence[Any] = (),
    metric_readers: Sequence[Any] = (),
    log_processors: Sequence[Any] = (),
    export_spans: bool = True,
) -> None:
    """Build the pipeline from resolved settings plus extra parts (``agentobs.testing``).

    ``export_spans=False`` builds no span exporter at all (Langfuse's neither; its scores
    still go): spans reach only the processors the caller adds (an xdist worker's, which
    sends them to the controller to export)."""
    global _PIPELINE
    from .. import _hooks, _recorder  # not at import: `import agentobs` stays small

    with _LOCK:
        if _PIPELINE is not None:
            logger.info(
                "agentobs: configure() was called again and ignored; call agentobs.shutdown() "
                "first to configure again"
            )
            return
        from . import status

        status.clear()
        pipeline = _build(settings, span_processors, metric_readers, log_processors, export_spans)
        _PIPELINE = pipeline
        STATE.settings = settings
        STATE.meter = pipeline.meter_provider.get_meter(INSTRUMENTATION_SCOPE, __version__)
        STATE.recorders = _recorder.build(
            STATE.meter,
            {
                **{name: _hooks.gauge_source(name) for name in _hooks.HOOKED_GAUGES},
                **pipeline.counts.observers(),
            },
            pipeline.counts.totals,
        )
        STATE.tracer = pipeline.tracer_provider.get_tracer(INSTRUMENTATION_SCOPE, __version__)
        STATE.active = True
        _hooks.set_first_persona(stamp_context)
        _install_exit_hooks()
        _flush_at_worker_exit(pipeline)
    local = any("local" in names for names in settings.exporters.values())
    if local and logger.isEnabledFor(logging.INFO):  # the tip looks the command up on PATH
        from .._commands import report_command

        logger.info(
            "agentobs: telemetry is written to %s (traces.jsonl, metrics.jsonl, logs.jsonl); "
            "read it with `%s`",
            settings.local_dir.resolve(),
            report_command(settings.local_dir),
        )


def stamp_context() -> None:
    """Make every span carry the current persona and session from now on: add the
    :class:`~agentobs._export.processors.ContextSpanProcessor`, the first time a persona or
    session is entered (before its context is attached). A process that uses neither does not
    pay for it on every span."""
    pipeline = _PIPELINE
    if pipeline is None or pipeline.persona_processor is not None:
        return
    from .processors import ContextSpanProcessor

    with _LOCK:
        if _PIPELINE is not pipeline or pipeline.persona_processor is not None:
            return
        processor = ContextSpanProcessor()
        pipeline.tracer_provider.add_span_processor(processor)
        pipeline.span_processors.append(processor)
        pipeline.persona_processor = processor


def _sampler(settings: Settings) -> Any:
    from opentelemetry.sdk.trace import sampling

    ratio = sampling.TraceIdRatioBased(settings.sampler_arg)
    return {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(ratio),
    }[settings.sampler]


def _exemplar_filter(name: str) -> Any:
    from opentelemetry.sdk.metrics import (
        AlwaysOffExemplarFilter,
        AlwaysOnExemplarFilter,
        TraceBasedExemplarFilter,
    )

    return {
        "always_on": AlwaysOnExemplarFilter,
        "trace_based": TraceBasedExemplarFilter,
    }.get(name, AlwaysOffExemplarFilter)()


def _resource(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = dict(settings.resource_attributes)
    if settings.sources.get("service_name") != "default":
        attributes["service.name"] = settings.service_name
    if settings.service_version:
        attributes["service.version"] = settings.service_version
    if settings.environment:
        attributes["deployment.environment.name"] = settings.environment
    try:
        return Resource.create(attributes)
    except Exception as exc:  # e.g. an unknown OTEL_EXPERIMENTAL_RESOURCE_DETECTORS entry
        logger.warning(
            "agentobs: the resource detectors failed (%s: %s); the resource has only the "
            "attributes configured",
            type(exc).__name__,
            exc,
        )
        return Resource(attributes)


def _start_prometheus(settings: Settings, pipeline: _Pipeline) -> Any:
    """Bind /metrics (with /health, /readiness and /version beside it) first, so a port in
    use fails before anything else is built."""
    from prometheus_client import CollectorRegistry, make_wsgi_app

    from .. import health
    from .exporters import prometheus_reader

    registry = CollectorRegistry(auto_describe=True)
    reader = prometheus_reader(registry)
    port = settings.prometheus_port
    assert port is not None
    app = health.with_metrics(make_wsgi_app(registry))
    try:
        server = health.serve(port, settings.prometheus_host, wsgi_app=app)
    except OSError as exc:
        source = settings.sources.get("prometheus_port", "")
        if source.startswith("env "):  # e.g. the second worker of a multi-process server
            warn_once(
                f"prometheus-port:{port}",
                "agentobs: cannot serve /metrics on %s:%s from %s (%s); this process "
                "serves no /metrics and runs on. With several worker processes give each "
                "its own port, or export OTLP to a collector (docs/configuration.md)",
                settings.prometheus_host,
                port,
                source.removeprefix("env "),
                exc.strerror or exc,
            )
            return None
        where = settings.prometheus_host
        raise _port_error("prometheus_port", port, where, "/metrics", exc) from exc
    pipeline.prometheus_server = server
    pipeline.prometheus_reader = reader
    pipeline.prometheus_address = (settings.prometheus_host, server.port)
    logger.info(
        "agentobs: Prometheus metrics are served at http://%s/metrics",
        _host_port(*pipeline.prometheus_address),
    )
    return reader


def _port_error(what: str, port: int, host: str, paths: str, exc: OSError) -> OSError:
    return OSError(
        exc.errno,
        f"agentobs.configure({what}={port}): cannot serve {paths} on {host}:{port} "
        f"({exc.strerror or exc}); choose a free port, or {what}=0 to pick one",
    )


def _start_health(settings: Settings, pipeline: _Pipeline) -> None:
    """Serve /health, /readiness and /version on a port of their own (no Prometheus)."""
    from .. import health

    port = settings.health_port
    assert port is not None
    try:
        server = health.serve(port, settings.prometheus_host)
    except OSError as exc:
        raise _port_error("health_port", port, settings.prometheus_host, "/health", exc) from exc
    pipeline.health_server = server
    pipeline.health_address = (settings.prometheus_host, server.port)


def _close_servers(pipeline: _Pipeline) -> None:
    for server in (pipeline.prometheus_server, pipeline.health_server):
        if server is not None:
            server.close()


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def prometheus_address() -> str | None:
    """``host:port`` where the running pipeline serves Prometheus ``/metrics`` (the port
    picked when ``prometheus_port=0``), or None when it serves none."""
    pipeline = _PIPELINE
    if pipeline is None or pipeline.prometheus_address is None:
        return None
    return _host_port(*pipeline.prometheus_address)


_DEFAULT_LIMIT = 128  # the SDK's default count limits


def _limit(limits: Mapping[str, int], name: str, default: int) -> int:
    """One limit the SDK takes as an argument (``-1`` is ``SpanLimits.UNSET``: no limit)."""
    return limits.get(name, default)


def _span_limits(settings: Settings) -> Any:
    """The span limits of the ``OTEL_*_LIMIT`` variables, every one given explicitly: the
    SDK reads a limit that is not given from the environment itself, and raises on a
    malformed one (those were warned about and left out of ``settings.limits``)."""
    from opentelemetry.sdk.trace import SpanLimits

    limits = settings.limits
    count = _limit(limits, "OTEL_ATTRIBUTE_COUNT_LIMIT", _DEFAULT_LIMIT)
    length = _limit(limits, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", SpanLimits.UNSET)
    return SpanLimits(
        max_attributes=count,
        max_events=_limit(limits, "OTEL_SPAN_EVENT_COUNT_LIMIT", _DEFAULT_LIMIT),
        max_links=_limit(limits, "OTEL_SPAN_LINK_COUNT_LIMIT", _DEFAULT_LIMIT),
        max_span_attributes=_limit(limits, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", count),
        max_event_attributes=_limit(limits, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", count),
        max_link_attributes=_limit(limits, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", count),
        max_attribute_length=length,
        max_span_attribute_length=_limit(limits, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", length),
    )


def _log_limits(settings: Settings) -> Any:
    """The log record limits, every one given explicitly (see :func:`_span_limits`)."""
    from opentelemetry.sdk._logs import LogRecordLimits

    limits = settings.limits
    count = _limit(limits, "OTEL_ATTRIBUTE_COUNT_LIMIT", _DEFAULT_LIMIT)
    length = _limit(limits, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", LogRecordLimits.UNSET)
    return LogRecordLimits(
        max_attributes=count,
        max_attribute_length=length,
        max_log_record_attributes=_limit(limits, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", count),
        max_log_record_attribute_length=_limit(
            limits, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", length
        ),
    )


def _global_provider(get: Callable[[], Any], what: str) -> Any:
    """The application's global provider, or None when none is set or the one named by
    ``OTEL_PYTHON_*_PROVIDER`` cannot be loaded (one warning: agentobs builds its own)."""
    try:
        return get()
    except Exception as exc:
        logger.warning(
            "agentobs: cannot load the %s named by the environment (%s); agentobs builds its own",
            what,
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        )
        return None


def _build(
    settings: Settings,
    extra_span_processors: Sequence[Any],
    extra_metric_readers: Sequence[Any],
    extra_log_processors: Sequence[Any],
    export_spans: bool = True,
) -> _Pipeline:
    """Build the pipeline in this order: the ports bound first (a port in use fails before
    anything else is built), metric readers, span and log processors, then the providers
    (the application's adopted, else ours installed as the globals) and what hangs on them."""
    if settings.system_metrics:
        _check_system_metrics()
    from . import scrub as _scrub

    # Secrets out of every span, log record and data point before any exporter sees them.
    cleaner = _scrub.cleaner(settings)
    pipeline = _Pipeline(settings, None, None, None, owned=set())
    readers = _metric_readers(settings, pipeline, cleaner.scrubber, extra_metric_readers)
    sdk_meter = _sdk_meter()
    try:
        span_processors = _span_processors(settings, pipeline, cleaner, sdk_meter, export_spans)
        log_processors = _log_processors(
            settings, pipeline, cleaner.scrubber, extra_log_processors, sdk_meter
        )
    except Exception:
        _close_servers(pipeline)
        raise
    resource = _resource(settings)
    release_globals()
    adopted = [
        _tracer_provider(
            settings,
            pipeline,
            resource,
            sdk_meter,
            lambda: _all_span_processors(
                settings, pipeline, cleaner, extra_span_processors, span_processors
            ),
        ),
        _meter_provider(settings, pipeline, resource, readers, sdk_meter),
        _logger_provider(settings, pipeline, resource, log_processors, sdk_meter),
    ]
    if any(adopted):
        logger.info(
            "agentobs: adding to the application's %s instead of replacing it",
            ", ".join(name for name in adopted if name),
        )
    pipeline.log_processors = log_processors
    _attach(settings, pipeline)
    pipeline.scrubber = _secrets.ACTIVE = cleaner.scrubber
    return pipeline


def _metric_readers(
    settings: Settings, pipeline: _Pipeline, scrubber: Any, extra: Sequence[Any]
) -> list[Any]:
    """The metric readers: the extra ones, Prometheus (its port bound here, then the health
    port: a port in use fails before anything else is built), then one periodic reader per
    metric exporter; each behind the scrubber."""
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from . import exporters as _exporters
    from . import scrub as _scrub

    readers: list[Any] = [_scrub.scrub_reader(scrubber, r) for r in extra]
    if settings.prometheus_port is not None:
        prometheus_reader = _start_prometheus(settings, pipeline)
        if prometheus_reader is not None:
            readers.append(_scrub.scrub_reader(scrubber, prometheus_reader))
    if settings.health_port is not None:
        try:
            _start_health(settings, pipeline)
        except OSError:
            _close_servers(pipeline)
            raise
    interval_ms = settings.metric_export_interval * 1000
    for metric_exporter in _exporters.build(settings, "metrics", pipeline.counts):
        readers.append(
            PeriodicExportingMetricReader(
                _scrub.metric_exporter(scrubber, metric_exporter),
                export_interval_millis=interval_ms,
            )
        )
    return readers


def _sdk_meter() -> dict[str, Any]:
    """The SDK's parts look the global MeterProvider up for their own metrics; one named by
    OTEL_PYTHON_METER_PROVIDER that cannot be loaded would make each of them raise: then they
    are given a no-op one (``{"meter_provider": ...}``, else ``{}``)."""
    from opentelemetry import metrics

    if _global_provider(metrics.get_meter_provider, "MeterProvider") is None:
        return {"meter_provider": metrics.NoOpMeterProvider()}
    return {}


def _span_processors(
    settings: Settings,
    pipeline: _Pipeline,
    cleaner: Any,
    sdk_meter: Mapping[str, Any],
    export_spans: bool = True,
) -> list[Any]:
    """One counted batch span processor per span exporter (Langfuse's included), each
    exporting scrubbed spans (none when not ``export_spans``); starts Langfuse's score
    sender."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    from . import exporters as _exporters
    from . import scrub as _scrub
    from .coalescing import coalesce
    from .selfmetrics import CountedSpanExporter, count_processor

    counts = pipeline.counts
    span_batch = {**settings.span_batch.kwargs(settings.max_queue_size), **sdk_meter}
    span_exporters = _exporters.build(settings, "traces", counts) if export_spans else []
    if settings.langfuse is not None:
        from . import langfuse

        if export_spans:

            def to_langfuse(target: Any = settings.langfuse) -> Any:
                return langfuse.LangfuseSpanExporter(target, settings.otlp["traces"].timeout)

            span_exporters.append(
                CountedSpanExporter(to_langfuse(), counts, "langfuse_span_exporter", to_langfuse)
            )
        pipeline.langfuse_scores = langfuse.start_scores(settings.langfuse, settings.environment)
    span_processors: list[Any] = []
    for exporter in span_exporters:
        span_processor = BatchSpanProcessor(_scrub.exporter(cleaner, exporter), **span_batch)
        count_processor(span_processor, counts, "traces", "batching_span_processor")
        coalesce(span_processor, SpanExportResult.SUCCESS)
        span_processors.append(span_processor)
    return span_processors


def _all_span_processors(
    settings: Settings, pipeline: _Pipeline, cleaner: Any, extra: Sequence[Any], ours: list[Any]
) -> list[Any]:
    """The span processors in the order the provider runs them: interop's first (it stamps
    and counts other instrumentations' spans), the cleaner's, the extra ones, then ours.
    The ContextSpanProcessor is added by stamp_context(), when a persona or session is first
    entered."""
    from . import scrub as _scrub

    span_processors = [*_scrub.processors(cleaner, list(extra)), *ours]
    if settings.interop:
        from .interop import GenAISpanProcessor

        pipeline.interop = GenAISpanProcessor()
        span_processors.insert(0, pipeline.interop)
    return span_processors


def _log_processors(
    settings: Settings,
    pipeline: _Pipeline,
    scrubber: Any,
    extra: Sequence[Any],
    sdk_meter: Mapping[str, Any],
) -> list[Any]:
    """The extra log processors, then one counted batch log processor per log exporter; all
    behind the scrubber."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult

    from . import exporters as _exporters
    from . import scrub as _scrub
    from .coalescing import coalesce
    from .selfmetrics import count_processor

    log_batch = {**settings.log_batch.kwargs(settings.log_queue_size), **sdk_meter}
    log_processors = _scrub.log_processors(scrubber, extra)
    for log_exporter in _exporters.build(settings, "logs", pipeline.counts):
        log_processor = BatchLogRecordProcessor(
            _scrub.log_exporter(scrubber, log_exporter), **log_batch
        )
        count_processor(log_processor, pipeline.counts, "logs", "batching_log_processor")
        coalesce(log_processor, LogRecordExportResult.SUCCESS)
        log_processors.append(log_processor)
    return log_processors


def _tracer_provider(
    settings: Settings,
    pipeline: _Pipeline,
    resource: Any,
    sdk_meter: Mapping[str, Any],
    span_processors: Callable[[], list[Any]],
) -> str:
    """The application's TracerProvider (returns its name: adopted), else ours, installed
    as the global one; then ``span_processors()`` added to it."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    adopted = ""
    provider = _global_provider(trace.get_tracer_provider, "TracerProvider")
    if isinstance(provider, TracerProvider):
        adopted = "TracerProvider"
    else:
        provider = TracerProvider(
            resource=resource,
            sampler=_sampler(settings),
            shutdown_on_exit=False,
            span_limits=_span_limits(settings),
            **sdk_meter,
        )
        trace.set_tracer_provider(provider)
        pipeline.owned.add("traces")
        _OUR_PROVIDERS.add(provider)
    pipeline.span_processors = span_processors()
    for span_processor in pipeline.span_processors:
        provider.add_span_processor(span_processor)
    pipeline.tracer_provider = provider
    return adopted


def _meter_provider(
    settings: Settings,
    pipeline: _Pipeline,
    resource: Any,
    readers: list[Any],
    sdk_meter: Mapping[str, Any],
) -> str:
    """The application's SDK MeterProvider as it is (returns its name: adopted; it takes
    readers only when it is created), else ours with the readers, installed as the global."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider

    adopted = ""
    provider = None if sdk_meter else metrics.get_meter_provider()
    if isinstance(provider, MeterProvider):
        adopted = "MeterProvider"
        if readers:
            logger.warning(
                "agentobs: the application's MeterProvider is used as it is; its readers "
                "receive agentobs metrics, and agentobs's own metric exporters are not added "
                "(an SDK MeterProvider takes readers only when it is created)"
            )
        readers = []
    else:
        provider = MeterProvider(
            resource=resource,
            metric_readers=readers,
            shutdown_on_exit=False,
            exemplar_filter=_exemplar_filter(settings.exemplar_filter),
        )
        metrics.set_meter_provider(provider)
        pipeline.owned.add("metrics")
        _OUR_PROVIDERS.add(provider)
    pipeline.meter_provider = provider
    pipeline.metric_readers = readers
    return adopted


def _logger_provider(
    settings: Settings,
    pipeline: _Pipeline,
    resource: Any,
    log_processors: Sequence[Any],
    sdk_meter: Mapping[str, Any],
) -> str:
    """The application's LoggerProvider (returns its name: adopted), else ours, installed
    as the global one; the log processors added to it."""
    from opentelemetry import _logs
    from opentelemetry.sdk._logs import LoggerProvider

    adopted = ""
    provider = _global_provider(_logs.get_logger_provider, "LoggerProvider")
    if isinstance(provider, LoggerProvider):
        adopted = "LoggerProvider"
    else:
        provider = LoggerProvider(
            resource=resource,
            shutdown_on_exit=False,
            log_record_limits=_log_limits(settings),
            **sdk_meter,
        )
        _logs.set_logger_provider(provider)
        pipeline.owned.add("logs")
        _OUR_PROVIDERS.add(provider)
    for log_processor in log_processors:
        provider.add_log_record_processor(log_processor)
    pipeline.logger_provider = provider
    return adopted


def _attach(settings: Settings, pipeline: _Pipeline) -> None:
    """What hangs on the providers: the logging bridge, system metrics, the filter of the
    SDK's repeated export warnings."""
    if settings.logs:
        from ..logs import bridge_handler

        pipeline.log_handler = bridge_handler(pipeline.logger_provider, settings.log_level)
        logging.getLogger().addHandler(pipeline.log_handler)
    if settings.system_metrics:
        pipeline.system_metrics = _start_system_metrics(pipeline.meter_provider)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).addFilter(pipeline.noise_filter)


_OUR_PROVIDERS: weakref.WeakSet[Any] = weakref.WeakSet()
"""The global providers agentobs installed itself (and shuts down with its pipeline)."""


def release_globals(*, only_ours: bool = True) -> None:
    """Let a new pipeline install fresh global providers where the current ones are those a
    previous agentobs pipeline installed and shut down: adopting them would record into
    providers that drop everything, under the old resource.

    OpenTelemetry lets a global provider be set once per process; agentobs resets that guard
    (as OpenTelemetry's own test utilities do) for its own providers only, never for the
    application's, unless ``only_ours`` is False (:func:`agentobs.testing.reset`)."""
    from .sdk_compat import current_global_providers, unset_global_providers

    tracer, meter, logger = current_global_providers()
    unset_global_providers(
        not only_ours or tracer in _OUR_PROVIDERS,
        not only_ours or meter in _OUR_PROVIDERS,
        not only_ours or logger in _OUR_PROVIDERS,
    )


_PROCESS_METRICS: dict[str, list[str] | None] = {
    "process.cpu.time": ["user", "system"],
    "process.cpu.utilization": None,
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
}


def _check_system_metrics() -> None:
    try:
        import opentelemetry.instrumentation.system_metrics  # noqa: F401
    except ImportError:
        raise ValueError(
            "agentobs.configure(system_metrics=True) needs the OpenTelemetry system-metrics "
            "instrumentation: pip install 'agentobs[system]'"
        ) from None


def _start_system_metrics(meter_provider: Any) -> Any:
    from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

    instrumentor = SystemMetricsInstrumentor(config=_PROCESS_METRICS)
    instrumentor.instrument(meter_provider=meter_provider)
    return instrumentor


def _bounded(action: Callable[[], Any], timeout: float, what: str) -> bool:
    """Run ``action`` in a daemon thread; give up waiting after ``timeout`` seconds."""
    outcome: list[bool] = []

    def run() -> None:
        try:
            outcome.append(action() is not False)
        except Exception as exc:
            logger.warning("agentobs: %s failed: %s: %s", what, type(exc).__name__, exc)
            outcome.append(False)

    worker = threading.Thread(target=run, name=f"agentobs-{what}", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if worker.is_alive():
        logger.warning(
            "agentobs: %s did not finish within %.1f s; the backend may be down", what, timeout
        )
        return False
    return bool(outcome and outcome[0])


def _seconds(timeout: Any, what: str) -> float:
    """``timeout`` as seconds; anything else than a number >= 0 (None included) is one
    warning and the default, so a bad timeout never stops a flush or loses data."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0:
        return float(min(timeout, 86_400.0))  # inf: a day is plenty for threads to join
    warn_once(
        f"timeout:{what}:{type(timeout).__name__}",
        "agentobs: %s(timeout=%r): expected seconds >= 0; using %s",
        what,
        timeout,
        _DEFAULT_TIMEOUT,
    )
    return _DEFAULT_TIMEOUT


def force_flush(timeout: float | None = _DEFAULT_TIMEOUT) -> bool:
    """Export everything recorded so far; return within ``timeout`` seconds (anything but a
    number >= 0, None included: one warning and the default, 5 s), even if the backend is
    down. True if every part flushed (which does not prove the backend kept it). Never
    raises."""
    pipeline = _PIPELINE
    if pipeline is None:
        return True
    seconds = _settle_pending_costs(_seconds(timeout, "force_flush"), "force_flush")
    return _bounded(lambda: pipeline.force_flush(seconds), seconds, "force_flush")


def _settle_pending_costs(seconds: float, what: str) -> float:
    """Wait, at most half of ``seconds``, for the price table, so that the cost of the LLM
    calls that ended before it loaded is recorded (in the metrics and the budgets) before a
    flush or shutdown; return the seconds left. Not settled by then: one warning."""
    cost = sys.modules.get("agentobs._llm.cost")  # not imported: no LLM call has priced
    pending = 0 if cost is None else cost.pending_count()
    if cost is None or not pending:
        return seconds
    start = time.monotonic()
    if not cost.wait_ready(seconds / 2):
        warn_once(
            f"prices-pending:{what}",
            "agentobs: %s: the price table had not loaded within %.1f s; the cost of %d LLM "
            "calls that ended before it is missing from what was flushed",
            what,
            seconds / 2,
            pending,
        )
    return max(seconds - (time.monotonic() - start), 0.0)


def shutdown(timeout: float | None = _DEFAULT_TIMEOUT) -> bool:
    """Flush and stop the pipeline within ``timeout`` seconds (None: a warning, 5 s);
    instrumentation becomes a no-op. Logs one line with the exact figures of what was
    exported, dropped and failed, also when the timeout passes. Never raises.

    Also runs at interpreter exit and on SIGTERM. Safe to call more than once.
    """
    global _PIPELINE
    seconds = _seconds(timeout, "shutdown")
    if _PIPELINE is not None:  # costs still pending are recorded while there is a pipeline
        seconds = _settle_pending_costs(seconds, "shutdown")
    with _LOCK:
        pipeline = _PIPELINE
        _PIPELINE = None
        if pipeline is not None:
            from .. import _hooks

            _hooks.set_first_persona(None)
        STATE.active = False
        STATE.tracer = None
        STATE.meter = None
        STATE.recorders = None
        STATE.settings = None
        if pipeline is not None:
            _SHUTTING_DOWN.clear()
    if pipeline is None:
        # Another shutdown may be under way (a worker's exit finalizer, then SIGTERM): let it
        # finish, within this call's timeout, before the caller goes on (or the process dies).
        _SHUTTING_DOWN.wait(seconds)
        return True

    def close() -> bool:
        try:
            pipeline.shutdown(seconds)
            pipeline.report(timed_out=False)
        finally:
            _SHUTTING_DOWN.set()
        return True

    # In threads: this may run in a signal handler that interrupted code holding one of
    # the (non-reentrant) locks the pipeline and the counts use.
    ok = _bounded(close, seconds, "shutdown")
    if not ok:
        _bounded(lambda: pipeline.report(timed_out=True), 0.25, "shutdown report")
    return ok


_SHUTTING_DOWN = threading.Event()
_SHUTTING_DOWN.set()  # set: no shutdown under way


@contextlib.contextmanager
def set_aside() -> Iterator[None]:
    """Put the running pipeline aside for the block, still running (nothing is flushed or shut
    down), and put it back afterwards, with the state and global providers it had; whatever
    the block configured is shut down then. The pytest plugin's ``agentobs_capture`` fixture
    records one test into memory this way without ending the session's telemetry."""
    global _PIPELINE
    from opentelemetry import _logs, metrics, trace

    from .. import _hooks

    with _LOCK:
        saved = _PIPELINE
        state = (STATE.active, STATE.tracer, STATE.meter, STATE.settings, STATE.recorders)
        providers = (
            trace.get_tracer_provider(),
            metrics.get_meter_provider(),
            _logs.get_logger_provider(),
        )
        _PIPELINE = None
    try:
        yield
    finally:
        shutdown(5.0)
        release_globals(only_ours=False)
        with _LOCK:
            _PIPELINE = saved
            STATE.active, STATE.tracer, STATE.meter, STATE.settings, STATE.recorders = state
            if saved is not None:
                _hooks.set_first_persona(stamp_context)
            tracer_provider, meter_provider, logger_provider = providers
            if hasattr(tracer_provider, "add_span_processor"):  # an SDK one, not the proxy
                trace.set_tracer_provider(tracer_provider)
            if type(meter_provider).__module__.startswith("opentelemetry.sdk"):
                metrics.set_meter_provider(meter_provider)
            if type(logger_provider).__module__.startswith("opentelemetry.sdk"):
                _logs.set_logger_provider(logger_provider)


def current() -> _Pipeline | None:
    """The running pipeline, if any (for the CLI's doctor and for tests)."""
    return _PIPELINE


_hooks_installed = False


def _renew_locks_in_child() -> None:
    pipeline = _PIPELINE
    if pipeline is not None and pipeline.meter_provider is not None:
        from .forking import renew_locks

        renew_locks(pipeline.meter_provider)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks_in_child)


def _flush_at_worker_exit(pipeline: _Pipeline) -> None:
    """multiprocessing ends its workers (``Process``, every ``Pool`` worker) through
    ``os._exit``: no atexit handler runs there. Its own exit finalizers do: in each worker
    forked from this process, and in a worker that configures agentobs itself (spawn,
    forkserver), one shuts the pipeline down (flushing it) when the worker ends."""
    import multiprocessing
    import multiprocessing.util

    multiprocessing.util.register_after_fork(pipeline, _shutdown_when_worker_ends)
    if multiprocessing.parent_process() is not None:
        _shutdown_when_worker_ends(pipeline)


def _shutdown_when_worker_ends(pipeline: _Pipeline) -> None:
    import multiprocessing.util

    # multiprocessing ends a worker with SIGTERM when it terminates a Pool or a Process:
    # that must stay immediate (its workers may be waiting on a lock the parent holds then).
    with contextlib.suppress(ValueError, OSError):
        if getattr(signal.getsignal(signal.SIGTERM), "__name__", "") == "on_sigterm":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def finish() -> None:
        if _PIPELINE is pipeline:
            shutdown()

    multiprocessing.util.Finalize(None, finish, exitpriority=100)


def _flush_in_background() -> None:
    """Start a flush and return at once (the SIGTERM handler never waits on a backend)."""
    threading.Thread(target=force_flush, name="agentobs-sigterm-flush", daemon=True).start()


def _install_exit_hooks() -> None:
    """Shut down at exit and on SIGTERM, chaining to (never replacing) the app's handler.

    On SIGTERM the application's own handler runs first and at once; agentobs then starts a
    flush in the background and shuts down at exit, so what the application records while
    it winds down still leaves. With no handler of the application's, agentobs flushes
    (bounded by the shutdown timeout), then SIGTERM's default action ends the process."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(shutdown)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)
            _flush_in_background()
            return
        shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    with contextlib.suppress(ValueError):  # not the main thread of the main interpreter
        signal.signal(signal.SIGTERM, on_sigterm)
