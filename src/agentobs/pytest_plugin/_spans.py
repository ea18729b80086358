"""The spans of a test run: one for the session, one per test (attributes and status).

The session span is a child of ``TRACEPARENT`` when the environment has one (a CI pipeline's
trace); test spans are children of the session span, in xdist workers too (the session's
context reaches them through ``workerinput``). A test's span is a :class:`TestSpan` while the
test runs (cheap, and the current span); finished test spans are built into SDK spans in bulk
(:func:`emit`), in the process that exports them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import _names as n
from .._export.sdk_compat import tracer_scope, tracer_span_limits
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


def test_outcome(
    outcome: str,
    reason: str | None,
    error_type: str | None,
    message: str | None,
    attributes: dict[str, Any],
) -> Status | None:
    """Add a test's outcome to ``attributes``; the status of its span (None: unset)."""
    attributes[n.TEST_OUTCOME] = outcome
    status = result_status(outcome)
    if status is not None:
        attributes[n.TEST_CASE_RESULT_STATUS] = status
    if reason:
        attributes[n.TEST_REASON] = reason
    if error_type and outcome in FAIL_LIKE:
        attributes[n.ERROR_TYPE] = error_type
    if outcome in FAIL_LIKE:
        return Status(StatusCode.ERROR, message or outcome)
    return _OK if outcome in PASS_LIKE else None


def set_test_outcome(
    span: Any,
    outcome: str,
    reason: str | None,
    error_type: str | None,
    message: str | None,
    attributes: dict[str, Any],
) -> None:
    """Set a test's outcome (and ``attributes``) on its span, in one call."""
    status = test_outcome(outcome, reason, error_type, message, attributes)
    span.set_attributes(attributes)
    if status is not None:
        span.set_status(status)


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


# --- test spans, recorded cheaply and built in bulk ------------------------------------------

SpanData = tuple[Any, ...]
"""A finished test span as plain values (what xdist carries to the controller):
``(name, trace id, span id, parent span id or None, trace flags, trace state header, start
ns, end ns, attributes, events [(name, attributes, ns)], status code, status description,
links [(trace id, span id, trace flags, attributes)])``."""


class TestSpan(trace.Span):
    """The span of the test running now: the current span during the test, so spans the
    test makes are its children, and what the test's code sets on the current span is kept.

    Nothing of the SDK's span lifecycle runs per test (sampler, processors, attribute
    validation of the plugin's own attributes): :meth:`data` gives the finished span as
    plain values, and :func:`emit` builds the spans and hands them to the span processors
    in bulk (see :class:`Runner`)."""

    __test__ = False  # not a test class, for pytest

    def __init__(
        self,
        name: str,
        context: trace.SpanContext,
        parent: trace.SpanContext | None,
        attributes: dict[str, Any],
        limits: Any,
        scope: Any = None,
    ) -> None:
        self._name = name
        self._scope = scope
        self._context = context
        self._parent = parent
        self._attributes = attributes
        self._limits = limits
        self._user: Any = None  # BoundedAttributes of what the test's code sets, when any
        self._events: list[tuple[str, Any, int]] = []
        self._links: list[tuple[int, int, int, Any]] = []
        self._status: Status | None = None
        self.start = time.time_ns()

    # --- what is read of an SDK span (the interop processor: is the parent agentobs's?) ---

    @property
    def instrumentation_scope(self) -> Any:
        return self._scope

    @property
    def name(self) -> str:
        return self._name

    @property
    def parent(self) -> trace.SpanContext | None:
        return self._parent

    @property
    def attributes(self) -> Mapping[str, Any]:
        if self._user is None:
            return MappingProxyType(self._attributes)
        return MappingProxyType({**self._attributes, **self._user})

    # --- the OpenTelemetry Span API (for the test's own code) ----------------------------

    def get_span_context(self) -> trace.SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: Any) -> None:
        user = self._user
        if user is None:
            limits = self._limits
            user = self._user = BoundedAttributes(
                limits.max_span_attributes,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
        user[key] = value

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        if len(self._events) < self._limits.max_events:
            when = time.time_ns() if timestamp is None else int(timestamp)
            self._events.append((str(name), dict(attributes or {}), when))

    def add_link(self, context: trace.SpanContext, attributes: Any = None) -> None:
        if context.is_valid and len(self._links) < self._limits.max_links:
            flags = int(context.trace_flags)
            self._links.append((context.trace_id, context.span_id, flags, dict(attributes or {})))

    def update_name(self, name: str) -> None:
        self._name = name

    def set_status(self, status: Any, description: str | None = None) -> None:
        if isinstance(status, Status):
            self._status = status
        else:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        import traceback

        cls = type(exception)
        module = cls.__module__
        found: dict[str, Any] = {
            "exception.type": f"{module}.{cls.__qualname__}"
            if module and module != "builtins"
            else cls.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        found.update(attributes or {})
        self.add_event("exception", found, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """Ignored: the plugin ends a test's span after the test's last report."""

    # --- the plugin's side ---------------------------------------------------------------

    def data(
        self,
        attributes: dict[str, Any],
        events: list[tuple[str, dict[str, Any], int]],
        status: Status | None,
        end: int,
    ) -> SpanData:
        """The finished span as plain values: the test's own attributes, then what its code
        set, then ``attributes``; its code's events, then ``events``; ``status`` unless its
        code set one."""
        merged = self._attributes
        if self._user is not None:
            merged = {**merged, **self._user}
        if attributes:
            merged = {**merged, **attributes}
        context = self._context
        parent = self._parent
        status = self._status or status
        code = status.status_code.value if status is not None else 0
        state = context.trace_state
        return (
            self._name,
            context.trace_id,
            context.span_id,
            parent.span_id if parent is not None else None,
            int(context.trace_flags),
            state.to_header() if state else "",
            self.start,
            end,
            merged,
            [*self._events, *events] if events else list(self._events),
            code,
            status.description if status is not None else None,
            list(self._links),
        )


_STATUS_CODES = {code.value: code for code in StatusCode}


def readable(data: SpanData, tracer: Any) -> ReadableSpan:
    """The SDK span of ``data``, as ``tracer`` would have made it."""
    (name, trace_id, span_id, parent_id, flags, state, start, end) = data[:8]
    attributes, events, code, description, links = data[8:13]
    trace_state = TraceState.from_header([state]) if state else None
    trace_flags = TraceFlags(flags)
    context = trace.SpanContext(trace_id, span_id, False, trace_flags, trace_state)
    parent = None
    if parent_id is not None:
        parent = trace.SpanContext(trace_id, parent_id, False, trace_flags, trace_state)
    limits = tracer_span_limits(tracer)
    if limits.max_span_attribute_length is not None or len(attributes) > limits.max_span_attributes:
        attributes = BoundedAttributes(
            limits.max_span_attributes,
            attributes,
            max_value_len=limits.max_span_attribute_length,
        )
    return ReadableSpan(
        name,
        context=context,
        parent=parent,
        resource=tracer.resource,
        attributes=attributes,
        events=tuple(
            Event(e_name, e_attributes, e_time, limits.max_event_attributes)
            for e_name, e_attributes, e_time in events
        ),
        links=tuple(
            trace.Link(trace.SpanContext(t, s, False, TraceFlags(f)), a or None)
            for t, s, f, a in links
        ),
        kind=SpanKind.INTERNAL,
        instrumentation_info=tracer.instrumentation_info,
        status=Status(_STATUS_CODES.get(code, StatusCode.UNSET), description),
        start_time=start,
        end_time=end,
        instrumentation_scope=tracer_scope(tracer),
    )


def emit(tracer: Any, spans: Iterable[SpanData]) -> None:
    """Build the finished test spans and hand them to ``tracer``'s span processors."""
    on_end = tracer.span_processor.on_end
    for data in spans:
        on_end(readable(data, tracer))


class TestSpans:
    """Starts the spans of tests as ``tracer`` would, children of ``parent_context``'s span.

    The sampler decides once for the session's trace (a test span's decision can only
    follow its parent's); without a parent each test span starts its own trace."""

    __test__ = False  # not a test class, for pytest

    def __init__(self, tracer: Any, parent_context: Any) -> None:
        self.tracer = tracer
        self.limits = tracer_span_limits(tracer)
        self._scope = tracer_scope(tracer)
        self._ids = tracer.id_generator
        self._context = parent_context
        parent = trace.get_current_span(parent_context).get_span_context()
        self.parent: trace.SpanContext | None = parent if parent.is_valid else None
        self._decided: tuple[bool, TraceFlags, Any, dict[str, Any]] | None = None

    def _decide(self, trace_id: int) -> tuple[bool, TraceFlags, Any, dict[str, Any]]:
        result = self.tracer.sampler.should_sample(
            self._context, trace_id, "test", SpanKind.INTERNAL, None, ()
        )
        flags = TraceFlags.SAMPLED if result.decision.is_sampled() else TraceFlags.DEFAULT
        random = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
        if random:
            source = self.parent.trace_flags if self.parent is not None else None
            is_random = (
                getattr(source, "random_trace_id", False)
                if source is not None
                else self._ids.is_trace_id_random()
            )
            if is_random:
                flags |= random
        return (
            result.decision.is_recording(),
            TraceFlags(flags),
            result.trace_state,
            dict(result.attributes or {}),
        )

    def start(self, name: str, attributes: dict[str, Any]) -> Any:
        """A :class:`TestSpan`, or a non-recording span when the sampler says so."""
        parent = self.parent
        if parent is None:
            trace_id = self._ids.generate_trace_id()
            recording, flags, state, extra = self._decide(trace_id)
        else:
            trace_id = parent.trace_id
            decided = self._decided
            if decided is None:
                decided = self._decided = self._decide(trace_id)
            recording, flags, state, extra = decided
        context = trace.SpanContext(trace_id, self._ids.generate_span_id(), False, flags, state)
        if not recording:
            return trace.NonRecordingSpan(context)
        if extra:
            attributes = {**extra, **attributes}
        return TestSpan(name, context, parent, attributes, self.limits, self._scope)
