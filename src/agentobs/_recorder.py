"""Recording into the catalogue's instruments: the one way metrics are recorded.

A :class:`Recorder` keeps an instrument's attributes inside the catalogue's bounds; counters
are totalled in process (:class:`CounterTotals`) and read by observable counters; ``build``
creates every instrument on a meter (called by the pipeline at ``configure()``).
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _hooks, _secrets
from . import _names as n
from ._catalogue import CATALOGUE, VALUE_LIMIT, Instrument
from ._errors import warn_once, warn_some

_CACHE_LIMIT = 4096


_LOCKED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Recorders and totals alive, whose locks a forked child gets anew."""


def _reset_locks_in_child() -> None:
    # A thread of the parent may have held one at fork: the child would wait on it forever.
    for owner in list(_LOCKED):
        owner._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_in_child)


class Recorder:
    """Records into one SDK instrument, keeping its attributes inside the catalogue's bounds."""

    __slots__ = ("__weakref__", "_cache", "_lock", "_record", "_seen", "allowed", "instrument")

    def __init__(self, instrument: Instrument, record: Callable[..., None]) -> None:
        self.instrument = instrument
        self.allowed = frozenset(instrument.attributes)
        self._record = record
        self._cache: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._seen: dict[str, set[Any]] = {key: set() for key in instrument.attributes}
        self._lock = threading.Lock()
        _LOCKED.add(self)

    def record(self, value: float, attributes: Mapping[str, Any]) -> None:
        """Record ``value`` with ``attributes`` (cleaned once per distinct attribute set)."""
        self._record(value, self._cleaned(attributes))

    def _cleaned(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        key = tuple(attributes.items())
        clean = self._cache.get(key)
        if clean is None:
            clean = self.clean(attributes)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = clean
        return clean

    def bind(self, attributes: Mapping[str, Any]) -> tuple[Callable[..., None], Any]:
        """A record function and ``attributes`` cleaned (for a counter: their key), for a
        caller that keeps both and records with ``fn(value, clean, context)`` (the hot path
        of ``_api``)."""
        clean = self._cleaned(attributes)
        totals = getattr(self._record, "__self__", None)
        if isinstance(totals, CounterTotals):  # the key, computed once instead of per add
            return totals.add_key, frozenset(clean.items())
        return self._record, clean

    def clean(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        name = self.instrument.name
        scrubber = _secrets.ACTIVE  # label values are exported (and on /metrics) as they are
        with self._lock:
            for key, value in attributes.items():
                if value is None:
                    continue
                if key not in self.allowed:
                    warn_some(
                        "attributes a metric does not accept",
                        10,
                        f"metric-attr:{name}:{key}",
                        "agentobs: metric %s does not accept attribute %r; dropped (put ids "
                        "and other unbounded values on spans)",
                        name,
                        key,
                    )
                    continue
                if not isinstance(value, (str, bool, int, float)):
                    value = str(value)
                if scrubber is not None and isinstance(value, str):
                    value = scrubber.value(key, value)
                seen = self._seen[key]
                if value not in seen:
                    if len(seen) >= VALUE_LIMIT:
                        warn_once(
                            f"metric-overflow:{name}:{key}",
                            "agentobs: attribute %r of metric %s passed %d distinct values; "
                            "further values are recorded as %r",
                            key,
                            name,
                            VALUE_LIMIT,
                            n.OVERFLOW_VALUE,
                        )
                        value = n.OVERFLOW_VALUE
                    else:
                        seen.add(value)
                clean[key] = value
        return clean


class CounterTotals:
    """A counter aggregated in-process and reported as an asynchronous (observable) counter.

    Adding is a dict update under a lock, about a tenth of an SDK measurement, which matters
    on the hot path (every task and workflow run adds to one). The SDK reads the cumulative
    totals at each collection; Prometheus and OTLP see an ordinary monotonic counter under
    the same name. Amounts that are negative, NaN or infinite are ignored, as the SDK does.
    """

    __slots__ = ("__weakref__", "_lock", "_totals", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        _LOCKED.add(self)
        self._totals: dict[frozenset[tuple[str, Any]], float] = {}

    def add(self, amount: float, attributes: Mapping[str, Any], context: Any = None) -> None:
        """Add ``amount`` to the total of ``attributes`` (already cleaned by the recorder)."""
        self.add_key(amount, frozenset(attributes.items()))

    def add_key(self, amount: float, key: frozenset[tuple[str, Any]], context: Any = None) -> None:
        """Add ``amount`` to the total of the attributes ``key`` stands for (``bind``'s)."""
        if not 0 <= amount < _INF:
            warn_once(
                f"counter-amount:{self.name}",
                "agentobs: counter %s ignores amount %r (negative or not finite)",
                self.name,
                amount,
            )
            return
        with self._lock:
            totals = self._totals
            totals[key] = totals.get(key, 0) + amount

    def totals(self) -> list[tuple[float, dict[str, Any]]]:
        """Every total so far with its attributes."""
        with self._lock:
            items = list(self._totals.items())
        return [(total, dict(key)) for key, total in items]


_INF = float("inf")


class _Disabled:
    """Stands in for a recorder before configure(): accepts and drops."""

    def record(self, value: float, attributes: Mapping[str, Any]) -> None:
        return None


DISABLED = _Disabled()


def build(
    meter: Any,
    callbacks: Mapping[str, Callable[[], Iterable[tuple[float, Mapping[str, Any]]]]],
    totals: Mapping[str, CounterTotals] | None = None,
) -> dict[str, Recorder]:
    """Create every catalogue instrument on ``meter``; return recorders by name. A counter
    named in ``totals`` reads those (kept by someone else: the pipeline's self-telemetry); an
    observable instrument reads its source in ``callbacks``, else its per-configuration
    source (``_hooks.add_pipeline_gauge_source``), called with the recorders returned."""
    from opentelemetry.metrics import CallbackOptions, Observation

    recorders: dict[str, Recorder] = {}
    for i in CATALOGUE:
        if i.kind == "counter":
            kept = (totals or {}).get(i.name) or CounterTotals(i.name)

            def observe_totals(
                _options: CallbackOptions, kept: CounterTotals = kept
            ) -> Iterable[Observation]:
                return [Observation(v, a) for v, a in kept.totals()]

            meter.create_observable_counter(
                i.name, callbacks=[observe_totals], unit=i.unit, description=i.description
            )
            recorders[i.name] = Recorder(i, kept.add)
        elif i.kind == "updown_counter":
            updown = meter.create_up_down_counter(i.name, unit=i.unit, description=i.description)
            recorders[i.name] = Recorder(i, updown.add)
        elif i.kind == "gauge":
            gauge = meter.create_gauge(i.name, unit=i.unit, description=i.description)
            recorders[i.name] = Recorder(i, gauge.set)
        elif i.kind == "histogram":
            histogram = meter.create_histogram(
                i.name,
                unit=i.unit,
                description=i.description,
                explicit_bucket_boundaries_advisory=list(i.buckets or ()),
            )
            recorders[i.name] = Recorder(i, histogram.record)
        elif i.kind.startswith("observable_") and (
            (source := callbacks.get(i.name) or _per_pipeline(i.name, recorders)) is not None
        ):
            recorder = Recorder(i, lambda value, attributes: None)

            def observe(
                _options: CallbackOptions,
                source: Callable[[], Iterable[tuple[float, Mapping[str, Any]]]] = source,
                recorder: Recorder = recorder,
            ) -> Iterable[Observation]:
                return [Observation(v, recorder.clean(a)) for v, a in source()]

            create = (
                meter.create_observable_gauge
                if i.kind == "observable_gauge"
                else meter.create_observable_up_down_counter
            )
            create(i.name, callbacks=[observe], unit=i.unit, description=i.description)
            recorders[i.name] = recorder
    return recorders


def _per_pipeline(
    name: str, recorders: dict[str, Recorder]
) -> Callable[[], Iterable[tuple[float, Mapping[str, Any]]]] | None:
    """The per-configuration source of ``name`` bound to these ``recorders``, if any."""
    source = _hooks.pipeline_gauge_source(name)
    return None if source is None else functools.partial(source, recorders)


class LiveCounts:
    """Counts of things in progress now (sessions, queue items), kept in-process and read by
    an observable gauge: adding is a dict update under a lock, far cheaper than an SDK
    up-down counter on a hot path. Keys are attribute tuples ``((key, value), ...)``; a key
    back at zero is forgotten, so memory follows what is live, not what ever was."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[tuple[str, Any], ...], int] = {}

    def add(self, key: tuple[tuple[str, Any], ...], delta: int) -> None:
        """Add ``delta`` to the count of ``key`` (never below zero)."""
        with self._lock:
            count = self._counts.get(key, 0) + delta
            if count > 0:
                self._counts[key] = count
            else:
                self._counts.pop(key, None)

    def get(self, key: tuple[tuple[str, Any], ...]) -> int:
        """The count of ``key`` now."""
        return self._counts.get(key, 0)

    def observe(self) -> list[tuple[float, Mapping[str, Any]]]:
        """Every live count with its attributes (for the gauge's callback)."""
        with self._lock:
            items = list(self._counts.items())
        return [(count, dict(key)) for key, count in items]

    def clear(self) -> None:
        """Forget every count (``agentobs.testing.reset``)."""
        with self._lock:
            self._counts.clear()
