#!/usr/bin/env bash
# The README's test command: installs everything the tests need, then runs lint and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_system.sh
python3 -m pip install -q -e ".[dev]"
for d in sheets excel_addin zapier; do
  if [ -f "$d/package.json" ]; then (cd "$d" && npm install --no-audit --no-fund --silent); fi
done
export EVBILL_TEST_STRICT=1  # a test skipped for a missing tool fails (tests/conftest.py)
export EVBILL_TEST_PG_URL="${EVBILL_TEST_PG_URL:-postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_test}"
python3 -m ruff check --no-cache connector tests bench scripts
python3 -m pytest "$@"
