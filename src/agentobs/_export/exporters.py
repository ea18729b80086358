"""Exporters for each signal, built from :class:`~agentobs._settings.Settings`.

Only :func:`agentobs.configure` imports this module: the hot path never sees an exporter.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

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


def build(settings: Settings, signal: str) -> list[Any]:
    """The exporters the settings ask for ``signal`` (``traces``, ``metrics`` or ``logs``;
    Prometheus is a pull reader, built by the pipeline)."""
    built: list[Any] = []
    for name in settings.exporters[signal]:
        if name == "otlp":
            built.append(track(signal, name, _otlp(signal, settings.otlp[signal])))
        elif name == "console":
            built.append(track(signal, name, _CONSOLE[signal]()))
        elif name == "local":
            exporter = _LOCAL[signal](settings.local_dir, settings.local_max_bytes)
            built.append(track(signal, name, exporter))
    return built
