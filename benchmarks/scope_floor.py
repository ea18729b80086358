"""How close each agentobs scope is to the floor of the public OpenTelemetry SDK API.

    .venv/bin/python benchmarks/scope_floor.py [drop|adopted] [--rounds N]

Set up exactly as ``peer_worker.py --section decorators`` (``drop``: agentobs's own
MeterProvider, ``adopted``: the application's SDK MeterProvider with a reader), then
measures, interleaved and against the same raw span (``peer_worker.Raw``), each decorated
``@agentobs.task/tool/agent/workflow`` function and its *floor*: the same span written by
hand with the SDK, with the scope's own span attributes, the user's one attribute and the
scope's duration histogram recorded once with the same metric attributes, and nothing else
(no counter, no context keys, no error handling). What a scope costs above its floor is
agentobs's own Python; the floor itself is what the SDK charges for what the scope records.

CPU time of this thread (``time.thread_time_ns``), so that a shared machine's other processes
move both sides less than wall-clock time would; the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import peer_worker  # noqa: E402

HISTOGRAMS = {
    "task": "agentobs.task.duration",
    "tool": "gen_ai.execute_tool.duration",
    "agent": "gen_ai.invoke_agent.duration",
    "workflow": "gen_ai.workflow.duration",
}


def floor(scope: Any, histogram: str, metric_attributes: dict[str, Any]) -> Callable[[], None]:
    """The hand-written SDK equivalent of one decorated call of ``scope``."""
    from opentelemetry import context, trace

    from agentobs._state import STATE

    assert STATE.tracer is not None
    tracer, record = STATE.tracer, _recorders()[histogram]._record
    attributes, name = dict(scope.attributes), scope.span_name
    key, value = peer_worker.ATTRIBUTE
    internal, in_context = trace.SpanKind.INTERNAL, trace.set_span_in_context

    def call() -> None:
        parent = context.get_current()
        span = tracer.start_span(name, parent, internal, attributes)
        token = context.attach(in_context(span, parent))
        span.set_attribute(key, value)
        context.detach(token)
        record(0.001, metric_attributes, parent)
        span.end()

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="drop", choices=["drop", "adopted"])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    decorated = peer_worker.setup_agentobs(args.mode, "", Path(tempfile.mkdtemp()))
    raw = peer_worker.Raw()
    cases: dict[str, Callable[[], Any]] = {"raw span": raw.sync}
    for name, histogram in HISTOGRAMS.items():
        call = decorated[f"@agentobs.{name}"][0]
        assert call is not None
        call()  # one call fills the scope's cache of metric attributes: read the floor's there
        scope = next(s for s in _scopes() if s.kind == name)
        assert scope._metrics is not None
        record = _recorders()[histogram]._record
        entry = next(iter(scope._metrics[1].values()))
        attributes = next(a for fn, a in entry if fn == record)
        cases[f"@agentobs.{name}"] = call
        cases[f"{name} floor"] = floor(scope, histogram, attributes)
    for call in cases.values():
        for _ in range(2_000):
            call()
    rounds: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(args.rounds):
        for label, call in cases.items():
            gc.collect()
            started = time.thread_time_ns()
            for _ in range(args.calls):
                call()
            rounds[label].append((time.thread_time_ns() - started) / args.calls)
    base = rounds["raw span"]
    print(f"{args.mode}: raw span {statistics.median(base):,.0f} ns (CPU); ratios to it:")
    for label, values in rounds.items():
        if label != "raw span":
            ratio = statistics.median(a / b for a, b in zip(values, base, strict=True))
            print(f"  {label:22} {ratio:.2f}")
    return 0


def _recorders() -> dict[str, Any]:
    from agentobs._state import STATE

    assert STATE.recorders is not None
    return STATE.recorders


def _scopes() -> list[Any]:
    from agentobs._engine import Scope

    return [o for o in gc.get_objects() if isinstance(o, Scope) and o._metrics]


if __name__ == "__main__":
    sys.exit(main())
