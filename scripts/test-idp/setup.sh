#!/usr/bin/env bash
# Sets up the independent SAML test IdP used by the sign-in tests: a Python venv
# with signxml/lxml/cryptography, and Debian's xmlsec1 as the signature oracle.
# Idempotent. The venv goes to $TEST_IDP_VENV (default: .test-idp-venv in the
# repo root). Prints the venv's python path on its last line; tests find it via
# PORTCULLIS_TEST_IDP_PYTHON or at the default location.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${TEST_IDP_VENV:-$root/.test-idp-venv}"

if ! command -v xmlsec1 >/dev/null 2>&1; then
  echo "xmlsec1 is missing: installing the Debian package" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y xmlsec1 >&2
fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
# pip is quick when everything is already installed at the pinned versions.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
"$venv/bin/python" -c "import signxml, lxml, cryptography" >&2

echo "$venv/bin/python"
