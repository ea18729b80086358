"""Hooks the instrumentation calls and the export layer fills at ``configure()``.

A leaf module (it imports only the catalogue, which is data), so that the instrumentation
never imports the pipeline and the pipeline never reads instrumentation state directly:

* ``RESULT_HOOKS``: called with every quality-gate result (the Langfuse exporter sends them
  as scores);
* ``first_persona``: called when a persona or a session is entered (the pipeline adds its
  span processor that stamps them on every span, the first time);
* gauge sources: the instrumentation registers what an observable gauge reads
  (:func:`add_gauge_source`); the pipeline's gauges read it through :func:`gauge_source`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _catalogue as cat

GaugeSource = Callable[[], Iterable[tuple[float, Mapping[str, Any]]]]

RESULT_HOOKS: list[Any] = []
"""Called as ``hook(span, name, passed, score, reason)`` with every gate result (the Langfuse
integration sends them as scores); each runs inside its own internal-error guard."""


def _nothing() -> None:
    return None


first_persona: Callable[[], None] = _nothing
"""Called each time a persona is entered, before its context is attached (set by the
pipeline while it runs)."""


def set_first_persona(hook: Callable[[], None] | None) -> None:
    """Install the persona hook (None: back to doing nothing)."""
    global first_persona
    first_persona = _nothing if hook is None else hook


HOOKED_GAUGES = (
    cat.WORKFLOW_OLDEST_AGE.name,
    cat.WORKFLOW_SUSPENDED.name,
    cat.SESSION_ACTIVE.name,
    cat.QUEUE_DEPTH.name,
)
"""The observable gauges whose values the instrumentation supplies."""

_gauge_sources: dict[str, GaugeSource] = {}


def add_gauge_source(name: str, source: GaugeSource) -> None:
    """Register what the observable gauge ``name`` reads (done by the module that owns it)."""
    _gauge_sources[name] = source


_pipeline_sources: dict[str, Callable[[object], Iterable[tuple[float, Mapping[str, Any]]]]] = {}


def add_pipeline_gauge_source(
    name: str, source: Callable[[object], Iterable[tuple[float, Mapping[str, Any]]]]
) -> None:
    """Register what the observable instrument ``name`` reads, for a source that counts per
    configuration: it is called with the recorders of the pipeline collecting (whose
    instruments ``agentobs._recorder.build`` made), and reads what was counted under them."""
    _pipeline_sources[name] = source


def pipeline_gauge_source(
    name: str,
) -> Callable[[object], Iterable[tuple[float, Mapping[str, Any]]]] | None:
    """The per-configuration source of ``name``, if one is registered."""
    return _pipeline_sources.get(name)


def gauge_source(name: str) -> GaugeSource:
    """What the gauge ``name`` observes: its registered source, looked up at each collection
    (nothing while none is registered)."""

    def observe() -> Iterable[tuple[float, Mapping[str, Any]]]:
        source = _gauge_sources.get(name)
        return () if source is None else source()

    return observe
