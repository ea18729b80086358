"""agentobs beside its peers, in one run: ``make bench-peers`` (``QUICK=1`` for a smoke run).

    python benchmarks/bench_peers.py                # every row; writes benchmarks/RESULTS.md
    python benchmarks/bench_peers.py --quick        # smoke run: .bench-peers/RESULTS-quick.md
    python benchmarks/bench_peers.py --install-only # create the peers' environments and stop
    python benchmarks/bench_peers.py --render       # RESULTS.md and the tables from RESULTS.json

Each peer gets its own virtual environment under ``.bench-peers/`` (pinned below, created
with uv), and so does agentobs (``.bench-peers/agentobs``: this checkout, editable, with the
same common packages and nothing else: no row carries the development ``.venv``'s other
pytest plugins and start-up hooks, which make plain pytest there cost 2.7 times the CPU
and would hide the plugin's cost). Every measurement is one fresh process of
``peer_worker.py`` in that environment, against a raw OpenTelemetry reference measured in the
same process (see its docstring). A rotel collector on loopback receives the OTLP exports.
The report says, per environment, which hosts the SDK tried to reach (all refused).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENVS_DIR = ROOT / ".bench-peers"
ROTEL = ROOT / ".backends" / "bin" / "rotel-agent"
FINDINGS = HERE / "peers_findings.md"
TABLE_PAGES = ("README.md", "docs/performance.md")
"""Pages holding the summary table between ``peers_report``'s markers, rewritten with the
report."""

COMMON = [
    "openai",
    "httpx",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "pytest",
]
"""Installed beside every peer (versions as the peer's own pins allow; reported)."""

PEERS: dict[str, list[str]] = {
    "traceloop-sdk": ["traceloop-sdk==0.62.4"],
    "langfuse": ["langfuse==5.2.0"],
    "logfire": ["logfire==5.4.0"],
    "openlit": ["openlit==1.45.0"],
    "agentops": ["agentops==0.4.21"],
    "opentelemetry-instrumentation-openai-v2": [
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==0.4b0",  # 2.4b0 imports a module later releases dropped
    ],
    "pytest-opentelemetry": ["pytest-opentelemetry==1.1.0"],
    "ddtrace": ["ddtrace==4.16.0"],
}
"""Environment name -> pinned requirements (the environment name is the peer's package)."""

REQUIREMENTS: dict[str, list[str]] = {"agentobs": ["--editable", str(ROOT)], **PEERS}
"""Every environment's requirements: agentobs's (this checkout) and the peers'."""

SHOWN = {
    "agentobs": ["agentobs"],
    **{name: [spec.split("==")[0] for spec in specs[:1]] for name, specs in PEERS.items()},
}
KEY_PACKAGES = ["opentelemetry-sdk", "openai", "pytest"]


@dataclass
class Job:
    env: str
    section: str
    variant: str | None = None

    def names(self) -> set[str]:
        """What ``--only`` matches: env, section, variant, env:section, env:section:variant."""
        full = f"{self.env}:{self.section}"
        return {self.env, self.section, self.variant or "", full, f"{full}:{self.variant or ''}"}


JOBS = [
    *(Job(env, "decorators") for env in ("agentobs",)),
    Job("agentobs", "decorators", "adopted"),
    *(Job(env, "decorators") for env in ("traceloop-sdk", "langfuse", "logfire", "openlit")),
    Job("agentops", "decorators"),
    Job("agentobs", "llm"),
    Job("agentobs", "llm", "wrapper"),
    *(
        Job(env, "llm")
        for env in (
            "traceloop-sdk",
            "openlit",
            "opentelemetry-instrumentation-openai-v2",
            "langfuse",
            "logfire",
        )
    ),
    *(Job(env, "pytest") for env in ("agentobs", "pytest-opentelemetry", "ddtrace")),
    *(Job(env, "pytest", "six") for env in ("agentobs", "pytest-opentelemetry", "ddtrace")),
    *(Job(env, "import") for env in ("agentobs", *PEERS)),
    Job("agentobs", "throughput"),
    Job("agentobs", "throughput", "local"),
    *(
        Job(env, "throughput")
        for env in ("traceloop-sdk", "langfuse", "logfire", "openlit", "agentops")
    ),
]
"""Every measurement, in the order reported (each a fresh worker process)."""

LENGTH = {"pytest": 4, "llm": 3, "throughput": 2, "decorators": 1, "import": 0}
"""How long each section's job takes, relatively: with several workers at once (``--jobs``,
a quick run) the longest start first. With one, it makes no difference to the total."""


def python_of(env: str) -> Path:
    return ENVS_DIR / env / "bin" / "python"


def _uv() -> str:
    found = ROOT / ".venv" / "bin" / "uv"
    return str(found) if found.exists() else shutil.which("uv") or "uv"


def install(env: str) -> None:
    """Create (or bring up to date) one environment; a stamp records its pins."""
    requirements = [*REQUIREMENTS[env], *COMMON]
    directory = ENVS_DIR / env
    stamp = directory / ".bench-peers.stamp"
    wanted = "\n".join([*requirements, "bytecode compiled"])
    if str(ROOT) in requirements:  # this checkout: a change of its dependencies reinstalls
        wanted += "\n" + hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and python_of(env).exists():
        return
    base = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [_uv(), "venv", "-q", "--allow-existing", "--python", base, str(directory)], check=True
    )
    subprocess.run(
        [_uv(), "pip", "install", "-q", "--python", str(python_of(env)), *requirements],
        check=True,
    )
    compile_bytecode(env)
    stamp.write_text(wanted)


def compile_bytecode(env: str) -> None:
    """Write the bytecode of everything installed in ``env`` (for agentobs, ``src`` too), as
    ``pip install`` does and ``uv pip install`` does not: without it every worker compiles
    its SDK from source at start-up (where ``PYTHONDONTWRITEBYTECODE`` is set, every time),
    which slows the run and turns the import rows into compile times. Files already
    compiled are skipped; a file that does not compile is left as it is."""
    python = str(python_of(env))
    found = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    paths = [found, str(ROOT / "src")] if env == "agentobs" else [found]
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j0", *paths],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


SIX = "six==1.17.0"
"""The real third-party suite of the pytest rows: six's own tests, from its sdist."""


def sdist(requirement: str) -> Path:
    """Download the sdist of a pinned ``name==version`` (once) into .bench-peers/sdists; its
    path."""
    directory = ENVS_DIR / "sdists"
    # An sdist's file name spells the project as its metadata does (more-itertools,
    # more_itertools): compare normalised names.
    wanted = requirement.replace("==", "-").replace("_", "-").lower()

    def downloaded() -> Path | None:
        for found in directory.glob("*.tar.gz"):
            if found.name.removesuffix(".tar.gz").replace("_", "-").lower() == wanted:
                return found
        return None

    found = downloaded()
    if found is not None:
        return found
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(directory),
            requirement,
        ],
        check=True,
    )
    found = downloaded()
    if found is None:
        raise RuntimeError(f"pip downloaded no {requirement} sdist into {directory}")
    return found


def six_sdist() -> Path:
    """six's sdist (downloaded once into .bench-peers/sdists)."""
    return sdist(SIX)


def versions(env: str) -> dict[str, str]:
    done = subprocess.run(
        [_uv(), "pip", "list", "--format", "json", "--python", str(python_of(env))],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        listed = {item["name"].lower(): item["version"] for item in json.loads(done.stdout)}
    except ValueError:
        return {}
    wanted = [*SHOWN.get(env, []), *KEY_PACKAGES]
    return {name: listed.get(name, "-") for name in wanted}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def rotel(work: Path) -> Iterator[str | None]:
    """A rotel collector (blackhole exporter) on loopback; its OTLP/HTTP base URL."""
    if not os.access(ROTEL, os.X_OK):
        yield None
        return
    grpc, http = _free_port(), _free_port()
    argv = [
        str(ROTEL),
        "start",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{grpc}",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http}",
        "--exporter",
        "blackhole",
        "--pid-file",
        str(work / "rotel.pid"),
        "--log-file",
        str(work / "rotel-daemon.log"),
    ]
    with (work / "rotel.log").open("w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", http)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{http}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_job(job: Job, args: argparse.Namespace, endpoint: str | None, work: Path) -> dict[str, Any]:
    output = work / f"{job.env}-{job.section}-{job.variant or 'default'}.json"
    if job.section == "throughput" and endpoint is None:
        return _failed(job, f"no rotel at {ROTEL} (make backends installs it)")
    if not python_of(job.env).exists():
        return _failed(job, f"no environment: {python_of(job.env).parent.parent}")
    command = [
        str(python_of(job.env)),
        str(HERE / "peer_worker.py"),
        "--env",
        job.env,
        "--section",
        job.section,
        "--rounds",
        str(args.rounds),
        "--output",
        str(output),
        "--endpoint",
        endpoint or "http://127.0.0.1:9",
        "--seconds",
        str(args.seconds),
    ]
    if job.variant:
        command += ["--variant", job.variant]
    if job.variant == "six":
        command += ["--sdist", str(six_sdist())]
    if args.quick:
        command.append("--quick")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "AGENTOBS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=args.job_timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return _failed(job, f"did not finish within {args.job_timeout} s")
    if done.returncode != 0 or not output.exists():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return _failed(job, lines[-1] if lines else f"exit status {done.returncode}")
    result: dict[str, Any] = json.loads(output.read_text())
    print(
        f"  {job.env} {job.section} {job.variant or ''}: {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return result


def _failed(job: Job, reason: str) -> dict[str, Any]:
    print(f"  {job.env} {job.section} {job.variant or ''}: could not run: {reason}", flush=True)
    row = {
        "section": job.section,
        "name": f"{job.env} ({job.variant or job.section})",
        "value": None,
        "note": f"could not run: {reason}",
    }
    return {
        "env": job.env,
        "section": job.section,
        "variant": job.variant,
        "phoned_home": [],
        "rows": [row],
        "failed": reason,
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _run_of(report: dict[str, Any]) -> dict[str, Any]:
    """What the report says of an earlier ``--only`` run: its rows, command, time and load."""
    return {
        "only": report["partial"]["only"],
        "command": report["command"],
        "generated": report["generated"],
        "load_average": report["machine"]["load_average"][0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few calls and rounds")
    parser.add_argument("--install-only", action="store_true")
    parser.add_argument(
        "--render", action="store_true", help="rewrite the report (and README) from its JSON"
    )
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=float, help="throughput confirmation (default 30)")
    parser.add_argument(
        "--only", help="comma-separated: SECTION, ENV, VARIANT, ENV:SECTION or ENV:SECTION:VARIANT"
    )
    parser.add_argument("--output", type=Path)
    parser.add_argument("--job-timeout", type=float, default=1800)
    parser.add_argument("--jobs", type=int, help="workers at once (default 1; quick: 4)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 7)
    args.jobs = args.jobs or (4 if args.quick else 1)
    args.seconds = args.seconds or (1.0 if args.quick else 30.0)
    output = args.output or (ENVS_DIR / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md")
    if args.render:  # after editing peers_findings.md: same figures, text again
        import peers_report

        report = json.loads(output.with_suffix(".json").read_text())
        output.write_text(peers_report.render(report, FINDINGS))
        if output == HERE / "RESULTS.md":
            for page in TABLE_PAGES:
                peers_report.update_readme(ROOT / page, report)
        return 0
    ENVS_DIR.mkdir(exist_ok=True)
    with ThreadPoolExecutor(4) as pool:  # downloads overlap (uv locks its cache)
        list(pool.map(install, [*REQUIREMENTS]))
    compile_bytecode("agentobs")  # src changes without a new install
    six_sdist()
    if args.install_only:
        return 0
    jobs = JOBS
    if args.only:
        wanted = set(args.only.split(","))
        jobs = [job for job in JOBS if job.names() & wanted]
    started = time.monotonic()
    before = machine()
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    try:
        with rotel(work) as endpoint, ThreadPoolExecutor(args.jobs) as pool:
            # Longest first, so that the last job to start is a short one (same report order).
            longest = sorted(jobs, key=lambda job: -LENGTH[job.section]) if args.jobs > 1 else jobs
            running = {id(job): pool.submit(run_job, job, args, endpoint, work) for job in longest}
            results = [running[id(job)].result() for job in jobs]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    previous = output.with_suffix(".json")
    partial = None
    if args.only and previous.exists():  # re-measured rows replace theirs in the last report
        done = {(r["env"], r["section"], r["variant"]) for r in results}
        prior = json.loads(previous.read_text())
        before = prior.get("partial") or {}
        partial = {
            "only": args.only,
            "others_from": before.get("others_from")
            or {key: prior[key] for key in ("generated", "command", "elapsed", "machine")},
            # earlier --only runs, whose rows the report still holds unless re-measured now
            "earlier": [
                *before.get("earlier", []),
                *([_run_of(prior)] if before and before["only"] != args.only else []),
            ],
        }
        kept = prior["results"]
        kept = [r for r in kept if (r["env"], r["section"], r["variant"]) not in done]
        order = {(j.env, j.section, j.variant): i for i, j in enumerate(JOBS)}
        results = sorted(
            kept + results, key=lambda r: order.get((r["env"], r["section"], r["variant"]), 0)
        )
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": (
            f"python benchmarks/bench_peers.py --only {args.only}"
            if partial
            else "make bench-peers" + (" QUICK=1" if args.quick else "")
        ),
        "quick": args.quick,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "elapsed": time.monotonic() - started,
        "machine": {**before, "load_average_after": machine()["load_average"]},
        "versions": {env: versions(env) for env in ("agentobs", *PEERS)},
        "results": results,
        "partial": partial,
    }
    output.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    import peers_report

    output.write_text(peers_report.render(report, FINDINGS))
    if output == HERE / "RESULTS.md":
        for page in TABLE_PAGES:
            peers_report.update_readme(ROOT / page, report)
    print(f"wrote {output} ({report['elapsed']:.0f} s)")
    failed = [r for r in results if r.get("failed")]
    return 1 if args.quick and failed else 0


if __name__ == "__main__":
    sys.exit(main())
