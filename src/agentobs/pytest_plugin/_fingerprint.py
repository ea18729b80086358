"""A fingerprint of a test's code: a short hash of the source lines of its function.

The lines run from the function's first line (its first decorator) to the last line any of
its code objects (nested functions and classes included) executes, read through
:mod:`linecache` so each file is read once. Moving a test within its file keeps the
fingerprint; editing it changes it. Doctests hash their examples. Items with no code that
can be found have no fingerprint (None) and are treated as unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
from types import CodeType
from typing import Any

_cache: dict[CodeType, str | None] = {}
_checked: set[str] = set()
_CACHE_LIMIT = 100_000


def clear() -> None:
    """Forget what was hashed (at each session start: files may have changed since)."""
    _cache.clear()
    _checked.clear()


def fingerprint(item: Any) -> str | None:
    """The fingerprint of a test item's code, or None when it cannot be read."""
    dtest = getattr(item, "dtest", None)
    if dtest is not None:
        text = "\n".join(f"{e.source}\0{e.want}" for e in getattr(dtest, "examples", ()))
        return _digest(text)
    obj = getattr(item, "obj", None)
    if obj is None:
        return None
    try:
        code = inspect.unwrap(obj).__code__
    except (AttributeError, ValueError, TypeError):
        code = getattr(getattr(obj, "__func__", None), "__code__", None)
    if not isinstance(code, CodeType):
        return None
    found = _cache.get(code, "")
    if found != "":
        return found
    result = _of_code(code)
    if len(_cache) < _CACHE_LIMIT:
        _cache[code] = result
    return result


def _last_line(code: CodeType) -> int:
    last = code.co_firstlineno
    for _start, _end, line in code.co_lines():
        if line is not None and line > last:
            last = line
    for const in code.co_consts:
        if isinstance(const, CodeType):
            last = max(last, _last_line(const))
    return last


def _of_code(code: CodeType) -> str | None:
    filename = code.co_filename
    if filename not in _checked:
        _checked.add(filename)
        linecache.checkcache(filename)
    lines = linecache.getlines(filename)
    if not lines:
        return None
    first = code.co_firstlineno
    text = "".join(lines[first - 1 : _last_line(code)])
    return _digest(text) if text else None


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8).hexdigest()
