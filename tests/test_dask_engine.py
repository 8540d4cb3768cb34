"""The out-of-core engine against the in-memory API (bit for bit) and its own contracts."""

from __future__ import annotations

import threading

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imcombiners.dask as imd
from imcombiners.dask.planner import make_plan
from imcombiners import Combiner, GESDClip, LinearFitClip, WinsorizedSigClip, place_into_padded
from imcombiners._rejectors import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, SigClip
from imcombiners.dask.engine import _replace_kernels
from imcombiners.dask.tiling import tiles as _tiles

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")
DIAG = ("mask", "low", "upp", "std", "nit", "output_flags", "nused")


def _same(a, b, what=""):
    """Bit-identical arrays (NaN payloads included)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape, a.dtype, b.dtype)
    assert a.tobytes() == b.tobytes(), (what, np.argwhere(a != b)[:5])


def _check_against_memory(lazy, ref, diagnostics):
    got = lazy.compute()
    if diagnostics is None:
        _same(got.data, ref, "data")
        return
    _same(got.data, ref.data, "data")
    for name in DIAG:
        r = getattr(ref, name)
        if r is None:
            continue
        _same(got[name], r, name)


def _stack(rng, dtype, n, ny, nx, nan_frac):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        a = rng.normal(1000, 30, (n, ny, nx)).astype(dtype)
        a[rng.random(a.shape) < nan_frac] = np.nan
        a[rng.random(a.shape) < 0.03] = 5000  # outliers
    else:
        info = np.iinfo(dtype)
        lo, hi = max(info.min, 0), min(info.max, 2000)
        a = rng.integers(lo, hi, (n, ny, nx)).astype(dtype)
    return a


REJECTORS = {
    "none": lambda: None,
    "sigclip": lambda: [SigClip(sigma=2.5, maxiters=3)],
    "sigclip_grow": lambda: [SigClip(sigma=2.0, grow=1.5)],
    "minmax": lambda: [MinMaxClip(n_min=1, n_max=1)],
    "linear": lambda: [LinearClip(low=50, upp=50)],
    "pclip": lambda: [PClip()],
    "ccd": lambda: [CcdClip(rdnoise=5.0, gain=2.0)],
    "chain_grow": lambda: [SigClip(sigma=3.0, grow=1.0), MinMaxClip(n_min=0, n_max=1)],
    # line-based sigma: the engine must widen any tile to whole rows
    "avsigclip": lambda: [AvSigClip(sigma=2.0)],
    "avsigclip_grow": lambda: [AvSigClip(sigma=(2.0, 2.5), cenfunc="mean", grow=1.0)],
    # beyond IRAF (Siril / PixInsight)
    "winsorized": lambda: [WinsorizedSigClip(sigma=2.0)],
    "gesd": lambda: [GESDClip(max_outliers=0.4, significance=0.1)],
    "linearfit_grow": lambda: [LinearFitClip(sigma=(2.0, 1.5), grow=1.0), WinsorizedSigClip(nkeep=3)],
}


@settings(max_examples=50, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    n=st.integers(1, 7),
    ny=st.integers(1, 23),
    nx=st.integers(1, 19),
    method=st.sampled_from(["mean", "median", "lmedian", "sum", "min", "max", "variance"]),
    rej=st.sampled_from(sorted(REJECTORS)),
    diagnostics=st.sampled_from([None, "simple"]),
    ty=st.integers(1, 25),
    tx=st.integers(1, 21),
    nan_frac=st.sampled_from([0.0, 0.1, 0.6]),
    kind=st.sampled_from(["numpy", "dask", "list"]),
    with_mask=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_identical_to_in_memory(dtype, n, ny, nx, method, rej, diagnostics, ty, tx, nan_frac, kind,
                                with_mask, seed):
    rng = np.random.default_rng(seed)
    a = _stack(rng, dtype, n, ny, nx, nan_frac)
    mask = (rng.random(a.shape) < 0.1) if with_mask else None
    rejectors = REJECTORS[rej]()
    if rejectors and any(isinstance(r, (PClip, MinMaxClip)) for r in rejectors) and method == "variance":
        method = "mean"
    ref = Combiner(a, mask).combine(method, rejectors=rejectors, diagnostics=diagnostics)
    if kind == "dask":
        c0 = int(rng.integers(1, n + 1))
        inputs = da.from_array(a, chunks=(c0, int(rng.integers(1, ny + 1)), int(rng.integers(1, nx + 1))))
    elif kind == "list":
        inputs = list(a)
    else:
        inputs = a
    lazy = imd.combine(inputs, method, mask=mask, rejectors=rejectors, diagnostics=diagnostics,
                       tile=(ty, tx))
    _check_against_memory(lazy, ref, diagnostics)


@settings(max_examples=15, deadline=None)
@given(
    dtype=st.sampled_from(["uint16", "int32", "float32", "float64"]),
    n=st.integers(2, 6),
    shapes_seed=st.integers(0, 2**16),
    ty=st.integers(1, 30),
    tx=st.integers(1, 30),
    method=st.sampled_from(["mean", "median", "sum"]),
    grow=st.booleans(),
)
def test_offsets_match_place_into_padded(dtype, n, shapes_seed, ty, tx, method, grow):
    rng = np.random.default_rng(shapes_seed)
    frames = [_stack(rng, dtype, 1, int(rng.integers(3, 20)), int(rng.integers(3, 20)), 0.05)[0]
              for _ in range(n)]
    offsets = rng.integers(-8, 9, (n, 2))
    rejectors = [SigClip(sigma=2.0, grow=1.0)] if grow else None
    padded = place_into_padded(frames, offsets)
    ref = Combiner(padded).combine(method, rejectors=rejectors, diagnostics="simple")
    lazy = imd.combine(frames, method, offsets=offsets, rejectors=rejectors, diagnostics="simple",
                       tile=(ty, tx))
    _check_against_memory(lazy, ref, "simple")


def test_offsets_with_one_stack_array_place_its_frames():
    # frames of one (N, *spatial) array read through the frame-reader protocol
    rng = np.random.default_rng(21)
    a = rng.normal(100, 5, (4, 9, 7)).astype(np.float32)
    offsets = [(0, 0), (2, -3), (-1, 4), (5, 5)]
    mask = rng.random(a.shape) < 0.1
    ref = Combiner(place_into_padded(list(a), offsets),
                   place_into_padded(list(mask.astype(np.float32)), offsets) != 0).combine(
        "mean", rejectors=[SigClip(sigma=2.0)], diagnostics="simple")
    lazy = imd.combine(a, "mean", mask=mask, offsets=offsets, rejectors=[SigClip(sigma=2.0)],
                       diagnostics="simple", tile=(4, 5))
    _check_against_memory(lazy, ref, "simple")


def test_dask_mask_of_a_numpy_stack_is_refused():
    # it was silently ignored (tiles of a NumPy stack read their mask through a source)
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    m = np.zeros(a.shape, bool)
    m[0] = True
    with pytest.raises(TypeError, match="mask: a dask array mask needs a dask array stack"):
        imd.combine(a, "mean", mask=da.from_array(m))
    with pytest.raises(TypeError, match="mask"):
        imd.imcombine(a, masks=da.from_array(m))
    got = imd.combine(da.from_array(a), "mean", mask=da.from_array(m)).compute().data
    _same(got, Combiner(a, m).combine("mean"))


def test_offsets_read_only_overlapping_frames():
    frames = [np.full((10, 10), float(i), np.float32) for i in range(4)]
    offsets = [(0, 0), (0, 30), (30, 0), (30, 30)]
    lazy = imd.combine(frames, "mean", offsets=offsets, tile=(10, 10))
    src = lazy._tile_expr(lazy._tiles[0])[1]
    assert src.covering((slice(0, 10), slice(0, 10))) == [0]
    assert src.covering((slice(0, 40), slice(5, 35))) == [0, 1, 2, 3]
    out = lazy.compute().data
    assert out[5, 5] == 0 and out[5, 35] == 1 and out[35, 5] == 2 and out[35, 35] == 3
    assert np.isnan(out[20, 20])


@pytest.mark.parametrize("zero,scale,weights,statsec", [
    ("median", "mean", None, None),
    (None, "mode", "median", (slice(2, 20), slice(None))),
    ("sigclip_mean", None, None, "[3:15,2:18]"),
    (None, np.ma.median, None, None),
])
def test_statistics_pass_matches_in_memory(zero, scale, weights, statsec):
    rng = np.random.default_rng(3)
    a = (rng.normal(1000, 20, (5, 24, 17)) * np.linspace(0.8, 1.2, 5)[:, None, None]).astype(np.float32)
    a[rng.random(a.shape) < 0.05] = np.nan
    mask = rng.random(a.shape) < 0.05
    kw = dict(zero=zero, scale=scale, weights=weights, statsec=statsec, thresholds=(0, 1230))
    ref = Combiner(a, mask).combine("mean", diagnostics="simple", **kw)
    lazy = imd.combine(list(a), "mean", mask=list(mask), diagnostics="simple", tile=(7, 17), **kw)
    for name in ("zero", "scale", "weights"):
        r = getattr(ref, name)
        g = getattr(lazy, name)
        assert (r is None) == (g is None)
        if r is not None:
            _same(g, r, name)
    _check_against_memory(lazy, ref, "simple")


def test_dask_statistics_pass():
    rng = np.random.default_rng(4)
    a = rng.normal(100, 5, (4, 30, 20)).astype(np.float64) * np.arange(1, 5)[:, None, None]
    ref = Combiner(a).combine("median", scale="median")
    lazy = imd.combine(da.from_array(a, chunks=(1, 10, 20)), "median", scale="median", tile=(8, 20))
    _same(lazy.compute().data, ref)


def test_fits_inputs_equal_in_memory(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(5)
    paths = []
    for i in range(6):
        raw = rng.integers(0, 60000, (33, 27)).astype(np.uint16)
        p = tmp_path / f"raw{i}.fits"
        if i % 3 == 2:
            fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(raw, tile_shape=(4, 27))]).writeto(p)
        else:
            fits.PrimaryHDU(raw).writeto(p)  # BZERO=32768, big-endian on disk
        paths.append(str(p))
    stack = np.stack([fits.getdata(p) for p in paths])
    rejectors = [SigClip(sigma=2.5)]
    ref = Combiner(stack).combine("median", rejectors=rejectors, scale="median", diagnostics="simple")
    lazy = imd.combine(paths, "median", rejectors=rejectors, scale="median", diagnostics="simple",
                       memory_limit="2GB")
    _check_against_memory(lazy, ref, "simple")
    assert lazy.provenance["inputs"] == paths


def test_zarr_and_memmap_inputs(tmp_path):
    import zarr

    rng = np.random.default_rng(6)
    a = rng.normal(size=(5, 40, 31)).astype(np.float32)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=a.shape, chunks=(5, 8, 31), dtype=a.dtype)
    z[...] = a
    mm = np.memmap(tmp_path / "in.bin", dtype=">f4", mode="w+", shape=a.shape)
    mm[...] = a
    mm.flush()
    ref = Combiner(a).combine("median", rejectors=[SigClip()])
    for inp in (z, np.memmap(tmp_path / "in.bin", dtype=">f4", mode="r", shape=a.shape)):
        lazy = imd.combine(inp, "median", rejectors=[SigClip()], memory_limit="1GB")
        _same(lazy.compute().data, ref)
    # zarr chunk height is honoured by the planner
    p = imd.plan(z, "median", memory_limit="1GB", threads=1)
    assert all(c % 8 == 0 for c in p.chunks[0][:-1])


def test_outputs_share_one_kernel_run_per_tile():
    calls = []
    lock = threading.Lock()

    def counting(frames, masks, job):
        from imcombiners.dask.engine import default_tile_function

        with lock:
            calls.append(np.shape(frames))
        return default_tile_function(frames, masks, job)

    a = np.random.default_rng(7).normal(size=(4, 40, 10)).astype(np.float32)
    with _replace_kernels(tile_fn=counting):
        lazy = imd.combine(a, "median", rejectors=[SigClip()], diagnostics="simple", tile=(10, 10))
    calls.clear()  # the dtype probe (one 1-pixel call) is done
    dask.compute(*lazy.arrays.values())
    assert len(calls) == lazy.plan.ntiles == 4
    calls.clear()
    lazy.compute()
    assert len(calls) == 4


def test_progress_callback_and_plan():
    a = np.random.default_rng(8).normal(size=(3, 50, 8)).astype(np.float32)
    seen = []
    lazy = imd.combine(a, "mean", tile=(10, 8))
    lazy.compute(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == [1, 2, 3, 4, 5]
    p = imd.plan(a, "mean", tile=(10, 8))
    assert p.ntiles == 5 and p.tile == (10, 8) and "tiles" in p.summary()


def test_to_zarr_and_to_fits_roundtrip(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(9)
    a = rng.normal(100, 3, (5, 30, 22)).astype(np.float32)
    a[rng.random(a.shape) < 0.05] = 400
    ref = Combiner(a).combine("mean", rejectors=[SigClip(sigma=2.5, grow=1.0)], diagnostics="simple",
                              zero="median")
    lazy = imd.combine(a, "mean", rejectors=[SigClip(sigma=2.5, grow=1.0)], diagnostics="simple",
                       zero="median", tile=(7, 22))
    g = lazy.to_zarr(str(tmp_path / "out.zarr"))
    _same(g["data"][...], ref.data)
    _same(g["mask"][...].astype(bool), ref.mask)
    _same(g["nused"][...], ref.nused)
    assert g.attrs["imcombiners"]["ncombine"] == 5
    path = lazy.to_fits(tmp_path / "out.fits")
    with fits.open(path) as hdul:
        _same(hdul[0].data.astype(np.float32), ref.data)
        assert hdul[0].header["NCOMBINE"] == 5 and "IMCZ0002" in hdul[0].header
        np.testing.assert_array_equal(hdul["MASK"].data.astype(bool), ref.mask)
        np.testing.assert_array_equal(hdul["NUSED"].data, ref.nused)
        np.testing.assert_array_equal(hdul["LOW"].data, ref.low)
    with pytest.raises(FileExistsError):
        lazy.to_fits(tmp_path / "out.fits")
    lazy.to_fits(tmp_path / "out.fits", overwrite=True)
    # xarray reads the zarr output with dimension names
    import xarray as xr

    ds = xr.open_zarr(str(tmp_path / "out.zarr"), consolidated=False)
    assert ds["mask"].dims == ("frame", "y", "x")


def _failing(frames, masks, job):
    if np.shape(frames)[1] > 1 and np.asarray(frames[0]).shape[0] == 3:  # one tile of height 3
        raise RuntimeError("tile failed")
    from imcombiners.dask.engine import default_tile_function

    return default_tile_function(frames, masks, job)


def test_failed_run_leaves_no_output(tmp_path):
    a = np.random.default_rng(10).normal(size=(3, 23, 5)).astype(np.float32)
    with _replace_kernels(tile_fn=_failing):
        lazy = imd.combine(a, "mean", tile=(10, 5))
    with pytest.raises(RuntimeError, match="tile failed"):
        lazy.to_fits(tmp_path / "x.fits")
    with pytest.raises(RuntimeError, match="tile failed"):
        lazy.to_zarr(str(tmp_path / "x.zarr"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_xarray_accessor_keeps_coords_and_attrs():
    import xarray as xr

    rng = np.random.default_rng(11)
    a = rng.normal(size=(4, 12, 9)).astype(np.float32)
    x = xr.DataArray(a, dims=("frame", "y", "x"),
                     coords={"frame": ["a", "b", "c", "d"], "y": np.arange(12) * 0.5, "x": np.arange(9),
                             "exptime": ("frame", [1, 2, 3, 4])},
                     attrs={"BUNIT": "adu"}, name="sci")
    img = x.transpose("y", "frame", "x").chunk({"frame": 2, "y": 5}).imc.combine("median", dim="frame")
    assert img.dims == ("y", "x") and img.name == "sci" and img.attrs["BUNIT"] == "adu"
    assert "exptime" not in img.coords and np.array_equal(img["y"], x["y"])
    assert isinstance(img.data, da.Array)
    _same(img.values, Combiner(a).combine("median"))
    ds = x.imc.combine("mean", rejectors=[SigClip()], diagnostics="simple")
    assert ds["mask"].dims == ("frame", "y", "x") and list(ds["frame"].values) == ["a", "b", "c", "d"]
    ref = Combiner(a).combine("mean", rejectors=[SigClip()], diagnostics="simple")
    _same(ds["mask"].values, ref.mask)
    with pytest.raises(ValueError, match="dim"):
        x.imc.combine("mean", dim="time")


def test_tiles_cover_image_once():
    spatial, chunks = (23, 17), ((5, 5, 5, 5, 3), (10, 7))
    tiles = _tiles(spatial, chunks, halo=2)
    cover = np.zeros(spatial, int)
    for t in tiles:
        cover[t.window] += 1
        rw = t.read_window
        assert all(r.start <= w.start and r.stop >= w.stop for r, w in zip(rw, t.window))
        sub = np.arange(np.prod(spatial)).reshape(spatial)[rw][t.crop]
        assert np.array_equal(sub, np.arange(np.prod(spatial)).reshape(spatial)[t.window])
    assert (cover == 1).all()


def test_errors_name_the_parameter():
    a = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="diagnostics"):
        imd.combine(a, "mean", diagnostics="everything")
    with pytest.raises(TypeError, match="int64"):
        imd.combine(np.zeros((3, 4, 4), np.int64), "mean")
    with pytest.raises(ValueError, match="offsets"):
        imd.combine([np.zeros((4, 4)), np.zeros((5, 4))], "mean")
    with pytest.raises(TypeError, match="single string"):
        imd.combine("a.fits", "mean")
    with pytest.raises(ValueError, match="memory_limit"):
        imd.combine(a, "mean", memory_limit="lots")


def test_avsigclip_forces_full_width_strips():
    a = np.random.default_rng(12).normal(100, 5, (5, 30, 40)).astype(np.float32)
    a[:, ::7, ::9] = 400
    p = imd.plan(a, "mean", rejectors=[AvSigClip()], memory_limit="1GB", threads=2)
    assert p.tile[1] == 40 and all(c == (40,) for c in p.chunks[1:])
    p = imd.plan(a, "mean", rejectors=[AvSigClip()], tile=(4, 7))
    assert p.tile == (4, 40) and any("whole rows" in n for n in p.notes)
    ref = Combiner(a).combine("mean", rejectors=[AvSigClip(sigma=2.0)], diagnostics="simple")
    lazy = imd.combine(list(a), "mean", rejectors=[AvSigClip(sigma=2.0)], diagnostics="simple", tile=(3, 5))
    _check_against_memory(lazy, ref, "simple")
    # without a line-based rejector, columns may be split
    assert imd.plan(a, "mean", rejectors=[SigClip()], tile=(4, 7)).tile == (4, 7)


def test_avsigclip_plans_count_the_sorted_store():
    # The kernel keeps the sorted samples of a group of lines (its clip pass reads the
    # line-sigma pass's sorted blocks): every tile of an AvSigClip job carries them.
    import re
    from pathlib import Path

    from imcombiners._memory_model import (
        _BITONIC_NS, AVSIG_CHUNKS_PER_WORKER, AVSIG_STORE_BYTES, SAFETY, sorted_store_bytes,
    )

    core = Path(__file__).parents[1] / "crates/imc-core/src"
    src = (core / "driver/avsig_store.rs").read_text()
    shift = re.search(r"pub const STORE_BYTES: usize = 1 << (\d+);", src)
    assert shift is not None and AVSIG_STORE_BYTES == 1 << int(shift.group(1))
    chunks = re.search(r"const CHUNKS_PER_WORKER: usize = (\d+);", src)
    assert chunks is not None and AVSIG_CHUNKS_PER_WORKER == int(chunks.group(1))
    driver = (core / "driver/mod.rs").read_text()
    lo = re.search(r"const BITONIC_MIN_N: usize = (\d+);", driver)
    hi = re.search(r"const NETWORK_MAX_N: usize = (\d+);", driver)
    assert lo is not None and hi is not None and _BITONIC_NS == (int(lo.group(1)), int(hi.group(1)))
    # a piece smaller than a group: all of it; a larger one: the group, at least one line
    assert sorted_store_bytes(5, 1000, 100) == (1000 + 63) * 5 * 8
    assert sorted_store_bytes(5, 4096 * 4096, 4096) == (AVSIG_STORE_BYTES // 40 + 63) * 40
    # N the bitonic sort pads to a power of two counts the padded rows
    assert sorted_store_bytes(127, 10 * 4096, 4096) == (4096 + 63) * 127 * 8
    assert sorted_store_bytes(300, 10 * 4096, 4096) == (4096 + 63) * 512 * 8
    assert sorted_store_bytes(1000, 4096 * 8192, 8192) == (8192 + 63) * 1024 * 8
    assert sorted_store_bytes(3000, 4096 * 8192, 8192) == (8192 + 63) * 3000 * 8
    # enough lines per worker: a store per worker, of a share of the group or one line
    assert sorted_store_bytes(5, 4096 * 4096, 4096, workers=2) == 2 * (AVSIG_STORE_BYTES // 80 + 63) * 40
    assert sorted_store_bytes(1000, 16 * 1024, 1024, workers=2) == 2 * (1024 + 63) * 1024 * 8
    # too few lines for chunks: the one shared store
    assert sorted_store_bytes(1000, 7 * 1024, 1024, workers=2) == (1024 + 63) * 1024 * 8
    # the engine passes it to the planner
    a = np.zeros((5, 30, 40), np.float32)
    sig = imd.plan(a, "mean", rejectors=[SigClip()], tile=(8, 40), threads=2)
    av = imd.plan(a, "mean", rejectors=[AvSigClip()], tile=(8, 40), threads=2)
    assert av.per_task - sig.per_task == pytest.approx(SAFETY * sorted_store_bytes(5, 8 * 40, 40), abs=2)
    # a tile the planner chooses still fits the limit with the store
    kw = dict(in_itemsize=4, work_itemsize=4, memory_limit="1GB", threads=2, baseline=100 * 2**20, full_rows=True)
    for shape in [(300, 4096, 4096), (1000, 512, 8192), (20, 4096, 4096)]:
        plain = make_plan(shape, **kw)
        stored = make_plan(shape, sorted_store=True, **kw)
        assert stored.predicted_peak <= 10**9 and stored.tile[1] == shape[2]
        assert stored.tile[0] <= plain.tile[0]


def test_the_accessors_are_registered_in_any_import_order():
    # ``import imcombiners`` registers DataArray.imc / Dataset.imc whether xarray is
    # imported before or after it, with nothing of the package used in between; it
    # imports xarray for that but no dask: the accessors load the engine on first use.
    # (The command line's process does not import xarray: tests/test_cli_startup.py.)
    import subprocess
    import sys

    use = ("r = xr.DataArray(np.ones((2, 3, 4), 'f4'), dims=('frame', 'y', 'x')).imc.combine('mean'); "
           "assert r.shape == (3, 4); "
           "ds = xr.Dataset({'f': (('t', 'y', 'x'), np.ones((2, 3, 4), 'f4'))}).imc.combine(dim='t'); "
           "assert ds['f'].shape == (3, 4)")
    no_dask = ("assert 'dask' not in sys.modules, 'dask imported by registering'; ")
    after = "import sys, imcombiners; " + no_dask + "import xarray as xr, numpy as np; " + use
    before = "import sys, xarray as xr, numpy as np, imcombiners; " + no_dask + use
    after_dask = "import sys, imcombiners, imcombiners.dask, xarray as xr, numpy as np; " + use
    for code in (after, before, after_dask):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
