"""Secrets: 16 secret forms through 17 channels, with content capture on, reach no exporter
(rotel over OTLP, the local files, Langfuse), no log line of ours and no ``doctor`` output in
clear (issue #10). Token counts are not mistaken for secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace

import agentobs
import agentobs.testing
from agentobs.logs import JsonFormatter
from tests.backends import Rotel, poll
from tests.test_langfuse import LangfuseCapture

# (name, the text planted, the part that must never appear in clear)
FORMS: list[tuple[str, str, str]] = [
    ("openai", "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEf", "EfGhIjKlMnOpQrSt"),
    ("openai-project", "sk-proj-Q1w2E3r4T5y6U7i8O9p0AsDfGhJk", "Q1w2E3r4T5y6U7i8"),
    ("anthropic", "sk-ant-api03-Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1", "Zx9Cv8Bn7Mm6Ll5"),
    ("aws", "AKIAQWERTYUIOPASDFGH", "QWERTYUIOPASDFGH"),
    ("github", "ghp_R2d2C3p0Bb8Yoda5Luke6Leia7Han8Solo9X", "R2d2C3p0Bb8Yoda5"),
    ("github-pat", "github_pat_11ABCDEFG0_h7J8k9L0m1N2o3P4q5R6s7T8", "h7J8k9L0m1N2o3P4"),
    ("slack", "xoxb-123456789012-9876543210-QwErTyUiOp", "9876543210-QwErTyUiOp"),
    ("google", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "9tSrke72PouQMnMX"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudG9icyJ9.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1g",
        "dBjftJeZ4CVPmB92K27",
    ),
    ("bearer", "Authorization: Bearer Tk9pZS1iZWFyZXItdG9rZW4tMQ", "Tk9pZS1iZWFyZXItdG9rZW4tMQ"),
    ("basic", "Authorization: Basic YWxpY2U6d29uZGVybGFuZDQy", "YWxpY2U6d29uZGVybGFuZDQy"),
    ("password-pair", "password=abc&def!Wonder9", "def!Wonder9"),
    ("json-password", '{"password": "Plum Tree 4711"}', "Plum Tree 4711"),
    ("escaped-json-password", 'password=\\"Gr4pefruit\\"', "Gr4pefruit"),
    (
        "private-key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7BFUpkGp3+LQmlQ\n"
        "-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAq7BFUpkGp3",
    ),
    ("url-credentials", "postgres://admin:S3cr3tPassw0rd@db.internal:5432/app", "S3cr3tPassw0rd"),
]

CHANNELS: dict[str, Callable[[str], None]] = {}


def channel(fn: Callable[[str], None]) -> Callable[[str], None]:
    CHANNELS[fn.__name__] = fn
    return fn


@channel
def span_attribute(secret: str) -> None:
    with agentobs.task("attr", note=f"using {secret} now"):
        pass


@channel
def span_name(secret: str) -> None:
    with agentobs.task(f"deploy {secret}"):
        pass


@channel
def span_event(secret: str) -> None:
    with agentobs.task("evt"):
        agentobs.event("lookup", detail=secret)


@channel
def exception_on_span(secret: str) -> None:
    with pytest.raises(RuntimeError), agentobs.task("boom"):
        raise RuntimeError(f"login failed with {secret}")


@channel
def intervention_reason_and_metric_label(secret: str) -> None:
    with agentobs.workflow("wf"):
        agentobs.human_intervention(f"approve {secret}")


@channel
def gate_reason(secret: str) -> None:
    with agentobs.workflow("gated"):
        agentobs.record_gate("review", False, reason=f"leaked {secret}")


@channel
def prompt(secret: str) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_input([{"role": "user", "content": f"my key is {secret}"}])
        call.record_usage(input_tokens=10, output_tokens=2)


@channel
def system_instructions(secret: str) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_input([{"role": "user", "content": "hi"}], system=f"use {secret}")
        call.record_usage(input_tokens=10, output_tokens=2)


@channel
def completion(secret: str) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_input([{"role": "user", "content": "hi"}])
        call.record_response(_chat(content=f"here: {secret}"))


@channel
def tool_arguments(secret: str) -> None:
    arguments = json.dumps({"query": "status", "credentials": secret, "text": secret})
    call_ = {"id": "c1", "type": "function", "function": {"name": "db", "arguments": arguments}}
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_input([{"role": "user", "content": "hi"}])
        call.record_response(_chat(content=None, tool_calls=[call_]))


@channel
def third_party_span(secret: str) -> None:
    with trace.get_tracer("other.lib").start_as_current_span("other", attributes={"q": secret}):
        pass


@channel
def third_party_event(secret: str) -> None:
    with trace.get_tracer("other.lib").start_as_current_span("other-evt") as span:
        span.add_event("sent", {"payload": f"body {secret}"})


@channel
def log_arguments(secret: str) -> None:
    logging.getLogger("app").warning("calling with key %s", secret)


@channel
def log_message(secret: str) -> None:
    logging.getLogger("app").error(f"request failed: {secret}")


@channel
def logger_exception(secret: str) -> None:
    try:
        raise ValueError(f"bad credentials {secret}")
    except ValueError:
        logging.getLogger("app").exception("call failed")


@channel
def log_extra_attribute(secret: str) -> None:
    logging.getLogger("app").info("with extra", extra={"detail": secret})


@channel
def third_party_metric_label(secret: str) -> None:
    metrics.get_meter("other.lib").create_counter("other.calls").add(1, {"target": secret})


def _chat(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
    return {
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


class _Lines(logging.Handler):
    """Every line agentobs and the OpenTelemetry SDK log (formatted, with tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def our_log_lines() -> Iterator[_Lines]:
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in ("agentobs", "opentelemetry")]
    for log in loggers:
        log.addHandler(handler)
    try:
        yield handler
    finally:
        for log in loggers:
            log.removeHandler(handler)


def test_corpus_is_16_forms_by_17_channels() -> None:
    assert (len(FORMS), len(CHANNELS)) == (16, 17)


@pytest.mark.backend("rotel")
def test_no_secret_reaches_any_exit_in_clear(
    rotel: Rotel,
    tmp_path: Path,
    clean_env: None,
    our_log_lines: _Lines,
    capsys: pytest.CaptureFixture[str],
) -> None:
    langfuse = LangfuseCapture()
    agentobs.testing.reset()
    before = len(rotel.output())
    stdout = io.StringIO()  # the application's own JSON log lines, agentobs's formatter
    json_lines = logging.StreamHandler(stdout)
    json_lines.setFormatter(JsonFormatter())
    logging.getLogger("app").addHandler(json_lines)
    try:
        agentobs.configure(
            exporter=("otlp", "local"),
            endpoint=rotel.http_endpoint,
            local_dir=tmp_path,
            capture_content=True,
            metric_export_interval=3600,
            langfuse={"public_key": "pk-lf-1", "secret_key": "sk-lf-1", "host": langfuse.url},
        )
        logging.getLogger("app").setLevel(logging.INFO)
        for _name, text, _core in FORMS:
            for plant in CHANNELS.values():
                plant(text)
        with agentobs.llm(provider="openai", model="gpt-4o") as call:  # the marker of the end
            call.record_usage(input_tokens=1234, output_tokens=56)
        assert agentobs.force_flush(15.0)
        poll(lambda: "1234" in rotel.output()[before:], timeout=20, what="the last span in rotel")
        poll(lambda: "other.calls" in rotel.output()[before:], timeout=20, what="metrics")
    finally:
        agentobs.shutdown(10.0)
        langfuse.close()
        logging.getLogger("app").removeHandler(json_lines)
    exits = {
        "rotel (OTLP)": rotel.output()[before:],
        "traces.jsonl": (tmp_path / "traces.jsonl").read_text(),
        "metrics.jsonl": (tmp_path / "metrics.jsonl").read_text(),
        "logs.jsonl": (tmp_path / "logs.jsonl").read_text(),
        "Langfuse": json.dumps(langfuse.requests),
        "our log lines": "\n".join(our_log_lines.lines) + capsys.readouterr().err,
        "JsonFormatter": stdout.getvalue(),
    }
    assert "other.calls" in exits["metrics.jsonl"]
    assert "calling with key" in exits["logs.jsonl"]
    assert langfuse.scores()
    assert langfuse.spans()
    leaks = {(name, at) for name, _, core in FORMS for at, text in exits.items() if core in text}
    total = len(FORMS) * len(CHANNELS)
    print(f"\nsecrets in clear: {len(leaks)} (form, exit) pairs; {total} x {len(exits)}")
    assert not leaks, sorted(leaks)
    # Token counts are numbers: never scrubbed (the last call's usage is whole in every exit).
    assert '"gen_ai.usage.input_tokens","value":{"intValue":"1234"}' in exits["traces.jsonl"]
    assert "[REDACTED" in exits["traces.jsonl"]
    assert "[REDACTED" in exits["logs.jsonl"]


def test_each_form_in_each_channel_is_scrubbed_in_memory(clean_env: None) -> None:
    """The same corpus, channel by channel (the in-memory capture of agentobs.testing)."""
    leaks = []
    with agentobs.testing.capture(capture_content=True) as cap:
        logging.getLogger("app").setLevel(logging.INFO)
        for name, text, core in FORMS:
            for channel_name, plant in CHANNELS.items():
                cap.clear()
                points_before = {repr(p) for p in cap.metric_points()}  # they are cumulative
                plant(text)
                dump = repr([(s.name, s.attributes, s.events, s.status) for s in cap.spans])
                dump += repr([(r.log_record.body, r.log_record.attributes) for r in cap.logs])
                dump += repr({repr(p) for p in cap.metric_points()} - points_before)
                if core in dump:
                    leaks.append((name, channel_name))
    print(f"\nsecrets in clear in memory: {len(leaks)} of {len(FORMS) * len(CHANNELS)}")
    assert not leaks, leaks


def test_token_usage_attributes_are_not_scrubbed(cap: agentobs.testing.Capture) -> None:
    with agentobs.llm(provider="openai", model="gpt-4o") as call:
        call.record_usage(input_tokens=120, output_tokens=30)
    span = cap.span("chat gpt-4o")
    assert span.attributes["gen_ai.usage.input_tokens"] == 120
    assert span.attributes["gen_ai.usage.output_tokens"] == 30
    points = cap.metric_points("gen_ai.client.token.usage")
    assert {p.attributes["gen_ai.token.type"] for p in points} == {"input", "output"}
    from agentobs._export.scrub import Scrubber

    text = 'usage {"input_tokens": 120, "max_tokens": 512, "total_tokens": 150}'
    assert Scrubber().text("k", text) == text


def _doctor(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "agentobs", "doctor", "--timeout", "0.2", *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_doctor_never_prints_a_credential(tmp_path: Path, as_json: bool) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://user:Pw0rdInUrl@127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://bob:TracesPw1@127.0.0.1:9/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer HeaderTok3n1234",
        "OTEL_RESOURCE_ATTRIBUTES": "note=password%3DResPw9876",
        "AGENTOBS_LOCAL_DIR": str(tmp_path),
    }
    out = _doctor(env, *(["--json"] if as_json else []))
    assert "127.0.0.1" in out
    for secret in ("Pw0rdInUrl", "TracesPw1", "HeaderTok3n1234", "ResPw9876"):
        assert secret not in out, out
    if as_json:
        json.loads(out[: out.rindex("}") + 1])


def test_a_malformed_endpoint_warning_does_not_repeat_its_password(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, our_log_lines: _Lines
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:MalformedPw1@host:99999")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    agentobs.testing.reset()
    try:
        agentobs.configure()
    finally:
        agentobs.shutdown()
    text = "\n".join(our_log_lines.lines)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in text
    assert "MalformedPw1" not in text


def test_malformed_headers_do_not_make_the_sdk_log_their_values(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, our_log_lines: _Lines
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer SdkTok3n,broken")
    for protocol in ("http/protobuf", "grpc"):
        agentobs.testing.reset()
        try:
            agentobs.configure(
                exporter="otlp", endpoint="http://127.0.0.1:9", protocol=protocol, logs=False
            )
        finally:
            agentobs.shutdown(0.5)
    text = "\n".join(our_log_lines.lines)
    assert "Header format invalid" in text or "OTEL_EXPORTER_OTLP_HEADERS" in text
    assert "SdkTok3n" not in text, text
