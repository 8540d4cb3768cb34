"""Real detector frames combined at offsets (a dither pattern), against real IRAF 2.17.

The ZWO ASI178MC 100 s darks (../shared/realdata, never copied) hold hot pixels that
land on different output pixels once the frames are shifted: a dithered stack as IRAF
users combine it. IRAF runs on the files with an offsets file; ``imcombiners.imcombine``,
``imcombiners.dask.imcombine`` (strips of the output canvas reading each frame's rows at
its offset) and the ``imcombine`` command must give IRAF's output image, its size and its
offsets, bit for bit. Skipped cleanly without the data or without IRAF.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import imcombiners as imc
import imcombiners.dask as imd
from imcombiners.cli import main
from tests.helpers.iraf_files import available as iraf_available
from tests.helpers.iraf_files import iraf_on_files

ROOT = Path(__file__).resolve().parents[1]
DARKS = ROOT.parent / "shared" / "realdata" / "zwo-asi178mc-dark100s"

pytestmark = pytest.mark.skipif(not DARKS.is_dir(), reason="../shared/realdata not present")

#: IRAF order (x, y); a negative shift and unequal steps, as real dithers have
DITHER = [(0, 0), (37, -12), (-21, 25), (14, 41), (-8, -30)]

PARAMS = {
    "median-sigclip": {"combine": "median", "reject": "sigclip"},
    "average-minmax-outlimits": {"combine": "average", "reject": "minmax", "nlow": 1, "nhigh": 1,
                                 "outlimits": "20 1290 10 990", "blank": -1.0},
}


@pytest.mark.parametrize("case", list(PARAMS))
def test_dithered_darks_equal_iraf(case, tmp_path, capsys):
    if not iraf_available():
        pytest.skip("IRAF not installed (apt-get install iraf iraf-noao)")
    files = sorted(glob.glob(str(DARKS / "*.fit")))
    if len(files) < 2:
        pytest.skip(f"no files in {DARKS}")
    dither = DITHER[:len(files)]
    offsets = tmp_path / "offsets.txt"
    offsets.write_text("".join(f"{x} {y}\n" for x, y in dither))
    params = {**PARAMS[case], "offsets": str(offsets)}
    ref = iraf_on_files(files, params)
    # the canvas grew to hold every frame (before outlimits)
    xs, ys = zip(*dither)
    h, w = fits.getdata(files[0]).shape
    if "outlimits" not in params:
        assert ref.shape == (h + max(ys) - min(ys), w + max(xs) - min(xs))

    got = imc.imcombine(files, **params)
    assert got.output.dtype == ref.dtype
    np.testing.assert_array_equal(got.output, ref)
    # IRAF's offsets: from the canvas origin, less the start of outlimits' window
    start = [int(v) - 1 for v in params["outlimits"].split()[::2]] if "outlimits" in params else [0, 0]
    np.testing.assert_array_equal(got.offsets, np.array(dither) - np.min(dither, axis=0) - start)
    # offsets given as numbers (x first) instead of the file
    again = imc.imcombine(files, **{**params, "offsets": dither})
    np.testing.assert_array_equal(again.output, ref)

    lazy = imd.imcombine(files, memory_limit="200MB", tile=(128, 1), **params)
    np.testing.assert_array_equal(lazy.compute().output, ref)

    out = tmp_path / "out.fits"
    status = main(["imcombine", ",".join(files), str(out), "logfile=", *[f"{k}={v}" for k, v in params.items()]])
    assert status == 0, capsys.readouterr().err
    np.testing.assert_array_equal(fits.getdata(out), ref)
