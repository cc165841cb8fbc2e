#!/usr/bin/env bash
# Compile a copy of the package (setup.py with EVBILL_COMPILE=1, mypyc) into DIR, leaving the checkout pure.
# Then: PYTHONPATH=DIR python -P ... imports the compiled rating core (scripts/test_compiled.sh, and the
# benches with EVBILL_COMPILED_DIR=DIR). Usage: bash scripts/build_compiled.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: build_compiled.sh DIR}"
python="${PYTHON:-$PWD/.venv/bin/python}"
mkdir -p "$out"
cp -r connector setup.py pyproject.toml README.md "$out"/
find "$out" -name __pycache__ -prune -exec rm -rf {} +
(cd "$out" && EVBILL_COMPILE=1 "$python" setup.py -q build_ext --inplace >"$out/build.log" 2>&1) \
  || { tail -30 "$out/build.log"; exit 1; }
rm -rf "$out/build"
