"""A seeded flaky suite run 10 times: the tests that flake with probability >= 0.2 are reported
flaky, the deterministic ones are not.

Each inner test fails with its probability, decided by a random generator seeded with
(seed, test, run), so every run of this test sees the same outcomes. Across-run detection
needs at least one flip in 10 runs: a test with p = 0.2 shows none with probability
0.8^10 + 0.2^10 (about 11 %). With SEED = 1 every p >= 0.2 test of the suite flips (the
expected outcomes are asserted below, so a change of generator would be caught, not hidden).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from agentobs.cli import main
from tests.test_pytest_plugin_support import isolate, run, setup_suite

pytest_plugins = ["pytester"]

SEED = 1
RUNS = 10
PROBABILITIES = {
    "stable_one": 0.0,
    "stable_two": 0.0,
    "stable_three": 0.0,
    "always_fails": 1.0,
    "rarely_flaky": 0.05,  # may or may not show in 10 runs: not asserted
    "p20": 0.2,
    "p25": 0.25,
    "p30": 0.3,
    "p50": 0.5,
    "p80": 0.8,
}
FLAKY = {name for name, p in PROBABILITIES.items() if 0.2 <= p < 1.0}
DETERMINISTIC = {name for name, p in PROBABILITIES.items() if p in (0.0, 1.0)}

SUITE = f'''
import os
import random

import pytest

PROBABILITIES = {PROBABILITIES!r}


@pytest.mark.parametrize("name", sorted(PROBABILITIES))
def test_case(name):
    run = int(os.environ["FLAKY_RUN"])
    draw = random.Random(f"{SEED}:{{name}}:{{run}}").random()
    assert draw >= PROBABILITIES[name], f"flaked (draw {{draw:.3f}})"
'''


def _fails(name: str, run_index: int) -> bool:
    return random.Random(f"{SEED}:{name}:{run_index}").random() < PROBABILITIES[name]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate(monkeypatch)


def test_the_seed_makes_every_flaky_test_flip() -> None:
    for name in FLAKY:
        outcomes = {_fails(name, i) for i in range(RUNS)}
        assert outcomes == {True, False}, name


def test_seeded_flaky_suite_run_ten_times(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_suite(pytester, {"tests/test_flaky_suite.py": SUITE})
    node = "tests/test_flaky_suite.py::test_case[{}]"
    result = None
    for index in range(RUNS):
        monkeypatch.setenv("FLAKY_RUN", str(index))
        result = run(pytester)
        failed = sum(_fails(name, index) for name in PROBABILITIES)
        assert result.parseoutcomes().get("failed", 0) == failed
    assert result is not None

    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "agentobs: flaky tests" in line)
    reported = {line.split("  ")[0] for line in lines[start + 1 :] if line.startswith("tests/")}
    for name in FLAKY:
        assert node.format(name) in reported, name
    for name in DETERMINISTIC:
        assert node.format(name) not in reported, name
    assert all("code unchanged" in line for line in lines[start + 1 :] if line.startswith("tests/"))

    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    assert main(["flaky", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["runs"] == RUNS
    flagged = {row["nodeid"] for row in document["tests"]}
    assert flagged == reported
    for row in document["tests"]:
        name = row["nodeid"].split("[")[1].rstrip("]")
        letters = "".join("f" if _fails(name, i) else "p" for i in range(RUNS))
        assert row["outcomes"] == letters
