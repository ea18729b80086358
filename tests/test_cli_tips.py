"""Every command the CLI and configure() tell a person to run works when pasted as printed.

The tips are run through a shell, from the directory the person was in, with a PATH that
does or does not have the virtual environment's ``bin`` on it (``make demo`` runs
``.venv/bin/agentobs`` without activating anything).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentobs._commands import report_command
from tests.backends import clean_env

BIN = Path(sys.executable).parent
SCRIPT = BIN / "agentobs"


def _path_without_venv() -> str:
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(p for p in parts if p and Path(p).absolute() != BIN.absolute())


def shell(command: str, cwd: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=clean_env(PATH=path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def next_steps(output: str) -> list[str]:
    """The commands under ``Next, ...:`` at the end of the demo's output."""
    tail = output.split("Next, read what the demo wrote:", 1)[1]
    return [line.split("#", 1)[0].strip() for line in tail.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``.venv/bin/agentobs demo`` run once, from a directory, without activating the venv."""
    cwd = tmp_path_factory.mktemp("demo-cwd")
    demo = shell(f"{SCRIPT} demo --runs 1", cwd, _path_without_venv())
    assert demo.returncode == 0, demo.stderr
    return cwd, demo


def test_demo_tips_run_as_printed(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    cwd, demo = demo_run
    commands = next_steps(demo.stdout)
    tip = re.search(r"^Tip: .*\n  \$ (.+)$", demo.stdout, re.MULTILINE)
    assert tip is not None
    logged = re.search(r"read it with `([^`]+)`", demo.stderr)
    assert logged is not None, demo.stderr
    assert len(commands) == 3
    for command in [tip.group(1), logged.group(1), *commands]:
        assert command.split()[0] == str(SCRIPT), command
        result = shell(command, cwd, _path_without_venv())
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        if " flaky " in f"{command} ":
            assert "1 flaky of 9 tests over 1 run " in result.stdout
            assert "test_flaky_sandbox" in result.stdout
    assert (cwd / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")


def test_plain_flaky_points_at_the_demo_history(
    demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    cwd, _ = demo_run
    result = shell(f"{SCRIPT} flaky", cwd, _path_without_venv())
    assert result.returncode == 1
    hint = re.search(r"is read with `([^`]+)`", result.stderr)
    assert hint is not None, result.stderr
    assert shell(hint.group(1), cwd, _path_without_venv()).returncode == 0


@pytest.mark.parametrize("on_path", [False, True], ids=["venv-not-activated", "activated"])
def test_tips_name_agentobs_as_it_can_be_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_path: bool
) -> None:
    path = f"{BIN}{os.pathsep}{_path_without_venv()}" if on_path else _path_without_venv()
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("AGENTOBS_LOCAL_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    command = "agentobs" if on_path else str(SCRIPT)
    assert report_command(".agentobs") == f"{command} report"
    assert report_command(tmp_path / "a b", "--json") == f"{command} report --dir 'a b' --json"
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", "elsewhere")
    assert report_command(".agentobs") == f"{command} report --dir .agentobs"


def test_configure_log_line_names_a_command_that_reads_the_directory(tmp_path: Path) -> None:
    code = (
        "import logging, agentobs\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "agentobs.configure(service_name='tips', local_dir='out/run1')\n"
        "with agentobs.workflow('w'):\n"
        "    pass\n"
        "agentobs.shutdown()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    logged = re.search(r"read it with `([^`]+)`", result.stderr)
    assert logged is not None, result.stderr
    assert "--dir out/run1" in logged.group(1)
    report = shell(logged.group(1), tmp_path, _path_without_venv())
    assert report.returncode == 0, report.stderr
    assert "WORKFLOWS" in report.stdout
