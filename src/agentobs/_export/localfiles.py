"""The local default: OTLP JSON Lines files, one per signal, size-capped with rotation.

Each line is one OTLP export request in the JSON encoding of the OpenTelemetry file exporter
specification (hex trace and span ids, lowerCamelCase fields), so the Collector's
``otlpjsonfile`` receiver can replay it into any backend. ``traces.jsonl`` is the file being
written; when it passes the size cap it becomes ``traces.1.jsonl`` and older ones shift up to
``traces.{backups}.jsonl``. A directory that cannot be written, or a full disk, gives one
warning; what cannot be written is counted and dropped, never half a line is left, and
writing resumes when it can. The application carries on.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._errors import logger, warn_once

FILE_NAMES = {"traces": "traces.jsonl", "metrics": "metrics.jsonl", "logs": "logs.jsonl"}
DEFAULT_BACKUPS = 3


def rotated_files(directory: Path, signal: str) -> list[Path]:
    """The files of one signal, oldest first, the one being written last."""
    stem = FILE_NAMES[signal].removesuffix(".jsonl")
    numbered = []
    for path in directory.glob(f"{stem}.*.jsonl"):
        index = path.name[len(stem) + 1 : -len(".jsonl")]
        if index.isdigit():
            numbered.append((int(index), path))
    current = directory / FILE_NAMES[signal]
    return [p for _, p in sorted(numbered, reverse=True)] + ([current] if current.exists() else [])


_FAILING_DIRS: set[Path] = set()
_FAILING_LOCK = threading.Lock()


class JsonLinesWriter:
    """Appends JSON lines to a file, rotating it when it passes ``max_bytes``.

    Each line goes to the file in one ``write`` call of the OS (no buffer that could flush
    half of it later). When a write fails (disk full, directory not writable), what was
    written of that line is cut off again, so the file never ends in half a line; the
    records of the line are counted in :attr:`lost`, one warning says so, and the next
    write tries again: writing resumes by itself when space returns.
    """

    _os_write = staticmethod(os.write)
    """The OS write (a test puts a failing one here to stand for a full disk)."""

    def __init__(self, path: Path, max_bytes: int, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._failing: str | None = None  # why the last write failed, until one succeeds
        self.lost = 0
        """Records (spans, log records, data points) that could not be written."""
        self.error_type = "export_failed"
        """Why the last line was lost: the OS error's name (``ENOSPC``, ``EACCES``, ...), the
        ``error.type`` its records are counted under in self-telemetry."""
        self.lost_since_failure = 0
        _at_fork(self)

    def write(self, document: dict[str, Any]) -> bool:
        """Write one document as a line; False (after one warning) if the file is unusable."""
        return self.write_line(json.dumps(document, separators=(",", ":")))

    def write_line(self, text: str, records: int = 1) -> bool:
        """Write one line of JSON (ASCII, as ``json.dumps`` writes it, without the newline)
        holding ``records`` records; False when it could not be written (they are lost)."""
        line = (text + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = self._fd if self._fd is not None else self._open()
                if self._size and self._size + len(line) > self.max_bytes:
                    fd = self._rotate()
                self._write(fd, line)
            except OSError as exc:
                self._lose(records, exc)
                return False
            if self._failing is not None:
                self._recovered()
        return True

    def _write(self, fd: int, line: bytes) -> None:
        view = memoryview(line)
        written = 0
        try:
            while written < len(line):
                written += self._os_write(fd, view[written:])
        except OSError:
            if written:  # never leave half a line behind
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._size)
            raise
        self._size += len(line)

    def _lose(self, records: int, exc: OSError) -> None:
        self.lost += records
        self.error_type = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        self.lost_since_failure += records
        if self._failing is None:
            self._failing = exc.strerror or str(exc)
            with _FAILING_LOCK:  # one warning per directory, not per signal file in it
                known = self.path.parent in _FAILING_DIRS
                _FAILING_DIRS.add(self.path.parent)
            if known:
                return
            logger.warning(
                "agentobs: cannot write %s (%s); telemetry is not recorded locally there "
                "until it can be written again (lost records are counted). Free space, or "
                "set AGENTOBS_LOCAL_DIR or configure(local_dir=...) to a writable directory.",
                self.path,
                self._failing,
            )
        if self._fd is not None and not self._size:  # nothing of ours in it: reopen later
            self._close()

    def _recovered(self) -> None:
        with _FAILING_LOCK:
            _FAILING_DIRS.discard(self.path.parent)
        logger.info(
            "agentobs: writing %s again; %d record(s) were lost while it could not be written (%s)",
            self.path,
            self.lost_since_failure,
            self._failing,
        )
        self._failing = None
        self.lost_since_failure = 0

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        if self._size:  # another process may have stopped in the middle of a line
            with open(self.path, "rb") as existing:
                existing.seek(self._size - 1)
                if existing.read(1) != b"\n":
                    self._write(fd, b"\n")
        return fd

    def _rotate(self) -> int:
        self._close()
        stem = self.path.name.removesuffix(".jsonl")
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{stem}.{index}.jsonl")
            if older.exists():
                os.replace(older, self.path.with_name(f"{stem}.{index + 1}.jsonl"))
        os.replace(self.path, self.path.with_name(f"{stem}.1.jsonl"))
        return self._open()

    def _before_fork(self) -> None:
        # No line is half written when the process forks (a write takes microseconds).
        self._held_at_fork = self._lock.acquire(timeout=1.0)

    def _after_fork_in_parent(self) -> None:
        if getattr(self, "_held_at_fork", False):
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        # The parent's lock may have been held by a thread that does not exist here: a new
        # one; the child writes through a file descriptor of its own (same path, appending).
        # Every line is one os.write, so nothing half written is buffered here.
        self._lock = threading.Lock()
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Close the file; later writes reopen it. Says (info) how much was lost if writing
        never recovered: the failure itself was warned about."""
        with self._lock:
            self._close()
            if self._failing is not None and self.lost_since_failure:
                logger.info(
                    "agentobs: %d record(s) could not be written to %s (%s)",
                    self.lost_since_failure,
                    self.path,
                    self._failing,
                )
                self.lost_since_failure = 0


def _at_fork(writer: JsonLinesWriter) -> None:
    """Make ``writer`` safe across ``os.fork`` (its lock, its open file)."""
    if not hasattr(os, "register_at_fork"):
        return
    weak = weakref.ref(writer)

    def call(name: str) -> Callable[[], None]:
        def hook() -> None:
            target = weak()
            if target is not None:
                getattr(target, name)()

        return hook

    os.register_at_fork(
        before=call("_before_fork"),
        after_in_parent=call("_after_fork_in_parent"),
        after_in_child=call("_after_fork_in_child"),
    )


def _encoder(signal: str) -> Callable[[Any], str]:
    """The OTLP JSON line of a batch (``agentobs._export.otlpjson``: the documents of
    ``opentelemetry.exporter.otlp.json.common``, four times faster)."""
    from . import otlpjson as _otlpjson

    if signal == "traces":
        return _otlpjson.spans_json
    if signal == "metrics":
        return _otlpjson.metrics_json
    return _otlpjson.logs_json


class _LocalFile:
    def __init__(self, directory: Path, signal: str, max_bytes: int) -> None:
        self.writer = JsonLinesWriter(directory / FILE_NAMES[signal], max_bytes)
        self.encode = _encoder(signal)
        self.error_type = "export_failed"

    def export(self, data: Any) -> bool:
        try:
            line = self.encode(data)
        except Exception as exc:  # a bad attribute value must not stop the pipeline
            warn_once(f"local-encode:{type(exc).__name__}", "agentobs: cannot encode %s", exc)
            self.error_type = type(exc).__qualname__
            return False
        written = self.writer.write_line(line, _records(data))
        if not written:
            self.error_type = self.writer.error_type
        return written


class _FailureType:
    """``failure_type()``: why the last export failed, for self-telemetry's ``error.type``
    (the writer's losses are counted there like every other failed export)."""

    _file: _LocalFile

    def failure_type(self) -> str:
        return self._file.error_type


def _records(data: Any) -> int:
    """How many spans or log records a batch holds, or data points for metrics."""
    if isinstance(data, MetricsData):
        return sum(
            len(metric.data.data_points)
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        )
    return len(data)


class LocalSpanExporter(_FailureType, SpanExporter):
    """Writes spans to ``traces.jsonl`` under the local directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self._file = _LocalFile(directory, "traces", max_bytes)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = bool(spans) and self._file.export(spans)
        return SpanExportResult.SUCCESS if ok or not spans else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._file.writer.close()


class LocalMetricExporter(_FailureType, MetricExporter):
    """Writes metrics (cumulative) to ``metrics.jsonl`` under the local directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        super().__init__(preferred_temporality=None, preferred_aggregation=None)
        self._file = _LocalFile(directory, "metrics", max_bytes)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if not metrics_data.resource_metrics:
            return MetricExportResult.SUCCESS
        ok = self._file.export(metrics_data)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._file.writer.close()


class LocalLogExporter(_FailureType, LogRecordExporter):
    """Writes log records to ``logs.jsonl`` under the local directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self._file = _LocalFile(directory, "logs", max_bytes)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = not batch or self._file.export(batch)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self._file.writer.close()


__all__ = [
    "AggregationTemporality",
    "JsonLinesWriter",
    "LocalLogExporter",
    "LocalMetricExporter",
    "LocalSpanExporter",
    "rotated_files",
]
