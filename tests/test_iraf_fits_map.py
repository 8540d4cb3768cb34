"""imcombine on FITS paths (memory-mapped, byte-swapped in the engine) equals imcombine
on the same data read by astropy, for every pixel type; odd files fall back to astropy;
``products`` selects the optional outputs without changing the combined image."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.io.fits.mapped import LazyHeader, map_image
from imcombiners.iraf import imcombine

PRODUCTS = ("sigma", "rejmask", "nrejmask", "expmask")


def _stack(dtype, n=6, h=9, w=13, seed=3):
    rng = np.random.default_rng(seed)
    st = 500 + 20 * rng.standard_normal((n, h, w))
    st[rng.random(st.shape) < 0.03] += 3000
    if np.dtype(dtype).kind in "iu":
        st = np.round(st / (10 if np.dtype(dtype).itemsize == 1 else 1))
    return st.astype(dtype)


def _write(tmp_path, st, *, extension=False, header=None, **kw):
    paths = []
    for i, frame in enumerate(st):
        p = tmp_path / f"f{i}.fits"
        hdr = fits.Header(header or {})
        hdr["EXPTIME"] = 10.0 + i
        if extension:
            fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(frame, header=hdr)]).writeto(p)
        else:
            fits.PrimaryHDU(frame, header=hdr).writeto(p, **kw)
        paths.append(str(p))
    return paths


def _same(a, b):
    for name in ("output", *PRODUCTS):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint16, np.int32, np.uint8])
@pytest.mark.parametrize("kw", [
    dict(combine="median", reject="sigclip"),
    dict(combine="average", reject="ccdclip", rdnoise=5.0, gain=2.0),
    dict(combine="average", reject="avsigclip", mclip=False, scale="median", expname="EXPTIME"),
    dict(combine="median", reject="pclip", zero="mode", lthreshold=40.0),
])
def test_paths_equal_arrays(tmp_path, dtype, kw):
    st = _stack(dtype)
    paths = _write(tmp_path, st)
    m = map_image(paths[0])
    assert m is not None and m.dtype == np.dtype(dtype) and m.shape == st.shape[1:]
    arrays = [fits.getdata(p) for p in paths]  # what astropy returns (big-endian views)
    headers = [fits.getheader(p) for p in paths]
    _same(imcombine(paths, products="all", **kw), imcombine(arrays, headers=headers, products="all", **kw))


def test_image_extension_and_masks(tmp_path):
    st = _stack(np.float32)
    paths = _write(tmp_path, st, extension=True)
    assert map_image(paths[0]) is not None
    masks = np.random.default_rng(0).random(st.shape) < 0.1
    kw = dict(combine="average", reject="sigclip", masks=masks, products="all")
    _same(imcombine(paths, **kw), imcombine(st, **kw))


def test_nonfinite_values_in_files(tmp_path):
    st = _stack(np.float32)
    st[2, 3, 4] = np.nan
    st[4, 0, 0] = np.inf
    paths = _write(tmp_path, st)
    kw = dict(combine="median", reject="sigclip", products="all")
    _same(imcombine(paths, **kw), imcombine(st, **kw))


def test_scaled_files_fall_back_to_astropy(tmp_path):
    st = _stack(np.float32)
    paths = []
    for i, frame in enumerate(st):
        p = tmp_path / f"s{i}.fits"
        hdu = fits.PrimaryHDU(np.round(frame).astype(np.int16))
        hdu.header["BSCALE"] = 2.0
        hdu.writeto(p)
        paths.append(str(p))
    assert map_image(paths[0]) is None
    arrays = [fits.getdata(p) for p in paths]
    _same(imcombine(paths, products="all"), imcombine(arrays, products="all"))


def test_lazy_header(tmp_path):
    st = _stack(np.float32, n=1)
    paths = _write(tmp_path, st, header={"NCOMBINE": 3, "OBJECT": "x"})
    h = map_image(paths[0]).header
    assert isinstance(h, LazyHeader)
    assert "NCOMBINE" in h and h["NCOMBINE"] == 3 and h["ncombine"] == 3
    assert "GAIN" not in h and h.get("GAIN", 7) == 7
    with pytest.raises(KeyError):
        h["GAIN"]
    assert h["EXPTIME"] == 10.0 and "OBJECT" in set(h)


@pytest.mark.parametrize("kw", [
    dict(combine="median", reject="sigclip"),
    dict(combine="median", reject="sigclip", nkeep=-3, lsigma=1.0, hsigma=1.0),
    dict(combine="average", reject="ccdclip"),
    dict(combine="average", reject="avsigclip", mclip=False, nkeep=4),
    dict(combine="lmedian", reject="none"),
])
def test_products_do_not_change_the_output(kw):
    st = np.round(_stack(np.float32, n=7, h=20, w=31) / 3)  # many ties
    full = imcombine(st, products="all", **kw)
    for products in (None, "none", (), ("sigma",), ["rejmask", "expmask"], "nrejmask", "all"):
        r = imcombine(st, products=products, **kw)
        assert np.array_equal(r.output, full.output)
        chosen = PRODUCTS if products == "all" else (
            () if products in ("none", None) else ((products,) if isinstance(products, str) else products))
        for name in PRODUCTS:
            got = getattr(r, name)
            if name in chosen:
                assert np.array_equal(got, getattr(full, name)), name
            else:
                assert got is None, name


def test_products_validation():
    st = _stack(np.float32)
    with pytest.raises(ValueError, match="products"):
        imcombine(st, products=("sigma", "bogus"))
    with pytest.raises(TypeError, match="products"):
        imcombine(st, products=3)
