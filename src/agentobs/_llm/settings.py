"""The configuration rows of LLM content, scrubbing, prices and Langfuse (part of the one
configuration table in ``_settings``: explicit argument, then environment, then default).

The content hard off switch, ``AGENTOBS_DISABLE_CONTENT_CAPTURE=true``, is read when agentobs
is imported and again at each ``configure()``; once seen it stays on for the life of the
process: no argument, environment change or context can turn content capture back on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import warn_once
from .._parsers import FALSE, TRUE, parse_bool, parse_int, truthy

HARD_OFF_ENV = "AGENTOBS_DISABLE_CONTENT_CAPTURE"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DEFAULT_MAX_CONTENT_SIZE = 16384
DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
PRICE_KEYS = ("input", "output", "cache_read", "cache_write", "request")

ENV_VARS: dict[str, str] = {
    "AGENTOBS_MAX_CONTENT_SIZE": "Characters kept of each captured prompt or completion "
    "(default 16384).",
    HARD_OFF_ENV: "true: no prompt or completion content is ever recorded, whatever the code "
    "asks, and content attributes of every instrumentation are removed at export.",
    "AGENTOBS_SCRUBBING": "Redact API keys, bearer tokens and passwords from every span: "
    "true (default) or false.",
    "AGENTOBS_SCRUB_PATTERNS": "More regular expressions to redact: a JSON list, or a JSON "
    "object of name to pattern.",
    "AGENTOBS_PRICES": "Path of a JSON file of model prices in USD per million tokens, e.g. "
    '{"my-model": {"input": 0.5, "output": 1.5}}.',
    "AGENTOBS_LANGFUSE": "Send traces to Langfuse: true, or false to ignore LANGFUSE_* keys.",
}


_hard_off = bool(truthy(os.environ.get(HARD_OFF_ENV, "")))


def content_hard_off(env: Mapping[str, str]) -> bool:
    """Whether the hard off switch is on (it latches: once on, on until the process ends)."""
    global _hard_off
    if not _hard_off and truthy(env.get(HARD_OFF_ENV, "")):
        _hard_off = True
    return _hard_off


class LangfuseTarget:
    """Where Langfuse is and the keys to reach it (the secret is never printed)."""

    __slots__ = ("host", "public_key", "secret_key")

    def __init__(self, host: str, public_key: str, secret_key: str) -> None:
        self.host = host
        self.public_key = public_key
        self.secret_key = secret_key

    def __repr__(self) -> str:
        return f"LangfuseTarget(host={self.host!r}, public_key={self.public_key!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LangfuseTarget):
            return NotImplemented
        mine = (self.host, self.public_key, self.secret_key)
        return mine == (other.host, other.public_key, other.secret_key)

    def __hash__(self) -> int:
        return hash((self.host, self.public_key))

    @property
    def traces_endpoint(self) -> str:
        """The OTLP/HTTP traces endpoint of Langfuse."""
        return f"{self.host.rstrip('/')}/api/public/otel/v1/traces"


def _parse_capture(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered == "no_content":
        return False
    if lowered in ("span_only", "event_only", "span_and_event"):
        return True
    if lowered in TRUE or lowered in FALSE:
        return lowered in TRUE
    raise ValueError("expected NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, true or false")


def parse_patterns(value: Any) -> tuple[tuple[str, str], ...]:
    """``(name, regex)`` pairs from a list of regexes or a mapping of name to regex."""
    if isinstance(value, str):
        import json  # only when the environment sets patterns: keeps `import agentobs` cheap

        value = json.loads(value) if value.lstrip().startswith(("[", "{")) else [value]
    items: Sequence[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence):
        items = [(f"pattern {i + 1}", pattern) for i, pattern in enumerate(value)]
    else:
        raise ValueError("expected a list of regular expressions or a mapping of name to regex")
    pairs = []
    for name, pattern in items:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"pattern {name!r} is not a non-empty string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from None
        pairs.append((str(name), pattern))
    return tuple(pairs)


def check_prices(prices: Any) -> dict[str, dict[str, float]]:
    """Validated ``{model: {"input": usd_per_mtok, ...}}``."""
    if not isinstance(prices, Mapping):
        raise ValueError('expected a mapping like {"my-model": {"input": 0.5, "output": 1.5}}')
    checked: dict[str, dict[str, float]] = {}
    for model, entry in prices.items():
        if not isinstance(model, str) or not model or not isinstance(entry, Mapping):
            raise ValueError(f"price of {model!r}: expected a model name and a mapping")
        unknown = set(entry) - set(PRICE_KEYS)
        if unknown:
            raise ValueError(
                f"price of {model!r}: unknown keys {sorted(unknown)}; use {PRICE_KEYS}"
            )
        for key, price in entry.items():
            if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
                raise ValueError(f"price of {model!r}: {key}={price!r} is not a number >= 0")
        checked[model] = {str(k): float(v) for k, v in entry.items()}
    return checked


def _load_prices(path: str) -> dict[str, dict[str, float]]:
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read a JSON price file: {exc}") from None
    return check_prices(data)


def _langfuse(
    arg: bool | Mapping[str, str] | None, env: Mapping[str, str], sources: dict[str, str]
) -> LangfuseTarget | None:
    public = env.get("LANGFUSE_PUBLIC_KEY", "").strip()
    secret = env.get("LANGFUSE_SECRET_KEY", "").strip()
    host = (env.get("LANGFUSE_BASE_URL") or env.get("LANGFUSE_HOST") or "").strip()
    if isinstance(arg, Mapping):
        public = str(arg.get("public_key") or public)
        secret = str(arg.get("secret_key") or secret)
        host = str(arg.get("host") or host)
        arg = True
    if arg is None:
        switch = truthy(env.get("AGENTOBS_LANGFUSE", ""))
        if env.get("AGENTOBS_LANGFUSE", "").strip() and switch is None:
            warn_once("env:AGENTOBS_LANGFUSE", "agentobs: ignoring AGENTOBS_LANGFUSE: not a bool")
        if switch is False and env.get("AGENTOBS_LANGFUSE", "").strip():
            sources["langfuse"] = "env AGENTOBS_LANGFUSE"
            return None
        if not (public and secret):
            if switch:
                warn_once(
                    "langfuse-keys",
                    "agentobs: AGENTOBS_LANGFUSE=true but LANGFUSE_PUBLIC_KEY or "
                    "LANGFUSE_SECRET_KEY is missing; Langfuse is off",
                )
            sources["langfuse"] = "default"
            return None
        sources["langfuse"] = "env LANGFUSE_PUBLIC_KEY"
        return LangfuseTarget(host or DEFAULT_LANGFUSE_HOST, public, secret)
    sources["langfuse"] = "argument"
    if not arg:
        return None
    if not (public and secret):
        raise ValueError(
            "agentobs.configure(langfuse=True): needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY "
            "in the environment, or langfuse={'public_key': ..., 'secret_key': ..., 'host': ...}"
        )
    host = host or DEFAULT_LANGFUSE_HOST
    if not host.startswith(("http://", "https://")):
        raise ValueError(f"agentobs.configure(langfuse=...): host {host!r} is not an http(s) URL")
    return LangfuseTarget(host, public, secret)


def resolve_llm(
    resolver: Any,
    *,
    capture_content: bool | None,
    max_content_size: int | None,
    scrubbing: bool | None,
    scrub_patterns: Sequence[str] | Mapping[str, str] | None,
    scrub_callback: Callable[..., Any] | None,
    langfuse: bool | Mapping[str, str] | None,
    prices: Mapping[str, Mapping[str, float]] | None,
) -> dict[str, Any]:
    """The LLM rows of :class:`~agentobs._settings.Settings`, resolved with ``resolver``."""
    r = resolver
    hard_off = content_hard_off(r.env)
    capture = r.value("capture_content", capture_content, [CAPTURE_ENV], _parse_capture, False)
    if hard_off:
        r.sources["capture_content"] = f"env {HARD_OFF_ENV} (hard off)"
        capture = False
    size = r.value(
        "max_content_size",
        max_content_size,
        ["AGENTOBS_MAX_CONTENT_SIZE"],
        parse_int,
        DEFAULT_MAX_CONTENT_SIZE,
        lambda v: None if isinstance(v, int) and v > 0 else "expected a whole number > 0",
    )
    scrub = r.value("scrubbing", scrubbing, ["AGENTOBS_SCRUBBING"], parse_bool, True)
    patterns_arg = None
    if scrub_patterns is not None:
        try:
            patterns_arg = parse_patterns(scrub_patterns)
        except ValueError as exc:
            raise ValueError(f"agentobs.configure(scrub_patterns=...): {exc}") from None
    patterns = r.value(
        "scrub_patterns", patterns_arg, ["AGENTOBS_SCRUB_PATTERNS"], parse_patterns, ()
    )
    if scrub_callback is not None and not callable(scrub_callback):
        raise ValueError("agentobs.configure(scrub_callback=...): expected a callable")
    prices_arg = None
    if prices is not None:
        try:
            prices_arg = check_prices(prices)
        except ValueError as exc:
            raise ValueError(f"agentobs.configure(prices=...): {exc}") from None
    checked_prices = r.value("prices", prices_arg, ["AGENTOBS_PRICES"], _load_prices, {})
    return {
        "capture_content": capture,
        "content_hard_off": hard_off,
        "max_content_size": size,
        "scrubbing": scrub,
        "scrub_patterns": patterns,
        "scrub_callback": scrub_callback,
        "langfuse": _langfuse(langfuse, r.env, r.sources),
        "prices": checked_prices,
    }
