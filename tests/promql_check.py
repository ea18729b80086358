"""PromQL checks shared by the dashboard and rule tests: variable substitution, the series a
query names, the labels it filters on, and where counters appear."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from agentobs.cli._assets import _metrics

COUNTER_FUNCTIONS = frozenset({"rate", "increase", "irate"})
COMMON_LABELS = frozenset({"job", "instance", "otel_scope_name", "otel_scope_version"})
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _grafana_escape(value: str) -> str:
    """A value as Grafana puts it into a regex matcher of a PromQL string."""
    return re.sub(r"([.*+?^${}()|\[\]\\])", r"\\\\\1", value)


def substitute(expr: str, values: dict[str, str] | None = None, interval: str = "1m") -> str:
    """``expr`` with Grafana's variables replaced (``$__rate_interval``, ``$__range`` and
    the dashboard's own variables, ``.*`` unless ``values`` gives one)."""
    values = values or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("__rate_interval", "__interval"):
            return interval
        if name == "__range":
            return values.get("__range", "1h")
        return _grafana_escape(values[name]) if name in values else ".*"

    return _VARIABLE.sub(replace, expr)


def variables_in(expr: str) -> set[str]:
    """The variables ``expr`` uses (Grafana's own ``$__`` ones left out)."""
    return {v for v in _VARIABLE.findall(expr) if not v.startswith("__")}


@dataclass
class Selector:
    name: str
    labels: set[str]
    parent: str  # "rate", "increase", ... for a range selector inside a call; else ""
    pattern: bool = False  # the name is a {__name__=~"..."} regex


def _children(node: Any) -> Iterator[Any]:
    for attribute in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield child
    if isinstance(node, pp.Call):
        yield from node.args
    if isinstance(node, pp.MatrixSelector):
        yield node.vector_selector


def selectors(expr: str) -> list[Selector]:
    """Every vector selector of ``expr`` (parsed), with the function its range is given to."""
    found: list[Selector] = []

    def visit(node: Any, parent: str) -> None:
        if isinstance(node, pp.VectorSelector):
            labels = {m.name for m in node.matchers.matchers if m.name != "__name__"}
            by_name = [m for m in node.matchers.matchers if m.name == "__name__"]
            if node.name or not by_name:
                found.append(Selector(node.name or "", labels, parent))
            else:
                found.append(Selector(by_name[0].value, labels, parent, pattern=True))
            return
        if isinstance(node, pp.MatrixSelector):
            visit(node.vector_selector, parent)
            return
        for child in _children(node):
            here = node.func.name if isinstance(node, pp.Call) else ""
            visit(child, here if isinstance(child, pp.MatrixSelector) else "")

    visit(pp.parse(expr), "")
    return found


def problems(expr: str, recorded: set[str], *, values: bool = True) -> list[str]:
    """What is wrong with ``expr`` (already substituted): unknown series, labels the series
    cannot carry, counters outside rate/increase (when ``values``: a selector of
    ``label_values()`` only names series, so any series will do)."""
    out: list[str] = []
    catalogue = _metrics.series_names()
    for selector in selectors(expr):
        name = selector.name
        if selector.pattern:
            if not any(re.fullmatch(name, known) for known in [*recorded, *catalogue]):
                out.append(f"{{__name__=~{name!r}}} matches no series")
            continue
        if name in recorded or name.startswith("agentobs:") or name in _metrics.BUILTIN_SERIES:
            if name.startswith("agentobs:") and name not in recorded:
                out.append(f"{name}: no recording rule records it")
            continue
        if not name:
            out.append("a selector without a metric name")
            continue
        if name not in catalogue:
            out.append(f"{name}: not a series the catalogue emits")
            continue
        instrument, part = catalogue[name]
        allowed = _metrics.labels_of(instrument) | COMMON_LABELS
        if part == "bucket":
            allowed |= {"le"}
        if instrument.startswith("agentobs.test_run."):
            allowed |= {"cicd_pipeline_task_name"}  # the Pushgateway grouping key
        unknown = selector.labels - allowed
        if unknown:
            out.append(f"{name}: filters on {sorted(unknown)}, which it never carries")
        if values and part != "gauge" and selector.parent not in COUNTER_FUNCTIONS:
            out.append(f"{name}: a counter outside rate/increase")
    return out
