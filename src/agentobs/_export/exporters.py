"""Exporters for each signal, built from :class:`~agentobs._settings.Settings`.

Only :func:`agentobs.configure` imports this module: the hot path never sees an exporter.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from .._settings import OtlpTarget, Settings
from .localfiles import LocalLogExporter, LocalMetricExporter, LocalSpanExporter
from .status import track

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
    ("traces", "http/protobuf"): (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "OTLPSpanExporter",
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
            with open(target.certificate, "rb") as cert:
                kwargs["credentials"] = grpc.ssl_channel_credentials(cert.read())
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression

        kwargs["compression"] = Compression(target.compression)
        if target.certificate:
            kwargs["certificate_file"] = target.certificate
    return cls(**kwargs)


def span_exporters(settings: Settings) -> list[SpanExporter]:
    """The span exporters the settings ask for."""
    built: list[SpanExporter] = []
    for name in settings.exporters["traces"]:
        if name == "otlp":
            built.append(track("traces", name, _otlp("traces", settings.otlp["traces"])))
        elif name == "console":
            built.append(track("traces", name, ConsoleSpanExporter()))
        elif name == "local":
            built.append(
                track(
                    "traces", name, LocalSpanExporter(settings.local_dir, settings.local_max_bytes)
                )
            )
    return built


def metric_exporters(settings: Settings) -> list[MetricExporter]:
    """The push metric exporters the settings ask for (Prometheus is a pull reader)."""
    built: list[MetricExporter] = []
    for name in settings.exporters["metrics"]:
        if name == "otlp":
            built.append(track("metrics", name, _otlp("metrics", settings.otlp["metrics"])))
        elif name == "console":
            built.append(track("metrics", name, ConsoleMetricExporter()))
        elif name == "local":
            built.append(
                track(
                    "metrics",
                    name,
                    LocalMetricExporter(settings.local_dir, settings.local_max_bytes),
                )
            )
    return built


def log_exporters(settings: Settings) -> list[LogRecordExporter]:
    """The log record exporters the settings ask for."""
    built: list[LogRecordExporter] = []
    for name in settings.exporters["logs"]:
        if name == "otlp":
            built.append(track("logs", name, _otlp("logs", settings.otlp["logs"])))
        elif name == "console":
            built.append(track("logs", name, ConsoleLogRecordExporter()))
        elif name == "local":
            built.append(
                track("logs", name, LocalLogExporter(settings.local_dir, settings.local_max_bytes))
            )
    return built
