"""Prometheus names of the catalogue's instruments, as opentelemetry-exporter-prometheus
exposes them (for the docs, the pytest plugin's Pushgateway push, dashboards and alerts)."""

from __future__ import annotations

import re

from ._catalogue import Instrument

_UNITS = {
    "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
    "min": "minutes", "h": "hours", "d": "days", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "%": "percent", "1": "",
}  # fmt: skip


def prometheus_name(instrument: Instrument) -> str:
    """The name the Prometheus scrape endpoint exposes for ``instrument`` (``_bucket``,
    ``_sum`` and ``_count`` are added to histograms)."""
    return metric_name(instrument.name, instrument.unit, instrument.kind)


def metric_name(name: str, unit: str, kind: str) -> str:
    """Translate an OpenTelemetry metric name and unit to its Prometheus name."""
    base = re.sub(r"[^a-zA-Z0-9:]+", "_", name)
    unit = re.sub(r"\{[^}]*\}", "", unit)
    suffix = _UNITS.get(unit, re.sub(r"[^a-zA-Z0-9]+", "_", unit))
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if kind == "counter" and not base.endswith("_total"):
        base = f"{base}_total"
    return base
