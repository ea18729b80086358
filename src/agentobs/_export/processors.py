"""Span processors agentobs adds to the tracer provider (pipeline layer, SDK allowed)."""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .._context import PERSONA_KEY, SESSION_KEY, PersonaInfo, SessionInfo
from .._names import PERSONA_CHATMODE, PERSONA_NAME


class ContextSpanProcessor(SpanProcessor):
    """Stamps the current persona and session on every span that starts inside them,
    third-party ones too.

    agentobs's own spans carry the persona in their start attributes already (cheaper than
    setting it here), as does a span that names a persona itself: those are left alone. The
    session and user ids go on every span inside a session (``session.id``, ``user.id`` and
    the ``langfuse.*`` names).
    """

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        context = parent_context if parent_context is not None else otel_context.get_current()
        session = context.get(SESSION_KEY)
        persona = context.get(PERSONA_KEY)
        if (session is None and persona is None) or not span.is_recording():
            return
        if isinstance(session, SessionInfo):
            span.set_attributes(session.attributes)
        if not isinstance(persona, PersonaInfo) or PERSONA_NAME in span.attributes:  # type: ignore[operator]
            return
        if persona.chatmode is None:
            span.set_attribute(PERSONA_NAME, persona.name)
        else:
            span.set_attributes({PERSONA_NAME: persona.name, PERSONA_CHATMODE: persona.chatmode})

    def on_end(self, span: ReadableSpan) -> None:
        return None
