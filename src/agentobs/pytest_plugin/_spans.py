"""The spans of a test run: one for the session, one per test (attributes and status).

The session span is a child of ``TRACEPARENT`` when the environment has one (a CI pipeline's
trace); test spans are children of the session span, in xdist workers too (the session's
context reaches them through ``workerinput``). Only the OpenTelemetry API is used here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import _names as n
from ._outcomes import FAIL_LIKE, PASS_LIKE, result_status

_PROPAGATOR = TraceContextTextMapPropagator()
_MAX_PARAM = 256
_RUN_STATUS = {0: "success", 1: "failure", 2: "aborted", 3: "failure", 4: "failure", 5: "skipped"}


def attach(span: Any) -> object:
    """Make ``span`` the current span; return the token for :func:`detach`."""
    return otel_context.attach(trace.set_span_in_context(span))


detach = otel_context.detach


def context_from_traceparent(traceparent: str | None, tracestate: str | None = None) -> Any:
    """An OpenTelemetry context whose current span is the remote ``traceparent``, or None."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _PROPAGATOR.extract(carrier, context=otel_context.Context())
    span_context = trace.get_current_span(context).get_span_context()
    return context if span_context.is_valid else None


def traceparent_of(span: Any) -> str | None:
    """The W3C ``traceparent`` of a span (to hand to xdist workers)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span, otel_context.Context()))
    return carrier.get("traceparent")


def start_session_span(
    tracer: Any, suite: str, ci: Mapping[str, str], parent: Any, workers: int | None
) -> Any:
    """Start the span of the whole run."""
    attributes: dict[str, Any] = {
        n.SPAN_TYPE: n.SPAN_TYPE_TEST_SESSION,
        n.TEST_SUITE_NAME: suite,
        n.TEST_SUITE_RUN_STATUS: "in_progress",
        **ci,
    }
    if workers:
        attributes[n.TEST_RUN_PREFIX + "workers"] = workers
    return tracer.start_span(
        f"pytest {suite}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes
    )


def end_session_span(
    span: Any, exitstatus: int, summary: Mapping[str, Any], collection_errors: int = 0
) -> None:
    """Set the run's status and totals on the session span and end it."""
    status = _RUN_STATUS.get(int(exitstatus), "failure")
    span.set_attribute(n.TEST_SUITE_RUN_STATUS, status)
    span.set_attribute(n.TEST_RUN_PREFIX + "exit_code", int(exitstatus))
    span.set_attributes({n.TEST_RUN_PREFIX + k: v for k, v in summary.items() if v is not None})
    if collection_errors:
        span.set_attribute(n.TEST_RUN_PREFIX + "collection_errors", collection_errors)
    if status in ("failure", "aborted"):
        why = f"pytest exited with {int(exitstatus)}"
        if collection_errors:
            s = "s" if collection_errors != 1 else ""
            why += f": {collection_errors} error{s} during collection"
        span.set_status(Status(StatusCode.ERROR, why))
    else:
        span.set_status(Status(StatusCode.OK))
    span.end()


_SKIPPED_MARKERS = frozenset(("parametrize", "usefixtures"))


class Markers:
    """Marker names of a test and its parents (each parent's looked up once)."""

    def __init__(self) -> None:
        self._parents: dict[str, frozenset[str]] = {}

    def of(self, item: Any) -> list[str]:
        """Sorted marker names of ``item``, its class, module and packages."""
        parent = item.parent
        inherited: frozenset[str] = frozenset()
        if parent is not None:
            found = self._parents.get(parent.nodeid)
            if found is None:
                chain = parent.listchain()
                found = frozenset(m.name for node in chain for m in node.own_markers)
                self._parents[parent.nodeid] = found
            inherited = found
        own = item.own_markers
        if not own and not inherited:
            return []
        names = (inherited | {m.name for m in own}) - _SKIPPED_MARKERS
        return sorted(names)


def attributes_of_test(
    item: Any, category: str, worker: str | None, markers: list[str]
) -> dict[str, Any]:
    """The attributes a test span starts with."""
    path, line, domain = item.location
    attributes: dict[str, Any] = {
        n.SPAN_TYPE: n.SPAN_TYPE_TEST,
        n.TEST_CASE_NAME: item.nodeid,
        n.CODE_FILE_PATH: path,
        n.CODE_FUNCTION_NAME: domain.split("[", 1)[0],
        n.TEST_CATEGORY: category,
    }
    if line is not None:
        attributes[n.CODE_LINE_NUMBER] = line + 1
    if markers:
        attributes[n.TEST_MARKERS] = markers
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        attributes[n.TEST_PARAMETERS] = callspec.id
        for name, value in callspec.params.items():
            attributes[n.TEST_PARAM_PREFIX + name] = _param(value)
    if worker:
        attributes[n.TEST_WORKER] = worker
    return attributes


def _param(value: Any) -> Any:
    if isinstance(value, (bool, int, float)):
        return value
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:_MAX_PARAM]


_OK = Status(StatusCode.OK)


def set_test_outcome(
    span: Any,
    outcome: str,
    reason: str | None,
    error_type: str | None,
    message: str | None,
    attributes: dict[str, Any],
) -> None:
    """Set a test's outcome (and ``attributes``) on its span, in one call."""
    attributes[n.TEST_OUTCOME] = outcome
    status = result_status(outcome)
    if status is not None:
        attributes[n.TEST_CASE_RESULT_STATUS] = status
    if reason:
        attributes[n.TEST_REASON] = reason
    if error_type and outcome in FAIL_LIKE:
        attributes[n.ERROR_TYPE] = error_type
    span.set_attributes(attributes)
    if outcome in FAIL_LIKE:
        span.set_status(Status(StatusCode.ERROR, message or outcome))
    elif outcome in PASS_LIKE:
        span.set_status(_OK)


def reported_span(
    tracer: Any,
    session_span: Any,
    nodeid: str,
    category: str,
    outcome: str,
    reason: str | None,
    error_type: str | None,
    message: str | None,
    extra: Mapping[str, Any],
) -> None:
    """The span of something the recording process knows only from a report: a module that
    failed to collect (``error``) or skipped itself, a test whose xdist worker crashed."""
    path = nodeid.split("::", 1)[0]
    span = tracer.start_span(
        nodeid,
        context=trace.set_span_in_context(session_span, otel_context.Context()),
        attributes={
            n.SPAN_TYPE: n.SPAN_TYPE_TEST,
            n.TEST_CASE_NAME: nodeid,
            n.CODE_FILE_PATH: path,
            n.TEST_CATEGORY: category,
            **extra,
        },
    )
    set_test_outcome(span, outcome, reason, error_type, message, {})
    span.end()
