"""``agentobs.session(id, user_id=..., kind=...)``: a conversation or job session.

The session and user ids go on every span started inside the scope, agentobs's and
third-party ones (through :class:`~agentobs._export.processors.ContextSpanProcessor`), under
the names Phoenix and Langfuse group by: ``session.id`` / ``user.id`` and Langfuse's
``langfuse.session.id`` / ``langfuse.user.id``. They are identifiers, so they never become
metric labels: metrics get sessions active now and session duration, by ``kind`` and outcome.
"""

from __future__ import annotations

from time import time_ns
from typing import Any, ClassVar

from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN

from . import _catalogue as cat
from . import _hooks
from . import _names as n
from ._context import SESSION_KEY, SessionInfo
from ._engine import Run, Scope, _internal, clean_attributes, clean_name
from ._recorder import LiveCounts

ACTIVE = LiveCounts()
"""Sessions in progress now, by kind (read by the ``agentobs.session.active`` gauge)."""
_hooks.add_gauge_source(cat.SESSION_ACTIVE.name, ACTIVE.observe)


class session(Scope):
    """A session: ``session.id`` / ``user.id`` on every span started inside it (never on
    metrics); sessions active and session duration by kind and outcome.

    Like every scope: ``@agentobs.session(...)``, ``with`` and ``async with``. It opens no
    span of its own: backends group a session's traces by ``session.id``, and each request
    or workflow inside keeps its own trace. A session that outlives one call (a chat over
    many requests) is entered once per request with the same id; each entry is one duration
    measurement.
    """

    kind: ClassVar[str] = "session"
    __slots__ = ("_key", "info")
    _METRICS = (cat.SESSION_DURATION.name,)

    def __init__(
        self, id: Any, *, user_id: Any = None, kind: Any = None, **attributes: Any
    ) -> None:
        session_kind = None if kind is None else clean_name(kind, "session kind")
        super().__init__(session_kind or "session", {})
        session_id = clean_name(id, "session id")
        user = None if user_id is None else clean_name(user_id, "user id")
        ids = {n.SESSION_ID: session_id, n.LANGFUSE_SESSION_ID: session_id}
        if user is not None:
            ids.update({n.USER_ID: user, n.LANGFUSE_USER_ID: user})
        ids.update(clean_attributes(attributes))
        self.info = SessionInfo(session_id, user, session_kind, ids)
        self._key = ((n.SESSION_KIND, session_kind),)

    def _start(self, tracer: Any) -> Run | None:
        try:
            parent = otel_context.get_current()
            _hooks.first_persona()  # the first time: every span from now on may carry ids
            ACTIVE.add(self._key, 1)
            context = otel_context.set_value(SESSION_KEY, self.info, parent)
            return Run(self, INVALID_SPAN, parent, context, time_ns())
        except Exception as exc:
            _internal(exc, "session.start")
            return None

    def _attributes(self, key: str, metric: str) -> dict[str, Any]:
        return {n.SESSION_KIND: self.info.kind, n.STATUS: key}

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        ACTIVE.add(self._key, -1)
        ((duration, attrs),) = self.metrics(status, self._METRICS, self._attributes)
        duration(seconds, attrs, run.parent)


def current_session() -> SessionInfo | None:
    """The session in force here, or None."""
    value = otel_context.get_value(SESSION_KEY)
    return value if isinstance(value, SessionInfo) else None
