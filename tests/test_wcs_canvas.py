"""WCS-aligned canvases: offsets from the frames' WCS, refusals, the canvas WCS.

The reference is geometry known by construction: frames are cut out of one large sky
image whose WCS is known, each with the WCS of its cut-out (the large WCS with CRPIX moved
by the cut-out's corner).  The canvas must put every frame back where it was cut from,
its WCS must be the large WCS at the canvas corner, and the combine (in memory and out of
core, with variance and DQ planes) must reproduce the sky where frames cover it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import twin as h

h.require_package()

fits = pytest.importorskip("astropy.io.fits")
from astropy.wcs import WCS  # noqa: E402

import imcombiners as imc  # noqa: E402
from imcombiners.canvas import WcsCanvas, shift_wcs_header, wcs_canvas  # noqa: E402

SKY = (120, 150)  # (H, W) of the large sky image


def sky_header(scale_arcsec=0.2, rot_deg=0.0, crval=(150.0, 2.0), crpix=(60.5, 50.5), shape=SKY):
    """A TAN header with a CD matrix (pixel scale, rotation)."""
    s = scale_arcsec / 3600.0
    c, r = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
    hdr = fits.Header()
    hdr["NAXIS"] = 2
    hdr["NAXIS1"], hdr["NAXIS2"] = shape[1], shape[0]
    hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN", "DEC--TAN"
    hdr["CRVAL1"], hdr["CRVAL2"] = crval
    hdr["CRPIX1"], hdr["CRPIX2"] = crpix
    hdr["CD1_1"], hdr["CD1_2"] = -s * c, s * r
    hdr["CD2_1"], hdr["CD2_2"] = s * r, s * c
    return hdr


def cutout_header(big, y0, x0, shape):
    """The header of ``big[y0:y0+h, x0:x0+w]`` (CRPIX moved by the corner)."""
    hdr = big.copy()
    hdr["CRPIX1"] = big["CRPIX1"] - x0
    hdr["CRPIX2"] = big["CRPIX2"] - y0
    hdr["NAXIS1"], hdr["NAXIS2"] = shape[1], shape[0]
    return hdr


def _sky(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(500.0, 20.0, SKY).astype(np.float32)


@given(corners=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 80), st.integers(8, 40), st.integers(8, 50)),
                        min_size=1, max_size=6))
def test_offsets_put_cutouts_back_where_they_were_cut(corners):
    big = sky_header()
    hdrs = [cutout_header(big, y0, x0, (hh, ww)) for y0, x0, hh, ww in corners]
    canvas = wcs_canvas(hdrs)
    y_min = min(c[0] for c in corners)
    x_min = min(c[1] for c in corners)
    want = np.array([[y0 - y_min, x0 - x_min] for y0, x0, _, _ in corners])
    assert np.array_equal(canvas.offsets, want)
    assert canvas.shape == (max(y0 + hh for y0, _, hh, _ in corners) - y_min,
                            max(x0 + ww for _, x0, _, ww in corners) - x_min)
    assert np.all(canvas.residual < 1e-6) and np.all(canvas.drift < 1e-6)
    # the canvas WCS is the large one at the canvas corner
    ref = WCS(cutout_header(big, y_min, x_min, canvas.shape))
    pix = np.array([[0.0, 0.0], [canvas.shape[1] - 1.0, canvas.shape[0] - 1.0], [3.0, 7.0]])
    np.testing.assert_allclose(canvas.wcs.all_pix2world(pix, 0), ref.all_pix2world(pix, 0), rtol=0, atol=1e-10)


def test_place_rebuilds_the_sky_where_frames_cover_it():
    sky = _sky()
    big = sky_header()
    corners = [(0, 0, 50, 60), (30, 40, 50, 60), (55, 70, 60, 70)]
    frames = [sky[y0:y0 + hh, x0:x0 + ww] for y0, x0, hh, ww in corners]
    canvas = wcs_canvas([cutout_header(big, y0, x0, f.shape) for (y0, x0, _, _), f in zip(corners, frames)])
    stack = canvas.place(frames)
    res = imc.Combiner(stack).combine("mean")
    covered = ~np.all(np.isnan(stack), axis=0)
    assert np.array_equal(res[covered], sky[:canvas.shape[0], :canvas.shape[1]][covered])
    with pytest.raises(ValueError, match=r"frames\[1\] has shape"):
        canvas.place([frames[0], frames[2], frames[2]])


def test_pointing_dithers_round_to_the_nearest_pixel():
    """Frames pointed at different sky positions (CRVAL moves, CRPIX stays): the offsets
    are the dithers in pixels, rounded; the tangent-plane drift over a small frame is tiny."""
    scale = 0.2
    dithers = [(0.0, 0.0), (3.1, -2.2), (-7.8, 5.05), (12.4, 0.3)]  # pixels (dx, dy) on the sky
    dec0 = 2.0
    hdrs = []
    for dx, dy in dithers:
        ra = 150.0 - dx * scale / 3600.0 / math.cos(math.radians(dec0))  # RA grows to the left (CD1_1 < 0)
        hdrs.append(sky_header(crval=(ra, dec0 + dy * scale / 3600.0), shape=(64, 64)))
    canvas = wcs_canvas(hdrs)
    # frame i's pixel p sees the sky of frame 0's pixel p + dither: it starts at +dither
    want = np.array([[round(dy), round(dx)] for dx, dy in dithers])
    assert np.array_equal(canvas.offsets, want - want.min(axis=0))
    assert np.all(canvas.drift < 0.01)
    np.testing.assert_allclose(canvas.residual, [math.hypot(dx - round(dx), dy - round(dy)) for dx, dy in dithers],
                               atol=0.01)


@pytest.mark.parametrize("rot, scale, pattern", [(1.0, 0.2, r"rotated by -?1 deg"),
                                                 (0.0, 0.202, r"scaled by 1\.01")])
def test_rotation_or_scale_mismatch_is_refused_with_a_pointer_to_resampling(rot, scale, pattern):
    hdrs = [sky_header(shape=(200, 200)), sky_header(rot_deg=rot, scale_arcsec=scale, shape=(200, 200))]
    with pytest.raises(ValueError, match=pattern) as err:
        wcs_canvas(hdrs)
    msg = str(err.value)
    assert "frames[1]" in msg and "reproject" in msg and "tolerance" in msg


def test_tolerance_decides():
    # 0.01 deg over a 200-pixel frame moves the far corner by ~0.035 px (accepted at the
    # default 0.1 px), 0.1 deg by ~0.35 px (refused unless the tolerance allows it)
    small = [sky_header(shape=(200, 200)), sky_header(rot_deg=0.01, shape=(200, 200))]
    assert wcs_canvas(small).drift[1] < 0.1
    big = [sky_header(shape=(200, 200)), sky_header(rot_deg=0.1, shape=(200, 200))]
    with pytest.raises(ValueError, match="drift"):
        wcs_canvas(big)
    assert 0.1 < wcs_canvas(big, tolerance=0.5).drift[1] < 0.5
    with pytest.raises(ValueError, match="tolerance"):
        wcs_canvas(small, tolerance=-1)


def test_frames_without_wcs_or_shape_are_refused():
    with pytest.raises(ValueError, match=r"frames\[1\].*no WCS"):
        wcs_canvas([sky_header(), fits.Header({"NAXIS": 2, "NAXIS1": 5, "NAXIS2": 5})])
    w = WCS(sky_header())
    w.pixel_shape = None
    with pytest.raises(ValueError, match="shape is unknown"):
        wcs_canvas([w, w])
    assert wcs_canvas([w, w], shapes=[(5, 6), (5, 6)]).shape == (5, 6)
    with pytest.raises(TypeError, match="expected a FITS file name"):
        wcs_canvas([np.zeros((3, 3))])


def test_shift_wcs_header_keeps_the_sky_with_sip_and_alternates():
    hdr = sky_header()
    hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    hdr["A_ORDER"], hdr["B_ORDER"] = 2, 2
    hdr["A_2_0"], hdr["B_0_2"], hdr["A_1_1"] = 2e-5, -3e-5, 1e-5
    hdr["CRPIX1A"], hdr["CRPIX2A"] = 1.0, 1.0
    hdr["CTYPE1A"], hdr["CTYPE2A"] = "LINEAR", "LINEAR"
    hdr["CRVAL1A"], hdr["CRVAL2A"] = 0.0, 0.0
    hdr["CDELT1A"], hdr["CDELT2A"] = 1.0, 1.0
    hdr["LTV1"], hdr["LTV2"] = -10.0, -20.0
    moved = shift_wcs_header(hdr, (7, -4))  # NumPy order: y by 7, x by -4
    pix = np.array([[0.0, 0.0], [33.0, 12.0], [100.0, 80.0]])
    before = WCS(hdr).all_pix2world(pix, 0)
    after = WCS(moved).all_pix2world(pix + [-4, 7], 0)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12)
    np.testing.assert_allclose(WCS(moved, key="A").all_pix2world(pix + [-4, 7], 0),
                               WCS(hdr, key="A").all_pix2world(pix, 0), atol=1e-12)
    assert (moved["LTV1"], moved["LTV2"]) == (-6.0, -27.0)  # physical pixel unchanged
    assert hdr["CRPIX1"] == 60.5  # the input is not modified


def _write_mef(path, sci, var, dq, header):
    prim = fits.PrimaryHDU(header=fits.Header({"OBJECT": "field"}))
    hdus = [prim, fits.ImageHDU(sci, header=header, name="SCI"), fits.ImageHDU(var, name="VAR"),
            fits.ImageHDU(dq, name="DQ")]
    fits.HDUList(hdus).writeto(path)


def test_engine_with_wcs_offsets_equals_memory_and_writes_the_canvas_wcs(tmp_path):
    """FITS frames with SCI/VAR/DQ extensions, offsets from their WCS: the engine (no padded
    copy) equals the in-memory combine of the placed stack bit for bit, with every plane;
    the output header's WCS is the canvas's."""
    imd = pytest.importorskip("imcombiners.dask")
    rng = np.random.default_rng(3)
    sky = _sky(1)
    big = sky_header()
    corners = [(5, 0, 40, 50), (20, 33, 45, 52), (0, 61, 38, 47), (31, 12, 41, 44)]
    paths, frames, vars_, dqs = [], [], [], []
    for k, (y0, x0, hh, ww) in enumerate(corners):
        f = sky[y0:y0 + hh, x0:x0 + ww] + rng.normal(0, 5, (hh, ww)).astype(np.float32)
        f[rng.random(f.shape) < 0.02] += 3000
        v = rng.uniform(20, 30, (hh, ww)).astype(np.float32)
        d = (rng.integers(0, 4, (hh, ww)) * (rng.random((hh, ww)) < 0.1)).astype(np.uint16)
        p = tmp_path / f"f{k}.fits"
        _write_mef(p, f, v, d, cutout_header(big, y0, x0, (hh, ww)))
        paths.append(str(p))
        frames.append(f)
        vars_.append(v)
        dqs.append(d)
    names = ["variance", "dq", "nused", "weight"]
    lazy = imd.combine(paths, "mean", rejectors=imc.VarClip(sigma=(4, 4)), offsets="wcs", hdu="SCI",
                       variance="VAR", dq="DQ", bad_bits=1, weights="inverse_variance", diagnostics=names,
                       tile=(16, 16))
    canvas = wcs_canvas(paths, hdu="SCI")
    assert isinstance(canvas, WcsCanvas)
    got = lazy.compute()
    want = imc.Combiner(canvas.place(frames), variance=canvas.place(vars_),
                        dq=canvas.place(dqs, fill=0, dtype=np.uint16), bad_bits=1).combine(
        "mean", rejectors=imc.VarClip(sigma=(4, 4)), weights="inverse_variance", diagnostics=names)
    for name in ["data", *names]:
        g, w = np.asarray(getattr(got, name)), np.asarray(getattr(want, name))
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), name
    out = tmp_path / "out.fits"
    lazy.to_fits(out)
    with fits.open(out) as hdul:
        hdr = hdul[0].header
        assert hdul[0].data.shape == canvas.shape
    y_min, x_min = min(c[0] for c in corners), min(c[1] for c in corners)
    ref = WCS(cutout_header(big, y_min, x_min, canvas.shape))
    pix = np.array([[0.0, 0.0], [10.0, 20.0], [canvas.shape[1] - 1.0, canvas.shape[0] - 1.0]])
    np.testing.assert_allclose(WCS(hdr).all_pix2world(pix, 0), ref.all_pix2world(pix, 0), atol=1e-10)
    assert hdr["OBJECT"] == "field"  # the first input's other cards are kept
    zarr = pytest.importorskip("zarr")
    lazy.to_zarr(tmp_path / "out.zarr")
    attrs = dict(zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs)
    np.testing.assert_allclose(WCS(attrs["wcs"]).all_pix2world(pix, 0), ref.all_pix2world(pix, 0), atol=1e-10)


def test_engine_integer_offsets_move_the_template_wcs(tmp_path):
    """Plain integer offsets with FITS inputs: the output WCS follows the first frame."""
    imd = pytest.importorskip("imcombiners.dask")
    big = sky_header()
    hdr = cutout_header(big, 10, 10, (20, 20))
    paths = []
    for k in range(2):
        p = tmp_path / f"i{k}.fits"
        fits.PrimaryHDU(np.full((20, 20), k, np.float32), header=hdr).writeto(p)
        paths.append(str(p))
    lazy = imd.combine(paths, "mean", offsets=[(3, 5), (0, 0)])
    lazy.to_fits(tmp_path / "o.fits")
    out = fits.getheader(tmp_path / "o.fits")
    # frame 0 starts at (3, 5) on the output: its pixel (0, 0) is output pixel (5, 3) (x, y)
    np.testing.assert_allclose(WCS(out).all_pix2world([[5.0, 3.0]], 0), WCS(hdr).all_pix2world([[0.0, 0.0]], 0),
                               atol=1e-12)


def test_engine_wcs_offsets_need_fits_inputs():
    imd = pytest.importorskip("imcombiners.dask")
    with pytest.raises(TypeError, match="offsets='wcs'"):
        imd.combine(np.zeros((2, 4, 4), np.float32), offsets="wcs")
    with pytest.raises(ValueError, match="offsets must be 'wcs'"):
        imd.combine([np.zeros((4, 4), np.float32)] * 2, offsets="sky")
    canvas = wcs_canvas([sky_header(shape=(4, 4))] * 3)
    with pytest.raises(ValueError, match="canvas holds 3 frames"):
        imd.combine([np.zeros((4, 4), np.float32)] * 2, offsets=canvas)
