"""The output header of IRAF's imcombine, written by the command line and by the
out-of-core ``to_fits``: the first input's header with IRAF's changes applied in the
same way by both (one rule, ``_iraf_wcs.header_changes``).

IRAF updates keywords of the first input's header and deletes the input mask's name
(``BPM``) and the physical-system terms it resets; a changed keyword keeps its comment.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

import imcombiners.dask as imd
from imcombiners._iraf_wcs import header_changes
from imcombiners.cli._main import main

SHAPE = (12, 16)
SHIFTS = [(0, 0), (2, 3), (-1, 4)]  # (dy, dx) of each frame on the sky


def _frames(tmp_path) -> list[str]:
    rng = np.random.default_rng(7)
    paths = []
    for i, (dy, dx) in enumerate(SHIFTS):
        h = fits.Header()
        h["OBJECT"] = ("M 42", "target")
        h["CTYPE1"], h["CTYPE2"] = "LINEAR", "LINEAR"
        h["CRVAL1"], h["CRVAL2"] = 100.0, 200.0
        h["CRPIX1"] = (5.0 - dx, "reference pixel on axis 1")
        h["CRPIX2"] = (6.0 - dy, "reference pixel on axis 2")
        h["CDELT1"], h["CDELT2"] = 1.0, 1.0
        h["LTV1"] = (3.0, "physical to logical offset")
        h["LTM1_1"], h["LTM2_2"] = 1.0, 1.0
        bpm = tmp_path / f"bpm{i}.fits"
        fits.PrimaryHDU(np.zeros(SHAPE, np.int32)).writeto(bpm)
        h["BPM"] = (bpm.name, "bad pixel mask")
        path = tmp_path / f"im{i}.fits"
        fits.PrimaryHDU(rng.normal(100, 5, SHAPE).astype(np.float32), header=h).writeto(path)
        paths.append(str(path))
    return paths


def _check(header: fits.Header, first: fits.Header) -> None:
    assert "BPM" not in header  # IRAF deletes the input mask's name
    # IRAF's offset of frame i: the pixel of CRVAL in frame 0 minus that in frame i, i.e.
    # (x, y) = (0, 0), (3, 2), (4, -1); made relative, frame 0 sits at (0, 1) on the
    # output grid and its CRPIX2 moves by 1
    assert header["CRPIX1"] == first["CRPIX1"] and header["CRPIX2"] == first["CRPIX2"] + 1
    assert header.comments["CRPIX2"] == "reference pixel on axis 2"  # changed, comment kept
    assert header["OBJECT"] == "M 42" and header.comments["OBJECT"] == "target"
    assert "LTV1" not in header  # offsets="wcs": IRAF resets the physical system
    assert header["NCOMBINE"] == len(SHIFTS)


def test_cli_and_out_of_core_write_iraf_changes_alike(tmp_path):
    paths = _frames(tmp_path)
    first = fits.getheader(paths[0])
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        status = main(["imcombine", ",".join(os.path.basename(p) for p in paths), "cli.fits", "logfile=",
                       "offsets=wcs", "combine=median"])
    finally:
        os.chdir(cwd)
    assert status == 0
    lazy = imd.imcombine(paths, offsets="wcs", combine="median", tile=(4, 4))
    lazy.to_fits(tmp_path / "ooc.fits")
    cli = fits.getheader(tmp_path / "cli.fits")
    ooc = fits.getheader(tmp_path / "ooc.fits")
    _check(cli, first)
    _check(ooc, first)
    # the IRAF part of both headers is the same (provenance cards aside: IMCPARAM differs)
    keys = [k for k in first if k not in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND")]
    for k in keys:
        assert (k in cli) == (k in ooc), k
        if k in cli:
            assert cli[k] == ooc[k] and cli.comments[k] == ooc.comments[k], k
    assert np.array_equal(fits.getdata(tmp_path / "cli.fits"), fits.getdata(tmp_path / "ooc.fits"),
                          equal_nan=True)


@pytest.mark.parametrize("iraf, removed", [({"A": 1}, ["BPM", "LTV1"]), ({"A": 1, "LTV1": 0.5}, ["BPM"]),
                                           ({}, [])])
def test_header_changes_lists_what_iraf_removes(iraf, removed):
    first = fits.Header([("A", 1, "kept"), ("BPM", "m.pl"), ("LTV1", 2.0), ("OBJECT", "x")])
    cards, gone = header_changes(iraf, first)
    assert gone == removed
    assert all(k != "A" for k, _v, _c in cards)  # unchanged: not rewritten
    if "LTV1" in iraf:
        assert cards == [("LTV1", 0.5, "")]
