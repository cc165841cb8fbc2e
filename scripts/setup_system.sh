#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian machine (idempotent):
# PostgreSQL (storage tests run on SQLite and PostgreSQL), LibreOffice Calc (workbook recalculation),
# poppler-utils (pdftoppm: invoice PDFs rendered to PNG in tests),
# Chromium (receipt rendering), wrk (the compiled HTTP load generator of bench/rate_api_wrk.sh), Node.js + npm (the add-ins' and Zapier app's tests; scripts/test.sh runs
# npm ci in sheets/, excel_addin/, zapier/). Python packages: scripts/venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT_PACKAGES="postgresql libreoffice-calc-nogui chromium poppler-utils wrk"
# Node only when there is none: a Node installed another way (NodeSource, nvm) already has its npm
command -v node >/dev/null || APT_PACKAGES="$APT_PACKAGES nodejs npm"
# shellcheck disable=SC2086  # one word per package
bash scripts/apt_install.sh $APT_PACKAGES

# PostgreSQL: start the Debian cluster and create the test role + database.
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -n1)
if ! pg_lsclusters 2>/dev/null | grep -q online; then
  pg_lsclusters 2>/dev/null | grep -q main || $SUDO pg_createcluster "$PGVER" main >/dev/null
  $SUDO pg_ctlcluster "$PGVER" main start
fi
$SUDO runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='evbill'" | grep -q 1 \
  || $SUDO runuser -u postgres -- psql -qc "CREATE ROLE evbill LOGIN SUPERUSER PASSWORD 'evbill'"
$SUDO runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname='evbill_test'" | grep -q 1 \
  || $SUDO runuser -u postgres -- createdb -O evbill evbill_test
echo "setup_system: postgres $PGVER ready on 127.0.0.1:5432"
