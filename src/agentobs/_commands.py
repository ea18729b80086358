"""Commands we tell a person to run, spelled so that they work when pasted as printed.

``agentobs`` is only on the PATH once the virtual environment is activated; ``make demo``
runs ``.venv/bin/agentobs`` without activating it. So every tip names the command the way it
can be run from the current directory, and adds ``--dir`` whenever the telemetry is not
where ``agentobs report`` looks by default.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from ._settings import DEFAULT_LOCAL_DIR

DEFAULT_DEMO_DIR = ".agentobs/demo"
"""Where ``agentobs demo`` writes its telemetry and flaky-test history."""


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def agentobs_command() -> str:
    """``agentobs`` when that name runs this installation, else a path or ``python -m``."""
    script = Path(sys.executable).parent / "agentobs"
    found = shutil.which("agentobs")
    if found and script.exists() and os.path.samefile(found, script):
        return "agentobs"
    if script.exists():
        return shlex.quote(_shown(script))
    return f"{shlex.quote(sys.executable)} -m agentobs"


def report_command(directory: str | os.PathLike[str], *extra: str) -> str:
    """The ``agentobs report`` command line that reads ``directory`` from here."""
    words = [agentobs_command(), "report"]
    path = Path(directory)
    default = Path(os.environ.get("AGENTOBS_LOCAL_DIR") or DEFAULT_LOCAL_DIR)
    if path.absolute() != default.absolute():
        words += ["--dir", shlex.quote(_shown(path))]
    return " ".join([*words, *extra])
