"""Cost: the genai-prices table used offline, user prices, provider-reported cost, and the
unpriced signal (never a silent zero)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agentobs
import agentobs.testing
from agentobs._llm import cost as _cost
from agentobs._llm.usage import Usage
from agentobs.testing import Capture


def _models() -> list[tuple[str, str]]:
    from genai_prices.data import providers

    found = []
    for provider in providers:
        if provider.id in ("openai", "anthropic", "google", "mistral", "deepseek"):
            found += [(provider.id, model.id) for model in provider.models]
    return found


MODELS = _models()
REVERSE = {v: k for k, v in _cost.PROVIDER_IDS.items()}


@settings(max_examples=150, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    total_in=st.integers(0, 400_000),
    out=st.integers(0, 50_000),
    read=st.integers(0, 100_000),
    written=st.integers(0, 50_000),
)
def test_fast_path_agrees_with_genai_prices(
    model: tuple[str, str], total_in: int, out: int, read: int, written: int
) -> None:
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    provider_id, model_id = model
    read = min(read, total_in)
    written = min(written, total_in - read)
    rates = _cost.rates_from_table(REVERSE.get(provider_id, provider_id), model_id)
    if rates is None:
        return  # no token prices (e.g. an image model)
    ours = rates.cost(Usage(total_in, out, read or None, written or None))
    reference = calc_price(
        PriceUsage(
            input_tokens=total_in,
            output_tokens=out,
            **({"cache_read_tokens": read} if read else {}),
            **({"cache_write_tokens": written} if written else {}),
        ),
        model_id,
        provider_id=provider_id,
    )
    assert ours == pytest.approx(float(reference.total_price), rel=1e-9, abs=1e-12)


def _call(model: str, provider: str | None = "openai", usage: dict[str, Any] | None = None) -> None:
    @agentobs.llm(provider=provider, model=model)
    def call() -> Any:
        return {"model": model, "usage": usage or {"prompt_tokens": 1000, "completion_tokens": 500}}

    call()


def test_priced_call_carries_cost_and_its_source(cap: Capture) -> None:
    _call("gpt-4o")
    attrs = cap.span("chat gpt-4o").attributes
    assert attrs["agentobs.cost.usd"] == pytest.approx(1000 * 2.5e-6 + 500 * 10e-6)
    assert attrs["agentobs.cost.source"] == "genai-prices"
    assert "agentobs.cost.unpriced" not in attrs


def test_unpriced_model_is_marked_counted_and_warned_once(
    cap: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agentobs"):
        _call("my-local-llama")
        _call("my-local-llama")
    for span in cap.spans_named("chat my-local-llama"):
        assert span.attributes["agentobs.cost.unpriced"] is True
        assert "agentobs.cost.usd" not in span.attributes  # unknown, not zero
    warnings = [r for r in caplog.records if "no price is known" in r.getMessage()]
    assert len(warnings) == 1
    assert "configure(prices=" in warnings[0].getMessage()
    assert (
        cap.metric_value(
            "agentobs.cost.unpriced_calls", **{"gen_ai.request.model": "my-local-llama"}
        )
        == 2
    )
    tokens = {
        p.attributes["gen_ai.token.type"]: p.value
        for p in cap.metric_points("agentobs.cost.unpriced_tokens")
    }
    assert tokens == {"input": 2000, "output": 1000}
    assert not cap.metric_points("agentobs.cost")


def test_a_known_provider_never_borrows_another_providers_price(cap: Capture) -> None:
    _call("claude-haiku-4-5", provider="openai")  # self-hosted under an OpenAI-style API
    assert cap.span("chat claude-haiku-4-5").attributes["agentobs.cost.unpriced"] is True


def test_user_prices_override_the_table(clean_env: None) -> None:
    prices = {"gpt-4o": {"input": 1.0, "output": 2.0}, "openai/my-model": {"input": 3.0}}
    with agentobs.testing.capture(prices=prices) as cap:
        _call("gpt-4o")
        _call("my-model")
        gpt = cap.span("chat gpt-4o").attributes
        assert gpt["agentobs.cost.usd"] == pytest.approx(1000 * 1e-6 + 500 * 2e-6)
        assert gpt["agentobs.cost.source"] == "user"
        assert cap.span("chat my-model").attributes["agentobs.cost.usd"] == pytest.approx(3e-3)
        sources = {p.attributes["agentobs.cost.source"] for p in cap.metric_points("agentobs.cost")}
        assert sources == {"user"}


def test_user_prices_from_a_json_file(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"house-model": {"input": 10, "output": 10, "request": 0.01}}))
    monkeypatch.setenv("AGENTOBS_PRICES", str(path))
    with agentobs.testing.capture() as cap:
        _call("house-model")
        attrs = cap.span("chat house-model").attributes
        assert attrs["agentobs.cost.usd"] == pytest.approx(0.01 + 1500 * 10e-6)


def test_bad_prices(clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"prices=.*unknown keys"):
        agentobs.configure(exporter="none", prices={"m": {"inptu": 1.0}})
    with pytest.raises(ValueError, match=r"prices=.*not a number"):
        agentobs.configure(exporter="none", prices={"m": {"input": -1}})
    (tmp_path / "bad.json").write_text("{not json")
    monkeypatch.setenv("AGENTOBS_PRICES", str(tmp_path / "bad.json"))
    from agentobs._settings import resolve

    assert resolve().prices == {}  # a bad environment value warns and uses the default


def test_provider_reported_cost_wins(cap: Capture) -> None:
    _call("gpt-4o", usage={"prompt_tokens": 10, "completion_tokens": 1, "cost": 0.123})
    attrs = cap.span("chat gpt-4o").attributes
    assert (attrs["agentobs.cost.usd"], attrs["agentobs.cost.source"]) == (0.123, "provider")


def test_cache_reads_are_priced_as_cache_reads(cap: Capture) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 1000},
    }
    _call("gpt-4o", usage=usage)
    assert cap.span("chat gpt-4o").attributes["agentobs.cost.usd"] == pytest.approx(1000 * 1.25e-6)


def test_nothing_is_fetched_at_run_time(tmp_path: Path) -> None:
    """With every socket connection refused from the start, prices still load and apply."""
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise AssertionError("network used: %r" % (args,))
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        import agentobs, agentobs.testing
        with agentobs.testing.capture() as cap:
            @agentobs.llm(provider="anthropic", model="claude-haiku-4-5")
            def call():
                return {"usage": {"input_tokens": 100, "output_tokens": 10}}
            call()
            attrs = cap.span("chat claude-haiku-4-5").attributes
            assert attrs["agentobs.cost.source"] == "genai-prices", dict(attrs)
            print(attrs["agentobs.cost.usd"])
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(100 * 1e-6 + 10 * 5e-6)


def test_table_version_is_known() -> None:
    assert _cost.table_version()


@pytest.mark.parametrize(
    ("settle", "after"),
    [
        ("agentobs.shutdown(60)", ""),  # shutdown settles the pending costs first
        ("agentobs.force_flush(60)", "agentobs.shutdown()"),  # and so does a flush
    ],
    ids=["shutdown", "force_flush"],
)
def test_no_call_waits_for_the_price_table(tmp_path: Path, settle: str, after: str) -> None:
    """With genai-prices taking 3 s to import, the first LLM call does not wait for it: its
    span says the cost is pending (never zero), and the cost is recorded once the table has
    loaded (issue 9, item 5); ``shutdown()`` and ``force_flush()`` right after the call wait
    for it (within their timeout), so the cost and the budget's dollars are not lost."""
    script = (
        textwrap.dedent(
            """
        import importlib.abc, importlib.machinery, json, sys, time
        from pathlib import Path

        class Slow(importlib.abc.MetaPathFinder):  # a slow disk, a loaded machine
            def find_spec(self, name, path, target=None):
                if name != "genai_prices":
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                real = spec.loader.exec_module
                def exec_module(module):
                    time.sleep(3)
                    real(module)
                spec.loader.exec_module = exec_module
                return spec

        sys.meta_path.insert(0, Slow())
        import agentobs
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from agentobs._llm import cost

        agentobs.configure(service_name="prices", local_dir="out")
        spans = InMemorySpanExporter()
        trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
        budget = agentobs.TokenBudget("b", usd=0.0001)

        @agentobs.llm(provider="anthropic", model="claude-haiku-4-5")
        def call():
            return {"usage": {"input_tokens": 100, "output_tokens": 10}}

        start = time.perf_counter()
        with budget:
            call()
        took = time.perf_counter() - start
        attrs = dict(spans.get_finished_spans()[0].attributes)
        SETTLE
        usd = [
            point["asDouble"]
            for line in Path("out/metrics.jsonl").read_text().splitlines()
            for resource in json.loads(line)["resourceMetrics"]
            for scope in resource["scopeMetrics"]
            for metric in scope["metrics"]
            if metric["name"] == "agentobs.cost"
            for point in metric["sum"]["dataPoints"]
        ]
        print(json.dumps({"took": took, "attrs": attrs, "usd": usd, "used": budget.used_usd}))
        AFTER
        """
        )
        .replace("SETTLE", settle)
        .replace("AFTER", after)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTOBS_"))}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["took"] < 1.5, found  # not the 3 s import
    assert found["attrs"]["agentobs.cost.pending"] is True
    assert "agentobs.cost.usd" not in found["attrs"]
    assert "agentobs.cost.unpriced" not in found["attrs"]
    expected = 100 * 1e-6 + 10 * 5e-6
    assert found["usd"]
    assert found["usd"][-1] == pytest.approx(expected)
    assert found["used"] == pytest.approx(expected)
    # the report prices the pending call from the same table, not as unknown
    from agentobs._localdata import read_directory
    from agentobs.cli._summary import summarize

    llm = summarize(read_directory(tmp_path / "out")).llm
    assert llm is not None
    assert llm.cost_usd == pytest.approx(expected)
    assert llm.unpriced == 0
