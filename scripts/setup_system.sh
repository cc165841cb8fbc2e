#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian machine (idempotent):
# PostgreSQL (storage tests run on SQLite and PostgreSQL), LibreOffice Calc (workbook recalculation),
# Chromium (receipt rendering), Node.js packages of the add-ins.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
APT_PACKAGES="postgresql libreoffice-calc-nogui chromium"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# PostgreSQL: start the Debian cluster and create the test role + database.
PGVER=$(ls /usr/lib/postgresql | sort -V | tail -n1)
if ! pg_lsclusters 2>/dev/null | grep -q online; then
  pg_lsclusters 2>/dev/null | grep -q main || $SUDO pg_createcluster "$PGVER" main >/dev/null
  $SUDO pg_ctlcluster "$PGVER" main start
fi
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='evbill'" | grep -q 1 \
  || runuser -u postgres -- psql -qc "CREATE ROLE evbill LOGIN SUPERUSER PASSWORD 'evbill'"
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname='evbill_test'" | grep -q 1 \
  || runuser -u postgres -- createdb -O evbill evbill_test
echo "setup_system: postgres $PGVER ready on 127.0.0.1:5432"
