"""The cost of a model call, in US dollars, and where its price came from.

Prices come, in this order, from:

1. the provider itself, when the response carries a cost (LiteLLM's ``response_cost``,
   OpenRouter's ``usage.cost``): source ``provider``;
2. the user's own prices, ``configure(prices={"my-model": {"input": 0.5, "output": 1.5}})``
   in USD per million tokens (``AGENTOBS_PRICES`` names a JSON file of the same form):
   source ``user``;
3. the price table of the ``genai-prices`` package, as installed: source ``genai-prices``.
   It is used offline; nothing is ever fetched at run time (its auto-update is never started).

A model none of them knows is *unpriced*: the call records no cost, the span says so, a
counter counts it, and one warning per model says how to add a price. Never a silent zero.

``genai-prices`` takes about a second to import, so it loads in a background thread from the
first LLM call on, and no call ever waits for it: a call that ends before the table is ready
is priced *pending* (its span says ``agentobs.cost.pending``, never a zero) and its cost is
recorded by :func:`when_ready` once the table has loaded. Each model's rates are then cached
(for a few minutes, since some prices depend on the time of day) and the cost of a call is a
few float operations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._errors import internal_errors, logger, warn_once, warn_some
from .._state import STATE
from .usage import Usage

SOURCE_PROVIDER = "provider"
SOURCE_USER = "user"
SOURCE_TABLE = "genai-prices"
SOURCE_PENDING = "pending"
"""What :func:`pricing` says while the price table is still loading (no rates yet)."""
SOURCE_INSTRUMENTATION = "instrumentation"
"""A cost another instrumentation put on its span (``operation.cost``, ``gen_ai.usage.cost``,
``llm.cost.total``)."""

PROVIDER_IDS = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "moonshot_ai": "moonshotai",
}
"""GenAI ``gen_ai.provider.name`` values and the genai-prices provider id of each."""

_TTL = 300.0
_SIMPLE_KEYS = frozenset(
    {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount"}
)
# Keys that price tokens agentobs reports but the fast path does not model.
_SLOW_KEYS = frozenset(
    {"output_reasoning_mtok", "input_mchars", "input_text_messages_kcount", "output_citation_mtok"}
)

UnitPrice = tuple[float, tuple[tuple[int, float], ...]]
"""USD per unit, and (threshold of total input tokens, USD per unit) tiers above it."""


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call: ``usd`` is None when no price is known (the call is unpriced)."""

    usd: float | None
    source: str | None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Rates:
    """A model's prices per token, as the fast path uses them."""

    input: UnitPrice
    output: UnitPrice
    cache_read: UnitPrice | None
    cache_write: UnitPrice | None
    per_request: float
    exact: Any = None
    """A genai-prices ``ModelPrice`` to use instead, for prices the fast path cannot model."""

    def cost(self, usage: Usage) -> float:
        """USD for ``usage`` (tiers apply by total input tokens, as genai-prices does)."""
        if self.exact is not None:
            return _exact_cost(self.exact, usage)
        total_in = usage.input_tokens or 0
        read = usage.cache_read_input_tokens or 0
        written = usage.cache_creation_input_tokens or 0
        uncached = total_in
        usd = self.per_request
        if self.cache_read is not None and read:
            uncached -= read
            usd += _unit(self.cache_read, read, total_in)
        if self.cache_write is not None and written:
            uncached -= written
            usd += _unit(self.cache_write, written, total_in)
        usd += _unit(self.input, max(uncached, 0), total_in)
        return usd + _unit(self.output, usage.output_tokens or 0, total_in)


def _unit(price: UnitPrice, count: int, total_in: int) -> float:
    rate, tiers = price
    for start, tier_rate in reversed(tiers):
        if total_in > start:
            rate = tier_rate
            break
    return rate * count


def _exact_cost(model_price: Any, usage: Usage) -> float:
    from genai_prices import Usage as PriceUsage

    values = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_input_tokens,
        "cache_write_tokens": usage.cache_creation_input_tokens,
        "output_reasoning_tokens": usage.reasoning_output_tokens,
    }
    priced = PriceUsage(**{k: v for k, v in values.items() if v is not None})
    return float(model_price.calc_price(priced)["total_price"])


# --- the genai-prices table ---

_cache: dict[tuple[str | None, str], tuple[Rates | None, float]] = {}
_cache_lock = threading.Lock()
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_ready = threading.Event()
_waiting: list[Callable[[], None]] = []
MAX_WAITING = 10_000
"""Calls whose cost waits for the price table; more are left unpriced (one warning)."""


def warm() -> None:
    """Start loading the price table in the background (once per process)."""
    global _warm_thread
    if _warm_thread is not None:
        return
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_load, name="agentobs-prices", daemon=True)
            _warm_thread.start()


def _load() -> None:
    try:
        from genai_prices import data_snapshot

        data_snapshot.get_snapshot().find_provider_model("gpt-4o", None, "openai", None)
    except Exception as exc:  # never fatal: the first priced call tries again
        logger.debug("agentobs: preloading genai-prices failed: %s", exc)
    with _warm_lock:
        _ready.set()
        waiting = list(_waiting)
    for callback in waiting:
        with internal_errors("cost.pending"):
            callback()
    with _warm_lock:
        _waiting.clear()  # only now: pending_count() says they are still being recorded


def table_ready() -> bool:
    """Whether the price table has loaded (looking a model up then never waits)."""
    return _ready.is_set()


def wait_ready(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the price table (and the pending costs it prices)."""
    if _warm_thread is None:
        return True
    _warm_thread.join(max(timeout, 0.0))
    return not _warm_thread.is_alive()


def pending_count() -> int:
    """How many calls' costs wait for the price table (or are being recorded) now."""
    return len(_waiting)


def when_ready(callback: Callable[[], None]) -> bool:
    """Run ``callback`` once the price table has loaded (now, if it has); False when too many
    are waiting already (the callback is dropped, with one warning)."""
    with _warm_lock:
        if not _ready.is_set():
            if len(_waiting) >= MAX_WAITING:
                warn_once(
                    "prices-pending-full",
                    "agentobs: more than %d LLM calls ended before the price table loaded; "
                    "the cost of the rest is not recorded",
                    MAX_WAITING,
                )
                return False
            _waiting.append(callback)
            return True
    with internal_errors("cost.pending"):
        callback()
    return True


def table_version() -> str | None:
    """The installed genai-prices version, or None when it is missing."""
    try:
        from genai_prices import __version__
    except ImportError:
        return None
    return str(__version__)


def _price(value: Any, per: float) -> UnitPrice:
    base = getattr(value, "base", value)
    tiers = tuple((int(t.start), float(t.price) / per) for t in getattr(value, "tiers", ()))
    return (float(base) / per, tiers)


def rates_from_table(provider: str | None, model: str) -> Rates | None:
    """The rates genai-prices holds for ``model`` (None if unknown), cached for a while."""
    provider_id = PROVIDER_IDS.get(provider) if provider else None
    if provider and provider_id is None:
        provider_id = provider  # the name may already be a genai-prices id
    key = (provider_id, model)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    rates = _lookup(provider_id, model)
    with _cache_lock:
        if len(_cache) > CACHE_LIMIT:
            _cache.clear()
        _cache[key] = (rates, now + _TTL)
    return rates


CACHE_LIMIT = 4096
"""Models whose rates (or absence) are remembered; also the bound put on genai-prices's own
lookup caches, which otherwise grow by every distinct model name ever asked about."""
_GENAI_CACHES = ("_lookup_cache", "_provider_cache", "_provider_misses")


def _bound_table_caches(snapshot: Any) -> None:
    for name in _GENAI_CACHES:
        cache = getattr(snapshot, name, None)
        if cache is not None and hasattr(cache, "clear") and len(cache) > CACHE_LIMIT:
            cache.clear()


def _lookup(provider_id: str | None, model: str) -> Rates | None:
    try:
        from genai_prices import data_snapshot
    except ImportError:
        warn_once(
            "prices-missing",
            "agentobs: the genai-prices package is not installed; LLM calls are unpriced",
        )
        return None
    snapshot = data_snapshot.get_snapshot()
    _bound_table_caches(snapshot)
    try:
        _provider, info = snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    prices = info.get_prices(datetime.now(tz=timezone.utc))
    values = {k: v for k, v in prices.__dict__.items() if v is not None and not k.startswith("_")}
    if "input_mtok" not in values and "output_mtok" not in values:
        return None
    zero: UnitPrice = (0.0, ())
    rates = Rates(
        _price(values["input_mtok"], 1e6) if "input_mtok" in values else zero,
        _price(values["output_mtok"], 1e6) if "output_mtok" in values else zero,
        _price(values["cache_read_mtok"], 1e6) if "cache_read_mtok" in values else None,
        _price(values["cache_write_mtok"], 1e6) if "cache_write_mtok" in values else None,
        float(values.get("requests_kcount", 0)) / 1000.0,
    )
    if _SLOW_KEYS & values.keys():
        return Rates(rates.input, rates.output, None, None, 0.0, exact=prices)
    return rates


# --- user prices ---

_user: tuple[Any, dict[str, Rates]] | None = None


def user_rates(prices: Mapping[str, Mapping[str, float]]) -> dict[str, Rates]:
    """Rates from ``configure(prices=...)``: keys ``model`` or ``provider/model``, values in
    USD per million tokens: ``input``, ``output``, ``cache_read``, ``cache_write``, and USD
    per call: ``request``."""
    rates: dict[str, Rates] = {}
    for model, entry in prices.items():
        cache_read = entry.get("cache_read")
        cache_write = entry.get("cache_write")
        rates[model.lower()] = Rates(
            (float(entry.get("input", 0.0)) / 1e6, ()),
            (float(entry.get("output", 0.0)) / 1e6, ()),
            None if cache_read is None else (float(cache_read) / 1e6, ()),
            None if cache_write is None else (float(cache_write) / 1e6, ()),
            float(entry.get("request", 0.0)),
        )
    return rates


def _user_table() -> dict[str, Rates]:
    global _user
    settings = STATE.settings
    prices = None if settings is None else settings.prices
    if not prices:
        return {}
    cached = _user
    if cached is None or cached[0] is not prices:
        cached = _user = (prices, user_rates(prices))
    return cached[1]


# --- the cost of one call ---


def cost_of(
    provider: str | None, request_model: str | None, response_model: str | None, usage: Usage
) -> Cost:
    """The cost of a call with ``usage``, from the first source that prices it."""
    if usage.cost_usd is not None:
        return Cost(usage.cost_usd, SOURCE_PROVIDER, response_model or request_model)
    rates, source, model = pricing(provider, request_model, response_model)
    return Cost(None if rates is None else rates.cost(usage), source, model)


Pricing = tuple[Rates | None, str | None, str | None]
"""The rates that price a call (None: unpriced), their source and the model they price."""


def pricing(provider: str | None, request_model: str | None, response_model: str | None) -> Pricing:
    """How calls of these models are priced: the user's prices first, then the price table,
    the response model before the requested one. Unpriced: ``(None, None, model)``, with one
    warning per model. Callers may keep it for :data:`PRICING_TTL` seconds (not longer: some
    prices depend on the time of day)."""
    models = [m for m in (response_model, request_model) if m]
    user = _user_table()
    if user:
        for model in models:
            lowered = model.lower()
            rates = user.get(f"{provider}/{lowered}") or user.get(lowered)
            if rates is not None:
                return rates, SOURCE_USER, model
    if models and not _ready.is_set():
        warm()
        return None, SOURCE_PENDING, models[0]  # never wait for the table's import
    for model in models:
        found = rates_from_table(provider, model)
        if found is not None:
            return found, SOURCE_TABLE, model
    if models:
        warn_some(
            "models with no known price (see agentobs.cost.unpriced_calls)",
            UNPRICED_WARNINGS,
            f"unpriced:{provider}:{models[-1]}",
            "agentobs: no price is known for model %r (provider %r): its calls record no cost "
            "(agentobs.cost.unpriced) and count in agentobs.cost.unpriced_calls; add one with "
            "configure(prices={%r: {'input': ..., 'output': ...}}) in USD per million tokens",
            models[-1],
            provider,
            models[-1],
        )
    return None, None, models[0] if models else None


UNPRICED_WARNINGS = 20
"""Models warned about one by one for having no price; then one warning for the rest."""

PRICING_TTL = 60.0
"""Seconds a caller may keep what :func:`pricing` returned (the table's own cache keeps a
model's rates for ``_TTL``; this adds at most a minute to it)."""
