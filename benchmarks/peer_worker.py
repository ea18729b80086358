"""One measurement of ``make bench-peers``, run by ``bench_peers.py`` inside one environment.

    python peer_worker.py --env NAME --section SECTION [--variant V] [--quick] --output F.json

Each invocation is a fresh process (the peers install global OpenTelemetry providers, which
can be set once per process) that measures one section for one SDK, always against a
reference measured in the same process and in paired, alternating rounds:

* ``decorators`` — a trivial function decorated by the SDK, sync and async, setting one
  attribute as a user of that SDK would, against a raw OpenTelemetry span (private SDK
  ``TracerProvider``, ``BatchSpanProcessor``, an exporter that drops) setting the same one.
* ``llm`` — the real ``openai`` client against a loopback Chat Completions server (another
  process), instrumented by the SDK, against the same client uninstrumented: added µs per
  call, and per chunk of a streamed completion with usage; what the SDK recorded.
* ``pytest`` — 2,000 trivial tests in fresh ``pytest`` processes, plugin on against off.
* ``import`` — ``import <sdk>`` against ``import opentelemetry.sdk.trace``, fresh interpreters.
* ``throughput`` — the highest rate of decorated calls per second that one process sustains
  with every span exported (zero drops) over OTLP/HTTP to rotel on loopback (or to files).

Offline: before anything is imported, every HTTP(S) proxy variable points at a local proxy
that refuses each request and records the host asked for (``phoned_home`` in the output);
loopback is exempt. Results go to ``--output`` as JSON.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from _harness import async_loop, paired_import_seconds, paired_loops_ns  # noqa: E402

ATTRIBUTE = ("app.user_id", "u-42")
PROMPT = "bench-prompt: say hi"
CHUNKS = 20
"""Content chunks of a streamed completion (plus role, finish and usage chunks)."""


# --- offline guard -------------------------------------------------------------------------
class _RefusingProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.hosts: set[str] = set()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(4096).decode("latin-1").split()
                if len(line) >= 2:
                    target = line[1]
                    host = target.split("://", 1)[-1].split("/", 1)[0]
                    proxy.hosts.add(host)
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def go_offline() -> _RefusingProxy:
    proxy = _RefusingProxy()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ[name] = os.environ[name.lower()] = url
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    return proxy


# --- the shared OpenTelemetry pieces ---------------------------------------------------------
RECENT: deque[Any] = deque(maxlen=200)
"""The last spans any dropping exporter saw, to tell what each SDK recorded."""


def dropping_exporter() -> Any:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class DroppingExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            RECENT.extend(spans)
            return SpanExportResult.SUCCESS

    return DroppingExporter()


def batch(exporter: Any) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(exporter)


def otlp_exporter(endpoint: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")


def global_providers() -> Any:
    """An application's own SDK providers, installed globally: a TracerProvider with the
    dropping batch processor and a MeterProvider with an in-memory reader (returned)."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(batch(dropping_exporter()))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


class Raw:
    """The reference: a span from a private SDK TracerProvider, one attribute set."""

    def __init__(self, exporter: Any = None) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        self.provider = TracerProvider()
        self.provider.add_span_processor(batch(exporter or dropping_exporter()))
        tracer = self.provider.get_tracer("bench")
        key, value = ATTRIBUTE

        def sync() -> int:
            with tracer.start_as_current_span("x") as span:
                span.set_attribute(key, value)
                return 1

        async def async_() -> int:
            with tracer.start_as_current_span("x") as span:
                span.set_attribute(key, value)
                return 1

        self.sync, self.async_ = sync, async_


def set_current(key: str, value: str) -> None:
    """How a user of a plain-OpenTelemetry SDK sets an attribute on the current span."""
    from opentelemetry import trace

    trace.get_current_span().set_attribute(key, value)


# --- what each SDK decorates ---------------------------------------------------------------
Decorated = dict[str, tuple[Callable[[], Any] | None, Callable[[], Any] | None, str]]
"""label -> (sync function, async function or None, note)."""


def _pair(decorate: Callable[[Callable[..., Any]], Callable[..., Any]], setter: Any) -> Any:
    key, value = ATTRIBUTE

    def sync() -> int:
        setter(key, value)
        return 1

    async def async_() -> int:
        setter(key, value)
        return 1

    return decorate(sync), decorate(async_)


def setup_agentobs(mode: str, endpoint: str, workdir: Path) -> Decorated:
    import agentobs

    if mode == "drop":  # configure(exporter="none") plus the reference's batch processor
        from agentobs._export import pipeline
        from agentobs._settings import resolve

        pipeline.install(resolve(exporter="none"), span_processors=[batch(dropping_exporter())])
    elif mode == "adopted":
        global_providers()
        agentobs.configure(exporter="none")
    elif mode == "otlp":
        agentobs.configure(exporter="otlp", endpoint=endpoint, logs=False)
    else:
        agentobs.configure(exporter="local", local_dir=workdir / "telemetry", logs=False)

    def setter(key: str, value: str) -> None:
        agentobs.set_attributes(**{key: value})

    found: Decorated = {}
    for name in ("task", "tool", "agent", "workflow"):
        sync, async_ = _pair(getattr(agentobs, name)("x"), setter)
        found[f"@agentobs.{name}"] = (sync, async_, "agentobs.set_attributes()")
    return found


def setup_traceloop(mode: str, endpoint: str, workdir: Path) -> Decorated:
    os.environ["TRACELOOP_TELEMETRY"] = "false"
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import agent, task, tool, workflow
    from traceloop.sdk.instruments import Instruments

    # Only the OpenAI instrumentation (the default imports every one it finds installed).
    if mode == "otlp":
        Traceloop.init(
            app_name="bench",
            api_endpoint=endpoint,
            telemetry_enabled=False,
            instruments={Instruments.OPENAI},
        )
    else:
        Traceloop.init(
            app_name="bench",
            api_endpoint="http://127.0.0.1:9",
            exporter=dropping_exporter(),
            telemetry_enabled=False,
            instruments={Instruments.OPENAI},
        )
    found: Decorated = {}
    for name, decorator in (("task", task), ("workflow", workflow), ("tool", tool)):
        sync, async_ = _pair(decorator(name="x"), set_current)
        found[f"traceloop @{name}"] = (sync, async_, "span.set_attribute()")
    sync, async_ = _pair(agent(name="x"), set_current)
    found["traceloop @agent"] = (sync, async_, "span.set_attribute()")
    return found


def setup_langfuse(mode: str, endpoint: str, workdir: Path) -> Decorated:
    from langfuse import Langfuse, observe

    exporter = otlp_exporter(endpoint) if mode == "otlp" else dropping_exporter()
    client = Langfuse(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        host="http://127.0.0.1:9",
        span_exporter=exporter,
    )

    def setter(key: str, value: str) -> None:
        client.update_current_span(metadata={key: value})

    sync, async_ = _pair(observe(name="x"), setter)
    return {
        "langfuse @observe": (
            sync,
            async_,
            "update_current_span(metadata=); input/output captured",
        ),
    }


def setup_logfire(mode: str, endpoint: str, workdir: Path) -> Decorated:
    import logfire

    exporter = otlp_exporter(endpoint) if mode == "otlp" else dropping_exporter()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        additional_span_processors=[batch(exporter)],
        data_dir=workdir / ".logfire",
    )
    sync, async_ = _pair(logfire.instrument("x"), set_current)
    key, value = ATTRIBUTE

    def span_sync() -> int:
        with logfire.span("x", **{key: value}):
            return 1

    async def span_async() -> int:
        with logfire.span("x", **{key: value}):
            return 1

    return {
        "logfire @instrument": (sync, async_, "span.set_attribute()"),
        "logfire.span": (span_sync, span_async, "attribute as a keyword of logfire.span"),
    }


def _openlit_prices(workdir: Path) -> str:
    path = workdir / "openlit-pricing.json"
    prices = {"chat": {"gpt-4o": {"promptPrice": 0.0025, "completionPrice": 0.01}}}
    path.write_text(json.dumps(prices))
    return str(path)


def setup_openlit(mode: str, endpoint: str, workdir: Path) -> Decorated:
    import openlit

    if mode == "otlp":
        openlit.init(otlp_endpoint=endpoint, pricing_json=_openlit_prices(workdir))
    else:
        global_providers()  # openlit adds to an existing SDK TracerProvider
        # Without an endpoint its events go to a console exporter, and its httpx
        # instrumentation would make the uninstrumented reference record too.
        openlit.init(
            pricing_json=_openlit_prices(workdir),
            disable_events=True,
            disabled_instrumentors=["httpx"],
        )
    sync, _async = _pair(openlit.trace, set_current)
    return {
        "openlit @trace": (
            sync,
            None,
            "span.set_attribute(); async: not supported (the span ends before the coroutine runs)",
        )
    }


def setup_agentops(mode: str, endpoint: str, workdir: Path) -> Decorated:
    import agentops
    import agentops.sdk.core as core
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    # init() has no setting for the metrics endpoint (its cloud's): point it here instead.
    target = endpoint if mode == "otlp" else "http://127.0.0.1:9"
    core.OTLPMetricExporter = lambda **kw: OTLPMetricExporter(
        endpoint=f"{target}/v1/metrics", headers=kw.get("headers")
    )
    if mode != "otlp":
        core.AuthenticatedOTLPExporter = lambda **_kw: dropping_exporter()
    agentops.init(exporter_endpoint=f"{target}/v1/traces", log_level="ERROR")
    found: Decorated = {}
    for name in ("task", "tool", "agent", "workflow", "operation"):
        sync, async_ = _pair(getattr(agentops, name)(name="x"), set_current)
        found[f"agentops @{name}"] = (sync, async_, "span.set_attribute(); input/output captured")
    return found


SETUPS: dict[str, Callable[[str, str, Path], Decorated]] = {
    "agentobs": setup_agentobs,
    "traceloop-sdk": setup_traceloop,
    "langfuse": setup_langfuse,
    "logfire": setup_logfire,
    "openlit": setup_openlit,
    "agentops": setup_agentops,
}


# --- sections -------------------------------------------------------------------------------
def _row(
    section: str,
    name: str,
    ours: list[float],
    theirs: list[float] | None,
    unit: str,
    baseline: str,
    **extra: Any,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "section": section,
        "name": name,
        "unit": unit,
        "value": statistics.median(ours),
        "min": min(ours),
        "max": max(ours),
        "rounds": ours,
        "baseline": baseline,
        **extra,
    }
    if theirs is not None:
        row["baseline_value"] = statistics.median(theirs)
        row["ratio"] = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    return row


def section_decorators(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    mode = "adopted" if args.variant == "adopted" else "drop"
    decorated = SETUPS[args.env](mode, "", workdir)
    raw = Raw()
    rows = []
    suffix = {"adopted": ", adopted SDK MeterProvider"}.get(args.variant or "", "")
    for label, (sync, async_, note) in decorated.items():
        for kind, call, reference in (("sync", sync, raw.sync), ("async", async_, raw.async_)):
            name = f"{label} ({kind}{suffix})"
            if call is None:
                rows.append({"section": "decorators", "name": name, "value": None, "note": note})
                continue
            make = async_loop if kind == "async" else _sync_loop
            loop, base_loop = make(call), make(reference)
            seconds = 0.02 if args.quick else 0.4
            ours, theirs = paired_loops_ns(
                loop,
                _calls(loop, seconds),
                base_loop,
                _calls(base_loop, seconds),
                args.rounds,
                settle=not args.quick,
            )
            rows.append(
                _row("decorators", name, ours, theirs, "ns/call", f"raw span ({kind})", note=note)
            )
    return rows


def _calls(loop: Callable[[int], None], seconds: float) -> int:
    """How many calls of ``loop`` take about ``seconds`` (at least 50, at most 50,000)."""
    loop(20)
    started = time.perf_counter()
    loop(50)
    each = (time.perf_counter() - started) / 50
    return max(50, min(50_000, int(seconds / max(each, 1e-9))))


def _sync_loop(call: Callable[[], Any]) -> Callable[[int], None]:
    def loop(count: int) -> None:
        for _ in range(count):
            call()

    return loop


def _start_llm_server() -> tuple[subprocess.Popen[str], str]:
    code = (
        "import socketserver, sys, time; sys.path.insert(0, sys.argv[1]); import llm_server; "
        "socketserver.StreamRequestHandler.disable_nagle_algorithm = True; "
        f"llm_server.TEXT = ['tok '] * {CHUNKS}; fake = llm_server.FakeLLM(); "
        "print(fake.base_url, flush=True)\n"
        "while True:\n    time.sleep(1); fake.requests.clear()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(HERE.parent / "tests")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _instrument_openai(env: str, variant: str | None, workdir: Path, base_url: str) -> Any:
    """Instrument ``openai`` as the SDK documents; return the client to call through."""
    import openai

    def client() -> Any:
        return openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

    if env == "agentobs":
        import agentobs

        agentobs.configure(exporter="none", logs=False)
        if variant == "wrapper":
            return client()
        agentobs.instrument_openai()
        return client()
    if env == "traceloop-sdk":
        setup_traceloop("drop", "", workdir)
        return client()
    if env == "openlit":
        setup_openlit("drop", "", workdir)
        return client()
    if env == "opentelemetry-instrumentation-openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
        return client()
    if env == "langfuse":
        Langfuse = __import__("langfuse").Langfuse
        Langfuse(
            public_key="pk-lf-bench",
            secret_key="sk-lf-bench",
            host="http://127.0.0.1:9",
            span_exporter=dropping_exporter(),
        )
        from langfuse.openai import OpenAI

        return OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    if env == "logfire":
        import logfire

        logfire.configure(
            send_to_logfire=False,
            console=False,
            data_dir=workdir / ".logfire",
            additional_span_processors=[batch(dropping_exporter())],
        )
        instrumented = client()
        logfire.instrument_openai(instrumented)
        return instrumented
    raise SystemExit(f"no OpenAI instrumentation for {env}")


def _recorded(reader: Any, spans: list[Any]) -> dict[str, Any]:
    """What the SDK recorded for the calls: from the LLM spans and the metric names."""
    keys: set[str] = set()
    events: set[str] = set()
    content = False
    for span in spans:
        for key, value in (span.attributes or {}).items():
            keys.add(key)
            content = content or (isinstance(value, str) and "bench-prompt" in value)
        for event in span.events:
            events.add(event.name)
            for value in (event.attributes or {}).values():
                content = content or (isinstance(value, str) and "bench-prompt" in value)
    metrics: set[str] = set()
    data = reader.get_metrics_data()
    for resource in getattr(data, "resource_metrics", None) or []:
        for scope in resource.scope_metrics:
            metrics.update(metric.name for metric in scope.metrics)
    lowered = {k.lower() for k in keys | events | metrics}

    def any_of(*words: str) -> bool:
        return any(word in key for key in lowered for word in words)

    return {
        "tokens": any_of("input_tokens", "prompt_tokens", "token.usage", "usage"),
        "cost": any_of("cost"),
        "ttft": any_of("time_to_first", "ttft", "first_token", "first_chunk", "completion_start"),
        "content": content,
        "metrics": sorted(metrics),
        "spans": len(spans),
    }


def section_llm(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    from opentelemetry import trace

    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    server, base_url = _start_llm_server()
    try:
        import openai
        from openai.resources.chat.completions import Completions

        original = Completions.create  # captured before any SDK patches the class
        plain = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
        reader = global_providers()
        client = _instrument_openai(args.env, args.variant, workdir, base_url)
        messages = [{"role": "user", "content": PROMPT}]
        request = {"model": "gpt-4o", "messages": messages}
        stream = {**request, "stream": True, "stream_options": {"include_usage": True}}

        def plain_call() -> None:
            original(plain.chat.completions, **request)

        def plain_stream() -> None:
            for _chunk in original(plain.chat.completions, **stream):
                pass

        create = client.chat.completions.create
        if args.env == "agentobs" and args.variant == "wrapper":
            import agentobs

            create = agentobs.llm(provider="openai", model="gpt-4o")(create)

        def call() -> None:
            create(**request)

        def streamed() -> None:
            for _chunk in create(**stream):
                pass

        # The reference must record nothing: an SDK that patches below the class would.
        provider = trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", lambda *a: True)
        flush()
        RECENT.clear()
        plain_call()
        plain_stream()
        flush()
        leaked = len(RECENT)
        RECENT.clear()
        call()
        streamed()
        for sdk_flush in _flushes(args.env):
            sdk_flush()
        recorded = _recorded(reader, list(RECENT))
        note = "" if not leaked else f"the uninstrumented reference also made {leaked} spans"

        calls = 5 if args.quick else 60
        label = {"wrapper": "@agentobs.llm around the client"}.get(args.variant or "", args.env)
        rows = []
        ours, theirs = paired_loops_ns(
            _sync_loop(call), calls, _sync_loop(plain_call), calls, args.rounds, not args.quick
        )
        added = [(a - b) / 1000 for a, b in zip(ours, theirs, strict=True)]
        rows.append(
            _row(
                "llm",
                f"{label}: chat completion",
                added,
                None,
                "µs added per call",
                "uninstrumented client",
                ratio=statistics.median(a / b for a, b in zip(ours, theirs, strict=True)),
                baseline_value=statistics.median(theirs) / 1000,
                records=recorded,
                note=note,
            )
        )
        ours, theirs = paired_loops_ns(
            _sync_loop(streamed),
            calls,
            _sync_loop(plain_stream),
            calls,
            args.rounds,
            not args.quick,
        )
        chunks = CHUNKS + 3  # role, content chunks, finish, usage
        per_chunk = [(a - b) / chunks / 1000 for a, b in zip(ours, theirs, strict=True)]
        rows.append(
            _row(
                "llm",
                f"{label}: stream of {chunks} chunks",
                per_chunk,
                None,
                "µs added per chunk",
                "uninstrumented client",
                ratio=statistics.median(a / b for a, b in zip(ours, theirs, strict=True)),
                baseline_value=statistics.median(theirs) / chunks / 1000,
                records=recorded,
                note=note,
            )
        )
        return rows
    finally:
        server.kill()
        server.wait()


def _flushes(env: str) -> list[Callable[[], Any]]:
    from opentelemetry import trace

    found = [getattr(trace.get_tracer_provider(), "force_flush", lambda *a: True)]
    if env == "langfuse":
        from langfuse import get_client

        found.append(get_client().flush)
    if env == "agentobs":
        import agentobs
        from agentobs._llm import cost

        # The price table loads in the background once per process; a call that ends before
        # it has prices its cost later. Measure the steady state: every call priced at once.
        found += [lambda: cost.wait_ready(30.0), agentobs.force_flush]
    if env == "logfire":
        import logfire

        found.append(logfire.force_flush)
    return found


PYTEST_PLUGINS: dict[str, tuple[str, list[str], list[str], dict[str, str]]] = {
    # env -> (label, options turning the plugin on, options turning it off, environment)
    "agentobs": ("agentobs (spans + metrics to local files)", [], ["-p", "no:agentobs"], {}),
    "pytest-opentelemetry": (
        "pytest-opentelemetry --export-traces (OTLP/HTTP to rotel)",
        ["--export-traces"],
        ["-p", "no:pytest_opentelemetry"],
        {},
    ),
    "ddtrace": (
        "ddtrace --ddtrace (agent unreachable)",
        ["--ddtrace"],
        ["-p", "no:ddtrace"],
        {
            "DD_TRACE_AGENT_URL": "http://127.0.0.1:9",
            "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
            "DD_REMOTE_CONFIGURATION_ENABLED": "false",
            "DD_CIVISIBILITY_AGENTLESS_ENABLED": "false",
        },
    ),
}


def section_pytest(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    import bench_pytest

    label, plugin, plain, extra = PYTEST_PLUGINS[args.env]
    modules = 1 if args.quick else bench_pytest.MODULES
    count = modules * bench_pytest.TESTS_PER_MODULE
    suite = f"{count:,} trivial tests"
    populate = None
    if args.variant == "six":  # a real third-party suite: six's own tests, from its sdist
        sdist = Path(args.sdist)
        suite = f"{sdist.name.removesuffix('.tar.gz')}'s own test suite"
        populate = bench_pytest.six_suite(sdist)

    extra = {**extra, "OTEL_EXPORTER_OTLP_ENDPOINT": args.endpoint, "OTEL_SERVICE_NAME": "bench"}
    if args.env == "agentobs":
        history = str(workdir / "history.json")
        plugin = ["--agentobs-export", "local", "--agentobs-history", history]
    ours, theirs = bench_pytest.measure(
        min(args.rounds, 5),
        modules,
        bench_pytest.TESTS_PER_MODULE,
        plugin,
        plain,
        extra,
        populate,
        warmup=not args.quick,
    )
    return [
        _row(
            "pytest",
            f"{label}: {suite}",
            ours,
            theirs,
            "s",
            "plain pytest, same environment (plugin off)",
        )
    ]


IMPORTS = {
    "agentobs": "agentobs",
    "traceloop-sdk": "traceloop.sdk",
    "langfuse": "langfuse",
    "logfire": "logfire",
    "openlit": "openlit",
    "agentops": "agentops",
    "opentelemetry-instrumentation-openai-v2": "opentelemetry.instrumentation.openai_v2",
    "pytest-opentelemetry": "pytest_opentelemetry.plugin",
    "ddtrace": "ddtrace",
}


def section_import(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    module = IMPORTS[args.env]
    rounds = min(args.rounds, 5)
    ours, theirs = paired_import_seconds(
        module, "opentelemetry.sdk.trace", rounds, warmup=not args.quick
    )
    return [
        _row(
            "import",
            f"import {module}",
            [s * 1000 for s in ours],
            [s * 1000 for s in theirs],
            "ms",
            "import opentelemetry.sdk.trace",
        )
    ]


# --- throughput ----------------------------------------------------------------------------
EXPORTED = [0]
FAILED = [0]


def _count_exports() -> None:
    """Count every span an OTLP/HTTP (or agentobs local-file) exporter reports as exported,
    and those it reports as failed (the rest of what is lost was dropped by a full queue)."""
    import threading

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    classes: list[Any] = [OTLPSpanExporter]
    try:
        from agentobs._export.localfiles import LocalSpanExporter

        classes.append(LocalSpanExporter)
        from agentobs._export.otlpproto import FastOTLPSpanExporter

        classes.append(FastOTLPSpanExporter)  # its own export (the SDK's when it falls back)
    except ImportError:
        pass
    inside = threading.local()
    for cls in classes:
        original = cls.export

        def export(self: Any, spans: Any, _original: Any = original) -> Any:
            if getattr(inside, "depth", 0):  # a subclass's export calling the SDK's
                return _original(self, spans)
            inside.depth = 1
            try:
                result = _original(self, spans)
            finally:
                inside.depth = 0
            if result is SpanExportResult.SUCCESS:
                EXPORTED[0] += len(spans)
            else:
                FAILED[0] += len(spans)
            return result

        cls.export = export


def _paced(call: Callable[[], Any], rate: float, seconds: float) -> tuple[int, float]:
    """Call ``call`` ``rate`` times a second for ``seconds``; (calls, seconds it took)."""
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    ticks = max(1, int(seconds / tick))
    started = time.perf_counter()
    for index in range(ticks):
        for _ in range(per_tick):
            call()
        pause = started + (index + 1) * tick - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return per_tick * ticks, time.perf_counter() - started


def sustained_rate(
    call: Callable[[], Any],
    flush: Callable[[], Any],
    probe: float,
    confirm: float,
    quick: bool = False,
) -> tuple[float, float, str]:
    """The highest rate (calls/s) with every span exported, confirmed over ``confirm`` s;
    (rate, spans per call, note).

    The same method for every row, the reference included: double, then bisect, with short
    probes (each retried once: a probe can be unlucky on a shared machine); then confirm over
    the full duration, and on a loss retry at three quarters of the rate, up to six times.
    Each run starts settled (flushed, garbage collected) and its losses are told apart:
    spans an exporter failed to send, spans a full queue dropped, or a producer that could
    not keep the pace (a stall of a quarter second, a neighbour's burst, is not a miss).

    ``quick`` (the smoke run: it proves that spans are made, exported and counted) doubles
    up to 400/s at most, does not bisect, confirms twice at most and collects no garbage."""
    import gc

    flush()
    before = EXPORTED[0]
    made, _ = _paced(call, 50, max(0.2, probe / 2))
    flush()
    per_call = (EXPORTED[0] - before) / made
    if per_call < 1:
        return 0.0, per_call, f"only {EXPORTED[0] - before} of {made} spans exported at 50/s"

    def once(rate: float, seconds: float) -> str:
        """What went wrong at ``rate`` (empty: every span exported, pace kept)."""
        flush()
        if not quick:
            gc.collect()
        exported, failed = EXPORTED[0], FAILED[0]
        made, took = _paced(call, rate, seconds)
        flush()
        exported, failed = EXPORTED[0] - exported, FAILED[0] - failed
        expected = made * per_call
        if exported >= expected and took <= seconds * 1.1 + 0.25:
            return ""
        lost = []
        if failed:
            lost.append(f"{failed:.0f} failed to export")
        dropped = expected - exported - failed
        if dropped > 0:
            lost.append(f"{dropped:.0f} dropped")
        if took > seconds * 1.1 + 0.25:
            lost.append(f"pace missed ({took:.1f} s for {seconds:.0f} s)")
        return f"{rate:,.0f}/s: " + ", ".join(lost)

    def clean(rate: float, seconds: float) -> bool:
        return not once(rate, seconds) or not once(rate, seconds)

    low, high = 0.0, 100.0
    while high < (400 if quick else 1_000_000) and clean(high, probe):
        low, high = high, high * 2
    for _ in range(0 if quick else 3):
        middle = (low + high) / 2
        if clean(middle, probe):
            low = middle
        else:
            high = middle
    rate = low
    misses = []
    for _ in range(2 if quick else 6):
        if rate < 100:
            break
        miss = once(rate, confirm)
        if not miss:
            note = f"confirmed at {len(misses) + 1}. try" if misses else ""
            return rate, per_call, "; ".join([note, *misses[:2]]) if misses else ""
        misses.append(miss)
        rate *= 0.75
    return 0.0, per_call, "no rate of 100/s or more held with zero losses: " + "; ".join(misses)


def section_throughput(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """The SDK's sustained rate, and raw OpenTelemetry's in the same process just before."""
    from opentelemetry import trace

    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)
    _count_exports()
    probe, confirm = (0.1 if args.quick else 2.0), args.seconds
    raw = Raw(otlp_exporter(args.endpoint))
    raw_rate, _per_call, raw_note = sustained_rate(
        raw.sync, lambda: raw.provider.force_flush(60_000), probe, confirm, args.quick
    )
    raw.provider.shutdown()
    mode = "local" if args.variant == "local" else "otlp"
    decorated = SETUPS[args.env](mode, args.endpoint, workdir)
    label, (call, _async, _note) = next(iter(decorated.items()))
    label += " (local files)" if mode == "local" else " (OTLP/HTTP to rotel)"

    def flush() -> Any:
        for one in _flushes(args.env):
            one()
        return getattr(trace.get_tracer_provider(), "force_flush", lambda *a: 0)(60_000)

    assert call is not None
    rate, per_call, note = sustained_rate(call, flush, probe, confirm, args.quick)
    spans = rate * per_call
    row = _row(
        "throughput",
        label,
        [spans],
        [raw_rate] if raw_rate else None,
        "spans/s",
        "raw OpenTelemetry span, OTLP/HTTP exporter to rotel, same process",
        seconds=confirm,
        spans_per_call=per_call,
        note="; ".join(filter(None, [note, raw_note and f"reference: {raw_note}"])),
    )
    if not raw_rate:
        row["baseline_value"] = 0.0
    return [row]


SECTIONS = {
    "decorators": section_decorators,
    "llm": section_llm,
    "pytest": section_pytest,
    "import": section_import,
    "throughput": section_throughput,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--section", required=True, choices=sorted(SECTIONS))
    parser.add_argument("--variant")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--endpoint", default="http://127.0.0.1:9")
    parser.add_argument("--seconds", type=float, default=30.0, help="throughput confirmation")
    parser.add_argument("--sdist", help="the sdist whose test suite the pytest 'six' row runs")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    proxy = go_offline()
    if args.sdist:
        args.sdist = str(Path(args.sdist).resolve())
    workdir = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    os.chdir(workdir)
    started = time.monotonic()
    rows = SECTIONS[args.section](args, workdir)
    # Run the SDKs' exit hooks (final flushes, uploads: the proxy notes where to), bounded.
    hooks = threading.Thread(target=atexit._run_exitfuncs, daemon=True)
    hooks.start()
    hooks.join(10)
    result = {
        "env": args.env,
        "section": args.section,
        "variant": args.variant,
        "seconds": time.monotonic() - started,
        "phoned_home": sorted(proxy.hosts),
        "rows": rows,
    }
    args.output.write_text(json.dumps(result, indent=1, default=str))
    shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()
    os._exit(0)  # skip the SDKs' exit hooks (flushes to unreachable endpoints)


if __name__ == "__main__":
    sys.exit(main())
