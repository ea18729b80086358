"""``agentobs version``: the agentobs version and the OpenTelemetry packages it runs with."""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata

from .._version import __version__

_PACKAGES = ("opentelemetry-api", "opentelemetry-sdk")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``agentobs version``."""
    parser.add_argument("--json", action="store_true", help="print the versions as JSON")


def versions() -> dict[str, str]:
    """agentobs, the OpenTelemetry API and SDK, and Python (read without importing the SDK)."""
    found = {"agentobs": __version__}
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["python"] = platform.python_version()
    return found


def run(args: argparse.Namespace) -> int:
    """Print ``agentobs X`` and the versions it runs with."""
    found = versions()
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for name, version in found.items():
        print(f"{name} {version}")
    return 0
