"""Every file of astropy's own FITS test data is read or refused with a clear message.

astropy ships odd real files in ``astropy/io/fits/tests/data`` (an HST/STIS raw
multi-extension file with empty ERR/DQ extensions, tile-compressed images, scaled
integers, BLANK, random groups, tables only, checksums, LZW ``.Z``...). For each one:

* read: the image (the HDU astropy itself holds as the first with data) equals astropy's
  values, and it combines through the in-memory API, ``imcombine`` and the command line;
* refused: ``ValueError``/``TypeError`` naming the file, on one line, and astropy agrees
  that there is no image we could combine exactly (tables or random groups only, an empty
  image, 64-bit integers, an LZW file).
"""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits

import imcombiners as imc
from imcombiners.cli import main
from imcombiners.io.fits import probe

DATA = os.path.join(os.path.dirname(fits.__file__), "tests", "data")
FILES = sorted(
    os.path.relpath(os.path.join(root, f), DATA)
    for root, _dirs, files in os.walk(DATA) for f in files
    if f.endswith((".fits", ".fit", ".fz", ".gz", ".Z", ".fts"))
) if os.path.isdir(DATA) else []

pytestmark = pytest.mark.skipif(not FILES, reason="astropy's FITS test data is not installed")


def _astropy_image(path: str):
    """(index, data, header) of the first HDU astropy holds an image in, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fits.open(path) as hdul:
                for i, h in enumerate(hdul):
                    if isinstance(h, fits.GroupsHDU) or not (h.is_image or isinstance(h, fits.CompImageHDU)):
                        continue
                    if h.data is not None and h.data.size:
                        return i, np.array(h.data), h.header.copy()
        except Exception:  # noqa: BLE001 - astropy cannot read it either
            return None
    return None


@pytest.mark.parametrize("name", FILES)
def test_read_or_refused_clearly(name, tmp_path, capsys):
    path = os.path.join(DATA, name)
    expect = _astropy_image(path)
    try:
        frame = probe(path)
        data = frame.read()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert os.path.basename(path) in msg and "\n" not in msg.strip(), msg
        if expect is not None:  # astropy has an image: the only acceptable refusal is BITPIX=64
            assert expect[2]["BITPIX"] == 64 and "64-bit integer" in msg, msg
        status = main(["combine", path, path, "-o", str(tmp_path / "x.fits"), "-q"])
        err = capsys.readouterr().err
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        return
    assert expect is not None, f"{name}: read an image astropy does not see"
    # past the page cache (stacks larger than the RAM): the same bits, BLANK NaNs included
    np.testing.assert_array_equal(frame.with_uncached(True).read().view(np.uint8), data.view(np.uint8))
    index, ref, _header = expect
    assert frame.hdu == index and data.shape == ref.shape
    ref = ref.astype(np.float64)
    if frame.pixels.kind == "scaled" and data.dtype == np.float32:
        np.testing.assert_allclose(data, ref, rtol=2e-7, atol=1e-6 * np.nanmax(np.abs(ref)))
    else:
        np.testing.assert_array_equal(data.astype(np.float64), ref)

    # it combines: the median of copies of a frame is the frame (library and IRAF views)
    copies = []
    for k in range(3):
        dst = tmp_path / f"c{k}_{os.path.basename(name)}"
        shutil.copy(path, dst)
        copies.append(str(dst))
    got = imc.Combiner(copies).combine("median")
    np.testing.assert_array_equal(np.asarray(got, np.float64), data.astype(np.float64))
    if data.ndim >= 1:
        out = imc.imcombine(copies, combine="median", products="none").output
        np.testing.assert_array_equal(out, probe(path, view="iraf").read().astype(out.dtype))
    status = main(["combine", *copies, "-o", str(tmp_path / "m.fits"), "-q", "--method", "median"])
    err = capsys.readouterr().err
    assert status == 0, err
    np.testing.assert_array_equal(fits.getdata(tmp_path / "m.fits").astype(np.float64),
                                  data.astype(np.float64))
