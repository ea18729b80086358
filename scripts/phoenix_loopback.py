"""Start ``phoenix serve`` with its gRPC OTLP receiver bound to loopback only.

Phoenix 20.x hard-codes the gRPC bind address as ``[::]:{PHOENIX_GRPC_PORT}``
(``phoenix/server/grpc_server.py``); ``PHOENIX_HOST`` only moves the HTTP server.
This launcher rewrites that bind to 127.0.0.1 before Phoenix starts, then runs
``phoenix serve`` with any extra arguments. Configure it with the usual
environment variables (PHOENIX_HOST, PHOENIX_PORT, PHOENIX_GRPC_PORT,
PHOENIX_WORKING_DIR, PHOENIX_TELEMETRY_ENABLED=false).

Run it with the Python of Phoenix's own venv (``make backends`` creates it):
    .backends/phoenix-venv/bin/python scripts/phoenix_loopback.py
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def _bind_grpc_to_loopback() -> None:
    server_class: Any = importlib.import_module("grpc.aio._server").Server
    original = server_class.add_insecure_port

    def add_insecure_port(self: Any, address: str) -> Any:
        return original(self, address.replace("[::]", "127.0.0.1"))

    server_class.add_insecure_port = add_insecure_port


def main() -> None:
    _bind_grpc_to_loopback()
    sys.argv = ["phoenix", "serve", *sys.argv[1:]]
    importlib.import_module("phoenix.server.main").main()


if __name__ == "__main__":
    main()
