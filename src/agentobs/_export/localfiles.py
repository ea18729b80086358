"""The local default: OTLP JSON Lines files, one per signal, size-capped with rotation.

Each line is one OTLP export request in the JSON encoding of the OpenTelemetry file exporter
specification (hex trace and span ids, lowerCamelCase fields), so the Collector's
``otlpjsonfile`` receiver can replay it into any backend. ``traces.jsonl`` is the file being
written; when it passes the size cap it becomes ``traces.1.jsonl`` and older ones shift up to
``traces.{backups}.jsonl``. A directory that cannot be written gives one warning and the
signal is dropped; the application carries on.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

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

from .._errors import warn_once

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


class JsonLinesWriter:
    """Appends JSON lines to a file, rotating it when it passes ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._stream: IO[str] | None = None
        self._size = 0
        self._broken = False
        _at_fork(self)

    def write(self, document: dict[str, Any]) -> bool:
        """Write one document as a line; False (after one warning) if the file is unusable."""
        return self.write_line(json.dumps(document, separators=(",", ":")))

    def write_line(self, text: str) -> bool:
        """Write one line of JSON (ASCII, as ``json.dumps`` writes it, without the newline)."""
        line = text + "\n"
        with self._lock:
            if self._broken:
                return False
            try:
                stream = self._stream or self._open()
                if self._size and self._size + len(line) > self.max_bytes:
                    stream = self._rotate()
                stream.write(line)
                stream.flush()
                self._size += len(line)  # ASCII: one byte per character
            except OSError as exc:
                self._broken = True
                warn_once(  # once per directory, not once per signal file in it
                    f"local:{self.path.parent}",
                    "agentobs: cannot write %s (%s); telemetry is not recorded locally there. "
                    "Set AGENTOBS_LOCAL_DIR or configure(local_dir=...) to a writable directory.",
                    self.path,
                    exc,
                )
                return False
        return True

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        self._size = self._stream.tell()
        return self._stream

    def _rotate(self) -> IO[str]:
        assert self._stream is not None
        self._stream.close()
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
        # one; the child writes through a file of its own (same path, appending).
        held = getattr(self, "_held_at_fork", False)
        self._lock = threading.Lock()
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                if held:  # its buffer is empty: every write flushes
                    stream.close()
                else:  # a write was under way: its half line must never reach the file
                    os.close(stream.fileno())

    def close(self) -> None:
        """Close the file; later writes reopen it."""
        with self._lock:
            if self._stream is not None:
                self._stream.close()
                self._stream = None


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

    def export(self, data: Any) -> bool:
        try:
            line = self.encode(data)
        except Exception as exc:  # a bad attribute value must not stop the pipeline
            warn_once(f"local-encode:{type(exc).__name__}", "agentobs: cannot encode %s", exc)
            return False
        return self.writer.write_line(line)


class LocalSpanExporter(SpanExporter):
    """Writes spans to ``traces.jsonl`` under the local directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self._file = _LocalFile(directory, "traces", max_bytes)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = bool(spans) and self._file.export(spans)
        return SpanExportResult.SUCCESS if ok or not spans else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._file.writer.close()


class LocalMetricExporter(MetricExporter):
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


class LocalLogExporter(LogRecordExporter):
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
