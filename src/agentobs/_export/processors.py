"""Span processors agentobs adds to the tracer provider (pipeline layer, SDK allowed)."""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .._context import PERSONA_KEY, PersonaInfo
from .._names import PERSONA_CHATMODE, PERSONA_NAME


class PersonaSpanProcessor(SpanProcessor):
    """Stamps the current persona on every span that starts inside it, third-party ones too.

    agentobs's own spans carry the persona in their start attributes already (cheaper than
    setting it here), as does a span that names a persona itself: those are left alone.
    """

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        context = parent_context if parent_context is not None else otel_context.get_current()
        persona = context.get(PERSONA_KEY)
        if persona is None or not isinstance(persona, PersonaInfo) or not span.is_recording():
            return
        if PERSONA_NAME in span.attributes:  # type: ignore[operator]
            return
        if persona.chatmode is None:
            span.set_attribute(PERSONA_NAME, persona.name)
        else:
            span.set_attributes({PERSONA_NAME: persona.name, PERSONA_CHATMODE: persona.chatmode})

    def on_end(self, span: ReadableSpan) -> None:
        return None
