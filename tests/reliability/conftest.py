"""Print every figure the reliability tests measured in the terminal summary of the run."""

from __future__ import annotations

from typing import Any

from tests.reliability._support import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
