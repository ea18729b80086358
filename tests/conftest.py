"""Shared test set-up: real-backend fixtures, and internal errors raised, not swallowed."""

from __future__ import annotations

pytest_plugins = ["tests.backends"]

try:
    from agentobs import _errors
except ImportError:  # the core package is not there yet
    pass
else:
    _errors.RAISE_INTERNAL_ERRORS = True
