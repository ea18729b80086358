"""The session: who does what in this process, the session span, and the end of the run.

A serial run both runs and records tests. Under pytest-xdist the workers run them (test
spans, report payloads) and the controller records them (session span, metrics, history,
Pushgateway, summary). Nothing here fails the run: problems become one warning line each at
the end, and the exit code stays pytest's own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from .. import _names as n
from .._errors import internal_errors, logger
from .._flaky_history import CACHE_DIR, FILE_NAME
from . import _xdist
from ._budget import BUDGET_MARKER
from ._category import Categories, roots_from
from ._options import Options
from ._recorder import Recorder, ReportListener, RunResult
from ._runner import Runner
from ._telemetry import BindError, Telemetry

_SHOWN_FLAKY = 50
WORKER_CRASH = "worker_crashed"
"""``error.type`` of a test whose xdist worker process died while running it."""


class SessionPlugin:
    """Registered by the entry module when the plugin is on."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.worker_input = _xdist.worker_input(config)
        self.worker = self.worker_input.get("workerid") if self.worker_input else None
        self.telemetry: Telemetry | None = None
        self.problems: list[str] = []
        self.session_span: Any = None
        self.traceparent: str | None = None
        self.runner: Runner | None = None
        self.recorder: Recorder | None = None
        self.result: RunResult | None = None
        self.started = time.time()
        self.ci_system: str | None = None
        self.ci: dict[str, str] = {}
        self.xdist: _xdist.XdistController | None = None
        self._reported = False
        self.collection_errors = 0
        self.interrupted = False

    # --- start ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from . import _ci, _fingerprint

        self.started = time.time()
        _fingerprint.clear()
        self.ci_system, self.ci = _ci.detect()
        config = self.config
        controller = _xdist.is_controller(config)
        categories = Categories(
            self.options.category_marker, roots_from(config.getini("testpaths") or ())
        )
        ship_spans_of = None  # a worker whose controller exports its spans: its name
        if self.worker is not None and (self.worker_input or {}).get(_xdist.SHIP_SPANS_KEY):
            ship_spans_of = str(self.worker)
        try:
            self.telemetry = Telemetry.bind(
                self.options.export,
                self.options.suite,
                explicit=self.options.export_explicit,
                ship_spans_of=ship_spans_of,
            )
        except BindError as exc:
            self.problems.append(str(exc))
        parent = None
        with internal_errors("pytest plugin: session start"):
            if self.telemetry is not None and self.worker is None:
                parent = self._start_session_span(controller)
            elif self.telemetry is not None and self.worker_input is not None:
                from ._spans import context_from_traceparent

                parent = context_from_traceparent(self.worker_input.get(_xdist.TRACEPARENT_KEY))
        manager = config.pluginmanager
        if self.worker is None:
            self.recorder = Recorder(categories)
        if controller:
            assert self.recorder is not None
            manager.register(ReportListener(self.recorder), "agentobs-recorder")
        else:
            deliver = self.recorder.add if self.recorder is not None else None
            self.runner = Runner(self.telemetry, parent, categories, self.worker, deliver)
            if self.worker_input is not None:
                self.runner.ship_spans = bool(self.worker_input.get(_xdist.SHIP_SPANS_KEY))
                if self.telemetry is not None:
                    self.runner.shipper = self.telemetry.shipper
            if self.recorder is not None:
                self.runner.deliver_other = self.recorder.add_other
            manager.register(self.runner, "agentobs-runner")
        if controller:
            export = self._export_spans if self.session_span is not None else None
            self.xdist = _xdist.XdistController(
                lambda: self.traceparent, self.on_worker_crash, export
            )
            manager.register(self.xdist, "agentobs-xdist")

    def _start_session_span(self, controller: bool) -> Any:
        from opentelemetry import context as otel_context
        from opentelemetry import trace

        from . import _metrics, _spans

        assert self.telemetry is not None
        _metrics.ensure_gauges(self.telemetry.meter)
        parent = _spans.context_from_traceparent(
            os.environ.get("TRACEPARENT"), os.environ.get("TRACESTATE")
        )
        workers = None
        if controller:
            workers = int(getattr(self.config.option, "numprocesses", 0) or 0) or None
        self.session_span = _spans.start_session_span(
            self.telemetry.tracer, self.options.suite, self.ci, parent, workers
        )
        self.traceparent = _spans.traceparent_of(self.session_span)
        if parent is not None and not self.session_span.is_recording():
            self.problems.append(
                "TRACEPARENT is not sampled (trace flags 00): as its sampling decision says, "
                "the run's spans are not recorded (its metrics are)"
            )
        return trace.set_span_in_context(self.session_span, parent or otel_context.Context())

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Budgets count tokens through spans: with no pipeline, configure one that exports
        nothing (and shut it down at the end)."""
        runner = self.runner
        if runner is None or self.telemetry is not None or self.options.export == "none":
            return
        if not any(BUDGET_MARKER in item.keywords for item in session.items):
            return
        try:
            self.telemetry = Telemetry.bind(None, self.options.suite, force=True)
        except BindError as exc:
            self.problems.append(str(exc))
            return
        if self.telemetry is not None:
            runner.use(self.telemetry)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C or ``pytest.exit()``: the run stopped short of its end. (A session that
        stopped itself, e.g. stepwise at its first failure, raises ``Session.Interrupted``.)"""
        if not isinstance(excinfo.value, pytest.Session.Interrupted):
            self.interrupted = True

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A collection error is an ``error`` of its module, a module-level skip one
        ``skipped`` (pytest's counts); xdist hands the controller each one once."""
        if report.passed or self.recorder is None:
            return
        with internal_errors("pytest plugin: collection report"):
            from ._outcomes import ERROR, SKIPPED, collect_failure, skip_reason

            error_type: str | None = None
            message: str | None = None
            if report.failed:
                outcome, reason = ERROR, None
                error_type, message = collect_failure(report.longrepr)
                self.collection_errors += 1
            else:
                outcome, reason = SKIPPED, skip_reason(report)
            self.recorder.add_other(report.nodeid, outcome, reason)
            category = self.recorder.others[report.nodeid].category
            extra = {n.TEST_PHASE: "collect"}
            self._reported_span(
                report.nodeid, category, outcome, reason, error_type, message, extra
            )

    def _reported_span(self, *fields: Any) -> None:
        """:func:`_spans.reported_span` of ``fields``, under the session span (if any)."""
        telemetry = self.telemetry
        if self.session_span is not None and telemetry is not None and telemetry.usable:
            from . import _spans

            _spans.reported_span(telemetry.tracer, self.session_span, *fields)

    def _export_spans(self, spans: list[Any]) -> None:
        """Export test spans workers sent (their ``_spans.SpanData``)."""
        telemetry = self.telemetry
        if telemetry is not None and telemetry.tracer is not None:
            with internal_errors("pytest plugin: worker spans"):
                from . import _spans

                _spans.emit(telemetry.tracer, spans)

    def _count_dropped(self, dropped: int) -> None:
        """Count the spans workers dropped in the pipeline's figures (self-metrics and the
        shutdown line), as a queue that was full."""
        from .._export import pipeline
        from .._export.selfmetrics import ERROR_TYPE, PROCESSED, QUEUE_FULL

        current = pipeline.current()
        if current is not None:
            attributes = {**current.counts.component("xdist_worker_span_shipper")}
            attributes[ERROR_TYPE] = QUEUE_FULL
            current.counts.add(PROCESSED["traces"], attributes, dropped)

    def on_worker_crash(
        self, nodeid: str, worker: str, message: str, known: tuple[int, int] | None
    ) -> None:
        """An xdist worker died running ``nodeid``: the worker sent no span for it, so the
        controller makes one from xdist's crash report (the test counts as an ``error``),
        with the id of the one the worker had started when spans of the test came before."""
        with internal_errors("pytest plugin: worker crash"):
            assert self.recorder is not None
            category = self.recorder.categories.of_nodeid(nodeid)
            extra = {n.TEST_WORKER: worker}
            fields = (nodeid, category, "error", None, WORKER_CRASH, message, extra, known)
            self._reported_span(*fields)

    # --- end -----------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        shipped = None
        with internal_errors("pytest plugin: session finish"):
            if self.runner is not None:
                self.runner.close()
                self.runner.emit()
                shipper = self.runner.shipper
                if shipper is not None:  # the spans that ended after the worker's last report
                    shipped = shipper.take() if shipper.pending else None
                    shipper.shutdown()
            if self.xdist is not None:
                self.xdist.emit_spans()
                if self.xdist.dropped:
                    self._count_dropped(self.xdist.dropped)
            if self.recorder is not None:
                self._finish_run(int(exitstatus))
        if self.telemetry is not None:
            with internal_errors("pytest plugin: flush"):
                if self.telemetry.owned:  # shut down now: one export of the run's metrics
                    self.telemetry.close()
                else:
                    self.telemetry.flush()
                self.problems.extend(self.telemetry.problems())
        if self.worker is not None:
            _xdist.send_to_controller(self.config, self.problems, shipped)

    def _history_path(self) -> Path | None:
        if not self.options.history_enabled:
            return None
        if self.options.history is not None:
            return self.options.history
        cache = getattr(self.config, "cache", None)
        if cache is None:
            return None
        try:
            return Path(cache.mkdir(CACHE_DIR)) / FILE_NAME
        except OSError as exc:
            self.problems.append(f"cannot use pytest's cache for the flaky-test history: {exc}")
            return None

    def _coverage(self) -> float | None:
        cov = self.config.pluginmanager.get_plugin("_cov")
        total = getattr(cov, "cov_total", None)
        if isinstance(total, (int, float)) and not isinstance(total, bool):
            return max(0.0, min(float(total) / 100.0, 1.0))
        return None

    def _finish_run(self, exitstatus: int) -> None:
        from . import _metrics

        assert self.recorder is not None
        result = self.recorder.finish(
            suite=self.options.suite,
            # not after Ctrl-C or pytest.exit(), nor an internal error; stepwise (--sw) and
            # collection errors also end with exit code 2, and do update it
            update_history=not self.interrupted and exitstatus != pytest.ExitCode.INTERNAL_ERROR,
            started=self.started,
            coverage=self._coverage(),
            history_path=self._history_path(),
            window=self.options.flaky_window,
        )
        self.result = result
        self.problems.extend(result.warnings)
        stats = result.stats
        telemetry = self.telemetry
        if telemetry is not None and telemetry.usable:
            _metrics.record_tests(
                telemetry.recorders,
                ((t.outcome, t.category, t.duration, t.flaky_kind) for t in result.tests),
                self.options.suite,
            )
            _metrics.publish(stats)
        if self.session_span is not None:
            from . import _spans

            summary: dict[str, Any] = {f"tests.{k}": v for k, v in stats.by_outcome().items()}
            summary.update(
                pass_rate=stats.pass_rate,
                flaky=stats.flaky,
                duration=stats.duration,
                coverage=stats.coverage,
            )
            flaky = [t.nodeid for t in result.flaky][:_SHOWN_FLAKY]
            if flaky:
                summary["flaky_tests"] = flaky
            _spans.end_session_span(self.session_span, exitstatus, summary, self.collection_errors)
            self.session_span = None
        if self.options.pushgateway and result.tests:
            grouping = {
                n.TEST_SUITE_NAME.replace(".", "_"): self.options.suite,
                n.CICD_TASK_NAME.replace(".", "_"): self.ci.get(n.CICD_TASK_NAME, "local"),
            }
            problem = _metrics.push(
                self.options.pushgateway, self.options.pushgateway_job, grouping, stats
            )
            if problem:
                self.problems.append(problem)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        with internal_errors("pytest plugin: summary"):
            self._summary(terminalreporter)

    def _all_problems(self) -> list[str]:
        extra = self.xdist.lines(self.problems) if self.xdist is not None else []
        return self.problems + extra

    def _summary(self, reporter: Any) -> None:
        self._reported = True
        result = self.result
        flaky = result.flaky if result is not None else []
        if flaky:
            reporter.write_sep("=", "agentobs: flaky tests", yellow=True, bold=True)
            for test in flaky:
                reporter.write_line(f"{test.nodeid}  {_why(test)}")
        for problem in self._all_problems():
            reporter.write_line(f"agentobs: warning: {problem}", yellow=True)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.telemetry is not None:
            with internal_errors("pytest plugin: shutdown"):
                self.telemetry.close()
        if not self._reported and self.worker is None:  # no terminal (-p no:terminal)
            for problem in self._all_problems():
                logger.warning("agentobs: %s", problem)


def _why(test: Any) -> str:
    if test.flaky_kind == "rerun":
        times = "time" if test.reruns == 1 else "times"
        return f"failed {test.reruns} {times} then passed in this run"
    verdict = test.verdict
    if verdict is None:
        return "flaky"
    return (
        f"flip rate {verdict.flip_rate:.0%} over the last {verdict.runs} runs "
        f"({verdict.flips} flip{'s' if verdict.flips != 1 else ''}, code unchanged)"
    )
