"""Langfuse: no Langfuse server can run here (see shared/design/BACKENDS.md §5), so a loopback
capture server answers its three endpoints, decodes what is sent (OTLP protobuf, score JSON)
and the tests assert on that."""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import agentobs
import agentobs.testing
from agentobs import _hooks
from agentobs._llm import cost as prices
from agentobs._settings import resolve

PUBLIC, SECRET = "pk-lf-test", "sk-lf-test"


class LangfuseCapture:
    """Records the OTLP traces and score batches sent to it, as Langfuse would receive them."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                record: dict[str, Any] = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
                reply, kind = b"{}", "application/json"
                if self.path.endswith("/v1/traces"):
                    message = ExportTraceServiceRequest()
                    message.ParseFromString(body)
                    record["otlp"] = MessageToDict(message)
                    reply = ExportTraceServiceResponse().SerializeToString()
                    kind = "application/x-protobuf"
                elif body:
                    record["json"] = json.loads(body)
                with capture.lock:
                    capture.requests.append(record)
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        found = []
        for request in self.requests:
            for resource in request.get("otlp", {}).get("resourceSpans", []):
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        attrs = {a["key"]: _value(a["value"]) for a in span.get("attributes", [])}
                        found.append({**span, "attrs": attrs})
        return found

    def scores(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for request in self.requests:
            if request["path"].startswith("/api/public/scores"):
                body = request["json"]
                found += body if isinstance(body, list) else [body]
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(value: dict[str, Any]) -> Any:
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    return next(iter(value.values()), None)


@pytest.fixture
def langfuse_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LangfuseCapture]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    agentobs.testing.reset()
    server = LangfuseCapture()
    try:
        yield server
    finally:
        agentobs.testing.reset()
        server.close()


def _fleet() -> None:
    with agentobs.workflow("release"), agentobs.stage("implement"), agentobs.persona("coder"):
        with agentobs.agent("builder"), agentobs.tool("grep"):
            pass
        with agentobs.llm(provider="openai", model="gpt-4o") as call:
            call.record_usage(input_tokens=120, output_tokens=30, cache_read_input_tokens=20)
        with agentobs.quality_gate("lint", threshold=0.5) as gate:
            gate.score(0.9)


def test_spans_and_scores_reach_langfuse(langfuse_server: LangfuseCapture, tmp_path: Path) -> None:
    keys = {"public_key": PUBLIC, "secret_key": SECRET, "host": langfuse_server.url}
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False, langfuse=keys)
    # A call that ends before the price table has loaded carries agentobs.cost.pending on its
    # span, not a cost: let the table load first (slow on a loaded machine, alone in a run).
    prices.warm()
    assert prices.wait_ready(60)
    _fleet()
    assert agentobs.force_flush()
    agentobs.shutdown()

    traces = [r for r in langfuse_server.requests if r["path"] == "/api/public/otel/v1/traces"]
    assert traces, langfuse_server.requests
    headers = traces[0]["headers"]
    assert (
        headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    )
    assert headers["x-langfuse-ingestion-version"] == "4"
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/x-protobuf"

    spans = {s["name"]: s["attrs"] for s in langfuse_server.spans()}
    types = {name: attrs.get("langfuse.observation.type") for name, attrs in spans.items()}
    assert types == {
        "invoke_workflow release": "chain",
        "stage implement": "chain",
        "persona coder": "chain",
        "invoke_agent builder": "agent",
        "execute_tool grep": "tool",
        "chat gpt-4o": "generation",
        "quality_gate lint": "evaluator",
    }
    generation = spans["chat gpt-4o"]
    assert json.loads(generation["langfuse.observation.usage_details"]) == {
        "input": 100,
        "output": 30,
        "cache_read_input_tokens": 20,
        "total": 150,
    }
    cost = json.loads(generation["langfuse.observation.cost_details"])["total"]
    assert cost == pytest.approx(generation["agentobs.cost.usd"])
    assert generation["langfuse.observation.model.name"] == "gpt-4o"

    gate = next(s for s in langfuse_server.spans() if s["name"] == "quality_gate lint")
    scores = {score["name"]: score for score in langfuse_server.scores()}
    assert set(scores) == {"lint", "lint.score"}
    assert (scores["lint"]["value"], scores["lint"]["dataType"]) == (1.0, "BOOLEAN")
    assert (scores["lint.score"]["value"], scores["lint.score"]["dataType"]) == (0.9, "NUMERIC")
    trace_id = base64.b64decode(gate["traceId"]).hex()
    span_id = base64.b64decode(gate["spanId"]).hex()
    assert scores["lint"]["traceId"] == trace_id
    assert scores["lint"]["observationId"] == span_id

    local = (tmp_path / "traces.jsonl").read_text()  # the other exporter: no Langfuse attributes
    assert "invoke_workflow release" in local
    assert "langfuse.observation" not in local
    assert not _hooks.RESULT_HOOKS  # shutdown unregistered the score hook


def test_langfuse_client_leaves_the_global_provider_alone(langfuse_server: LangfuseCapture) -> None:
    keys = {"public_key": PUBLIC, "secret_key": SECRET, "host": langfuse_server.url}
    with agentobs.testing.capture(langfuse=keys) as cap:
        provider = trace.get_tracer_provider()
        processors = list(provider._active_span_processor._span_processors)  # type: ignore[attr-defined]
        with agentobs.quality_gate("lint"):
            pass
        assert processors == list(provider._active_span_processor._span_processors)  # type: ignore[attr-defined]
        assert {s.instrumentation_scope.name for s in cap.spans} == {"agentobs"}
        agentobs.force_flush()
    deadline = time.monotonic() + 5
    while not langfuse_server.scores() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s["name"] for s in langfuse_server.scores()] == ["lint"]
    assert all(
        "langfuse-sdk" not in json.dumps(r.get("otlp", {})) for r in langfuse_server.requests
    )


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET}
    settings = resolve(env={**env, "LANGFUSE_HOST": "http://127.0.0.1:1"})
    assert settings.langfuse is not None
    assert settings.langfuse.traces_endpoint == "http://127.0.0.1:1/api/public/otel/v1/traces"
    assert SECRET not in repr(settings)
    assert resolve(env=env).langfuse.host == "https://cloud.langfuse.com"  # type: ignore[union-attr]
    assert resolve(env={**env, "AGENTOBS_LANGFUSE": "false"}).langfuse is None
    assert resolve(env=env, langfuse=False).langfuse is None
    assert resolve(env={}).langfuse is None
    with pytest.raises(ValueError, match=r"langfuse=True\): needs LANGFUSE_PUBLIC_KEY"):
        resolve(env={}, langfuse=True)


def test_a_pipeline_that_exports_no_span_still_sends_scores(
    langfuse_server: LangfuseCapture, tmp_path: Path
) -> None:
    """An xdist worker's pipeline (``export_spans=False``: its controller exports the spans)
    sends Langfuse no trace, the controller does; the worker's gate scores still go."""
    from agentobs._export import pipeline

    keys = {"public_key": PUBLIC, "secret_key": SECRET, "host": langfuse_server.url}
    settings = resolve(exporter="local", local_dir=tmp_path, logs=False, langfuse=keys)
    pipeline.install(settings, export_spans=False)
    with agentobs.quality_gate("lint", threshold=0.5) as gate:
        gate.score(0.9)
    assert agentobs.force_flush()
    agentobs.shutdown()

    assert {score["name"] for score in langfuse_server.scores()} == {"lint", "lint.score"}
    assert not [r for r in langfuse_server.requests if r["path"].endswith("/v1/traces")]
    assert not (tmp_path / "traces.jsonl").exists()
    assert (tmp_path / "metrics.jsonl").exists()  # the other signals export as configured
