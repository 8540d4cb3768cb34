"""The build itself: the Rust crates compile for aarch64 (NEON, no x86 SIMD levels).

``scripts/test.sh`` installs the aarch64 standard library with ``rustup target add``
(best effort); without it (or without cargo) the check is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AARCH64 = "aarch64-unknown-linux-gnu"


def _target_std_installed(target: str) -> bool:
    try:
        libdir = subprocess.run(["rustc", "--print", "target-libdir", "--target", target],
                                capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(libdir) and any(Path(libdir).glob("libcore-*.rlib"))


def test_crates_build_for_aarch64():
    if shutil.which("cargo") is None or shutil.which("rustc") is None:
        pytest.skip("cargo/rustc not on PATH")
    if not _target_std_installed(AARCH64):
        pytest.skip(f"the {AARCH64} standard library is not installed (rustup target add {AARCH64})")
    env = dict(os.environ)
    # PyO3 checks against a Python version instead of running an aarch64 interpreter.
    env["PYO3_CROSS_PYTHON_VERSION"] = "3.11"
    res = subprocess.run(["cargo", "check", "--quiet", "--target", AARCH64, "-p", "imc-core", "-p", "imc-py",
                          "--lib", "--tests", "--examples"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
