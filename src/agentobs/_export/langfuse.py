"""Langfuse: every agentobs span to its OTLP endpoint, quality-gate results as scores.

Turned on by ``configure(langfuse=True)`` or by ``LANGFUSE_PUBLIC_KEY`` and
``LANGFUSE_SECRET_KEY`` in the environment (``LANGFUSE_HOST`` or ``LANGFUSE_BASE_URL`` for a
self-hosted server; ``langfuse=False`` or ``AGENTOBS_LANGFUSE=false`` turns it off).

* Traces go over OTLP/HTTP (protobuf, gzip) to ``{host}/api/public/otel/v1/traces`` with
  Basic auth and ``x-langfuse-ingestion-version: 4``, beside any other exporter, after the
  scrubbing processor. agentobs's own exporter is used, not the Langfuse SDK's span
  processor, so nothing is attached to the global TracerProvider and no span is filtered out.
* Each span gets ``langfuse.observation.type`` explicitly (workflows, stages, tasks and
  personas are ``chain``; agents ``agent``; tools ``tool``; LLM calls ``generation``; quality
  gates ``evaluator``), and LLM calls get the usage, cost, model, completion start time and
  (when captured) input and output Langfuse reads. These attributes are added in the copy
  sent to Langfuse only; other backends do not see them.
* Gate results go to Langfuse as scores through the ``langfuse`` package
  (``pip install 'agentobs[langfuse]'``): a BOOLEAN score named after the gate on the gate's
  span, and a NUMERIC ``{gate}.score`` when the gate has a score.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .. import _hooks
from .. import _names as n
from .._errors import logger, warn_once

OBSERVATION_TYPE = "langfuse.observation.type"
_TYPES = {
    "workflow": "chain",
    "stage": "chain",
    "task": "chain",
    "persona": "chain",
    "agent": "agent",
    "tool": "tool",
    "llm": "generation",
    "gate": "evaluator",
}


def headers(target: Any) -> dict[str, str]:
    """The headers Langfuse's OTLP endpoint needs."""
    token = base64.b64encode(f"{target.public_key}:{target.secret_key}".encode()).decode()
    return {
        "Authorization": f"Basic {token}",
        "x-langfuse-ingestion-version": "4",
        "x-langfuse-public-key": target.public_key,
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat()


def langfuse_attributes(span: ReadableSpan) -> dict[str, Any]:
    """The attributes Langfuse reads, derived from an agentobs span's own."""
    attributes = span.attributes or {}
    extra: dict[str, Any] = {}
    kind = _TYPES.get(str(attributes.get(n.SPAN_TYPE, "")))
    if kind is not None and OBSERVATION_TYPE not in attributes:
        extra[OBSERVATION_TYPE] = kind
    if kind == "generation":
        inp = _int(attributes.get(n.USAGE_INPUT))
        out = _int(attributes.get(n.USAGE_OUTPUT))
        if inp is not None or out is not None:
            read = _int(attributes.get(n.USAGE_CACHE_READ)) or 0
            created = _int(attributes.get(n.USAGE_CACHE_CREATION)) or 0
            usage = {"input": max((inp or 0) - read - created, 0), "output": out or 0}
            if read:
                usage["cache_read_input_tokens"] = read
            if created:
                usage["cache_creation_input_tokens"] = created
            usage["total"] = (inp or 0) + (out or 0)
            extra["langfuse.observation.usage_details"] = json.dumps(usage)
        cost = attributes.get(n.COST_USD)
        if isinstance(cost, float):
            extra["langfuse.observation.cost_details"] = json.dumps({"total": cost})
        model = attributes.get(n.RESPONSE_MODEL) or attributes.get(n.REQUEST_MODEL)
        if model:
            extra["langfuse.observation.model.name"] = model
        delay = attributes.get(n.TIME_TO_FIRST_CHUNK)
        if isinstance(delay, float) and span.start_time:
            extra["langfuse.observation.completion_start_time"] = _iso(
                span.start_time + int(delay * 1e9)
            )
        if n.INPUT_MESSAGES in attributes:
            extra["langfuse.observation.input"] = attributes[n.INPUT_MESSAGES]
        if n.OUTPUT_MESSAGES in attributes:
            extra["langfuse.observation.output"] = attributes[n.OUTPUT_MESSAGES]
    if any(event.name == n.BUDGET_EXCEEDED_EVENT for event in span.events):
        extra["langfuse.observation.level"] = "WARNING"
        extra["langfuse.observation.status_message"] = "token budget exceeded"
    return extra


def for_langfuse(span: ReadableSpan) -> ReadableSpan:
    """``span``, with the Langfuse attributes added (a copy; the original is unchanged)."""
    extra = langfuse_attributes(span)
    if not extra:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**(span.attributes or {}), **extra},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class LangfuseSpanExporter(SpanExporter):
    """OTLP/HTTP to Langfuse, with the attributes it maps added to each span."""

    def __init__(self, target: Any, timeout: float = 10.0) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.endpoint = target.traces_endpoint
        self._inner = OTLPSpanExporter(
            endpoint=self.endpoint,
            headers=headers(target),
            timeout=timeout,
            compression=Compression.Gzip,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([for_langfuse(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))


class Scores:
    """Sends quality-gate results as Langfuse scores (a hook in ``_hooks.RESULT_HOOKS``)."""

    def __init__(self, target: Any, environment: str | None = None) -> None:
        from langfuse import Langfuse
        from opentelemetry.sdk.trace import TracerProvider

        # A private provider: the Langfuse client must never touch the global one.
        self._provider = TracerProvider()
        self.public_key = target.public_key
        self.client = Langfuse(
            public_key=target.public_key,
            secret_key=target.secret_key,
            base_url=target.host,
            tracer_provider=self._provider,
            should_export_span=lambda _span: False,
            environment=environment,
        )
        self._lock = threading.Lock()

    def __call__(
        self, span: Any, name: str, passed: bool, score: float | None, reason: str | None
    ) -> None:
        context = span.get_span_context()
        if not context.is_valid:
            return
        trace_id = format(context.trace_id, "032x")
        span_id = format(context.span_id, "016x")
        self.client.create_score(
            name=name,
            value=1.0 if passed else 0.0,
            data_type="BOOLEAN",
            comment=reason or None,
            trace_id=trace_id,
            observation_id=span_id,
        )
        if score is not None:
            self.client.create_score(
                name=f"{name}.score",
                value=float(score),
                data_type="NUMERIC",
                trace_id=trace_id,
                observation_id=span_id,
            )

    def close(self) -> None:
        """Send what is queued and stop the client's threads."""
        with self._lock:
            try:
                self.client.flush()
                self.client.shutdown()
            finally:
                self._provider.shutdown()
                _forget_client(self.public_key)


def _forget_client(public_key: str) -> None:
    """Langfuse keeps one client per public key; drop ours so a later configure() starts a
    fresh one (private API, hence the guard)."""
    try:
        from langfuse._client.resource_manager import LangfuseResourceManager

        with LangfuseResourceManager._lock:
            LangfuseResourceManager._instances.pop(public_key, None)
    except Exception as exc:  # a future langfuse may differ: never fatal
        logger.debug("agentobs: could not reset the Langfuse client: %s", exc)


_ENVIRONMENT_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def start_scores(target: Any, environment: str | None) -> Scores | None:
    """Register the gate-score hook; None (one warning) without the ``langfuse`` package."""
    if environment and (
        not set(environment) <= _ENVIRONMENT_OK or environment.startswith("langfuse")
    ):
        environment = None  # Langfuse accepts [a-z0-9-_] only
    try:
        scores = Scores(target, environment)
    except ImportError:
        warn_once(
            "langfuse-missing",
            "agentobs: traces go to Langfuse, but quality-gate scores need the langfuse "
            "package: pip install 'agentobs[langfuse]'",
        )
        return None
    _hooks.RESULT_HOOKS.append(scores)
    return scores


def stop_scores(scores: Scores | None) -> None:
    """Unregister the hook and send the scores still queued."""
    if scores is None:
        return
    if scores in _hooks.RESULT_HOOKS:
        _hooks.RESULT_HOOKS.remove(scores)
    scores.close()
