"""Which agentobs pipeline the plugin records into during one session, and its export problems.

Either the plugin configures one (``--agentobs-export`` or an OTLP endpoint in the
environment asked for it) and shuts it down at the end, or agentobs was configured before the
session (a conftest, ``agentobs.testing.capture()``) and the plugin records into that one
without ever shutting it down. If the pipeline is replaced during the run (tests that
configure agentobs themselves), the plugin stops recording rather than write into theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import weakref
from collections.abc import Iterator
from typing import Any

from .._state import STATE

FLUSH_TIMEOUT = 5.0
SHUTDOWN_TIMEOUT = 2.0
_EXPORT_LOGGERS = ("opentelemetry", "agentobs")


_PIPELINE_MODULE = "agentobs._export.pipeline"


def _current() -> Any:
    """The pipeline agentobs records into, if any, without importing the pipeline's module (and
    the SDK) when nothing did: a run that exports nothing never loads them."""
    module = sys.modules.get(_PIPELINE_MODULE)
    return module.current() if module is not None else None


class BindError(Exception):
    """The plugin could not configure agentobs; the message says why."""


class _ProblemHandler(logging.Handler):
    """Keeps the first warnings of the exporters (the pipeline already drops repeats)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.messages) < 3:
            try:
                self.messages.append(record.getMessage().splitlines()[0][:300])
            except Exception:
                self.messages.append(str(record.msg)[:300])


class Telemetry:
    """The pipeline of one session: its tracer and recorders while it is still current."""

    def __init__(self, pipeline: Any, owned: bool) -> None:
        self._pipeline = weakref.ref(pipeline)  # for identity only: never keeps one alive
        self.owned = owned
        self.tracer: Any = STATE.tracer
        self.meter: Any = STATE.meter
        self.recorders: dict[str, Any] = dict(STATE.recorders or {})
        self._handler = _ProblemHandler()
        logging.getLogger(_EXPORT_LOGGERS[0]).addHandler(self._handler)
        self._closed = False
        self.shipper: Any = None
        """In an xdist worker whose controller exports its spans, the
        :class:`~._worker_spans.SpanShipper` that keeps them for it (this pipeline exports
        none); else None."""

    @classmethod
    def bind(
        cls,
        export: str | None,
        service_name: str,
        *,
        explicit: bool = True,
        force: bool = False,
        ship_spans_of: str | None = None,
    ) -> Telemetry | None:
        """The pipeline to record into, or None when the options ask for none.

        ``force`` configures a pipeline with no exporter when nothing else would (the budget
        marker needs spans to count tokens). ``ship_spans_of`` (an xdist worker's name, when
        the controller exports the spans) configures one that exports no span and keeps them
        for the controller instead; a pipeline configured before the session stays as it is.
        """
        current = _current()
        if current is not None:
            if export == "none" and not force:
                return None
            telemetry = cls(current, owned=False)
            from ._usage import USAGE

            if hasattr(current.tracer_provider, "add_span_processor"):
                USAGE.attach_to(current.tracer_provider)
            return telemetry
        if export in (None, "none") and not force:
            return None
        from .._export import pipeline as _pipeline
        from .._settings import resolve
        from ._usage import USAGE

        exporter: str | None = export if export not in (None, "none") else "none"
        if not explicit and not force:
            exporter = None  # the environment's OTLP endpoint, and its OTEL_*_EXPORTER
        try:
            settings = resolve(
                exporter=exporter,
                resource_attributes={"service.name": service_name},
                logs=None if os.environ.get("AGENTOBS_LOGS", "").strip() else False,
            )
            if not settings.logs:  # logs of the code under test are pytest's to capture
                settings = dataclasses.replace(
                    settings, exporters={**settings.exporters, "logs": ()}
                )
            _pipeline.install(settings, export_spans=ship_spans_of is None)
        except Exception as exc:  # a bad environment (e.g. a Prometheus port in use)
            raise BindError(f"test telemetry is off: cannot configure agentobs: {exc}") from exc
        pipeline = _pipeline.current()
        assert pipeline is not None
        # Added to the provider itself, not given to install(): the pipeline would put it
        # behind a scrubbing processor, cleaning a copy of every span in the test's thread
        # for a processor that reads only token counts and costs (numbers, never scrubbed).
        USAGE.attach_to(pipeline.tracer_provider)
        telemetry = cls(pipeline, owned=True)
        if ship_spans_of is not None:
            from ._worker_spans import SpanShipper

            telemetry.shipper = SpanShipper(ship_spans_of)
            pipeline.tracer_provider.add_span_processor(telemetry.shipper)
        return telemetry

    @property
    def usable(self) -> bool:
        """True while the session's pipeline is still the one agentobs records into."""
        current = _current()
        return not self._closed and current is not None and current is self._pipeline()

    @contextlib.contextmanager
    def _watch_agentobs(self) -> Iterator[None]:
        agentobs_logger = logging.getLogger(_EXPORT_LOGGERS[1])
        agentobs_logger.addHandler(self._handler)
        try:
            yield
        finally:
            agentobs_logger.removeHandler(self._handler)

    def flush(self) -> None:
        """Export what was recorded (bounded in time)."""
        if self.usable:
            from .._export import pipeline as _pipeline

            with self._watch_agentobs():
                _pipeline.force_flush(FLUSH_TIMEOUT)

    def close(self) -> None:
        """Shut the pipeline down if the plugin configured it; stop watching for problems."""
        if self._closed:
            return
        try:
            if self.owned and self.usable:
                from .._export import pipeline as _pipeline

                with self._watch_agentobs():
                    _pipeline.shutdown(SHUTDOWN_TIMEOUT)
        finally:
            self._closed = True
            self.tracer = self.meter = None
            self.recorders = {}
            logging.getLogger(_EXPORT_LOGGERS[0]).removeHandler(self._handler)

    def problems(self) -> list[str]:
        """One line about the export problems seen, if any."""
        if not self._handler.count:
            return []
        first = self._handler.messages[0]
        more = self._handler.count - 1
        extra = f" (and {more} more warning{'s' if more != 1 else ''})" if more else ""
        return [f"telemetry export had problems: {first}{extra}"]
