"""Secrets out of every text agentobs sends anywhere: one scrubber for every signal and exit.

:class:`Scrubber` replaces API keys (OpenAI/Anthropic ``sk-...``, AWS, GitHub, Google,
Slack), bearer and basic credentials, JWTs, private keys, ``password=...``-style pairs
(also inside JSON text, quoted or with escaped quotes) and passwords in URLs, plus the user's
own patterns, by a marker saying what was removed (``[REDACTED API key]``), never echoing any
of it. A value under a key that names a secret (``...api_key``, ``...password``) loses its
whole value. Nothing here imports the OpenTelemetry SDK, nor any other module of agentobs.

Who uses it: the span, log and metric cleaners in front of every exporter
(``_export.scrub``), agentobs's metric recorders (so ``/metrics`` is clean too), Langfuse
scores, ``agentobs doctor`` and agentobs's own log lines (:func:`text`, through a filter on
the ``agentobs`` logger). :data:`ACTIVE` is the scrubber ``configure()`` built (user
patterns included), or None when scrubbing is off; before ``configure()`` the default
patterns apply.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_QUOTE = r"(?:\\*[\"'])"
"""A quote, perhaps escaped (JSON inside JSON: ``\"``)."""
_SECRET_VALUE = r"(?:(?<=[\"'])[^\"'\\\n]{1,256}|[^\s\"'\\,;}<>]{3,})"
"""What follows ``password=``: after a quote, everything up to the closing quote (spaces
included); unquoted, everything up to a space, quote, comma, semicolon or brace (``&``
included: ``password=abc&def!`` loses all of ``abc&def!``)."""
_NOT_WORD = r"(?<![A-Za-z0-9])"
_IS = r"\s*(?:[:=]|%3[AaDd])\s*"
"""``=`` or ``:``, perhaps percent-encoded (``OTEL_RESOURCE_ATTRIBUTES`` values are)."""
DEFAULT_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "private key",
        r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)",
    ),
    ("bearer token", r"(?i:\bbearer\s+)(?P<v>[A-Za-z0-9._~+/=-]{8,})"),
    ("basic credentials", r"(?i:\bbasic\s+)(?P<v>[A-Za-z0-9+/]{8,}={0,2})"),
    ("API key", r"\b(?:sk|rk)-[A-Za-z0-9_-]{16,}"),
    ("API key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("API key", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    ("API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("API key", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    (
        "password",
        rf"(?i:{_NOT_WORD}(?:password|passwd|pwd|passphrase){_QUOTE}?{_IS}{_QUOTE}?)"
        rf"(?P<v>{_SECRET_VALUE})",
    ),
    (
        "secret",
        rf"(?i:{_NOT_WORD}(?:secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token"
        r"|refresh[_-]?token|session[_-]?token|private[_-]?key|credentials?|cookie)"
        rf"{_QUOTE}?{_IS}{_QUOTE}?)(?P<v>{_SECRET_VALUE})",
    ),
    ("password", r"(?<=://)[^/\s:@]{1,64}:(?P<v>[^/\s@]{1,256})(?=@)"),
)  # fmt: skip
"""(what it is, regex): the secrets every span is cleaned of. A group ``v`` marks the part
replaced (the rest, such as ``password=``, is kept)."""

SECRET_KEY = re.compile(
    r"(?i)(password|passwd|passphrase|secret|api[._-]?key|apikey|authorization"
    r"|auth[._-]?token|access[._-]?token|refresh[._-]?token|private[._-]?key|credential"
    r"|cookie|session[._-]?token)"
)
"""Attribute keys whose whole value is a secret."""

_ANCHORS = (
    "-----begin",
    "bearer",
    "basic",
    "sk-",
    "rk-",
    "akia",
    "asia",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "aiza",
    "xox",
    "eyj",
    "pass",
    "pwd",
    "secret",
    "api",
    "token",
    "private",
    "credential",
    "cookie",
    "://",
)
"""Lowercase text that every default pattern's match contains: a string with none of them is
clean, found with fast substring searches instead of running the patterns."""


def marker(kind: str) -> str:
    """What replaces a secret: says what was removed, never any of it."""
    return f"[REDACTED {kind}]"


@dataclass(frozen=True)
class ScrubMatch:
    """A possible secret, as the ``scrub_callback`` sees it: the attribute key (or ``span
    name``, ``status``), what kind of secret, and the matched text."""

    key: str
    kind: str
    text: str


Callback = Callable[[ScrubMatch], Any]


class Scrubber:
    """Cleans strings of secrets (default patterns, user patterns, an optional callback)."""

    def __init__(
        self, patterns: Sequence[tuple[str, str]] = (), callback: Callback | None = None
    ) -> None:
        every = list(DEFAULT_PATTERNS) + [(name, pattern) for name, pattern in patterns]
        self.patterns = [(kind, re.compile(pattern)) for kind, pattern in every]
        self.any = re.compile("|".join(f"(?:{p})" for _, p in _ungrouped(every)))
        self.user = (
            re.compile("|".join(f"(?:{p})" for _, p in _ungrouped(patterns))) if patterns else None
        )
        self.callback = callback
        self._callback_failures: set[type[BaseException]] = set()
        self.known_clean: set[str] = set()
        self.secret_keys: dict[str, bool] = {}
        """Per key seen, whether it names a secret (filled by :meth:`secret_key`; the span
        cleaner reads it directly, a dict lookup per attribute)."""

    def secret_key(self, key: str) -> bool:
        """Whether ``key`` names a secret (cached per key)."""
        found = self.secret_keys.get(key)
        if found is None:
            found = bool(SECRET_KEY.search(key))
            if len(self.secret_keys) < 4096:
                self.secret_keys[key] = found
        return found

    def text(self, key: str, value: str) -> str:
        """``value`` with every secret replaced by its marker (and lone surrogates, which no
        exporter can encode, spelled out: see :func:`utf8`)."""
        if value in self.known_clean:
            return value
        if not value.isascii():
            value = utf8(value)
        if not self._suspect(value):
            if len(value) <= 256:
                if len(self.known_clean) > 8192:
                    self.known_clean.clear()
                self.known_clean.add(value)
            return value
        for kind, pattern in self.patterns:
            value = pattern.sub(functools.partial(self._replace, key, kind), value)
        return value

    def _suspect(self, value: str) -> bool:
        """Whether ``value`` may hold a secret (cheap: substrings first, patterns after)."""
        lowered = value.lower()
        for anchor in _ANCHORS:
            if anchor in lowered:
                return bool(self.any.search(value))
        return self.user is not None and bool(self.user.search(value))

    def _replace(self, key: str, kind: str, match: re.Match[str]) -> str:
        whole = match.group(0)
        secret = match.group("v") if "v" in match.re.groupindex else whole
        if secret is None:
            return whole
        replacement = marker(kind)
        if self.callback is not None:
            try:
                decided = self.callback(ScrubMatch(key, kind, secret))
            except Exception as exc:
                if type(exc) not in self._callback_failures:  # once per kind of exception
                    self._callback_failures.add(type(exc))
                    logging.getLogger("agentobs").warning(
                        "agentobs: scrub_callback raised %s; the match is redacted",
                        type(exc).__name__,
                    )
                decided = None
            if isinstance(decided, str):
                replacement = decided
        start = match.start("v") - match.start() if secret is not whole else 0
        return whole[:start] + replacement + whole[start + len(secret) :]

    def value(self, key: str, value: Any) -> Any:
        """An attribute value cleaned: strings and lists of strings; the rest as it is."""
        if type(value) is str:
            if self.secret_key(key) and value:
                return marker(f"value of {key}")
            return self.text(key, value)
        if isinstance(value, (list, tuple)) and value and type(value[0]) is str:
            if self.secret_key(key):
                return [marker(f"value of {key}")] * len(value)
            cleaned = [self.text(key, v) if type(v) is str else v for v in value]
            return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
        return value


def _ungrouped(patterns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The patterns with named groups made anonymous (so they can be joined into one)."""
    return [(kind, re.sub(r"\(\?P<\w+>", "(", p)) for kind, p in patterns]


def utf8(value: str) -> str:
    """``value``, or, if it holds lone surrogates (as ``os.fsdecode`` yields for a file name
    that is not UTF-8), a copy with each spelled out as ``\\udcXX``: one such string would
    make the OTLP encoder reject its whole batch."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


ACTIVE: Scrubber | None = None
"""The scrubber ``configure()`` built (user patterns and callback included), or None when
scrubbing is off; set and reset by the pipeline."""

_default: Scrubber | None = None
_default_lock = threading.Lock()


def default() -> Scrubber:
    """A scrubber of the default patterns (for text written before or without configure())."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Scrubber()
    return _default


def text(value: str, key: str = "text") -> str:
    """``value`` cleaned by the configured scrubber, or by the default patterns when nothing
    is configured. Text agentobs writes itself (warnings, ``doctor``) is always cleaned, even
    with ``scrubbing=False``: that switch is for telemetry the application records."""
    return (ACTIVE or default()).text(key, value)
