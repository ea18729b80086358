"""Log and metric sections of the report."""

from __future__ import annotations

from collections import Counter, defaultdict

from .._localdata import LogData, MetricPoint
from .._spanindex import iso_time
from ._model import LogEntry, LogSummary, MetricRow

MAX_LOG_PROBLEMS = 8
MAX_METRIC_ROWS = 300
MAX_SERIES_PER_METRIC = 25
_SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def severity_name(record: LogData) -> str:
    """TRACE, DEBUG, INFO, WARN, ERROR or FATAL from the severity number (or text)."""
    if 1 <= record.severity_number <= 24:
        return _SEVERITIES[(record.severity_number - 1) // 4]
    text = record.severity_text.upper()
    return {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(text, text) or "UNSPECIFIED"


def summarize_logs(records: list[LogData]) -> LogSummary | None:
    if not records:
        return None
    ordered = sorted(records, key=lambda r: r.time_ns)
    severities = Counter(severity_name(r) for r in ordered)
    known = [s for s in _SEVERITIES if severities[s]]
    by_severity = {s: severities[s] for s in known}
    by_severity.update({s: n for s, n in sorted(severities.items()) if s not in by_severity})
    problems = [r for r in ordered if severity_name(r) in ("WARN", "ERROR", "FATAL")]
    return LogSummary(
        total=len(ordered),
        by_severity=by_severity,
        recent_problems=[
            LogEntry(
                time=iso_time(r.time_ns) if r.time_ns else "",
                severity=severity_name(r),
                logger=r.logger,
                body=r.body[:500],
                trace_id=r.trace_id,
            )
            for r in problems[-MAX_LOG_PROBLEMS:]
        ],
    )


def attributes_text(attrs: dict[str, object]) -> str:
    """Attributes as ``k=v, k=v`` sorted by key."""
    return ", ".join(f"{key}={attrs[key]}" for key in sorted(attrs))


def labels(point: MetricPoint) -> dict[str, str]:
    """The point's attributes as text, sorted by key."""
    return {key: str(point.attributes[key]) for key in sorted(point.attributes)}


def summarize_metrics(points: list[MetricPoint]) -> tuple[list[MetricRow], int]:
    """Final value per series: the last cumulative point of every producing process,
    summed across processes for counters and histograms, the latest for gauges."""
    latest: dict[tuple[str, int, str, str], MetricPoint] = {}
    series: dict[tuple[str, str], MetricRow] = {}
    seen_at: dict[tuple[str, str], int] = {}
    for point in points:
        attrs = attributes_text(point.attributes)
        if point.temporality == 1 and point.kind != "gauge":
            row = series.setdefault(
                (point.name, attrs),
                MetricRow(point.name, point.kind, point.unit, attrs, 0.0, 0, labels(point)),
            )
            row.value += point.value
            row.count += point.count
            continue
        key = (point.stream, point.start_ns, point.name, attrs)
        previous = latest.get(key)
        if previous is None or point.time_ns >= previous.time_ns:
            latest[key] = point
    for (_, _, name, attrs), point in latest.items():
        existing = series.get((name, attrs))
        if existing is None:
            series[(name, attrs)] = MetricRow(
                name, point.kind, point.unit, attrs, point.value, point.count, labels(point)
            )
            seen_at[(name, attrs)] = point.time_ns
            continue
        row = existing
        if point.kind in ("gauge", "updowncounter"):
            if point.time_ns >= seen_at.get((name, attrs), 0):
                row.value, seen_at[(name, attrs)] = point.value, point.time_ns
        else:
            row.value += point.value
            row.count += point.count
    by_name: dict[str, list[MetricRow]] = defaultdict(list)
    for row in series.values():
        by_name[row.name].append(row)
    rows: list[MetricRow] = []
    for name in sorted(by_name):
        group = sorted(by_name[name], key=lambda r: (-(r.count or r.value), r.attributes))
        rows.extend(group[:MAX_SERIES_PER_METRIC])
    shown = rows[:MAX_METRIC_ROWS]
    return shown, len(series) - len(shown)
