"""The layers of ``connector``, written down and held: no import cycle, no back edge, a pure core.

Layers, low to high; a package imports only packages in lower layers, and packages that share a layer
(``|``) do not import each other::

    money | validation | config -> models -> rating -> storage -> security
    -> ingest | spreadsheets | receipts -> platforms -> events -> billing
    -> serverless | api -> demo -> commands -> cli

``demo`` sits above ``api`` because it drives the API app in-process. Two edges the order would allow are
refused too: ``billing`` never imports ``ingest`` (billing works on sessions, ingest turns vendor formats
into them for the faces) and adapters never import the outbox (the worker owns it). The pure core (``rating``,
``models``, ``money``, ``validation``) imports only itself, pydantic and the standard library.

Imports are read from the source: module level, inside functions and under ``if TYPE_CHECKING:`` all
count. A module named by a string (``importlib.import_module``, ``__import__``, a module-level
``__getattr__``) hides an edge from this walk, so it is refused too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.paths import REPO

SOURCE = REPO / "connector"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("money", "validation", "config"),
    ("models",),
    ("rating",),
    ("storage",),
    ("security",),
    ("ingest", "spreadsheets", "receipts"),
    ("platforms",),
    ("events",),
    ("billing",),
    ("serverless", "api"),
    ("demo",),
    ("commands",),
    ("cli",),
)
LAYER_OF: dict[str, int] = {package: level for level, group in enumerate(LAYERS) for package in group}
# Edges the order allows and the design does not (importer, imported; dotted prefixes), with the reason the
# failure prints.
FORBIDDEN: dict[tuple[str, str], str] = {
    ("connector.billing", "connector.ingest"): "billing works on sessions; ingest parses vendor formats for the faces",
    ("connector.platforms.adapters", "connector.storage.tables.outbox"):
        "adapters get what they need through the DeliveryContext; the outbox is the worker's",
}


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def forbidden_reason(imp: Import) -> str | None:
    return next((reason for (src, dst), reason in FORBIDDEN.items()
                 if within(imp.source, src) and within(imp.target, dst)), None)

PURE_CORE = frozenset({"rating", "models", "money", "validation"})
PURE_CORE_THIRD_PARTY = frozenset({"pydantic"})
STDLIB_ONLY = frozenset({"money", "config"})

@dataclass(frozen=True)
class Import:
    """One name a module imports: ``target`` is the dotted module it resolves to."""

    source: str
    path: str
    line: int
    target: str
    text: str

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path, SOURCE): path for path in sorted(SOURCE.rglob("*.py"))}


def imports_of(source: str, path: str, text: str, known: Iterable[str]) -> list[Import]:
    """Every import in ``text`` (at any depth of the tree), resolved against the ``known`` module names."""
    known = set(known)
    package = source if path.endswith("__init__.py") else source.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(text, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(source, path, node.lineno, alias.name, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            written = "." * node.level + (node.module or "")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in known else base
                found.append(Import(source, path, node.lineno, target, f"from {written} import {alias.name}"))
    return sorted(found, key=lambda imp: imp.line)


@cache
def all_imports() -> tuple[Import, ...]:
    known = modules()
    found: list[Import] = []
    for name, path in known.items():
        rel = path.relative_to(REPO).as_posix()
        found.extend(imports_of(name, rel, path.read_text(encoding="utf-8"), known))
    return tuple(found)


def package_of(module: str) -> str | None:
    """``connector.billing.ledger.journal`` -> ``billing``; ``connector.money`` -> ``money``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "connector" else None


def owning_module(target: str, known: Iterable[str]) -> str | None:
    known = set(known)
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def layer_violations(found: Iterable[Import]) -> list[str]:
    problems = []
    for imp in found:
        src, dst = package_of(imp.source), package_of(imp.target)
        if src is None or dst is None or src == dst:
            continue
        if src not in LAYER_OF or dst not in LAYER_OF:
            continue  # reported by test_every_package_has_a_layer
        if reason := forbidden_reason(imp):
            problems.append(f"{imp.where()}  ({reason})")
        elif LAYER_OF[dst] == LAYER_OF[src]:
            problems.append(f"{imp.where()}  ({src} and {dst} share a layer and stay independent)")
        elif LAYER_OF[dst] > LAYER_OF[src]:
            problems.append(f"{imp.where()}  ({src} imports {dst}, a higher layer)")
    return problems


def pure_core_violations(found: Iterable[Import]) -> list[str]:
    stdlib = sys.stdlib_module_names
    problems = []
    for imp in found:
        src = package_of(imp.source)
        if src not in PURE_CORE and src not in STDLIB_ONLY:
            continue
        top = imp.target.split(".")[0]
        if top == "connector":
            dst = package_of(imp.target)
            if dst is not None and dst not in PURE_CORE:
                problems.append(f"{imp.where()}  (the pure core imports only itself, not {dst})")
        elif top == "__future__" or top in stdlib:
            continue
        elif src in STDLIB_ONLY:
            problems.append(f"{imp.where()}  ({src} imports only the standard library)")
        elif top not in PURE_CORE_THIRD_PARTY:
            problems.append(f"{imp.where()}  (the pure core imports only pydantic and the standard library)")
    return problems


def module_graph(found: Iterable[Import], known: Iterable[str]) -> dict[str, dict[str, Import]]:
    known = set(known)
    graph: dict[str, dict[str, Import]] = {name: {} for name in known}
    for imp in found:
        target = owning_module(imp.target, known) if imp.target.startswith("connector") else None
        if target is not None and target != imp.source:
            graph[imp.source].setdefault(target, imp)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
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


def string_wiring(path: str, text: str) -> list[str]:
    """``importlib.import_module``, ``__import__`` and a module-level ``__getattr__`` in one file."""
    tree = ast.parse(text, filename=path)
    problems = [f"{path}:{node.lineno}: module-level __getattr__" for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__"):
            problems.append(f"{path}:{node.lineno}: {name}(...)")
    return sorted(problems, key=lambda problem: int(problem.split(":")[1]))


def fail_with(title: str, problems: list[str]) -> None:
    assert not problems, title + ":\n  " + "\n  ".join(problems)


def test_every_package_has_a_layer() -> None:
    packages = {package_of(name) for name in modules()} - {None}
    fail_with("packages of connector/ missing from LAYERS", sorted(str(p) for p in packages - set(LAYER_OF)))


def test_no_import_cycle() -> None:
    graph = module_graph(all_imports(), modules())
    problems = []
    for component in cycles(graph):
        members = set(component)
        edges = [imp.where() for name in component for target, imp in sorted(graph[name].items())
                 if target in members]
        problems.append(" <-> ".join(component) + "\n    " + "\n    ".join(edges))
    fail_with("import cycles", problems)


def test_each_layer_imports_only_lower_layers() -> None:
    fail_with("imports against the layer order", layer_violations(all_imports()))


def test_pure_core_imports_only_itself_pydantic_and_stdlib() -> None:
    fail_with("pure core imports", pure_core_violations(all_imports()))


def test_no_modules_named_by_strings() -> None:
    problems = []
    for path in modules().values():
        rel = path.relative_to(REPO).as_posix()
        problems.extend(string_wiring(rel, path.read_text(encoding="utf-8")))
    fail_with("modules named by strings hide imports from readers and tools", problems)


def test_the_checks_catch_what_they_guard() -> None:
    """The walk sees a back edge inside a function, a TYPE_CHECKING import, an impure core and a cycle."""
    known = {"connector.api", "connector.billing", "connector.billing.jobs", "connector.ingest", "connector.rating",
             "connector.rating.engine", "connector.storage", "connector.storage.db"}
    billing = imports_of("connector.billing.jobs", "connector/billing/jobs.py",
                         "def run():\n    import connector.api\n", known)
    assert layer_violations(billing) == [
        "connector/billing/jobs.py:2: import connector.api  (billing imports api, a higher layer)"]
    parsing = imports_of("connector.billing.jobs", "connector/billing/jobs.py", "from connector import ingest\n", known)
    assert layer_violations(parsing) == ["connector/billing/jobs.py:1: from connector import ingest  "
                                         "(billing works on sessions; ingest parses vendor formats for the faces)"]
    adapter = imports_of("connector.platforms.adapters.x", "connector/platforms/adapters/x.py",
                         "from connector.storage.tables.outbox import DeliveryRow\n", known)
    assert layer_violations(adapter) == [
        "connector/platforms/adapters/x.py:1: from connector.storage.tables.outbox import DeliveryRow  "
        "(adapters get what they need through the DeliveryContext; the outbox is the worker's)"]
    rating = imports_of("connector.rating.engine", "connector/rating/engine.py",
                        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..storage import db\n"
                        "import requests\n", known)
    assert layer_violations(rating) == [
        "connector/rating/engine.py:3: from ..storage import db  (rating imports storage, a higher layer)"]
    assert pure_core_violations(rating) == [
        "connector/rating/engine.py:3: from ..storage import db  (the pure core imports only itself, not storage)",
        "connector/rating/engine.py:4: import requests  (the pure core imports only pydantic and the standard "
        "library)"]
    back = imports_of("connector.storage.db", "connector/storage/db.py", "from connector.rating import engine\n",
                      known)
    loop = imports_of("connector.rating.engine", "connector/rating/engine.py", "from connector.storage import db\n",
                      known)
    assert cycles(module_graph(back + loop, known)) == [["connector.rating.engine", "connector.storage.db"]]
    assert string_wiring("connector/x.py", "import importlib\nimportlib.import_module('a')\n"
                         "def __getattr__(name):\n    return name\n") == [
        "connector/x.py:2: import_module(...)", "connector/x.py:3: module-level __getattr__"]
