"""The interop span processor: what it costs agentobs's own spans, and a span of another
instrumentation inside a persona.

Both rows compare two private SDK ``TracerProvider``s, each with the baseline's
``BatchSpanProcessor`` in front of a dropping exporter; one of them also has the
:class:`~agentobs._export.interop.GenAISpanProcessor` that ``configure()`` adds by default.

* ``own_span`` — a span of agentobs's instrumentation scope (as every ``@agentobs.task``,
  workflow, stage and LLM span is) with and without the processor (target ≤ 1.1: not
  measurably slower).
* ``foreign_span`` — a span of another instrumentation opened inside a workflow, stage and
  persona: with the processor it is stamped with them and followed until it ends (no usage on
  it, so nothing is counted). No target; what one stamped span costs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _harness import Session, paired_per_call_ns
from core import SPAN_CALLS, _dropping_processor, _trivial

OWN = "agentobs-scope span, interop processor on"
OWN_BASE = "agentobs-scope span, interop processor off"
FOREIGN = "other instrumentation's span in a persona, interop processor on"
FOREIGN_BASE = "other instrumentation's span in a persona, interop processor off"


def _span_call(scope: str, interop: bool) -> tuple[Callable[[], int], Any]:
    from opentelemetry.sdk.trace import TracerProvider

    from agentobs._export.interop import GenAISpanProcessor

    provider = TracerProvider()
    if interop:
        provider.add_span_processor(GenAISpanProcessor())
    provider.add_span_processor(_dropping_processor())
    tracer = provider.get_tracer(scope)

    def call() -> int:
        with tracer.start_as_current_span("x"):
            return _trivial()

    return call, provider


def _compare(session: Session, scope: str, names: tuple[str, str], target: float | None) -> None:
    on, on_provider = _span_call(scope, True)
    off, off_provider = _span_call(scope, False)
    try:
        ours, theirs = paired_per_call_ns(
            on, session.calls(SPAN_CALLS), off, session.calls(SPAN_CALLS), session.rounds
        )
    finally:
        on_provider.shutdown()
        off_provider.shutdown()
    session.add(names[1], theirs, "ns/call")
    session.add(names[0], ours, "ns/call", baseline=names[1], baseline_rounds=theirs, target=target)


def own_span(session: Session) -> None:
    """agentobs's own spans pass through the processor at the cost of one scope check."""
    _compare(session, "agentobs", (OWN, OWN_BASE), 1.1)


def foreign_span(session: Session) -> None:
    """A span of another instrumentation inside a workflow, stage and persona."""
    from opentelemetry import context as otel_context

    from agentobs._context import PERSONA_KEY, STAGE_KEY, WORKFLOW_KEY, PersonaInfo, WorkflowRun

    context = otel_context.set_value(PERSONA_KEY, PersonaInfo("coder"))
    context = otel_context.set_value(WORKFLOW_KEY, WorkflowRun("release", 1, 0.0), context)
    context = otel_context.set_value(STAGE_KEY, "plan", context)
    token = otel_context.attach(context)
    try:
        _compare(session, "other.instrumentation", (FOREIGN, FOREIGN_BASE), None)
    finally:
        otel_context.detach(token)


BENCHMARKS: list[Callable[[Session], None]] = [own_span, foreign_span]
