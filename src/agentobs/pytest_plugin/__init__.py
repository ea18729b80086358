"""agentobs's pytest plugin, auto-loaded through the ``pytest11`` entry point.

For now it provides the ``agentobs_capture`` fixture (see :mod:`agentobs.testing`).
Turn the plugin off with ``-p no:agentobs``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentobs.testing import Capture, capture


@pytest.fixture
def agentobs_capture() -> Iterator[Capture]:
    """agentobs configured to record into memory for one test; reset afterwards."""
    with capture() as captured:
        yield captured
