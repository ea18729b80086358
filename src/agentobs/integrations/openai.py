"""OpenAI: one LLM span per Chat Completions or Responses call, sync, async and streaming.

``agentobs.instrument_openai()`` patches, through the class (so clients made before and
after are covered), ``chat.completions.create`` and ``.parse`` and ``responses.create`` and
``.parse``, sync and async. The ``.stream()`` helpers go through ``create`` and are covered
too. A second call changes only the options; :func:`uninstrument` puts everything back.
``openai`` is imported here only when asked for (``pip install 'agentobs[openai]'``).

**Usage of streamed chat completions.** OpenAI reports the usage of a streamed chat
completion only when asked (``stream_options={"include_usage": True}``), in one more,
final chunk that has no choices. When the caller did not ask, agentobs asks for it and holds
that one chunk back, so the caller receives exactly the chunks it would have received
without agentobs, and the call's tokens and cost are known. Servers that claim OpenAI
compatibility but reject ``stream_options`` may need ``instrument_openai(stream_usage=False)``,
which leaves the request as it is (the call's usage is then unknown, and says so). Calls
made through ``with_raw_response`` / ``with_streaming_response`` are never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _names as n
from .._errors import warn_once
from ._patching import Patches, Plan, request_attributes, server_attributes, traced, traced_async

_PATCHES = Patches("openai")
_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"  # with_raw_response: the caller parses

_CHAT_PARAMETERS = {
    "max_tokens": n.REQUEST_MAX_TOKENS,
    "max_completion_tokens": n.REQUEST_MAX_TOKENS,
    "temperature": n.REQUEST_TEMPERATURE,
    "top_p": n.REQUEST_TOP_P,
    "frequency_penalty": n.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": n.REQUEST_PRESENCE_PENALTY,
    "stop": n.REQUEST_STOP_SEQUENCES,
    "seed": n.REQUEST_SEED,
    "n": n.REQUEST_CHOICE_COUNT,
}
_RESPONSES_PARAMETERS = {
    "max_output_tokens": n.REQUEST_MAX_TOKENS,
    "temperature": n.REQUEST_TEMPERATURE,
    "top_p": n.REQUEST_TOP_P,
}


def _provider(client: Any) -> str:
    host = getattr(getattr(client, "base_url", None), "host", "") or ""
    return "azure.ai.openai" if str(host).endswith(".openai.azure.com") else "openai"


def _chat_plan(instance: Any, kwargs: Mapping[str, Any]) -> Plan:
    client = getattr(instance, "_client", None)
    attributes = {**server_attributes(client), **request_attributes(kwargs, _CHAT_PARAMETERS)}
    hold = False
    headers = kwargs.get("extra_headers")
    raw = isinstance(headers, Mapping) and _RAW_RESPONSE_HEADER in headers
    if kwargs.get("stream") is True and not raw and _PATCHES.options.get("stream_usage", True):
        options = kwargs.get("stream_options")
        if not isinstance(options, Mapping) or "include_usage" not in options:
            extra = dict(options) if isinstance(options, Mapping) else {}
            kwargs = {**kwargs, "stream_options": {**extra, "include_usage": True}}
            hold = True
    messages = kwargs.get("messages")
    return Plan(
        _provider(client),
        kwargs.get("model"),
        attributes,
        lambda: (messages, None),
        kwargs,
        hold,
    )


def _responses_plan(instance: Any, kwargs: Mapping[str, Any]) -> Plan:
    client = getattr(instance, "_client", None)
    attributes = {
        **server_attributes(client),
        **request_attributes(kwargs, _RESPONSES_PARAMETERS),
    }
    prompt, instructions = kwargs.get("input"), kwargs.get("instructions")
    return Plan(
        _provider(client),
        kwargs.get("model"),
        attributes,
        lambda: (prompt if isinstance(prompt, (str, list)) else None, _text(instructions)),
        kwargs,
    )


def _text(value: Any) -> Any:
    return value if isinstance(value, (str, list)) else None


def instrument(*, stream_usage: bool = True) -> bool:
    """Instrument the ``openai`` client library; False (one warning) if it is not installed.

    Args:
        stream_usage: ask for the usage of streamed chat completions the caller did not ask
            usage for (``stream_options.include_usage``), holding back the extra chunk.
    """
    with _PATCHES.lock:
        _PATCHES.options["stream_usage"] = stream_usage
        if _PATCHES.active:
            return True
        try:
            import openai  # noqa: F401
        except ImportError:
            warn_once(
                "openai-missing",
                "agentobs: instrument_openai() needs the openai package: "
                "pip install 'agentobs[openai]'",
            )
            return False
        for module, cls, method, wrapper in (
            (_CHAT, "Completions", "create", traced(_chat_plan)),
            (_CHAT, "Completions", "parse", traced(_chat_plan)),
            (_CHAT, "AsyncCompletions", "create", traced_async(_chat_plan)),
            (_CHAT, "AsyncCompletions", "parse", traced_async(_chat_plan)),
            (_RESPONSES, "Responses", "create", traced(_responses_plan)),
            (_RESPONSES, "Responses", "parse", traced(_responses_plan)),
            (_RESPONSES, "AsyncResponses", "create", traced_async(_responses_plan)),
            (_RESPONSES, "AsyncResponses", "parse", traced_async(_responses_plan)),
        ):
            _PATCHES.wrap(module, cls, method, wrapper)
        return _PATCHES.active


uninstrument = _PATCHES.uninstrument
"""Undo :func:`instrument` (safe to call when not instrumented)."""

instrumented = _PATCHES.instrumented
"""Whether the openai library is instrumented now."""


instrument_openai = instrument
"""The same as :func:`instrument` (exported as ``agentobs.instrument_openai``)."""
