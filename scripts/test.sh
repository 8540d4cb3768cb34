#!/usr/bin/env bash
# Install the package with its test extras (builds the Rust extension in release mode),
# then run every test: the Rust kernel tests and the Python suite (notebooks included).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q -e ".[test]"
cargo test -p imc-core
python3 -m pytest -q
