"""Health endpoints: ``GET /health``, ``GET /readiness`` and ``GET /version``.

They are served beside ``/metrics`` by ``configure(prometheus_port=...)``, on a port of their
own by ``configure(health_port=...)`` (no Prometheus needed), or by :func:`serve`; :func:`app`
is the WSGI application, to mount in a server of your own.

Register the application's dependencies as checks::

    agentobs.health.register("vector-store", store.ping, readiness=True, timeout=2.0)

A check is a callable (or a coroutine function) taking no argument; it passes when it returns
``None`` or anything true, fails when it returns something false or raises. Checks run in
threads of their own, all at once, each bounded by its timeout: a check that hangs is reported
as failing once its timeout passes (and is not started again while it still hangs), so an
endpoint never waits longer than the slowest timeout, and nothing a check does reaches the
server.

Bodies are JSON. ``/health``: ``status`` (``pass``; ``warn`` when only an exporter is
failing; ``fail`` when a check fails, with HTTP 503), uptime, versions, every check with its
status and latency, the exporters' recent results, and the last 24 hours' tasks (completed,
success rate, mean duration) from in-process aggregates. ``/readiness``: 200 or 503 from the
checks registered with ``readiness=True``. ``/version``: the service and agentobs versions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import platform
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from . import _recent
from ._engine import clean_name, error_type
from ._errors import logger, warn_once
from ._export import status as _status
from ._state import PROCESS_STARTED, STATE
from ._version import __version__

__all__ = ["HealthServer", "app", "register", "serve", "unregister"]

DEFAULT_TIMEOUT = 2.0
MAX_TIMEOUT = 60.0
MAX_CHECKS = 64
PATHS = ("/health", "/readiness", "/version")


class _Check:
    """One registered check, and its run in flight (at most one at a time)."""

    def __init__(self, name: str, fn: Callable[[], Any], readiness: bool, timeout: float) -> None:
        self.name = name
        self.fn = fn
        self.readiness = readiness
        self.timeout = timeout
        self._lock = threading.Lock()
        self._done: threading.Event | None = None
        self._result: dict[str, Any] = {}

    def start(self) -> threading.Event:
        """Start a run unless one is still going; return the event its end sets."""
        with self._lock:
            if self._done is not None:
                return self._done
            done = self._done = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(done,), name=f"agentobs-health-{self.name}", daemon=True
        )
        thread.start()
        return done

    def _run(self, done: threading.Event) -> None:
        began = time.perf_counter()
        try:
            value = self.fn()
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
            ok = value is None or bool(value)
            result: dict[str, Any] = {"status": "pass" if ok else "fail"}
            if not ok:
                result["error"] = f"returned {type(value).__name__} {value!r}"[:200]
        except BaseException as exc:  # a check must never take the server down
            result = {"status": "fail", "error": error_type(exc)}
        result["latency_ms"] = round((time.perf_counter() - began) * 1000, 3)
        with self._lock:
            self._result = result
            self._done = None
        done.set()

    def result(self, done: threading.Event) -> dict[str, Any]:
        """This check's result, waiting at most its timeout for the run ``done`` tracks."""
        if not done.wait(self.timeout):
            return {
                "status": "fail",
                "error": f"timed out after {self.timeout:g} s",
                "latency_ms": round(self.timeout * 1000, 3),
            }
        with self._lock:
            return dict(self._result)


async def _awaited(value: Any) -> Any:
    return await value


_CHECKS: dict[str, _Check] = {}
_checks_lock = threading.Lock()


def register(
    name: Any,
    check: Callable[[], Any],
    *,
    readiness: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Register (or replace) the health check ``name``. ``readiness=True`` makes
    ``/readiness`` answer 503 while it fails. ``timeout`` (seconds) bounds how long an endpoint
    waits for it.

    Raises:
        ValueError: ``check`` is not callable, or ``timeout`` is not a number of seconds
            greater than 0 and at most 60.
    """
    if not callable(check):
        raise ValueError(
            f"agentobs.health.register({name!r}, ...): check must be callable, "
            f"not {type(check).__name__}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(
            f"agentobs.health.register({name!r}, timeout={timeout!r}): expected seconds"
        )
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(
            f"agentobs.health.register({name!r}, timeout={timeout!r}): expected seconds "
            f"greater than 0 and at most {MAX_TIMEOUT:g}"
        )
    text = clean_name(name, "health check")
    with _checks_lock:
        if text not in _CHECKS and len(_CHECKS) >= MAX_CHECKS:
            warn_once(
                "health-checks-limit",
                "agentobs: more than %d health checks registered; %r ignored",
                MAX_CHECKS,
                text,
            )
            return
        _CHECKS[text] = _Check(text, check, bool(readiness), float(timeout))


def unregister(name: str) -> None:
    """Remove the check ``name`` (no error if there is none)."""
    with _checks_lock:
        _CHECKS.pop(name, None)


def _run_checks(only_readiness: bool) -> dict[str, dict[str, Any]]:
    with _checks_lock:
        checks = [c for c in _CHECKS.values() if c.readiness or not only_readiness]
    started = [(check, check.start()) for check in checks]  # all at once
    results: dict[str, dict[str, Any]] = {}
    for check, done in started:
        result = check.result(done)
        result["readiness"] = check.readiness
        results[check.name] = result
    return results


def _versions() -> dict[str, Any]:
    settings = STATE.settings
    return {
        "service": None if settings is None else settings.service_name,
        "version": None if settings is None else settings.service_version,
        "agentobs": __version__,
        "python": platform.python_version(),
    }


def health() -> tuple[int, dict[str, Any]]:
    """The ``/health`` status code and body."""
    checks = _run_checks(only_readiness=False)
    exporters = {
        key: {**entry, "last_success": _iso(entry["last_success"]),
              "last_failure": _iso(entry["last_failure"])}
        for key, entry in _status.snapshot().items()
    }  # fmt: skip
    failing = any(c["status"] != "pass" for c in checks.values())
    exporting = all(e.get("ok", True) for e in exporters.values())
    status = "fail" if failing else ("pass" if exporting else "warn")
    body = {
        "status": status,
        **_versions(),
        "uptime_seconds": round(time.time() - PROCESS_STARTED, 3),
        "checks": checks,
        "exporters": exporters,
        "tasks": _recent.TASKS.summary(),
    }
    return (503 if failing else 200), body


def readiness() -> tuple[int, dict[str, Any]]:
    """The ``/readiness`` status code and body."""
    checks = _run_checks(only_readiness=True)
    ready = all(c["status"] == "pass" for c in checks.values())
    return (200 if ready else 503), {"status": "pass" if ready else "fail", "checks": checks}


def version() -> tuple[int, dict[str, Any]]:
    """The ``/version`` status code and body."""
    return 200, _versions()


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


_ROUTES: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {
    "/health": health,
    "/readiness": readiness,
    "/version": version,
}
_REASONS = {200: "200 OK", 404: "404 Not Found", 405: "405 Method Not Allowed",
            500: "500 Internal Server Error", 503: "503 Service Unavailable"}  # fmt: skip


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The WSGI application serving :data:`PATHS` (404 for any other path)."""
    path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
    route = _ROUTES.get(path)
    if route is None:
        code, body = 404, {"status": "fail", "error": f"no such endpoint; try {', '.join(PATHS)}"}
    elif environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        code, body = 405, {"status": "fail", "error": "only GET"}
    else:
        try:
            code, body = route()
        except Exception as exc:  # never crash the server
            logger.warning("agentobs: %s failed: %s", path, error_type(exc))
            code, body = 500, {"status": "fail", "error": error_type(exc)}
    payload = json.dumps(body, default=str).encode("utf-8")
    start_response(
        _REASONS[code],
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [payload] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]


def with_metrics(metrics_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI application serving the health endpoints and ``metrics_app`` for every other
    path (``/metrics``), as ``configure(prometheus_port=...)`` does."""

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        if path in _ROUTES:
            return app(environ, start_response)
        return metrics_app(environ, start_response)

    return dispatch


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung client never keeps the process alive


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class HealthServer:
    """A running server: ``port``, ``url`` and ``close()``."""

    def __init__(self, server: WSGIServer, host: str) -> None:
        self._server = server
        self.host = host
        self.port: int = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, name="agentobs-http", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    wsgi_app: Callable[..., Iterable[bytes]] | None = None,
) -> HealthServer:
    """Serve the health endpoints (or ``wsgi_app``) on ``host:port`` in a daemon thread;
    ``port=0`` picks a free one. Raises OSError when the port cannot be bound."""
    server = make_server(
        host, port, wsgi_app or app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    return HealthServer(server, host)


def clear() -> None:
    """Forget every check (``agentobs.testing.reset``)."""
    with _checks_lock:
        _CHECKS.clear()
