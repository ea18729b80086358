"""OTLP protobuf for spans, written straight to bytes: the OTLP/HTTP span exporter's encoder.

The SDK's exporter builds a generated message object per span, attribute and value, then
serializes them (about 27 µs a span); :func:`spans_proto` writes the same
``ExportTraceServiceRequest`` wire bytes directly (fields in field-number order, defaults
left out, as protobuf serializes them; ``tests/test_otlpproto.py`` compares the two byte for
byte). Resources and scopes, few and immutable, are encoded once by the SDK's own encoder and
the bytes reused; so are events, links and attribute values other than a string, a bool, a
64-bit int or a float (arrays, mappings, bytes), which are rare.

:class:`FastOTLPSpanExporter` is the SDK's ``OTLPSpanExporter`` (HTTP) with this encoder;
anything the encoder cannot write goes through the SDK's own path unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_attributes,
    _encode_instrumentation_scope,
    _encode_key_value,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_events,
    _encode_links,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

from .otlpjson import _Groups
from .sdk_compat import attribute_items, may_have, span_attributes

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_CACHE_LIMIT = 256

# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
_KIND = {
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_FLAGS_LOCAL = b"\x85\x01" + (0x100).to_bytes(4, "little")  # field 16, fixed32
_FLAGS_REMOTE = b"\x85\x01" + (0x300).to_bytes(4, "little")
_SMALL = [bytes((n,)) for n in range(128)]


def _varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: ``tag``, the length, the payload."""
    length = len(payload)
    return tag + (_SMALL[length] if length < 128 else _varint(length)) + payload


_key_fields: dict[str, bytes] = {}


def _key_field(key: str) -> bytes:
    """``KeyValue.key`` (field 1) of ``key``, encoded (cached: the same keys recur)."""
    field = _key_fields.get(key)
    if field is None:
        field = _delimited(b"\x0a", key.encode("utf-8")) if key else b""
        if len(_key_fields) < 16 * _CACHE_LIMIT:
            _key_fields[key] = field
    return field


def _attribute(key: Any, value: Any) -> bytes:
    """One ``KeyValue`` message (without its own tag and length). ``AnyValue`` is a oneof:
    its field is written even when it holds the type's default."""
    kind = type(value)
    if type(key) is str:
        if kind is str:
            any_value = _delimited(b"\x0a", value.encode("utf-8"))
        elif kind is bool:
            any_value = b"\x10\x01" if value else b"\x10\x00"
        elif kind is int and _INT64_MIN <= value <= _INT64_MAX:
            any_value = b"\x18" + _varint(value if value >= 0 else value + (1 << 64))
        elif kind is float:
            any_value = b"\x21" + _pack_double(value)
        else:
            return _encode_key_value(key, value).SerializeToString()
        return _key_field(key) + _delimited(b"\x12", any_value)
    return _encode_key_value(key, value).SerializeToString()


def _attributes(attributes: Any, tag: bytes) -> list[bytes]:
    """The repeated ``KeyValue`` fields of an attribute mapping; a value that cannot be
    encoded is left to the SDK's encoder (which logs it and leaves it out)."""
    encoded = []
    for key, value in attribute_items(attributes):
        try:
            encoded.append(_delimited(tag, _attribute(key, value)))
        except Exception:
            encoded.extend(
                _delimited(tag, kv.SerializeToString())
                for kv in _encode_attributes({key: value})  # logs the failure itself
            )
    return encoded


_blocks: dict[int, tuple[Any, bytes]] = {}


def _cached(obj: Any, encode: Any) -> bytes:
    """The encoding of a resource or scope, computed once (kept with the object, so its id
    is not reused while cached)."""
    found = _blocks.get(id(obj))
    if found is not None and found[0] is obj:
        return found[1]
    data: bytes = encode(obj).SerializeToString()
    if len(_blocks) >= _CACHE_LIMIT:
        _blocks.clear()
    _blocks[id(obj)] = (obj, data)
    return data


_EVENTS_AND_LINKS: tuple[tuple[str, Any, bytes, bytes], ...] = (
    ("events", _encode_events, b"\x5a", b"\x60"),  # fields 11 and 12 (dropped count)
    ("links", _encode_links, b"\x6a", b"\x70"),  # fields 13 and 14
)


def _span(span: ReadableSpan) -> bytes:
    """One ``Span`` message (without its own tag and length)."""
    context = span.get_span_context()
    assert context is not None
    out = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    add = out.append
    trace_state = context.trace_state
    if trace_state:
        state = ",".join([f"{key}={value}" for key, value in trace_state.items()])
        if state:
            add(_delimited(b"\x1a", state.encode("utf-8")))
    parent = span.parent
    if parent:
        add(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    name = span.name
    if name:
        add(_delimited(b"\x2a", name.encode("utf-8")))
    add(_KIND[span.kind])
    start, end = span.start_time, span.end_time
    if start:
        add(b"\x39" + _pack_fixed64(start))
    if end:
        add(b"\x41" + _pack_fixed64(end))
    attributes = span_attributes(span)
    if attributes:
        out.extend(_attributes(attributes, b"\x4a"))
    dropped = span.dropped_attributes
    if dropped:
        add(b"\x50" + _varint(dropped))
    for name, encode, tag, dropped_tag in _EVENTS_AND_LINKS:
        if may_have(span, name):
            for message in encode(getattr(span, name)) or ():
                add(_delimited(tag, message.SerializeToString()))
        dropped = getattr(span, "dropped_" + name)
        if dropped:
            add(dropped_tag + _varint(dropped))
    status = span.status
    if status is not None:
        body = b""
        if status.description:
            body = _delimited(b"\x12", status.description.encode("utf-8"))
        code = status.status_code.value
        if code:
            body += b"\x18" + _varint(code)
        add(_delimited(b"\x7a", body))
    add(_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
    return b"".join(out)


def spans_proto(spans: Iterable[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest``: the bytes of
    ``encode_spans(spans).SerializeToString()``."""
    groups = _Groups()
    for span in spans:
        groups.items_of(span.resource, span.instrumentation_scope or None).append(span)
    out: list[bytes] = []
    for resource, scopes in groups.resources:
        resource_spans = [_delimited(b"\x0a", _cached(resource, _encode_resource))]
        for scope, members in scopes:
            scope_spans = [_delimited(b"\x0a", _cached(scope, _encode_instrumentation_scope))]
            scope_spans.extend(_delimited(b"\x12", _span(span)) for span in members)
            if scope is not None and scope.schema_url:
                scope_spans.append(_delimited(b"\x1a", scope.schema_url.encode("utf-8")))
            resource_spans.append(_delimited(b"\x12", b"".join(scope_spans)))
        if resource.schema_url:
            resource_spans.append(_delimited(b"\x1a", resource.schema_url.encode("utf-8")))
        out.append(_delimited(b"\x0a", b"".join(resource_spans)))
    return b"".join(out)


class FastOTLPSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter, encoding with :func:`spans_proto`."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown or not _KNOWN_LAYOUT:
            return super().export(spans)
        try:
            data = spans_proto(spans)
        except Exception:  # the SDK's own path: it logs what it cannot encode
            return super().export(spans)
        with self._metrics.export_operation(len(spans)) as result:
            if _is_request_too_large(data, self._max_request_size):
                return super().export(spans)  # the SDK's warning and error
            export_result = self._client.export(data)
            if not export_result.success:
                result.error = export_result.error
                status = export_result.status_code
                result.error_attrs = {_STATUS_CODE: status} if status is not None else None
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


try:
    from opentelemetry.exporter.otlp.proto.http._common import _is_request_too_large

    _STATUS_CODE = "http.response.status_code"
    _KNOWN_LAYOUT = all(
        name in OTLPSpanExporter.__init__.__code__.co_names
        for name in ("_client", "_metrics", "_max_request_size")
    )
except ImportError:  # another SDK layout: the SDK's export as it is
    _KNOWN_LAYOUT = False
