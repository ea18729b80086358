"""The one place the dashboards and alert rules read the metric catalogue.

Everything they need (the Prometheus name of an instrument, the series a histogram or a
counter exposes, the label an attribute becomes) goes through here, so a change to how the
catalogue is laid out touches this module only.
"""

from __future__ import annotations

import re

from ... import _catalogue
from ... import _names as names
from ..._prometheus import prometheus_name

__all__ = ["BUILTIN_SERIES", "kind", "label", "labels_of", "names", "series", "series_names"]

BUILTIN_SERIES = frozenset({"up", "target_info", "push_time_seconds"})
"""Series Prometheus or the Pushgateway add themselves, which rules may name."""


def label(attribute: str) -> str:
    """The Prometheus label an attribute key becomes (``gen_ai.agent.name`` ->
    ``gen_ai_agent_name``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)


def _instrument(otel_name: str) -> _catalogue.Instrument:
    try:
        return _catalogue.BY_NAME[otel_name]
    except KeyError:
        raise KeyError(f"{otel_name!r} is not in the metric catalogue") from None


def series(otel_name: str, part: str = "") -> str:
    """The Prometheus series name of an instrument; ``part`` is ``bucket``, ``sum`` or
    ``count`` for a histogram."""
    instrument = _instrument(otel_name)
    base = prometheus_name(instrument)
    if instrument.kind == "histogram":
        if part not in ("bucket", "sum", "count"):
            raise ValueError(f"{otel_name} is a histogram: name its bucket, sum or count")
        return f"{base}_{part}"
    if part:
        raise ValueError(f"{otel_name} is a {instrument.kind}: it has no {part} series")
    return base


def kind(otel_name: str) -> str:
    """The instrument kind (counter, histogram, gauge, ...)."""
    return _instrument(otel_name).kind


def labels_of(otel_name: str) -> frozenset[str]:
    """The Prometheus labels an instrument's attributes become."""
    return frozenset(label(a) for a in _instrument(otel_name).attributes)


def series_names() -> dict[str, tuple[str, str]]:
    """Every series name the catalogue exposes -> (instrument name, kind of series:
    ``counter``, ``gauge``, ``bucket``, ``sum`` or ``count``)."""
    found: dict[str, tuple[str, str]] = {}
    for instrument in _catalogue.CATALOGUE:
        base = prometheus_name(instrument)
        if instrument.kind == "histogram":
            for part in ("bucket", "sum", "count"):
                found[f"{base}_{part}"] = (instrument.name, part)
        elif instrument.kind == "counter":
            found[base] = (instrument.name, "counter")
        else:
            found[base] = (instrument.name, "gauge")
    return found
