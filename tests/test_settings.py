"""The configuration table: argument > environment > default, validation, sources."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import agentobs.testing
from agentobs._settings import resolve

pytestmark = pytest.mark.usefixtures("fresh_agentobs")


def agentobs_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "agentobs" and r.levelno == logging.WARNING
    ]


# --- resolution order -----------------------------------------------------------------


def test_argument_beats_env_beats_default() -> None:
    env = {"OTEL_SERVICE_NAME": "from-env"}
    assert resolve(service_name="from-arg", env=env).service_name == "from-arg"
    assert resolve(env=env).service_name == "from-env"
    assert resolve(env={}).service_name == "unknown_service:python"


def test_sources_name_where_each_value_came_from() -> None:
    env = {"OTEL_SERVICE_NAME": "svc", "OTEL_BSP_MAX_QUEUE_SIZE": "64"}
    settings = resolve(environment="prod", env=env)
    assert settings.sources["environment"] == "argument"
    assert settings.sources["service_name"] == "env OTEL_SERVICE_NAME"
    assert settings.sources["max_queue_size"] == "env OTEL_BSP_MAX_QUEUE_SIZE"
    assert settings.max_queue_size == 64
    assert settings.sources["local_dir"] == "default"
    assert settings.sources["sampler"] == "default"


def test_resource_service_name_is_the_default_service_name() -> None:
    settings = resolve(resource_attributes={"service.name": "from-resource"}, env={})
    assert settings.service_name == "from-resource"
    assert settings.sources["service_name"] == "default"


def test_no_endpoint_means_local_default_everywhere() -> None:
    settings = resolve(env={})
    assert dict(settings.exporters) == {
        "traces": ("local",),
        "metrics": ("local",),
        "logs": ("local",),
    }
    assert settings.local_dir == Path(".agentobs")


def test_env_base_endpoint_gets_signal_path_for_http() -> None:
    settings = resolve(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert settings.exporters["traces"] == ("otlp",)
    assert settings.otlp["traces"].endpoint == "http://collector:4318/v1/traces"
    assert settings.otlp["metrics"].endpoint == "http://collector:4318/v1/metrics"
    assert settings.otlp["logs"].endpoint == "http://collector:4318/v1/logs"
    assert settings.sources["endpoint"] == "env OTEL_EXPORTER_OTLP_ENDPOINT"


def test_grpc_base_endpoint_is_used_as_it_is() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    settings = resolve(env=env)
    for signal in ("traces", "metrics", "logs"):
        assert settings.otlp[signal].endpoint == "http://collector:4317"
        assert settings.otlp[signal].protocol == "grpc"


def test_per_signal_env_endpoint_is_used_verbatim_and_beats_base() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/custom/path",
    }
    settings = resolve(env=env)
    assert settings.otlp["traces"].endpoint == "http://tempo:4318/custom/path"
    assert settings.sources["traces.endpoint"] == "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    assert settings.otlp["metrics"].endpoint == "http://base:4318/v1/metrics"


def test_per_signal_env_endpoint_alone_turns_on_otlp_for_that_signal_only() -> None:
    settings = resolve(env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces"})
    assert settings.exporters["traces"] == ("otlp",)
    assert settings.exporters["metrics"] == ("local",)


def test_endpoint_argument_beats_every_env_endpoint() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces",
    }
    settings = resolve(endpoint="http://arg:4318", env=env)
    assert settings.otlp["traces"].endpoint == "http://arg:4318/v1/traces"
    assert settings.sources["endpoint"] == "argument"


def test_protocol_argument_beats_env() -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}
    settings = resolve(protocol="http/protobuf", env=env)
    assert settings.otlp["logs"].protocol == "http/protobuf"
    assert settings.otlp["logs"].endpoint == "http://c:4317/v1/logs"


def test_per_signal_exporter_env() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console,local", "OTEL_METRICS_EXPORTER": "none"}
    settings = resolve(env=env)
    assert settings.exporters["traces"] == ("console", "local")
    assert settings.exporters["metrics"] == ()
    assert settings.exporters["logs"] == ("local",)
    assert settings.sources["traces.exporter"] == "env OTEL_TRACES_EXPORTER"


def test_exporter_argument_beats_env() -> None:
    settings = resolve(exporter="none", env={"OTEL_TRACES_EXPORTER": "console"})
    assert settings.exporters["traces"] == ()


def test_headers_are_parsed_and_percent_decoded() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc, X-Org = acme ,"}
    settings = resolve(env=env)
    assert dict(settings.otlp["traces"].headers) == {
        "authorization": "Bearer abc",
        "x-org": "acme",
    }
    assert settings.sources["traces.headers"] == "env OTEL_EXPORTER_OTLP_HEADERS"


def test_per_signal_headers_beat_the_general_ones() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "a=general",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "a=logs",
    }
    settings = resolve(env=env)
    assert dict(settings.otlp["logs"].headers) == {"a": "logs"}
    assert dict(settings.otlp["traces"].headers) == {"a": "general"}


def test_headers_argument_beats_env() -> None:
    settings = resolve(headers={"k": "v"}, env={"OTEL_EXPORTER_OTLP_HEADERS": "a=b"})
    assert dict(settings.otlp["metrics"].headers) == {"k": "v"}


def test_timeout_env_is_milliseconds_argument_is_seconds() -> None:
    env = {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}
    assert resolve(env=env).otlp["traces"].timeout == pytest.approx(2.5)
    assert resolve(timeout=0.25, env=env).otlp["traces"].timeout == pytest.approx(0.25)
    assert resolve(env={}).otlp["traces"].timeout == pytest.approx(10.0)


def test_insecure_follows_the_scheme_by_default() -> None:
    plain = resolve(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    tls = resolve(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4317"})
    assert plain.otlp["traces"].insecure is True
    assert tls.otlp["traces"].insecure is False


def test_sample_ratio_argument_sets_parent_based_ratio() -> None:
    settings = resolve(sample_ratio=0.25, env={"OTEL_TRACES_SAMPLER": "always_on"})
    assert settings.sampler == "parentbased_traceidratio"
    assert settings.sampler_arg == 0.25
    assert settings.sources["sampler"] == "argument"


def test_sampler_env() -> None:
    env = {"OTEL_TRACES_SAMPLER": "TraceIdRatio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    settings = resolve(env=env)
    assert (settings.sampler, settings.sampler_arg) == ("traceidratio", 0.1)


def test_exemplar_filter_is_off_unless_the_standard_variable_asks() -> None:
    assert resolve(env={}).exemplar_filter == "always_off"
    env = {"OTEL_METRICS_EXEMPLAR_FILTER": "Trace_Based"}
    assert resolve(env=env).exemplar_filter == "trace_based"


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", 9464), ("9000", 9000), ("false", None), ("0", 0)]
)
def test_prometheus_port_env(raw: str, expected: int | None) -> None:
    assert resolve(env={"AGENTOBS_PROMETHEUS_PORT": raw}).prometheus_port == expected


def test_prometheus_port_true_means_the_default_port() -> None:
    assert resolve(prometheus_port=True, env={}).prometheus_port == 9464
    assert (
        resolve(prometheus_port=False, env={"AGENTOBS_PROMETHEUS_PORT": "9000"}).prometheus_port
        is None
    )


def test_log_level_by_name_or_number() -> None:
    assert resolve(log_level="warning", env={}).log_level == logging.WARNING
    assert resolve(log_level=logging.ERROR, env={}).log_level == logging.ERROR
    assert resolve(env={"AGENTOBS_LOG_LEVEL": "DEBUG"}).log_level == logging.DEBUG


# --- bad explicit arguments raise, naming the argument and what is accepted ---------------


@pytest.mark.parametrize(
    ("kwargs", "names", "accepted"),
    [
        ({"endpoint": "not a url"}, "endpoint=", "http://127.0.0.1:4318"),
        ({"endpoint": "ftp://collector:21"}, "endpoint=", "scheme http or https"),
        ({"endpoint": "http://collector:99999"}, "endpoint=", "http://127.0.0.1:4318"),
        ({"protocol": "udp"}, "protocol=", "'grpc'"),
        ({"exporter": "jaeger"}, "exporter=", "otlp, console, local, none"),
        ({"exporter": ["local", "zipkin"]}, "exporter=", "otlp, console, local, none"),
        ({"timeout": -1}, "timeout=", "between 0 and 3600"),
        ({"sample_ratio": 1.5}, "sample_ratio=", "between 0.0 and 1.0"),
        ({"sample_ratio": -0.1}, "sample_ratio=", "between 0.0 and 1.0"),
        ({"log_level": "LOUD"}, "log_level=", "INFO"),
        ({"compression": "brotli"}, "compression=", "'gzip'"),
        ({"max_queue_size": 0}, "max_queue_size=", "> 0"),
        ({"prometheus_port": 70000}, "prometheus_port=", "between 0 and 65535"),
        ({"metric_export_interval": 0}, "metric_export_interval=", "> 0"),
    ],
)
def test_bad_argument_raises_value_error_naming_it(
    kwargs: dict[str, object], names: str, accepted: str
) -> None:
    with pytest.raises(ValueError, match=r"agentobs\.configure") as info:
        resolve(env={}, **kwargs)  # type: ignore[arg-type]
    assert names in str(info.value)
    assert accepted in str(info.value)


def test_bad_argument_raises_from_configure_too() -> None:
    with pytest.raises(ValueError, match=r"protocol='udp'.*expected one of"):
        agentobs.configure(protocol="udp")
    assert agentobs._export.pipeline.current() is None


# --- malformed environment values warn once and use the default --------------------------


@pytest.mark.parametrize(
    ("name", "raw", "attribute", "default"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "exporters", {"traces": ("local",)}),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp", "protocol", "http/protobuf"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots", "max_queue_size", 8192),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-5", "max_queue_size", 8192),
        ("OTEL_TRACES_SAMPLER", "sometimes", "sampler", "parentbased_always_on"),
        ("OTEL_TRACES_SAMPLER_ARG", "2", "sampler_arg", 1.0),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon", "metric_export_interval", 60.0),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes", "exemplar_filter", "always_off"),
        ("OTEL_TRACES_EXPORTER", "jaeger", "exporters", {"traces": ("local",)}),
        ("AGENTOBS_LOGS", "maybe", "logs", True),
        ("AGENTOBS_LOG_LEVEL", "LOUD", "log_level", logging.INFO),
        ("AGENTOBS_PROMETHEUS_PORT", "http", "prometheus_port", None),
        # Read once per signal, still warned about once.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "fast", "timeout", 10.0),
        ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign", "headers", {}),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "compression", "none"),
    ],
)
def test_malformed_env_value_warns_once_and_uses_default(
    caplog: pytest.LogCaptureFixture, name: str, raw: str, attribute: str, default: object
) -> None:
    settings = resolve(env={name: raw})
    if attribute == "exporters":
        value: object = {"traces": settings.exporters["traces"]}
    elif attribute in ("protocol", "timeout", "headers", "compression"):
        target = settings.otlp["traces"]
        value = dict(target.headers) if attribute == "headers" else getattr(target, attribute)
    else:
        value = getattr(settings, attribute)
    assert value == default
    warnings = agentobs_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert name in warnings[0]
    assert "expected" in warnings[0]


def test_malformed_env_value_is_warned_about_once_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolve(env={"OTEL_BSP_MAX_QUEUE_SIZE": "lots"})
    resolve(env={"OTEL_BSP_MAX_QUEUE_SIZE": "lots"})
    assert len(agentobs_warnings(caplog)) == 1


def test_warning_about_bad_headers_does_not_echo_the_credential(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolve(env={"OTEL_EXPORTER_OTLP_HEADERS": "Authorization Bearer sk-secret-123"})
    (warning,) = agentobs_warnings(caplog)
    assert "OTEL_EXPORTER_OTLP_HEADERS" in warning
    assert "sk-secret-123" not in warning


def test_bad_env_value_never_raises_from_configure(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    agentobs.configure(exporter="none", local_dir=tmp_path)
    pipeline = agentobs._export.pipeline.current()
    assert pipeline is not None
    assert pipeline.settings.otlp["traces"].protocol == "http/protobuf"
    assert len(agentobs_warnings(caplog)) == 1
