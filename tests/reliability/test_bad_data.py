"""Bad data: a string that is not valid UTF-8 loses at most its own value, never the batch it
is in; unbounded distinct bad inputs give a bounded number of warnings (issue #10)."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace

import agentobs
import agentobs.testing
from agentobs import _errors
from agentobs._engine import SOME
from tests.backends import Rotel, poll

BAD_NAME = os.fsdecode(b"report-\xe9t\xe9.txt")  # a latin-1 file name: lone surrogates


@pytest.fixture
def reset_agentobs(clean_env: None) -> Iterator[None]:
    agentobs.testing.reset()
    yield
    agentobs.testing.reset()


@pytest.mark.backend("rotel")
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_lone_surrogate_loses_at_most_its_value(
    rotel: Rotel, reset_agentobs: None, protocol: str
) -> None:
    run = uuid.uuid4().hex[:8]
    bad_name = os.fsdecode(f"report-{run}-".encode() + b"\xe9.txt")  # lone surrogate
    agentobs.configure(
        exporter="otlp",
        endpoint=rotel.endpoint(protocol),
        protocol=protocol,
        logs=False,
        metric_export_interval=3600,
    )
    try:
        with agentobs.workflow(f"batch-{run}"):  # one span, in the same batch as the others
            for i in range(298):
                with agentobs.task(f"ok-{run}-{i}"):
                    pass
            with agentobs.task(bad_name, file=bad_name):  # our API
                pass
            with trace.get_tracer("other").start_as_current_span(  # not our API
                f"other-{run}", attributes={"path": bad_name}
            ):
                pass
        assert agentobs.force_flush(15.0)
    finally:
        agentobs.shutdown(5.0)

    def arrived() -> list[str] | None:
        names = [r.name for r in rotel.records("span") if run in r.name]
        return names if len(names) >= 301 else None

    names = poll(arrived, timeout=30, what=f"301 spans of run {run} in rotel")
    print(f"\n{protocol}: {len(names)} of 301 spans arrived (one named with a lone surrogate)")
    assert len(names) == 301
    assert f"task report-{run}-\\udce9.txt" in names


def test_the_surrogate_is_kept_readable_in_local_files(
    reset_agentobs: None, tmp_path: os.PathLike[str]
) -> None:
    with agentobs.testing.capture() as cap:
        with agentobs.task(BAD_NAME, file=BAD_NAME):
            pass
        span = cap.spans[0]
    assert span.name == "task report-\\udce9t\\udce9.txt"
    assert span.attributes["file"] == "report-\\udce9t\\udce9.txt"
    span.name.encode("utf-8")  # valid: any exporter can encode it


def test_distinct_bad_inputs_give_a_bounded_number_of_warnings(
    cap: agentobs.testing.Capture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    long_value = "x" * 5000
    keys = 100_000
    for start in range(0, keys, 1000):  # cleaned at the API edge (no span: nothing to keep)
        agentobs.set_attributes(**{f"k{i}": long_value for i in range(start, start + 1000)})
    with agentobs.task("wide"):  # 1,000 attributes on one span: the SDK keeps 128
        agentobs.set_attributes(**{f"w{i}": i for i in range(1000)})
    # This thread's: an earlier test's exporter thread may still log about its backend.
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.thread == threading.get_ident()
    ]
    suppressed = _errors.suppressed_warnings().get("over-long attribute values", 0)
    print(
        f"\n{keys} distinct over-long attribute keys and 872 attributes past a span's limit: "
        f"{len(warnings)} warnings logged, {suppressed} counted and not logged"
    )
    assert len(warnings) <= SOME + 2, warnings[SOME:]
    assert suppressed == keys - SOME  # the first SOME logged, then one line about the rest
    assert sum("the others are not logged" in w for w in warnings) == 1
    assert sum("Attributes dict is full" in w for w in warnings) == 1
