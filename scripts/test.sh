#!/usr/bin/env bash
# Install the package with its test extras (builds the Rust extension in release mode),
# then run every test: the Rust kernel tests and the Python suite (notebooks, the heavy
# out-of-core memory test, the live real-IRAF parity test and the SLURM tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian packages for the tests that drive real programs, best effort so that a machine
# without apt (or without root) still runs everything else (those tests then report
# themselves as skipped, with the reason):
#   iraf iraf-noao      real IRAF 2.17 for the live parity test (tests/test_iraf_live.py)
#   slurm-wlm munge     a real single-node SLURM cluster (tests/test_slurm_*.py)
#   qemu-user           emulated CPUs without AVX-512 / AVX for the wheel (tests/test_wheel.py)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt_updated=0
    apt_install() {
        if [ "$apt_updated" = 0 ]; then
            apt-get update -qq || echo "warning: apt-get update failed" >&2
            apt_updated=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
            || echo "warning: could not install $*; the tests needing it will be skipped" >&2
    }
    command -v irafcl >/dev/null 2>&1 || apt_install iraf iraf-noao
    command -v qemu-x86_64 >/dev/null 2>&1 || apt_install qemu-user
    [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/munged ] \
        || apt_install slurm-wlm munge
    # Installed and root: the SLURM tests must run here (a daemon that does not start
    # fails them with its logs instead of skipping them).
    if [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/munged ]; then
        export IMC_REQUIRE_SLURM=1
    fi
fi

# The aarch64 standard library, for tests/test_build.py's `cargo check --target aarch64-...`
# (best effort: without rustup or network that test reports itself as skipped).
if command -v rustup >/dev/null 2>&1; then
    rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
        || echo "warning: rustup target add aarch64-unknown-linux-gnu failed; the aarch64 build check will be skipped" >&2
fi

python3 -m pip install -q -e ".[test]"
cargo test -p imc-core
python3 -m pytest -q -rs
