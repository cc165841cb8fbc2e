"""Every ``connector/...`` path and ``connector.x.y`` name in the docs exists, so the docs follow the tree.

Read: README.md, CONTRIBUTING.md, docs/**/*.md and the README of each top-level folder. A path may use
``{a,b}`` (each alternative must exist), ``*`` (a glob that must match) or a ``<placeholder>`` segment (the
folder before it must exist). A dotted name resolves to a module or package, and what follows it must be
defined in that module (its source names it), so a doc cannot keep pointing at a module or function that
moved.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.paths import REPO

DOCS = sorted([REPO / "README.md", REPO / "CONTRIBUTING.md", *(REPO / "docs").rglob("*.md"),
               *REPO.glob("*/README.md")])
# A path starts at ``connector/`` (not inside a longer path) and names a lower-case module or package:
# "station, connector/EVSE" is prose.
PATH = re.compile(r"(?<![\w/.-])connector/[a-z_][\w./<>{},*-]*")
DOTTED = re.compile(r"(?<![\w/.-])connector(?:\.[A-Za-z_]\w*)+")


def expand(path: str) -> list[str]:
    """``a/{b,c}.py`` -> ``a/b.py``, ``a/c.py``."""
    match = re.search(r"\{([^{}]*)\}", path)
    if match is None:
        return [path]
    return [alt for choice in match.group(1).split(",")
            for alt in expand(path[:match.start()] + choice + path[match.end():])]


def path_exists(path: str) -> bool:
    if "<" in path:
        return (REPO / path[:path.index("<")]).is_dir()
    if "*" in path:
        return any(REPO.glob(path.rstrip("/")))
    return (REPO / path.rstrip("/")).exists()


def dotted_exists(name: str) -> bool:
    """The longest prefix that is a module or package exists, and the next part is defined in it."""
    parts = name.split(".")
    found = 1
    while found < len(parts):
        below = REPO.joinpath(*parts[:found + 1])
        if not (below.is_dir() or below.with_suffix(".py").is_file()):
            break
        found += 1
    if found == 1:
        return False
    if found == len(parts):
        return True
    module = REPO.joinpath(*parts[:found])
    source = module / "__init__.py" if module.is_dir() else module.with_suffix(".py")
    return source.is_file() and re.search(rf"\b{re.escape(parts[found])}\b", source.read_text()) is not None


def references(doc: Path) -> list[tuple[int, str, bool]]:
    """(line number, reference, exists) for every path and dotted name in ``doc``."""
    found = []
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        for match in PATH.finditer(line):
            path = match.group(0).rstrip(".,")
            found.append((number, path, all(path_exists(p) for p in expand(path))))
        for match in DOTTED.finditer(line):
            found.append((number, match.group(0), dotted_exists(match.group(0))))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(REPO).as_posix())
def test_every_connector_path_in_the_docs_exists(doc: Path) -> None:
    missing = [f"{doc.relative_to(REPO)}:{number}: {ref}"
               for number, ref, exists in references(doc) if not exists]
    assert not missing, "the docs name paths the tree does not have:\n  " + "\n  ".join(missing)


def test_the_check_catches_a_moved_path(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("See `connector/billing/service.py`, `connector/rating/{engine,result}.py`,\n"
                   "`connector/platforms/adapters/<vendor>.py`, `connector.rating.rate`,\n"
                   "`connector.ingest.store` "
                   "and a station, connector/EVSE.\n")
    assert [(ref, exists) for _, ref, exists in references(doc)] == [
        ("connector/billing/service.py", False), ("connector/rating/{engine,result}.py", True),
        ("connector/platforms/adapters/<vendor>.py", True), ("connector.rating.rate", True),
        ("connector.ingest.store", False)]
