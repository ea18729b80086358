"""agentobs's pytest plugin: test telemetry and flaky-test detection (see ``docs/pytest.md``).

Auto-loaded through the ``pytest11`` entry point. This entry module only adds the options,
the ``agentobs_budget`` marker and the ``agentobs_capture`` fixture, and registers the session
plugin in ``pytest_configure``; the rest is imported only when the plugin is on. Turn it off
with ``-p no:agentobs``, ``--agentobs-off`` (ini ``agentobs_off``) or ``AGENTOBS_PYTEST=0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from agentobs.testing import Capture

__all__ = ["agentobs_capture"]


def pytest_addoption(parser: pytest.Parser) -> None:
    from ._options import add_options

    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Undo what the value of a space-form option did to pytest's rootdir and ini file."""
    from ._rootdir import correct

    correct(early_config, args)


def pytest_configure(config: pytest.Config) -> None:
    from ._budget import MARKER_HELP
    from ._options import is_off, read_options

    config.addinivalue_line("markers", MARKER_HELP)
    if is_off(config):
        return
    options = read_options(config)
    if config.option.collectonly:
        return
    from ._plugin import SessionPlugin

    config.pluginmanager.register(SessionPlugin(config, options), "agentobs-session")


@pytest.fixture
def agentobs_capture() -> Iterator[Capture]:
    """agentobs configured to record into memory for one test; reset afterwards."""
    from agentobs.testing import capture

    with capture() as captured:
        yield captured
