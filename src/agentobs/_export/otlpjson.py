"""OTLP JSON for the local files: SDK spans, metrics and log records to export requests.

The documents are exactly those of ``opentelemetry.exporter.otlp.json.common``
(``encode_spans(...).to_dict()`` and its metric and log siblings; ``tests/test_otlpjson.py``
compares the two), built without the generated message classes. The rules of the OTLP JSON
mapping they follow: fields at their default value are left out, ids are lowercase hex,
64-bit integers are strings, enums are numbers, NaN and infinities are the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.

The local files want text: :func:`spans_json`, :func:`metrics_json` and :func:`logs_json`
give the line ``json.dumps(document, separators=(",", ":"))`` would give, key order included.
Spans, one per test in a pytest run, are written straight to text: building a dict per
attribute and dumping a whole batch at once is three times slower, and a batch of 512 spans
in dicts (about 10,000 containers alive at once) gets promoted through the garbage
collector's generations, which then runs extra full collections of the whole process. Log
records are dumped as dicts a few at a time for the same reason. ``encode_*`` give the
documents as dicts.

Resources and instrumentation scopes are encoded once and the encoding reused (they are
immutable, and a process has few of them), so documents may share those sub-dicts: treat a
returned document as read-only.

Spans and log records are grouped by resource and then by scope, in order of first
appearance, resources and scopes being the same group when they are equal (as the OTel
encoders group them, by dict key).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from .._errors import logger, warn_once
from .sdk_compat import attribute_items, may_have, span_attributes

if TYPE_CHECKING:  # the logs SDK is imported only by a pipeline that exports logs
    from opentelemetry.sdk._logs import ReadableLogRecord

_Json = dict[str, Any]

_HAS_IS_REMOTE = 0x100  # SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_LOCAL_FLAGS = _HAS_IS_REMOTE
_REMOTE_FLAGS = _HAS_IS_REMOTE | _IS_REMOTE
_KIND_JSON = {
    SpanKind.INTERNAL: ',"kind":1',
    SpanKind.SERVER: ',"kind":2',
    SpanKind.CLIENT: ',"kind":3',
    SpanKind.PRODUCER: ',"kind":4',
    SpanKind.CONSUMER: ',"kind":5',
}
_CACHE_LIMIT = 256
_CHUNK = 16
"""Records turned into dicts and dumped at a time (few enough to die young)."""

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_quote = json.encoder.encode_basestring_ascii  # how json.dumps writes a str (ensure_ascii)


# --- values and attributes -----------------------------------------------------------------


def _float(value: Any) -> Any:
    """A double as OTLP JSON has it: the number, or a string for NaN and the infinities."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _value(value: Any) -> _Json:
    """An ``AnyValue``, checking types in the order of the OTel encoder."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": _float(value)}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("utf-8") if value else ""}
    if isinstance(value, Sequence):
        values = [_value(v) for v in value]
        return {"arrayValue": {"values": values} if values else {}}
    if isinstance(value, Mapping):
        pairs = [_key_value(str(k), v) for k, v in value.items()]
        return {"kvlistValue": {"values": pairs} if pairs else {}}
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: Any, value: Any) -> _Json:
    if key:
        return {"key": key, "value": _value(value)}
    return {"value": _value(value)}


def _value_json(value: Any) -> str:
    """``_dumps(_value(value))``, the common types without building dicts."""
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + _quote(value) + "}"
    if kind is int:
        return '{"intValue":"' + int.__repr__(value) + '"}'
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is float and value - value == 0.0:  # finite
        return '{"doubleValue":' + float.__repr__(value) + "}"
    return _dumps(_value(value))


def _unencodable(key: Any, exc: Exception) -> None:
    warn_once(
        f"otlpjson-attribute:{type(exc).__name__}",
        "agentobs: attribute %r cannot be written to the local files (%s); it is left out",
        key,
        exc,
    )


def _attributes(attributes: Any) -> list[_Json]:
    """The ``KeyValue`` list; a value that cannot be encoded loses its key, as in OTel's."""
    if not attributes:
        return []
    encoded = []
    for key, value in attribute_items(attributes):
        try:
            encoded.append(_key_value(key, value))
        except Exception as exc:
            _unencodable(key, exc)
    return encoded


_key_prefixes: dict[str, str] = {}


def _key_prefix(key: str) -> str:
    """``{"key":<key>,"value":`` (cached: the same few keys come on every span)."""
    prefix = _key_prefixes.get(key)
    if prefix is None:
        prefix = '{"key":' + _quote(key) + ',"value":'
        if len(_key_prefixes) < 4 * _CACHE_LIMIT:
            _key_prefixes[key] = prefix
    return prefix


def _attributes_json(attributes: Any) -> str:
    """``_dumps(_attributes(attributes))`` (without the brackets)."""
    encoded: list[str] = []
    add = encoded.append
    prefixes = _key_prefixes
    for key, value in attribute_items(attributes):
        prefix = prefixes.get(key) if type(key) is str else None
        if prefix is not None and type(value) is str:  # the common case, first
            add(prefix + '{"stringValue":' + _quote(value) + "}}")
            continue
        try:
            text = _value_json(value)
        except Exception as exc:
            _unencodable(key, exc)
            continue
        if prefix is not None:
            add(prefix + text + "}")
        elif type(key) is str and key:
            add(_key_prefix(key) + text + "}")
        elif key:
            add('{"key":' + _dumps(key) + ',"value":' + text + "}")
        else:
            add('{"value":' + text + "}")
    return ",".join(encoded)


def _span_id(span_id: int) -> str:
    return span_id.to_bytes(length=8, byteorder="big", signed=False).hex()


def _trace_id(trace_id: int) -> str:
    return trace_id.to_bytes(length=16, byteorder="big", signed=False).hex()


# --- resources and scopes, cached ----------------------------------------------------------

_resources: dict[int, tuple[Any, _Json, str]] = {}
_scopes: dict[int, tuple[Any, _Json, str]] = {}


def _resource(resource: Any) -> tuple[_Json, str]:
    """``{"attributes": [...]}`` of a resource, and its JSON (cached: SDK resources are
    immutable; the reference kept in the cache keeps the id from being reused)."""
    found = _resources.get(id(resource))
    if found is not None and found[0] is resource:
        return found[1], found[2]
    attributes = _attributes(resource.attributes)
    encoded: _Json = {"attributes": attributes} if attributes else {}
    if len(_resources) >= _CACHE_LIMIT:
        _resources.clear()
    _resources[id(resource)] = (resource, encoded, _dumps(encoded))
    return encoded, _resources[id(resource)][2]


def _scope(scope: Any) -> tuple[_Json, str]:
    """An ``InstrumentationScope`` and its JSON (cached: immutable too); ``{}`` for None."""
    if scope is None:
        return {}, "{}"
    found = _scopes.get(id(scope))
    if found is not None and found[0] is scope:
        return found[1], found[2]
    encoded: _Json = {}
    if scope.name:
        encoded["name"] = scope.name
    if scope.version:
        encoded["version"] = scope.version
    attributes = _attributes(scope.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if len(_scopes) >= _CACHE_LIMIT:
        _scopes.clear()
    _scopes[id(scope)] = (scope, encoded, _dumps(encoded))
    return encoded, _scopes[id(scope)][2]


def clear_caches() -> None:
    """Forget the encoded resources, scopes and attribute keys."""
    _resources.clear()
    _scopes.clear()
    _key_prefixes.clear()


class _Groups:
    """Items grouped by resource, then scope, in order of first appearance. Equal resources
    (or scopes) are one group, as dict keys are in the OTel encoders; looking up by identity
    first keeps the expensive ``Resource.__hash__`` (a JSON dump) out of the way."""

    __slots__ = ("_by_id", "resources")

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Any, dict[int, list[Any]], list[tuple[Any, list[Any]]]]] = {}
        self.resources: list[tuple[Any, list[tuple[Any, list[Any]]]]] = []

    def items_of(self, resource: Any, scope: Any) -> list[Any]:
        """The list to append the items of ``(resource, scope)`` to."""
        group = self._by_id.get(id(resource))
        if group is None:
            for other in self._by_id.values():
                if other[0] == resource:
                    group = other
                    break
            else:
                group = (resource, {}, [])
                self.resources.append((resource, group[2]))
            self._by_id[id(resource)] = group
        scope_ids = group[1]
        found = scope_ids.get(id(scope))
        if found is None:
            for known, items in group[2]:
                if known == scope:
                    found = items
                    break
            else:
                found = []
                group[2].append((scope, found))
            scope_ids[id(scope)] = found
        return found


def _document_json(
    groups: _Groups,
    outer: str,
    inner: str,
    items: str,
    encode: Callable[[list[Any], list[str]], None],
) -> str:
    """The request of grouped items, ``encode`` adding the items of one scope to the pieces
    of text (joined once: a batch is hundreds of kilobytes, not to be copied piece by piece).
    """
    if not groups.resources:
        return "{}"
    out = ['{"', outer, '":[']
    for resource_index, (resource, scopes) in enumerate(groups.resources):
        out.append('{"resource":' if not resource_index else ',{"resource":')
        out.append(_resource(resource)[1])
        if scopes:
            out.append(',"' + inner + '":[')
            for scope_index, (scope, members) in enumerate(scopes):
                out.append('{"scope":' if not scope_index else ',{"scope":')
                out.append(_scope(scope)[1])
                if members:
                    out.append(',"' + items + '":[')
                    encode(members, out)
                    out.append("]")
                if scope is not None and scope.schema_url:
                    out.append(',"schemaUrl":' + _dumps(scope.schema_url))
                out.append("}")
            out.append("]")
        if resource.schema_url:
            out.append(',"schemaUrl":' + _dumps(resource.schema_url))
        out.append("}")
    out.append("]}")
    return "".join(out)


def _chunked(encode: Callable[[Any], _Json]) -> Callable[[list[Any], list[str]], None]:
    """Adds members as dicts dumped a few at a time."""

    def add(members: list[Any], out: list[str]) -> None:
        for start in range(0, len(members), _CHUNK):
            text = _dumps([encode(member) for member in members[start : start + _CHUNK]])
            out.append(text[1:-1] if not start else "," + text[1:-1])

    return add


# --- spans ---------------------------------------------------------------------------------


def spans_json(spans: Iterable[ReadableSpan]) -> str:
    """An ``ExportTraceServiceRequest`` as one line of JSON."""
    groups = _Groups()
    for span in spans:
        groups.items_of(span.resource, span.instrumentation_scope or None).append(span)
    return _document_json(groups, "resourceSpans", "scopeSpans", "spans", _spans_json)


def encode_spans(spans: Iterable[ReadableSpan]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest``, as ``encode_spans(spans).to_dict()`` makes it."""
    document: dict[str, Any] = json.loads(spans_json(spans))
    return document


def _spans_json(spans: list[ReadableSpan], out: list[str]) -> None:
    first = True
    for span in spans:
        if not first:
            out.append(",")
        first = False
        _span_json(span, out)


def _span_json(span: ReadableSpan, out: list[str]) -> None:
    """Adds the pieces of one span's JSON to ``out``."""
    add = out.append
    context = span.get_span_context()
    if context is not None:
        add(f'{{"traceId":"{_trace_id(context.trace_id)}","spanId":"{_span_id(context.span_id)}"')
        trace_state = context.trace_state
        if trace_state:
            state = ",".join([f"{key}={value}" for key, value in trace_state.items()])
            if state:
                add(',"traceState":' + _quote(state))
    else:
        add(f'{{"traceId":"{_trace_id(0)}","spanId":"{_span_id(0)}"')
    parent = span.parent
    if parent:
        flags = 768 if parent.is_remote else 256
        add(f',"parentSpanId":"{_span_id(parent.span_id)}","flags":{flags}')
    else:
        add(',"flags":256')
    name = span.name
    if name:
        add(',"name":' + (_quote(name) if type(name) is str else _dumps(name)))
    add(_KIND_JSON[span.kind])
    start, end = span.start_time, span.end_time
    if start:
        add(',"startTimeUnixNano":' + _quote(str(start)))
    if end:
        add(',"endTimeUnixNano":' + _quote(str(end)))
    attributes = span_attributes(span)
    if attributes:
        listed = _attributes_json(attributes)
        if listed:
            add(',"attributes":[' + listed + "]")
    if span.dropped_attributes:
        add(',"droppedAttributesCount":' + _dumps(span.dropped_attributes))
    if may_have(span, "events"):
        events = span.events
        if events:
            add(',"events":' + _dumps([_event(event) for event in events]))
    if span.dropped_events:
        add(',"droppedEventsCount":' + _dumps(span.dropped_events))
    if may_have(span, "links"):
        links = span.links
        if links:
            add(',"links":' + _dumps([_link(link) for link in links]))
    if span.dropped_links:
        add(',"droppedLinksCount":' + _dumps(span.dropped_links))
    status = span.status
    if status is None:
        add("}")
        return
    code = int(status.status_code.value)
    if status.description:
        add(',"status":' + _dumps({"message": status.description, **_code(code)}) + "}")
    elif code:
        add(f',"status":{{"code":{code}}}}}')
    else:
        add(',"status":{}}')


def _code(code: int) -> _Json:
    return {"code": code} if code else {}


def _event(event: Any) -> _Json:
    encoded: _Json = {}
    if event.timestamp:
        encoded["timeUnixNano"] = str(event.timestamp)
    if event.name:
        encoded["name"] = event.name
    attributes = _attributes(event.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if event.dropped_attributes:
        encoded["droppedAttributesCount"] = event.dropped_attributes
    return encoded


def _link(link: Any) -> _Json:
    context = link.context
    encoded: _Json = {"traceId": _trace_id(context.trace_id), "spanId": _span_id(context.span_id)}
    attributes = _attributes(link.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if link.dropped_attributes:
        encoded["droppedAttributesCount"] = link.dropped_attributes
    encoded["flags"] = _REMOTE_FLAGS if context.is_remote else _LOCAL_FLAGS
    return encoded


# --- metrics -------------------------------------------------------------------------------


def metrics_json(data: MetricsData) -> str:
    """An ``ExportMetricsServiceRequest`` as one line of JSON."""
    return _dumps(encode_metrics(data))


def encode_metrics(data: MetricsData) -> dict[str, Any]:
    """An ``ExportMetricsServiceRequest``, as ``encode_metrics(data).to_dict()`` makes it."""
    resources = []
    for resource_metrics in data.resource_metrics:
        resource = resource_metrics.resource
        scope_docs = []
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_doc: _Json = {"scope": _scope(scope)[0]}
            if scope_metrics.metrics:
                scope_doc["metrics"] = [_metric(metric) for metric in scope_metrics.metrics]
            if scope.schema_url:
                scope_doc["schemaUrl"] = scope.schema_url
            scope_docs.append(scope_doc)
        resource_doc: _Json = {"resource": _resource(resource)[0]}
        if scope_docs:
            resource_doc["scopeMetrics"] = scope_docs
        if resource.schema_url:
            resource_doc["schemaUrl"] = resource.schema_url
        resources.append(resource_doc)
    return {"resourceMetrics": resources} if resources else {}


def _metric(metric: Any) -> _Json:
    encoded: _Json = {}
    if metric.name:
        encoded["name"] = metric.name
    if metric.description:
        encoded["description"] = metric.description
    if metric.unit:
        encoded["unit"] = metric.unit
    data = metric.data
    body: _Json = {}
    if isinstance(data, Gauge):
        points = [_number_point(point, False) for point in data.data_points]
        if points:
            body["dataPoints"] = points
        encoded["gauge"] = body
    elif isinstance(data, Histogram):
        points = [_histogram_point(point) for point in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        encoded["histogram"] = body
    elif isinstance(data, Sum):
        points = [_number_point(point, True) for point in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        if data.is_monotonic:
            body["isMonotonic"] = data.is_monotonic
        encoded["sum"] = body
    elif isinstance(data, ExponentialHistogram):
        points = [_exponential_point(point) for point in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        encoded["exponentialHistogram"] = body
    else:
        logger.warning("unsupported data type %s", data.__class__.__name__)
    return encoded


def _point_header(point: Any, with_start: bool) -> _Json:
    """The fields every data point starts with: attributes, start and end times."""
    encoded: _Json = {}
    attributes = _attributes(point.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if with_start and point.start_time_unix_nano:
        encoded["startTimeUnixNano"] = str(point.start_time_unix_nano)
    if point.time_unix_nano:
        encoded["timeUnixNano"] = str(point.time_unix_nano)
    return encoded


def _number_point(point: Any, with_start: bool) -> _Json:
    """A ``NumberDataPoint`` (a gauge's has no start time, as in OTel's encoder)."""
    encoded = _point_header(point, with_start)
    if point.exemplars:
        encoded["exemplars"] = _exemplars(point.exemplars)
    value = point.value
    if isinstance(value, int):
        encoded["asInt"] = str(value)
    elif value is not None:
        encoded["asDouble"] = _float(value)
    return encoded


def _histogram_point(point: Any) -> _Json:
    encoded = _point_header(point, True)
    if point.count:
        encoded["count"] = str(point.count)
    if point.sum is not None:
        encoded["sum"] = _float(point.sum)
    if point.bucket_counts:
        encoded["bucketCounts"] = [str(count) for count in point.bucket_counts]
    if point.explicit_bounds:
        encoded["explicitBounds"] = [_float(bound) for bound in point.explicit_bounds]
    if point.exemplars:
        encoded["exemplars"] = _exemplars(point.exemplars)
    if point.min is not None:
        encoded["min"] = _float(point.min)
    if point.max is not None:
        encoded["max"] = _float(point.max)
    return encoded


def _buckets(buckets: Any) -> _Json:
    encoded: _Json = {}
    if buckets.offset:
        encoded["offset"] = buckets.offset
    encoded["bucketCounts"] = [str(count) for count in buckets.bucket_counts]
    return encoded


def _exponential_point(point: Any) -> _Json:
    encoded = _point_header(point, True)
    if point.count:
        encoded["count"] = str(point.count)
    if point.sum is not None:
        encoded["sum"] = _float(point.sum)
    if point.scale:
        encoded["scale"] = point.scale
    if point.zero_count:
        encoded["zeroCount"] = str(point.zero_count)
    if point.positive.bucket_counts:
        encoded["positive"] = _buckets(point.positive)
    if point.negative.bucket_counts:
        encoded["negative"] = _buckets(point.negative)
    if point.flags:
        encoded["flags"] = point.flags
    if point.exemplars:
        encoded["exemplars"] = _exemplars(point.exemplars)
    if point.min is not None:
        encoded["min"] = _float(point.min)
    if point.max is not None:
        encoded["max"] = _float(point.max)
    return encoded


def _exemplars(exemplars: Iterable[Any]) -> list[_Json]:
    encoded = []
    for exemplar in exemplars:
        value = exemplar.value
        one: _Json = {}
        attributes = _attributes(exemplar.filtered_attributes)
        if attributes:
            one["filteredAttributes"] = attributes
        if exemplar.time_unix_nano:
            one["timeUnixNano"] = str(exemplar.time_unix_nano)
        if exemplar.span_id is not None and exemplar.trace_id is not None:
            one["spanId"] = _span_id(exemplar.span_id)
            one["traceId"] = _trace_id(exemplar.trace_id)
        if isinstance(value, float):
            one["asDouble"] = _float(value)
        elif isinstance(value, int):
            one["asInt"] = str(value)
        else:
            raise ValueError("Exemplar value must be an int or float")
        encoded.append(one)
    return encoded


# --- logs ----------------------------------------------------------------------------------


def logs_json(batch: Iterable[ReadableLogRecord]) -> str:
    """An ``ExportLogsServiceRequest`` as one line of JSON."""
    groups = _Groups()
    for record in batch:
        groups.items_of(record.resource, record.instrumentation_scope or None).append(record)
    return _document_json(groups, "resourceLogs", "scopeLogs", "logRecords", _chunked(_log))


def encode_logs(batch: Iterable[ReadableLogRecord]) -> dict[str, Any]:
    """An ``ExportLogsServiceRequest``, as ``encode_logs(batch).to_dict()`` makes it."""
    document: dict[str, Any] = json.loads(logs_json(batch))
    return document


def _log(readable: ReadableLogRecord) -> _Json:
    record = readable.log_record
    encoded: _Json = {}
    if record.timestamp:
        encoded["timeUnixNano"] = str(record.timestamp)
    if record.observed_timestamp:
        encoded["observedTimeUnixNano"] = str(record.observed_timestamp)
    severity = getattr(record.severity_number, "value", None)
    if severity:
        encoded["severityNumber"] = int(severity)
    if record.severity_text:
        encoded["severityText"] = record.severity_text
    encoded["body"] = _value(record.body)
    attributes = _attributes(record.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if readable.dropped_attributes:
        encoded["droppedAttributesCount"] = readable.dropped_attributes
    flags = int(record.trace_flags)
    if flags:
        encoded["flags"] = flags
    if record.trace_id:
        encoded["traceId"] = _trace_id(record.trace_id)
    if record.span_id:
        encoded["spanId"] = _span_id(record.span_id)
    if record.event_name:
        encoded["eventName"] = record.event_name
    return encoded


__all__ = [
    "clear_caches",
    "encode_logs",
    "encode_metrics",
    "encode_spans",
    "logs_json",
    "metrics_json",
    "spans_json",
]
