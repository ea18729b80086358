"""The layers are enforced: the import contract can fail, and there is no import cycle.

``make lint`` runs ``lint-imports`` with the contracts in pyproject.toml. These tests prove
the contracts fail when a line is crossed (on a copy of the source with upward imports
added), and walk every import of ``src/agentobs`` (lazy and type-only ones included) to
prove there is no cycle.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

CROSSINGS = {
    # file in agentobs/: (an import that crosses a line, the contract it breaks)
    "_engine.py": ("from ._export import pipeline", "hot-path"),
    "_llm/usage.py": (
        "def _sdk():\n    from opentelemetry.sdk.trace import ReadableSpan\n",
        "hot-path",
    ),
    "_catalogue.py": ("from . import _state", "catalogue"),
    "_settings.py": (
        "if TYPE_CHECKING:\n    from .cli import main\n",
        "top",
    ),
    "_llm/budget.py": ("from ..integrations import openai", "layers"),
}


def _copy_tree(tmp_path: Path) -> Path:
    """A copy of src/agentobs and the contracts, for lint-imports to check."""
    shutil.copytree(SRC / "agentobs", tmp_path / "src" / "agentobs")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contract_fails_on_upward_imports(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    clean = _lint_imports(tree)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 broken" in clean.stdout
    for relative, (line, _contract) in CROSSINGS.items():
        path = tree / "src" / "agentobs" / relative
        path.write_text(path.read_text(encoding="utf-8") + f"\n\n{line}\n", encoding="utf-8")

    crossed = _lint_imports(tree)

    assert crossed.returncode != 0
    broken = {contract for _line, contract in CROSSINGS.values()}
    assert f"0 kept, {len(broken)} broken" in crossed.stdout, crossed.stdout
    for relative in CROSSINGS:
        importer = "agentobs." + relative.removesuffix(".py").replace("/", ".")
        assert f"{importer} -> " in crossed.stdout, (importer, crossed.stdout)


def _modules(src: Path) -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def import_graph(src: Path) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, every import statement counted (at module
    level, inside functions, under ``if TYPE_CHECKING``), and in a module that imports by
    name (``importlib.import_module``) every string naming a module of ours, absolutely or
    below the root package (``agentobs.__getattr__``'s table, the CLI's commands, the OTLP
    exporter classes): stricter than needed, never blind to such an import."""
    modules = _modules(src)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        root = name.partition(".")[0]
        edges: set[str] = set()
        text = path.read_text(encoding="utf-8")
        by_name = "import_module(" in text
        for node in ast.walk(ast.parse(text)):
            if by_name and isinstance(node, ast.Constant) and isinstance(node.value, str):
                named = [node.value, f"{root}.{node.value}"]
                edges.update(m for m in named if m in modules and m != name)
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_lazy_or_type_only() -> None:
    graph = import_graph(SRC)
    assert "agentobs._llm.wrapper" in graph
    assert "agentobs._engine" in graph["agentobs._llm.wrapper"]
    assert cycles(graph) == []


@pytest.mark.parametrize(
    "importer_line",
    [
        "from . import b",  # at module level
        "def f():\n    from .b import g\n",  # lazy
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n",
        "import importlib\ndef f():\n    return importlib.import_module('pkg.b')\n",  # by name
        "import importlib\nLAZY = {'g': 'b'}\ndef f(n):\n    importlib.import_module(f'pkg.{n}')\n",
    ],
)
def test_the_cycle_check_sees_every_kind_of_import(tmp_path: Path, importer_line: str) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(importer_line + "\n")
    (package / "b.py").write_text("from .a import x\n")
    (package / "c.py").write_text("from . import a\n")

    assert cycles(import_graph(tmp_path)) == [["pkg.a", "pkg.b"]]


def test_every_module_is_held_by_the_contract() -> None:
    """A new module cannot slip past "nothing imports the CLI or the pytest plugin"."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    package = SRC / "agentobs"
    modules = {
        f"agentobs.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem not in ("__init__", "__main__"))
        or (path / "__init__.py").exists()
    }
    top = {"agentobs.cli", "agentobs.pytest_plugin"}
    assert set(contracts["top"]["source_modules"]) == modules - top
    assert set(contracts["top"]["forbidden_modules"]) == top
