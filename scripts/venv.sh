#!/usr/bin/env bash
# Builds the project virtualenv .venv/ from the lock files (idempotent; a no-op when up to date):
#   scripts/venv.sh        the runtime packages (make demo)
#   scripts/venv.sh dev    runtime + every extra and test/dev tool, exactly as locked (make test)
#   scripts/venv.sh uv     only the venv and uv (make lock)
# python3 -m venv (Debian's python3-venv is installed when missing), then pip installs the uv pinned with
# hashes in requirements-uv.txt, then `uv sync --locked` installs uv.lock: every package, direct and
# transitive, at its locked version and hash, and fails if uv.lock no longer matches pyproject.toml
# (run `make lock` after changing dependencies). Never touches the system interpreter's packages (PEP 668).
# PYTHON picks the interpreter (default python3, >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-runtime}"
case "$PROFILE" in runtime | dev | uv) ;; *) echo "venv.sh: unknown profile '$PROFILE' (runtime, dev or uv)" >&2; exit 2 ;; esac
VENV=.venv
PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null; then
  echo "venv.sh: $PYTHON not found; install Python >= 3.11 (Debian: apt-get install python3)" >&2; exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "venv.sh: $("$PYTHON" --version 2>&1) is too old, this project needs Python >= 3.11" >&2; exit 1
fi

# A venv that is missing, half-made or whose interpreter is gone is (re)created.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian/Ubuntu ship venv's ensurepip separately from the interpreter.
    rm -rf "$VENV"
    if [ "$("$PYTHON" -c 'import sys; print(sys.base_prefix)')" = /usr ] && command -v apt-get >/dev/null; then
      PKG=python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv
      [ "$(readlink -f "$(command -v "$PYTHON")")" = "$(readlink -f /usr/bin/python3)" ] && PKG=python3-venv
      bash scripts/apt_install.sh "$PKG"
    fi
    "$PYTHON" -m venv "$VENV"
  fi
fi

# pip (Debian's) and uv below verify PyPI's TLS against the system CA store; minimal images lack it.
[ -s /etc/ssl/certs/ca-certificates.crt ] || ! command -v apt-get >/dev/null || bash scripts/apt_install.sh ca-certificates

UV_VERSION=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-uv.txt)
if [ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes -r requirements-uv.txt
fi

# uv works on this venv only: no interpreter downloads, no other project environment; it trusts the
# system's CA store like apt and Debian's pip do (a TLS-inspecting proxy's CA added there works for all).
export UV_PROJECT_ENVIRONMENT="$PWD/$VENV" UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=true
case "$PROFILE" in
  uv) SYNC=() ;;
  # exact: what is not in the lock for dev is removed, so the tests see the locked set and nothing else
  dev) SYNC=(--extra dev) ;;
  # inexact: a demo after a test run keeps the dev tools (every runtime package is still at its locked version)
  runtime) SYNC=(--inexact) ;;
esac
if [ "$PROFILE" != uv ] && ! "$VENV/bin/uv" sync -q --locked "${SYNC[@]}"; then
  echo "venv.sh: installing uv.lock into $VENV failed (changed dependencies in pyproject.toml? run make lock)" >&2
  exit 1
fi
