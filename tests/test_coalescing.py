"""The export thread merges the batches of one drain into fewer, larger exports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import agentobs
from agentobs._export import pipeline
from agentobs._export.coalescing import CoalescingExporter, coalesce


class Recorder(SpanExporter):
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.shut = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.sizes.append(len(spans))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut = True


def _processor(recorder: Recorder, max_items: int) -> Any:
    processor = BatchSpanProcessor(
        recorder, max_queue_size=200, max_export_batch_size=10, schedule_delay_millis=60_000
    )
    coalesce(processor, SpanExportResult.SUCCESS, max_items=max_items)
    return processor


def _backlog(processor: Any, count: int) -> None:
    """``count`` items queued without waking the worker (as a backlog looks to it)."""
    queue = processor._batch_processor._queue
    for index in range(count):
        queue.appendleft(ReadableSpan(name=f"s{index}"))


def test_a_backlog_is_exported_in_fewer_larger_calls() -> None:
    recorder = Recorder()
    processor = _processor(recorder, max_items=40)
    _backlog(processor, 95)
    assert processor.force_flush()
    # Batches of 10 are kept while another full batch waits, up to 40 at a time.
    assert recorder.sizes == [40, 40, 10, 5]
    processor.shutdown()
    assert recorder.shut


def test_without_coalescing_the_same_backlog_takes_a_call_per_batch() -> None:
    recorder = Recorder()
    processor = BatchSpanProcessor(
        recorder, max_queue_size=200, max_export_batch_size=10, schedule_delay_millis=60_000
    )
    _backlog(processor, 95)
    processor.force_flush()
    assert recorder.sizes == [10] * 9 + [5]
    processor.shutdown()


def test_a_lone_batch_is_exported_at_once_and_nothing_is_kept() -> None:
    recorder = Recorder()
    processor = _processor(recorder, max_items=40)
    _backlog(processor, 7)
    processor.force_flush()
    assert recorder.sizes == [7]
    coalescing = processor._batch_processor._exporter
    assert isinstance(coalescing, CoalescingExporter)
    assert coalescing._kept == []
    processor.shutdown()


def test_what_is_kept_is_exported_at_shutdown() -> None:
    recorder = Recorder()
    coalescing = CoalescingExporter(recorder, lambda: 100, 10, SpanExportResult.SUCCESS, 1000)
    assert coalescing.export([ReadableSpan(name="a")] * 10) is SpanExportResult.SUCCESS
    assert recorder.sizes == []  # kept: the processor would call again at once
    coalescing.shutdown()
    assert recorder.sizes == [10]
    assert recorder.shut


def test_configure_coalesces_every_batch_processor(tmp_path: Path) -> None:
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=True)
    try:
        running = pipeline.current()
        assert running is not None
        parts = running.span_processors + running.log_processors
        batching = [p for p in parts if hasattr(p, "_batch_processor")]
        assert len(batching) == 2
        for processor in batching:
            assert isinstance(processor._batch_processor._exporter, CoalescingExporter)
    finally:
        agentobs.shutdown()


def test_never_more_in_hand_than_the_queue_holds() -> None:
    processor = BatchSpanProcessor(
        Recorder(), max_queue_size=30, max_export_batch_size=10, schedule_delay_millis=60_000
    )
    coalesce(processor, SpanExportResult.SUCCESS, max_items=1000)
    assert processor._batch_processor._exporter._max_items == 30
    processor.shutdown()
