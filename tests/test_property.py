"""Property: whatever a caller passes to the public API, no exception escapes, the call's own
work still happens (functions run, blocks execute, results come back), and the valid data given
in the same call is still recorded.

Internal errors are swallowed here as they are for users (``RAISE_INTERNAL_ERRORS`` off), and
the test also checks that none was logged: bad input must be coerced or dropped on purpose,
never survive by accident through the internal-error net.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentobs
from agentobs import _errors, testing


class Hostile:
    """An object whose every conversion raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __bool__(self) -> bool:
        raise RuntimeError("no bool")

    def __float__(self) -> float:
        raise RuntimeError("no float")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class WeirdStr(str):
    """A str subclass whose conversions raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class BadNumber(float):
    def __float__(self) -> float:
        raise RuntimeError("no float")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
    st.binary(),
    st.integers(0, 300_000).map(lambda n: "x" * n),  # huge strings
    st.sampled_from(["", " ", "has spaces", "ünïcødé ✓", "\x00\n\t", "🤖" * 300]),
    st.builds(Hostile),
    st.builds(WeirdStr, st.text(max_size=5)),
    st.builds(BadNumber, st.floats(allow_nan=False)),
    st.builds(object),
    st.integers(0, 3000).map(_nested),  # deep nesting
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.sets(st.integers(), max_size=3),
    ),
    max_leaves=8,
)
# Keyword names of the API itself are left out: passing one twice is the caller's TypeError.
_RESERVED = {"agent", "task_type", "chatmode", "budget", "provider", "tool_type", "threshold"}
keys = st.one_of(
    st.text(max_size=30), st.sampled_from(["", "a b", "gen_ai.agent.name", "ü", "kept"])
).filter(lambda key: key not in _RESERVED and key not in ("kept", "approver", "agentobs.test.ok"))
attributes = st.dictionaries(keys, anything, max_size=4)


@pytest.fixture(scope="module")
def cap() -> Iterator[testing.Capture]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_errors, "RAISE_INTERNAL_ERRORS", False)
        with testing.capture() as capture:
            yield capture


@pytest.fixture
def internal_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Messages of internal errors logged during the test (there must be none)."""
    with caplog.at_level(logging.WARNING, logger="agentobs"):
        yield [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    found = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    assert not found, found


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(name=anything, attrs=attributes, value=anything)
def test_scopes_take_anything(
    cap: testing.Capture, internal_errors: list[str], name: Any, attrs: dict[str, Any], value: Any
) -> None:
    cap.clear()
    good = {"agentobs.test.ok": "yes"}
    ran: list[str] = []

    @agentobs.task(name, agent=value, task_type=value, **attrs, **good)
    def work(x: int) -> int:
        ran.append("task")
        return x + 1

    assert work(1) == 2
    with (
        agentobs.workflow(name, **attrs, **good),
        agentobs.persona(name, chatmode=value, **attrs),
        agentobs.stage(name, **attrs) as stage,
        agentobs.agent(name, provider=value),
    ):
        stage.set_attributes(**attrs, **good)
        stage.event(name, **attrs, **good)
        with agentobs.tool(name, tool_type=value, **attrs):
            ran.append("tool")
    assert ran == ["task", "tool"]
    names = [s.name for s in cap.spans]
    assert len(names) == 6, names
    assert all(isinstance(s.name, str) and 0 < len(s.name) <= 300 for s in cap.spans)
    for span in cap.spans:
        if span.name.startswith(("task", "invoke_workflow", "stage")):
            assert span.attributes.get("agentobs.test.ok") == "yes", span.name


@SETTINGS
@given(
    name=anything,
    passed=anything,
    score=anything,
    threshold=anything,
    reason=anything,
    attrs=attributes,
)
def test_gates_take_anything(
    cap: testing.Capture,
    internal_errors: list[str],
    name: Any,
    passed: Any,
    score: Any,
    threshold: Any,
    reason: Any,
    attrs: dict[str, Any],
) -> None:
    cap.clear()
    before = cap.metric_value("agentobs.gate.checks")
    with agentobs.quality_gate(name, threshold=threshold, **attrs) as gate:
        gate.score(score)
        gate.failed(reason)
    agentobs.record_gate(name, passed, score=score, reason=reason)
    agentobs.record_gate("valid", True, score=0.5)

    @agentobs.quality_gate(name, threshold=threshold)
    def check() -> Any:
        return passed

    assert check() is passed
    assert cap.metric_value("agentobs.gate.checks") == before + 4  # every check counted
    spans = cap.spans
    assert len(spans) == 4
    for span in spans:
        assert span.attributes["agentobs.gate.result"] in ("pass", "fail")
        [event] = [e for e in span.events if e.name == "gen_ai.evaluation.result"]
        assert event.attributes is not None
        assert isinstance(event.attributes["gen_ai.evaluation.name"], str)
        value = event.attributes.get("gen_ai.evaluation.score.value")
        assert value is None or (isinstance(value, float) and math.isfinite(value))
    assert spans[0].attributes["agentobs.gate.result"] == "fail"  # failed() was called
    valid = [s for s in spans if s.name == "quality_gate valid"]
    assert valid[-1].attributes["agentobs.gate.score"] == 0.5


@SETTINGS
@given(reason=anything, name=anything, attrs=attributes)
def test_interventions_attributes_and_events_take_anything(
    cap: testing.Capture,
    internal_errors: list[str],
    reason: Any,
    name: Any,
    attrs: dict[str, Any],
) -> None:
    cap.clear()
    before = cap.metric_value("agentobs.human_interventions")
    with agentobs.stage("host"):
        agentobs.human_intervention(reason, **attrs, approver="sam")
        agentobs.set_attributes(**attrs, kept=1)
        agentobs.event(name, **attrs, kept=2)
    assert cap.metric_value("agentobs.human_interventions") == before + 1
    span = cap.span("stage host")
    assert span.attributes["kept"] == 1
    [intervention] = [e for e in span.events if e.name == "agentobs.human_intervention"]
    assert intervention.attributes is not None
    assert intervention.attributes["approver"] == "sam"
    assert isinstance(intervention.attributes["agentobs.intervention.reason"], str)
    others = [e for e in span.events if e.name != "agentobs.human_intervention"]
    assert [dict(e.attributes or {}).get("kept") for e in others] == [2]


@SETTINGS
@given(name=anything, value=anything)
def test_every_callable_kind_still_runs(
    cap: testing.Capture, internal_errors: list[str], name: Any, value: Any
) -> None:
    @agentobs.tool(name, tool_type=value)
    async def coro() -> str:
        return "c"

    @agentobs.stage(name)
    def gen() -> Iterator[int]:
        yield 1
        yield 2

    @agentobs.persona(name, chatmode=value, budget=value)
    async def agen() -> Any:
        yield 3

    async def main() -> list[Any]:
        return [await coro(), *gen(), *[i async for i in agen()]]

    assert asyncio.run(main()) == ["c", 1, 2, 3]
