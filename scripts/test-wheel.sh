#!/usr/bin/env bash
# The release wheel against the whole Python test suite (issue 14): build the wheel with
# `maturin build --release`, install it into a fresh virtual environment, copy the source
# tree WITHOUT the package and the Rust crates (so `import imcombiners` can only find the
# wheel), and run pytest there with no cargo/rustc/maturin on PATH.
#
#   bash scripts/test-wheel.sh [pytest arguments...]     e.g. -m "not slurm"
#
# Not part of scripts/test.sh (it would double CI time); tests/test_wheel.py, which CI
# runs, builds the same wheel and smoke-tests it on this and on emulated CPUs.
# Left out here, because they test the source tree or the build, not the installed package:
# tests/test_layout.py (reads imcombiners/*.py), tests/test_build.py (cargo),
# tests/test_wheel.py (builds a wheel with cargo).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m maturin --version >/dev/null 2>&1 || python3 -m pip install -q maturin
(cd "$repo" && python3 -m maturin build --release --interpreter python3 --out "$work/wheelhouse")
# test dependencies from this Python (pip install -e ".[test]" put them there); the
# package itself only from the wheel
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-deps "$work"/wheelhouse/imcombiners-*.whl
mkdir "$work/src"
(cd "$repo" && git ls-files -z | grep -zv -E '^(imcombiners|crates)/' | xargs -0 cp --parents -t "$work/src")
# ../shared (real-IRAF cases, real frames) beside the copy, as beside the repository
[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
cd "$work/src"
# no Rust toolchain: only the venv, the system binaries and the Debian tools the tests drive
PATH="$work/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
! command -v cargo >/dev/null && ! command -v rustc >/dev/null
python -c "import imcombiners, sys; p = imcombiners.__file__; print('testing', p); sys.exit('not the wheel' if '$work/venv' not in p else 0)"
python -m pytest -q -rs -p no:cacheprovider \
    --ignore=tests/test_layout.py --ignore=tests/test_build.py --ignore=tests/test_wheel.py "$@"
