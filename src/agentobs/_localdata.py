"""Read the OTLP JSON Lines files that agentobs writes when no endpoint is configured.

Each line of ``traces*.jsonl``, ``metrics*.jsonl`` and ``logs*.jsonl`` is one OTLP JSON
export request (the encoding of the OpenTelemetry file exporter spec). Rotated files are
``traces.1.jsonl`` (newest rotated), ``traces.2.jsonl``, ...; they are read oldest first.
Lines that are not valid OTLP JSON (a partially written last line, garbage) are counted
and skipped, never fatal.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._export.localfiles import FILE_NAMES, rotated_files

_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(slots=True)
class EventData:
    """One span event."""

    name: str
    time_ns: int
    attributes: dict[str, object]


@dataclass(slots=True)
class SpanData:
    """One finished span, flattened from ``resourceSpans/scopeSpans/spans``."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, object]
    events: list[EventData]
    status_code: int
    status_message: str
    service: str

    @property
    def duration_s(self) -> float:
        """Duration in seconds (0 when the end precedes the start)."""
        return max(0, self.end_ns - self.start_ns) / 1e9

    @property
    def is_error(self) -> bool:
        """True when the span status is ERROR."""
        return self.status_code == 2


@dataclass(slots=True)
class MetricPoint:
    """One data point of one metric in one export request."""

    name: str
    unit: str
    kind: str  # counter | updowncounter | gauge | histogram
    temporality: int  # 1 delta, 2 cumulative, 0 unspecified
    attributes: dict[str, object]
    stream: str  # identifies the producing process (resource and scope)
    start_ns: int  # start of a cumulative series; a new process starts a new one
    time_ns: int
    value: float  # sum/gauge value, or the histogram sum
    count: int  # histogram count, 0 for other kinds
    service: str = ""  # service.name of the producing process


@dataclass(slots=True)
class LogData:
    """One log record."""

    time_ns: int
    severity_number: int
    severity_text: str
    body: str
    logger: str
    trace_id: str
    attributes: dict[str, object]
    service: str = ""  # service.name of the producing process


@dataclass
class LocalData:
    """Everything read from one directory, plus how much of it could not be read."""

    directory: Path
    files: list[Path] = field(default_factory=list)
    spans: list[SpanData] = field(default_factory=list)
    points: list[MetricPoint] = field(default_factory=list)
    logs: list[LogData] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0

    @property
    def is_empty(self) -> bool:
        """True when no span, metric point or log record was found."""
        return not (self.spans or self.points or self.logs)


def read_directory(directory: str | Path) -> LocalData:
    """Read every signal file in ``directory``; a missing directory gives empty data.

    A line is parsed by what it holds (``resourceSpans``, ``resourceMetrics`` or
    ``resourceLogs``), whichever file it is in."""
    data = LocalData(directory=Path(directory))
    if not data.directory.is_dir():
        return data
    for signal in FILE_NAMES:
        for path in rotated_files(data.directory, signal):
            data.files.append(path)
            for request in _requests(path, data):
                parsed = [parse(request, data) for parse in _PARSERS]
                if not any(parsed):
                    data.lines_skipped += 1
    return data


def read_otlp_json(path: str | Path) -> LocalData:
    """Read agentobs's local files and any other OTLP JSON under ``path``: a directory (its
    ``*.json`` and ``*.jsonl`` files, such as the Collector's file exporter writes, besides
    the local default's) or one file. A ``.json`` file may hold one request or one per line."""
    root = Path(path)
    if root.is_file():
        data = LocalData(directory=root.parent)
        _read_file(root, data)
        return data
    data = read_directory(root)
    if not root.is_dir():
        return data
    known = {p.resolve() for p in data.files}
    for candidate in sorted(root.iterdir()):
        wanted = candidate.suffix in (".json", ".jsonl") and candidate.is_file()
        if wanted and candidate.resolve() not in known:
            _read_file(candidate, data)
    return data


def _read_file(path: Path, data: LocalData) -> None:
    data.files.append(path)
    requests: Iterator[dict[str, object]] | list[dict[str, object]] = _requests(path, data)
    if path.suffix == ".json":
        try:
            whole = json.loads(path.read_bytes())
        except (OSError, ValueError):
            whole = None
        if isinstance(whole, dict):
            data.lines_read += 1
            requests = [whole]
    for request in requests:
        parsed = [parse(request, data) for parse in _PARSERS]  # each takes its own part
        if not any(parsed):
            data.lines_skipped += 1


def _requests(path: Path, data: LocalData) -> Iterator[dict[str, object]]:
    """Yield each line of ``path`` that decodes to a JSON object; count the others."""
    try:
        handle = path.open("rb")
    except OSError:
        return
    with handle:
        for raw in handle:
            if not raw.strip():
                continue
            data.lines_read += 1
            try:
                decoded = json.loads(raw)
            except ValueError:  # partial line, garbage, bad UTF-8
                data.lines_skipped += 1
                continue
            if isinstance(decoded, dict):
                yield decoded
            else:
                data.lines_skipped += 1


# -- generic JSON helpers ------------------------------------------------------------------


def _dicts(value: object) -> list[dict[str, object]]:
    """The dict items of a JSON list (anything else gives an empty list)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _int(value: object) -> int:
    """An OTLP int64 (a JSON string or number); 0 when absent or malformed."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (str, float)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return 0
    return 0


def _float(value: object) -> float | None:
    """An OTLP double (a JSON number, or a string such as ``"NaN"``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _hex_id(value: object) -> str:
    """A trace or span id as lower-case hex; OTLP JSON uses hex, protobuf JSON base64."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) in (16, 32) and _HEX.match(value):
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def any_value(value: object) -> object:
    """Decode an OTLP ``AnyValue`` into a Python value."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return _str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value:
        return _float(value["doubleValue"])
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values") if isinstance(array, dict) else None
        return [any_value(item) for item in _dicts(items)]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"]
        return attributes(kvlist.get("values") if isinstance(kvlist, dict) else None)
    if "bytesValue" in value:
        return _str(value["bytesValue"])
    return None


def attributes(value: object) -> dict[str, object]:
    """Decode an OTLP ``KeyValue`` list into a dict."""
    result: dict[str, object] = {}
    for item in _dicts(value):
        key = item.get("key")
        if isinstance(key, str):
            result[key] = any_value(item.get("value"))
    return result


def _resource(block: dict[str, object]) -> dict[str, object]:
    resource = block.get("resource")
    return attributes(resource.get("attributes")) if isinstance(resource, dict) else {}


def _scope_name(block: dict[str, object]) -> str:
    scope = block.get("scope")
    return _str(scope.get("name")) if isinstance(scope, dict) else ""


# -- traces ---------------------------------------------------------------------------------


def _parse_traces(request: dict[str, object], data: LocalData) -> bool:
    if "resourceSpans" not in request:
        return False
    for resource_block in _dicts(request.get("resourceSpans")):
        service = _str(_resource(resource_block).get("service.name"))
        for scope_block in _dicts(resource_block.get("scopeSpans")):
            for span in _dicts(scope_block.get("spans")):
                data.spans.append(_span(span, service))
    return True


def _span(span: dict[str, object], service: str) -> SpanData:
    status = span.get("status")
    status = status if isinstance(status, dict) else {}
    events = [
        EventData(
            name=_str(event.get("name")),
            time_ns=_int(event.get("timeUnixNano")),
            attributes=attributes(event.get("attributes")),
        )
        for event in _dicts(span.get("events"))
    ]
    return SpanData(
        trace_id=_hex_id(span.get("traceId")),
        span_id=_hex_id(span.get("spanId")),
        parent_id=_hex_id(span.get("parentSpanId")),
        name=_str(span.get("name")),
        start_ns=_int(span.get("startTimeUnixNano")),
        end_ns=_int(span.get("endTimeUnixNano")),
        attributes=attributes(span.get("attributes")),
        events=events,
        status_code=_status_code(status.get("code")),
        status_message=_str(status.get("message")),
        service=service,
    )


def _status_code(value: object) -> int:
    names = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
    if isinstance(value, str) and value in names:
        return names[value]
    return _int(value)


# -- metrics --------------------------------------------------------------------------------


def _parse_metrics(request: dict[str, object], data: LocalData) -> bool:
    if "resourceMetrics" not in request:
        return False
    for resource_block in _dicts(request.get("resourceMetrics")):
        resource = _resource(resource_block)
        resource_key = json.dumps(resource, sort_keys=True, default=str)
        service = _str(resource.get("service.name"))
        for scope_block in _dicts(resource_block.get("scopeMetrics")):
            stream = f"{resource_key}|{_scope_name(scope_block)}"
            for metric in _dicts(scope_block.get("metrics")):
                data.points.extend(_metric_points(metric, stream, service))
    return True


def _metric_points(metric: dict[str, object], stream: str, service: str) -> Iterator[MetricPoint]:
    name, unit = _str(metric.get("name")), _str(metric.get("unit"))
    for key in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
        body = metric.get(key)
        if not isinstance(body, dict):
            continue
        kind = _metric_kind(key, body)
        temporality = _int(body.get("aggregationTemporality"))
        for point in _dicts(body.get("dataPoints")):
            if kind == "histogram":
                value = _float(point.get("sum")) or 0.0
                count = _int(point.get("count"))
            else:
                value = _number(point)
                count = 0
            if not math.isfinite(value):
                continue
            yield MetricPoint(
                name=name,
                unit=unit,
                kind=kind,
                temporality=temporality,
                attributes=attributes(point.get("attributes")),
                stream=stream,
                start_ns=_int(point.get("startTimeUnixNano")),
                time_ns=_int(point.get("timeUnixNano")),
                value=value,
                count=count,
                service=service,
            )


def _metric_kind(key: str, body: dict[str, object]) -> str:
    if key == "sum":
        return "counter" if body.get("isMonotonic") is True else "updowncounter"
    return "gauge" if key == "gauge" else "histogram"


def _number(point: dict[str, object]) -> float:
    if "asInt" in point:
        return float(_int(point["asInt"]))
    value = _float(point.get("asDouble"))
    return math.nan if value is None else value


# -- logs -----------------------------------------------------------------------------------


def _parse_logs(request: dict[str, object], data: LocalData) -> bool:
    if "resourceLogs" not in request:
        return False
    for resource_block in _dicts(request.get("resourceLogs")):
        service = _str(_resource(resource_block).get("service.name"))
        for scope_block in _dicts(resource_block.get("scopeLogs")):
            logger = _scope_name(scope_block)
            for record in _dicts(scope_block.get("logRecords")):
                body = any_value(record.get("body"))
                text = body if isinstance(body, str) else json.dumps(body, default=str)
                data.logs.append(
                    LogData(
                        time_ns=_int(record.get("timeUnixNano"))
                        or _int(record.get("observedTimeUnixNano")),
                        severity_number=_int(record.get("severityNumber")),
                        severity_text=_str(record.get("severityText")),
                        body="" if body is None else text,
                        logger=logger,
                        trace_id=_hex_id(record.get("traceId")),
                        attributes=attributes(record.get("attributes")),
                        service=service,
                    )
                )
    return True


_PARSERS = (_parse_traces, _parse_metrics, _parse_logs)
