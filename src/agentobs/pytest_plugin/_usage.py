"""The span processor that sums the tokens and cost each test used.

The contract with the LLM instrumentation is small on purpose: an agentobs span that ends
inside a test (a descendant of the test's span) and carries ``gen_ai.usage.input_tokens``,
``gen_ai.usage.output_tokens`` or ``agentobs.cost.usd`` adds them to the test's totals. The
model calls other instrumentations trace come through the interop processor
(:data:`agentobs._export.interop.CALL_HOOKS`), which knows which of their spans are calls and
what they cost.
:data:`USAGE` is one span processor for the process; the plugin adds it to the pipeline it
configures (or, once, to an SDK tracer provider that was configured before the run).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .._export import interop
from .._state import INSTRUMENTATION_SCOPE
from ._budget import Usage

INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
COST_USD = "agentobs.cost.usd"
_MEMBER_LIMIT = 100_000


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


class UsageProcessor(SpanProcessor):
    """Sums the usage of spans that descend from the current test's span."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._test_span_id: int | None = None
        self._members: set[int] = set()
        self._input = 0
        self._output = 0
        self._usd = 0.0
        self._providers: weakref.WeakSet[Any] = weakref.WeakSet()

    def attach_to(self, provider: Any) -> None:
        """Add this processor to an SDK tracer provider, once per provider."""
        with self._lock:
            if provider in self._providers:
                return
            self._providers.add(provider)
        provider.add_span_processor(self)
        if self.add_call not in interop.CALL_HOOKS:
            interop.CALL_HOOKS.append(self.add_call)

    def begin(self, test_span_id: int | None) -> None:
        """Start counting for a new test (its span's id); None stops counting."""
        with self._lock:
            self._test_span_id = test_span_id
            self._members = set()
            self._input = self._output = 0
            self._usd = 0.0

    def end(self) -> Usage:
        """What the current test used; stop counting (``usage()`` then ``begin(None)``)."""
        with self._lock:
            used = Usage(self._input, self._output, self._usd)
            self._test_span_id = None
            self._members = set()
            self._input = self._output = 0
            self._usd = 0.0
        return used

    def usage(self) -> Usage:
        """What the current test used so far."""
        with self._lock:
            return Usage(self._input, self._output, self._usd)

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        test_span_id = self._test_span_id
        if test_span_id is None:
            return
        parent = span.parent
        if parent is None:
            return
        parent_id = parent.span_id
        if parent_id == test_span_id or parent_id in self._members:
            context = span.get_span_context()
            if context is not None and len(self._members) < _MEMBER_LIMIT:
                self._members.add(context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        if not self._members:
            return
        context = span.get_span_context()
        if context is None or context.span_id not in self._members:
            return
        scope = span.instrumentation_scope
        if scope is None or scope.name != INSTRUMENTATION_SCOPE:
            return  # counted by add_call, if it is a model call
        attributes: Mapping[str, Any] = span.attributes or {}
        if INPUT_TOKENS in attributes or OUTPUT_TOKENS in attributes or COST_USD in attributes:
            with self._lock:
                self._input += int(_number(attributes.get(INPUT_TOKENS)))
                self._output += int(_number(attributes.get(OUTPUT_TOKENS)))
                self._usd += _number(attributes.get(COST_USD))

    def add_call(self, span: ReadableSpan, usage: Any, usd: float | None) -> None:
        """Add a model call another instrumentation traced, if its span is in the test."""
        context = span.get_span_context()
        if not self._members or context is None or context.span_id not in self._members:
            return
        with self._lock:
            self._input += usage.input_tokens or 0
            self._output += usage.output_tokens or 0
            self._usd += usd or 0.0

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


USAGE = UsageProcessor()
"""The process's usage processor (one per process, shared by successive sessions)."""
