"""Standard ``logging`` and OpenTelemetry logs.

:func:`agentobs.configure` bridges the root logger to OpenTelemetry logs, so every record
carries the trace and span ids of the span that was current when it was logged.
:class:`JsonFormatter` writes the same fields as one JSON object per line, for stdout::

    handler = logging.StreamHandler()
    handler.setFormatter(agentobs.logs.JsonFormatter())
    logging.getLogger().addHandler(handler)
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

__all__ = ["JsonFormatter"]

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_SEVERITY_NUMBER = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}


def _current_ids() -> tuple[str | None, str | None]:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, severity, logger, body, ids, attributes."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _current_ids()
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "severity_text": record.levelname,
            "severity_number": _SEVERITY_NUMBER.get(record.levelname, 0),
            "logger": record.name,
            "body": record.getMessage(),
            "trace_id": trace_id,
            "span_id": span_id,
        }
        attributes = {
            key: value if isinstance(value, (str, int, float, bool)) else repr(value)
            for key, value in vars(record).items()
            if key not in _RESERVED
        }
        attributes.update({"code.file.path": record.pathname, "code.line.number": record.lineno})
        if record.exc_info and record.exc_info[0] is not None:
            attributes["exception.type"] = record.exc_info[0].__name__
            attributes["exception.message"] = str(record.exc_info[1])
            attributes["exception.stacktrace"] = self.formatException(record.exc_info)
        document["attributes"] = attributes
        scrubber = _scrubber()
        if scrubber is not None:  # secrets out of this exit too, as out of the exporters
            document["body"] = scrubber.text("body", str(document["body"]))
            for key, value in attributes.items():
                attributes[key] = scrubber.value(key, value)
        return json.dumps(document, default=repr)


def _scrubber() -> Any:
    """The configured scrubber; the default patterns before ``configure()``; None when
    ``configure(scrubbing=False)`` turned scrubbing off."""
    from . import _secrets
    from ._state import STATE

    if STATE.settings is not None and not STATE.settings.scrubbing:
        return None
    return _secrets.ACTIVE or _secrets.default()


class _NotOurExporters(logging.Filter):
    """Keeps the OpenTelemetry SDK's own log lines out of the pipeline that carries them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("opentelemetry")


def bridge_handler(logger_provider: Any, level: int) -> logging.Handler:
    """A handler that turns ``logging`` records into OpenTelemetry log records."""
    import warnings

    from opentelemetry.sdk._logs import LoggingHandler

    # The SDK points to opentelemetry-instrumentation-logging's handler instead; importing that
    # package costs ~250 ms at configure() (it loads the semconv registry), for the same work.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=level, logger_provider=logger_provider)
    handler.addFilter(_NotOurExporters())
    return handler
