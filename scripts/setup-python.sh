#!/usr/bin/env bash
# Creates .venv with the third-party Python libraries the interoperability test uses
# (pycose, cryptography, cbor2 from PyPI, versions pinned in tests/interop/requirements.txt).
# Idempotent: re-running only installs what the pins say is missing or wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
