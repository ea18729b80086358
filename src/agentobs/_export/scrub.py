"""The scrubbing span processor: secrets out of every span before any exporter sees it.

It sits in front of every exporter (pipeline layer) and hands it a cleaned copy of each span,
agentobs's own and every other instrumentation's alike. Behind a batch processor it runs in
the export thread (:class:`ScrubbingSpanExporter`), off the application's hot path; only
synchronous processors (in-memory capture in tests) get it in the thread that ends the span
(:class:`ScrubbingSpanProcessor`). It removes:

* **Secrets** in span names, attribute values, event attributes and status messages: API keys
  (OpenAI/Anthropic ``sk-...``, AWS, GitHub, Google, Slack), bearer and basic credentials,
  JWTs, private keys, ``password=...``-style pairs, passwords in URLs, and the user's own
  patterns. Each is replaced by a marker saying what was removed, ``[REDACTED API key]``,
  never echoing any of it. An attribute whose *key* names a secret (``...authorization``,
  ``...api_key``, ``...password``, ``...cookie``) loses its whole value. A callback may decide
  per match. ``scrubbing=False`` turns this off.
* **Content**, under the hard off switch (``AGENTOBS_DISABLE_CONTENT_CAPTURE``): prompt and
  completion attributes and events of every instrumentation are removed, and
  ``agentobs.content.removed`` lists the keys that were.

Token counts and other numbers are never touched. If cleaning a span fails, the span is
dropped (one warning) rather than exported uncleaned.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from .. import _names as n
from .._errors import warn_once

_SECRET_VALUE = r"[^\s\"'\\&,;}<>]{3,}"
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
        r"(?i:\b(?:password|passwd|pwd|passphrase)[\"']?\s*[:=]\s*[\"']?)"
        rf"(?P<v>{_SECRET_VALUE})",
    ),
    (
        "secret",
        r"(?i:\b(?:secret|client_secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token"
        rf"|refresh[_-]?token|private[_-]?key)[\"']?\s*[:=]\s*[\"']?)(?P<v>{_SECRET_VALUE})",
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

CONTENT_KEYS = frozenset(
    {
        n.INPUT_MESSAGES,
        n.OUTPUT_MESSAGES,
        n.SYSTEM_INSTRUCTIONS,
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "gen_ai.prompt",
        "gen_ai.completion",
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.trace.input",
        "langfuse.trace.output",
        "mlflow.spanInputs",
        "mlflow.spanOutputs",
    }
)
CONTENT_PREFIXES = (
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
)
CONTENT_EVENTS = frozenset(
    {
        "gen_ai.client.inference.operation.details",
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
    }
)


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
    "://",
)
"""Lowercase text that every default pattern's match contains: a string with none of them is
clean, found with fast substring searches instead of running the patterns."""


def is_content(key: str) -> bool:
    """Whether attribute ``key`` holds prompt or completion content (any instrumentation)."""
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


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
        self.known_clean: set[str] = set()
        self._secret_keys: dict[str, bool] = {}

    def secret_key(self, key: str) -> bool:
        """Whether ``key`` names a secret (cached per key)."""
        found = self._secret_keys.get(key)
        if found is None:
            found = bool(SECRET_KEY.search(key))
            if len(self._secret_keys) < 4096:
                self._secret_keys[key] = found
        return found

    def text(self, key: str, value: str) -> str:
        """``value`` with every secret replaced by its marker."""
        if value in self.known_clean:
            return value
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
                warn_once(
                    f"scrub-callback:{type(exc).__name__}",
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


class SpanCleaner:
    """Makes the cleaned copy of a span (or returns the span itself when nothing changes)."""

    def __init__(self, scrubber: Scrubber | None, remove_content: bool) -> None:
        self.scrubber = scrubber
        self.remove_content = remove_content

    def clean(self, span: ReadableSpan) -> ReadableSpan:
        """``span``, or a copy of it with secrets (and, if asked, content) removed.

        Runs once per exported span (in the batch thread): values already seen clean, under
        keys that name no secret, are passed over with a set lookup each.
        """
        scrubber = self.scrubber
        remove = self.remove_content
        known_clean: set[str] = set() if scrubber is None else scrubber.known_clean
        key_is_secret: dict[str, bool] = {} if scrubber is None else scrubber._secret_keys
        changed: dict[str, Any] | None = None
        removed: list[str] = []
        for key, value in _items(span):
            if remove and is_content(key):
                removed.append(key)
                continue
            if scrubber is None:
                continue
            kind = type(value)
            if kind is str:
                skip = value in known_clean and key_is_secret.get(key) is False
            elif kind is tuple:  # e.g. finish reasons
                skip = key_is_secret.get(key) is False and known_clean.issuperset(value)
            else:
                skip = kind is int or kind is float or kind is bool
            if skip:
                continue
            cleaned = scrubber.value(key, value)
            if cleaned is not value:
                if changed is None:
                    changed = {}
                changed[key] = cleaned
        events = span.events if getattr(span, "_events", True) else ()
        new_events = self._events(events) if events else None
        name = span.name
        new_name = name
        if scrubber is not None and name not in known_clean:
            new_name = scrubber.text("span name", name)
        status = span.status
        new_status = status
        if scrubber is not None and status.description:
            description = scrubber.text("status", status.description)
            if description != status.description:
                new_status = Status(status.status_code, description)
        if not (changed or removed or new_events is not None or new_name != name) and (
            new_status is status
        ):
            return span
        attributes = span.attributes or {}
        new_attributes = {k: v for k, v in attributes.items() if k not in removed}
        if changed:
            new_attributes.update(changed)
        if removed:
            new_attributes[n.CONTENT_REMOVED] = removed
        return ReadableSpan(
            name=new_name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=new_attributes,
            events=events if new_events is None else new_events,
            links=span.links,
            kind=span.kind,
            status=new_status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _events(self, events: Sequence[Event]) -> list[Event] | None:
        """The events cleaned, or None when none changed."""
        scrubber = self.scrubber
        result: list[Event] = []
        changed = False
        for event in events:
            if self.remove_content and event.name in CONTENT_EVENTS:
                changed = True
                continue
            attributes = dict(event.attributes or {})
            if scrubber is not None:
                for key, value in attributes.items():
                    cleaned = scrubber.value(key, value)
                    if cleaned is not value:
                        attributes[key] = cleaned
                        changed = True
            result.append(Event(event.name, attributes, event.timestamp))
        return result if changed else None

    def clean_or_drop(self, span: ReadableSpan) -> ReadableSpan | None:
        """:meth:`clean`, or None (one warning) if cleaning fails: never export uncleaned."""
        try:
            return self.clean(span)
        except Exception as exc:
            warn_once(
                f"scrub:{type(exc).__name__}",
                "agentobs: scrubbing a span failed (%s: %s); the span is dropped",
                type(exc).__name__,
                exc,
            )
            return None


def _items(span: ReadableSpan) -> Any:
    """The attribute items, read straight from the SDK's dict when it has one (iterating the
    read-only view goes through a lock per key)."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    return inner.items() if type(inner) is dict else (span.attributes or {}).items()


class ScrubbingSpanProcessor(SpanProcessor):
    """Gives ``processors`` a scrubbed copy of every span that ends (in the ending thread)."""

    def __init__(self, processors: Sequence[SpanProcessor], cleaner: SpanCleaner) -> None:
        self.processors = list(processors)
        self.cleaner = cleaner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        clean = self.cleaner.clean_or_drop(span)
        if clean is not None:
            for processor in self.processors:
                processor.on_end(clean)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        ok = True
        for processor in self.processors:
            ok = processor.force_flush(timeout_millis) is not False and ok
        return ok


class ScrubbingSpanExporter(SpanExporter):
    """Scrubs each batch before ``exporter`` sends it (in the batch processor's thread, off
    the application's hot path)."""

    def __init__(self, exporter: SpanExporter, cleaner: SpanCleaner) -> None:
        self.exporter = exporter
        self.cleaner = cleaner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        clean = self.cleaner.clean
        try:
            cleaned = [clean(span) for span in spans]
        except Exception:  # again one by one: only the span that fails is dropped
            cleaned = [c for c in map(self.cleaner.clean_or_drop, spans) if c is not None]
        return self.exporter.export(cleaned) if cleaned else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.exporter.force_flush(timeout_millis))


def cleaner(settings: Any) -> SpanCleaner:
    """The span cleaner ``settings`` ask for."""
    scrubber = None
    if getattr(settings, "scrubbing", True):
        scrubber = Scrubber(
            getattr(settings, "scrub_patterns", ()), getattr(settings, "scrub_callback", None)
        )
    return SpanCleaner(scrubber, bool(getattr(settings, "content_hard_off", False)))


def exporter(span_cleaner: SpanCleaner, inner: SpanExporter) -> SpanExporter:
    """``inner``, receiving scrubbed spans."""
    return ScrubbingSpanExporter(inner, span_cleaner)


def processors(span_cleaner: SpanCleaner, inner: Sequence[SpanProcessor]) -> list[SpanProcessor]:
    """``inner`` (processors given to the pipeline as they are), receiving scrubbed spans.

    A plain SDK ``BatchSpanProcessor`` keeps its place and scrubs in its export thread: its
    exporter is wrapped (:class:`ScrubbingSpanExporter`), as for the exporters ``configure()``
    builds, so the application's thread does not pay for it. Every other processor (a
    ``SimpleSpanProcessor``, as ``agentobs.testing.capture()`` uses, or one of unknown kind)
    sits behind a :class:`ScrubbingSpanProcessor`, in the thread that ends the span. With
    scrubbing off and no hard off switch there is nothing to clean, and ``inner`` is returned
    as it is.
    """
    if span_cleaner.scrubber is None and not span_cleaner.remove_content:
        return list(inner)
    result: list[SpanProcessor] = []
    behind: list[SpanProcessor] = []  # consecutive ones, so the order is kept
    for processor in inner:
        if _scrub_in_export(processor, span_cleaner):
            if behind:
                result.append(ScrubbingSpanProcessor(behind, span_cleaner))
                behind = []
            result.append(processor)
        else:
            behind.append(processor)
    if behind:
        result.append(ScrubbingSpanProcessor(behind, span_cleaner))
    return result


def _scrub_in_export(processor: SpanProcessor, span_cleaner: SpanCleaner) -> bool:
    """Wrap the exporter of an SDK ``BatchSpanProcessor`` in place; False when ``processor``
    is anything else, or a subclass that sees spans itself, or its layout is not the one known
    (the SDK keeps the exporter in ``_batch_processor._exporter`` behind the public read-only
    ``span_exporter``; SDK 1.3x-1.4x)."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if not isinstance(processor, BatchSpanProcessor):
        return False
    cls = type(processor)
    if cls.on_end is not BatchSpanProcessor.on_end or cls.on_start is not (
        BatchSpanProcessor.on_start
    ):
        return False  # it may read span contents on the application's thread
    batch: Any = getattr(processor, "_batch_processor", None)
    current: Any = getattr(batch, "_exporter", None)
    if current is None or current is not getattr(processor, "span_exporter", None):
        return False
    if isinstance(current, ScrubbingSpanExporter):  # given to a pipeline before
        current = current.exporter
    batch._exporter = ScrubbingSpanExporter(current, span_cleaner)
    return True
