"""The plugin's options: ``--agentobs-*`` flags mirrored by ini keys and a few environment
variables, resolved in one place (command line, then environment, then ini, then default).

A value the plugin cannot use is a :class:`pytest.UsageError` naming where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from .._parsers import check_url, truthy

EXPORTS = ("otlp", "local", "console", "none")
DEFAULT_FLAKY_WINDOW = 20

ENV_EXPORT = "AGENTOBS_EXPORT"
"""Where test telemetry goes: otlp, local, console or none (as ``--agentobs-export``)."""
ENV_SWITCH = "AGENTOBS_PYTEST"
"""``0`` (or false/no/off) turns the pytest plugin off, like ``--agentobs-off``."""
ENV_PUSHGATEWAY = "AGENTOBS_PUSHGATEWAY"
"""Pushgateway to push the run's gauges to (as ``--agentobs-pushgateway``)."""
ENV_HISTORY = "AGENTOBS_FLAKY_HISTORY"
"""File of the flaky-test history (as ``--agentobs-history``); ``none`` turns it off."""

_OTLP_ENDPOINT_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


@dataclass(frozen=True)
class Options:
    """The plugin's effective settings for one pytest run."""

    export: str | None
    """otlp, local, console or none; None when nothing asked for an export (the plugin then
    records into an agentobs pipeline that is already configured, if any)."""
    export_explicit: bool
    """False when ``otlp`` only follows from an OTLP endpoint in the environment: then the
    per-signal ``OTEL_*_EXPORTER`` variables still choose each signal's exporter."""
    suite: str
    pushgateway: str | None
    pushgateway_job: str
    history: Path | None
    """Explicit history file; None means pytest's cache (or no history without a cache)."""
    history_enabled: bool
    flaky_window: int
    category_marker: str | None


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--agentobs-*`` flags and their ini keys."""
    group = parser.getgroup("agentobs", "agentobs: test telemetry and flaky-test detection")
    group.addoption(
        "--agentobs-export",
        dest="agentobs_export",
        metavar="{otlp,local,console,none}",
        help=(
            "where test spans and metrics go (ini agentobs_export, env AGENTOBS_EXPORT). "
            "Default: otlp when an OTLP endpoint is configured, otherwise none"
        ),
    )
    group.addoption(
        "--agentobs-off",
        dest="agentobs_off",
        action="store_true",
        default=None,
        help="turn the agentobs plugin off for this run (ini agentobs_off, env AGENTOBS_PYTEST=0)",
    )
    group.addoption(
        "--agentobs-suite",
        dest="agentobs_suite",
        metavar="NAME",
        help="test.suite.name of the run (ini agentobs_suite; default: the rootdir's name)",
    )
    group.addoption(
        "--agentobs-pushgateway",
        dest="agentobs_pushgateway",
        metavar="URL",
        help="push the run's gauges to this Prometheus Pushgateway (ini agentobs_pushgateway)",
    )
    group.addoption(
        "--agentobs-history",
        dest="agentobs_history",
        metavar="PATH",
        help="flaky-test history file (ini agentobs_history; default: pytest's cache; none: off)",
    )
    group.addoption(
        "--agentobs-flaky-window",
        dest="agentobs_flaky_window",
        metavar="N",
        help=f"runs of history used for flip rates (default {DEFAULT_FLAKY_WINDOW})",
    )
    parser.addini("agentobs_export", "where test telemetry goes: otlp, local, console or none")
    parser.addini("agentobs_off", "turn the agentobs plugin off", type="bool", default=False)
    parser.addini("agentobs_suite", "test.suite.name of the run")
    parser.addini("agentobs_pushgateway", "Prometheus Pushgateway URL for the run's gauges")
    parser.addini("agentobs_pushgateway_job", "job label of the push", default="agentobs_pytest")
    parser.addini("agentobs_history", "flaky-test history file (none: off)")
    parser.addini("agentobs_flaky_window", "runs of history used for flip rates")
    parser.addini(
        "agentobs_category_marker",
        "marker whose first argument names a test's category (default: its top-level folder)",
    )


def is_off(config: pytest.Config, env: Mapping[str, str] | None = None) -> bool:
    """True when ``--agentobs-off``, the ini key or ``AGENTOBS_PYTEST=0`` turns the plugin off."""
    env = os.environ if env is None else env
    if config.getoption("agentobs_off", None):
        return True
    raw = env.get(ENV_SWITCH, "").strip().lower()
    switch = truthy(raw)
    if raw and switch is False:
        return True
    if switch is None:
        raise pytest.UsageError(
            f"{ENV_SWITCH}={raw!r}: expected 1 or 0 (or true/false, yes/no, on/off)"
        )
    return bool(config.getini("agentobs_off"))


def _pick(
    config: pytest.Config,
    dest: str,
    flag: str,
    ini: str,
    env_name: str | None,
    env: Mapping[str, str],
) -> tuple[str | None, str]:
    """(value, where it came from) by precedence: command line, environment, ini."""
    value = config.getoption(dest, None)
    if value not in (None, ""):
        return str(value).strip(), flag
    if env_name is not None and env.get(env_name, "").strip():
        return env[env_name].strip(), env_name
    raw = config.getini(ini)
    if isinstance(raw, str) and raw.strip():
        return raw.strip(), f"ini {ini}"
    return None, ""


def read_options(config: pytest.Config, env: Mapping[str, str] | None = None) -> Options:
    """Resolve and check every option; raise :class:`pytest.UsageError` naming a bad one."""
    env = os.environ if env is None else env
    export, source = _pick(
        config, "agentobs_export", "--agentobs-export", "agentobs_export", ENV_EXPORT, env
    )
    explicit = export is not None
    if export is not None:
        export = export.lower()
        if export not in EXPORTS:
            raise pytest.UsageError(
                f"{source}={export!r}: unknown value; expected one of {', '.join(EXPORTS)}"
            )
    elif any(env.get(name, "").strip() for name in _OTLP_ENDPOINT_ENV):
        export = "otlp"
        explicit = False

    suite, _ = _pick(config, "agentobs_suite", "--agentobs-suite", "agentobs_suite", None, env)
    if suite is None:
        suite = Path(str(config.rootpath)).name or "pytest"

    push, source = _pick(
        config,
        "agentobs_pushgateway",
        "--agentobs-pushgateway",
        "agentobs_pushgateway",
        ENV_PUSHGATEWAY,
        env,
    )
    if push is not None:
        problem = _check_url(push)
        if problem:
            raise pytest.UsageError(f"{source}={push!r}: {problem}")

    history_raw, source = _pick(
        config, "agentobs_history", "--agentobs-history", "agentobs_history", ENV_HISTORY, env
    )
    history_enabled = history_raw is None or history_raw.lower() not in ("none", "off")
    history = None
    if history_raw is not None and history_enabled:
        history = Path(history_raw).expanduser()
        if not history.is_absolute():  # the command line's and environment's: where pytest ran
            base = config.invocation_params.dir
            if source.startswith("ini "):  # the ini file's: next to it
                base = config.inipath.parent if config.inipath else config.rootpath
            history = Path(str(base)) / history
        if history.is_dir():
            raise pytest.UsageError(f"{source}={history_raw!r}: is a directory; give a file")

    window_raw, source = _pick(
        config,
        "agentobs_flaky_window",
        "--agentobs-flaky-window",
        "agentobs_flaky_window",
        None,
        env,
    )
    window = DEFAULT_FLAKY_WINDOW
    if window_raw is not None:
        try:
            window = int(window_raw)
        except ValueError:
            window = 0
        if window < 2:
            raise pytest.UsageError(f"{source}={window_raw!r}: expected a whole number >= 2")

    marker = config.getini("agentobs_category_marker")
    marker_name = marker.strip() if isinstance(marker, str) and marker.strip() else None
    if marker_name is not None and not marker_name.isidentifier():
        raise pytest.UsageError(
            f"ini agentobs_category_marker={marker_name!r}: expected a marker name"
        )
    job = config.getini("agentobs_pushgateway_job")
    return Options(
        export=export,
        export_explicit=explicit,
        suite=suite,
        pushgateway=push,
        pushgateway_job=str(job).strip() or "agentobs_pytest",
        history=history,
        history_enabled=history_enabled,
        flaky_window=window,
        category_marker=marker_name,
    )


def _check_url(value: str) -> str | None:
    return check_url(value, "http://127.0.0.1:9091")
