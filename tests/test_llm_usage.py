"""Usage extraction: every known response shape, objects and dicts, and stream chunks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from agentobs._llm.usage import StreamState, Usage, from_result, usage_from


def _openai_chat() -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-9",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "length",
                }
            ],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 40,
                "total_tokens": 140,
                "prompt_tokens_details": {"cached_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 25},
            },
        }
    )


def _openai_response() -> Any:
    from openai.types.responses import Response

    return Response.model_validate(
        {
            "id": "resp_9",
            "object": "response",
            "created_at": 1,
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "model": "o3-mini",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": 50,
                "input_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 5},
                "output_tokens": 30,
                "output_tokens_details": {"reasoning_tokens": 20},
                "total_tokens": 80,
            },
        }
    )


def _anthropic_message() -> Any:
    from anthropic.types import Message

    return Message.model_validate(
        {
            "id": "msg_9",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "output_tokens": 6,
                "cache_creation_input_tokens": 3,
                "cache_read_input_tokens": 8,
            },
        }
    )


class _LiteLLMResponse(SimpleNamespace):
    """What ``litellm.completion`` returns: the OpenAI chat shape plus hidden params."""


def _litellm() -> Any:
    response = _LiteLLMResponse(
        id="chatcmpl-l",
        model="claude-haiku-4-5",
        choices=[SimpleNamespace(finish_reason="stop", message=SimpleNamespace(content="x"))],
        usage=SimpleNamespace(
            prompt_tokens=30,
            completion_tokens=4,
            prompt_tokens_details=None,
            completion_tokens_details=None,
            cache_read_input_tokens=12,
            cache_creation_input_tokens=5,
        ),
    )
    response._hidden_params = {"custom_llm_provider": "anthropic", "response_cost": 0.0042}
    return response


def test_openai_chat_completion_object() -> None:
    found = from_result(_openai_chat())
    assert found is not None
    assert found.usage == Usage(100, 40, 60, None, 25)
    assert (found.model, found.id, found.finish_reasons, found.provider) == (
        "gpt-4o-2024-08-06",
        "chatcmpl-9",
        ["length"],
        "openai",
    )


def test_openai_responses_object_input_includes_cache() -> None:
    found = from_result(_openai_response())
    assert found is not None
    assert found.usage == Usage(50, 30, 10, 5, 20)
    assert found.finish_reasons == ["max_output_tokens"]
    assert found.model == "o3-mini"


def test_anthropic_message_input_adds_cache_reads_and_writes() -> None:
    found = from_result(_anthropic_message())
    assert found is not None
    assert found.usage == Usage(10 + 8 + 3, 6, 8, 3, None)
    assert found.finish_reasons == ["end_turn"]
    assert found.provider == "anthropic"


def test_litellm_response_with_provider_and_cost() -> None:
    found = from_result(_litellm())
    assert found is not None
    assert found.usage is not None
    assert found.usage.input_tokens == 30  # LiteLLM's prompt_tokens already include the cache
    assert found.usage.cache_read_input_tokens == 12
    assert found.usage.cache_creation_input_tokens == 5
    assert found.usage.cost_usd == pytest.approx(0.0042)
    assert found.provider == "anthropic"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 7, "completion_tokens": 3}, Usage(7, 3)),
        ({"input_tokens": 7, "output_tokens": 3}, Usage(7, 3)),
        (
            {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 2},
            Usage(9, 3, 2, None),
        ),
        (
            {"input_tokens": 7, "input_tokens_details": {"cached_tokens": 2}, "output_tokens": 1},
            Usage(7, 1, 2),
        ),
        ({"prompt_tokens": 5, "completion_tokens": 1, "cost": 0.5}, Usage(5, 1, cost_usd=0.5)),
        (
            {"prompt_token_count": 9, "candidates_token_count": 2, "thoughts_token_count": 4},
            Usage(9, 6, None, None, 4),
        ),
        ({"total_tokens": 3}, None),
        ({"prompt_tokens": "7"}, None),
    ],
)
def test_usage_dicts(usage: dict[str, Any], expected: Usage | None) -> None:
    assert usage_from(usage) == expected


def test_plain_dict_response_and_unknown_shapes() -> None:
    found = from_result({"model": "m", "usage": {"prompt_tokens": 4, "completion_tokens": 2}})
    assert found is not None
    assert found.usage == Usage(4, 2)
    assert found.model == "m"
    assert from_result("a string") is None
    assert from_result({"no": "usage"}) is None
    assert from_result(None) is None
    gemini = SimpleNamespace(
        usage_metadata=SimpleNamespace(prompt_token_count=3, candidates_token_count=2),
        model_version="gemini-2.5-flash",
    )
    found = from_result(gemini)
    assert found is not None
    assert found.usage == Usage(3, 2)
    assert found.model == "gemini-2.5-flash"


def test_usage_sums_and_updates() -> None:
    assert Usage(1, 2).plus(Usage(3, None, 1)) == Usage(4, 2, 1)
    assert Usage(1, 2, 5).updated(Usage(None, 9)) == Usage(1, 9, 5)
    assert Usage(4, 6).total_tokens == 10
    assert not Usage().known


def test_stream_state_reads_anthropic_events_in_order() -> None:
    state = StreamState(capture=True)
    start = {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5, "output_tokens": 1}}
    for event in [
        {"type": "message_start", "message": start},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "he"}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "y"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]:
        state.add(event)
    response = state.response()
    assert response.usage == Usage(5, 7)
    assert (response.id, response.model, response.finish_reasons) == (
        "msg_1",
        "claude",
        ["end_turn"],
    )
    assert "".join(state.text) == "hey"


def test_stream_state_reads_responses_events() -> None:
    state = StreamState(capture=True)
    final = {
        "id": "resp_1",
        "model": "gpt-4o",
        "status": "completed",
        "output": [],
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
        },
    }
    state.add({"type": "response.created", "response": {**final, "usage": None}})
    state.add({"type": "response.output_text.delta", "delta": "ok"})
    state.add({"type": "response.completed", "response": final})
    response = state.response()
    assert response.usage == Usage(3, 2, 0)
    assert response.finish_reasons == ["completed"]
    assert state.text == ["ok"]
