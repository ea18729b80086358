"""Shared test set-up: real-backend fixtures, and internal errors raised, not swallowed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentobs.testing import Capture

pytest_plugins = ["tests.backends"]

try:
    from agentobs import _errors
except ImportError:  # the core package is not there yet
    pass
else:
    _errors.RAISE_INTERNAL_ERRORS = True


@pytest.fixture
def fresh_agentobs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No OTEL_*/AGENTOBS_* variables, a scratch working directory, and agentobs reset
    before and after the test."""
    import agentobs.testing

    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    agentobs.testing.reset()
    yield
    agentobs.testing.reset()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_*, AGENTOBS_* or LANGFUSE_* variables for the test."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def cap(clean_env: None) -> Iterator[Capture]:
    """agentobs recording into memory for the test (agentobs.testing.capture())."""
    import agentobs.testing

    with agentobs.testing.capture() as capture:
        yield capture


@pytest.fixture
def backend_agentobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For tests against real backends: no OTEL_*/AGENTOBS_*/LANGFUSE_* settings from the
    environment (except AGENTOBS_REQUIRE_BACKENDS), agentobs reset around the test."""
    import agentobs.testing

    for name in list(os.environ):
        if (
            name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_"))
            and name != "AGENTOBS_REQUIRE_BACKENDS"
        ):
            monkeypatch.delenv(name)
    agentobs.testing.reset()
    yield
    agentobs.testing.reset()
