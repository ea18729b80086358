"""Full disk and unwritable directories for the local files: one warning, never half a line,
lost records counted, recovery when space returns, shutdown() true (issue #10).

The full disk is a real tiny tmpfs when the tests run as root (``mount -t tmpfs -o size=``),
and always also an injected ENOSPC at the OS-write boundary of the writer (a fake
``os.write`` that writes what fits, then fails), which runs anywhere."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

import agentobs
import agentobs.testing
from agentobs._export import localfiles, selfmetrics
from agentobs._export import pipeline as _pipeline

PADDING = "p" * 300  # ~0.5 KB a span: a batch never fits in a partly used page


class Disk(Protocol):
    directory: Path

    def fill(self) -> None: ...
    def free(self) -> None: ...


class TinyFilesystem:
    """A 512 KiB tmpfs, filled up by a filler file and freed by deleting it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fill(self) -> None:
        with contextlib.suppress(OSError), open(self.directory / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()

    def free(self) -> None:
        (self.directory / "filler").unlink()


class InjectedFullDisk:
    """ENOSPC at the OS write of the local files: what fits is written, then the call fails."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory = directory
        self.room: int | None = None
        real = os.write

        def write(fd: int, data: Any) -> int:
            if self.room is None:
                return real(fd, data)
            if self.room <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written = real(fd, bytes(data[: self.room]))
            self.room -= written
            return written

        monkeypatch.setattr(localfiles.JsonLinesWriter, "_os_write", staticmethod(write))

    def fill(self) -> None:
        self.room = 100  # the start of the next line fits, the rest does not

    def free(self) -> None:
        self.room = None


@pytest.fixture(params=["tmpfs", "injected"])
def disk(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Disk]:
    directory = tmp_path / "disk"
    directory.mkdir()
    if request.param == "injected":
        yield InjectedFullDisk(directory, monkeypatch)
        return
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real tiny filesystem needs root (the injected full disk runs instead)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield TinyFilesystem(directory)
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def _spans(prefix: str, count: int) -> None:
    for i in range(count):
        with agentobs.task(f"{prefix}-{i}", padding=PADDING):
            pass


def _writer() -> localfiles.JsonLinesWriter:
    pipeline = _pipeline.current()
    assert pipeline is not None
    exporter = next(
        p for p in pipeline.span_processors if hasattr(p, "_batch_processor")
    )._batch_processor._exporter
    while not hasattr(exporter, "_file"):  # coalescing, scrubbing, self-telemetry wrappers
        exporter = getattr(exporter, "exporter", None) or exporter.inner
    writer: localfiles.JsonLinesWriter = exporter._file.writer
    return writer


def _failed(signal: str) -> dict[str, int]:
    """Self-telemetry: the records of ``signal`` counted as failed, by ``error.type``."""
    pipeline = _pipeline.current()
    assert pipeline is not None
    failed: dict[str, int] = {}
    for value, attributes in pipeline.counts.totals[selfmetrics.EXPORTED[signal]].totals():
        error = attributes.get(selfmetrics.ERROR_TYPE)
        if error is not None:
            failed[str(error)] = failed.get(str(error), 0) + int(value)
    return failed


def _our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    # The shutdown line (exact exported/failed figures, docs/reliability.md) is not a warning
    # about the disk: the failures it counts are the ones this test asserts on.
    return [
        message
        for r in caplog.records
        if r.name == "agentobs" and r.levelno >= 30
        if not (message := r.getMessage()).startswith("agentobs: shutdown;")
    ]


def _names(path: Path) -> list[str]:
    """The span names in a traces file; fails on any line that is not whole JSON."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n") or not text, "the file ends in half a line"
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        document = json.loads(line)  # raises on a truncated line
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                names += [span["name"] for span in scope["spans"]]
        assert number
    return names


def test_full_disk_one_warning_no_half_line_counted_and_recovered(
    disk: Disk, clean_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    agentobs.testing.reset()
    agentobs.configure(
        exporter="local", local_dir=disk.directory, logs=False, metric_export_interval=3600
    )
    try:
        _spans("before", 20)
        assert agentobs.force_flush(10)
        disk.fill()
        for _ in range(3):  # three batches, each lost whole
            _spans("full", 100)
            agentobs.force_flush(10)
        lost = _writer().lost
        failed = _failed("traces")
        disk.free()
        _spans("after", 20)
        assert agentobs.force_flush(10)
        failed_after = _failed("traces")
    finally:
        ok = agentobs.shutdown(10)
        agentobs.testing.reset()
    names = _names(disk.directory / "traces.jsonl")
    warnings = _our_warnings(caplog)
    recovered = [r.getMessage() for r in caplog.records if "traces.jsonl again;" in r.getMessage()]
    written_full = sum(n.startswith("task full-") for n in names)
    print(
        f"\nfull disk ({type(disk).__name__}): {len(warnings)} warning, {lost} spans lost "
        f"and counted, {written_full} written while full, "
        f"{sum(n.startswith('task after-') for n in names)}/20 written after space returned"
    )
    assert ok, "shutdown() after recovery"
    assert len(warnings) == 1, warnings
    assert "cannot write" in warnings[0]
    assert lost == 300 - written_full
    assert lost > 0
    # The writer's losses are in self-telemetry like every failed export, by their cause.
    assert failed == {"ENOSPC": lost}, failed
    assert failed_after == failed  # nothing more lost once space returned
    assert sum(n.startswith("task before-") for n in names) == 20
    assert sum(n.startswith("task after-") for n in names) == 20
    assert recovered
    assert f"{lost} record(s) were lost" in recovered[0]


def test_unwritable_directory_one_warning_then_recovery(
    tmp_path: Path, clean_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A path that cannot be a directory (a file is in the way; root ignores permissions),
    which later becomes writable."""
    caplog.set_level(logging.INFO, logger="agentobs")
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the directory should be")
    directory = blocker / "telemetry"
    agentobs.testing.reset()
    agentobs.configure(exporter="local", local_dir=directory, metric_export_interval=3600)
    try:
        for _ in range(3):
            _spans("blocked", 10)
            logging.getLogger("app").warning("still working")
            agentobs.force_flush(5)
        lost = _writer().lost
        failed = {signal: _failed(signal) for signal in ("traces", "logs")}
        blocker.unlink()
        _spans("unblocked", 10)
        assert agentobs.force_flush(5)
    finally:
        ok = agentobs.shutdown(5)
        agentobs.testing.reset()
    warnings = _our_warnings(caplog)
    names = _names(directory / "traces.jsonl")
    print(
        f"\nunwritable directory: {len(warnings)} warning, {lost} spans lost and counted, "
        f"{len(names)}/10 written once it became writable"
    )
    assert ok
    assert len(warnings) == 1, warnings
    assert lost == 30
    assert failed["traces"] == {"ENOTDIR": 30}, failed
    assert sum(failed["logs"].values()) >= 3, failed  # "still working", at least
    assert names == [f"task unblocked-{i}" for i in range(10)]
    assert (directory / "logs.jsonl").exists()
