"""The runtime state the hot path reads: one object, replaced only by configure/shutdown.

Nothing here imports the OpenTelemetry SDK. Before :func:`agentobs.configure` runs,
``STATE.active`` is False and every instrumentation call returns straight away.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

    from ._settings import Settings


class State:
    """What instrumentation needs at call time: a tracer, a meter and whether to record."""

    __slots__ = ("active", "meter", "recorders", "settings", "tracer")

    def __init__(self) -> None:
        self.active: bool = False
        self.tracer: Tracer | None = None
        self.meter: Meter | None = None
        self.settings: Settings | None = None
        self.recorders: dict[str, Any] | None = None


STATE = State()
"""The process-wide state; read it, never rebind it."""

INSTRUMENTATION_SCOPE = "agentobs"

PROCESS_STARTED = time.time()
"""When agentobs was first imported (about when the process started): ``/health`` uptime."""
