"""docs/metrics.md, generated from the catalogue:
``python -m agentobs.cli._metricsdoc > docs/metrics.md`` (a test fails when it is stale)."""

from __future__ import annotations

from .. import _names as n
from .._catalogue import CATALOGUE, VALUE_LIMIT
from .._prometheus import prometheus_name


def render_markdown() -> str:
    """docs/metrics.md, generated from the catalogue."""
    lines = [
        "# Metrics",
        "",
        "Generated from `src/agentobs/_catalogue.py` by `python -m agentobs.cli._metricsdoc`;",
        "a test fails when this file is stale. Prometheus names are those the `/metrics`",
        "endpoint (`configure(prometheus_port=...)`) exposes; histograms add `_bucket`,",
        '`_sum` and `_count`. Every series also carries `otel_scope_name="agentobs"`.',
        "",
        "| OpenTelemetry name | Prometheus name | Kind | Unit | Attributes | Description |",
        "|---|---|---|---|---|---|",
    ]
    for i in CATALOGUE:
        attributes = ", ".join(f"`{a}`" for a in i.attributes)
        lines.append(
            f"| `{i.name}` | `{prometheus_name(i)}` | {i.kind} | `{i.unit}` | {attributes} "
            f"| {i.description} |"
        )
    lines += ["", "## Histogram buckets", ""]
    for i in CATALOGUE:
        if i.buckets:
            lines.append(f"- `{i.name}`: {', '.join(f'{b:g}' for b in i.buckets)}")
    lines += [
        "",
        f"Attribute values are bounded: after {VALUE_LIMIT} distinct values of one attribute",
        f"of one metric, further values are recorded as `{n.OVERFLOW_VALUE}` (one warning).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
