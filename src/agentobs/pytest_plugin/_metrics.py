"""Test metrics: per-test counters and histogram, per-run gauges, and the Pushgateway push.

Per-test instruments are recorded through the catalogue's recorders (bounded attributes).
The per-run gauges (``agentobs.test_run.*``) are observable gauges that report the last run
of this process; the same values are pushed to a Prometheus Pushgateway when asked, under
the names the OpenTelemetry Prometheus exporter would give them.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _catalogue as cat
from .. import _names as n
from .._prometheus import prometheus_name
from ._outcomes import FAIL_LIKE, OUTCOMES, PASSED

RUN_PREFIX = n.TEST_RUN_PREFIX
GAUGES = tuple(
    i for i in cat.CATALOGUE if i.kind == "observable_gauge" and i.name.startswith(RUN_PREFIX)
)
PUSH_TIMEOUT = 5.0


@dataclass
class RunStats:
    """What one run amounts to."""

    suite: str
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """Tests by (outcome, category)."""
    flaky: int = 0
    duration: float = 0.0
    coverage: float | None = None
    timestamp: float = 0.0

    def by_outcome(self) -> dict[str, int]:
        """Tests by outcome, every outcome present (zeros included)."""
        totals = dict.fromkeys(OUTCOMES, 0)
        for (outcome, _category), count in self.counts.items():
            totals[outcome] += count
        return totals

    @property
    def pass_rate(self) -> float | None:
        """passed / (passed + failed + error); None when no test passed or failed."""
        totals = self.by_outcome()
        decided = totals[PASSED] + sum(totals[o] for o in FAIL_LIKE)
        return totals[PASSED] / decided if decided else None

    def observations(self) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Gauge values by instrument name, with their attributes."""
        suite = {n.TEST_SUITE_NAME: self.suite}
        tests = [
            (float(count), {n.TEST_OUTCOME: o, n.TEST_CATEGORY: c, **suite})
            for (o, c), count in sorted(self.counts.items())
        ]
        values: dict[str, list[tuple[float, dict[str, Any]]]] = {
            cat.TEST_RUN_TESTS.name: tests,
            cat.TEST_RUN_FLAKY.name: [(float(self.flaky), suite)],
            cat.TEST_RUN_DURATION.name: [(self.duration, suite)],
            cat.TEST_RUN_TIMESTAMP.name: [(self.timestamp, suite)],
        }
        if self.pass_rate is not None:
            values[cat.TEST_RUN_PASS_RATE.name] = [(self.pass_rate, suite)]
        if self.coverage is not None:
            values[cat.TEST_RUN_COVERAGE.name] = [(self.coverage, suite)]
        return values


# --- OpenTelemetry ------------------------------------------------------------------------

_last_run: dict[str, list[tuple[float, dict[str, Any]]]] = {}
_lock = threading.Lock()
_meters: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_gauges(meter: Any) -> None:
    """Create the per-run observable gauges on ``meter`` (once per meter)."""
    from opentelemetry.metrics import CallbackOptions, Observation

    with _lock:
        if meter in _meters:
            return
        _meters.add(meter)

    for instrument in GAUGES:

        def observe(_options: CallbackOptions, name: str = instrument.name) -> list[Observation]:
            with _lock:
                values = list(_last_run.get(name, ()))
            return [Observation(value, attributes) for value, attributes in values]

        meter.create_observable_gauge(
            instrument.name,
            callbacks=[observe],
            unit=instrument.unit,
            description=instrument.description,
        )


def publish(stats: RunStats) -> None:
    """Make ``stats`` the values the per-run gauges report."""
    values = stats.observations()
    with _lock:
        _last_run.clear()
        _last_run.update(values)


def record_tests(
    recorders: Mapping[str, Any], tests: Iterable[tuple[str, str, float, str | None]], suite: str
) -> None:
    """Count each (outcome, category, duration, flaky kind or None) test of a run."""
    duration = recorders.get(cat.TEST_DURATION.name)
    cases: Counter[tuple[str, str]] = Counter()
    flaky: Counter[tuple[str, str]] = Counter()
    attributes: dict[tuple[str, str], dict[str, str]] = {}
    # per series, the SDK's record function and the attributes the catalogue cleaned, bound
    # once: one histogram measurement per test is the only per-test cost left here
    durations: dict[tuple[str, str], tuple[Any, Any]] = {}
    for outcome, category, seconds, flaky_kind in tests:
        key = (outcome, category)
        found = attributes.get(key)
        if found is None:
            found = attributes[key] = {
                n.TEST_OUTCOME: outcome,
                n.TEST_CATEGORY: category,
                n.TEST_SUITE_NAME: suite,
            }
            if duration is not None:
                durations[key] = duration.bind(found)
        cases[key] += 1
        if duration is not None:
            record, clean = durations[key]
            record(seconds, clean)
        if flaky_kind is not None:
            flaky[(flaky_kind, category)] += 1
    recorder = recorders.get(cat.TEST_CASES.name)
    if recorder is not None:
        for key, count in cases.items():  # one add per series: the sums are the same
            recorder.record(count, attributes[key])
    recorder = recorders.get(cat.TEST_FLAKY.name)
    if recorder is not None:
        for (kind, category), count in flaky.items():
            recorder.record(
                count,
                {n.TEST_FLAKY_KIND: kind, n.TEST_CATEGORY: category, n.TEST_SUITE_NAME: suite},
            )


# --- Pushgateway --------------------------------------------------------------------------


def _label(key: str) -> str:
    return key.replace(".", "_")


def push(gateway: str, job: str, grouping_key: Mapping[str, str], stats: RunStats) -> str | None:
    """Push the run's gauges to a Pushgateway (replacing the group); an error text or None.

    A fresh ``CollectorRegistry`` per push, so nothing else of the process is sent.
    """
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    grouped = set(grouping_key)
    for instrument in GAUGES:
        values = stats.observations().get(instrument.name)
        if not values:
            continue
        keys = [k for k in values[0][1] if _label(k) not in grouped]
        gauge = Gauge(
            prometheus_name(instrument),
            instrument.description,
            [_label(k) for k in keys],
            registry=registry,
        )
        for value, attributes in values:
            (gauge.labels(*(str(attributes[k]) for k in keys)) if keys else gauge).set(value)
    try:
        push_to_gateway(
            gateway,
            job=job,
            registry=registry,
            grouping_key=dict(grouping_key),
            timeout=PUSH_TIMEOUT,
        )
    except Exception as exc:  # URLError, HTTPError, OSError, ValueError...
        return f"could not push the run's metrics to the Pushgateway {gateway}: {exc}"
    return None
