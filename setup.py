"""Optional compiled build of the rating core (mypyc); the pure-Python package is the default.

``EVBILL_COMPILE=1 pip install .`` (or ``python -m build``) compiles the hot modules below into C
extensions beside their sources: imports prefer the extension, and the ``.py`` files stay in the wheel as
the reference. Without the variable nothing is compiled, so an install needs no compiler and no mypy.
Only modules that pay are listed (docs/performance.md): the pydantic models stay interpreted, and so do
the rating options (built once per call, and they coerce loosely typed input that compiled code refuses).
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup

COMPILED = [
    "connector/money.py",
    "connector/models/energy_profile.py",
    "connector/rating/caps.py",
    "connector/rating/engine.py",
    "connector/rating/invoice.py",
    "connector/rating/periods.py",
    "connector/rating/restrictions.py",
    "connector/rating/result.py",
]


COMPILE = os.environ.get("EVBILL_COMPILE", "") in ("1", "true", "yes")
COMPILE_REQUIRES = [  # uv.lock's versions; tests/test_compiled_build.py keeps them equal
    "mypy==2.4.1", "mypy-extensions==1.2.0", "pathspec==1.1.1", "typing-extensions==4.16.0",
    "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0", "typing-inspection==0.4.5",
]
BUILDS = ("bdist_wheel", "build_ext", "build", "install", "editable_wheel", "develop")


def _extensions() -> list[Extension]:
    # pip and uv first run this file for metadata and build requirements (setup_requires below), before
    # mypy is installed: only a build step compiles
    if not COMPILE or not any(command in sys.argv for command in BUILDS):
        return []
    try:
        from mypyc.build import mypycify  # only the compiled build needs mypy
    except ImportError:
        raise SystemExit("EVBILL_COMPILE=1: the build needs mypy (mypyc) installed") from None
    return mypycify(COMPILED, opt_level="3")


setup(
    ext_modules=_extensions(),
    # an isolated build (pip, uv, python -m build) installs these only when it will compile: mypyc type-checks
    # the modules it compiles, and they use the pydantic models (pyproject's mypy config loads its plugin)
    # pinned to uv.lock's versions (with their own dependencies), so a compiled install resolves what CI tested
    setup_requires=COMPILE_REQUIRES if COMPILE else [],
)
