"""pytest-xdist hooks, registered only when xdist runs the session.

The controller hands the session span's ``traceparent`` to each worker through
``workerinput`` (so test spans made in workers join the session's trace) and collects what
workers report in ``workeroutput`` when they go down (their export problems). Tests are
recorded on the controller only, from the reports xdist replays there, so nothing is
counted twice. When the controller records spans, workers send each finished test's span
with its teardown report, and every other span that ended in them with the next report
(``_worker_spans``); the controller exports them all: a worker that crashes loses none of
the tests it finished, nor the spans they made (the test it crashed in gets its span from
xdist's crash report, under the id the worker gave it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._outcomes import PAYLOAD

TRACEPARENT_KEY = "agentobs_traceparent"
SHIP_SPANS_KEY = "agentobs_ship_spans"
OUTPUT_KEY = "agentobs"
MAX_SPANS = 2048
"""Spans a worker keeps between two reports (a batch processor's default queue); the rest are
dropped and counted."""
SPANS_KEY = "agentobs_spans"
"""The attribute of a test report (and the key in the worker's ``workeroutput["agentobs"]``)
that carries the spans a worker made since its last report: ``{"spans": [...], "dropped": n}``
(see ``_worker_spans``)."""
_REPEATS = re.compile(r" \(and \d+ more warnings?\)$")


class XdistController:
    """Controller-side hooks."""

    def __init__(
        self,
        traceparent: Callable[[], str | None],
        on_crash: Callable[[str, str, str, tuple[int, int] | None], None],
        export: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._traceparent = traceparent
        self._on_crash = on_crash
        self._export = export
        self._running: dict[str, tuple[str, int, int]] = {}
        """Per worker, the test whose span's id came with the spans it made last (node id,
        span id, start ns): a crash in that test gives its span that id."""
        self._last: dict[str, tuple[str, Any]] = {}
        """Per worker, the span of the test it finished last (a rerun may still replace it)."""
        self.worker_problems: dict[str, list[str]] = {}
        """Each problem workers reported (repeat counts removed), with the workers that did."""
        self.dropped = 0
        """Spans workers dropped, more than :data:`MAX_SPANS` between two reports (counted in
        the pipeline's figures as a full queue: its shutdown line says how many)."""

    def pytest_configure_node(self, node: Any) -> None:
        traceparent = self._traceparent()
        if traceparent:
            node.workerinput[TRACEPARENT_KEY] = traceparent
        if self._export is not None:
            node.workerinput[SHIP_SPANS_KEY] = True

    def pytest_runtest_logreport(self, report: Any) -> None:
        """Export the spans a worker's tests made that came with a report. Keep the span a
        worker sent with a test's teardown report; export it once the worker reports another
        test (before that, a rerun of the test may replace it)."""
        if self._export is None:
            return
        shipped = getattr(report, SPANS_KEY, None)
        if shipped:
            self._receive(shipped, _worker_of(report))
        worker = _worker_of(report)
        last = self._last.get(worker)
        if last is not None and last[0] != report.nodeid:
            del self._last[worker]
            self._export([last[1]])
        if report.when == "teardown":
            payload = getattr(report, PAYLOAD, None)
            span = payload.get("span") if isinstance(payload, dict) else None
            if span is not None:
                self._last[worker] = (report.nodeid, span)

    def _receive(self, shipped: Any, worker: str) -> None:
        """Export the spans of a worker's ``{"spans": [...], "dropped": n, "test": [node id,
        span id, start]}``."""
        if not isinstance(shipped, dict) or self._export is None:
            return
        test = shipped.get("test")
        if isinstance(test, (list, tuple)) and len(test) == 3:
            self._running[worker] = (str(test[0]), int(test[1]), int(test[2]))
        spans = shipped.get("spans")
        if spans:
            self._export(spans)
        dropped = shipped.get("dropped")
        if isinstance(dropped, int):
            self.dropped += dropped

    def emit_spans(self) -> None:
        """Export the spans still kept (at the end of the session)."""
        last, self._last = self._last, {}
        if self._export is not None and last:
            self._export([span for _nodeid, span in last.values()])

    def pytest_handlecrashitem(self, crashitem: str, report: Any) -> None:
        worker = _worker_of(report)
        running = self._running.pop(worker, None)
        known = running[1:] if running is not None and running[0] == crashitem else None
        self._on_crash(crashitem, worker, str(report.longrepr), known)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        mine = output.get(OUTPUT_KEY)
        if not isinstance(mine, dict):
            return
        worker = str(getattr(getattr(node, "gateway", None), "id", "?"))
        self._receive(mine.get(SPANS_KEY), worker)
        for problem in mine.get("problems", ()):
            text = _REPEATS.sub("", str(problem))
            workers = self.worker_problems.setdefault(text, [])
            if worker not in workers:
                workers.append(worker)

    def lines(self, known: list[str]) -> list[str]:
        """The workers' problems as warning lines, leaving out those in ``known``."""
        plain = {_REPEATS.sub("", p) for p in known}
        return [
            f"{text} (worker{'s' if len(workers) > 1 else ''} {', '.join(sorted(workers))})"
            for text, workers in self.worker_problems.items()
            if text not in plain
        ]


def _worker_of(report: Any) -> str:
    """The id of the worker (``gw0``...) a report on the controller came from."""
    return str(getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?"))


def worker_input(config: Any) -> dict[str, Any] | None:
    """``config.workerinput`` in an xdist worker, else None."""
    found = getattr(config, "workerinput", None)
    return found if isinstance(found, dict) else None


def send_to_controller(
    config: Any, problems: list[str], spans: dict[str, Any] | None = None
) -> None:
    """Put this worker's export problems, and the spans that ended after its last report,
    where the controller's testnodedown finds them."""
    output = getattr(config, "workeroutput", None)
    if isinstance(output, dict):
        output[OUTPUT_KEY] = {"problems": list(problems)}
        if spans:
            output[OUTPUT_KEY][SPANS_KEY] = spans


def is_controller(config: Any) -> bool:
    """True in the process that distributes tests to xdist workers."""
    return bool(config.pluginmanager.has_plugin("dsession"))
