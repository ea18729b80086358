"""The configuration table (``_settings.ROWS``) is the one list of settings: configure()'s
arguments, docs/configuration.md and ``agentobs doctor`` agree with it, and its ``OTEL_*``
names are the OpenTelemetry SDK's."""

from __future__ import annotations

import fnmatch
import inspect
import os
import re
from pathlib import Path

import pytest

import agentobs
from agentobs._settings import ARGUMENTS, ROWS, resolve
from agentobs.cli import doctor

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
NOT_THE_SDKS = {
    # The OTEL_* variable agentobs reads that OpenTelemetry Python names nowhere (it is the
    # GenAI instrumentations' convention).
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
}


def _doc_table() -> list[tuple[set[str], list[str], str]]:
    """(arguments, environment patterns, the whole line) of each row of the Settings table."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith(("| Argument", "|---")):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        arguments = set(re.findall(r"`([a-z_]+)`", cells[0]))
        patterns = []
        for name in re.findall(r"`([A-Z][A-Z0-9_{},*]+)`", cells[1]):
            if "{" in name:  # OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT
                head, choices, tail = re.split(r"[{}]", name)
                patterns += [f"{head}{choice}{tail}" for choice in choices.split(",")]
            else:
                patterns.append(name)
        rows.append((arguments, patterns, line))
    return rows


def _documented(env_name: str, table: list[tuple[set[str], list[str], str]]) -> bool:
    generic = re.sub(r"^OTEL_EXPORTER_OTLP_(TRACES|METRICS|LOGS)_", "OTEL_EXPORTER_OTLP_", env_name)
    for _arguments, patterns, line in table:
        if any(fnmatch.fnmatchcase(env_name, p) for p in patterns):
            return True
        if generic in patterns and "(and per signal)" in line:
            return True
    return False


def test_configure_takes_exactly_the_arguments_of_the_table() -> None:
    """(In the documented order of configure(); the table is in the order it resolves.)"""
    assert set(inspect.signature(agentobs.configure).parameters) == set(ARGUMENTS)


def test_every_row_is_documented_and_every_documented_setting_is_a_row() -> None:
    table = _doc_table()
    documented_arguments = set().union(*(arguments for arguments, _p, _l in table))
    assert documented_arguments == set(ARGUMENTS)
    variables = {name for row in ROWS for name in row.env}
    missing = sorted(name for name in variables if not _documented(name, table))
    assert not missing, f"not in docs/configuration.md: {missing}"
    for _arguments, patterns, line in table:
        for pattern in patterns:
            read = any(fnmatch.fnmatchcase(name, pattern) for name in variables)
            assert read or doctor.sdk_reader(pattern), (pattern, line)
    assert all(row.doc for row in ROWS), [row.name for row in ROWS if not row.doc]


def test_otel_variables_are_the_sdks_names() -> None:
    import opentelemetry.environment_variables as api_env
    import opentelemetry.sdk.environment_variables as sdk_env

    sdk_names = {
        value
        for module in (api_env, sdk_env)
        for name, value in vars(module).items()
        if name.startswith("OTEL_")
    }
    ours = {name for row in ROWS for name in row.env if name.startswith("OTEL_")}
    assert ours - sdk_names == NOT_THE_SDKS


def test_doctor_shows_a_line_for_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENTOBS_", "LANGFUSE_")):
            monkeypatch.delenv(name)
    keys = set(doctor.diagnose(timeout=0.01).settings)
    for row in ROWS:
        key = row.name
        if key in ("endpoint", "protocol", "sampler_arg") or key.startswith("limits."):
            key = {"endpoint": "otlp.traces.endpoint", "protocol": "otlp.traces.protocol"}.get(
                key, "limits" if key.startswith("limits.") else key
            )
        elif "." in key and key.split(".")[0] in ("traces", "metrics", "logs"):
            signal, part = key.split(".")
            key = f"exporters.{signal}" if part == "exporter" else f"otlp.{signal}.{part}"
        assert key in keys, (row.name, sorted(keys))


def test_doctor_masks_the_secret_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOBS_RESUME_SECRET", "a-resume-key-of-32-characters-xx")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=hunter2-not-shown")
    settings = doctor.flatten(resolve())
    assert settings["resume_secret"][0] == "***"
    assert settings["otlp.traces.headers"][0] == {"x-api-key": "***"}
    assert {row.name for row in ROWS if row.secret} >= {"resume_secret", "traces.headers"}


@pytest.mark.usefixtures("fresh_agentobs")
def test_a_rejected_secret_is_not_echoed(caplog: pytest.LogCaptureFixture) -> None:
    resolve(env={"AGENTOBS_RESUME_SECRET": "short-s3cret", "OTEL_EXPORTER_OTLP_HEADERS": "k"})
    warnings = [r.getMessage() for r in caplog.records if r.name == "agentobs"]
    assert any("AGENTOBS_RESUME_SECRET=<hidden>" in w for w in warnings), warnings
    assert any("OTEL_EXPORTER_OTLP_HEADERS=<hidden>" in w for w in warnings), warnings
    assert not any("short-s3cret" in w for w in warnings)
