"""The only places agentobs reads or changes private parts of the OpenTelemetry SDK.

Both are speed-ups with no public equivalent, and both fall back to the public API (slower,
same result) when the SDK's layout is not the one known; ``tests/test_sdk_compat.py`` fails
loudly when a new SDK changes that layout, so that the fallback is never taken unnoticed.

- :func:`attribute_items`: the SDK's ``BoundedAttributes`` keeps its items in ``_dict``;
  iterating the public mapping takes the attributes' lock once per key, on every span the
  scrubber, the local file writer and the OTLP protobuf encoder read.
- :func:`wrap_batch_exporter`: an SDK ``BatchSpanProcessor`` keeps its exporter in
  ``_batch_processor._exporter`` behind the read-only ``span_exporter``; wrapping it there
  keeps the scrubbing of spans handed to ``agentobs.testing`` or ``install()`` in the export
  thread, instead of on the application's thread behind a scrubbing processor.

Known layout: opentelemetry-sdk 1.3x-1.4x.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def attribute_items(attributes: Any) -> Iterable[tuple[Any, Any]]:
    """The items of an attribute mapping (a ``BoundedAttributes``, a mapping proxy, a dict),
    from the SDK's inner dict when there is one."""
    inner = getattr(attributes, "_dict", None)
    if type(inner) is dict:
        return inner.items()
    items: Iterable[tuple[Any, Any]] = attributes.items()
    return items


def span_attribute_items(span: Any) -> Iterable[tuple[Any, Any]]:
    """The attribute items of a span: its ``BoundedAttributes`` read directly, else the
    public read-only ``span.attributes``."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner.items()
    items: Iterable[tuple[Any, Any]] = (span.attributes or {}).items()
    return items


def wrap_batch_exporter(processor: Any, wrap: Callable[[Any], Any]) -> bool:
    """Replace the exporter of the SDK ``BatchSpanProcessor`` ``processor`` by
    ``wrap(exporter)``; False (nothing changed) when its layout is not the one known."""
    batch: Any = getattr(processor, "_batch_processor", None)
    current: Any = getattr(batch, "_exporter", None)
    if current is None or current is not getattr(processor, "span_exporter", None):
        return False
    batch._exporter = wrap(current)
    return True
