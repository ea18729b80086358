"""Every shell command and Python block of the README and the docs, run as a person would.

* README.md, docs/configuration.md and docs/llm.md speak to someone in a clone of this
  repository: their commands run from the repository root, in a shell whose PATH does not
  have ``.venv/bin`` (``make`` does not activate it; the README says to type
  ``.venv/bin/agentobs``), and their Python blocks run as scripts from the root.
* docs/pytest.md speaks to someone adding agentobs to *their* test suite, with their virtual
  environment active: its commands run in a small project of that kind, whose test file is
  the doc's own Python block. ``http://collector:4318`` and ``http://pushgateway:9091`` stand
  for the reader's own servers; they are given a real rotel collector and a real Pushgateway,
  and the test reads back what arrived there.
* ``make test`` is the one command not run for real (it runs this suite): ``make -n test``
  checks that it would run lint and pytest. ``promql`` blocks are checked by ``promtool``.
  Unlabelled blocks show output, and are not run.

* docs/dashboards.md's ``agentobs export`` commands run with the venv active in a scratch
  directory (they write directories), and what they write for ``deploy/`` must equal the
  committed copies.
* docs/getting-started.md and docs/concepts.md speak to someone in a clone, like the README;
  the collector of getting-started (``http://collector:4318``) is a real rotel.
* docs/migrate/*.md hold a "before" and an "after" program each, run in a scratch directory
  with the real ``openai`` client against tests/llm_server.py: the "after" program's
  telemetry is read back; the "before" one runs when its library is installed (Langfuse and
  Logfire are test dependencies; OpenLLMetry's ``traceloop-sdk`` is not: it brings some
  sixty packages and its own OpenTelemetry SDK pin) and must print the same.

* docs/performance.md's commands take minutes to hours: ``make -n`` must show that each runs
  the script the page names, and ``make bench``'s script runs for real as a one-round quick
  run; ``make bench-peers QUICK=1`` is run by tests/test_bench_peers.py (in CI, or with
  ``AGENTOBS_BENCH_PEERS=1``), which also checks the page's generated table.

Every fenced block must be of one of these kinds, so a new one cannot be skipped silently.
The generated docs under docs/runbooks and the recipes under docs/deploy have tests of their
own (tests/test_alert_rules.py, tests/test_deploy_recipes.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.backends import Pushgateway, Rotel, clean_env, http_get, missing_backend, poll

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GENERATED = ("runbooks", "deploy")  # docs/runbooks and docs/deploy: tested on their own
DOCS = [
    "README.md",
    *sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "docs").rglob("*.md")
        if p.relative_to(ROOT / "docs").parts[0] not in GENERATED
    ),
]
USER_PROJECT_DOCS = {"docs/pytest.md"}
COLLECTOR_DOCS = {"docs/getting-started.md"}  # a placeholder collector, given a real one
MIGRATION_DOCS = {f"docs/migrate/{name}.md" for name in ("openllmetry", "langfuse", "logfire")}
SCRATCH_DOCS = {"docs/dashboards.md"}
EXCERPT_DOCS = {"docs/integrations.md"}  # excerpts of examples run by test_examples_integrations
OWN_TEST_DOCS = {"docs/operations.md"}  # tests/test_docs_operations.py runs every block
PERFORMANCE_DOC = "docs/performance.md"
BENCH_COMMANDS = {  # each command of docs/performance.md: the command `make -n` says it runs
    "make bench": ".venv/bin/python benchmarks/run.py",
    "make bench-peers QUICK=1": ".venv/bin/python benchmarks/bench_peers.py --quick",
    "make bench-peers": ".venv/bin/python benchmarks/bench_peers.py",
}
KINDS = {"bash", "python", "promql", ""}
NOT_RUN_HERE = {"make test": "make -n test"}  # it would run this very suite
PLACEHOLDERS = ("http://collector:4318", "http://pushgateway:9091")
TIMEOUT = 180

_FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    kind: str
    code: str

    @property
    def commands(self) -> list[str]:
        """The shell block's commands: one per line, ``\\`` continuations joined, comments
        and blank lines left out."""
        joined = self.code.replace("\\\n", " ")
        lines = (line.strip() for line in joined.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def blocks(doc: str | None = None, kind: str | None = None) -> list[Block]:
    found = []
    for name in DOCS if doc is None else [doc]:
        text = (ROOT / name).read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            code = textwrap.dedent(match.group(3))  # a block inside a list item is indented
            found.append(Block(name, line, match.group(2), code))
    return [b for b in found if kind is None or b.kind == kind]


def _env(*, activated: bool, **extra: str) -> dict[str, str]:
    """A person's shell: no make variables of ours, the venv on PATH only when activated."""
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    parts = [p for p in parts if Path(p).absolute() != BIN.absolute()]
    env = clean_env(PATH=os.pathsep.join([str(BIN), *parts] if activated else parts), **extra)
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    if activated:
        env["VIRTUAL_ENV"] = str(BIN.parent)
    return env


def _run(
    argv: list[str], cwd: Path, env: dict[str, str], what: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    output = f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{output}"
    return result


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(["bash", "-c", command], cwd, env, repr(command))


def run_python(block: Block, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = cwd / f".doc-block-{Path(block.doc).stem}-{block.line}.py"
    script.write_text(block.code, encoding="utf-8")
    try:
        result = _run([str(BIN / "python"), str(script)], cwd, env, f"{block.doc}:{block.line}")
    finally:
        script.unlink()
    assert "Traceback" not in result.stderr, result.stderr
    return result


def local_report(service: str) -> Any:
    """``agentobs report --json`` of the last ten minutes of ``service`` in the root's files."""
    command = f".venv/bin/agentobs report --service {service} --since 10m --json"
    return json.loads(sh(command, ROOT, _env(activated=False)).stdout)


@pytest.fixture(scope="module")
def leaves_no_new_files() -> Iterator[None]:
    """Files the README's commands write in the repository root (``report.html``) are
    removed afterwards unless they were there before; ``.agentobs/`` is git-ignored."""
    before = {p.name for p in ROOT.iterdir()}
    yield
    for path in ROOT.iterdir():
        if path.name not in before and path.is_file():
            path.unlink()


@pytest.fixture(scope="module")
def readme_shell(leaves_no_new_files: None) -> dict[str, subprocess.CompletedProcess[str]]:
    """The README's shell commands, run in order from the repository root."""
    results = {}
    for block in blocks("README.md", "bash"):
        for command in block.commands:
            run = NOT_RUN_HERE.get(command.split("#")[0].strip(), command)
            results[command] = sh(run, ROOT, _env(activated=False))
    return results


# --- the inventory -------------------------------------------------------------------------


def test_every_block_is_of_a_kind_this_test_runs() -> None:
    found = blocks()
    assert {b.kind for b in found} <= KINDS, [(b.doc, b.line, b.kind) for b in found]
    assert blocks("README.md", "bash")
    assert blocks("README.md", "python")
    for block in blocks(kind="bash"):
        for placeholder in PLACEHOLDERS:
            if placeholder in block.code:
                assert block.doc in USER_PROJECT_DOCS | COLLECTOR_DOCS, (block.doc, placeholder)


# --- README.md: from the repository root ---------------------------------------------------


def test_readme_shell_commands(readme_shell: dict[str, subprocess.CompletedProcess[str]]) -> None:
    outputs = {command.split("#")[0].strip(): result for command, result in readme_shell.items()}
    demo = outputs["make demo"]
    assert "Next, read what the demo wrote:" in demo.stdout
    assert "release" in demo.stdout
    dry_run = outputs["make test"].stdout
    assert "pytest" in dry_run
    assert "ruff check" in dry_run
    html = ROOT / "report.html"  # written by the README's report command
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    flaky = next(r for c, r in outputs.items() if " flaky " in f"{c} ")
    assert "1 flaky of 9 tests" in flaky.stdout


def test_readme_python_block(readme_shell: dict[str, subprocess.CompletedProcess[str]]) -> None:
    (block,) = blocks("README.md", "python")
    run_python(block, ROOT, _env(activated=False))
    document = local_report("fleet")
    assert "release" in [w["name"] for w in document["workflows"]]
    assert "lint" in [g["name"] for g in document["gates"]]
    interventions = [m for m in document["metrics"] if m["name"] == "agentobs.human_interventions"]
    assert any("approve-deploy" in m["attributes"] for m in interventions)


# --- docs/configuration.md and docs/llm.md: from the repository root -------------------------


def test_configuration_doc(readme_shell: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for block in blocks("docs/configuration.md", "bash"):
        for command in block.commands:
            result = sh(command, ROOT, _env(activated=False))
            assert result.stdout.strip(), command
    for block in blocks("docs/configuration.md", "python"):
        run_python(block, ROOT, _env(activated=False))


def test_llm_doc(readme_shell: dict[str, subprocess.CompletedProcess[str]]) -> None:
    env = _env(activated=False, OPENAI_API_KEY="sk-the-readers-own-key")
    for block in blocks("docs/llm.md", "python"):
        run_python(block, ROOT, env)
    report = sh(
        ".venv/bin/agentobs report --service fleet --since 10m --json", ROOT, _env(activated=False)
    )
    models = {m["model"] for m in json.loads(report.stdout)["llm"]["models"]}
    assert "acme-large" in models


# --- docs/pytest.md: in a user's project, with its virtual environment active -----------------


def test_pytest_doc(tmp_path: Path, rotel: Rotel, pushgateway: Pushgateway) -> None:
    project = tmp_path / "agent"
    (project / "tests").mkdir(parents=True)
    for number, block in enumerate(blocks("docs/pytest.md", "python")):
        (project / "tests" / f"test_doc_{number}.py").write_text(block.code, encoding="utf-8")
    servers = dict(zip(PLACEHOLDERS, (rotel.http_endpoint, pushgateway.url), strict=True))
    env = _env(activated=True)
    ran = []
    for block in blocks("docs/pytest.md", "bash"):
        for command in block.commands:
            real = command
            for placeholder, server in servers.items():
                real = real.replace(placeholder, server)
            result = sh(real, project, env)
            ran.append(command)
            if command.startswith("pytest --agentobs-export local"):
                assert (project / ".agentobs" / "traces.jsonl").exists()
            if command.startswith("agentobs report"):
                assert "TESTS" in result.stdout
                assert "test_planner_answers_cheaply" in result.stdout
            if command.startswith("agentobs flaky"):
                assert "0 flaky of 1 tests" in result.stdout
    assert any(PLACEHOLDERS[0] in c for c in ran)
    assert any(PLACEHOLDERS[1] in c for c in ran)
    rotel.wait_for_span("tests/test_doc_0.py::test_planner_answers_cheaply")
    metrics = poll(
        lambda: (
            (body := http_get(f"{pushgateway.url}/metrics")[1].decode())
            and (body if "agentobs_test_run_pass_rate" in body else None)
        ),
        timeout=10,
        what="the run's gauges in the Pushgateway",
    )
    assert 'job="agentobs_pytest"' in metrics


def test_promql_blocks_are_valid(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_backend("prometheus", "no promtool on PATH")
    expressions = [
        line.split("  #")[0].strip()
        for block in blocks(kind="promql")
        for line in block.code.splitlines()
        if line.strip()
    ]
    assert expressions
    rules = {
        "groups": [
            {
                "name": "docs",
                "rules": [{"record": f"doc:{i}", "expr": e} for i, e in enumerate(expressions)],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")  # JSON is YAML
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- docs/dashboards.md: the export commands, with the venv active, in a scratch directory ----


def test_dashboards_doc(tmp_path: Path) -> None:
    env = _env(activated=True)
    commands = [c for b in blocks("docs/dashboards.md", "bash") for c in b.commands]
    assert commands
    for command in commands:
        sh(command, tmp_path, env)
    for committed in (ROOT / "deploy").rglob("*"):
        if committed.is_file():
            written = tmp_path / committed.relative_to(ROOT)
            assert written.read_bytes() == committed.read_bytes(), committed
    assert any((tmp_path / "agentobs-assets").rglob("*.json"))
    assert any((tmp_path / "my-rules").iterdir())


# --- docs/getting-started.md and docs/concepts.md: from the repository root -----------------


def test_getting_started_doc(leaves_no_new_files: None, rotel: Rotel) -> None:
    (program,) = blocks("docs/getting-started.md", "python")
    run_python(program, ROOT, _env(activated=False))
    outputs = {}
    for block in blocks("docs/getting-started.md", "bash"):
        for command in block.commands:
            real = command.replace(PLACEHOLDERS[0], rotel.http_endpoint)
            outputs[command.split("#")[0].strip()] = sh(real, ROOT, _env(activated=False)).stdout
    report = outputs[".venv/bin/agentobs report"]
    for shown in ("answer", "plan", "researcher", "search", "has-results"):
        assert shown in report, shown
    assert (ROOT / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert any(PLACEHOLDERS[0] in command for command in outputs)
    record = rotel.wait_for_span("invoke_workflow answer")
    assert record is not None


def test_concepts_doc(leaves_no_new_files: None) -> None:
    (program,) = blocks("docs/concepts.md", "python")
    result = run_python(program, ROOT, _env(activated=False))
    assert "tokens left: 9800" in result.stdout
    document = local_report("concepts")
    assert "release" in [w["name"] for w in document["workflows"]]
    assert "implement" in [s["name"] for s in document["stages"]]
    assert "draft" in [t["name"] for t in document["tasks"]]
    assert "writer" in [a["name"] for a in document["agents"]]
    assert "search" in [t["name"] for t in document["tools"]]
    assert "review" in [g["name"] for g in document["gates"]]
    coder = next(p for p in document["personas"] if p["name"] == "coder")
    assert coder["input_tokens"] >= 120
    assert coder["output_tokens"] >= 80


# --- docs/performance.md: long commands, dry-run, and make bench's script as a quick run ----


def test_performance_doc(tmp_path: Path) -> None:
    env = _env(activated=False)
    commands = [
        c.split("#")[0].strip() for b in blocks(PERFORMANCE_DOC, "bash") for c in b.commands
    ]
    assert commands == list(BENCH_COMMANDS)
    for command, script in BENCH_COMMANDS.items():
        dry_run = sh(command.replace("make ", "make -n ", 1), ROOT, env).stdout
        assert dry_run.splitlines()[-1].strip() == script, (command, dry_run)
    output = tmp_path / "results.json"
    sh(f"{BENCH_COMMANDS['make bench']} --quick --rounds 1 --output {output}", ROOT, env)

    def kinds(rows: list[dict[str, Any]]) -> set[str]:  # "2,000 tests" quick is "200 tests"
        # --quick leaves out the real suites' rows (their sdists): bench only.
        return {
            re.sub(r"[\d,]+", "N", row["name"])
            for row in rows
            if "own test suite" not in row["name"]
        }

    committed = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    measured = json.loads(output.read_text())["rows"]
    assert kinds(committed["rows"]) <= kinds(measured)  # the rows the page quotes still exist
    page = (ROOT / PERFORMANCE_DOC).read_text(encoding="utf-8")
    peers = json.loads((ROOT / "benchmarks" / "RESULTS.json").read_text())
    for generated in (committed["generated"], peers["generated"]):  # the runs it quotes
        assert f"run of {generated[:10]}" in page, generated


# --- docs/migrate: before and after, against a local OpenAI-compatible server ----------------


def _before_after(doc: str) -> tuple[Block, Block]:
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    before, after = blocks(doc, "python")
    assert lines.index("## Before") < before.line < lines.index("## After") < after.line
    return before, after


@pytest.mark.parametrize("doc", sorted(MIGRATION_DOCS))
def test_migration_guide(doc: str, tmp_path: Path) -> None:
    from tests.llm_server import FakeLLM

    before, after = _before_after(doc)
    library = {"openllmetry": "traceloop", "langfuse": "langfuse", "logfire": "logfire"}[
        Path(doc).stem
    ]
    with FakeLLM() as fake:
        env = _env(activated=True, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="sk-reader")
        (tmp_path / "after").mkdir()
        printed = run_python(after, tmp_path / "after", env).stdout
        assert printed.strip() == "Hello world"  # what the local server answers
        if importlib.util.find_spec(library) is not None:
            (tmp_path / "before").mkdir()
            assert run_python(before, tmp_path / "before", env).stdout == printed
        else:
            assert library == "traceloop", f"{library} should be installed (dev extra)"
        assert len(fake.requests) == (2 if library != "traceloop" else 1)
    report = sh("agentobs report --service support --json", tmp_path / "after", env)
    document = json.loads(report.stdout)
    assert [w["name"] for w in document["workflows"]] == ["answer"]
    steps = [t["name"] for t in document["tasks"] + document["tools"]]
    assert "retrieve" in steps
    (model,) = document["llm"]["models"]
    assert model["provider"] == "openai"
    assert model["input_tokens"] == 12
    assert model["output_tokens"] == 5
    if library == "traceloop":
        assert [p["name"] for p in document["personas"]] == ["support-agent"]
    if library == "langfuse":
        (gate,) = document["gates"]
        assert (gate["name"], gate["passed"], gate["score_avg"]) == ("helpfulness", 1, 0.9)


def test_every_doc_with_commands_is_run() -> None:
    with_commands = {b.doc for b in blocks() if b.kind in ("bash", "python")}
    run_here = {"README.md", "docs/configuration.md", "docs/llm.md", "docs/concepts.md"}
    tested = run_here | USER_PROJECT_DOCS | SCRATCH_DOCS | COLLECTOR_DOCS | MIGRATION_DOCS
    tested |= EXCERPT_DOCS | OWN_TEST_DOCS | {PERFORMANCE_DOC}
    assert with_commands <= tested, with_commands - tested
    assert with_commands >= MIGRATION_DOCS


@pytest.mark.parametrize("doc", sorted(EXCERPT_DOCS))
def test_python_blocks_are_excerpts_of_the_examples_they_name(doc: str) -> None:
    """Each Python block names an example in its first line (``# examples/....py
    (excerpt)``) and is made of that file's lines, in order; tests/
    test_examples_integrations.py runs the examples themselves."""
    found = blocks(doc, "python")
    assert found
    for block in found:
        first, *lines = block.code.splitlines()
        match = re.fullmatch(r"# (examples/\S+\.py) \(excerpt\)", first)
        assert match, (block.line, first)
        source = (ROOT / match.group(1)).read_text(encoding="utf-8").splitlines()
        stripped = [line.strip() for line in source]
        at = 0
        for line in lines:
            assert line.strip() in stripped[at:], (block.line, line, match.group(1))
            at = stripped.index(line.strip(), at) + 1
    for block in blocks(doc, ""):
        for line in block.code.splitlines():
            if line.startswith("OPENAI_API_KEY=sk-... python "):
                assert (ROOT / line.split()[-1]).is_file(), line
