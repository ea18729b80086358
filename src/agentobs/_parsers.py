"""Parsers and checks of configuration values (environment variables, ini keys, arguments).

One boolean vocabulary and one URL check for the SDK's settings, the LLM settings and the
pytest plugin's options. A leaf module: it imports nothing of ours.
"""

from __future__ import annotations

from urllib.parse import urlsplit

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def parse_bool(raw: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); anything else is a ValueError."""
    lowered = raw.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ValueError("expected true or false")


def truthy(raw: str) -> bool | None:
    """Lenient :func:`parse_bool` for switches: empty is False, an unknown word None."""
    if not raw.strip():
        return False
    try:
        return parse_bool(raw)
    except ValueError:
        return None


def parse_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("expected a number") from None


def parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def check_url(value: str, example: str) -> str | None:
    """None for ``http(s)://host[:port][/path]`` or ``host:port``; else what is wrong, with
    ``example`` as the URL to follow."""
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc}); expected e.g. {example}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected a URL like {example} (scheme http or https, and a host)"
    if any(c.isspace() for c in value) or (port is not None and not 0 < port < 65536):
        return f"expected a URL like {example}"
    return None
