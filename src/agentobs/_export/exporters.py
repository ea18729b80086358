"""Exporters for each signal, built from :class:`~agentobs._settings.Settings`.

Only :func:`agentobs.configure` imports this module: the hot path never sees an exporter.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from .._errors import warn_once
from .._settings import OtlpTarget, Settings
from .localfiles import LocalLogExporter, LocalMetricExporter, LocalSpanExporter
from .selfmetrics import CountedLogExporter, CountedMetricExporter, CountedSpanExporter, Counts


class _HeaderValuesHidden(logging.Filter):
    """The OTLP exporters parse ``OTEL_EXPORTER_OTLP_*HEADERS`` themselves and log each
    malformed entry whole, credentials included: keep the warning, hide the entry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Header format invalid") and record.args:
            record.args = ("<hidden: it may hold credentials>",)
        return True


_HEADER_LOGGER = logging.getLogger("opentelemetry.util.re")  # parse_env_headers
if not any(isinstance(f, _HeaderValuesHidden) for f in _HEADER_LOGGER.filters):
    _HEADER_LOGGER.addFilter(_HeaderValuesHidden())

_OTLP_CLASSES = {
    ("traces", "grpc"): (
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        "OTLPSpanExporter",
    ),
    ("metrics", "grpc"): (
        "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
        "OTLPMetricExporter",
    ),
    ("logs", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    ("traces", "http/protobuf"): (  # the SDK's, with an encoder 5-10 times faster
        "agentobs._export.otlpproto",
        "FastOTLPSpanExporter",
    ),
    ("metrics", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "OTLPMetricExporter",
    ),
    ("logs", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http._log_exporter",
        "OTLPLogExporter",
    ),
}


def _otlp(signal: str, target: OtlpTarget) -> Any:
    import importlib

    module_name, class_name = _OTLP_CLASSES[(signal, target.protocol)]
    cls = getattr(importlib.import_module(module_name), class_name)
    kwargs: dict[str, Any] = {
        "endpoint": target.endpoint,
        "headers": dict(target.headers),
        "timeout": target.timeout,
    }
    if target.protocol == "grpc":
        import grpc

        kwargs["insecure"] = target.insecure
        if target.compression == "gzip":
            kwargs["compression"] = grpc.Compression.Gzip
        if target.certificate and not target.insecure:
            try:
                with open(target.certificate, "rb") as cert:
                    kwargs["credentials"] = grpc.ssl_channel_credentials(cert.read())
            except OSError as exc:  # checked at configure(); gone since
                warn_once(
                    f"certificate:{target.certificate}",
                    "agentobs: cannot read the certificate %s (%s); the system's CA "
                    "certificates are used",
                    target.certificate,
                    exc.strerror or exc,
                )
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression

        kwargs["compression"] = Compression(target.compression)
        if target.certificate:
            kwargs["certificate_file"] = target.certificate
    return cls(**kwargs)


_CONSOLE: dict[str, Any] = {
    "traces": ConsoleSpanExporter,
    "metrics": ConsoleMetricExporter,
    "logs": ConsoleLogRecordExporter,
}
_LOCAL: dict[str, Any] = {
    "traces": LocalSpanExporter,
    "metrics": LocalMetricExporter,
    "logs": LocalLogExporter,
}
_COUNTED: dict[str, Any] = {
    "traces": CountedSpanExporter,
    "metrics": CountedMetricExporter,
    "logs": CountedLogExporter,
}
_KIND = {"traces": "span", "metrics": "metric", "logs": "log"}


def build(settings: Settings, signal: str, counts: Counts | None = None) -> list[Any]:
    """The exporters the settings ask for ``signal`` (``traces``, ``metrics`` or ``logs``;
    Prometheus is a pull reader, built by the pipeline), each counted into ``counts``
    (self-telemetry). An OTLP exporter is rebuilt in a forked child, so no connection is
    shared with the parent."""
    counts = counts if counts is not None else Counts()
    counted, kind = _COUNTED[signal], _KIND[signal]
    built: list[Any] = []
    for name in settings.exporters[signal]:
        key = f"{signal}/{name}"  # where /health reads its outcomes
        if name == "otlp":
            target = settings.otlp[signal]
            protocol = "grpc" if target.protocol == "grpc" else "http"

            def rebuild(signal: str = signal, target: OtlpTarget = target) -> Any:
                return _otlp(signal, target)

            component = f"otlp_{protocol}_{kind}_exporter"
            built.append(counted(rebuild(), counts, component, rebuild, key))
        elif name == "console":
            built.append(counted(_CONSOLE[signal](), counts, f"console_{kind}_exporter", None, key))
        elif name == "local":
            local = _LOCAL[signal](settings.local_dir, settings.local_max_bytes)
            built.append(counted(local, counts, f"local_{kind}_exporter", None, key))
    return built


def prometheus_reader(registry: Any) -> Any:
    """The pull reader behind ``/metrics``, rendering each series once per scrape
    (:func:`~agentobs._export.sdk_compat.latest_prometheus_reader`)."""
    from .sdk_compat import latest_prometheus_reader

    return latest_prometheus_reader(registry)
