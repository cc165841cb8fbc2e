#!/usr/bin/env bash
# Builds .venv-ocpi-partner/: the independent OCPI 2.2.1 implementation (extrawest-ocpi, FastAPI) the
# OCPI tests run as the roaming partner on 127.0.0.1. A venv of its own because it pins pydantic 1 and
# FastAPI 0.101, which cannot share the project's environment (pydantic 2). Pinned with hashes in
# tests/ocpi/partner-requirements.txt; idempotent (a no-op when already installed).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-ocpi-partner
PYTHON="${PYTHON:-python3}"
REQ=tests/ocpi/partner-requirements.txt
STAMP="$VENV/.requirements.sha256"
WANT=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c 'import py_ocpi, uvicorn' 2>/dev/null; then
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r "$REQ"
echo "$WANT" > "$STAMP"
