#!/usr/bin/env bash
# Creates .venv with the third-party Python libraries the interoperability test uses
# (pycose, cryptography, cbor2 from PyPI). Idempotent: does nothing when they are present.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import pycose, cryptography, cbor2' 2>/dev/null; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
