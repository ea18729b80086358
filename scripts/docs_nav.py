"""MkDocs hook (mkdocs.yml ``hooks:``): every page under docs/ is in the site's navigation.

A page that mkdocs.yml's ``nav`` does not list (one added by a later change, say
docs/operations.md) is appended to the "Guides" section under its file name, so a new page is
never left out of the site; listing it in ``nav`` gives it a place and a title. Pages matched
by ``not_in_nav`` (the generated runbooks, linked from runbooks/README.md) stay out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTION = "Guides"


def _listed(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return set().union(*(_listed(item) for item in nav)) if nav else set()
    if isinstance(nav, dict):
        return set().union(*(_listed(value) for value in nav.values()))
    return set()


def missing_pages(docs_dir: Path, nav: Any, not_in_nav: Any) -> list[str]:
    """Markdown files under ``docs_dir`` that neither ``nav`` nor ``not_in_nav`` covers."""
    listed = _listed(nav)
    found = sorted(p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.md"))
    return [
        page
        for page in found
        if page not in listed and not (not_in_nav and not_in_nav.match_file(page))
    ]


def on_config(config: Any) -> Any:
    nav = config["nav"]
    if not nav:
        return config
    extra = missing_pages(Path(config["docs_dir"]), nav, config["not_in_nav"])
    if not extra:
        return config
    section = next((item for item in nav if isinstance(item, dict) and SECTION in item), None)
    if section is None:
        section = {SECTION: []}
        nav.append(section)
    section[SECTION].extend(extra)
    return config
