"""The build under test is the one asked for: pure by default, compiled under scripts/test_compiled.sh.

A stale extension module beside a source file would shadow the source (edits ignored), and a compiled run
that silently imported the pure modules would test nothing new: both fail here.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.paths import REPO

SETUP = (REPO / "setup.py").read_text()
HOT = [line.strip().strip('",') for line in SETUP.split("COMPILED = [", 1)[1].split("]", 1)[0].splitlines()
       if line.strip()]


def test_the_compiled_list_names_existing_modules() -> None:
    assert HOT and all((REPO / path).is_file() for path in HOT)


@pytest.mark.parametrize("path", HOT)
def test_each_hot_module_is_from_the_build_under_test(path: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    origin = Path(module.__file__ or "")
    if os.environ.get("EVBILL_EXPECT_COMPILED") == "1":
        assert origin.suffix in (".so", ".pyd"), f"{module.__name__} is not compiled: {origin}"
    else:
        assert origin.suffix == ".py", f"{module.__name__} comes from {origin}: remove the stale build"
        assert origin.parent.is_relative_to(REPO / "connector")


def test_compiled_build_requirements_are_the_locked_versions() -> None:
    """An isolated ``EVBILL_COMPILE=1 pip install .`` must install what uv.lock pins, not newer releases."""
    import ast
    import tomllib

    locked = {p["name"]: p["version"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    tree = ast.parse((REPO / "setup.py").read_text())
    pins = next(ast.literal_eval(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "COMPILE_REQUIRES" for t in node.targets))
    assert pins and all("==" in pin for pin in pins)
    wanted = dict(pin.split("==") for pin in pins)
    assert wanted == {name: locked[name] for name in wanted}
