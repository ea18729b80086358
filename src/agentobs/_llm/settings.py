"""The configuration rows of LLM content, scrubbing, prices and Langfuse (part of the one
configuration table in ``_settings``: explicit argument, then environment, then default).

The content hard off switch, ``AGENTOBS_DISABLE_CONTENT_CAPTURE=true``, is read when agentobs
is imported and again at each ``configure()``; once seen it stays on for the life of the
process: no argument, environment change or context can turn content capture back on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import warn_once
from .._parsers import FALSE, TRUE, Row, parse_bool, parse_int, truthy

HARD_OFF_ENV = "AGENTOBS_DISABLE_CONTENT_CAPTURE"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
DEFAULT_MAX_CONTENT_SIZE = 16384
DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
PRICE_KEYS = ("input", "output", "cache_read", "cache_write", "request")


def _switch_on(raw: str) -> bool:
    """Whether ``raw`` turns the hard off switch on: a safety switch fails closed, so any
    value that is not clearly false (``maybe``, ``tru``) turns it on."""
    return truthy(raw) is not False


_hard_off = _switch_on(os.environ.get(HARD_OFF_ENV, ""))


def content_hard_off(env: Mapping[str, str]) -> bool:
    """Whether the hard off switch is on (it latches: once on, on until the process ends)."""
    global _hard_off
    raw = env.get(HARD_OFF_ENV, "")
    if truthy(raw) is None:
        warn_once(
            f"env-{HARD_OFF_ENV}:{raw}",
            "agentobs: %s=%r is neither true nor false; content capture is OFF (the switch "
            "fails closed). Set it to true or false.",
            HARD_OFF_ENV,
            raw.strip(),
        )
    if not _hard_off and _switch_on(raw):
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


def langfuse_target(
    arg: bool | Mapping[str, str] | None, env: Mapping[str, str], sources: dict[str, str]
) -> LangfuseTarget | None:
    """Where Langfuse is, from the ``langfuse`` argument, else ``AGENTOBS_LANGFUSE`` and the
    ``LANGFUSE_*`` keys together (the rule of the ``langfuse`` row); None: off."""
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


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_patterns(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and all(isinstance(item, str) for item in value)
    )


def _check_size(value: Any) -> str | None:
    return None if isinstance(value, int) and value > 0 else "expected a whole number > 0"


_BOOL = (_is_bool, "True or False")

ROWS: tuple[Row, ...] = (
    Row(
        "content_hard_off",
        (HARD_OFF_ENV,),
        False,
        parse=None,  # latches: see content_hard_off()
        doc="true: no prompt or completion content is ever recorded, whatever the code "
        "asks, and content attributes of every instrumentation are removed at export.",
    ),
    Row(
        "capture_content",
        (CAPTURE_ENV,),
        False,
        _parse_capture,
        arg="capture_content",
        accepts=_BOOL,
        doc="Record LLM prompts and completions on spans (off by default).",
    ),
    Row(
        "max_content_size",
        ("AGENTOBS_MAX_CONTENT_SIZE",),
        DEFAULT_MAX_CONTENT_SIZE,
        parse_int,
        _check_size,
        arg="max_content_size",
        accepts=(_is_int, "a whole number of characters"),
        doc="Characters kept of each captured prompt or completion (default 16384).",
    ),
    Row(
        "scrubbing",
        ("AGENTOBS_SCRUBBING",),
        True,
        parse_bool,
        arg="scrubbing",
        accepts=_BOOL,
        doc="Redact API keys, bearer tokens and passwords from every span: "
        "true (default) or false.",
    ),
    Row(
        "scrub_patterns",
        ("AGENTOBS_SCRUB_PATTERNS",),
        (),
        parse_patterns,
        arg="scrub_patterns",
        accepts=(_is_patterns, "a list of regexes or a mapping of name to regex"),
        argument=parse_patterns,
        show_argument=False,
        doc="More regular expressions to redact: a JSON list, or a JSON object of name to pattern.",
    ),
    Row(
        "scrub_callback",
        (),
        None,
        arg="scrub_callback",
        accepts=(callable, "a function of the match"),
        doc="fn(match) -> str | None deciding each redaction (None: redact).",
    ),
    Row(
        "prices",
        ("AGENTOBS_PRICES",),
        {},
        _load_prices,
        arg="prices",
        accepts=(lambda v: isinstance(v, Mapping), "a mapping of model to its prices"),
        argument=check_prices,
        show_argument=False,
        doc="Path of a JSON file of model prices in USD per million tokens, e.g. "
        '{"my-model": {"input": 0.5, "output": 1.5}}.',
    ),
    Row(
        "langfuse",
        (
            "AGENTOBS_LANGFUSE",
            "LANGFUSE_PUBLIC_KEY",
            "LANGFUSE_SECRET_KEY",
            "LANGFUSE_BASE_URL",
            "LANGFUSE_HOST",
        ),
        None,
        parse=None,  # the keys and the switch together: see langfuse_target()
        arg="langfuse",
        accepts=(
            lambda v: isinstance(v, (bool, Mapping)),
            "True, False or a mapping of public_key, secret_key and host",
        ),
        doc="Send traces to Langfuse: true, or false to ignore LANGFUSE_* keys.",
    ),
)
"""The rows of the configuration table for LLM calls (``_settings.ROWS`` holds them all)."""
