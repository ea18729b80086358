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
from .selfmetrics import CountedLogExporter, CountedMetricExporter, CountedSpanExporter, Counts

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


_KIND = {"traces": "span", "metrics": "metric", "logs": "log"}


def _local(signal: str, settings: Settings) -> Any:
    cls = {"traces": LocalSpanExporter, "metrics": LocalMetricExporter, "logs": LocalLogExporter}
    return cls[signal](settings.local_dir, settings.local_max_bytes)


def _console(signal: str) -> Any:
    cls = {
        "traces": ConsoleSpanExporter,
        "metrics": ConsoleMetricExporter,
        "logs": ConsoleLogRecordExporter,
    }
    return cls[signal]()


def _built(signal: str, settings: Settings, counts: Counts) -> list[Any]:
    """The exporters of ``signal`` the settings ask for, each counted (self-telemetry); an
    OTLP exporter is rebuilt in a forked child, so no connection is shared with the parent."""
    counted = {
        "traces": CountedSpanExporter,
        "metrics": CountedMetricExporter,
        "logs": CountedLogExporter,
    }[signal]
    kind = _KIND[signal]
    built: list[Any] = []
    for name in settings.exporters[signal]:
        if name == "otlp":
            target = settings.otlp[signal]
            protocol = "grpc" if target.protocol == "grpc" else "http"

            def rebuild(signal: str = signal, target: OtlpTarget = target) -> Any:
                return _otlp(signal, target)

            built.append(counted(rebuild(), counts, f"otlp_{protocol}_{kind}_exporter", rebuild))
        elif name == "console":
            built.append(counted(_console(signal), counts, f"console_{kind}_exporter"))
        elif name == "local":
            built.append(counted(_local(signal, settings), counts, f"local_{kind}_exporter"))
    return built


def span_exporters(settings: Settings, counts: Counts | None = None) -> list[SpanExporter]:
    """The span exporters the settings ask for (counted into ``counts``)."""
    return _built("traces", settings, counts or Counts())


def metric_exporters(settings: Settings, counts: Counts | None = None) -> list[MetricExporter]:
    """The push metric exporters the settings ask for (Prometheus is a pull reader)."""
    return _built("metrics", settings, counts or Counts())


def log_exporters(settings: Settings, counts: Counts | None = None) -> list[LogRecordExporter]:
    """The log record exporters the settings ask for."""
    return _built("logs", settings, counts or Counts())


def prometheus_reader(registry: Any) -> Any:
    """The pull reader behind ``/metrics``, rendering each series once per scrape.

    The SDK's ``PrometheusMetricReader`` queues every collection until the next scrape and
    renders them all, so after a ``force_flush`` (agentobs's or ``MeterProvider``'s) the
    scrape lists every series twice or more. Its temporality is cumulative: the newest
    collection holds everything, and older queued ones are dropped here."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    class LatestPrometheusMetricReader(PrometheusMetricReader):
        def _receive_metrics(
            self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any
        ) -> None:
            if metrics_data is None:
                return
            queued = getattr(self._collector, "_metrics_datas", None)
            if queued is not None:
                queued.clear()
            self._collector.add_metrics_data(metrics_data)

    return LatestPrometheusMetricReader(registry=registry)
