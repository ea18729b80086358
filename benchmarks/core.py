"""Core overhead: agentobs.task against a raw OpenTelemetry span, and import time.

The order of ``BENCHMARKS`` matters: the calls made before ``configure()`` come before the
configured ones (which install the global pipeline and reset it afterwards).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from _harness import Session, paired_import_seconds, paired_per_call_ns, per_call_ns

RAW = "raw OTel span (BatchSpanProcessor, dropping exporter)"
SDK_IMPORT = "import opentelemetry.sdk.trace"
SPAN_CALLS = 20_000
NOOP_CALLS = 200_000


def _dropping_processor() -> Any:
    """The SDK's BatchSpanProcessor in front of an exporter that drops everything."""
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class DroppingExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    return BatchSpanProcessor(DroppingExporter())


def _trivial() -> int:
    return 1


class RawSpan:
    """The baseline: a function that opens a span around a trivial body, OTel SDK only, with
    a private TracerProvider (never the global one, which agentobs would adopt)."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        # A full queue logs "Queue full, dropping Span" once; it says nothing about the cost.
        logging.getLogger("opentelemetry").setLevel(logging.ERROR)
        self.provider = TracerProvider()
        self.provider.add_span_processor(_dropping_processor())
        tracer = self.provider.get_tracer("bench")

        def call() -> int:
            with tracer.start_as_current_span("x"):
                return _trivial()

        self.call = call

    def close(self) -> None:
        self.provider.shutdown()


def raw_span(session: Session) -> None:
    """The baseline on its own, for its absolute figure."""
    raw = RawSpan()
    try:
        session.add(
            RAW, per_call_ns(raw.call, session.calls(SPAN_CALLS), session.rounds), "ns/call"
        )
    finally:
        raw.close()


def plain_call(session: Session) -> None:
    """The floor: calling the trivial function, no telemetry at all."""
    _paired(session, "plain function call (floor)", _trivial, NOOP_CALLS)


def _decorated() -> Callable[[], int] | None:
    import agentobs

    task = getattr(agentobs, "task", None)
    if task is None:
        return None
    decorated: Callable[[], int] = task("x")(_trivial)
    return decorated


def _paired(
    session: Session,
    name: str,
    call: Callable[[], object],
    calls: int,
    target: float | None = None,
    note: str = "",
) -> None:
    raw = RawSpan()
    try:
        ours, theirs = paired_per_call_ns(
            call, session.calls(calls), raw.call, session.calls(SPAN_CALLS), session.rounds
        )
    finally:
        raw.close()
    session.add(
        name, ours, "ns/call", baseline=RAW, baseline_rounds=theirs, target=target, note=note
    )


def task_before_configure(session: Session) -> None:
    """@agentobs.task before configure(): must be near free."""
    name = "@agentobs.task call before configure()"
    call = _decorated()
    if call is None:
        session.skip(name, "agentobs.task does not exist yet", baseline=RAW)
        return
    _paired(session, name, call, NOOP_CALLS, target=0.05)


def task_configured(session: Session) -> None:
    """@agentobs.task after configure(exporter="none") plus the baseline's processor."""
    import agentobs.testing
    from agentobs._export import pipeline as _pipeline
    from agentobs._settings import resolve

    name = TASK_ROW
    call = _decorated()
    if call is None:
        session.skip(name, "agentobs.task does not exist yet", baseline=RAW)
        return
    agentobs.testing.reset()
    _pipeline.install(resolve(exporter="none"), span_processors=[_dropping_processor()])
    try:
        _paired(
            session,
            name,
            call,
            SPAN_CALLS,
            target=1.3,
            note="span + task run counter + duration",
        )
    finally:
        agentobs.testing.reset()


TASK_ROW = "@agentobs.task call, configured (same processor)"


def fleet_scopes(session: Session) -> None:
    """Entering a session scope, or a queue's work scope, against a task scope (same
    configured pipeline): neither may cost more than the task."""
    import agentobs
    import agentobs.testing
    from agentobs._export import pipeline as _pipeline
    from agentobs._settings import resolve

    task = _decorated()
    if task is None or not hasattr(agentobs, "session"):
        session.skip("@agentobs.session call, configured", "no agentobs.session yet")
        return
    agentobs.testing.reset()
    _pipeline.install(resolve(exporter="none"), span_processors=[_dropping_processor()])
    try:
        in_session: Callable[[], int] = agentobs.session("s-1", user_id="u-1", kind="chat")(
            _trivial
        )
        jobs = agentobs.queue("bench")

        def queued() -> int:
            with jobs.work(jobs.enqueued()):
                return _trivial()

        for name, call, note in (
            (
                "@agentobs.session call, configured",
                in_session,
                "ids in the context for the spans inside, sessions active, duration",
            ),
            (
                "queue enqueued() + work() block, configured",
                queued,
                "depth, wait and service histograms, enqueued and completed counters",
            ),
        ):
            ours, theirs = paired_per_call_ns(
                call, session.calls(SPAN_CALLS), task, session.calls(SPAN_CALLS), session.rounds
            )
            session.add(
                name,
                ours,
                "ns/call",
                baseline=TASK_ROW,
                baseline_rounds=theirs,
                target=1.0,
                note=note,
            )
    finally:
        agentobs.testing.reset()


def import_time(session: Session) -> None:
    """`import agentobs` against `import opentelemetry.sdk.trace`, fresh interpreters."""
    ours, theirs = paired_import_seconds("agentobs", "opentelemetry.sdk.trace", session.rounds)
    session.add(SDK_IMPORT, [s * 1000 for s in theirs], "ms")
    session.add(
        "import agentobs",
        [s * 1000 for s in ours],
        "ms",
        baseline=SDK_IMPORT,
        baseline_rounds=[s * 1000 for s in theirs],
        target=0.6,
    )


BENCHMARKS: list[Callable[[Session], None]] = [
    raw_span,
    plain_call,
    task_before_configure,
    task_configured,
    fleet_scopes,
    import_time,
]
