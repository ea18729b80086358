"""Prompt and completion content in the GenAI message formats (only when capture is on).

``gen_ai.input.messages`` and ``gen_ai.output.messages`` are JSON lists of messages
``{"role": ..., "parts": [...]}`` (``finish_reason`` on output messages);
``gen_ai.system_instructions`` is a JSON list of parts. Parts are ``text``, ``reasoning``,
``tool_call`` and ``tool_call_response``; other parts (images, audio, files) keep only their
type, never their data. Long strings are truncated to the configured size, with a marker
saying how much was cut, so the JSON stays valid.
"""

from __future__ import annotations

import json
from typing import Any

from .usage import get

_TEXT_TYPES = ("text", "input_text", "output_text")
_ROLES = {"developer": "system", "function": "tool", "model": "assistant"}


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("content", "") for p in parts(content) if p["type"] == "text")
    return "" if content is None else str(content)


def parts(content: Any) -> list[dict[str, Any]]:
    """GenAI parts from a message's content: a string, or a list of content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        return [{"type": "text", "content": str(content)}]
    found: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            found.append({"type": "text", "content": block})
            continue
        kind = get(block, "type")
        if kind in _TEXT_TYPES:
            found.append({"type": "text", "content": get(block, "text") or ""})
        elif kind == "thinking":
            found.append({"type": "reasoning", "content": get(block, "thinking") or ""})
        elif kind in ("tool_use", "function_call"):
            found.append(
                {
                    "type": "tool_call",
                    "id": get(block, "id") or get(block, "call_id"),
                    "name": get(block, "name"),
                    "arguments": _arguments(get(block, "input") or get(block, "arguments")),
                }
            )
        elif kind in ("tool_result", "function_call_output"):
            found.append(
                {
                    "type": "tool_call_response",
                    "id": get(block, "tool_use_id") or get(block, "call_id"),
                    "response": _text_of(get(block, "content") or get(block, "output")),
                }
            )
        else:
            found.append({"type": str(kind or "unknown")})
    return found


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    found = []
    for call in calls or ():
        function = get(call, "function")
        found.append(
            {
                "type": "tool_call",
                "id": get(call, "id"),
                "name": get(function, "name"),
                "arguments": _arguments(get(function, "arguments")),
            }
        )
    return found


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """GenAI input messages from Chat Completions or Anthropic ``messages``, or a Responses
    ``input`` (a string or a list of items)."""
    if isinstance(messages, str):
        return [{"role": "user", "parts": parts(messages)}]
    if not isinstance(messages, (list, tuple)):
        return []  # never consume an iterator the client has yet to send
    found: list[dict[str, Any]] = []
    for message in messages:
        role = get(message, "role")
        kind = get(message, "type")
        if role is None and kind in ("function_call", "function_call_output"):
            role = "assistant" if kind == "function_call" else "tool"
            found.append({"role": role, "parts": parts([message])})
            continue
        role = _ROLES.get(role, role) or "user"
        message_parts = parts(get(message, "content"))
        message_parts += _tool_calls(get(message, "tool_calls"))
        if role == "tool" and get(message, "tool_call_id"):
            message_parts = [
                {
                    "type": "tool_call_response",
                    "id": get(message, "tool_call_id"),
                    "response": _text_of(get(message, "content")),
                }
            ]
        found.append({"role": role, "parts": message_parts})
    return found


def output_messages(result: Any) -> list[dict[str, Any]]:
    """GenAI output messages from a Chat Completion, a Responses response or an Anthropic
    message (an empty list for other shapes)."""
    choices = get(result, "choices")
    if isinstance(choices, list):
        found = []
        for choice in choices:
            message = get(choice, "message")
            message_parts = parts(get(message, "content")) + _tool_calls(get(message, "tool_calls"))
            found.append(
                {
                    "role": "assistant",
                    "parts": message_parts,
                    "finish_reason": get(choice, "finish_reason") or "",
                }
            )
        return found
    output = get(result, "output")
    if isinstance(output, list):  # Responses
        message_parts = []
        for item in output:
            if get(item, "type") == "message":
                message_parts += parts(get(item, "content"))
            else:
                message_parts += parts([item])
        reason = get(result, "status") or ""
        return [{"role": "assistant", "parts": message_parts, "finish_reason": reason}]
    content = get(result, "content")
    if isinstance(content, list):  # Anthropic
        reason = get(result, "stop_reason") or ""
        return [{"role": "assistant", "parts": parts(content), "finish_reason": reason}]
    return []


def streamed_output(text: str, finish_reasons: list[str]) -> list[dict[str, Any]]:
    """The output message of a stream whose text was collected."""
    reason = finish_reasons[-1] if finish_reasons else ""
    return [{"role": "assistant", "parts": parts(text), "finish_reason": reason}]


def system_instructions(system: Any) -> list[dict[str, Any]]:
    """GenAI system instructions from Anthropic's ``system`` or Responses ``instructions``."""
    return parts(system)


def _strings(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string inside ``value`` that holds content."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and key in ("content", "response", "arguments"):
                found.append((value, key))
            elif isinstance(item, (dict, list)):
                found += _strings(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                found.append((value, index))
            elif isinstance(item, (dict, list)):
                found += _strings(item)
    return found


def _cut(text: str, limit: int) -> str:
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


def encode(value: list[dict[str, Any]], limit: int) -> tuple[str, bool]:
    """``value`` as JSON of about ``limit`` characters at most (each long string is cut, the
    share of each smaller when there are many); whether anything was cut."""
    strings = _strings(value)
    cap = limit
    if len(strings) > 1 and sum(len(c[k]) for c, k in strings) > limit:
        cap = max(64, limit // len(strings))
    truncated = False
    for container, key in strings:
        if len(container[key]) > cap:
            container[key] = _cut(container[key], cap)
            truncated = True
    return json.dumps(value, ensure_ascii=False, default=str), truncated
