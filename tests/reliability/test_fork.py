"""Fork: multiprocessing Pool and Process workers' telemetry arrives, a child forked while
the parent writes never blocks, no request is corrupted by a connection shared with a child."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.backends import Rotel
from tests.reliability._support import report, run_script

POOL = """
import multiprocessing, sys, time
import agentobs

endpoint, kind, tag, protocol = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
agentobs.configure(
    exporter="otlp", endpoint=endpoint, protocol=protocol, logs=False, service_name="fork-test"
)

def work(index):
    with agentobs.workflow(f"{tag}-{index}"):
        time.sleep(0.001)
    return index

def process_worker(first):
    for index in range(first, first + 10):
        work(index)

if __name__ == "__main__":
    with agentobs.workflow(f"{tag}-parent"):
        pass
    agentobs.force_flush()  # the parent's keep-alive connection is open before the fork
    context = multiprocessing.get_context("fork")
    started = time.monotonic()
    if kind == "pool-with":  # leaving the block terminates the workers (SIGTERM)
        with context.Pool(4) as pool:
            assert sorted(pool.map(work, range(40), chunksize=1)) == list(range(40))
    elif kind == "pool":
        pool = context.Pool(4)
        assert sorted(pool.map(work, range(40), chunksize=1)) == list(range(40))
        pool.close()
        pool.join()
    else:
        workers = [context.Process(target=process_worker, args=(i * 10,)) for i in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    print(f"elapsed {time.monotonic() - started:.3f}", flush=True)
"""


@pytest.mark.parametrize(
    ("kind", "protocol"),
    [
        ("pool", "http/protobuf"),
        ("pool-with", "http/protobuf"),
        ("process", "http/protobuf"),
        ("pool", "grpc"),
    ],
)
def test_multiprocessing_workers_telemetry_arrives(rotel: Rotel, kind: str, protocol: str) -> None:
    """Workers that end normally flush; ``with Pool()`` terminates its workers (SIGTERM, at
    once, as without agentobs): it must not hang, and what arrives is printed."""
    tag = f"fork-{kind}-{time.monotonic_ns()}"
    result = run_script(POOL, rotel.endpoint(protocol), kind, tag, protocol, timeout=90)
    assert result.returncode == 0, result.stderr

    def arrived() -> set[str]:
        found = (r.name.removeprefix("invoke_workflow ") for r in rotel.records("span"))
        return {name for name in found if name.startswith(tag)}

    deadline = time.monotonic() + 20
    while len(arrived()) < 41 and time.monotonic() < deadline:
        time.sleep(0.2)
    names = arrived()
    elapsed = float(result.stdout.split("elapsed ")[1].split()[0])
    report(
        f"multiprocessing {kind} (fork, {protocol}), 40 workflows",
        arrived=len(names) - 1,
        seconds=elapsed,
    )
    assert f"{tag}-parent" in names
    if kind != "pool-with":
        assert {f"{tag}-{i}" for i in range(40)} <= names, sorted(names)


FORK_WHILE_WRITING = """
import json, os, sys, threading, time
import agentobs

directory, forks = sys.argv[1], int(sys.argv[2])
agentobs.configure(exporter="local", local_dir=directory, logs=False)
stop = threading.Event()
with agentobs.workflow("warm-up"):  # imports done: a fork amid an import is Python's own hazard
    pass

def writer():
    while not stop.is_set():
        with agentobs.workflow("parent-busy"):
            pass
        agentobs.force_flush()  # keeps the file writer busy: a fork often lands mid-write

threads = [threading.Thread(target=writer) for _ in range(2)]
for thread in threads:
    thread.start()
durations, stuck = [], 0
for index in range(forks):
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        with agentobs.workflow(f"child-{index}"):
            pass
        ok = agentobs.force_flush(timeout=3)
        os._exit(0 if ok else 3)
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            stuck += 1
            status = -1
            break
        time.sleep(0.005)
    durations.append(time.monotonic() - started)
    if status != 0:
        stuck += 1
stop.set()
for thread in threads:
    thread.join()
agentobs.shutdown()
print(json.dumps({"stuck": stuck, "max": max(durations), "mean": sum(durations) / forks}))
"""


def test_fork_while_the_parent_writes_never_blocks_nor_corrupts(tmp_path: Path) -> None:
    forks = 25
    result = run_script(FORK_WHILE_WRITING, str(tmp_path), str(forks), timeout=200)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    report(f"fork while writing local files, {forks} forks", **figures)
    assert figures["stuck"] == 0, figures
    assert figures["max"] < 5, figures
    names: set[str] = set()
    for line in (tmp_path / "traces.jsonl").read_text().splitlines():
        document = json.loads(line)  # every line whole: nothing half written
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                names |= {span["name"] for span in scope["spans"]}
    assert {f"child-{i}" for i in range(forks)} <= {
        n.removeprefix("invoke_workflow ") for n in names
    }


SHARED_CONNECTION = """
import os, sys, time
import agentobs

endpoint, children = sys.argv[1], int(sys.argv[2])
agentobs.configure(exporter="otlp", endpoint=endpoint, logs=False, system_metrics=False)
with agentobs.workflow("parent-first"):
    pass
agentobs.force_flush()  # the kept-alive connection is open now
pids = []
for index in range(children):
    pid = os.fork()
    if pid == 0:
        for step in range(20):
            with agentobs.workflow(f"child-{index}-{step}"):
                pass
            if step % 5 == 4:
                agentobs.force_flush()
        os._exit(0 if agentobs.force_flush(timeout=5) else 3)
    pids.append(pid)
for step in range(20):
    with agentobs.workflow(f"parent-{step}"):
        pass
    agentobs.force_flush()
codes = [os.waitpid(pid, 0)[1] for pid in pids]
agentobs.shutdown()
print("codes", codes)
"""


def test_no_request_is_corrupted_by_a_connection_shared_with_children() -> None:
    from tests.reliability._support import OtlpCapture

    capture = OtlpCapture()
    try:
        result = run_script(SHARED_CONNECTION, capture.url, "8", timeout=120)
        assert result.returncode == 0, result.stderr
        names = {n.removeprefix("invoke_workflow ") for n in capture.span_names()}
        expected = {f"child-{i}-{s}" for i in range(8) for s in range(20)}
        expected |= {f"parent-{s}" for s in range(20)} | {"parent-first"}
        report(
            "HTTP exporter after fork, 8 children x 20 spans + parent",
            requests=capture.requests,
            malformed=capture.malformed,
            missing=len(expected - names),
        )
        assert "codes [0, 0, 0, 0, 0, 0, 0, 0]" in result.stdout, result.stdout
        assert capture.malformed == 0
        assert expected <= names, sorted(expected - names)[:10]
    finally:
        capture.close()


FORK_MID_WRITE = """
import json, os, sys, threading, time
from pathlib import Path
from agentobs._export.localfiles import JsonLinesWriter

path = Path(sys.argv[1]) / "traces.jsonl"
writer = JsonLinesWriter(path, 1 << 20)
writer.write_line(json.dumps({"line": "first"}))
readable, writable = os.pipe()
pid = os.fork()
if pid == 0:  # opens the file (its own descriptor) while the parent's line is half way in
    os.read(readable, 1)
    writer.write_line(json.dumps({"line": "child"}))
    os._exit(0)
held, go_on = threading.Event(), threading.Event()

def slow_write(fd, data):  # the kernel lets a long line reach the file page by page
    if len(data) > 100 and not held.is_set():
        os.write(fd, bytes(data[:50]))
        held.set()
        go_on.wait()
        return 50
    return os.write(fd, data)

writer._os_write = slow_write
thread = threading.Thread(target=writer.write_line, args=(json.dumps({"line": "p" * 500}),))
thread.start()
held.wait()
os.write(writable, b"x")
time.sleep(0.5)  # the child has had every chance to write in the middle of the parent's line
go_on.set()
thread.join()
print("child", os.waitpid(pid, 0)[1])
"""


def test_a_child_writing_while_the_parent_writes_never_cuts_its_line(tmp_path: Path) -> None:
    """A child opening the file while a line of the parent is half way in waits for that
    line to end, rather than ending it with a newline of its own and writing in its middle."""
    result = run_script(FORK_MID_WRITE, str(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "child 0" in result.stdout, result.stdout
    lines = (tmp_path / "traces.jsonl").read_text().split("\n")
    assert lines[-1] == "", lines
    documents = [json.loads(line) for line in lines[:-1]]  # every line whole, none empty
    assert sorted(d["line"][:5] for d in documents) == ["child", "first", "ppppp"]
