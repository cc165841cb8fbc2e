#!/usr/bin/env bash
# The compiled build of the rating core (setup.py, EVBILL_COMPILE=1) against the same tests as the pure one:
# compiles a copy of the package in a temporary directory, puts it first on the import path, and runs the
# rating tests (identical-output corpus included) and the build check there. The checkout stays pure.
# Usage: bash scripts/test_compiled.sh [pytest args]  (default: tests/rating tests/test_compiled_build.py)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
python="${PYTHON:-$repo/.venv/bin/python}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp -r connector setup.py pyproject.toml README.md "$build"/
find "$build" -name __pycache__ -prune -exec rm -rf {} +
(cd "$build" && EVBILL_COMPILE=1 "$python" setup.py -q build_ext --inplace >"$build/build.log" 2>&1) \
  || { tail -30 "$build/build.log"; exit 1; }
if [ "$#" -eq 0 ]; then set -- tests/rating tests/test_compiled_build.py; fi
# -P: the checkout's own (pure) package must not come first on the path; the compiled copy does
EVBILL_EXPECT_COMPILED=1 PYTHONPATH="$build:$repo" "$python" -P -m pytest -q -p no:cacheprovider "$@"
