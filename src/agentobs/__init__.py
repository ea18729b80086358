"""agentobs: OpenTelemetry traces, metrics and logs for AI-agent systems and their tests.

``import agentobs`` is cheap: the OpenTelemetry SDK loads in :func:`configure`, and every
instrumentation call made before it is a near-free no-op.
"""

from ._pipeline import configure, force_flush, shutdown
from ._version import __version__

__all__ = [
    "__version__",
    "configure",
    "force_flush",
    "shutdown",
]
