"""agentobs: OpenTelemetry traces, metrics and logs for AI-agent systems and their tests.

``import agentobs`` is cheap: every name below is loaded on first use (PEP 562), so the
OpenTelemetry API loads with the instrumentation API, the pipeline module (settings,
scrubbing) with :func:`configure` and its siblings, the SDK when ``configure()`` runs, and
every instrumentation call made before ``configure()`` is a near-free no-op.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import health, insights, logs, testing
    from ._api import (
        agent,
        event,
        handoff,
        human_intervention,
        persona,
        quality_gate,
        record_gate,
        set_attributes,
        stage,
        task,
        tool,
        workflow,
    )
    from ._context import bind_context
    from ._export.pipeline import configure, force_flush, prometheus_address, shutdown
    from ._llm.budget import BudgetExceededError, TokenBudget
    from ._llm.wrapper import llm
    from ._queues import queue
    from ._resume import checkpoint, resume, suspended
    from ._sessions import session
    from .integrations.anthropic import instrument_anthropic
    from .integrations.openai import instrument_openai
    from .integrations.threading import instrument_threading, uninstrument_threading

__all__ = [
    "BudgetExceededError",
    "TokenBudget",
    "__version__",
    "agent",
    "bind_context",
    "checkpoint",
    "configure",
    "event",
    "force_flush",
    "handoff",
    "health",
    "human_intervention",
    "insights",
    "instrument_anthropic",
    "instrument_openai",
    "instrument_threading",
    "llm",
    "logs",
    "persona",
    "prometheus_address",
    "quality_gate",
    "queue",
    "record_gate",
    "resume",
    "session",
    "set_attributes",
    "shutdown",
    "stage",
    "suspended",
    "task",
    "testing",
    "tool",
    "uninstrument_threading",
    "workflow",
]

_LAZY = {
    "configure": "_export.pipeline",
    "force_flush": "_export.pipeline",
    "prometheus_address": "_export.pipeline",
    "shutdown": "_export.pipeline",
    "llm": "_llm.wrapper",
    "TokenBudget": "_llm.budget",
    "BudgetExceededError": "_llm.budget",
    "instrument_openai": "integrations.openai",
    "instrument_anthropic": "integrations.anthropic",
    "instrument_threading": "integrations.threading",
    "uninstrument_threading": "integrations.threading",
    "agent": "_api",
    "event": "_api",
    "handoff": "_api",
    "session": "_sessions",
    "queue": "_queues",
    "checkpoint": "_resume",
    "resume": "_resume",
    "suspended": "_resume",
    "human_intervention": "_api",
    "persona": "_api",
    "quality_gate": "_api",
    "record_gate": "_api",
    "set_attributes": "_api",
    "stage": "_api",
    "task": "_api",
    "tool": "_api",
    "workflow": "_api",
    "bind_context": "_context",
}


def __getattr__(name: str) -> Any:
    """Load a public name (and what it needs: the OpenTelemetry API, the pipeline) on first
    use."""
    if name in ("health", "insights", "logs", "testing"):
        value: Any = importlib.import_module(f"agentobs.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f"agentobs.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module 'agentobs' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
