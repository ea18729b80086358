"""The flaky-test history (flip rates, fingerprints, the file on disk) and ``agentobs flaky``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentobs import _flaky_history as _history
from agentobs._flaky_history import Entry, History, flip_stats, verdict
from agentobs.cli import main
from agentobs.pytest_plugin import _fingerprint


@pytest.mark.parametrize(
    ("letters", "flips", "runs", "rate"),
    [
        ("", 0, 0, 0.0),
        ("pppp", 0, 4, 0.0),
        ("ffff", 0, 4, 0.0),
        ("eeee", 0, 4, 0.0),
        ("pf", 1, 2, 1.0),
        ("pfpf", 3, 4, 1.0),
        ("ppppf", 1, 5, 0.25),
        ("pe", 1, 2, 1.0),
        ("fe", 0, 2, 0.0),  # failed and error are both fails
        ("psspxX", 0, 2, 0.0),  # skips, xfails and xpasses do not decide
        ("k", 1, 1, 1.0),  # passed after a rerun: a flip within the run
        ("pppk", 1, 4, 0.25),
        ("fk", 2, 2, 1.0),
    ],
)
def test_flip_stats(letters: str, flips: int, runs: int, rate: float) -> None:
    assert flip_stats(letters) == (flips, runs, pytest.approx(rate))


def test_only_flips_with_the_same_fingerprint_count() -> None:
    history = History()
    history.record([("t::a", "v1", "p"), ("t::b", "v1", "p")], window=5)
    history.record([("t::a", "v1", "f"), ("t::b", "v2", "f")], window=5)
    assert history.tests["t::a"].letters == "pf"
    assert history.tests["t::b"] == Entry("v2", "f", 2)  # its code changed: a fresh start
    assert [v.nodeid for v in history.verdicts() if v.flaky] == ["t::a"]
    history.record([("t::a", None, "p")], window=5)  # no fingerprint: treated as unchanged
    assert history.tests["t::a"].letters == "pfp"


def test_the_window_keeps_the_last_runs() -> None:
    history = History()
    for letter in "fppppp":
        history.record([("t::a", "v", letter)], window=4)
    assert history.tests["t::a"].letters == "pppp"
    assert not verdict("t::a", history.tests["t::a"]).flaky
    assert history.runs == 6


def test_tests_not_seen_for_long_are_forgotten() -> None:
    history = History()
    history.record([("t::old", "v", "p")], window=4)
    for _ in range(_history._FORGET_AFTER + 1):
        history.record([("t::new", "v", "p")], window=4)
    assert set(history.tests) == {"t::new"}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history.json"
    history = History()
    history.record([("t::a", "v", "p"), ("t::b", None, "k")], window=10)
    assert _history.save(history, path) is None
    loaded, problem = _history.load(path)
    assert problem is None
    assert loaded == history
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temporary left


@pytest.mark.parametrize(
    "document",
    [
        {"format": "agentobs-flaky-history", "version": 99, "runs": 1, "tests": {}},
        {"format": "agentobs-flaky-history", "version": 1, "runs": "1", "tests": {}},
        {"format": "agentobs-flaky-history", "version": 1, "runs": 1, "tests": {"a": "p"}},
        {
            "format": "agentobs-flaky-history",
            "version": 1,
            "runs": 1,
            "tests": {"a": {"fp": 1, "h": "p", "last": 1}},
        },
        {
            "format": "agentobs-flaky-history",
            "version": 1,
            "runs": 1,
            "tests": {"a": {"fp": "x", "h": "pz", "last": 1}},
        },
        ["a", "list"],
    ],
)
def test_malformed_histories_are_moved_aside(tmp_path: Path, document: object) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(document))
    history, problem = _history.load(path)
    assert history == History()
    assert problem is not None
    assert "moved it to" in problem
    assert not path.exists()
    assert len(list(tmp_path.glob("history.json.corrupt-*"))) == 1


def test_fingerprint_follows_the_code_not_its_place(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    source = (
        "def tag(f):\n    return f\n\n\nother = tag\n\n\n"
        "@tag\ndef test_x():\n    def inner():\n        return 1\n\n    assert inner()\n"
    )

    def fingerprint_of(text: str) -> str | None:
        module.write_text(text)
        namespace: dict[str, object] = {}
        exec(compile(text, str(module), "exec"), namespace)

        class Item:
            obj = namespace["test_x"]

        _fingerprint.clear()
        return _fingerprint.fingerprint(Item())

    first = fingerprint_of(source)
    assert first is not None
    assert fingerprint_of("# moved down\n\n" + source) == first
    assert fingerprint_of(source.replace("return 1", "return 2")) != first  # nested code
    assert fingerprint_of(source.replace("@tag\n", "@other\n")) != first  # its decorators


# --- agentobs flaky -------------------------------------------------------------------------------


def _history_with_flakes(tmp_path: Path) -> Path:
    history = History()
    for letters in zip("pfpf", "pppp", "fkpp", strict=True):
        names = ("t::flips", "t::steady", "t::rerun")
        history.record(zip(names, "vvv", letters, strict=True), window=20)
    path = tmp_path / ".pytest_cache" / "d" / "agentobs" / "flaky-history.json"
    assert _history.save(history, path) is None
    return path


def test_cli_prints_the_flaky_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _history_with_flakes(tmp_path)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)  # found from a subdirectory
    assert main(["flaky"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"2 flaky of 3 tests over 4 runs ({path})"
    assert out[1].split()[:5] == ["TEST", "RUNS", "FLIPS", "FLIP", "RATE"]
    assert out[2].split()[:4] == ["t::flips", "4", "3", "100%"]
    assert out[3].split()[:4] == ["t::rerun", "4", "2", "50%"]
    assert len(out) == 4

    assert main(["flaky", "--all", "--json", "--history", str(path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["runs"] == 4
    rows = {row["nodeid"]: row for row in document["tests"]}
    assert rows["t::steady"] == {
        "nodeid": "t::steady",
        "flaky": False,
        "flip_rate": 0.0,
        "flips": 0,
        "runs": 4,
        "last": "passed",
        "outcomes": "pppp",
    }
    assert rows["t::rerun"]["outcomes"] == "fkpp"
    assert rows["t::rerun"]["flaky"] is True


def test_cli_without_or_with_a_broken_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["flaky"]) == 1
    assert "no flaky-test history" in capsys.readouterr().err
    broken = tmp_path / "history.json"
    broken.write_text("{oops")
    assert main(["flaky", "--history", str(broken)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert broken.read_text() == "{oops"  # the CLI never moves or rewrites it
