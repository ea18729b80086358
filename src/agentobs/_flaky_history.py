"""The flaky-test history: recent outcomes per test, keyed by node id and code fingerprint.

One JSON file (in pytest's cache by default) holds, for every test seen, the fingerprint of
its code and one letter per run (newest last, at most ``window`` of them): ``p`` passed,
``f`` failed, ``e`` error, ``s`` skipped, ``x`` xfailed, ``X`` xpassed, and ``k`` for a pass
that needed a rerun in that run. When the fingerprint changes, the letters start afresh, so
only flips while the code stayed the same count.

A flip is a change between pass (``p``, ``k``) and fail (``f``, ``e``) from one run to the
next, and each ``k`` is one more. The flip rate is flips / ((runs - 1) + k-runs), over the
runs that passed or failed. A test with any flip is flaky.

A file that cannot be read as a history (corrupt, or someone else's) is moved aside to
``<name>.corrupt-<time>`` with one warning and a fresh history is started.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "agentobs-flaky-history"
VERSION = 1
FILE_NAME = "flaky-history.json"
CACHE_DIR = "agentobs"
"""The history lives at ``<pytest cache>/d/agentobs/flaky-history.json`` by default."""

_LETTER_CHARS = "pfesxXk"
_PASS = frozenset("pk")
_DECISIVE = frozenset("pfek")
_FORGET_AFTER = 500
"""A test not seen for this many runs is dropped from the history."""


@dataclass
class Entry:
    """The history of one test."""

    fingerprint: str | None
    letters: str
    last_run: int


@dataclass(frozen=True)
class Verdict:
    """What the history says about one test."""

    nodeid: str
    runs: int
    flips: int
    flip_rate: float
    last: str
    letters: str

    @property
    def flaky(self) -> bool:
        """A test whose outcome flipped while its code did not."""
        return self.flips > 0


def flip_stats(letters: str) -> tuple[int, int, float]:
    """(flips, decisive runs, flip rate) of a sequence of outcome letters."""
    if "k" not in letters:  # the common cases, counted in C: always passed, always failed
        if "f" not in letters and "e" not in letters:
            return 0, letters.count("p"), 0.0
        if "p" not in letters:
            return 0, letters.count("f") + letters.count("e"), 0.0
    flips = runs = reruns = 0
    previous: bool | None = None
    for letter in letters:
        if letter not in _DECISIVE:
            continue
        runs += 1
        passed = letter in _PASS
        if letter == "k":
            flips += 1
            reruns += 1
        if previous is not None and passed != previous:
            flips += 1
        previous = passed
    chances = max(runs - 1, 0) + reruns
    return flips, runs, (flips / chances if chances else 0.0)


def verdict(nodeid: str, entry: Entry) -> Verdict:
    """The :class:`Verdict` of one entry."""
    flips, runs, rate = flip_stats(entry.letters)
    return Verdict(nodeid, runs, flips, rate, entry.letters[-1:] or "", entry.letters)


@dataclass
class History:
    """Every test's recent outcomes."""

    runs: int = 0
    tests: dict[str, Entry] = field(default_factory=dict)

    def record(self, results: Iterable[tuple[str, str | None, str]], window: int) -> None:
        """Add one run: (node id, fingerprint or None, outcome letter) per test that ran."""
        self.runs += 1
        run = self.runs
        for nodeid, fingerprint, letter in results:
            entry = self.tests.get(nodeid)
            if entry is None:
                self.tests[nodeid] = Entry(fingerprint, letter, run)
                continue
            if fingerprint is not None and fingerprint != entry.fingerprint:
                entry.fingerprint, entry.letters = fingerprint, letter
            else:
                entry.letters = (entry.letters + letter)[-window:]
            entry.last_run = run
        stale = [k for k, e in self.tests.items() if run - e.last_run > _FORGET_AFTER]
        for nodeid in stale:
            del self.tests[nodeid]

    def verdicts(self, nodeids: Iterable[str] | None = None) -> list[Verdict]:
        """Verdicts of the given tests (all when None), in node id order."""
        keys = sorted(self.tests) if nodeids is None else sorted(set(nodeids) & set(self.tests))
        return [verdict(k, self.tests[k]) for k in keys]

    def to_json(self) -> dict[str, Any]:
        """The document written to disk."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "runs": self.runs,
            "updated": int(time.time()),
            "tests": {
                k: {"fp": e.fingerprint, "h": e.letters, "last": e.last_run}
                for k, e in sorted(self.tests.items())
            },
        }

    @classmethod
    def from_json(cls, document: Any) -> History:
        """Parse a document; ValueError saying why it is not a history."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not an agentobs flaky-test history")
        if document.get("version") != VERSION:
            raise ValueError(f"unsupported history version {document.get('version')!r}")
        runs, tests = document.get("runs"), document.get("tests")
        if not isinstance(runs, int) or runs < 0 or not isinstance(tests, dict):
            raise ValueError("malformed history (runs, tests)")
        history = cls(runs)
        for nodeid, raw in tests.items():
            if not isinstance(raw, dict):
                raise ValueError(f"malformed entry for {nodeid!r}")
            fp, letters, last = raw.get("fp"), raw.get("h"), raw.get("last")
            if (
                not (fp is None or isinstance(fp, str))
                or not isinstance(letters, str)
                or letters.strip(_LETTER_CHARS)  # a letter that is not one of ours
                or not isinstance(last, int)
            ):
                raise ValueError(f"malformed entry for {nodeid!r}")
            history.tests[nodeid] = Entry(fp, letters, last)
        return history


class Unreadable(Exception):
    """The history file exists but cannot be read (permissions, a file in the way...)."""


def load(path: Path) -> tuple[History, str | None]:
    """The history at ``path`` (empty when absent), and a warning when it had to be reset.

    A corrupt or foreign file is renamed ``<name>.corrupt-<unix time>`` first. A file that
    cannot be read at all raises :class:`Unreadable` (it is then left alone, not overwritten).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return History(), None
    except OSError as exc:
        raise Unreadable(f"cannot read the flaky-test history {path} ({exc})") from exc
    try:
        return History.from_json(json.loads(raw)), None
    except (ValueError, UnicodeDecodeError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else "not UTF-8"
        if isinstance(exc, json.JSONDecodeError):
            problem = "not valid JSON"
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        return History(), (
            f"the flaky-test history {path} is unusable ({problem}) and could not be moved "
            f"aside ({exc}); starting afresh"
        )
    return History(), (
        f"the flaky-test history {path} was unusable ({problem}); moved it to {aside.name} "
        "and started a fresh one"
    )


def save(history: History, path: Path) -> str | None:
    """Write the history atomically; a warning text when it could not be written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = json.dumps(history.to_json(), separators=(",", ":"))
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        return f"cannot write the flaky-test history {path} ({exc})"
    return None


def find(start: Path) -> Path | None:
    """The default history file of the pytest cache at or above ``start``, if one exists."""
    for directory in (start, *start.parents):
        candidate = directory / ".pytest_cache" / "d" / CACHE_DIR / FILE_NAME
        if candidate.exists():
            return candidate
    return None


LOCK_TIMEOUT = 30.0
"""How long a run waits for another run (same history file) to finish updating it."""


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
    """Hold the advisory lock ``<path>.lock`` around a load-update-save of the history, so two
    runs sharing a file both count. Yields False when another process held it throughout
    ``timeout`` (the caller then leaves the history alone and says so). Where the lock cannot
    be taken at all (no ``fcntl``, a read-only folder), yields True unlocked."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield True
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield True
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
            except OSError:  # a file system without locks
                yield True
                return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
