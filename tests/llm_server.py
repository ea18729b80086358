"""A fake OpenAI and Anthropic API on 127.0.0.1 (port 0), for driving the real client libraries.

It answers with the documented JSON bodies and server-sent-event streams of OpenAI Chat
Completions (``/v1/chat/completions``), OpenAI Responses (``/v1/responses``) and Anthropic
Messages (``/v1/messages``), records every request, and can be told to misbehave: answer an
error status (``fail``), answer too late (``hang``) or cut a stream after some chunks (``cut``).
Streams use chunked transfer encoding, so a cut is a real protocol error for the client.
"""

from __future__ import annotations

import collections
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

TEXT = ["Hel", "lo ", "world"]
OPENAI_MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"
CHAT_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0},
}
RESPONSES_USAGE = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 27,
}
ANTHROPIC_USAGE = {
    "input_tokens": 10,
    "output_tokens": 6,
    "cache_creation_input_tokens": 3,
    "cache_read_input_tokens": 8,
}


@dataclass
class Fault:
    """One scripted misbehaviour: an error status, a delay, or a stream cut."""

    status: int = 200
    delay: float = 0.0
    cut_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Request:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _chat(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(TEXT), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": CHAT_USAGE,
    }


def _chat_events(model: str, include_usage: bool) -> list[tuple[str | None, Any]]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000}
    base["model"] = model
    extra = {"usage": None} if include_usage else {}
    events: list[tuple[str | None, Any]] = []
    first = {"role": "assistant", "content": ""}
    for delta in [first, *({"content": t} for t in TEXT)]:
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        events.append((None, {**base, "choices": [choice], **extra}))
    events.append(
        (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra})
    )
    if include_usage:
        events.append((None, {**base, "choices": [], "usage": CHAT_USAGE}))
    events.append((None, "[DONE]"))
    return events


def _response(model: str, status: str = "completed") -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "model": model,
        "output": []
        if not done
        else [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(TEXT), "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": RESPONSES_USAGE if done else None,
    }


def _responses_events(model: str) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    seq = iter(range(1000))
    events.append(
        ("response.created", {"type": "response.created", "sequence_number": next(seq),
                              "response": _response(model, "in_progress")})
    )  # fmt: skip
    for text in TEXT:
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(seq),
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                },
            )
        )
    events.append(
        ("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                "response": _response(model)})
    )  # fmt: skip
    return events


def _message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(TEXT)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }


def _message_events(model: str) -> list[tuple[str | None, Any]]:
    start = {**_message(model), "content": [], "stop_reason": None}
    start["usage"] = {**ANTHROPIC_USAGE, "output_tokens": 1}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]  # fmt: skip
    for text in TEXT:
        delta = {"type": "text_delta", "text": text}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return events


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) breaks the pipe: expected, not printed."""


class FakeLLM:
    """The server: ``base_url`` for OpenAI (``/v1``) and ``anthropic_url`` for Anthropic."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self.first_chunk_delay = 0.0
        self.chunk_delay = 0.0
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next ``times`` requests to ``path`` with ``status``."""
        body = {"error": {"message": f"fake {status}", "type": "error", "code": str(status)}}
        if path.endswith("/messages"):
            body = {"type": "error", "error": {"type": "api_error", "message": f"fake {status}"}}
        clean = {k.replace("_", "-"): v for k, v in headers.items()}
        for _ in range(times):
            self.faults[path].append(Fault(status=status, headers=clean, body=body))

    def hang(self, path: str, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before answering the next ``times`` requests to ``path``."""
        for _ in range(times):
            self.faults[path].append(Fault(delay=seconds))

    def cut(self, path: str, after: int, times: int = 1) -> None:
        """Break the connection of the next streams of ``path`` after ``after`` events."""
        for _ in range(times):
            self.faults[path].append(Fault(cut_after=after))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path.split("?")[0]
                fake.requests.append(Request("POST", path, dict(self.headers), body))
                queue = fake.faults.get(path)
                fault = queue.popleft() if queue else Fault()
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status != 200:
                    self._json(fault.status, fault.body or {}, fault.headers)
                    return
                model = (body or {}).get("model") or "model"
                if path.endswith("/chat/completions"):
                    model = OPENAI_MODEL if model.startswith("gpt-4o") else model
                    if body.get("stream"):
                        usage = bool((body.get("stream_options") or {}).get("include_usage"))
                        self._sse(_chat_events(model, usage), fault.cut_after)
                    else:
                        self._json(200, _chat(model))
                elif path.endswith("/responses"):
                    model = OPENAI_MODEL if model.startswith("gpt-4o") else model
                    if body.get("stream"):
                        self._sse(_responses_events(model), fault.cut_after)
                    else:
                        self._json(200, _response(model))
                elif path.endswith("/messages"):
                    model = ANTHROPIC_MODEL if model.startswith("claude-haiku-4-5") else model
                    if body.get("stream"):
                        self._sse(_message_events(model), fault.cut_after)
                    else:
                        self._json(200, _message(model))
                else:
                    self._json(404, {"error": {"message": "no such path"}})

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", "req_1")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: list[tuple[str | None, Any]], cut_after: int | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("request-id", "req_1")
                self.end_headers()
                for index, (name, data) in enumerate(events):
                    if cut_after is not None and index >= cut_after:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.close()
                        return
                    delay = fake.first_chunk_delay if index == 0 else fake.chunk_delay
                    if delay:
                        time.sleep(delay)
                    text = data if isinstance(data, str) else json.dumps(data)
                    payload = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
                    chunk = payload.encode()
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
