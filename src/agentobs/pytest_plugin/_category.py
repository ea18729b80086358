"""A test's category: the first argument of a chosen marker, or its top-level test folder.

With ``agentobs_category_marker = component`` in the ini file, ``@pytest.mark.component("tools")``
puts a test in ``tools``. Otherwise the category is the first folder of the test's path below
the test root: ``tests/tools/test_x.py`` is in ``tools`` (a leading ``tests``, ``test`` or
``testing`` folder, or one named in ``testpaths``, is skipped when there is a folder below
it); a test file directly in the root is in the root folder's name, or ``.``.

Categories are metric attributes, so their number is bounded: after :data:`LIMIT` distinct
ones, further categories fold into ``_other``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _names as n
from .._catalogue import VALUE_LIMIT

LIMIT = VALUE_LIMIT
_MAX_LENGTH = 64
DEFAULT_ROOTS = frozenset(("tests", "test", "testing"))


def roots_from(testpaths: Iterable[str]) -> frozenset[str]:
    """Folder names skipped at the start of a path: ``testpaths`` entries and the usual ones."""
    names = {p.strip("/").split("/")[0] for p in testpaths if p and p.strip("/")}
    return DEFAULT_ROOTS | frozenset(names)


def folder_category(nodeid: str, roots: frozenset[str]) -> str:
    """The category of a node id by its path."""
    path = nodeid.split("::", 1)[0]
    folders = path.split("/")[:-1]
    if len(folders) > 1 and folders[0] in roots:
        folders = folders[1:]
    return folders[0] if folders else "."


class Categories:
    """Names each test's category, bounded in number."""

    def __init__(self, marker: str | None, roots: frozenset[str]) -> None:
        self.marker = marker
        self.roots = roots
        self._seen: set[str] = set()
        self._by_file: dict[str, str] = {}

    def of_item(self, item: Any) -> str:
        """The category of a test item (marker first, then folder)."""
        if self.marker is not None and self.marker in item.keywords:
            mark = item.get_closest_marker(self.marker)
            if mark is not None and mark.args:
                return self.bounded(str(mark.args[0]))
        path = item.nodeid.partition("::")[0]
        found = self._by_file.get(path)
        if found is None:
            found = self._by_file[path] = self.bounded(folder_category(path, self.roots))
        return found

    def of_nodeid(self, nodeid: str) -> str:
        """The category of a test known only by its node id (folder rule)."""
        return self.bounded(folder_category(nodeid, self.roots))

    def bounded(self, category: str) -> str:
        """``category`` itself, or ``_other`` once :data:`LIMIT` categories were seen."""
        category = category[:_MAX_LENGTH] or "."
        if category in self._seen:
            return category
        if len(self._seen) >= LIMIT:
            return n.OVERFLOW_VALUE
        self._seen.add(category)
        return category
