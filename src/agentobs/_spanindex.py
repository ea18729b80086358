"""Span helpers for the report: attribute access, what a span is, and a span index."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

from ._localdata import SpanData

_OPERATION_KINDS = {
    "invoke_workflow": "workflow",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "execute_tool": "tool",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
}
_NAME_KEYS = {
    "workflow": "gen_ai.workflow.name",
    "stage": "agentobs.stage.name",
    "task": "agentobs.task.name",
    "agent": "gen_ai.agent.name",
    "tool": "gen_ai.tool.name",
    "persona": "agentobs.persona.name",
    "gate": "agentobs.gate.name",
    "test": "test.case.name",
}

SpanKey = tuple[str, str]


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation (numpy's default); 0.0 if empty."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def iso_time(time_ns: int) -> str:
    """A Unix time in nanoseconds as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_attr(attrs: dict[str, object], key: str) -> str:
    """A string attribute, or an empty string."""
    value = attrs.get(key)
    return value if isinstance(value, str) else ""


def number_attr(attrs: dict[str, object], key: str) -> float | None:
    """A finite numeric attribute, or None."""
    value = attrs.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    return None


def flag_attr(attrs: dict[str, object], key: str) -> bool:
    """A boolean attribute (``True`` or ``"true"``)."""
    value = attrs.get(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def span_kind(span: SpanData) -> str:
    """What a span represents: ``agentobs.span.type``, else inferred from GenAI names."""
    declared = text_attr(span.attributes, "agentobs.span.type")
    if declared:
        return declared
    operation = text_attr(span.attributes, "gen_ai.operation.name")
    if operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[operation]
    if "test.case.name" in span.attributes:
        return "test"
    if span.name.startswith("task "):  # agentobs.task spans carry no type attribute
        return "task"
    return ""


def display_name(span: SpanData, kind: str) -> str:
    """The user-facing name of a span of ``kind`` (workflow name, stage name, ...)."""
    key = _NAME_KEYS.get(kind)
    name = text_attr(span.attributes, key) if key else ""
    if name:
        return name
    operation = text_attr(span.attributes, "gen_ai.operation.name")
    if operation and span.name.startswith(operation + " "):
        return span.name[len(operation) + 1 :]
    if kind == "task" and span.name.startswith("task "):  # agentobs.task: "task {name}"
        return span.name[len("task ") :]
    return span.name or "(unnamed)"


class SpanIndex:
    """Spans by id and by kind, with cached nearest-ancestor lookups."""

    def __init__(self, spans: list[SpanData]) -> None:
        self.spans = spans
        self.by_key: dict[SpanKey, SpanData] = {(s.trace_id, s.span_id): s for s in spans}
        self._kind: dict[int, str] = {}
        self._by_kind: dict[str, list[SpanData]] = defaultdict(list)
        for span in spans:
            kind = span_kind(span)
            self._kind[id(span)] = kind
            self._by_kind[kind].append(span)
        self._nearest: dict[tuple[str, int], SpanData | None] = {}

    def kind_of(self, span: SpanData) -> str:
        """The kind of a span of this index (see :func:`span_kind`)."""
        return self._kind.get(id(span), "")

    def of_kind(self, kind: str) -> list[SpanData]:
        """The spans of one kind, in file order."""
        return self._by_kind.get(kind, [])

    def parent(self, span: SpanData) -> SpanData | None:
        """The parent span, if it was recorded."""
        if not span.parent_id:
            return None
        return self.by_key.get((span.trace_id, span.parent_id))

    def nearest(self, span: SpanData, kind: str) -> SpanData | None:
        """The span itself or its closest ancestor of ``kind``."""
        chain: list[int] = []
        found: SpanData | None = None
        current: SpanData | None = span
        while current is not None and len(chain) < 512:
            key = id(current)
            if (kind, key) in self._nearest:
                found = self._nearest[(kind, key)]
                break
            chain.append(key)
            if self._kind.get(key) == kind:
                found = current
                break
            current = self.parent(current)
        for key in chain:
            self._nearest[(kind, key)] = found
        return found

    def persona(self, span: SpanData) -> str:
        """The persona a span ran under: its own attribute, else the enclosing persona."""
        own = text_attr(span.attributes, "agentobs.persona.name")
        if own:
            return own
        holder = self.nearest(span, "persona")
        return display_name(holder, "persona") if holder else ""

    def inherited(self, span: SpanData, key: str) -> str:
        """A string attribute of the span or of its closest ancestor that has it."""
        current: SpanData | None = span
        for _ in range(512):
            if current is None:
                break
            value = text_attr(current.attributes, key)
            if value:
                return value
            current = self.parent(current)
        return ""
