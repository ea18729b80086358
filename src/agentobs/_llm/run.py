"""The run of one LLM call: what the user's code and the client integrations report
(usage, response, input), and how the call ends (a result, a stream, an exception)."""

from __future__ import annotations

import math
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context

from .. import _names as n
from .._engine import Run, Scope
from .._errors import internal_errors, warn_once
from .._state import STATE
from . import content as _content
from .bodies import follow
from .budget import TokenBudget
from .settings import DEFAULT_MAX_CONTENT_SIZE
from .streams import ASYNC_STREAM, SYNC_STREAM, AsyncLLMStream, LLMStream, stream_kind
from .usage import Response, StreamState, Usage, from_result

LLM_RUN_KEY = otel_context.create_key("agentobs.llm_run")
"""The LLM call the current code runs inside (set while an ``llm`` run is current)."""

DEFAULT_MAX_CONTENT = DEFAULT_MAX_CONTENT_SIZE


def content_limit() -> int:
    """Characters kept of each captured prompt or completion, as configured."""
    settings = STATE.settings
    return DEFAULT_MAX_CONTENT if settings is None else settings.max_content_size


class LLMRun(Run):
    """The handle of one LLM call: ``record_usage``, ``record_response``, ``record_input``."""

    __slots__ = (
        "budgets",
        "capture",
        "children_counted",
        "explicit",
        "first_chunk",
        "hold_usage_chunk",
        "outer",
        "output",
        "raw_body",
        "response",
        "server",
        "stream",
        "stream_context",
        "stream_end",
        "usage",
    )

    def __init__(self, scope: Scope, span: Any, parent: Any, context: Any, start: int) -> None:
        Run.__init__(self, scope, span, parent, context, start)
        self.usage: Usage | None = None
        self.explicit = False
        self.response: Response | None = None
        self.output: Any = None
        self.stream: StreamState | None = None
        self.stream_context: Any = None  # attached while a stream's own code runs, if any
        self.stream_end: str | None = None
        self.first_chunk: int | None = None
        self.capture = False
        self.hold_usage_chunk = False
        self.raw_body = False
        self.budgets: tuple[TokenBudget, ...] = ()
        self.outer: LLMRun | None = None
        self.children_counted = False
        self.server: tuple[Any, Any] | None = None

    # --- what the user's code reports ---

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_output_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Report the call's token usage (adds up when called more than once).

        ``input_tokens`` is all input, cached included; ``output_tokens`` all output,
        reasoning included. ``cost_usd`` is a cost the provider reported, if any.
        Reported usage replaces what would be read from the return value.
        """
        with internal_errors("llm.record_usage"):
            reported = Usage(
                _count(input_tokens, "input_tokens"),
                _count(output_tokens, "output_tokens"),
                _count(cache_read_input_tokens, "cache_read_input_tokens"),
                _count(cache_creation_input_tokens, "cache_creation_input_tokens"),
                _count(reasoning_output_tokens, "reasoning_output_tokens"),
                _cost_usd(cost_usd),
            )
            self.usage = (
                reported if not self.explicit or self.usage is None else (self.usage.plus(reported))
            )
            self.explicit = True

    def record_response(self, response: Any) -> None:
        """Read usage, model, id and finish reasons from a response object or dict."""
        with internal_errors("llm.record_response"):
            self.take(response)

    def record_input(self, messages: Any, system: Any = None) -> None:
        """Record the prompt (chat messages, and system instructions) if content is captured."""
        if self.capture:
            with internal_errors("llm.record_input"):
                set_input(self, _content.input_messages(messages), system)

    # --- engine side ---

    def take(self, result: Any) -> None:
        """Remember what a (non-stream) result says."""
        found = from_result(result)
        if found is not None:
            self.response = found
        if self.capture:
            self.output = _content.output_messages(result) or None

    def on_chunk(self, chunk: Any) -> bool:
        """A stream chunk went by (see :class:`~agentobs._llm.streams.StreamOwner`)."""
        if self.first_chunk is None:
            self.first_chunk = time_ns()
        state = self.stream
        if state is not None:
            handler = state.handler  # StreamState.add, inlined once the chunks' kind is known
            if handler is not None:
                handler(chunk)
            else:
                state.add(chunk)
            if self.hold_usage_chunk and not getattr(chunk, "choices", True):
                return getattr(chunk, "usage", None) is not None
        return False

    def finish_stream(self, exc: BaseException | None, how: str) -> None:
        """The stream ended: end the call (exactly once; see ``_streams``)."""
        self.stream_end = how
        state = self.stream
        if state is not None:
            self.response = state.response()
            if self.capture and state.text:
                self.output = _content.streamed_output("".join(state.text), state.finish_reasons)
        self.scope.end(self, exc)

    def finish(self, result: Any) -> Any:
        """End the call with ``result``, or wrap ``result`` if it is a stream (then the call
        ends with the stream). Returns what the caller should receive."""
        try:
            if self.raw_body and follow(self, result):
                return result  # the call ends with the body (see ``bodies``)
            kind = stream_kind(result)
            if kind == SYNC_STREAM:
                self.stream = StreamState(self.capture)
                return LLMStream(result, self, self.stream_context)
            if kind == ASYNC_STREAM:
                self.stream = StreamState(self.capture)
                return AsyncLLMStream(result, self, self.stream_context)
            self.take(result)
        except Exception as exc:
            with internal_errors("llm.finish"):
                raise exc
        self.scope.end(self, None)
        return result


def _count(value: Any, field: str) -> int | None:
    """A token count, or None with one warning per field (and type) when it is not one."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        warn_once(
            f"usage-type:{field}:{type(value).__name__}",
            "agentobs: record_usage(%s=%r): not a number of tokens >= 0; this count is "
            "ignored (the call's other counts are kept)",
            field,
            value,
        )
        return None
    return int(value)


def _cost_usd(value: Any) -> float | None:
    """A reported cost in USD, or None with one warning when it is not one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        warn_once(
            f"usage-cost:{type(value).__name__}",
            "agentobs: record_usage(cost_usd=%r): not a number of USD >= 0; ignored",
            value,
        )
        return None
    return float(value) if math.isfinite(value) else None


def set_input(run: LLMRun, messages: list[dict[str, Any]], system: Any) -> None:
    limit = content_limit()
    attributes: dict[str, Any] = {}
    truncated = False
    if messages:
        attributes[n.INPUT_MESSAGES], cut = _content.encode(messages, limit)
        truncated = truncated or cut
    if system:
        instructions = _content.system_instructions(system)
        attributes[n.SYSTEM_INSTRUCTIONS], cut = _content.encode(instructions, limit)
        truncated = truncated or cut
    if truncated:
        attributes[n.CONTENT_TRUNCATED] = True
    run.span.set_attributes(attributes)
