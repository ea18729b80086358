"""The HTTP body of a raw client response, read as the caller reads it, for the call's usage.

``with_raw_response`` and ``with_streaming_response`` calls of the OpenAI and Anthropic
clients return the HTTP response, not the parsed model: the caller parses it (``.parse()``,
``.json()``, ``.text()``, ``.read()``, ``.iter_lines()``...) or only reads its headers. Every
one of those reads goes through the HTTP response's ``iter_bytes`` / ``aiter_bytes``, so the
call is followed there, on that one response object:

* a body already read (``with_raw_response`` without ``stream``) is read at once;
* a streamed body is seen chunk by chunk as the caller reads it (server-sent events are
  decoded line by line, a JSON body is kept up to :data:`MAX_JSON_BODY` bytes), and the call
  ends when the body ends, is closed unread, fails, or the response is dropped.

The caller receives the same object and the same bytes as without agentobs.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from .._errors import internal_errors
from .streams import END_ABANDONED, END_CLOSED, END_ERROR, END_EXHAUSTED, Ending, StreamOwner
from .usage import StreamState


class BodyOwner(StreamOwner, Protocol):
    """The LLM call a body belongs to (:class:`~agentobs._llm.run.LLMRun`)."""

    capture: bool
    stream: StreamState | None

    def take(self, result: Any) -> None:
        """Remember what a (non-stream) result says."""


MAX_JSON_BODY = 4 * 1024 * 1024
"""A JSON body larger than this is not read for usage (the call's usage is then unknown)."""


_LAST_EVENTS = frozenset(("message_stop", "response.completed", "response.incomplete"))


class Body:
    """What one response body said so far, and the one end of its call."""

    __slots__ = ("complete", "ending", "json", "line", "owner", "size", "started")

    def __init__(self, owner: BodyOwner, sse: bool) -> None:
        self.owner = owner
        self.ending = Ending(owner)
        self.json: bytearray | None = None if sse else bytearray()
        self.line = b""
        self.size = 0
        self.started = False
        self.complete = False  # the stream's last event went by
        if sse:
            owner.stream = StreamState(owner.capture)

    def feed(self, data: bytes) -> None:
        """One piece of the decoded body (never raises)."""
        with internal_errors("llm.body"):
            if self.json is not None:
                self.size += len(data)
                if self.size <= MAX_JSON_BODY:
                    self.json += data
                return
            *lines, self.line = (self.line + data).split(b"\n")
            for line in lines:
                self._event(line)

    def _event(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        payload = line[5:].strip()
        if payload == b"[DONE]":  # OpenAI Chat Completions
            self.complete = True
        elif payload:
            event = json.loads(payload)
            self.owner.on_chunk(event)
            if isinstance(event, dict) and event.get("type") in _LAST_EVENTS:
                self.complete = True

    def end(self, exc: BaseException | None, how: str) -> None:
        """End the call (once): with the JSON body's usage, or the stream's."""
        if self.ending.done:
            return
        with internal_errors("llm.body"):
            if self.json is not None and how == END_EXHAUSTED and self.size <= MAX_JSON_BODY:
                self.owner.take(json.loads(bytes(self.json)))
            elif self.json is None and self.line:
                self._event(self.line)
        self.ending.end(exc, how)


def _tap(body: Body, iterate: Any) -> Iterator[bytes]:
    body.started = True
    try:
        for data in iterate():
            body.feed(data)
            yield data
    except GeneratorExit:  # the reader stopped (a client's stream stops at its last event)
        body.end(None, END_EXHAUSTED if body.complete else END_CLOSED)
        raise
    except BaseException as exc:
        body.end(exc, END_ERROR)
        raise
    body.end(None, END_EXHAUSTED)


async def _atap(body: Body, iterate: Any) -> AsyncIterator[bytes]:
    body.started = True
    try:
        async for data in iterate():
            body.feed(data)
            yield data
    except GeneratorExit:  # the reader stopped (a client's stream stops at its last event)
        body.end(None, END_EXHAUSTED if body.complete else END_CLOSED)
        raise
    except BaseException as exc:
        body.end(exc, END_ERROR)
        raise
    body.end(None, END_EXHAUSTED)


def follow(owner: BodyOwner, result: Any) -> bool:
    """Follow the body of ``result`` (a raw client response) for ``owner``, the LLM call;
    False if ``result`` carries no HTTP response (the caller ends the call as usual)."""
    http = getattr(result, "http_response", None)
    kind: Any = type(http)
    if http is None or not callable(getattr(kind, "iter_bytes", None)):
        return False
    headers = getattr(http, "headers", None)
    content_type = str(headers.get("content-type", "")) if headers is not None else ""
    body = Body(owner, "event-stream" in content_type)
    try:
        content = http.content  # read already (with_raw_response without stream)
    except Exception:
        content = None
    if isinstance(content, bytes):
        body.feed(content)
        body.end(None, END_EXHAUSTED)
        return True
    ref = weakref.ref(http)

    def iter_bytes(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        return _tap(body, lambda: kind.iter_bytes(ref(), *args, **kwargs))

    def aiter_bytes(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        return _atap(body, lambda: kind.aiter_bytes(ref(), *args, **kwargs))

    def close() -> Any:
        try:
            return kind.close(ref())
        finally:
            if not body.started:
                body.end(None, END_CLOSED)

    async def aclose() -> Any:
        try:
            return await kind.aclose(ref())
        finally:
            if not body.started:
                body.end(None, END_CLOSED)

    http.iter_bytes = iter_bytes
    if callable(getattr(kind, "aiter_bytes", None)):
        http.aiter_bytes = aiter_bytes
    if callable(getattr(kind, "close", None)):
        http.close = close
    if callable(getattr(kind, "aclose", None)):
        http.aclose = aclose
    weakref.finalize(http, body.end, None, END_ABANDONED)
    return True
