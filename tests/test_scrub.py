"""Secrets and content: the scrubbing at export (every span, third-party ones too), content
capture settings, truncation, and the hard off switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace

import agentobs
import agentobs.testing
from agentobs._export.scrub import Scrubber, ScrubMatch
from agentobs.testing import Capture

SECRETS = {
    "API key": [
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUV_wxyz-0123",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "xoxb-123456789012-abcdefghijkl",
    ],
    "token": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"],
}


def exported(cap: Capture, name: str) -> Any:
    return cap.span(name)


@pytest.mark.parametrize(
    ("kind", "secret"), [(kind, secret) for kind, values in SECRETS.items() for secret in values]
)
def test_value_patterns_are_redacted_without_echo(cap: Capture, kind: str, secret: str) -> None:
    with agentobs.task("t", note=f"using {secret} now"):
        pass
    note = exported(cap, "task t").attributes["note"]
    assert note == f"using [REDACTED {kind}] now"
    assert secret[4:12] not in note


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Authorization: Bearer abc.def-ghi_123456",
            "Authorization: Bearer [REDACTED bearer token]",
        ),
        ("auth basic dXNlcjpwYXNzd29yZA==", "auth basic [REDACTED basic credentials]"),
        ("login with password=hunter2!", "login with password=[REDACTED password]"),
        ('{"api_key": "k-123456"}', '{"api_key": "[REDACTED secret]"}'),
        ("postgres://admin:s3cr3t@db:5432/x", "postgres://admin:[REDACTED password]@db:5432/x"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "[REDACTED private key]",
        ),
        ("nothing to see here", "nothing to see here"),
    ],
)
def test_contextual_patterns(text: str, expected: str) -> None:
    assert Scrubber().text("k", text) == expected


def test_secret_keys_lose_their_whole_value_but_tokens_are_not_secrets(cap: Capture) -> None:
    with agentobs.llm(model="gpt-4o") as call:
        call.set_attributes(
            **{
                "http.request.header.authorization": "opaque-value",
                "session.id": "sess-1",
                "db.password": "x",
            }
        )
        call.record_usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=3)
    attrs = exported(cap, "chat gpt-4o").attributes
    assert attrs["http.request.header.authorization"] == (
        "[REDACTED value of http.request.header.authorization]"
    )
    assert attrs["db.password"] == "[REDACTED value of db.password]"
    assert attrs["session.id"] == "sess-1"
    assert attrs["gen_ai.usage.input_tokens"] == 10
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 3


def test_third_party_spans_events_and_status_are_scrubbed(cap: Capture) -> None:
    tracer = trace.get_tracer("some.other.library")
    key = SECRETS["API key"][0]
    with tracer.start_as_current_span(f"call with {key}") as span:
        span.set_attribute("llm.request", f"Bearer {key}")
        span.add_event("retry", {"detail": f"key={key}"})
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"bad key {key}"))
    [span] = cap.spans
    assert key not in json.dumps(
        [span.name, dict(span.attributes), [dict(e.attributes) for e in span.events],
         span.status.description]
    )  # fmt: skip
    assert span.name == "call with [REDACTED API key]"
    assert span.status.description == "bad key [REDACTED API key]"


def test_exception_messages_are_scrubbed(cap: Capture) -> None:
    with pytest.raises(RuntimeError), agentobs.task("t"):
        raise RuntimeError("failed with token sk-abcdefghijklmnopqrstuvwxyz")
    event = exported(cap, "task t").events[0]
    assert "sk-abcdefghijklmnop" not in event.attributes["exception.message"]
    assert "[REDACTED API key]" in event.attributes["exception.message"]


def test_user_patterns_and_callback(clean_env: None) -> None:
    seen: list[ScrubMatch] = []

    def decide(match: ScrubMatch) -> str | None:
        seen.append(match)
        return match.text if match.text.endswith("PUBLIC") else None

    patterns = {"employee id": r"EMP-\d{6}", "ticket": r"TKT-[A-Z]+"}
    with agentobs.testing.capture(scrub_patterns=patterns, scrub_callback=decide) as cap:
        with agentobs.task("t", a="EMP-123456", b="TKT-PUBLIC", c="TKT-SECRET"):
            pass
        attrs = cap.span("task t").attributes
    assert (attrs["a"], attrs["b"], attrs["c"]) == (
        "[REDACTED employee id]",
        "TKT-PUBLIC",
        "[REDACTED ticket]",
    )
    assert {(m.key, m.kind) for m in seen} == {
        ("a", "employee id"),
        ("b", "ticket"),
        ("c", "ticket"),
    }
    with pytest.raises(ValueError, match="scrub_patterns"):
        agentobs.configure(exporter="none", scrub_patterns=["("])


def test_scrubbing_can_be_turned_off(clean_env: None) -> None:
    key = SECRETS["API key"][0]
    with agentobs.testing.capture(scrubbing=False) as cap:
        with agentobs.task("t", note=key):
            pass
        assert cap.span("task t").attributes["note"] == key


def test_scrubbed_content_is_still_valid_json(clean_env: None) -> None:
    key = SECRETS["API key"][1]
    with agentobs.testing.capture(capture_content=True) as cap:
        with agentobs.llm(model="gpt-4o") as call:
            call.record_input([{"role": "user", "content": f'use "{key}" and password: hunter22'}])
            call.record_usage(input_tokens=1, output_tokens=1)
        raw = cap.span("chat gpt-4o").attributes["gen_ai.input.messages"]
    messages = json.loads(raw)
    text = messages[0]["parts"][0]["content"]
    assert text == 'use "[REDACTED API key]" and password: [REDACTED password]'


def test_scrubbing_happens_before_pipeline_exporters(clean_env: None, tmp_path: Path) -> None:
    key = SECRETS["API key"][0]
    agentobs.testing.reset()
    try:
        agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
        with agentobs.task("t", note=key):
            pass
        agentobs.force_flush()
    finally:
        agentobs.testing.reset()
    written = (tmp_path / "traces.jsonl").read_text()
    assert "[REDACTED API key]" in written
    assert key not in written


def test_batch_processors_given_to_the_pipeline_scrub_off_the_calling_thread(
    clean_env: None,
) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agentobs._export import pipeline as _pipeline
    from agentobs._export.scrub import ScrubbingSpanExporter, ScrubbingSpanProcessor
    from agentobs._settings import resolve

    class Peeking(BatchSpanProcessor):
        def on_end(self, span: Any) -> None:  # sees spans itself: must get them clean
            super().on_end(span)

    key = SECRETS["API key"][0]
    memory, peeked = InMemorySpanExporter(), InMemorySpanExporter()
    batch, peeking = BatchSpanProcessor(memory), Peeking(peeked)
    agentobs.testing.reset()
    try:
        _pipeline.install(resolve(exporter="none", logs=False), span_processors=[batch, peeking])
        pipeline = _pipeline.current()
        assert pipeline is not None
        assert batch in pipeline.span_processors  # as it is: its exporter scrubs
        assert isinstance(batch.span_exporter, ScrubbingSpanExporter)
        [behind] = [p for p in pipeline.span_processors if isinstance(p, ScrubbingSpanProcessor)]
        assert behind.processors == [peeking]
        with trace.get_tracer("third.party").start_as_current_span(f"call {key}") as span:
            span.set_attribute("note", f"key={key}")
        with agentobs.task("t", note=key):
            pass
        assert agentobs.force_flush()
        for exporter in (memory, peeked):
            spans = {s.name: s for s in exporter.get_finished_spans()}
            assert set(spans) == {"call [REDACTED API key]", "task t"}
            assert spans["call [REDACTED API key]"].attributes["note"] == "key=[REDACTED API key]"
            assert spans["task t"].attributes["note"] == "[REDACTED API key]"
    finally:
        agentobs.testing.reset()


def test_with_nothing_to_clean_processors_are_given_as_they_are(clean_env: None) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agentobs._export import pipeline as _pipeline
    from agentobs._settings import resolve

    exporter = InMemorySpanExporter()
    given = [BatchSpanProcessor(exporter), SimpleSpanProcessor(InMemorySpanExporter())]
    agentobs.testing.reset()
    try:
        _pipeline.install(
            resolve(exporter="none", logs=False, scrubbing=False, interop=False),
            span_processors=given,
        )
        pipeline = _pipeline.current()
        assert pipeline is not None
        assert pipeline.span_processors == given
        assert given[0].span_exporter is exporter
    finally:
        agentobs.testing.reset()


def test_content_capture_settings(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def captured(**kwargs: Any) -> bool:
        with agentobs.testing.capture(**kwargs) as cap:
            with agentobs.llm(model="m") as call:
                call.record_input("hello")
                call.record_usage(input_tokens=1)
            return "gen_ai.input.messages" in cap.span("chat m").attributes

    assert not captured()
    assert captured(capture_content=True)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    assert captured()
    assert not captured(capture_content=False)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT")
    assert not captured()


def test_content_is_truncated_to_the_configured_size(clean_env: None) -> None:
    with agentobs.testing.capture(capture_content=True, max_content_size=100) as cap:
        with agentobs.llm(model="m") as call:
            call.record_input([{"role": "user", "content": "x" * 1000}])
            call.record_usage(input_tokens=1)
        attrs = cap.span("chat m").attributes
    text = json.loads(attrs["gen_ai.input.messages"])[0]["parts"][0]["content"]
    assert text == "x" * 100 + "…[truncated 900 chars]"
    assert attrs["agentobs.content.truncated"] is True


HARD_OFF = textwrap.dedent(
    """
    import json, os
    import agentobs, agentobs.testing
    from opentelemetry import trace
    os.environ["AGENTOBS_DISABLE_CONTENT_CAPTURE"] = "false"  # code cannot undo the switch
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    with agentobs.testing.capture(capture_content=True) as cap:
        with agentobs.llm(model="m", capture_content=True) as call:
            call.record_input([{"role": "user", "content": "private words"}])
            call.record_response({"choices": [{"message": {"content": "reply"}}]})
        with trace.get_tracer("openllmetry").start_as_current_span("other") as span:
            span.set_attribute("gen_ai.prompt.0.content", "private words")
            span.set_attribute("input.value", "private words")
            span.add_event("gen_ai.user.message", {"content": "private words"})
        spans = [
            {"name": s.name, "attributes": dict(s.attributes), "events": [e.name for e in s.events]}
            for s in cap.spans
        ]
    print(json.dumps(spans))
    """
)


def test_hard_off_switch_cannot_be_reenabled(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    env["AGENTOBS_DISABLE_CONTENT_CAPTURE"] = "true"
    done = subprocess.run(
        [sys.executable, "-c", HARD_OFF], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "private words" not in done.stdout
    assert "reply" not in done.stdout
    spans = {s["name"]: s for s in json.loads(done.stdout)}
    assert "gen_ai.input.messages" not in spans["chat m"]["attributes"]
    other = spans["other"]
    assert sorted(other["attributes"]["agentobs.content.removed"]) == [
        "gen_ai.prompt.0.content",
        "input.value",
    ]
    assert other["events"] == []


def test_a_clean_text_runs_no_pattern_and_a_secret_is_still_found() -> None:
    """A text without an anchor of the default patterns ("passed", a test id) is clean at a
    substring search: the combined pattern is not even compiled (a pytest run with the plugin
    never pays for it); every spelling of the password keys still is an anchor."""
    scrubber = Scrubber()
    for clean in ("passed", "test_six.py::test_move_items[passthrough]", "xpassed"):
        assert scrubber.text("k", clean) == clean
    assert scrubber._any is None
    for key in ("password", "PassWd", "PASSPHRASE", "pwd"):
        assert scrubber.text("k", f"{key}=hunter2!") == f"{key}=[REDACTED password]"
    assert scrubber._any is not None
