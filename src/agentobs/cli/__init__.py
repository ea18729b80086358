"""The ``agentobs`` command: ``version``, ``doctor``, ``report``, ``demo``, ``flaky``, ``export``.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``. Only the module of the subcommand being run is imported, so
``agentobs --help`` stays fast and never loads the OpenTelemetry SDK.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

__all__ = ["main"]


@dataclass(frozen=True)
class _Command:
    module: str
    summary: str


_COMMANDS: dict[str, _Command] = {
    "version": _Command("agentobs.cli._version", "print the agentobs and OpenTelemetry versions"),
    "doctor": _Command(
        "agentobs.cli.doctor", "show the effective configuration and check the endpoints answer"
    ),
    "report": _Command(
        "agentobs.cli.report", "summarise the local telemetry files (terminal or HTML)"
    ),
    "demo": _Command(
        "agentobs.cli.demo", "run a simulated multi-agent workflow and show its report"
    ),
    "insights": _Command(
        "agentobs.cli.insights",
        "what the telemetry teaches: failure and success patterns, regressions",
    ),
    "flaky": _Command(
        "agentobs.cli.flaky", "list the flaky tests found by the pytest plugin's history"
    ),
    "export": _Command(
        "agentobs.cli.export", "write Grafana dashboards, Prometheus alert rules and runbooks"
    ),
}


def _load(name: str) -> ModuleType | None:
    """The subcommand's module, or None if this installation does not have it."""
    module_name = _COMMANDS[name].module
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but one of its own imports is missing
        return None


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in _COMMANDS else None
    return None


def _unavailable(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_args: argparse.Namespace) -> int:
        print(
            f"agentobs {name} is not available in this installation of agentobs",
            file=sys.stderr,
        )
        return 2

    return run


def _parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentobs",
        description="OpenTelemetry traces, metrics and logs for AI-agent systems.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in _COMMANDS.items():
        sub = commands.add_parser(name, help=command.summary, description=command.summary)
        if name != chosen:
            continue
        module = _load(name)
        if module is None:
            sub.set_defaults(run=_unavailable(name))
            continue
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``agentobs`` command line; return the exit status."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    parser = _parser(_chosen(args_list))
    args = parser.parse_args(args_list)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args))
    except BrokenPipeError:  # `agentobs flaky | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0
