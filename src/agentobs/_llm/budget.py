"""Token and cost budgets: ``agentobs.TokenBudget`` and ``agentobs.BudgetExceededError``.

A budget is in force inside a ``with budget:`` block, or inside the workflow, stage or
persona it is given to (``persona("coder", budget=...)``). Every LLM call made where budgets
are in force counts against each of them, innermost to outermost.

When a call's usage takes a budget past a limit, that is a *breach*: a span event
``agentobs.budget.exceeded`` on the call's span, the ``agentobs.budget.breaches`` counter, and
one warning. With ``on_exceed="raise"``, the next LLM call that *starts* under the spent
budget raises :class:`BudgetExceededError` before anything is sent; the call in flight when the
budget ran out completes, and its usage is recorded. This is the one exception agentobs raises
on purpose, and only when asked to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context

from .. import _catalogue as cat
from .. import _names as n
from .._context import BUDGETS_KEY, push_budget, release_budget
from .._errors import warn_once
from .._state import STATE

POLICIES = ("warn", "raise")
UNIT_TOKENS = "token"
UNIT_USD = "USD"


class BudgetExceededError(Exception):
    """An LLM call was refused because a budget with ``on_exceed="raise"`` is spent."""

    __module__ = "agentobs"  # its public home: error.type is agentobs.BudgetExceededError

    def __init__(self, budget: str, unit: str, limit: float, used: float) -> None:
        self.budget = budget
        self.unit = unit
        self.limit = limit
        self.used = used
        amount = (
            f"{used:,.0f} of {limit:,.0f} tokens"
            if unit == UNIT_TOKENS
            else (f"${used:,.4f} of ${limit:,.4f}")
        )
        super().__init__(
            f"agentobs budget {budget!r} is spent ({amount} used); the LLM call was not made "
            "(on_exceed='raise')"
        )


@dataclass(frozen=True, slots=True)
class Breach:
    """A budget that has just run out."""

    budget: TokenBudget
    unit: str
    limit: float
    used: float


class TokenBudget:
    """A limit on the tokens and/or US dollars spent by the LLM calls made inside it.

    Args:
        name: the budget's name in metrics and events (default: the persona, workflow or
            stage it is given to, else ``"budget"``). Keep it low-cardinality.
        tokens: limit on input plus output tokens.
        usd: limit on cost in US dollars (calls whose model has no price do not count).
        on_exceed: ``"warn"`` (default): record and log the breach; ``"raise"``: also refuse
            the LLM calls that start afterwards with :class:`BudgetExceededError`.
        per_run: each run of the scope it is given to (and each ``with`` block) counts
            against a fresh budget of the same name and limits, instead of this one.

    Use it as ``with budget:`` (also ``async with``), or pass it to ``agentobs.workflow``,
    ``agentobs.stage`` or ``agentobs.persona`` as ``budget=``. One budget object may be used
    many times; its usage accumulates until :meth:`reset`.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        tokens: int | None = None,
        usd: float | None = None,
        on_exceed: str = "warn",
        per_run: bool = False,
    ) -> None:
        if on_exceed not in POLICIES:
            raise ValueError(f"TokenBudget(on_exceed={on_exceed!r}): expected 'warn' or 'raise'")
        for arg, value in (("tokens", tokens), ("usd", usd)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
            ):
                raise ValueError(f"TokenBudget({arg}={value!r}): expected a number >= 0 or None")
        if tokens is None and usd is None:
            warn_once("budget-no-limit", "agentobs: a TokenBudget has neither tokens= nor usd=")
        self.name = name
        self.tokens = tokens
        self.usd = None if usd is None else float(usd)
        self.on_exceed = on_exceed
        self.per_run = bool(per_run)
        self.used_tokens = 0
        self.used_usd = 0.0
        self.persona: str | None = None
        self._breached: set[str] = set()
        self._lock = threading.Lock()
        self._tokens: list[Any] = []
        self._open = 0  # scopes and ``with`` blocks holding it in force now
        self._shown_as: tuple[str, str | None] | None = None  # its gauge series while open

    def __repr__(self) -> str:
        return (
            f"TokenBudget({self.name!r}, tokens={self.tokens!r}, usd={self.usd!r}, "
            f"on_exceed={self.on_exceed!r}, used_tokens={self.used_tokens}, "
            f"used_usd={self.used_usd:.6f})"
        )

    # --- state ---

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens left (negative when overspent), or None without a token limit."""
        return None if self.tokens is None else self.tokens - self.used_tokens

    @property
    def remaining_usd(self) -> float | None:
        """US dollars left (negative when overspent), or None without a cost limit."""
        return None if self.usd is None else self.usd - self.used_usd

    @property
    def exceeded(self) -> bool:
        """Whether any limit has been reached."""
        return bool(self._spent())

    def _spent(self) -> tuple[str, float, float] | None:
        if self.tokens is not None and self.used_tokens >= self.tokens:
            return (UNIT_TOKENS, self.tokens, self.used_tokens)
        if self.usd is not None and self.used_usd >= self.usd:
            return (UNIT_USD, self.usd, self.used_usd)
        return None

    def reset(self) -> None:
        """Forget the usage counted so far (the limits stay)."""
        with self._lock:
            self.used_tokens, self.used_usd = 0, 0.0
            self._breached.clear()
        self._gauges()

    # --- used by the LLM wrapper ---

    def for_run(self) -> TokenBudget:
        """The budget one run of a scope counts against: this one, or with ``per_run`` a
        fresh one with the same name and limits (so run 3 of a nightly job starts afresh)."""
        if not self.per_run:
            return self
        return TokenBudget(self.name, tokens=self.tokens, usd=self.usd, on_exceed=self.on_exceed)

    def bind(self, owner: str | None, persona: str | None) -> None:
        """Called when the budget is put in force: give it its default name and persona."""
        if self.name is None:
            self.name = owner or "budget"
        if self.persona is None:
            self.persona = persona

    def refusal(self) -> BudgetExceededError | None:
        """The error to raise for a call starting now, for a spent ``raise`` budget."""
        if self.on_exceed != "raise":
            return None
        spent = self._spent()
        if spent is None:
            return None
        return BudgetExceededError(self.name or "budget", *spent)

    def charge(self, tokens: int, usd: float | None) -> list[Breach]:
        """Count one call's usage; return the limits it just went past."""
        breaches: list[Breach] = []
        with self._lock:
            self.used_tokens += tokens
            if usd is not None:
                self.used_usd += usd
            for unit, limit, used in (
                (UNIT_TOKENS, self.tokens, self.used_tokens),
                (UNIT_USD, self.usd, self.used_usd),
            ):
                if limit is not None and used >= limit and unit not in self._breached:
                    self._breached.add(unit)
                    breaches.append(Breach(self, unit, limit, used))
        self._gauges()
        return breaches

    def acquire(self) -> None:
        """Put it in force (a scope run or ``with`` block begins; :func:`push_budget` calls
        it): while open, it is one of the budgets its name's gauges choose from."""
        with _OPEN_LOCK:
            self._open += 1
            if self._open == 1:
                self._shown_as = self._series()
                _OPEN.setdefault(self._shown_as, []).append(self)
        self._gauges()

    def release(self) -> None:
        """Take it out of force (the scope run or ``with`` block has ended)."""
        with _OPEN_LOCK:
            if self._open == 0:
                return
            self._open -= 1
            if self._open == 0 and self._shown_as is not None:
                group = _OPEN.get(self._shown_as, [])
                if self in group:
                    group.remove(self)
                if not group:
                    _OPEN.pop(self._shown_as, None)
        self._gauges()

    def _series(self) -> tuple[str, str | None]:
        return (self.name or "budget", self.persona)

    def _gauges(self) -> None:
        """Set its name's gauges. Budgets of one name (and persona) share one series, so
        concurrent ones (two runs of a workflow, each with its ``per_run`` budget) show the
        *most spent* of those open now, limit and remaining of that same budget, so that
        remaining / limit is the share left of the one closest to running out; with none
        open, the last one that changed (a finished run's final figures)."""
        recorders = STATE.recorders
        if recorders is None:
            return
        series = self._shown_as or self._series()
        labels = {n.BUDGET_NAME: series[0], n.PERSONA_NAME: series[1]}
        with _OPEN_LOCK:  # choose and write at once: a stale choice never overwrites
            shown = _OPEN.get(series) or (self,)
            for limit_gauge, remaining_gauge, limits in (
                (cat.BUDGET_TOKENS_LIMIT, cat.BUDGET_TOKENS_REMAINING, _token_limits(shown)),
                (cat.BUDGET_COST_LIMIT, cat.BUDGET_COST_REMAINING, _cost_limits(shown)),
            ):
                if limits:
                    limit, used = min(limits, key=_spent_most)
                    recorders[limit_gauge.name].record(limit, labels)
                    recorders[remaining_gauge.name].record(limit - used, labels)

    # --- with / async with ---

    def __enter__(self) -> TokenBudget:
        outer = otel_context.get_current()
        context = push_budget(outer, self, None)
        self._tokens.append((otel_context.attach(context), context, outer))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tokens:
            token, context, outer = self._tokens.pop()
            otel_context.detach(token)
            release_budget(context, outer)

    async def __aenter__(self) -> TokenBudget:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)


_OPEN: dict[tuple[str, str | None], list[TokenBudget]] = {}
"""The budgets in force now, by gauge series (name, persona): as many as are open, no more."""
_OPEN_LOCK = threading.Lock()


def _token_limits(budgets: Any) -> list[tuple[float, float]]:
    return [(b.tokens, b.used_tokens) for b in budgets if b.tokens is not None]


def _cost_limits(budgets: Any) -> list[tuple[float, float]]:
    return [(b.usd, b.used_usd) for b in budgets if b.usd is not None]


def _spent_most(limit_used: tuple[float, float]) -> tuple[float, float]:
    """Sort key: the smallest share left first (then the fewest left)."""
    limit, used = limit_used
    left = limit - used
    return (left / limit if limit > 0 else (0.0 if left >= 0 else -1.0), left)


def in_force(context: Any) -> tuple[TokenBudget, ...]:
    """The budgets in force in ``context``, outermost first."""
    budgets = context.get(BUDGETS_KEY)
    return budgets if budgets else ()


def record_breach(breach: Breach, span: Any) -> None:
    """The event (on ``span``, if given), counter and warning of a budget that just ran out."""
    budget = breach.budget
    name = budget.name or "budget"
    if span is not None:
        span.add_event(
            n.BUDGET_EXCEEDED_EVENT,
            {
                n.BUDGET_NAME: name,
                n.BUDGET_UNIT: breach.unit,
                n.BUDGET_LIMIT: float(breach.limit),
                n.BUDGET_USED: float(breach.used),
                n.BUDGET_POLICY: budget.on_exceed,
            },
        )
    recorders = STATE.recorders
    if recorders is not None:
        recorders[cat.BUDGET_BREACHES.name].record(
            1,
            {
                n.BUDGET_NAME: name,
                n.BUDGET_UNIT: breach.unit,
                n.BUDGET_POLICY: budget.on_exceed,
                n.PERSONA_NAME: budget.persona,
            },
        )
    warn_once(
        f"budget:{id(budget)}:{breach.unit}",
        "agentobs: budget %r exceeded: %s of %s %s used%s",
        name,
        f"{breach.used:,.4f}" if breach.unit == UNIT_USD else f"{breach.used:,.0f}",
        f"{breach.limit:,.4f}" if breach.unit == UNIT_USD else f"{breach.limit:,.0f}",
        "tokens" if breach.unit == UNIT_TOKENS else "USD",
        "; further LLM calls under it will raise BudgetExceededError"
        if budget.on_exceed == "raise"
        else "",
    )


def record_refusal(refusal: BudgetExceededError, span: Any, persona: str | None) -> None:
    """Count a call a spent budget refused (as a refusal, not as an LLM call or error)."""
    span.set_attribute(n.BUDGET_REFUSED, True)
    recorders = STATE.recorders
    if recorders is not None:
        recorders[cat.BUDGET_REFUSALS.name].record(
            1,
            {n.BUDGET_NAME: refusal.budget, n.BUDGET_UNIT: refusal.unit, n.PERSONA_NAME: persona},
        )


def iter_refusals(budgets: tuple[TokenBudget, ...]) -> Iterator[BudgetExceededError]:
    """The refusals of the spent ``raise`` budgets among ``budgets``."""
    for budget in budgets:
        refusal = budget.refusal()
        if refusal is not None:
            yield refusal
