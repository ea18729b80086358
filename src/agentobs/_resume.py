"""Suspend and resume a workflow, in one process and across processes.

``with agentobs.suspended("awaiting-review"):`` marks time a workflow spends waiting on the
outside world: a ``suspended {point}`` span, the workflow counted as suspended (and its
oldest-age gauge as ``waiting``) meanwhile, and the wait recorded by suspension point.

``token = agentobs.checkpoint()`` returns a small JSON-serialisable dict: the W3C
``traceparent``/``tracestate`` of the current span, the workflow (when it started, whether a
person intervened), stage, persona, budget names and session, the suspension point and when
it began, and a signature
(HMAC-SHA256 with ``configure(resume_secret=...)``, else a SHA-256 checksum). In another
process, even days later, ``with agentobs.resume(token):`` continues the workflow: a
``resume_workflow {name}`` span that joins the original trace (or links to it:
``resume_trace="link"``), the workflow, stage, persona and session restored, the suspension
duration recorded, and the attempt counted by result. A token that is malformed, tampered
with or too old gives one warning and a fresh run linked to the original (when its trace
context can be read), never an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import _catalogue as cat
from . import _context as ctx
from . import _hooks
from . import _names as n
from ._api import _record, end_workflow_run, workflow
from ._engine import Run, Scope, _internal, clean_attributes, clean_name
from ._errors import internal_errors, warn_once
from ._state import STATE

TOKEN_VERSION = 1
MAX_TOKEN_BYTES = 16384
_PROPAGATOR = TraceContextTextMapPropagator()
_SUSPENSION_KEY = otel_context.create_key("agentobs.suspension")
_FIELDS = {
    "traceparent": str,
    "tracestate": str,
    "workflow": str,
    "workflow_started_at": float,
    "stage": str,
    "persona": str,
    "chatmode": str,
    "budgets": list,
    "point": str,
    "suspended_at": float,
    "created_at": float,
    "session_id": str,
    "user_id": str,
    "session_kind": str,
    "interventions": int,
}


@dataclass
class Suspension:
    """A suspension in progress: where and since when, and whether a checkpoint was taken."""

    point: str
    since: float
    flow: ctx.WorkflowRun | None
    checkpointed: bool = False


class suspended(Scope):
    """Time the current workflow spends waiting on the outside world (a review, an approval,
    a rate limit): a ``suspended {point}`` span, the ``agentobs.suspension.duration``
    histogram, and the workflow counted as suspended (``waiting``) meanwhile.

    Take :func:`checkpoint` inside it to continue in another process: the suspension then
    ends where :func:`resume` picks the workflow up, and is measured there.
    """

    kind: ClassVar[str] = "suspended"
    __slots__ = ()
    _METRICS = (cat.SUSPENSION_DURATION.name,)

    def __init__(self, point: Any, **attributes: Any) -> None:
        super().__init__(point, {})
        self.attributes = {
            **clean_attributes(attributes),
            n.SUSPENSION_POINT: self.name,
            n.SPAN_TYPE: "suspension",
            n.OPENINFERENCE_KIND: "CHAIN",
        }

    def on_start(self, run: Run, parent: Any) -> Any:
        flow: ctx.WorkflowRun | None = parent.get(ctx.WORKFLOW_KEY)
        state = Suspension(self.name, time.time(), flow)
        if flow is not None:
            run.span.set_attribute(n.WORKFLOW_NAME, flow.name)
            flow.suspended_point, flow.suspended_since = self.name, state.since
        run.state = state
        return otel_context.set_value(_SUSPENSION_KEY, state, run.context)

    def _attributes(self, key: tuple[Any, ...], metric: str) -> dict[str, Any]:
        flow, stage, persona = key
        return {
            n.WORKFLOW_NAME: flow,
            n.STAGE_NAME: stage,
            n.SUSPENSION_POINT: self.name,
            n.PERSONA_NAME: persona,
        }

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        state: Suspension = run.state
        flow = state.flow
        if flow is not None:
            flow.suspended_point, flow.suspended_since = None, None
        if state.checkpointed:  # it goes on elsewhere: resume() measures it
            run.span.set_attribute(n.SUSPENSION_CHECKPOINTED, True)
            return
        run.span.set_attribute(n.SUSPENSION_SECONDS, seconds)
        parent = run.parent
        persona = parent.get(ctx.PERSONA_KEY)
        key = (
            None if flow is None else flow.name,
            parent.get(ctx.STAGE_KEY),
            None if persona is None else persona.name,
        )
        ((duration, attrs),) = self.metrics(key, self._METRICS, self._attributes)
        duration(seconds, attrs, parent)


# --- tokens ------------------------------------------------------------------------------------


def _canonical(payload: dict[str, Any]) -> bytes:
    body = {k: v for k, v in payload.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _signature(payload: dict[str, Any], secret: str | None) -> str:
    body = _canonical(payload)
    if secret:
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def _settings() -> tuple[str | None, float, str]:
    settings = STATE.settings
    if settings is None:
        return None, 30 * 86400.0, "join"
    return settings.resume_secret, settings.resume_max_age, settings.resume_trace


def checkpoint() -> dict[str, Any]:
    """A JSON-serialisable token from which :func:`resume` continues the current workflow,
    in this process or another. Never raises; outside a workflow it still carries the trace
    context, so a resumed run joins (or links to) the current trace."""
    now = time.time()
    payload: dict[str, Any] = {"v": TOKEN_VERSION, "created_at": now}
    with internal_errors("checkpoint"):
        context = otel_context.get_current()
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context)
        payload.update(carrier)
        flow: ctx.WorkflowRun | None = context.get(ctx.WORKFLOW_KEY)  # type: ignore[assignment]
        suspension: Suspension | None = context.get(_SUSPENSION_KEY)  # type: ignore[assignment]
        persona: Any = context.get(ctx.PERSONA_KEY)
        session: Any = context.get(ctx.SESSION_KEY)
        budgets = [b.name for b in context.get(ctx.BUDGETS_KEY) or () if b.name]  # type: ignore[attr-defined]
        fields: dict[str, Any] = {
            "workflow": None if flow is None else flow.name,
            "workflow_started_at": None
            if flow is None
            else now - (time.monotonic() - flow.started),
            "stage": context.get(ctx.STAGE_KEY),
            "persona": None if persona is None else persona.name,
            "chatmode": None if persona is None else persona.chatmode,
            "budgets": budgets or None,
            "point": None if suspension is None else suspension.point,
            "suspended_at": now if suspension is None else suspension.since,
            "session_id": None if session is None else session.id,
            "user_id": None if session is None else session.user_id,
            "session_kind": None if session is None else session.kind,
            "interventions": None if flow is None or not flow.interventions else flow.interventions,
        }
        payload.update({k: v for k, v in fields.items() if v is not None})
        if suspension is not None:
            suspension.checkpointed = True
        if flow is not None:
            flow.checkpointed = True
        if STATE.tracer is not None:
            trace.get_current_span(context).add_event(
                "agentobs.checkpoint",
                clean_attributes({n.SUSPENSION_POINT: payload.get("point")}),
            )
            _record(
                cat.WORKFLOW_CHECKPOINTS.name,
                1,
                {
                    n.WORKFLOW_NAME: payload.get("workflow"),
                    n.SUSPENSION_POINT: payload.get("point"),
                },
            )
    payload["sig"] = _signature(payload, _settings()[0])
    return payload


@dataclass
class Verdict:
    """What :func:`_read` made of a token: ``result`` is ok, malformed, tampered or expired."""

    result: str
    payload: dict[str, Any]
    problem: str = ""


def _read(token: Any, secret: str | None, max_age: float) -> Verdict:
    """Decode and check a token; never raises."""
    payload: Any = token
    try:
        if isinstance(token, (bytes, bytearray)):
            token = bytes(token).decode("utf-8")
        if isinstance(token, str):
            if len(token) > MAX_TOKEN_BYTES:
                return Verdict("malformed", {}, "longer than a checkpoint token can be")
            payload = json.loads(token)
    except ValueError:
        return Verdict("malformed", {}, "not JSON")
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        return Verdict("malformed", {}, "not a checkpoint token of this agentobs version")
    clean: dict[str, Any] = {}
    for key, kind in _FIELDS.items():
        value = payload.get(key)
        if value is None:
            continue
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            clean[key] = float(value)
        elif kind is int and type(value) is int and 0 <= value < 2**31:
            clean[key] = value
        elif kind is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[key] = value[:16]
        elif kind is str and isinstance(value, str) and len(value) <= 1024:
            clean[key] = value
        else:
            return Verdict("malformed", {}, f"field {key!r} has the wrong type")
    signature = payload.get("sig")
    if not isinstance(signature, str):
        return Verdict("malformed", clean, "no signature")
    try:
        expected = _signature(payload, secret)
    except (TypeError, ValueError):
        return Verdict("malformed", {}, "not serialisable")
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        how = "does not match its signature" if secret else "does not match its checksum"
        if secret and signature.startswith("sha256:"):
            how = "is not signed with the configured resume_secret"
        return Verdict("tampered", clean, how)
    created = clean.get("created_at", 0.0)
    age = time.time() - created
    if age > max_age:
        return Verdict("expired", clean, f"{age:.0f} s old, past resume_max_age={max_age:g}")
    return Verdict("ok", clean)


def _remote(payload: dict[str, Any]) -> Any:
    """The span context of the token's ``traceparent``, or None."""
    carrier = {k: payload[k] for k in ("traceparent", "tracestate") if k in payload}
    if "traceparent" not in carrier:
        return None
    span_context = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    return span_context if span_context.is_valid else None


class resume(workflow):
    """Continue the workflow a :func:`checkpoint` token describes (see the module doc).

    ``trace`` overrides ``configure(resume_trace=...)``: ``"join"`` puts the resumed run in
    the checkpoint's trace, ``"link"`` starts a new trace that links to it.
    """

    kind: ClassVar[str] = "resume"
    __slots__ = ("mode", "token", "verdict")

    def __init__(self, token: Any, *, trace: str | None = None, **attributes: Any) -> None:
        Scope.__init__(self, "resume", {})
        self.budget = None
        self.token = token
        self.mode = trace if trace in ("join", "link") else None
        if trace is not None and self.mode is None:
            warn_once(
                f"resume-trace:{trace!r}",
                "agentobs: resume(trace=%r) takes 'join' or 'link'; using the configured mode",
                trace,
            )
        self.verdict: Verdict | None = None
        self.attributes = clean_attributes(attributes)

    def _start(self, tracer: Any) -> Run | None:
        try:
            secret, max_age, mode = _settings()
            verdict = self.verdict = _read(self.token, secret, max_age)
            payload = verdict.payload
            if verdict.result != "ok":
                warn_once(
                    f"resume:{verdict.result}",
                    "agentobs: resume() got a %s checkpoint token (%s); starting a fresh run "
                    "linked to the original where it can be read",
                    verdict.result,
                    verdict.problem,
                )
            self.name = clean_name(payload.get("workflow", "unknown"), "workflow")
            self.span_name = f"resume_workflow {self.name}"
            remote = _remote(payload)
            mode = self.mode or mode
            parent = otel_context.get_current()
            links: list[Link] = []
            if remote is not None and verdict.result == "ok" and mode == "join":
                parent = trace.set_span_in_context(trace.NonRecordingSpan(remote), parent)
            elif remote is not None:
                links.append(Link(remote, {n.LINK_TYPE: "resume"}))  # under what runs here
            attributes = {
                **self.attributes,
                n.WORKFLOW_NAME: self.name,
                n.SPAN_TYPE: "resume",
                n.OPENINFERENCE_KIND: "CHAIN",
                n.RESUME_RESULT: verdict.result,
                n.RESUME_MODE: mode if verdict.result == "ok" else "fresh",
            }
            if verdict.result == "ok":
                restored = clean_attributes(
                    {
                        n.SUSPENSION_POINT: payload.get("point"),
                        n.STAGE_NAME: payload.get("stage"),
                        n.PERSONA_NAME: payload.get("persona"),
                        n.PERSONA_CHATMODE: payload.get("chatmode"),
                        n.BUDGET_NAMES: payload.get("budgets"),
                        n.SESSION_ID: payload.get("session_id"),
                        n.LANGFUSE_SESSION_ID: payload.get("session_id"),
                        n.USER_ID: payload.get("user_id"),
                        n.LANGFUSE_USER_ID: payload.get("user_id"),
                    }
                )
                attributes.update(restored)
            start = time.time_ns()
            span = tracer.start_span(
                self.span_name, parent, self.span_kind, attributes, links, start
            )
        except Exception as exc:
            _internal(exc, "resume.start")
            return None
        try:
            run = Run(self, span, parent, trace.set_span_in_context(span, parent), start)
            run.context = self._restore(run, verdict, start / 1e9)
            return run
        except Exception as exc:
            span.end()
            _internal(exc, "resume.start")
            return None

    def _restore(self, run: Run, verdict: Verdict, now: float) -> Any:
        payload = verdict.payload
        ok = verdict.result == "ok"
        started = payload.get("workflow_started_at") if ok else None
        age = max(0.0, now - started) if started is not None else 0.0
        flow = ctx.start_workflow(self.name, age)
        run.state = flow
        point = payload.get("point")
        _record(
            cat.WORKFLOW_RESUMES.name,
            1,
            {
                n.WORKFLOW_NAME: self.name,
                n.SUSPENSION_POINT: point,
                n.RESUME_RESULT: verdict.result,
            },
        )
        context = otel_context.set_value(ctx.WORKFLOW_KEY, flow, run.context)
        if not ok:
            return context
        flow.interventions = payload.get("interventions", 0)  # a person helped before
        stage, persona = payload.get("stage"), payload.get("persona")
        if stage is not None:
            context = otel_context.set_value(ctx.STAGE_KEY, stage, context)
        if persona is not None:
            flow.last_persona = persona
            _hooks.first_persona()
            info = ctx.PersonaInfo(persona, payload.get("chatmode"))
            context = otel_context.set_value(ctx.PERSONA_KEY, info, context)
        session_id = payload.get("session_id")
        if session_id is not None:
            _hooks.first_persona()
            user = payload.get("user_id")
            ids = {n.SESSION_ID: session_id, n.LANGFUSE_SESSION_ID: session_id}
            if user is not None:
                ids.update({n.USER_ID: user, n.LANGFUSE_USER_ID: user})
            info_s = ctx.SessionInfo(session_id, user, payload.get("session_kind"), ids)
            context = otel_context.set_value(ctx.SESSION_KEY, info_s, context)
        suspended_at = payload.get("suspended_at")
        if suspended_at is not None:
            waited = max(0.0, now - suspended_at)
            run.span.set_attribute(n.SUSPENSION_SECONDS, waited)
            _record(
                cat.SUSPENSION_DURATION.name,
                waited,
                {
                    n.WORKFLOW_NAME: self.name,
                    n.STAGE_NAME: stage,
                    n.SUSPENSION_POINT: point,
                    n.PERSONA_NAME: persona,
                },
            )
        return context

    def on_start(self, run: Run, parent: Any) -> Any:  # _start does it all
        return run.context

    def on_end(self, run: Run, seconds: float, status: str, error: str | None) -> None:
        flow: ctx.WorkflowRun = run.state
        total = time.monotonic() - flow.started  # since the workflow first started
        end_workflow_run(run, self.name, total, status, error, self)
