"""The command line with survey frames: MEF inputs (--sci/--var/--dq), MEF outputs, WCS offsets.

The reference is the library: the CLI's SCI/VAR/DQ/WHT extensions must hold exactly what
``imcombiners.Combiner`` gives on the same samples (the frames placed on the WCS canvas
with ``WcsCanvas.place``), and the SCI WCS must be the canvas's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from tests.helpers import twin as h

h.require_package()

import imcombiners as imc  # noqa: E402
from imcombiners.cli import main  # noqa: E402

CORNERS = [(5, 0, 40, 50), (20, 33, 45, 52), (0, 61, 38, 47), (31, 12, 41, 44), (10, 20, 30, 30)]


def _wcs(y0, x0):
    s = 0.2 / 3600.0
    hdr = fits.Header()
    hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN", "DEC--TAN"
    hdr["CRVAL1"], hdr["CRVAL2"] = 150.0, 2.0
    hdr["CRPIX1"], hdr["CRPIX2"] = 60.5 - x0, 50.5 - y0
    hdr["CD1_1"], hdr["CD2_2"], hdr["CD1_2"], hdr["CD2_1"] = -s, s, 0.0, 0.0
    return hdr


@pytest.fixture
def mef(tmp_path, monkeypatch):
    """Dithered MEF frames cut from one sky: SCI (with WCS), ERR, DQ extensions."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    sky = rng.normal(500, 20, (120, 150)).astype(np.float32)
    frames = {"sci": [], "err": [], "dq": []}
    paths = []
    for k, (y0, x0, hh, ww) in enumerate(CORNERS):
        err = rng.uniform(4, 6, (hh, ww)).astype(np.float32)
        sci = sky[y0:y0 + hh, x0:x0 + ww] + (rng.normal(0, 1, (hh, ww)) * err).astype(np.float32)
        sci[rng.random((hh, ww)) < 0.02] += 4000  # cosmic rays
        dq = (rng.integers(1, 8, (hh, ww)) * (rng.random((hh, ww)) < 0.08)).astype(np.int16)
        name = f"raw{k}.fits"
        fits.HDUList([fits.PrimaryHDU(header=fits.Header({"OBJECT": "deep field", "EXPTIME": 30.0})),
                      fits.ImageHDU(sci, header=_wcs(y0, x0), name="SCI"), fits.ImageHDU(err, name="ERR"),
                      fits.ImageHDU(dq, name="DQ")]).writeto(name)
        paths.append(name)
        frames["sci"].append(sci)
        frames["err"].append(err)
        frames["dq"].append(dq)
    return paths, frames


def _run(capsys, *argv):
    status = main(list(argv))
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def test_mef_in_mef_out_equals_the_library(mef, capsys):
    paths, fr = mef
    status, _, err = _run(capsys, "combine", *paths, "-o", "master.fits", "--method", "mean", "--sci", "SCI",
                          "--var", "ERR", "--dq", "DQ", "--bad-bits", "1+2", "--weight", "ivar", "--offsets", "wcs",
                          "--reject", "sigclip", "--lsigma", "4", "--hsigma", "4", "-q")
    assert status == 0, err
    canvas = imc.wcs_canvas(paths, hdu="SCI")
    variance = [e.astype(np.float32) ** 2 for e in fr["err"]]
    want = imc.Combiner(canvas.place(fr["sci"]), variance=canvas.place(variance),
                        dq=canvas.place([d.view(np.uint16) for d in fr["dq"]], fill=0, dtype=np.uint16),
                        bad_bits=3).combine("mean", weights="inverse_variance",
                                            rejectors=imc.SigClip(sigma=(4, 4)),
                                            diagnostics=["variance", "dq", "weight"])
    with fits.open("master.fits") as hdul:
        assert [hdu.name for hdu in hdul] == ["PRIMARY", "SCI", "VAR", "DQ", "WHT"]
        assert hdul[0].data is None and hdul[0].header["OBJECT"] == "deep field"
        assert hdul[0].header["NCOMBINE"] == len(paths)
        for ext, got in (("SCI", want.data), ("VAR", want.variance), ("DQ", want.dq), ("WHT", want.weight)):
            data = hdul[ext].data
            assert data.dtype.newbyteorder("=") == np.asarray(got).dtype, ext
            assert np.array_equal(data, got, equal_nan=True), ext
        # every extension carries the canvas WCS: the sky of canvas pixel (x, y)
        pix = np.array([[0.0, 0.0], [17.0, 9.0], [canvas.shape[1] - 1.0, canvas.shape[0] - 1.0]])
        for ext in ("SCI", "VAR", "DQ", "WHT"):
            np.testing.assert_allclose(WCS(hdul[ext].header).all_pix2world(pix, 0),
                                       canvas.wcs.all_pix2world(pix, 0), atol=1e-10)
    # the canvas's corner is the sky's (min y0, min x0): the WCS is the sky's moved there
    y_min, x_min = min(c[0] for c in CORNERS), min(c[1] for c in CORNERS)
    np.testing.assert_allclose(canvas.wcs.all_pix2world([[0.0, 0.0]], 0), WCS(_wcs(y_min, x_min)).all_pix2world(
        [[0.0, 0.0]], 0), atol=1e-12)


def test_mef_output_without_planes_and_plain_output_with_them(mef, capsys):
    paths, fr = mef
    status, _, err = _run(capsys, "combine", *paths[:1] * 3, "-o", "a.fits", "--sci", "SCI", "--mef", "-q")
    assert status == 0, err
    with fits.open("a.fits") as hdul:
        assert [hdu.name for hdu in hdul] == ["PRIMARY", "SCI", "WHT"]
        assert np.array_equal(hdul["SCI"].data, fr["sci"][0])
        assert np.all(hdul["WHT"].data == 3)
    status, _, err = _run(capsys, "combine", *paths[:1] * 3, "-o", "b.fits", "--sci", "SCI", "--var", "ERR",
                          "--no-mef", "-q")
    assert status == 0, err
    with fits.open("b.fits") as hdul:
        assert len(hdul) == 1 and np.array_equal(hdul[0].data, fr["sci"][0])


def test_zarr_output_holds_the_survey_products(mef, capsys):
    zarr = pytest.importorskip("zarr")
    paths, _ = mef
    status, _, err = _run(capsys, "combine", *paths, "-o", "m.zarr", "--sci", "SCI", "--var", "ERR", "--dq", "DQ",
                          "--offsets", "wcs", "--method", "median", "-q")
    assert status == 0, err
    g = zarr.open_group("m.zarr", mode="r")
    assert {"data", "variance", "dq", "weight"} <= set(g.array_keys())
    assert "wcs" in g.attrs and g.attrs["wcs"]["CTYPE1"] == "RA---TAN"


def test_plan_counts_the_planes(mef, capsys):
    """The planner's memory per tile pixel grows by the VAR (float32) and DQ (uint16) planes."""
    del mef  # its working directory
    big = np.ones((400, 500), np.float32)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(big, name="SCI"), fits.ImageHDU(big, name="ERR"),
                  fits.ImageHDU(big.astype(np.int16), name="DQ")]).writeto("big.fits")
    base = ["plan", *["big.fits"] * 4, "--sci", "SCI", "--memory-limit", "2GB"]
    status, out_plain, err = _run(capsys, *base)
    status2, out_planes, err2 = _run(capsys, *base, "--var", "ERR", "--dq", "DQ")
    assert status == status2 == 0, err + err2
    assert _per_task(out_planes) > _per_task(out_plain)


def _per_task(text: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith("memory"))
    # "memory      predicted peak P MiB = baseline B + T x X MiB per tile; ..."
    return float(line.split(" x ")[1].split(" MiB")[0]) / _pixels(text)


def _pixels(text: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith("tiles"))
    tile = line.split(" of ")[1].split(" pixels")[0]
    return float(math.prod(int(v) for v in tile.split("x")))


@pytest.mark.parametrize("argv, text", [
    (["--sci", "SCI", "--hdu", "1"], "--sci and --hdu"),
    (["--var", "NOISE"], "--var NOISE,stddev"),
    (["--bad-bits", "3"], "--bad-bits is about DQ bits"),
    (["--dq", "DQ", "--bad-bits", "x7"], "--bad-bits: expected a number"),
    (["--weight", "ivar"], "--weight ivar"),
    (["--var", "VAR"], "VAR"),  # no such extension in the inputs
    (["--offsets", "pixels"], "--offsets"),
])
def test_option_errors_are_one_line(mef, capsys, argv, text):
    paths, _ = mef
    status, _, err = _run(capsys, "combine", paths[0], paths[0], "-o", "x.fits", *argv)
    assert status == 2 or (status == 1 and text == "VAR"), err
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_offsets_wcs_refuses_rotated_frames(mef, capsys):
    paths, _ = mef
    with fits.open(paths[1], mode="update") as hdul:
        c, s = math.cos(math.radians(2)), math.sin(math.radians(2))
        cd = np.array([[hdul["SCI"].header["CD1_1"], 0.0], [0.0, hdul["SCI"].header["CD2_2"]]]) @ np.array(
            [[c, -s], [s, c]])
        for (i, j), v in np.ndenumerate(cd):
            hdul["SCI"].header[f"CD{i + 1}_{j + 1}"] = v
    status, _, err = _run(capsys, "combine", *paths, "-o", "x.fits", "--sci", "SCI", "--offsets", "wcs")
    assert status == 2, err
    assert "reproject" in err and "raw1.fits" in err and len(err.strip().splitlines()) == 1, err
