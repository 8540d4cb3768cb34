#!/usr/bin/env bash
# Install the package with its test extras (builds the Rust extension in release mode),
# then run every test: the Rust kernel tests and the Python suite (notebooks, the heavy
# out-of-core memory test and the live real-IRAF parity test included).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Real IRAF 2.17 (Debian packages) for the live parity test; best effort, so a machine
# without apt still runs everything else (that test then reports itself as skipped).
if ! command -v irafcl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iraf iraf-noao >/dev/null) \
        || echo "warning: could not install IRAF; tests/test_iraf_live.py will be skipped" >&2
fi

python3 -m pip install -q -e ".[test]"
cargo test -p imc-core
python3 -m pytest -q -rs
