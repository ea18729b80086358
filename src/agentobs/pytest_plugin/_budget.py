"""The ``agentobs_budget`` marker: the tokens and cost a test may use.

``@pytest.mark.agentobs_budget(tokens=2_000, usd=0.05)`` fails the test when the spans that
ended inside it (see :mod:`._usage`) used more. This module needs no OpenTelemetry SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

BUDGET_MARKER = "agentobs_budget"
MARKER_HELP = (
    "agentobs_budget(tokens=None, usd=None): fail the test when the LLM spans inside it used "
    "more tokens (input + output) or more US dollars than this"
)


class Usage(NamedTuple):
    """Tokens and cost, summed."""

    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def minus(self, other: Usage) -> Usage:
        """What was used since ``other`` was taken."""
        return Usage(
            self.input_tokens - other.input_tokens,
            self.output_tokens - other.output_tokens,
            self.usd - other.usd,
        )


@dataclass(frozen=True)
class Budget:
    """The limits of an ``agentobs_budget`` marker."""

    tokens: float | None = None
    usd: float | None = None

    def exceeded(self, used: Usage) -> str | None:
        """Why ``used`` is over this budget, or None."""
        over = []
        if self.tokens is not None and used.tokens > self.tokens:
            over.append(f"{used.tokens} tokens used, budget {self.tokens:g}")
        if self.usd is not None and used.usd > self.usd:
            over.append(f"${used.usd:.6g} spent, budget ${self.usd:g}")
        return "; ".join(over) or None


def budget_of(marker: Any) -> Budget:
    """The budget a marker sets; ValueError naming what is wrong with its arguments."""
    if marker.args:
        raise ValueError(
            "agentobs_budget takes keyword arguments only: "
            "@pytest.mark.agentobs_budget(tokens=..., usd=...)"
        )
    unknown = set(marker.kwargs) - {"tokens", "usd"}
    if unknown:
        raise ValueError(
            f"agentobs_budget: unknown argument(s) {sorted(unknown)}; expected tokens= and/or usd="
        )
    limits: dict[str, float | None] = {}
    for key in ("tokens", "usd"):
        value = marker.kwargs.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
        ):
            raise ValueError(f"agentobs_budget({key}={value!r}): expected a number >= 0")
        limits[key] = value
    if limits["tokens"] is None and limits["usd"] is None:
        raise ValueError("agentobs_budget needs tokens= and/or usd=")
    return Budget(limits["tokens"], limits["usd"])
