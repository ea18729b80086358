"""configure(): the pipeline it builds, adoption of the app's providers, sampling, cost."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace

import agentobs
import agentobs.testing
from agentobs._export import pipeline as _pipeline
from agentobs._names import STATUS

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def record_spans(count: int, name: str = "work") -> None:
    tracer = trace.get_tracer("tests")
    for _ in range(count):
        with tracer.start_as_current_span(name):
            pass


def read_spans(path: Path) -> list[dict[str, object]]:
    spans = []
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                spans.extend(scope["spans"])
    return spans


# --- Prometheus -------------------------------------------------------------------------


def test_prometheus_port_in_use_raises_os_error_naming_it() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=rf"prometheus_port={port}\).*choose a free port"):
            agentobs.configure(exporter="none", prometheus_port=port)
    assert _pipeline.current() is None
    assert not isinstance(trace.get_tracer_provider(), _sdk_tracer_provider())


def test_prometheus_port_in_use_from_the_environment_warns_and_runs_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The second worker of a multi-process server, all given one AGENTOBS_PROMETHEUS_PORT:
    the first serves /metrics, the others run on without it."""
    first = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import agentobs, sys; agentobs.configure(exporter='none', "
            "logs=False); print(agentobs.prometheus_address(), flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "AGENTOBS_PROMETHEUS_PORT": "0"},
    )
    try:
        assert first.stdout is not None
        address = first.stdout.readline().strip()
        port = address.rsplit(":", 1)[1]
        monkeypatch.setenv("AGENTOBS_PROMETHEUS_PORT", port)
        agentobs.configure(local_dir=tmp_path, logs=False)  # does not raise
        assert f"cannot serve /metrics on 127.0.0.1:{port} from AGENTOBS_PROMETHEUS_PORT" in (
            caplog.text
        )
        assert agentobs.prometheus_address() is None
        with agentobs.workflow("still-recorded"):
            pass
        agentobs.shutdown()
        assert [s["name"] for s in read_spans(tmp_path / "traces.jsonl")] == [
            "invoke_workflow still-recorded"
        ]
    finally:
        first.communicate("", timeout=10)


def test_prometheus_serves_metrics_on_a_picked_port() -> None:
    agentobs.configure(exporter="none", prometheus_port=0, logs=False)
    pipeline = _pipeline.current()
    assert pipeline is not None
    assert pipeline.prometheus_address is not None
    host, port = pipeline.prometheus_address
    metrics.get_meter("tests").create_counter("doors.opened", unit="{door}").add(3)
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert re.search(r"^doors_opened\w*total\S* 3\.0$", body, re.MULTILINE), body
    agentobs.shutdown()
    with socket.socket() as again:  # the port is released at shutdown
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((host, port))


# --- adoption of the application's providers ----------------------------------------------


def _sdk_tracer_provider() -> type:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider


def test_adopts_the_applications_tracer_provider(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    caplog.set_level(logging.INFO, logger="agentobs")
    app_exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    trace.set_tracer_provider(app_provider)

    agentobs.configure(exporter="local", local_dir=tmp_path / "local", logs=False)
    assert trace.get_tracer_provider() is app_provider
    record_spans(2, "adopted")
    assert agentobs.force_flush(timeout=5)

    assert [s.name for s in app_exporter.get_finished_spans()] == ["adopted", "adopted"]
    assert [s["name"] for s in read_spans(tmp_path / "local" / "traces.jsonl")] == [
        "adopted",
        "adopted",
    ]
    adopted = [r for r in caplog.records if "application's" in r.getMessage()]
    assert len(adopted) == 1
    assert adopted[0].levelno == logging.INFO
    assert "TracerProvider" in adopted[0].getMessage()

    agentobs.shutdown()
    # agentobs shut down only its own processors: the app's provider still works.
    record_spans(1, "after")
    assert app_exporter.get_finished_spans()[-1].name == "after"


def test_adopts_the_applications_meter_provider_and_its_readers_get_our_metrics(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The application set up its own SDK MeterProvider first: agentobs records into it (its
    counters through observable instruments, its histograms per call), the app's reader sees
    exact values, and one warning says that agentobs's own metric exporters are not added."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    caplog.set_level(logging.INFO, logger="agentobs")
    reader = InMemoryMetricReader()
    app_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(app_provider)

    agentobs.configure(exporter="local", local_dir=tmp_path / "local", logs=False)
    assert metrics.get_meter_provider() is app_provider

    @agentobs.task("adopted-task")
    def step() -> int:
        agentobs.set_attributes(customer_tier="gold")
        return 1

    @agentobs.workflow("adopted-flow")
    def flow() -> int:
        return sum(step() for _ in range(3))

    assert [flow() for _ in range(2)] == [3, 3]

    points: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    assert sum(p.value for p in points["agentobs.task.runs"]) == 6
    assert sum(p.count for p in points["agentobs.task.duration"]) == 6
    assert sum(p.value for p in points["agentobs.workflow.runs"]) == 2
    assert {p.attributes.get(STATUS) for p in points["agentobs.task.runs"]} == {"ok"}
    warned = [r for r in caplog.records if "MeterProvider is used as it is" in r.getMessage()]
    assert len(warned) == 1, [r.getMessage() for r in caplog.records]

    agentobs.shutdown()
    app_provider.shutdown()


def test_second_configure_is_ignored_logged_and_harmless(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="agentobs")
    agentobs.configure(exporter="local", local_dir=tmp_path / "first", logs=False)
    first = _pipeline.current()
    provider = trace.get_tracer_provider()

    agentobs.configure(exporter="local", local_dir=tmp_path / "second", service_name="other")
    assert _pipeline.current() is first
    assert trace.get_tracer_provider() is provider
    ignored = [r for r in caplog.records if "called again and ignored" in r.getMessage()]
    assert len(ignored) == 1

    record_spans(1)
    agentobs.shutdown()
    assert len(read_spans(tmp_path / "first" / "traces.jsonl")) == 1
    assert not (tmp_path / "second").exists()


def test_configure_after_shutdown_builds_a_new_pipeline(tmp_path: Path) -> None:
    agentobs.configure(exporter="none", logs=False)
    first = _pipeline.current()
    agentobs.shutdown()
    assert _pipeline.current() is None
    agentobs.testing.reset()
    agentobs.configure(exporter="local", local_dir=tmp_path, logs=False)
    assert _pipeline.current() not in (None, first)
    record_spans(1)
    agentobs.shutdown()
    assert len(read_spans(tmp_path / "traces.jsonl")) == 1


# --- sampling ------------------------------------------------------------------------------


def test_sample_ratio_zero_records_no_spans() -> None:
    with agentobs.testing.capture(sample_ratio=0.0) as cap:
        record_spans(20)
        assert cap.spans == []


def test_sample_ratio_one_records_every_span() -> None:
    with agentobs.testing.capture(sample_ratio=1.0) as cap:
        record_spans(20)
        assert len(cap.spans) == 20


def test_always_off_sampler_from_env_records_no_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    with agentobs.testing.capture() as cap:
        record_spans(20)
        assert cap.spans == []


# --- system metrics ----------------------------------------------------------------------


def test_system_metrics_records_process_metrics() -> None:
    with agentobs.testing.capture(system_metrics=True) as cap:
        names = {point.name for point in cap.metric_points()}
    assert {"process.memory.usage", "process.thread.count", "process.cpu.time"} <= names
    assert all(not n.startswith("system.") for n in names)


def test_no_system_metrics_by_default() -> None:
    with agentobs.testing.capture() as cap:
        names = {point.name for point in cap.metric_points()}
    assert not any(n.startswith("process.") for n in names)


# --- import cost and no-ops before configure ----------------------------------------------


def run_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(("setting", "expected"), [(None, False), ("trace_based", True)])
def test_exemplars_are_off_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: bool
) -> None:
    if setting is not None:
        monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", setting)
    with agentobs.testing.capture() as cap:
        with agentobs.workflow("w"), agentobs.task("t"):
            pass
        data = cap.metric_reader.get_metrics_data()
    assert data is not None
    points = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "agentobs.task.duration"
        for point in metric.data.data_points
    ]
    assert points
    assert any(point.exemplars for point in points) is expected


def test_import_does_not_load_the_sdk() -> None:
    out = run_python(
        """
        import sys
        import agentobs
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")))
        """
    )
    assert out == "[]"


def test_import_loads_nothing_but_the_package_and_its_version() -> None:
    """``import agentobs`` defers every public name (PEP 562): the pipeline, its settings,
    the scrubber, the OpenTelemetry API and the LLM instrumentation load on first use of a
    name that needs them, and each name still resolves to the same object as before."""
    out = run_python(
        """
        import sys
        import agentobs
        print(sorted(m for m in sys.modules if m.startswith(("agentobs", "opentelemetry"))))
        from agentobs._export import pipeline
        print(agentobs.configure is pipeline.configure, agentobs.shutdown is pipeline.shutdown)
        """
    )
    assert out.splitlines() == ["['agentobs', 'agentobs._version']", "True True"]


def test_configure_loads_the_llm_instrumentation_only_when_a_call_needs_it() -> None:
    """A run with no LLM call (a test suite, say) does not pay for importing the LLM
    instrumentation (and wrapt) when configure() adds the interop span processor."""
    out = run_python(
        """
        import sys
        import agentobs
        from opentelemetry import trace
        agentobs.configure(exporter="none", logs=False)
        with trace.get_tracer("app").start_as_current_span("x"):
            pass
        agentobs.shutdown()
        llm = ("agentobs._llm.run", "agentobs._llm.accounting", "agentobs._llm.cost", "wrapt")
        print(sorted(m for m in sys.modules if m.startswith(llm)))
        """
    )
    assert out == "[]"


def test_calls_before_configure_are_no_ops() -> None:
    out = run_python(
        """
        import sys
        import agentobs
        from opentelemetry import trace
        results = [agentobs.force_flush(), agentobs.shutdown(), agentobs.shutdown()]
        with trace.get_tracer("app").start_as_current_span("x") as span:
            recording = span.is_recording()
        sdk = any(m.startswith("opentelemetry.sdk") for m in sys.modules)
        print(results, recording, sdk)
        """
    )
    assert out == "[True, True, True] False False"


def test_resolve_takes_configures_arguments_and_rejects_any_other_name() -> None:
    """resolve() takes configure()'s arguments by the table's names (configure() spells them
    out with their types, tests/test_settings_table.py keeps it equal to the table): a
    misspelt one fails as it would in a call to configure()."""
    from agentobs._settings import ARGUMENTS, resolve

    assert resolve(env={}, **dict.fromkeys(ARGUMENTS)).service_name == resolve(env={}).service_name
    assert resolve(env={}, service_name="named").service_name == "named"
    with pytest.raises(TypeError, match="exporters"):
        resolve(env={}, exporters="none")


WRONGLY_TYPED = {
    "prometheus_port": "abc",
    "max_queue_size": "10",
    "timeout": "5",
    "resource_attributes": "a=b",
    "exporter": 1,
    "endpoint": 4318,
    "headers": 1,
    "local_max_bytes": [],
    "metric_export_interval": "1",
    "sample_ratio": "0.5",
    "logs": "yes",
    "scrub_patterns": "secret",
    "local_dir": 3,
}


@pytest.mark.parametrize("argument", list(WRONGLY_TYPED))
def test_wrongly_typed_argument_is_a_value_error_naming_it(argument: str) -> None:
    value = WRONGLY_TYPED[argument]
    with pytest.raises(ValueError, match=rf"^agentobs\.configure\({argument}=.*: expected "):
        agentobs.configure(**{argument: value})
    assert _pipeline.current() is None  # nothing half-built


@pytest.mark.parametrize("call", ["force_flush", "shutdown"])
@pytest.mark.parametrize("timeout", [None, "5", -1.0, float("nan")])
def test_bad_flush_and_shutdown_timeouts_warn_and_lose_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, call: str, timeout: object
) -> None:
    agentobs.configure(service_name="t", local_dir=tmp_path / "out", metric_export_interval=3600)
    with agentobs.workflow("kept"):
        pass
    assert getattr(agentobs, call)(timeout) is True
    assert f"{call}(timeout=" in caplog.text
    if call == "force_flush":
        agentobs.shutdown()
    names = [s["name"] for s in read_spans(tmp_path / "out" / "traces.jsonl")]
    assert names == ["invoke_workflow kept"]
    assert "agentobs.workflow.runs" in (tmp_path / "out" / "metrics.jsonl").read_text()


RECONFIGURE = """
import logging, sys, threading
import agentobs

logging.basicConfig(level=logging.WARNING)
agentobs.configure(service_name="one", local_dir="r1", logs=False)
with agentobs.workflow("w"):
    pass
started, release = threading.Event(), threading.Event()

def long_run():
    with agentobs.workflow("across"):  # begun under "one", ends under "two"
        started.set()
        release.wait(10)

worker = threading.Thread(target=long_run)
worker.start()
started.wait(10)
agentobs.shutdown()
agentobs.configure(service_name="two", local_dir="r2", logs=False)
release.set()
worker.join(10)
with agentobs.workflow("w"):
    pass
agentobs.shutdown()
"""


def _resource_services(path: Path, key: str) -> set[str]:
    services = set()
    for line in path.read_text().splitlines():
        for block in json.loads(line)[key]:
            for attribute in block["resource"]["attributes"]:
                if attribute["key"] == "service.name":
                    services.add(attribute["value"]["stringValue"])
    return services


def test_shutdown_then_configure_gives_a_fresh_correct_pipeline(tmp_path: Path) -> None:
    """In a fresh process, without agentobs.testing.reset(): the second pipeline has its
    own metrics and resource, and the active-workflow gauge never goes negative."""
    result = subprocess.run(
        [sys.executable, "-c", RECONFIGURE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "can not provide" not in result.stderr
    assert "application's MeterProvider" not in result.stderr
    second = tmp_path / "r2"
    assert _resource_services(second / "traces.jsonl", "resourceSpans") == {"two"}
    assert _resource_services(second / "metrics.jsonl", "resourceMetrics") == {"two"}
    active = []
    for line in (second / "metrics.jsonl").read_text().splitlines():
        for block in json.loads(line)["resourceMetrics"]:
            for scope in block["scopeMetrics"]:
                for metric in scope["metrics"]:
                    if metric["name"] == "agentobs.workflow.active":
                        active += [int(p["asInt"]) for p in metric["sum"]["dataPoints"]]
    assert active
    assert min(active) >= 0
