"""The release wheel: built by ``maturin build --release``, installed into a fresh virtual
environment outside the source tree with no Rust toolchain on PATH, imported and
smoke-tested; then run on emulated CPUs without AVX-512 and without AVX at all.

``IMC_WHEEL=path/to/imcombiners-*.whl`` tests that wheel instead of building one (the
build reuses ``target/`` so it is incremental after ``pip install -e .``). The emulated
CPUs need ``qemu-x86_64`` (Debian ``qemu-user``, installed by ``scripts/test.sh``): an
AMD EPYC-Milan (Zen 3: AVX2 + FMA, no AVX-512, the machines of issue 14) and an Intel
Nehalem (SSE4.2, no AVX). On each, the kernels must pick the best level that CPU has,
run without an illegal instruction, and give the same bits as this CPU and as the
in-tree build.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import smoke_combine

REPO = Path(__file__).resolve().parent.parent
SMOKE = Path(smoke_combine.__file__)


def _maturin() -> list[str] | None:
    exe = shutil.which("maturin")
    if exe:
        return [exe]
    if importlib.util.find_spec("maturin") is not None:
        return [sys.executable, "-m", "maturin"]
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("IMC_WHEEL")
    if given:
        path = Path(given)
        assert path.is_file(), f"IMC_WHEEL={given} is not a file"
        return path
    maturin = _maturin()
    if maturin is None or shutil.which("cargo") is None:
        pytest.skip("maturin or cargo not available to build the wheel (pip install maturin)")
    out = tmp_path_factory.mktemp("wheelhouse")
    env = dict(os.environ, CARGO_BUILD_JOBS=os.environ.get("CARGO_BUILD_JOBS", "2"))
    res = subprocess.run([*maturin, "build", "--release", "--interpreter", sys.executable, "--out", str(out)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
    wheels = sorted(out.glob("imcombiners-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}: {wheels}"
    return wheels[0]


def _without_rust_path() -> str:
    """PATH without any directory holding cargo, rustc or maturin."""
    keep = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and not any(os.path.exists(os.path.join(d, tool)) for tool in ("cargo", "rustc", "maturin")):
            keep.append(d)
    return os.pathsep.join(keep)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment (system site-packages for the dependencies) holding only
    the wheel of imcombiners."""
    root = tmp_path_factory.mktemp("wheel-venv")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True, timeout=300)
    py = env_dir / "bin" / "python"
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                          str(wheel)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PATH=_without_rust_path(), PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert res.returncode == 0, res.stderr[-4000:]
    return env_dir


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    """Small stacks with NaN, inf and outliers (saved, so that every process reads the
    same bits whatever its NumPy does on its CPU)."""
    d = tmp_path_factory.mktemp("smoke-data")
    rng = np.random.default_rng(14)
    v = rng.normal(1000, 30, (9, 23, 131))
    v[rng.random(v.shape) < 0.02] += 4000
    f = v.copy()
    r = rng.random(f.shape)
    f[r < 0.01] = np.nan
    f[(r >= 0.01) & (r < 0.015)] = np.inf
    np.save(d / "f32.npy", f.astype(np.float32))
    np.save(d / "f64.npy", f)
    np.save(d / "u16.npy", np.round(v).astype(np.uint16))
    return d


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "IMCOMBINERS_SIMD", "CARGO_HOME", "RUSTUP_HOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), _without_rust_path()])
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _smoke(venv: Path, data: Path, cwd: Path, prefix: list[str] | None = None,
           extra_env: dict[str, str] | None = None) -> tuple[dict, str]:
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    cmd = [*(prefix or []), str(venv / "bin" / "python"), str(SMOKE), str(data), site]
    env = {**_clean_env(venv), **(extra_env or {})}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"{cmd}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stderr


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("imcombiners/_core") and n.endswith((".so", ".pyd")) for n in names), names
    for required in ("imcombiners/__init__.py", "imcombiners/py.typed", "imcombiners/dask/__init__.py"):
        assert required in names
    assert not any(n.endswith((".rs", "Cargo.toml")) for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Dist: numpy" in text and "Name: imcombiners" in text
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "imcombiners=imcombiners.cli:main" in zipfile.ZipFile(wheel).read(entry).decode().replace(" ", "")


_NATIVE: dict[str, dict] = {}


def native_smoke(venv: Path, data: Path, cwd: Path) -> dict:
    """The smoke run on this CPU (once per venv)."""
    if str(venv) not in _NATIVE:
        _NATIVE[str(venv)] = _smoke(venv, data, cwd=cwd)[0]
    return _NATIVE[str(venv)]


def test_wheel_installs_and_runs_without_rust(venv, smoke_data, tmp_path):
    got = native_smoke(venv, smoke_data, tmp_path)
    assert not got["cargo_on_path"]
    assert str(venv) in got["module"] or "site-packages" in got["module"]
    assert not got["module"].startswith(str(REPO / "imcombiners"))
    # Every level of this CPU gives the same bits inside the wheel ...
    assert got["differ_from_baseline"] == {}
    from imcombiners._config import simd_config

    assert got["available"] == simd_config()["available"]
    # ... and the wheel the same bits as the build in this tree.
    assert got["digests"] == smoke_combine.digests(str(smoke_data))
    # The command-line entry point is installed and runs.
    res = subprocess.run([str(venv / "bin" / "imcombiners"), "--help"], cwd=tmp_path, env=_clean_env(venv),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "combine" in res.stdout, res.stderr


# (qemu model, the levels the kernels must find on it)
EMULATED = [("EPYC-Milan", ["baseline", "avx2"]), ("Nehalem", ["baseline"])]

# NumPy's bundled OpenBLAS picks its kernels at load time by its own CPU check, which
# qemu-user does not answer as the emulated model on every host: on a Zen 5 host it chose
# kernels Nehalem lacks and `import numpy` died with an illegal instruction before our
# code ran. Naming the emulated core to OpenBLAS keeps the test about our kernels.
OPENBLAS_CORE = {"EPYC-Milan": "Zen", "Nehalem": "Nehalem"}


@pytest.mark.parametrize("model, levels", EMULATED, ids=[m for m, _ in EMULATED])
def test_wheel_on_emulated_cpus(venv, smoke_data, tmp_path, model, levels):
    if platform.machine() != "x86_64":
        pytest.skip("the emulated CPUs are x86-64 models")
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-x86_64 not installed (apt-get install qemu-user)")
    native = native_smoke(venv, smoke_data, tmp_path)
    got, stderr = _smoke(venv, smoke_data, cwd=tmp_path, prefix=[qemu, "-cpu", model],
                         extra_env={"OPENBLAS_CORETYPE": OPENBLAS_CORE[model]})
    if "avx2" in levels and "avx2" not in got["available"] and "avx2" in stderr:
        pytest.skip(f"this qemu does not emulate AVX2: {stderr.strip().splitlines()[-1]}")
    assert got["available"] == levels and got["level"] == levels[-1]
    assert got["differ_from_baseline"] == {}
    assert got["digests"] == native["digests"]
