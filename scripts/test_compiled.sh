#!/usr/bin/env bash
# The compiled build of the rating core (setup.py, EVBILL_COMPILE=1) against the same tests as the pure one:
# compiles a copy of the package in a temporary directory, puts it first on the import path, and runs the
# rating tests (identical-output corpus included) and the build check there. The checkout stays pure.
# Usage: bash scripts/test_compiled.sh [extra pytest args, e.g. -x]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
python="${PYTHON:-$repo/.venv/bin/python}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
PYTHON="$python" bash scripts/build_compiled.sh "$build"
# -P: the checkout's own (pure) package must not come first on the path; the compiled copy does
EVBILL_EXPECT_COMPILED=1 PYTHONPATH="$build:$repo" "$python" -P -m pytest -q -p no:cacheprovider \
  tests/rating tests/test_compiled_build.py "$@"
