"""pytest-xdist hooks, registered only when xdist runs the session.

The controller hands the session span's ``traceparent`` to each worker through
``workerinput`` (so test spans made in workers join the session's trace) and collects what
workers report in ``workeroutput`` when they go down (their export problems). Tests are
recorded on the controller only, from the reports xdist replays there, so nothing is
counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TRACEPARENT_KEY = "agentobs_traceparent"
OUTPUT_KEY = "agentobs"
_REPEATS = re.compile(r" \(and \d+ more warnings?\)$")


class XdistController:
    """Controller-side hooks."""

    def __init__(
        self,
        traceparent: Callable[[], str | None],
        on_crash: Callable[[str, str, str], None],
    ) -> None:
        self._traceparent = traceparent
        self._on_crash = on_crash
        self.worker_problems: dict[str, list[str]] = {}
        """Each problem workers reported (repeat counts removed), with the workers that did."""

    def pytest_configure_node(self, node: Any) -> None:
        traceparent = self._traceparent()
        if traceparent:
            node.workerinput[TRACEPARENT_KEY] = traceparent

    def pytest_handlecrashitem(self, crashitem: str, report: Any) -> None:
        worker = str(getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?"))
        self._on_crash(crashitem, worker, str(report.longrepr))

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        mine = output.get(OUTPUT_KEY)
        if not isinstance(mine, dict):
            return
        worker = str(getattr(getattr(node, "gateway", None), "id", "?"))
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


def worker_input(config: Any) -> dict[str, Any] | None:
    """``config.workerinput`` in an xdist worker, else None."""
    found = getattr(config, "workerinput", None)
    return found if isinstance(found, dict) else None


def send_to_controller(config: Any, problems: list[str]) -> None:
    """Put this worker's export problems where the controller's testnodedown finds them."""
    output = getattr(config, "workeroutput", None)
    if isinstance(output, dict):
        output[OUTPUT_KEY] = {"problems": list(problems)}


def is_controller(config: Any) -> bool:
    """True in the process that distributes tests to xdist workers."""
    return bool(config.pluginmanager.has_plugin("dsession"))
