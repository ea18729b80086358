"""LLM calls: the cost of ``agentobs.llm`` per call and per stream chunk, without network.

* ``llm_call`` — a function decorated with ``agentobs.llm(provider="openai", model="gpt-4o")``
  that returns an OpenAI-shaped chat completion (a dict with usage), after
  ``configure(exporter="none")`` plus the baseline's processor: span, usage extraction,
  cost, the GenAI and agentobs metrics. Compared (paired rounds) with the raw OTel span of
  ``core`` (target ≤ 2); with a raw span that sets the same attributes by hand; and with a
  raw span that also makes the same three SDK histogram records by hand (duration, input
  and output tokens, same attributes, no metric reader): the floor the OpenTelemetry SDK
  sets for any implementation of the wrapper, with nothing of agentobs in it.
* ``llm_stream_chunk`` — consuming a stream of 2,000 chat-completion chunks through the
  wrapper against consuming the bare stream: the overhead per chunk in µs (target ≤ 2 µs,
  including the call's span and metrics spread over the chunks) and the ratio of the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from _harness import Session, paired_per_call_ns
from core import RAW, SPAN_CALLS, RawSpan, _dropping_processor

CALL = "@agentobs.llm call, configured (span + metrics + cost)"
BY_HAND = "raw span with the GenAI attributes"
FLOOR = "raw span with the GenAI attributes and histogram records"
CHUNKS = 2_000
STREAMS = 200


def _completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    }  # fmt: skip


@dataclass(slots=True)
class _Delta:
    content: str | None


@dataclass(slots=True)
class _Choice:
    index: int
    delta: _Delta
    finish_reason: str | None


@dataclass(slots=True)
class ChatCompletionChunk:
    """The shape of ``openai.types.chat.ChatCompletionChunk`` (attributes only)."""

    id: str
    model: str
    choices: list[_Choice]
    usage: Any = None


def _chunks() -> list[ChatCompletionChunk]:
    chunks = [
        ChatCompletionChunk("c1", "gpt-4o-2024-08-06", [_Choice(0, _Delta("tok"), None)])
        for _ in range(CHUNKS - 1)
    ]
    usage = {"prompt_tokens": 100, "completion_tokens": CHUNKS}
    chunks.append(ChatCompletionChunk("c1", "gpt-4o", [_Choice(0, _Delta(None), "stop")], usage))
    return chunks


def _install() -> Callable[[], None]:
    import agentobs.testing
    from agentobs._export import pipeline as _pipeline
    from agentobs._settings import resolve

    agentobs.testing.reset()
    _pipeline.install(resolve(exporter="none", logs=False), span_processors=[_dropping_processor()])
    return agentobs.testing.reset


class RawLLMSpan(RawSpan):
    """A raw OTel span that records what the wrapper records, set by hand; with
    ``histograms``, also the wrapper's three histogram records (on a private SDK
    MeterProvider with no reader and no exemplars, as the benchmarked pipeline has)."""

    def __init__(self, histograms: bool = False) -> None:
        super().__init__()
        import time

        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
        from opentelemetry.trace import SpanKind

        tracer = self.provider.get_tracer("bench")
        start = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
        }
        self.meters = MeterProvider(exemplar_filter=AlwaysOffExemplarFilter())
        meter = self.meters.get_meter("bench")
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s").record
        tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}").record
        labels = {**start, "gen_ai.response.model": "gpt-4o-2024-08-06"}
        input_labels = {**labels, "gen_ai.token.type": "input"}
        output_labels = {**labels, "gen_ai.token.type": "output"}

        def call() -> dict[str, Any]:
            started = time.perf_counter()
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT,
                                              attributes=start) as span:  # fmt: skip
                result = _completion()
                usage = result["usage"]
                span.set_attributes(
                    {
                        "gen_ai.response.model": result["model"],
                        "gen_ai.response.id": result["id"],
                        "gen_ai.response.finish_reasons": ["stop"],
                        "gen_ai.usage.input_tokens": usage["prompt_tokens"],
                        "gen_ai.usage.output_tokens": usage["completion_tokens"],
                    }
                )
                if histograms:
                    duration(time.perf_counter() - started, labels)
                    tokens(usage["prompt_tokens"], input_labels)
                    tokens(usage["completion_tokens"], output_labels)
                return result

        self.call = call  # type: ignore[assignment]

    def close(self) -> None:
        super().close()
        self.meters.shutdown()


def llm_call(session: Session) -> None:
    """The wrapper around a non-streaming call, against raw spans (paired rounds)."""
    import agentobs
    from agentobs._llm import cost as _cost

    reset = _install()
    try:
        call = agentobs.llm(provider="openai", model="gpt-4o")(_completion)
        call()
        if _cost._warm_thread is not None:
            _cost._warm_thread.join()  # the price table loads once, in the background
        what = "usage read from the result, cost, 3 histogram records + 3 counter adds"
        for name, baseline, base_name, target, note in (
            (CALL, RawSpan(), RAW, 2.0, what),
            (f"{CALL} vs same attributes by hand", RawLLMSpan(), BY_HAND, None, what),
            (
                f"{CALL} vs same + 3 histograms by hand",
                RawLLMSpan(histograms=True),
                FLOOR,
                None,
                "the baseline is what the OpenTelemetry SDK alone costs for the same records",
            ),
        ):
            try:
                ours, theirs = paired_per_call_ns(
                    call,
                    session.calls(SPAN_CALLS),
                    baseline.call,
                    session.calls(SPAN_CALLS),
                    session.rounds,
                )
            finally:
                baseline.close()
            session.add(
                name,
                ours,
                "ns/call",
                baseline=base_name,
                baseline_rounds=theirs,
                target=target,
                note=note,
            )
    finally:
        reset()


def llm_stream_chunk(session: Session) -> None:
    """Per-chunk overhead of a wrapped stream, and its ratio to the bare stream."""
    import agentobs

    chunks = _chunks()

    def bare() -> None:
        for _chunk in iter(chunks):
            pass

    def stream() -> Iterator[ChatCompletionChunk]:
        return iter(chunks)

    reset = _install()
    try:
        wrapped_call = agentobs.llm(provider="openai", model="gpt-4o")(stream)

        def wrapped() -> None:
            for _chunk in wrapped_call():
                pass

        ours, theirs = paired_per_call_ns(
            wrapped, session.calls(STREAMS), bare, session.calls(STREAMS), session.rounds
        )
    finally:
        reset()
    per_chunk = [(a - b) / CHUNKS / 1000.0 for a, b in zip(ours, theirs, strict=True)]
    session.add(
        f"@agentobs.llm stream: overhead per chunk ({CHUNKS}-chunk stream)",
        per_chunk,
        "µs",
        baseline="1 µs",
        baseline_rounds=[1.0] * len(per_chunk),
        target=2.0,
        note="ratio = µs per chunk; includes the call's span and metrics spread over the chunks",
    )
    session.add(
        "@agentobs.llm stream vs the bare stream",
        [a / CHUNKS for a in ours],
        "ns/chunk",
        baseline="bare stream",
        baseline_rounds=[b / CHUNKS for b in theirs],
        note="ratio of consuming the wrapped stream to consuming the bare one",
    )


BENCHMARKS: list[Callable[[Session], None]] = [llm_call, llm_stream_chunk]
