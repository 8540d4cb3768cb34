"""IRAF imcombine out of core: bit-identical to the in-memory imcombine (real-IRAF cases)."""

from __future__ import annotations

import numpy as np
import pytest

import imcombiners.dask as imd
from imcombiners.dask.iraf import _grow_needs_whole_image, sample_window
from imcombiners.iraf import imcombine
from tests.helpers.iraf_cases import ALL_CASES, case_kwargs, load_case

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FIELDS = ("output", "sigma", "rejmask", "nrejmask", "expmask", "scale", "zero", "weight")


def _same_result(got, ref, what=""):
    for name in FIELDS:
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), (what, name)
        if a is None:
            continue
        assert a.dtype == b.dtype and a.shape == b.shape, (what, name)
        assert a.tobytes() == b.tobytes(), (what, name, np.argwhere(a != b)[:5])
    assert (got.maskscal, got.maskzero, got.warnings) == (ref.maskscal, ref.maskzero, ref.warnings)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c["id"] for c in ALL_CASES])
def test_iraf_cases_through_small_strips(case):
    z, params, masks = load_case(case)
    kw = case_kwargs(params)
    ref = imcombine(z["stack"], masks=masks, **kw)
    for rows in (1, 4):
        lazy = imd.imcombine(z["stack"], masks=masks, tile=(rows, 3), **kw)
        assert lazy.plan.tile[1] == z["stack"].shape[2]  # always full-width strips
        # avsigclip (mclip) with lmedian carries IRAF's combine flag across lines: one strip
        carries = kw["reject"] == "avsigclip" and kw["mclip"] and kw["combine"] == "lmedian"
        if not _grow_needs_whole_image(kw["grow"], kw["nkeep"]) and not carries:
            assert lazy.plan.ntiles == -(-z["stack"].shape[1] // rows)
        _same_result(lazy.compute(), ref, f"{case['id']} rows={rows}")


def _cr_stack(seed, n=6, ny=40, nx=13, dtype=np.float32):
    rng = np.random.default_rng(seed)
    a = rng.normal(1000, 20, (n, ny, nx)) * np.linspace(0.9, 1.1, n)[:, None, None]
    hits = rng.integers(0, [n, 6, nx], (4, 3))  # cosmic rays in the top rows only
    for i, y, x in hits:
        a[i, y, x] = 30000
    return a.astype(dtype)


@pytest.mark.parametrize("reject,combine", [("crreject", "lmedian"), ("sigclip", "median"),
                                            ("avsigclip", "average"), ("pclip", "sum")])
@pytest.mark.parametrize("nkeep", [1, 2, -1, 0])
def test_grow_strips_far_from_rejections(reject, combine, nkeep):
    # strips far below the only rejections must still get IRAF's second pass
    a = _cr_stack(3)
    masks = np.zeros(a.shape, bool)
    masks[:, 30, :] = True  # an empty line: IRAF's unwritten pixels (nkeep <= 0)
    kw = dict(reject=reject, combine=combine, grow=1.5, nkeep=nkeep, lsigma=2.5, hsigma=2.5,
              scale="median", blank=-7.0)
    ref = imcombine(a, masks=masks, **kw)
    for rows in (1, 5, 16):
        lazy = imd.imcombine(list(a), masks=list(masks), tile=(rows, 1), **kw)
        _same_result(lazy.compute(), ref, rows)


def test_statistics_pass_reads_grid_rows_only(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(4)
    paths = []
    for i in range(4):
        p = tmp_path / f"f{i}.fits"
        frame = (rng.normal(500, 10, (420, 33)) * (1 + 0.1 * i)).astype(np.float32)
        hdr = fits.Header({"EXPTIME": 10.0 + i, "RDN": 4.0})
        fits.PrimaryHDU(frame, header=hdr).writeto(p)
        paths.append(str(p))
    # 420 x 33 = 13860 pixels (< 100000): step 1; a statsec and thresholds on top
    kw = dict(reject="ccdclip", rdnoise="RDN", gain=2.0, scale="mode", zero="median", weight="exposure",
              expname="EXPTIME", statsec="[3:30,10:400]", lthreshold=0, hthreshold=1e6)
    ref = imcombine(paths, **kw)
    lazy = imd.imcombine(paths, tile=(50, 33), **kw)
    _same_result(lazy.compute(), ref)
    assert lazy.provenance["inputs"] == paths
    assert sample_window((420, 33), [(3, 30), (10, 400)]) == (slice(9, 400, 1), slice(2, 30, 1))
    # a grid with a step: 2000 x 700 needs step 4 (< 100000 points)
    w = sample_window((2000, 700), None)
    assert w == (slice(0, 1997, 4), slice(0, 697, 4))
    assert len(range(0, 1997, 4)) * len(range(0, 697, 4)) < 100_000


def test_streaming_products_and_plan(tmp_path):
    from astropy.io import fits

    a = _cr_stack(5, n=5, ny=30, nx=20, dtype=np.uint16)
    kw = dict(reject="sigclip", combine="median", lsigma=2.0, hsigma=2.0, products="all")
    ref = imcombine(a, **kw)
    lazy = imd.imcombine(a, tile=(7, 20), **kw)
    out = lazy.to_fits(tmp_path / "out.fits")
    with fits.open(out) as hdul:
        np.testing.assert_array_equal(hdul[0].data, ref.output)
        np.testing.assert_array_equal(hdul["SIGMA"].data, ref.sigma)
        np.testing.assert_array_equal(hdul["REJMASK"].data.astype(bool), ref.rejmask)
        np.testing.assert_array_equal(hdul["NREJMASK"].data, ref.nrejmask)
        np.testing.assert_array_equal(hdul["EXPMASK"].data, ref.expmask)
        assert hdul["EXPMASK"].header["MASKSCAL"] == ref.maskscal
        assert hdul[0].header["NCOMBINE"] == 5
    g = lazy.to_zarr(str(tmp_path / "out.zarr"))
    np.testing.assert_array_equal(g["output"][...], ref.output)
    # products can be left out (the rejmask is as large as a uint8 stack)
    small = imd.imcombine(a, tile=(7, 20), **dict(kw, products=("nrejmask",)))
    res = small.compute()
    assert res.sigma is None and res.rejmask is None
    np.testing.assert_array_equal(res.nrejmask, ref.nrejmask)
    p = imd.plan_imcombine(a, memory_limit="1GB", threads=2)
    assert p.tile[1] == 20
    with pytest.raises(ValueError, match="products"):
        imd.imcombine(a, products=("mask",))
    with pytest.raises(ValueError, match="reject"):
        imd.imcombine(a, reject="bogus")


def test_dask_array_input():
    import dask.array as da

    a = _cr_stack(7, n=7, ny=25, nx=11)
    kw = dict(reject="avsigclip", combine="average", grow=1.0, nkeep=1, scale="mean")
    ref = imcombine(a, **kw)
    lazy = imd.imcombine(da.from_array(a, chunks=(3, 6, 5)), tile=(4, 11), **kw)
    _same_result(lazy.compute(), ref)
