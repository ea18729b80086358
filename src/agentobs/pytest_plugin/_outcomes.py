"""One outcome per test, from its reports: passed, failed, error, skipped, xfailed or xpassed.

pytest reports a test in up to three phases (setup, call, teardown), and rerun plugins report
several attempts. The outcome of a test is that of its last attempt: ``error`` when setup or
teardown failed (or a worker crashed running it), ``failed`` when the test body failed (a
strict xpass too), otherwise what the call (or a skipping setup) says. This is how pytest's
terminal and JUnit XML count a test, so the counts agree with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
XFAILED = "xfailed"
XPASSED = "xpassed"
INTERRUPTED = "interrupted"
"""The test that was running when the run was interrupted (Ctrl-C, ``pytest.exit()``):
pytest reports nothing for it, so it is outside the pass rate and the flaky-test history."""
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED, XFAILED, XPASSED, INTERRUPTED)

PASS_LIKE = frozenset((PASSED, XPASSED))
FAIL_LIKE = frozenset((FAILED, ERROR))

LETTERS = {PASSED: "p", FAILED: "f", ERROR: "e", SKIPPED: "s", XFAILED: "x", XPASSED: "X"}
"""One letter per outcome, as the history keeps it; ``k`` marks a pass after a rerun."""

_MAX_REASON = 512

PAYLOAD = "agentobs"
"""The attribute of a teardown report that carries the runner's view of the test (fingerprint,
category, failed attempts, usage) to whoever records the run; xdist serialises it."""


def classify(reports: Iterable[Any]) -> tuple[str, str | None]:
    """(outcome, skip or xfail reason) of one attempt's reports (rerun reports left out)."""
    outcome: str | None = None
    reason: str | None = None
    body_failed = False
    for report in reports:
        when = report.when
        state = report.outcome
        if state == "rerun":
            continue
        if when == "call":
            if state == "failed":
                body_failed = True
                outcome = FAILED
            elif outcome in (None, PASSED):
                if hasattr(report, "wasxfail"):
                    outcome = XPASSED if state == "passed" else XFAILED
                    reason = _text(report.wasxfail)
                elif state == "skipped":
                    outcome, reason = SKIPPED, skip_reason(report)
                else:
                    outcome = PASSED
        elif state == "failed":  # setup, teardown, or "???" for a crashed xdist worker
            if not body_failed:
                outcome = ERROR
        elif state == "skipped" and when == "setup":
            if hasattr(report, "wasxfail"):
                outcome, reason = XFAILED, _text(report.wasxfail)
            else:
                outcome, reason = SKIPPED, skip_reason(report)
    return outcome or ERROR, reason


def skip_reason(report: Any) -> str | None:
    """The reason text of a skipped report (``Skipped: `` prefix removed)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    elif longrepr is None:
        return None
    else:
        text = str(longrepr)
    return _text(text.removeprefix("Skipped: "))


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text[:_MAX_REASON] or None


def failure_message(report: Any) -> str | None:
    """A one-line description of a failed report, for a span's status."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    message = getattr(crash, "message", None)
    if message is None and report.longrepr is not None:
        try:
            message = str(report.longrepr).strip().splitlines()[-1]
        except (IndexError, Exception):
            message = None
    return _text(message.splitlines()[0] if message else None)


def result_status(outcome: str) -> str | None:
    """``test.case.result.status`` (only pass and fail exist) for an outcome, or None."""
    if outcome in PASS_LIKE:
        return "pass"
    if outcome in FAIL_LIKE:
        return "fail"
    return None


_RAISED = re.compile(r"^E\s+([A-Za-z_][\w.]*): ?(.*)$")
COLLECT_ERROR = "CollectError"


def collect_failure(longrepr: Any) -> tuple[str, str | None]:
    """(error type, message) of a failed collection report, from its text: pytest keeps no
    exception there, only the ``E   SyntaxError: invalid syntax`` lines of its traceback."""
    try:
        lines = str(longrepr).splitlines()
    except Exception:
        return COLLECT_ERROR, None
    for line in reversed(lines):
        found = _RAISED.match(line)
        if found:
            return found.group(1), _text(found.group(2)) or None
    return COLLECT_ERROR, _text(lines[-1] if lines else None)


_SUBTEST_REPORTS = frozenset(("SubtestReport", "SubTestReport"))  # pytest 9, pytest-subtests


def is_subtest(report: Any) -> bool:
    """True for the report of a subtest (pytest's ``subtests`` fixture, unittest's
    ``subTest``): pytest counts a failed one as one ``failed``, and it never decides the
    outcome of its test."""
    return type(report).__name__ in _SUBTEST_REPORTS


def subtest_id(report: Any) -> str:
    """``<node id> <subtest>``, e.g. ``tests/test_a.py::test_b [case] (i=2)``."""
    try:
        description = report._sub_test_description()
    except Exception:
        description = "(<subtest>)"
    return f"{report.nodeid} {description}"
