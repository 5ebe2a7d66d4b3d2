#!/usr/bin/env bash
# Runs the whole test suite: Rust unit, golden, property and end-to-end tests (release build,
# because the end-to-end tests drive real nodes), plus the Python interoperability test that
# signs with pycose and verifies receipts with an independent RFC 9162 implementation.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-python.sh
# The IDevID tests make their certificates with openssl, and the gateway tests run against the
# Mosquitto MQTT broker: tools nobody on the team wrote, from the distribution's packages. Each
# gateway test starts its own broker on a free loopback port (crates/gateway/tests/mqtt.rs).
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PROVERKA_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --release --locked
