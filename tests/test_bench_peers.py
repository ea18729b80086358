"""`make bench-peers QUICK=1`: the side-by-side harness measures every row, for every peer.

The quick run is a smoke test of the harness (few calls, one round, two minutes or so): it
proves that each peer's environment installs, that each SDK is set up offline as configured,
and that each section yields a figure; the figures themselves mean nothing. It runs in
``make test`` under CI (the Makefile installs the peers' environments and sets
``AGENTOBS_BENCH_PEERS=1`` when ``CI`` is set), and locally with
``make test AGENTOBS_BENCH_PEERS=1``. The README's table must be the one generated from the
committed ``benchmarks/RESULTS.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends import ROTEL_AGENT, missing_backend

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_peers  # noqa: E402
import peers_report  # noqa: E402

UNSUPPORTED = "not supported"


@pytest.mark.skipif(
    os.environ.get("AGENTOBS_BENCH_PEERS") != "1",
    reason="the quick peer run installs every peer and takes minutes: "
    "make test AGENTOBS_BENCH_PEERS=1 (on in CI)",
)
@pytest.mark.backend("rotel")
@pytest.mark.timeout(900)
def test_quick_run_measures_every_row_of_every_peer() -> None:
    if not os.access(ROTEL_AGENT, os.X_OK):
        missing_backend("rotel")
    absent = [env for env in bench_peers.REQUIREMENTS if not bench_peers.python_of(env).exists()]
    if absent:
        missing_backend("bench-peers environments", f"run make bench-peers-envs ({absent})")

    done = subprocess.run(
        ["make", "--no-print-directory", "bench-peers", "QUICK=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    # A row that could not run says why on its own line of the output ("could not run").
    failed = [line.strip() for line in done.stdout.splitlines() if "could not run" in line]
    output = "\n".join([*failed, done.stdout[-3000:], done.stderr[-3000:]])
    assert not failed, output
    assert done.returncode == 0, output

    report = json.loads((bench_peers.ENVS_DIR / "RESULTS-quick.json").read_text())
    assert report["quick"] is True
    ran = {(r["env"], r["section"], r["variant"]) for r in report["results"]}
    assert ran == {(job.env, job.section, job.variant) for job in bench_peers.JOBS}
    assert {env for env, _s, _v in ran} == {"agentobs", *bench_peers.PEERS}
    for result in report["results"]:
        assert not result.get("failed"), result
        assert result["rows"], result
        for row in result["rows"]:
            if row["value"] is None:
                assert UNSUPPORTED in row["note"], row
                continue
            assert row.get("ratio") is not None or row["section"] == "throughput", row
    throughput = [
        row
        for result in report["results"]
        if result["env"] == "agentobs" and result["section"] == "throughput"
        for row in result["rows"]
    ]
    assert len(throughput) == 2
    # A 1-s run on a loaded machine may hold no rate: then the row must say so.
    assert all(row["value"] > 0 or row["note"] for row in throughput), throughput

    text = (bench_peers.ENVS_DIR / "RESULTS-quick.md").read_text()
    assert "Quick run: figures are not meaningful" in text
    for title, _about in peers_report.SECTIONS.values():
        assert f"## {title}" in text
    for env in bench_peers.PEERS:
        assert f"| {env} | " in text  # its versions


def test_readme_table_is_the_one_generated_from_results() -> None:
    report = json.loads((ROOT / "benchmarks" / "RESULTS.json").read_text())
    assert report["quick"] is False
    for page in bench_peers.TABLE_PAGES:  # README.md and docs/performance.md
        text = (ROOT / page).read_text()
        start = text.index(peers_report.README_START) + len(peers_report.README_START) + 1
        end = text.index(peers_report.README_END)
        assert text[start:end].strip() == peers_report.summary_table(report).strip(), page
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert results == peers_report.render(report, bench_peers.FINDINGS)
