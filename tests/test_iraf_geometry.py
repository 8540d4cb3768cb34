"""Images of different sizes, offsets on images of any number of axes, and project=yes.

Independent checks besides the live IRAF runs (tests/test_iraf_live_geometry.py):

* twin: a frame that does not reach an output pixel is, for IRAF, a frame without data
  there, exactly as a masked pixel; so combining frames of any sizes placed at offsets
  equals combining the same frames padded onto the output grid with the uncovered pixels
  masked (every product; no image statistics, which the padding would change). Drawn by
  hypothesis for 1 to 4 axes, and out of core through random strips;
* ``project=True`` equals combining the image's planes as separate images with the
  image's header, masks of the image's or a plane's shape, one result per input;
* the command line: different sizes, 3-D offsets, project=yes output lists;
* the clear errors (different numbers of axes, one mask array for images of different
  sizes, project of 1-D images).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

import imcombiners as imc
import imcombiners.dask as imd

PRODUCTS = ["sigma", "rejmask", "nrejmask", "expmask", "bpmask"]


@st.composite
def placed_frames(draw):
    nd = draw(st.integers(1, 4))
    n = draw(st.integers(1, 6))
    shapes = [tuple(draw(st.integers(1, 4)) for _ in range(nd - 1)) + (draw(st.integers(1, 7)),) for _ in range(n)]
    offsets = [tuple(draw(st.integers(0, 3)) for _ in range(nd)) for _ in range(n)]
    dtype = draw(st.sampled_from(["float32", "int16", "float64"]))
    params = {
        "combine": draw(st.sampled_from(["average", "median", "lmedian", "sum"])),
        "reject": draw(st.sampled_from(["none", "minmax", "sigclip", "avsigclip", "ccdclip", "pclip"])),
        "mclip": draw(st.booleans()),
        "nkeep": draw(st.sampled_from([1, 0, -1, 2])),
        "lsigma": 2.0, "hsigma": 2.0, "rdnoise": 5.0, "blank": -7.0,
        "grow": draw(st.sampled_from([0.0, 0.0, 1.0])) if nd >= 2 else 0.0,
    }
    if params["reject"] == "minmax" and n < 3:
        params["reject"] = "none"  # nlow + nhigh must leave an image
    if draw(st.booleans()):
        params["weight"] = [float(w) for w in draw(st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n))]
    seed = draw(st.integers(0, 2**31))
    return shapes, offsets, dtype, params, seed


def _frames(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.normal(500, 20, s)
        a[rng.random(s) < 0.1] += 400
        out.append(a.astype(dtype) if dtype != "int16" else np.round(a).astype(dtype))
    return out


def _padded(frames, offsets):
    """The frames on the output grid (IRAF's canvas: the per-axis minimum offset is 0 here),
    uncovered pixels masked."""
    nd = frames[0].ndim
    canvas = tuple(max(o[a] + f.shape[a] for f, o in zip(frames, offsets)) for a in range(nd))
    lo = tuple(min(o[a] for o in offsets) for a in range(nd))
    canvas = tuple(c - m for c, m in zip(canvas, lo))
    data = np.zeros((len(frames), *canvas), frames[0].dtype)
    mask = np.ones((len(frames), *canvas), bool)
    for i, (f, o) in enumerate(zip(frames, offsets)):
        sl = tuple(slice(o[a] - lo[a], o[a] - lo[a] + f.shape[a]) for a in range(nd))
        data[(i, *sl)] = f
        mask[(i, *sl)] = False
    return data, mask


@settings(max_examples=60)
@given(placed_frames())
def test_placed_frames_equal_padded_masked_frames(case):
    shapes, offsets, dtype, params, seed = case
    frames = _frames(shapes, dtype, seed)
    iraf_offsets = [list(reversed(o)) for o in offsets]  # x first
    placed = imc.imcombine(frames, offsets=iraf_offsets, products=PRODUCTS, **params)
    data, mask = _padded(frames, offsets)
    padded = imc.imcombine(data, masks=mask, products=PRODUCTS, **params)
    for name in ["output", *PRODUCTS]:
        assert np.array_equal(getattr(placed, name), getattr(padded, name), equal_nan=True), (name, shapes, offsets)


@settings(max_examples=30)
@given(placed_frames(), st.integers(1, 3))
def test_out_of_core_placed_frames_equal_in_memory(case, rows):
    shapes, offsets, dtype, params, seed = case
    frames = _frames(shapes, dtype, seed)
    iraf_offsets = [list(reversed(o)) for o in offsets]
    ours = imc.imcombine(frames, offsets=iraf_offsets, products=PRODUCTS, **params)
    tile = (rows,) * (len(shapes[0]) - 1) + (1000,)
    lazy = imd.imcombine(frames, offsets=iraf_offsets, products=PRODUCTS, tile=tile, **params).compute()
    for name in ["output", *PRODUCTS]:
        assert np.array_equal(getattr(lazy, name), getattr(ours, name), equal_nan=True), (name, tile)


def test_different_sizes_without_offsets_start_at_the_first_pixel():
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 1, (4, 6)).astype(np.float32), rng.normal(10, 1, (6, 3)).astype(np.float32)
    res = imc.imcombine([a, b], products=["nrejmask"], blank=-1)
    assert res.output.shape == (6, 6)
    np.testing.assert_array_equal(res.output[4:, 3:], -1)  # no image there
    np.testing.assert_array_equal(res.output[:4, 3:], a[:, 3:])  # only a
    np.testing.assert_array_equal(res.nrejmask[:4, :3], 0)
    assert res.offsets.tolist() == [[0, 0], [0, 0]]


def test_errors_are_clear():
    a, b = np.zeros((4, 6), np.float32), np.zeros((2, 4, 6), np.float32)
    with pytest.raises(ValueError, match="same number of axes"):
        imc.imcombine([a, b])
    with pytest.raises(ValueError, match="same number of axes"):
        imd.imcombine([a, b])
    c = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError, match="differ in size"):
        imc.imcombine([a, c], masks=np.zeros((2, 4, 6), bool))
    with pytest.raises(ValueError, match="at least two axes"):
        imc.imcombine(np.zeros(5, np.float32), project=True)
    with pytest.raises(ValueError, match="one mask per image"):
        imc.imcombine([b, b], project=True, masks=np.zeros((2, 4, 6), bool))
    with pytest.raises(ValueError, match="plane's shape"):
        imc.imcombine(b, project=True, masks=np.zeros((3, 3), bool))
    with pytest.raises(TypeError, match="project"):
        imc.imcombine(b, project="yes")


# ----------------------------------------------------------------------------- project


def test_project_equals_combining_the_planes(tmp_path):
    rng = np.random.default_rng(11)
    cube = rng.normal(1000, 30, (5, 7, 9)).astype(np.float32)
    cube[2] *= 1.2
    mask2 = rng.random((7, 9)) < 0.1
    header = {"EXPTIME": 12.0, "NCOMBINE": 3, "RDN": 4.0}
    kw = dict(combine="median", reject="ccdclip", rdnoise="RDN", scale="mode", products=PRODUCTS)
    one = imc.imcombine(cube, project=True, headers=header, masks=mask2, **kw)
    planes = imc.imcombine(list(cube), headers=[header] * 5, masks=[mask2] * 5, **kw)
    for name in ["output", *PRODUCTS]:
        assert np.array_equal(getattr(one, name), getattr(planes, name))
    assert one.header["NCOMBINE"] == 15
    # a mask of the cube's shape: one mask plane per image plane
    mask3 = rng.random(cube.shape) < 0.1
    got = imc.imcombine(cube, project=True, headers=[header], masks=mask3, **kw)
    ref = imc.imcombine(list(cube), headers=[header] * 5, masks=list(mask3), **kw)
    assert np.array_equal(got.output, ref.output) and np.array_equal(got.nrejmask, ref.nrejmask)
    # several inputs: one result each; FITS files too, in and out of core
    other = rng.normal(50, 3, (3, 4, 6)).astype(np.float32)
    paths = []
    for k, img in enumerate((cube, other)):
        p = tmp_path / f"c{k}.fits"
        fits.PrimaryHDU(img, header=fits.Header(list(header.items()))).writeto(p)
        paths.append(str(p))
    many = imc.imcombine([cube, other], project=True, headers=[header, header], **kw)
    from_files = imc.imcombine(paths, project=True, **kw)
    lazy = imd.imcombine(paths, project=True, tile=(2, 100), **kw)
    assert isinstance(many, list) and len(many) == 2 and isinstance(lazy, list)
    for m, f, lz in zip(many, from_files, lazy):
        got = lz.compute()
        for name in ["output", *PRODUCTS]:
            assert np.array_equal(getattr(m, name), getattr(f, name))
            assert np.array_equal(getattr(f, name), getattr(got, name))
    assert [k for k in from_files[1].header if k.startswith("IMCMB")] == ["IMCMB001", "IMCMB002", "IMCMB003"]
    assert from_files[1].header["IMCMB002"] == "c1.fits"


# ----------------------------------------------------------------------------- command line


def _cli(*args, cwd):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "imcombiners", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_cli_sizes_offsets_and_project(tmp_path):
    rng = np.random.default_rng(5)
    flat = [rng.normal(100, 5, s).astype(np.float32) for s in [(6, 8), (4, 10)]]
    cubes = [rng.normal(100, 5, s).astype(np.float32) for s in [(3, 6, 8), (2, 4, 10)]]
    for k, a in enumerate(flat):
        fits.PrimaryHDU(a).writeto(tmp_path / f"r{k}.fits")
    for k, a in enumerate(cubes):
        fits.PrimaryHDU(a).writeto(tmp_path / f"c{k}.fits")
    (tmp_path / "off.txt").write_text("0 0 0\n1 2 1\n")
    r = _cli("imcombine", "r0.fits,r1.fits", "out_r.fits", "logfile=", "combine=median", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(fits.getdata(tmp_path / "out_r.fits"),
                                  imc.imcombine(flat, combine="median").output)
    r = _cli("imcombine", "c0.fits,c1.fits", "out_c.fits", "logfile=", "offsets=off.txt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(fits.getdata(tmp_path / "out_c.fits"),
                                  imc.imcombine(cubes, offsets=[[0, 0, 0], [1, 2, 1]]).output)
    (tmp_path / "outs.lis").write_text("p0.fits\np1.fits\n")
    r = _cli("imcombine", "c0.fits,c1.fits", "@outs.lis", "project+", "sigmas=s0.fits,s1.fits", "logfile=",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for k, cube in enumerate(cubes):
        ref = imc.imcombine(cube, project=True, products=["sigma"])
        np.testing.assert_array_equal(fits.getdata(tmp_path / f"p{k}.fits"), ref.output)
        np.testing.assert_array_equal(fits.getdata(tmp_path / f"s{k}.fits"), ref.sigma)
    r = _cli("imcombine", "c0.fits,c1.fits", "one.fits", "project=yes", cwd=tmp_path)
    assert r.returncode == 2 and "give 2 names" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "one.fits").exists()
