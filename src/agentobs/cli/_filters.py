"""``agentobs report`` filters: ``--since``, ``--service``, ``--workflow`` and ``--trace``.

They narrow what was read before it is summarised, so every section of the report (and the
JSON) answers for the same slice. Spans and logs are kept by time, service, and for
``--workflow`` / ``--trace`` by the traces chosen; metric points by time, service and the
``gen_ai.workflow.name`` attribute (a trace has no metrics of its own).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from .._localdata import LocalData
from .._names import WORKFLOW_NAME
from .._spanindex import display_name, span_kind

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_TRACE_PREFIX = 6


class FilterError(ValueError):
    """A filter that cannot be applied; the message says what to change."""


@dataclass(frozen=True)
class Filters:
    """What to keep; empty fields keep everything."""

    since_ns: int = 0
    service: str = ""
    workflow: str = ""
    trace: str = ""

    def described(self, since: str = "") -> dict[str, str]:
        """The filters in force, as ``--option: value`` for the report's header."""
        shown = {"--since": since, "--service": self.service, "--workflow": self.workflow}
        shown["--trace"] = self.trace
        return {key: value for key, value in shown.items() if value}


def parse_since(text: str, now_s: float | None = None) -> int:
    """``30m``, ``2h``, ``1d``, ``1w`` ago, or an ISO 8601 time (UTC unless it says
    otherwise), as Unix nanoseconds."""
    now = time.time() if now_s is None else now_s
    match = _DURATION.match(text)
    if match:
        return int((now - float(match.group(1)) * _SECONDS[match.group(2).lower()]) * 1e9)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"--since {text!r}: expected a duration such as 30m, 2h, 1d, or an ISO 8601 time "
            "such as 2026-12-03T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1e9)


def _trace_id(data: LocalData, wanted: str) -> str:
    """The one trace id of ``data`` that is or starts with ``wanted``."""
    prefix = wanted.strip().lower()
    if len(prefix) < MIN_TRACE_PREFIX:
        raise FilterError(f"--trace {wanted!r}: give at least {MIN_TRACE_PREFIX} hex digits")
    found = sorted({s.trace_id for s in data.spans if s.trace_id.startswith(prefix)})
    if not found:
        raise FilterError(f"--trace {wanted!r}: no trace in {data.directory} has that id")
    if len(found) > 1:
        raise FilterError(f"--trace {wanted!r}: {len(found)} traces start so; give more digits")
    return found[0]


def apply(data: LocalData, filters: Filters) -> tuple[LocalData, str]:
    """``data`` narrowed by ``filters``, and the full id of the chosen trace (or "")."""
    spans, points, logs = data.spans, data.points, data.logs
    if filters.since_ns:
        spans = [s for s in spans if s.end_ns >= filters.since_ns]
        points = [p for p in points if p.time_ns >= filters.since_ns]
        logs = [r for r in logs if r.time_ns >= filters.since_ns]
    if filters.service:
        spans = [s for s in spans if s.service == filters.service]
        points = [p for p in points if p.service == filters.service]
        logs = [r for r in logs if r.service == filters.service]
    if filters.workflow:
        traces = {
            s.trace_id
            for s in spans
            if span_kind(s) == "workflow" and display_name(s, "workflow") == filters.workflow
        }
        spans = [s for s in spans if s.trace_id in traces]
        points = [p for p in points if p.attributes.get(WORKFLOW_NAME) == filters.workflow]
        logs = [r for r in logs if r.trace_id in traces]
    trace = ""
    if filters.trace:
        trace = _trace_id(replace(data, spans=spans), filters.trace)
        spans = [s for s in spans if s.trace_id == trace]
        points = []
        logs = [r for r in logs if r.trace_id == trace]
    return replace(data, spans=spans, points=points, logs=logs), trace
