"""The ``agentobs`` command: version, doctor, and the delegation to report and demo."""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentobs
import agentobs.testing
from agentobs._export import pipeline as _pipeline
from agentobs.cli import main
from agentobs.cli.doctor import mask_env

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class OtlpHttpStub(http.server.ThreadingHTTPServer):
    """Answers every POST with ``status``; remembers the paths and headers it saw."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str]]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                stub.requests.append((self.path, dict(self.headers.items())))
                self.send_response(stub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def otlp_stub() -> Iterator[OtlpHttpStub]:
    stub = OtlpHttpStub(200)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    yield stub
    stub.shutdown()
    stub.server_close()


def doctor_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = main(["doctor", "--json", *args])
    return status, json.loads(capsys.readouterr().out)


# --- version and help ----------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"agentobs {agentobs.__version__}"
    assert f"opentelemetry-sdk {version('opentelemetry-sdk')}" in lines


def test_version_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["agentobs"] == agentobs.__version__
    assert found["opentelemetry-sdk"][0].isdigit()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("version", "doctor", "report", "demo"):
        assert command in out


def test_python_dash_m_and_fast_help() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    version = subprocess.run(
        [sys.executable, "-m", "agentobs", "version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    assert version.stdout.startswith(f"agentobs {agentobs.__version__}\n")
    code = (
        "import sys\n"
        "from agentobs.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
        "prefixes = ('opentelemetry.sdk', 'agentobs.cli.')\n"
        "print(sorted(m for m in sys.modules if m.startswith(prefixes)))\n"
    )
    helped = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert helped.returncode == 0, helped.stderr
    assert "doctor" in helped.stdout
    assert helped.stdout.splitlines()[-2:] == ["exit 0", "[]"]


# --- report and demo are delegated, lazily and guarded -----------------------------------


@pytest.mark.parametrize("command", ["report", "demo"])
def test_delegates_to_the_subcommand_module(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    seen: list[argparse.Namespace] = []

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flag", action="store_true")

    def run(args: argparse.Namespace) -> int:
        seen.append(args)
        return 7

    fake = types.ModuleType(f"agentobs.cli.{command}")
    fake.add_arguments = add_arguments  # type: ignore[attr-defined]
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"agentobs.cli.{command}", fake)
    assert main([command, "--flag"]) == 7
    assert seen[0].flag is True


@pytest.mark.parametrize("command", ["report", "demo"])
def test_missing_subcommand_module_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setitem(sys.modules, f"agentobs.cli.{command}", None)  # import fails
    assert main([command]) == 2
    assert f"agentobs {command} is not available" in capsys.readouterr().err
    assert main(["version"]) == 0  # the other commands still work


# --- doctor --------------------------------------------------------------------------------


def test_doctor_defaults_are_fine_and_every_setting_is_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dataclasses import fields

    from agentobs._settings import Settings

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for f in fields(Settings):
        if f.name not in ("sources", "otlp", "exporters"):
            assert f"\n  {f.name} " in out
    for signal in ("traces", "metrics", "logs"):
        assert f"exporters.{signal}" in out
        assert f"otlp.{signal}.endpoint" in out
    assert "local directory" in out
    assert "All checks passed." in out


def test_doctor_does_not_configure_the_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    from opentelemetry import trace

    main(["doctor"])
    capsys.readouterr()
    assert _pipeline.current() is None
    assert not trace.get_tracer_provider().__class__.__module__.startswith("opentelemetry.sdk")


def test_doctor_names_the_source_of_each_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "fleet")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    status, report = doctor_json(capsys)
    assert status == 0
    settings = report["settings"]
    assert settings["service_name"] == {"value": "fleet", "source": "env OTEL_SERVICE_NAME"}
    assert settings["exporters.traces"] == {
        "value": ["console"],
        "source": "env OTEL_TRACES_EXPORTER",
    }
    assert settings["local_dir"]["source"] == "default"
    assert report["environment"]["OTEL_SERVICE_NAME"] == "fleet"


def test_doctor_bad_env_endpoint_fails_and_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector 4318")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  agentobs: ignoring OTEL_EXPORTER_OTLP_ENDPOINT='collector 4318'" in out
    # Already warned once in this process: doctor still reports it.
    assert main(["doctor"]) == 1


def test_doctor_dead_endpoint_fails_and_says_which(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    status, report = doctor_json(capsys)
    assert status == 1
    assert report["ok"] is False
    (check,) = report["checks"]
    assert check["ok"] is False
    assert check["name"] == "otlp traces,metrics,logs (http/protobuf)"
    assert f"cannot connect to 127.0.0.1:{port}" in check["detail"]
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  otlp traces,metrics,logs (http/protobuf): http://127.0.0.1:{port}:" in out


def test_doctor_dead_grpc_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    status, report = doctor_json(capsys)
    assert status == 1
    assert report["checks"][0]["target"] == f"http://127.0.0.1:{port}"


def test_doctor_live_http_endpoint_gets_an_export_request_with_headers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], otlp_stub: OtlpHttpStub
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_stub.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=sk-secret-1")
    status, report = doctor_json(capsys)
    assert status == 0, report["checks"]
    (check,) = report["checks"]
    assert check["detail"] == "HTTP 200 OK (/v1/traces, /v1/metrics, /v1/logs)"
    paths = sorted(path for path, _headers in otlp_stub.requests)
    assert paths == ["/v1/logs", "/v1/metrics", "/v1/traces"]
    headers = {k.lower(): v for k, v in otlp_stub.requests[0][1].items()}
    assert headers["x-api-key"] == "sk-secret-1"
    assert headers["content-type"] == "application/x-protobuf"
    assert "sk-secret-1" not in json.dumps(report)


def test_doctor_http_error_status_fails_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], otlp_stub: OtlpHttpStub
) -> None:
    otlp_stub.status = 401
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_stub.url}/v1/traces")
    status, report = doctor_json(capsys)
    assert status == 1
    otlp = [c for c in report["checks"] if c["name"].startswith("otlp")]
    assert len(otlp) == 1
    assert "HTTP 401" in otlp[0]["detail"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in otlp[0]["detail"]


def test_doctor_live_grpc_endpoint_accepts_tcp(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        status, report = doctor_json(capsys)
    assert status == 0, report
    assert "accepted" in report["checks"][0]["detail"]


def test_doctor_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20tok-123,x-org=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "Authorization Bearer tok-456")
    assert main(["doctor", "--timeout", "0.2"]) == 1  # the malformed logs headers
    out = capsys.readouterr().out
    assert "tok-123" not in out
    assert "tok-456" not in out
    assert "OTEL_EXPORTER_OTLP_HEADERS=authorization=***,x-org=***" in out
    assert "OTEL_EXPORTER_OTLP_LOGS_HEADERS" in out


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2", "a=***,b=***"),
        ("LANGFUSE_SECRET_KEY", "sk-lf", "***"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://user:pw@host:4318", "https://user:***@host:4318"),
        ("OTEL_SERVICE_NAME", "fleet", "fleet"),
    ],
)
def test_mask_env(name: str, value: str, shown: str) -> None:
    assert mask_env(name, value) == shown


def test_doctor_unwritable_local_directory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(blocker / "telemetry"))
    status, report = doctor_json(capsys)
    assert status == 1
    (check,) = report["checks"]
    assert check["name"] == "local directory"
    assert check["detail"] == f"{blocker} is not a directory"
    assert not (blocker / "telemetry").exists()


def test_doctor_local_directory_that_cannot_be_created(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc is writable by permission bits for root, yet nothing can be created in it."""
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", "/proc/agentobs-forbidden/telemetry")
    status, report = doctor_json(capsys)
    assert status == 1
    (check,) = report["checks"]
    assert check["ok"] is False
    assert check["detail"].startswith("cannot create it: ")
    assert not Path("/proc/agentobs-forbidden").exists()


def test_doctor_local_directory_to_create_is_tried_and_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(tmp_path / "a" / "b"))
    status, report = doctor_json(capsys)
    assert status == 0
    assert report["checks"][0]["detail"] == f"will be created under {tmp_path}"
    assert list(tmp_path.iterdir()) == []


def test_doctor_invalid_port_is_off_as_documented(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTOBS_PROMETHEUS_PORT", "abc")
    assert main(["doctor"]) == 1
    text = capsys.readouterr().out
    assert re.search(r"^  prometheus_port +off +default$", text, re.MULTILINE), text
    assert "default -1" not in text
    assert "AGENTOBS_PROMETHEUS_PORT='abc': expected a whole number; using the default (off" in text


def test_doctor_environment_lists_variables_the_sdk_reads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=agents")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "500")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/key.pem")
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    environment = text.split("Environment (OTEL_*, AGENTOBS_*)", 1)[1].split("\n\n", 1)[0]
    assert "OTEL_RESOURCE_ATTRIBUTES=team=agents  -> resource attributes (read by" in environment
    assert "OTEL_BSP_SCHEDULE_DELAY=500  -> the span batch processor (read by" in environment
    assert "OTEL_EXPORTER_OTLP_CLIENT_KEY=***  -> the OTLP exporters (read by" in environment
    assert "unused" not in environment


def test_doctor_existing_local_directory_is_writable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOBS_LOCAL_DIR", str(tmp_path))
    status, report = doctor_json(capsys)
    assert status == 0
    assert report["checks"][0]["detail"] == "writable"
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_doctor_prometheus_port_in_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("AGENTOBS_PROMETHEUS_PORT", str(port))
        status, report = doctor_json(capsys)
    assert status == 1
    prometheus = [c for c in report["checks"] if c["name"] == "prometheus /metrics"]
    assert prometheus[0]["ok"] is False
    assert prometheus[0]["target"] == f"127.0.0.1:{port}"
    monkeypatch.setenv("AGENTOBS_PROMETHEUS_PORT", str(port))  # released now
    status, report = doctor_json(capsys)
    assert status == 0, report["checks"]


def test_output_cut_short_by_the_reader_is_not_an_error(tmp_path: Path) -> None:
    """`agentobs report | head -1`: no BrokenPipeError traceback, exit status 0."""
    from tests.test_report import write_sample_telemetry

    write_sample_telemetry(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-m", "agentobs", "report", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()  # the reader is gone before the first line is written
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr
