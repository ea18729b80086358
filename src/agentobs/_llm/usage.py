"""Token usage and response facts read from what a model call returned.

Known shapes, read by duck typing (objects or plain dicts, no client library imported):

* OpenAI Chat Completions (and LiteLLM, which returns the same shape): ``usage.prompt_tokens``
  (includes cached input), ``completion_tokens`` (includes reasoning),
  ``prompt_tokens_details.cached_tokens``, ``completion_tokens_details.reasoning_tokens``.
* OpenAI Responses: ``usage.input_tokens`` (includes cached), ``output_tokens``,
  ``input_tokens_details.cached_tokens``, ``output_tokens_details.reasoning_tokens``.
* Anthropic Messages: ``usage.input_tokens`` *excludes* cache reads and writes, which come as
  ``cache_read_input_tokens`` and ``cache_creation_input_tokens``.
* Google Gemini: ``usage_metadata.prompt_token_count`` and friends.
* A plain dict with a ``usage`` key in any of these forms.

Counts follow the GenAI conventions: ``input_tokens`` includes cached input (read and
written), ``output_tokens`` includes reasoning. Streams are read chunk by chunk by
:class:`StreamState`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PROVIDERS_BY_MODULE = {"openai": "openai", "anthropic": "anthropic", "google": "gcp.gemini"}


@dataclass(slots=True)
class Usage:
    """Tokens of one model call (``None`` where the provider did not say)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    cost_usd: float | None = None
    """A cost the provider (or a gateway such as LiteLLM or OpenRouter) reported itself."""

    def plus(self, other: Usage) -> Usage:
        """The sum of two usages (``None`` only where both are ``None``)."""
        return Usage(
            _add(self.input_tokens, other.input_tokens),
            _add(self.output_tokens, other.output_tokens),
            _add(self.cache_read_input_tokens, other.cache_read_input_tokens),
            _add(self.cache_creation_input_tokens, other.cache_creation_input_tokens),
            _add(self.reasoning_output_tokens, other.reasoning_output_tokens),
            _add(self.cost_usd, other.cost_usd),
        )

    def updated(self, other: Usage) -> Usage:
        """This usage with every field ``other`` knows replaced (stream chunks are cumulative)."""
        return Usage(
            _either(other.input_tokens, self.input_tokens),
            _either(other.output_tokens, self.output_tokens),
            _either(other.cache_read_input_tokens, self.cache_read_input_tokens),
            _either(other.cache_creation_input_tokens, self.cache_creation_input_tokens),
            _either(other.reasoning_output_tokens, self.reasoning_output_tokens),
            _either(other.cost_usd, self.cost_usd),
        )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (what budgets count)."""
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def known(self) -> bool:
        """Whether any token count is known."""
        return self.input_tokens is not None or self.output_tokens is not None


@dataclass(slots=True)
class Response:
    """What a model call returned, as far as telemetry cares."""

    usage: Usage | None = None
    model: str | None = None
    id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    provider: str | None = None


def get(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``getattr(obj, name, None)``."""
    if type(obj) is dict:
        return obj.get(name)
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _getter(obj: Any) -> Callable[[str], Any]:
    """``get`` bound to ``obj`` (a dict's own ``get`` for a dict: no Python call per read)."""
    if isinstance(obj, dict):
        return obj.get

    def read(name: str) -> Any:
        return getattr(obj, name, None)

    return read


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _either(first: Any, second: Any) -> Any:
    return second if first is None else first


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def usage_from(usage: Any) -> Usage | None:
    """A :class:`Usage` from a ``usage`` object or dict of any known shape, else ``None``."""
    if usage is None:
        return None
    g = _getter(usage)
    prompt = _int(g("prompt_tokens"))
    completion = _int(g("completion_tokens"))
    cost = _float(g("cost"))
    if prompt is not None or completion is not None:  # OpenAI Chat, LiteLLM: prompt has cache
        details = g("prompt_tokens_details")
        cached = _int(get(details, "cached_tokens"))
        if cached is None:
            cached = _int(g("cache_read_input_tokens"))
        written = _int(get(details, "cache_write_tokens"))
        return Usage(
            prompt,
            completion,
            cached,
            written if written is not None else _int(g("cache_creation_input_tokens")),
            _int(get(g("completion_tokens_details"), "reasoning_tokens")),
            cost,
        )
    inp = _int(g("input_tokens"))
    out = _int(g("output_tokens"))
    if inp is None and out is None:
        return _gemini(usage)
    details = g("input_tokens_details")
    if details is not None:  # OpenAI Responses: input includes cached
        reasoning = _int(get(g("output_tokens_details"), "reasoning_tokens"))
        cached, written = (
            _int(get(details, "cached_tokens")),
            _int(get(details, "cache_write_tokens")),
        )
        return Usage(inp, out, cached, written, reasoning, cost)
    # Anthropic: input excludes cache reads and writes; add them for the GenAI total.
    read = _int(g("cache_read_input_tokens"))
    created = _int(g("cache_creation_input_tokens"))
    total = None if inp is None else inp + (read or 0) + (created or 0)
    thinking = _int(get(g("output_tokens_details"), "thinking_tokens"))
    return Usage(total, out, read, created, thinking, cost)


def _gemini(usage: Any) -> Usage | None:
    prompt = _int(get(usage, "prompt_token_count"))
    candidates = _int(get(usage, "candidates_token_count"))
    if prompt is None and candidates is None:
        return None
    thoughts = _int(get(usage, "thoughts_token_count"))
    output = None if candidates is None else candidates + (thoughts or 0)
    return Usage(prompt, output, _int(get(usage, "cached_content_token_count")), None, thoughts)


_providers_by_type: dict[type, str | None] = {}


def _provider_of(obj: Any, hidden: Any) -> str | None:
    if isinstance(hidden, dict):  # LiteLLM
        name = _str(hidden.get("custom_llm_provider"))
        if name:
            return name
    kind = type(obj)
    try:
        return _providers_by_type[kind]
    except KeyError:
        pass
    found = _PROVIDERS_BY_MODULE.get(str(getattr(kind, "__module__", "")).partition(".")[0])
    if len(_providers_by_type) < 1024:
        _providers_by_type[kind] = found
    return found


_NOT_RESULTS = (str, bytes, int, float, list, tuple)


def from_result(obj: Any) -> Response | None:
    """What telemetry reads from a call's return value, or ``None`` for an unknown shape."""
    if obj is None or isinstance(obj, _NOT_RESULTS):
        return None
    g = _getter(obj)
    usage_obj = g("usage")
    if usage_obj is None:
        usage_obj = g("usage_metadata")
    usage = usage_from(usage_obj)
    choices = g("choices")
    reasons: list[str] = []
    if isinstance(choices, list):  # Chat Completions, LiteLLM
        for choice in choices:
            reason = get(choice, "finish_reason")
            if isinstance(reason, str) and reason:
                reasons.append(reason)
    elif isinstance(g("output"), list):  # Responses
        details = g("incomplete_details")
        reason = _str(get(details, "reason")) or _str(g("status"))
        if reason:
            reasons.append(reason)
    else:  # Anthropic
        reason = _str(g("stop_reason"))
        if reason:
            reasons.append(reason)
    if usage is None and not reasons:
        return None
    hidden = getattr(obj, "_hidden_params", None)
    if usage is not None and usage.cost_usd is None and isinstance(hidden, dict):
        usage.cost_usd = _float(hidden.get("response_cost"))
    return Response(
        usage,
        _str(g("model")) or _str(g("model_version")),
        _str(g("id")),
        reasons,
        _provider_of(obj, hidden),
    )


class StreamState:
    """Reads a stream chunk by chunk: the response id and model, finish reasons, usage (which
    arrives in the last chunks) and, when content is captured, the streamed text."""

    __slots__ = ("capture", "finish_reasons", "handler", "id", "model", "text", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.usage: Usage | None = None
        self.model: str | None = None
        self.id: str | None = None
        self.finish_reasons: list[str] = []
        self.text: list[str] = []
        self.handler: Callable[[Any], None] | None = None

    def add(self, chunk: Any) -> None:
        """Take what telemetry needs from one chunk (never changes the chunk)."""
        handler = self.handler
        if handler is None:
            handler = self.handler = self._handler_for(chunk)
        handler(chunk)

    def response(self) -> Response:
        """What the stream said, once it ended."""
        return Response(self.usage, self.model, self.id, list(self.finish_reasons))

    def _handler_for(self, chunk: Any) -> Callable[[Any], None]:
        if not isinstance(chunk, dict) and isinstance(getattr(chunk, "choices", None), list):
            return self._chat_object
        if get(chunk, "choices") is not None:
            return self._chat
        if isinstance(get(chunk, "type"), str):
            return self._event
        return self._other

    def _take_usage(self, usage: Any) -> None:
        found = usage_from(usage)
        if found is not None:
            self.usage = found if self.usage is None else self.usage.updated(found)

    def _first(self, source: Any) -> None:
        if self.id is None:
            self.id = _str(get(source, "id"))
        if self.model is None:
            self.model = _str(get(source, "model"))

    def _chat(self, chunk: Any) -> None:
        if self.model is None:
            self._first(chunk)
        for choice in get(chunk, "choices") or ():
            reason = get(choice, "finish_reason")
            if reason:
                self.finish_reasons.append(reason)
            if self.capture:
                text = get(get(choice, "delta"), "content")
                if isinstance(text, str):
                    self.text.append(text)
        usage = get(chunk, "usage")
        if usage is not None:
            self._take_usage(usage)

    def _chat_object(self, chunk: Any) -> None:
        """``_chat`` for chunk objects (the OpenAI SDK's), with plain attribute access."""
        if self.model is None:
            self._first(chunk)
        for choice in chunk.choices:
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self.finish_reasons.append(reason)
            if self.capture:
                text = getattr(getattr(choice, "delta", None), "content", None)
                if isinstance(text, str):
                    self.text.append(text)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._take_usage(usage)

    def _event(self, chunk: Any) -> None:
        kind = get(chunk, "type")
        if kind == "content_block_delta" or kind == "response.output_text.delta":
            if self.capture:
                delta = get(chunk, "delta")
                text = delta if isinstance(delta, str) else get(delta, "text")
                if isinstance(text, str):
                    self.text.append(text)
        elif kind == "message_start":  # Anthropic
            message = get(chunk, "message")
            self._first(message)
            self._take_usage(get(message, "usage"))
        elif kind == "message_delta":
            reason = _str(get(get(chunk, "delta"), "stop_reason"))
            if reason:
                self.finish_reasons.append(reason)
            self._take_usage(get(chunk, "usage"))
        elif kind in ("response.created", "response.in_progress"):  # OpenAI Responses
            self._first(get(chunk, "response"))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            final = from_result(get(chunk, "response"))
            if final is not None:
                self.id = final.id or self.id
                self.model = final.model or self.model
                self.finish_reasons.extend(final.finish_reasons)
                if final.usage is not None:
                    self.usage = final.usage

    def _other(self, chunk: Any) -> None:
        self._take_usage(get(chunk, "usage"))
