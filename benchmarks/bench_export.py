"""How many spans per second the export thread can drain, step by step.

The batch processor's thread scrubs each span, encodes the batch and writes (local files) or
sends it (OTLP/HTTP). Here the same steps run on batches of real spans recorded through
``@agentobs.task`` with a user's attribute, in this thread, with nothing competing for the
GIL: the figure is the ceiling of what one export thread can do, per step and end to end,
beside the SDK's own OTLP/HTTP encoder and exporter for the same spans.

    .venv/bin/python benchmarks/bench_export.py                 # scrub, encode, write
    .venv/bin/python benchmarks/bench_export.py --endpoint http://127.0.0.1:4318
                                                                # ... and send to a collector
    .venv/bin/python benchmarks/bench_export.py --busy 8        # beside 8 busy threads

With ``--busy N``, N threads run Python code flat out meanwhile, as an application's threads
would: each write or request then costs the export thread a wait for the GIL, and the rows
``... batches of 2048`` (what the export thread's merging of batches hands the exporter under
a backlog) show what fewer, larger exports gain.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def record_spans(count: int) -> list[Any]:
    """``count`` finished spans of ``@agentobs.task`` calls, each with one attribute."""
    from opentelemetry.sdk.trace import SpanProcessor

    import agentobs
    from agentobs._export import pipeline
    from agentobs._settings import resolve

    kept: list[Any] = []

    class Keep(SpanProcessor):
        def on_end(self, span: Any) -> None:
            kept.append(span)

    import agentobs._export.scrub as scrub

    # Keep the spans as the SDK ends them (before any scrubbing): the exporters get those.
    original = scrub._scrub_in_export
    scrub._scrub_in_export = lambda processor, cleaner: True  # type: ignore[assignment]
    try:
        pipeline.install(resolve(exporter="none", logs=False), span_processors=[Keep()])
    finally:
        scrub._scrub_in_export = original

    @agentobs.task("lookup")
    def lookup(index: int) -> int:
        agentobs.set_attributes(**{"app.order_id": f"order-{index % 50}"})
        return index

    for index in range(count):
        lookup(index)
    agentobs.shutdown()
    return kept


def rate(step: Callable[[Sequence[Any]], Any], spans: list[Any], batch: int, rounds: int) -> float:
    """Median spans/s of ``step`` over every batch of ``spans``."""
    batches = [spans[i : i + batch] for i in range(0, len(spans), batch)]
    figures = []
    for _ in range(rounds):
        started = time.perf_counter()
        for one in batches:
            step(one)
        figures.append(len(spans) / (time.perf_counter() - started))
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_480)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--endpoint", help="OTLP/HTTP base endpoint (e.g. rotel's)")
    parser.add_argument("--busy", type=int, default=0, help="threads running Python meanwhile")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from agentobs._export import otlpjson, otlpproto
    from agentobs._export.localfiles import LocalSpanExporter
    from agentobs._export.scrub import SpanCleaner
    from agentobs._secrets import Scrubber

    spans = record_spans(args.spans)
    cleaner = SpanCleaner(Scrubber(), remove_content=False)

    def scrub(batch: Sequence[Any]) -> Any:
        clean = cleaner.clean
        return [clean(span) for span in batch]

    def sdk_proto(batch: Sequence[Any]) -> Any:
        return encode_spans(batch).SerializePartialToString()

    directory = Path(tempfile.mkdtemp())
    local = LocalSpanExporter(directory, 1 << 40)

    def local_end_to_end(batch: Sequence[Any]) -> Any:
        return local.export(scrub(batch))

    steps: dict[str, Callable[[Sequence[Any]], Any]] = {
        "scrub": scrub,
        "encode OTLP JSON (agentobs)": otlpjson.spans_json,
        "encode OTLP protobuf (SDK)": sdk_proto,
        "encode OTLP protobuf (agentobs)": otlpproto.spans_proto,
        "local files: scrub + encode + write (end to end)": local_end_to_end,
    }
    if args.endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        otlp = OTLPSpanExporter(endpoint=args.endpoint.rstrip("/") + "/v1/traces")
        steps["OTLP/HTTP: SDK exporter alone"] = otlp.export
        steps["OTLP/HTTP: scrub + SDK exporter"] = lambda batch: otlp.export(scrub(batch))
        fast = otlpproto.FastOTLPSpanExporter(endpoint=args.endpoint.rstrip("/") + "/v1/traces")
        steps["OTLP/HTTP: scrub + agentobs exporter"] = lambda batch: fast.export(scrub(batch))
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(range(200))

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(args.busy)]
    for thread in threads:
        thread.start()
    try:
        figures = {
            name: round(rate(step, spans, args.batch, args.rounds)) for name, step in steps.items()
        }
        for name in [n for n in steps if "end to end" in n or "exporter" in n]:
            merged = f"{name}, batches of {args.batch * 4}"
            figures[merged] = round(rate(steps[name], spans, args.batch * 4, args.rounds))
    finally:
        stop.set()
    local.shutdown()
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{len(spans)} spans of @agentobs.task, batches of {args.batch}, {args.busy} busy "
        "threads, spans/s (median)"
    )
    for name, value in figures.items():
        print(f"  {name:<66} {value:>10,}")


if __name__ == "__main__":
    main()
