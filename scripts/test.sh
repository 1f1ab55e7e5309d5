#!/usr/bin/env bash
# Run the whole suite. Uses PostgreSQL and Redis when LEARNING_TEST_DATABASE_URL and
# LEARNING_TEST_BROKER_URL are set (.ci/run sets them), SQLite and the filesystem broker otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests..."
    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing (/usr/bin/chromium): install it (apt-get install chromium) to run the browser tests." >&2
    exit 1
  fi
fi

# The certificate tests read QR codes back from rendered PDF pages (pdftoppm, zbarimg).
if ! command -v zbarimg >/dev/null || ! command -v pdftoppm >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's zbar-tools and poppler-utils for the certificate tests..."
    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zbar-tools poppler-utils >/dev/null
  else
    echo "zbarimg or pdftoppm is missing: install them (apt-get install zbar-tools poppler-utils) to run the certificate tests." >&2
    exit 1
  fi
fi

# The SAML single sign-on checks XML signatures with Debian's xmlsec1 (pysaml2 calls it).
if ! command -v xmlsec1 >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's xmlsec1 for the SAML single sign-on tests..."
    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 >/dev/null
  else
    echo "xmlsec1 is missing: install it (apt-get install xmlsec1) to run the SAML sign-on tests." >&2
    exit 1
  fi
fi

echo "Database: ${LEARNING_TEST_DATABASE_URL:-SQLite (set LEARNING_TEST_DATABASE_URL for PostgreSQL)}"
echo "Broker:   ${LEARNING_TEST_BROKER_URL:-filesystem (set LEARNING_TEST_BROKER_URL for Redis)}"
# --every-test-reports: the run fails if any collected test reports no result (tests/every_test_reports.py).
exec $BIN/pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup --every-test-reports "$@"
