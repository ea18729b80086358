"""Parsers and checks of configuration values (environment variables, ini keys, arguments).

One boolean vocabulary and one URL check for the SDK's settings, the LLM settings and the
pytest plugin's options, and :class:`Row`, the shape of a row of the configuration table
(``_settings.ROWS``). A leaf module: it imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
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


def no_problem(_value: Any) -> str | None:
    """The check of a row that takes any value its parser returns."""
    return None


class Derived:
    """A default or a check worked out from the rows loaded before (``fn(loaded)``, where
    ``loaded.values`` and ``loaded.sources`` hold them): a per-signal exporter whose default
    depends on the endpoint, a batch size checked against its queue."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


class Row:
    """One setting of the configuration table: explicit argument, then the first of its
    environment variables that is set, then its default.

    A row whose ``parse`` is None is resolved by a rule of its own (the table still lists
    its argument, variables and doc line, and checks the argument's type). A plain class, not
    a dataclass: building the table is part of ``import agentobs``."""

    __slots__ = (
        "accepts",
        "arg",
        "argument",
        "check",
        "default",
        "default_text",
        "doc",
        "env",
        "name",
        "parse",
        "secret",
        "show_argument",
    )

    def __init__(
        self,
        name: str,
        env: tuple[str, ...],
        default: Any,
        parse: Callable[[str], Any] | None = str,
        check: Callable[[Any], str | None] | Derived = no_problem,
        *,
        doc: str = "",
        arg: str | None = None,
        accepts: tuple[Callable[[Any], bool], str] | None = None,
        argument: Callable[[Any], Any] | None = None,
        show_argument: bool = True,
        default_text: str | None = None,
        secret: bool = False,
    ) -> None:
        self.name = name
        """The setting's key in ``Settings.sources`` and ``agentobs doctor``."""
        self.env = env
        """The environment variables read, the first one set winning."""
        self.default = default
        """The value when neither an argument nor a variable sets it (or a :class:`Derived`)."""
        self.parse = parse
        """An environment value to the setting's value (ValueError: warned about, default
        used)."""
        self.check = check
        """None for a good value, else what is wrong with it (arguments and environment
        alike)."""
        self.doc = doc
        self.arg = arg
        """The :func:`agentobs.configure` argument that sets it (None: environment only)."""
        self.accepts = accepts
        """The argument's type test and its description, checked before anything is
        resolved."""
        self.argument = argument
        """How an explicit argument becomes the value (ValueError: what is wrong with it)."""
        self.show_argument = show_argument
        """Whether an error message quotes the argument (not for long lists and mappings)."""
        self.default_text = default_text
        """How a warning names the default, when the default is a sentinel."""
        self.secret = secret
        """Its value is never printed (``agentobs doctor`` masks it, a warning hides it)."""

    def __repr__(self) -> str:
        return f"Row({self.name!r}, {self.env!r})"
