"""Memory stays bounded with the backend down: spans with metrics through the batch
processor, resident memory measured after a warm-up and at the end.

``make test`` runs 6,000 workflows; ``make soak`` (``AGENTOBS_SOAK=1``) runs a million.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.reliability._support import closed_port, report, run_script

MEMORY = """
import json, sys, time
import agentobs

endpoint, count = sys.argv[1], int(sys.argv[2])
agentobs.configure(exporter="otlp", endpoint=endpoint, timeout=1, logs=False,
                   metric_export_interval=1)

def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def run(first, last):
    for index in range(first, last):
        with agentobs.workflow(f"flow-{index % 10}"), agentobs.stage("step"):
            pass

warm = max(count // 10, 2000)
run(0, warm)  # queues full, every metric series exists
before = rss_mb()
started = time.monotonic()
run(warm, count)
seconds = time.monotonic() - started
after = rss_mb()
agentobs.shutdown(timeout=2)
print(json.dumps({"before_mb": before, "after_mb": after, "growth_mb": after - before,
                  "spans": 2 * count, "seconds": seconds}))
"""

SIZES = [pytest.param(6_000, 25, id="6k")]
if os.environ.get("AGENTOBS_SOAK") == "1":
    SIZES.append(pytest.param(1_000_000, 40, id="1M"))


@pytest.mark.parametrize(("workflows", "bound_mb"), SIZES)
def test_memory_is_bounded_with_the_backend_down(workflows: int, bound_mb: int) -> None:
    result = run_script(MEMORY, f"http://127.0.0.1:{closed_port()}", str(workflows), timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    report(f"backend down, {workflows} workflows with a stage (bound {bound_mb} MB)", **figures)
    assert figures["growth_mb"] < bound_mb, figures
