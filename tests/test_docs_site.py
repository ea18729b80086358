"""The documentation site (mkdocs.yml, ``make docs``): it builds in strict mode, a broken link, a
page left out of the nav or an unresolved API reference fails the build, the API reference
covers ``agentobs.__all__``, and in headless Chromium every page renders with no console
message and the search finds pages.

The site is built once per module into a temporary directory (about 10 s); Chromium loads it
from a loopback HTTP server (the search index is fetched, which ``file://`` forbids).
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentobs
from tests.backends import CHROMIUM_FLAGS, Chromium, clean_env

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"
BUILD_TIMEOUT = 180
CHROMIUM_TIMEOUT = 90
HOLD = 45.0  # seconds the harness may take to look at every page


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as ``make docs`` builds it (same config, strict), in a temporary directory."""
    out = tmp_path_factory.mktemp("docs-site") / "site"
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    return out


def pages(site: Path) -> list[str]:
    return sorted(
        str(p.relative_to(site))
        for p in site.rglob("*.html")
        if p.name != "404.html" and not p.name.startswith("_")
    )


# --- the build -----------------------------------------------------------------------------


def test_every_doc_becomes_a_page(site: Path) -> None:
    docs = ROOT / "docs"
    for md in docs.rglob("*.md"):
        relative = md.relative_to(docs)
        html = relative.with_suffix(".html")
        if relative.name == "README.md":
            html = relative.with_name("index.html")
        assert (site / html).is_file(), f"{relative} was not built"
    assert "gen_ai_workflow_duration_seconds" in (site / "metrics.html").read_text("utf-8")
    assert (site / "runbooks" / "AgentobsBudgetExhausted.html").is_file()
    assert (site / "deploy" / "prometheus.yml").is_file()  # recipes linked from the page
    assert (site / "search" / "search_index.json").is_file()
    home = (site / "index.html").read_text("utf-8")
    for md in docs.rglob("*.md"):  # every page is in the navigation but the runbooks
        relative = md.relative_to(docs)
        page = relative.with_suffix(".html")
        if relative.name == "README.md":
            page = relative.with_name("index.html")
        if not relative.name.startswith("Agentobs"):  # the generated runbooks
            assert f'href="{page.as_posix()}"' in home, relative


def test_api_reference_covers_the_public_api(site: Path) -> None:
    api = (site / "api.html").read_text("utf-8")
    missing = [name for name in agentobs.__all__ if f'id="agentobs.{name}"' not in api]
    missing = [name for name in missing if name not in ("__version__",)]
    assert not missing, f"not in the API reference: {missing}"
    assert "Sets the current persona for everything inside" in api  # from the docstring


def _scratch_project(tmp_path: Path, pages: dict[str, str], nav: list[str]) -> Path:
    """A small project with our mkdocs.yml settings (strictness, validation, plugins)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))
    config["nav"] = nav
    config["docs_dir"] = "docs"
    config["hooks"] = [str(ROOT / hook) for hook in config["hooks"]]
    config["plugins"][1]["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT / "src")]
    (tmp_path / "docs").mkdir()
    for name, text in pages.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_strict_build_fails_on_each_fault(tmp_path: Path) -> None:
    """One scratch build with three faults: strict mode reports each, then fails. A page
    missing from the nav is not one: the hook adds it (no warning)."""
    faults = {
        "index.md": "# Home\n\n[gone](nowhere.md)\n\n[anchor](#no-such-heading)\n\n"
        "See [the API][agentobs.no_such_thing].\n\n[Configure][agentobs.configure]\n\n"
        "::: agentobs.configure\n",
        "orphan.md": "# Orphan\n",
    }
    result = build(_scratch_project(tmp_path, faults, ["index.md"]), tmp_path / "site")
    assert result.returncode != 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    for fault in ("nowhere.md", "no-such-heading", "agentobs.no_such_thing"):
        assert any(fault in w for w in warnings), (fault, result.stderr[-3000:])
    assert len(warnings) == 3, warnings  # the good reference to agentobs.configure resolved


def test_the_nav_hook_adds_pages_nav_leaves_out(tmp_path: Path) -> None:
    """scripts/docs_nav.py: a page under docs/ that ``nav`` does not list joins "Guides"."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs_nav
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    for page in ("index.md", "llm.md", "new-page.md", "sub/deeper.md"):
        (tmp_path / page).parent.mkdir(exist_ok=True)
        (tmp_path / page).write_text("# x\n", encoding="utf-8")
    nav = [{"Home": "index.md"}, {"Guides": [{"LLM calls": "llm.md"}]}]
    config = {"nav": nav, "docs_dir": str(tmp_path), "not_in_nav": None}
    assert docs_nav.on_config(config)["nav"] == [
        {"Home": "index.md"},
        {"Guides": [{"LLM calls": "llm.md"}, "new-page.md", "sub/deeper.md"]},
    ]


# --- in Chromium ---------------------------------------------------------------------------


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory quietly and remembers every failed request (a missing asset).

    ``/_hold`` answers once ``/_release`` was asked for (or after HOLD seconds): the harness
    page holds its own load event with it until its checks are done, since Chromium dumps
    the DOM at the load event."""

    failed: list[str]
    released: threading.Event

    def do_GET(self) -> None:
        if self.path.startswith("/_release"):
            self.released.set()
            self.send_response(204)
            self.end_headers()
        elif self.path.startswith("/_hold"):
            self.released.wait(HOLD)
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            self.failed.append(f"{code} {self.path}")


@dataclass
class Served:
    url: str
    root: Path
    failed: list[str]
    released: threading.Event


@contextlib.contextmanager
def serve(root: Path) -> Iterator[Served]:
    """``root`` over HTTP on 127.0.0.1 (a free port), stopped on exit."""
    failed: list[str] = []
    handler = type("Handler", (SiteHandler,), {"failed": failed, "released": threading.Event()})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}", root, failed, handler.released)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[Served]:
    with serve(site) as s:
        yield s


# Loads every page in an iframe, waits (up to 20 s) until a search page shows its results,
# writes what each page shows into <pre id="result">, then lets the page finish loading.
_HARNESS = """<!doctype html><html><head><meta charset="utf-8"><title>check</title>
<link rel="icon" href="data:,"></head>
<body><pre id="result"></pre><script>
const pages = %s;
function look(doc, page) {
  const article = doc && doc.querySelector("article");
  const meta = doc && doc.querySelector(".md-search-result__meta");
  const info = {
    title: doc ? doc.title : "",
    h1: article && article.querySelector("h1") ? article.querySelector("h1").textContent : "",
    text: article ? article.innerText.length : 0,
    nav: doc ? doc.querySelectorAll("nav.md-nav a").length : 0,
    search: meta ? meta.textContent : "",
    results: doc ? [...doc.querySelectorAll("a.md-search-result__link")].map(
      a => a.getAttribute("href")) : [],
  };
  info.ready = !page.includes("?q=") || /match/i.test(info.search);
  return info;
}
function load(page) {
  return new Promise(resolve => {
    const frame = document.createElement("iframe");
    frame.width = 1200; frame.height = 800;
    frame.onload = async () => {
      let info = look(frame.contentDocument, page);
      for (let i = 0; i < 80 && !info.ready; i++) {
        await new Promise(wake => setTimeout(wake, 250));
        info = look(frame.contentDocument, page);
      }
      resolve([page, info]);
    };
    frame.src = page;
    document.body.appendChild(frame);
  });
}
Promise.all(pages.map(load)).then(found => {
  document.getElementById("result").textContent = JSON.stringify(Object.fromEntries(found));
  fetch("/_release");
});
</script><script src="/_hold"></script></body></html>
"""


def look_at(chromium: Chromium, served: Served, urls: list[str]) -> tuple[dict[str, Any], str]:
    """Open ``urls`` (relative to the served root) in headless Chromium; return what each page
    shows and Chromium's console messages (script errors, failed loads)."""
    harness = served.root / "_check.html"
    harness.write_text(_HARNESS % json.dumps(urls), encoding="utf-8")
    served.released.clear()
    profile = chromium.work / f"profile-{time.monotonic_ns()}"
    argv = [
        str(chromium.path),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        f"{served.url}/_check.html",
    ]
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHROMIUM_TIMEOUT,
            env=clean_env(),
            check=False,
        )
    finally:
        harness.unlink()
        shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r'<pre id="result">(.+?)</pre>', result.stdout, re.DOTALL)
    assert match, "the pages did not all load"
    console = "\n".join(line for line in result.stderr.splitlines() if ":CONSOLE" in line)
    return json.loads(html.unescape(match.group(1))), console


SEARCHES = {"budget": "llm.html", "OpenLLMetry": "migrate/openllmetry.html"}


@pytest.mark.backend("chromium")
def test_every_page_renders(chromium: Chromium, site: Path, served: Served) -> None:
    names = pages(site)
    assert len(names) > 20
    found, console = look_at(chromium, served, names)
    assert not console, console
    assert not served.failed, served.failed
    for name in names:
        page = found[name]
        assert page["h1"].strip(), f"{name}: no heading"
        assert page["text"] > 100, f"{name}: almost empty ({page})"
        assert page["nav"] > 10, f"{name}: no navigation ({page})"
        assert "agentobs" in page["title"], f"{name}: title {page['title']!r}"


@pytest.mark.backend("chromium")
def test_the_search_finds_pages(chromium: Chromium, served: Served) -> None:
    """Material's search (a web worker over search/search_index.json), given a query in the
    URL as a shared search link does."""
    found, console = look_at(chromium, served, [f"index.html?q={query}" for query in SEARCHES])
    assert not console, console
    for query, expected in SEARCHES.items():
        page = found[f"index.html?q={query}"]
        assert re.match(r"\s*\d+ matching document", page["search"]), (query, page["search"])
        hits = [re.split(r"[?#]", link)[0] for link in page["results"]]
        assert any(hit.endswith(expected) for hit in hits), (query, hits)


@pytest.mark.backend("chromium")
def test_the_check_sees_a_failing_page(chromium: Chromium, tmp_path: Path) -> None:
    """The check above would catch a page whose script fails, or a missing asset."""
    (tmp_path / "bad.html").write_text(
        "<!doctype html><html><body><h1>x</h1><script>noSuchFunction()</script>"
        '<script src="missing.js"></script></body></html>',
        encoding="utf-8",
    )
    with serve(tmp_path) as served:
        found, console = look_at(chromium, served, ["bad.html"])
    assert "noSuchFunction" in console
    assert served.failed == ["404 /missing.js"]
    assert found["bad.html"]["h1"] == ""  # no <article>: the heading check fails too


def test_the_make_target_builds_the_same_config() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert re.search(r"^docs: venv\n\t.*mkdocs build --strict", makefile, re.MULTILINE)
    assert "site/" in (ROOT / ".gitignore").read_text("utf-8").splitlines()
    assert os.access(MKDOCS, os.X_OK)
