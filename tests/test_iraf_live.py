"""Live parity with real IRAF 2.17: random parameter sets run through `irafcl` and ours.

The stored cases in tests/data/iraf pin 98 configurations; this test draws fresh ones
(seeded, so reproducible) and runs the real task next to `imcombiners.imcombine` on the
same FITS files. Skipped when IRAF is not installed (`apt-get install iraf iraf-noao`;
scripts/test.sh installs it when it can).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest
from astropy.io import fits

import imcombiners as imc
from benchmarks._iraf import _run_cl, available, imcombine_script

pytestmark = [
    pytest.mark.iraf,
    pytest.mark.skipif(not available(), reason="IRAF not installed (apt-get install iraf iraf-noao)"),
]

N_CASES = 60


def _draw(seed: int) -> tuple[np.ndarray, dict]:
    """A CCD-like stack with outliers and a random, valid parameter set."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 13))
    h, w = int(rng.integers(12, 30)), int(rng.integers(12, 30))
    level = float(rng.uniform(200, 5000))
    scales = rng.uniform(0.8, 1.25, n) if rng.random() < 0.5 else np.ones(n)
    stack = np.stack([rng.normal(level * s, np.sqrt(level) + 5, (h, w)) for s in scales])
    hits = rng.random(stack.shape) < 0.02
    stack[hits] += rng.uniform(10, 80, hits.sum()) * np.sqrt(level)
    stack = stack.astype(np.float32)
    reject = str(rng.choice(["none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip"]))
    params = {
        "combine": str(rng.choice(["average", "median", "lmedian", "sum"])),
        "reject": reject,
        "mclip": bool(rng.random() < 0.6),
        "lsigma": float(rng.choice([2.0, 2.5, 3.0])),
        "hsigma": float(rng.choice([2.0, 3.0, 3.5])),
        "nkeep": int(rng.choice([1, 0, -1, 2])),
        "nlow": int(rng.integers(0, 2)),
        "nhigh": int(rng.integers(1, 3)),
        "pclip": float(rng.choice([-0.5, 0.5, -1.0])),
        "rdnoise": float(rng.choice([0.0, 5.0, 9.0])),
        "gain": float(rng.choice([1.0, 2.2])),
        "scale": str(rng.choice(["none", "median", "mode", "mean"])),
        "zero": str(rng.choice(["none", "none", "median"])),
        "blank": -1.0,
        "grow": float(rng.choice([0.0, 0.0, 1.0, 1.5])),
    }
    if rng.random() < 0.3:
        params["lthreshold"] = float(level * 0.5)
        params["hthreshold"] = float(level * 3.0)
    return stack, params


def _iraf(files: list[str], params: dict, tmp: str) -> np.ndarray:
    for i, name in enumerate(files):
        os.symlink(os.path.abspath(name), os.path.join(tmp, f"i{i:04d}.fits"))
    with open(os.path.join(tmp, "in.lis"), "w") as f:
        f.write("".join(f"i{i:04d}.fits\n" for i in range(len(files))))
    _, log = _run_cl(imcombine_script(len(files), params), tmp, 120)
    out = os.path.join(tmp, "out.fits")
    assert os.path.exists(out), "IRAF wrote no output:\n" + log[-800:]
    return fits.getdata(out).astype(np.float32)


@pytest.mark.parametrize("seed", range(N_CASES))
def test_random_parameters_match_real_iraf(seed, tmp_path):
    stack, params = _draw(1000 + seed)
    files = []
    for i, frame in enumerate(stack):
        p = tmp_path / f"f{i:02d}.fits"
        fits.PrimaryHDU(frame).writeto(p)
        files.append(str(p))
    work = tempfile.mkdtemp(prefix="imc_iraf_live_")
    try:
        expected = _iraf(files, params, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kw = {k: (None if v == "INDEF" else v) for k, v in params.items()}
    ours = imc.imcombine(files, outtype="real", products="none", **kw).output
    bad = np.abs(ours.astype(np.float64) - expected) > 1e-5 * np.maximum(1.0, np.abs(expected))
    assert not bad.any(), f"{bad.sum()} of {bad.size} pixels differ from IRAF for {params}"
