"""agentobs's OTLP protobuf span encoder writes the SDK encoder's very bytes, faster."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from agentobs._export import otlpproto
from tests.test_otlpjson import ATTRIBUTES, rich_spans


def same_bytes(spans: list[ReadableSpan]) -> None:
    quiet = logging.getLogger("opentelemetry.exporter.otlp.proto.common._internal")
    quiet.disabled = True
    try:
        theirs = encode_spans(spans).SerializeToString()
        otlpproto._blocks.clear()
        otlpproto._key_fields.clear()
        assert otlpproto.spans_proto(spans) == theirs  # caches cold
        assert otlpproto.spans_proto(spans) == theirs  # and warm
    finally:
        quiet.disabled = False


def test_spans_are_the_sdk_encoders_bytes() -> None:
    same_bytes(rich_spans())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 300,
        "héllo ✓",
        True,
        False,
        0,
        1,
        127,
        128,
        2**63 - 1,
        -1,
        -(2**63),
        0.0,
        -0.0,
        1e300,
        float("nan"),
        b"",
        b"\x00",
        None,
        [],
        ["a"],
        {"k": {"n": [1, 2.5]}},
        (1, "x"),
    ],
)
def test_every_value_type_is_encoded_as_the_sdk_encodes_it(value: Any) -> None:
    span = ReadableSpan(
        name="v",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource({}),
        attributes={"value": value, "after": "kept"},
        start_time=5,
        end_time=2**63,
    )
    same_bytes([span])


def test_values_the_sdk_refuses_are_left_out_as_the_sdk_does() -> None:
    span = ReadableSpan(
        name="hand made",
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        parent=SpanContext(0xABC, 0x1, is_remote=True),
        resource=Resource.create({}),
        attributes={
            **ATTRIBUTES,
            "too.big": 2**64,
            "": "no key",
            7: "a key that is not a string",
            "unencodable": object(),
            "surrogate": "a\udcffb",
        },
        events=[Event("e", {"k": b"v"}, timestamp=123)],
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, "broke"),
        instrumentation_scope=InstrumentationScope("hand", None, None, {"s": 1}),
    )
    same_bytes([span])


def test_it_is_several_times_faster_than_the_sdk_encoder() -> None:
    spans = rich_spans() * 50
    otlpproto.spans_proto(spans)

    def timed(encode: Any) -> float:
        started = time.perf_counter()
        encode(spans)
        return time.perf_counter() - started

    # Interleaved, best of 9 each: a busy machine slows both alike.
    rounds = [
        (timed(otlpproto.spans_proto), timed(lambda s: encode_spans(s).SerializeToString()))
        for _ in range(9)
    ]
    ours, theirs = min(r[0] for r in rounds), min(r[1] for r in rounds)
    print(f"spans_proto {ours * 1e6 / len(spans):.1f} us/span, SDK {theirs * 1e6 / len(spans):.1f}")
    assert ours < theirs / 1.5
