"""Bad configuration: a malformed environment value gives one warning and the default, never
an exception (telemetry off) nor a value that breaks every export; the content hard off
switch fails closed; bad explicit arguments raise ValueError only (issue #10)."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentobs
import agentobs.testing
from agentobs._export import pipeline as _pipeline


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def warnings_seen() -> Iterator[_Warnings]:
    handler = _Warnings()
    names = ("agentobs", "opentelemetry")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)


def _batching(processors: Any) -> Any:
    """The first batch processor (the interop processor and scrubbers come before it)."""
    return next(p for p in processors if hasattr(p, "_batch_processor"))


def _batch_size(processors: Any) -> int:
    return int(_batching(processors)._batch_processor._max_export_batch_size)


def _span_limits() -> Any:
    pipeline = _pipeline.current()
    assert pipeline is not None
    return pipeline.tracer_provider._span_limits


def _otlp_timeout() -> float:
    pipeline = _pipeline.current()
    assert pipeline is not None
    return float(pipeline.settings.otlp["traces"].timeout)


CASES: list[tuple[dict[str, str], Any]] = [
    (
        {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10000"},  # larger than the queue (8,192)
        lambda p: _batch_size(p.span_processors) == 512,
    ),
    (
        {"OTEL_BLRP_SCHEDULE_DELAY": "abc"},
        lambda p: _batching(p.log_processors)._batch_processor._schedule_delay == 5.0,
    ),
    (
        {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "abc"},
        lambda p: _span_limits().max_attribute_length is None,
    ),
    (
        {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "-1"},
        lambda p: _span_limits().max_span_attributes == 128,
    ),
    (
        {"OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "many"},
        lambda p: p.logger_provider._log_record_limits.max_log_record_attributes == 128,
    ),
    (
        {
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://127.0.0.1:9",
        },
        lambda p: p.settings.otlp["traces"].certificate is None,
    ),
    (
        {"OTEL_EXPORTER_OTLP_TIMEOUT": "inf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        lambda p: _otlp_timeout() == 10.0,
    ),
    (
        {"OTEL_METRIC_EXPORT_INTERVAL": "inf"},
        lambda p: p.settings.metric_export_interval == 60.0,
    ),
    (
        {"OTEL_PYTHON_TRACER_PROVIDER": "no_such_provider"},
        lambda p: "traces" in p.owned,
    ),
]


@pytest.mark.parametrize(("env", "is_default"), CASES, ids=[",".join(c[0]) for c in CASES])
def test_a_malformed_variable_gives_one_warning_then_the_default(
    fresh_agentobs: None,
    monkeypatch: pytest.MonkeyPatch,
    warnings_seen: _Warnings,
    env: dict[str, str],
    is_default: Any,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bad = next(iter(env))
    try:
        agentobs.configure(logs=True)  # raised on main: telemetry off for the process
        pipeline = _pipeline.current()
        assert pipeline is not None
        assert is_default(pipeline)
    finally:
        agentobs.shutdown(1.0)
    ours = [m for m in warnings_seen.messages if m.startswith("agentobs:")]
    about = [m for m in ours if bad in m or "provider" in m.lower()]
    print(f"\n{bad}={env[bad]}: {len(about)} warning(s): {about}")
    assert len(about) == 1, ours


def test_a_bad_explicit_certificate_or_timeout_raises_value_error(fresh_agentobs: None) -> None:
    with pytest.raises(ValueError, match="certificate"):
        agentobs.configure(exporter="otlp", certificate="/nonexistent/ca.pem")
    with pytest.raises(ValueError, match="timeout"):
        agentobs.configure(exporter="otlp", timeout=math.inf)


@pytest.mark.parametrize("value", ["maybe", "tru", "enabled?"])
def test_an_unclear_hard_off_switch_fails_closed(tmp_path: Path, value: str) -> None:
    """In a child process: the switch latches for the life of the process."""
    script = textwrap.dedent(
        """
        import logging, agentobs, agentobs.testing
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        with agentobs.testing.capture(capture_content=True) as cap:
            with agentobs.llm(provider="openai", model="m") as call:
                call.record_input([{"role": "user", "content": "PROMPT-TEXT"}])
            print("CAPTURED" if "PROMPT-TEXT" in repr(cap.spans[0].attributes) else "NOT")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    env["AGENTOBS_DISABLE_CONTENT_CAPTURE"] = value
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    print(f"\nAGENTOBS_DISABLE_CONTENT_CAPTURE={value}: {result.stdout.strip()}")
    assert result.stdout.strip() == "NOT"
    assert result.stderr.count("AGENTOBS_DISABLE_CONTENT_CAPTURE") == 1, result.stderr
    assert "fails closed" in result.stderr


# --- hypothesis: every OTEL_* / AGENTOBS_* variable, every configure() argument -----------


def _all_variables() -> list[str]:
    import opentelemetry.environment_variables as api_env
    import opentelemetry.sdk.environment_variables as sdk_env

    from agentobs._settings import ENV_VARS

    names = {
        getattr(module, attr)
        for module in (api_env, sdk_env)
        for attr in dir(module)
        if attr.startswith("OTEL_") and isinstance(getattr(module, attr), str)
    }
    names |= set(ENV_VARS)
    names -= {
        "AGENTOBS_DISABLE_CONTENT_CAPTURE",  # latches for the process (tested above)
        "OTEL_PYTHON_CONTEXT",  # read once, when opentelemetry.context is imported
    }
    return sorted(names)


VARIABLES = _all_variables()
SLOW_EXAMPLES: dict[str, Any] = {
    "deadline": None,  # each example configures and shuts down a pipeline
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
JUNK = st.one_of(
    st.sampled_from(
        [
            "abc",
            "-1",
            "0",
            "inf",
            "nan",
            "1e400",
            "5000",
            "99999999999999999999",
            "unset",
            "/nonexistent",
            "true",
            "maybe",
            "none",
            "http://user:pw@",
            "grpc",
            "a=b,broken",
            "[",
            "{}",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=60, **SLOW_EXAMPLES)
@given(st.dictionaries(st.sampled_from(VARIABLES), JUNK, min_size=1, max_size=4))
def test_configure_never_raises_from_the_environment(
    fresh_agentobs: None, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    with monkeypatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("OTEL_", "AGENTOBS_")):
                patch.delenv(name)
        for name, value in env.items():
            if "\x00" in value:
                continue  # not a possible environment value
            patch.setenv(name, value)
        agentobs.testing.reset()
        try:
            agentobs.configure()
            with agentobs.task("t", n=1):
                agentobs.event("e", k="v")
        finally:
            agentobs.shutdown(0.2)
            agentobs.testing.reset()


JUNK_ARGS = st.sampled_from(
    [None, "", "abc", -1, 0, 1.5, math.inf, math.nan, True, [], {}, ["x"], {"a": 1}, object()]
)
ARGUMENTS = [
    "service_name",
    "service_version",
    "environment",
    "resource_attributes",
    "exporter",
    "endpoint",
    "protocol",
    "headers",
    "timeout",
    "compression",
    "insecure",
    "certificate",
    "local_max_bytes",
    "sample_ratio",
    "metric_export_interval",
    "max_queue_size",
    "logs",
    "log_level",
    "capture_content",
    "max_content_size",
    "scrubbing",
    "scrub_patterns",
    "scrub_callback",
    "prices",
]


@settings(max_examples=80, **SLOW_EXAMPLES)
@given(st.dictionaries(st.sampled_from(ARGUMENTS), JUNK_ARGS, min_size=1, max_size=3))
def test_configure_raises_only_value_error_from_arguments(
    fresh_agentobs: None, kwargs: dict[str, Any]
) -> None:
    agentobs.testing.reset()
    try:
        agentobs.configure(exporter="none", **kwargs) if "exporter" not in kwargs else (
            agentobs.configure(**kwargs)
        )
    except ValueError:
        pass
    finally:
        agentobs.shutdown(0.2)
        agentobs.testing.reset()
