"""Standard logging bridged to OpenTelemetry logs, and the JSON formatter."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from opentelemetry import trace

import agentobs.testing
from agentobs.logs import JsonFormatter

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def bridge_handlers() -> list[logging.Handler]:
    from opentelemetry.sdk._logs import LoggingHandler

    return [h for h in logging.getLogger().handlers if isinstance(h, LoggingHandler)]


def test_log_inside_a_span_carries_its_ids() -> None:
    with agentobs.testing.capture() as cap:
        with trace.get_tracer("tests").start_as_current_span("step") as span:
            logging.getLogger("tests.app").warning("planning %s", "release", extra={"n": 3})
        logging.getLogger("tests.app").error("outside")
        inside, outside = (record.log_record for record in cap.logs)

    context = span.get_span_context()
    assert inside.body == "planning release"
    assert inside.trace_id == context.trace_id
    assert inside.span_id == context.span_id
    assert inside.severity_text == "WARN"
    assert inside.attributes is not None
    assert inside.attributes["n"] == 3
    assert outside.body == "outside"
    assert not outside.trace_id


def test_records_below_log_level_are_not_bridged() -> None:
    app = logging.getLogger("tests.levels")
    app.setLevel(logging.DEBUG)
    try:
        with agentobs.testing.capture(log_level="ERROR") as cap:
            app.warning("not bridged")
            app.error("bridged")
            bodies = [record.log_record.body for record in cap.logs]
    finally:
        app.setLevel(logging.NOTSET)
    assert bodies == ["bridged"]


def test_info_is_bridged_by_default_when_the_logger_lets_it_through() -> None:
    app = logging.getLogger("tests.info")
    app.setLevel(logging.DEBUG)
    try:
        with agentobs.testing.capture() as cap:
            app.debug("too low")
            app.info("hello")
            bodies = [record.log_record.body for record in cap.logs]
    finally:
        app.setLevel(logging.NOTSET)
    assert bodies == ["hello"]


def test_logs_false_bridges_nothing() -> None:
    with agentobs.testing.capture(logs=False) as cap:
        assert bridge_handlers() == []
        logging.getLogger("tests.app").error("not bridged")
        assert cap.logs == []


def test_bridge_handler_is_removed_at_shutdown() -> None:
    with agentobs.testing.capture():
        assert len(bridge_handlers()) == 1
    assert bridge_handlers() == []


def test_opentelemetry_own_log_lines_are_not_bridged() -> None:
    with agentobs.testing.capture() as cap:
        logging.getLogger("opentelemetry.sdk.trace.export").error("export failed")
        logging.getLogger("tests.app").error("app")
        bodies = [record.log_record.body for record in cap.logs]
    assert bodies == ["app"]


# --- JsonFormatter ----------------------------------------------------------------------


def format_record(logger_name: str, *args: Any, **kwargs: Any) -> str:
    """Log through a real logger into a JsonFormatter handler; return the formatted text."""
    stream: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(*args, **kwargs)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (text,) = stream
    return text


def test_json_formatter_one_object_per_line_with_ids_and_attributes() -> None:
    tracer = trace.get_tracer("tests")
    with agentobs.testing.capture(), tracer.start_as_current_span("step") as span:
        text = format_record(
            "tests.json",
            "two\nlines for %s",
            "bob",
            extra={"user": "bob", "tokens": 12, "ratio": 0.5, "obj": {"a": 1}},
        )
    assert "\n" not in text
    document = json.loads(text)
    context = span.get_span_context()
    assert document["trace_id"] == f"{context.trace_id:032x}"
    assert document["span_id"] == f"{context.span_id:016x}"
    assert document["severity_text"] == "WARNING"
    assert document["severity_number"] == 13
    assert document["body"] == "two\nlines for bob"
    assert document["logger"] == "tests.json"
    attributes = document["attributes"]
    assert attributes["user"] == "bob"
    assert attributes["tokens"] == 12
    assert attributes["ratio"] == 0.5
    assert attributes["obj"] == "{'a': 1}"
    assert attributes["code.file.path"] == __file__
    assert "args" not in attributes
    assert "msg" not in attributes


def test_json_formatter_outside_a_span_has_null_ids() -> None:
    document = json.loads(format_record("tests.json", "no span"))
    assert document["trace_id"] is None
    assert document["span_id"] is None


def test_json_formatter_records_the_exception() -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        text = format_record("tests.json", "failed", exc_info=sys.exc_info())
    assert "\n" not in text
    attributes = json.loads(text)["attributes"]
    assert attributes["exception.type"] == "KeyError"
    assert "missing" in attributes["exception.message"]
    assert "Traceback" in attributes["exception.stacktrace"]
