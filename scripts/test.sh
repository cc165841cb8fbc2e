#!/usr/bin/env bash
# The README's test command: installs everything the tests need, then runs lint and the whole suite
# with the project virtualenv's Python (.venv/, built from uv.lock by scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_system.sh
bash scripts/venv.sh dev
bash scripts/ocpi_partner_venv.sh  # the OCPI partner the tests run (own venv: it pins pydantic 1)
for d in sheets excel_addin zapier; do
  # npm ci: exactly the package-lock.json versions (npm install could move them)
  if [ -f "$d/package.json" ]; then (cd "$d" && npm ci --no-audit --no-fund --silent); fi
done
# the venv first on PATH: tests run its tools (cfn-lint) and start `python -m connector.cli` subprocesses
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
export EVBILL_TEST_STRICT=1  # a test skipped for a missing tool fails (tests/conftest.py)
export EVBILL_TEST_PG_URL="${EVBILL_TEST_PG_URL:-postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_test}"
.venv/bin/python -m ruff check --no-cache connector tests bench scripts
.venv/bin/python -m mypy  # [tool.mypy] in pyproject.toml: strict on rating/, models/, money.py; zero errors
.venv/bin/python -m pytest "$@"
# the same rating tests and identical-output corpus against the compiled (mypyc) build
bash scripts/test_compiled.sh
