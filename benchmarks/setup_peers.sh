#!/usr/bin/env bash
# Build the peer environment for the benchmark suite (idempotent).
#
# Creates benchmarks/.venv-peers with the earlier public implementation
# (PyPI imcombiners==0.1.1) compiled from its sdist, plus numpy, bottleneck and
# astropy. It lives in its own venv because its import name clashes with ours.
# The benchmark never installs anything by itself; run this once beforehand:
#
#     bash benchmarks/setup_peers.sh            # create or complete the venv
#     FORCE=1 bash benchmarks/setup_peers.sh    # rebuild from scratch
#
# Needs: python3 with venv, a Rust toolchain (cargo) on PATH, network access to
# PyPI and crates.io (the sdist pulls its crates at build time).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peers"
py="${PYTHON:-python3}"
peer_version="0.1.1"

if [[ "${FORCE:-0}" == "1" && -d "$venv" ]]; then
    echo "[setup_peers] FORCE=1: removing $venv"
    rm -rf "$venv"
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "[setup_peers] creating $venv"
    "$py" -m venv "$venv"
fi
vpy="$venv/bin/python"

# Already complete? (the right version imports and the runtime deps are there)
if "$vpy" - "$peer_version" <<'EOF' 2>/dev/null; then
import sys, imcombiners, numpy, bottleneck, astropy  # noqa: F401
sys.exit(0 if imcombiners.__version__ == sys.argv[1] else 1)
EOF
    echo "[setup_peers] imcombiners $peer_version already installed in $venv: nothing to do"
    exit 0
fi

command -v cargo >/dev/null || {
    echo "[setup_peers] cargo not found: install Rust (rustup) first" >&2
    exit 1
}

"$vpy" -m pip install -q --upgrade pip
# Build tools for the sdist (maturin builds the Rust extension) and the peers
# that run next to it in the driver.
"$vpy" -m pip install -q "maturin>=1.5,<2" numpy bottleneck astropy
# The sdist is built from source; its Python deps (reducers, astro-ndslice)
# come from PyPI as wheels or sdists as available.
echo "[setup_peers] building imcombiners==$peer_version from source (several minutes)"
"$vpy" -m pip install --no-binary imcombiners "imcombiners==$peer_version"

"$vpy" - <<'EOF'
import imcombiners, numpy, bottleneck, astropy
print("[setup_peers] ok: imcombiners", imcombiners.__version__, "numpy", numpy.__version__,
      "bottleneck", bottleneck.__version__, "astropy", astropy.__version__)
EOF
