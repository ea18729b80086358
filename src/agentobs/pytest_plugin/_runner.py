"""The hooks of the process that runs tests (a serial run, or an xdist worker).

For each test: a span that is current from the start of its setup to the end of its teardown
(so agent and LLM spans made in the test nest under it), the outcome of every attempt (reruns
by pytest-rerunfailures or flaky are attempts of one test, in one span), the tokens and cost
it used, and the ``agentobs_budget`` check. What the run's recorder needs (the outcome of the
last attempt, fingerprint, category, failed attempts, duration) goes to it directly in a
serial run, or, in an xdist worker, as a small payload on the teardown report (``report.agentobs``),
which pytest-xdist serialises to the controller.

Only two wrappers (``pytest_runtest_setup`` and ``pytest_runtest_makereport``): the test
protocol stays pytest's and the rerun plugins'. The span of a test ends when the next test
starts or the session ends, stamped with the time its last report stopped, because a rerun
plugin may start another attempt after a teardown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .. import _names as n
from .._errors import internal_errors
from ._budget import BUDGET_MARKER, Budget, Usage, budget_of
from ._category import Categories
from ._fingerprint import fingerprint
from ._outcomes import (
    FAIL_LIKE,
    FAILED,
    INTERRUPTED,
    PASS_LIKE,
    PAYLOAD,
    classify,
    failure_message,
    is_subtest,
    skip_reason,
    subtest_id,
)
from ._recorder import Finished
from ._xdist import SPANS_KEY

if TYPE_CHECKING:
    from ._telemetry import Telemetry

_NO_USAGE = Usage()
STRICT_XPASS = "xpass_strict"
"""``error.type`` of a test that passed while marked ``xfail(strict=True)``."""
SUBTESTS_FAILED = "subtests_failed"
"""``error.type`` of a test that pytest failed because subtests of it failed."""
MAX_SUBTEST_EVENTS = 20
"""Subtest events on one test span; the counts cover every subtest."""
EMIT_EVERY = 64
"""Finished test spans handed to the span processors at once (or those of the last second)."""
OTHER_ERROR = "_OTHER"
"""``error.type`` of a failure that carries no exception (OpenTelemetry's fallback value)."""


def _failed(where: str, exc: Exception) -> None:
    """Handle an error of ours the one way agentobs does (logged once, or raised in our tests).

    The hot hooks use ``try``/``except`` and call this, rather than entering
    :func:`internal_errors` on every call."""
    with internal_errors(where):
        raise exc


@dataclass(slots=True)
class _Test:
    """The test running now, across its attempts."""

    item: Any
    category: str
    fingerprint: str | None
    span: Any = None
    token: object | None = None
    budget: Budget | None = None
    budget_error: str | None = None
    attempts: int = 1
    failed_attempts: int = 0
    reports: list[Any] = field(default_factory=list)
    duration: float = 0.0
    outcome: str | None = None
    reason: str | None = None
    error_type: str | None = None
    message: str | None = None
    attempt_error: str | None = None
    attempt_message: str | None = None
    end: float | None = None
    usage_start: Usage = _NO_USAGE
    failures: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    """Each failed attempt (event attributes, time), events only when the test was rerun."""
    subtests: dict[str, int] | None = None
    """Subtests by outcome, when the test has any."""
    attempt_error_at: int = -1
    """Index in ``reports`` of the report ``attempt_error`` came from."""
    data: tuple[Any, ...] | None = None
    """Its finished span as plain values, as of its last teardown."""


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class Runner:
    """Per-test spans, attempts, usage, budget; hands each finished test to ``deliver``."""

    def __init__(
        self,
        telemetry: Telemetry | None,
        parent_context: Any,
        categories: Categories,
        worker: str | None,
        deliver: Callable[[str, Finished], None] | None,
    ) -> None:
        self.telemetry = telemetry
        self.parent_context = parent_context
        self.categories = categories
        self.worker = worker
        self.deliver = deliver
        self.current: _Test | None = None
        self.deliver_other: Callable[[str, str, str | None], None] | None = None
        """Where a failed subtest is counted (the recorder of a serial run)."""
        self.spans = 0
        self.ship_spans = False
        """True in an xdist worker whose controller exports the test spans: each finished
        test's span goes to it on the teardown report (so a crash of this worker loses no
        finished test's span), and this process exports none."""
        self.shipper: Any = None
        """The worker's :class:`~._worker_spans.SpanShipper`, when its controller exports
        every span it makes: what it keeps goes with the next report."""
        self._usage: Any = None
        self._spans: Any = None  # the OpenTelemetry API is imported only with telemetry
        self._markers: Any = None
        self._starter: Any = None
        self._finished: list[tuple[Any, ...]] = []
        self._first_finished = 0.0
        if telemetry is not None:
            self.use(telemetry)

    def use(self, telemetry: Telemetry) -> None:
        """Record test spans (and count usage) into ``telemetry`` from the next test on."""
        from . import _spans
        from ._usage import USAGE

        self.telemetry = telemetry
        self._usage = USAGE
        self._spans = _spans
        self._markers = _spans.Markers()
        self._starter = _spans.TestSpans(telemetry.tracer, self.parent_context)

    # --- hooks ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        try:
            test = self._attempt(item)
            if test.span is not None and test.token is None:
                test.token = self._spans.attach(test.span)  # detached after its teardown
        except Exception as exc:
            _failed("pytest plugin: test start", exc)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        test = self.current
        if test is not None and test.item is item:
            try:
                self._on_report(test, call, report)
            except Exception as exc:
                _failed("pytest plugin: report", exc)
        return report

    @pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """In an xdist worker, the spans that ended since its last report go with this one
        (a subtest's report waits for the next). A subtest's report: counted and kept as an
        event of its test, and taken out of the reports that decide the test's outcome
        (pytest made it with ``makereport`` too)."""
        shipper = self.shipper
        if shipper is not None and shipper.pending and not is_subtest(report):
            try:
                self._ship(shipper, report)
            except Exception as exc:
                _failed("pytest plugin: worker spans", exc)
        test = self.current
        if test is None or not is_subtest(report) or report.nodeid != test.item.nodeid:
            return
        try:
            self._on_subtest(test, report)
        except Exception as exc:
            _failed("pytest plugin: subtest", exc)

    def _ship(self, shipper: Any, report: Any) -> None:
        """Hang the spans that ended since the last report on ``report``, with the id of the
        running test's span (their parent, should the worker crash in that test)."""
        shipped = shipper.take()
        test = self.current
        if test is not None and isinstance(test.span, self._spans.TestSpan):
            span_id = test.span.get_span_context().span_id
            shipped["test"] = [test.item.nodeid, span_id, test.span.start]
        setattr(report, SPANS_KEY, shipped)

    def _on_subtest(self, test: _Test, report: Any) -> None:
        reports = test.reports
        if reports and reports[-1].when == "call":
            reports.pop()
            if test.attempt_error_at == len(reports):
                test.attempt_error = test.attempt_message = None
                test.attempt_error_at = -1
        outcome = report.outcome
        if report.failed and self.deliver_other is not None:
            self.deliver_other(subtest_id(report), FAILED, None)
        counts = test.subtests = test.subtests or {}
        counts[outcome] = counts.get(outcome, 0) + 1
        if test.span is not None and sum(counts.values()) <= MAX_SUBTEST_EVENTS:
            event: dict[str, Any] = {"subtest": subtest_id(report), n.TEST_OUTCOME: outcome}
            if report.failed:
                event["message"] = failure_message(report) or ""
            elif report.skipped:
                event[n.TEST_REASON] = skip_reason(report) or ""
            test.span.add_event(n.TEST_SUBTEST_EVENT, event, timestamp=int(report.stop * 1e9))

    def pytest_sessionfinish(self) -> None:
        with internal_errors("pytest plugin: last test"):
            self.close()
            self.emit()

    # --- machinery -----------------------------------------------------------------------

    def _attempt(self, item: Any) -> _Test:
        test = self.current
        if test is not None and test.item is item:  # a rerun of the same test
            test.attempts += 1
            test.reports = []
            test.outcome = None
            test.subtests = None
            test.attempt_error = test.attempt_message = None
            if self._usage is not None:
                test.usage_start = self._usage.usage()
            return test
        self.close()
        test = _Test(item, self.categories.of_item(item), fingerprint(item))
        marker = item.get_closest_marker(BUDGET_MARKER) if BUDGET_MARKER in item.keywords else None
        if marker is not None:
            try:
                test.budget = budget_of(marker)
            except ValueError as exc:
                test.budget_error = str(exc)
        telemetry = self.telemetry
        if telemetry is not None and telemetry.usable:
            attributes = self._spans.attributes_of_test(
                item, test.category, self.worker, self._markers.of(item)
            )
            test.span = self._starter.start(item.nodeid, attributes)
            self.spans += 1
            self._usage.begin(test.span.get_span_context().span_id)
        self.current = test
        return test

    def _on_report(self, test: _Test, call: Any, report: Any) -> None:
        when = report.when
        budgeted = test.budget is not None or test.budget_error is not None
        if budgeted and when == "call" and report.passed and not hasattr(report, "wasxfail"):
            self._check_budget(test, report)
        test.reports.append(report)
        test.duration += report.duration
        if report.failed and test.attempt_error is None:
            test.attempt_error_at = len(test.reports) - 1
            excinfo = call.excinfo
            if excinfo is not None:
                test.attempt_error = _error_type(excinfo.value)
            elif when == "call" and str(report.longrepr).startswith("[XPASS(strict)]"):
                test.attempt_error = STRICT_XPASS
            else:  # a failed report without an exception (another plugin's)
                test.attempt_error = OTHER_ERROR
            test.attempt_message = failure_message(report)
        if when != "teardown":
            return
        if test.token is not None:  # the test's span stops being current
            token, test.token = test.token, None
            self._spans.detach(token)
        outcome, reason = classify(test.reports)
        test.outcome, test.reason, test.end = outcome, reason, report.stop
        if outcome in FAIL_LIKE:
            test.failed_attempts += 1
            test.error_type, test.message = test.attempt_error, test.attempt_message
            if test.error_type is None:  # failed after its report was made (failed subtests)
                failed = test.subtests and test.subtests.get("failed")
                test.error_type = SUBTESTS_FAILED if failed else OTHER_ERROR
                main = next((r for r in test.reports if r.failed), None)
                test.message = failure_message(main) if main is not None else None
            if test.span is not None:
                event = {
                    "attempt": test.attempts,
                    n.TEST_OUTCOME: outcome,
                    n.ERROR_TYPE: test.error_type or OTHER_ERROR,
                    "message": test.message or "",
                }
                test.failures.append((event, int(report.stop * 1e9)))
        if self.ship_spans and isinstance(test.span, self._spans.TestSpan):
            test.data = self._span_data(test, self._usage.usage())
        if self.worker is not None:
            setattr(report, PAYLOAD, self._payload(test))

    def _payload(self, test: _Test) -> dict[str, Any]:
        """What the recorder needs beyond the reports (failed attempts before this one), and
        the test's span when the controller exports it."""
        failed_before = test.failed_attempts - (1 if test.outcome in FAIL_LIKE else 0)
        payload: dict[str, Any] = {
            "fp": test.fingerprint,
            "cat": test.category,
            "fa": failed_before,
        }
        if self.ship_spans and test.data is not None:
            payload["span"] = test.data
        return payload

    def _check_budget(self, test: _Test, report: Any) -> None:
        problem = test.budget_error
        if problem is None and test.budget is not None and self._usage is not None:
            used = self._usage.usage().minus(test.usage_start)
            exceeded = test.budget.exceeded(used)
            problem = f"agentobs_budget exceeded: {exceeded}" if exceeded else None
        if problem is not None:
            report.outcome = "failed"
            report.longrepr = problem
            test.attempt_error, test.attempt_message = "agentobs_budget", problem

    def close(self) -> None:
        """Finish the test that ran last: hand it to the recorder, end its span."""
        test, self.current = self.current, None
        if test is None:
            return
        if test.token is not None:  # its teardown never reported (an interrupted run)
            token, test.token = test.token, None
            self._spans.detach(token)
        outcome = test.outcome
        interrupted = outcome is None
        if outcome is None:  # its teardown never reported: the run was interrupted
            outcome = test.outcome = INTERRUPTED
            test.reason = None
        if self.deliver is not None:
            self.deliver(
                test.item.nodeid,
                Finished(
                    outcome,
                    test.reason,
                    test.category,
                    test.duration,
                    test.fingerprint,
                    test.failed_attempts - (1 if test.outcome in FAIL_LIKE else 0),
                ),
            )
        span = test.span
        if span is None:
            return
        used = self._usage.end() if self._usage is not None else _NO_USAGE
        if not isinstance(span, self._spans.TestSpan):
            return  # not sampled
        if self.ship_spans and not interrupted:
            return  # the controller has it (from the teardown report)
        test.data = data = self._span_data(test, used)
        if not self._finished:
            self._first_finished = time.monotonic()
        self._finished.append(data)
        if len(self._finished) >= EMIT_EVERY or time.monotonic() - self._first_finished > 1.0:
            self.emit()

    def emit(self) -> None:
        """Hand the finished test spans to the pipeline's span processors."""
        finished, self._finished = self._finished, []
        tracer = self.telemetry.tracer if self.telemetry is not None else None
        if finished and tracer is not None:  # into the session's pipeline, while it is open
            self._spans.emit(tracer, finished)

    def _span_data(self, test: _Test, used: Usage) -> tuple[Any, ...]:
        """The test's finished span as plain values (:data:`_spans.SpanData`)."""
        attributes: dict[str, Any] = {}
        if test.attempts > 1:
            attributes[n.TEST_ATTEMPTS] = test.attempts
        outcome = test.outcome or INTERRUPTED
        if test.failed_attempts and outcome in PASS_LIKE:
            attributes[n.TEST_FLAKY] = True
            attributes[n.TEST_FLAKY_KIND] = "rerun"
        if used.input_tokens or used.output_tokens or used.usd:
            attributes[n.TEST_INPUT_TOKENS] = used.input_tokens
            attributes[n.TEST_OUTPUT_TOKENS] = used.output_tokens
            attributes[n.TEST_COST_USD] = used.usd
        if test.subtests:
            for state, count in test.subtests.items():
                attributes[n.TEST_SUBTESTS_PREFIX + state] = count
        events: list[tuple[str, dict[str, Any], int]] = []
        if test.attempts > 1:  # the failed attempts of a rerun test
            events = [(n.TEST_ATTEMPT_EVENT, event, when) for event, when in test.failures]
        failed = outcome in FAIL_LIKE
        status = self._spans.test_outcome(
            outcome,
            test.reason,
            test.error_type if failed else None,
            test.message if failed else None,
            attributes,
        )
        end = int(test.end * 1e9) if test.end else time.time_ns()
        return test.span.data(attributes, events, status, end)  # type: ignore[no-any-return]
