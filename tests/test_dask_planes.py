"""The out-of-core engine with planes (variance, weights, DQ) equals the in-memory API bit for bit.

Every product (image, variance, weight, exposure, DQ, counts, masks) of
``imcombiners.dask.combine`` must be byte-identical to ``Combiner`` on the same samples,
whatever the tiling, the input kind (NumPy, zarr, dask, lists of frames, FITS files with
VAR/ERR/WHT/DQ extensions) and the frame offsets (the engine never builds the padded
stack; the in-memory reference is built with ``place_into_padded``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import twin as h

h.require_package()

import imcombiners as imc  # noqa: E402
import imcombiners.dask as imd  # noqa: E402
from imcombiners import place_into_padded  # noqa: E402

PRODUCTS = ["variance", "weight", "dq", "nused", "exposure"]


def _same(got, want, names):
    for name in names:
        g, w = np.asarray(got[name]), np.asarray(want[name])
        assert g.dtype == w.dtype, f"{name}: dtype {g.dtype} != {w.dtype}"
        assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
        assert g.tobytes() == w.tobytes(), f"{name}: {int((g != w).sum())} elements differ"


def _memory(stack, variance, dq, weights, mask, method, rejectors, names, exptime, bad_bits):
    res = imc.Combiner(stack, mask, variance=variance, dq=dq, bad_bits=bad_bits).combine(
        method, weights=weights, rejectors=rejectors, diagnostics=names, exptime=exptime)
    return {"data": res.data, **{k: getattr(res, k) for k in names}}


@st.composite
def survey_stacks(draw):
    """Frames of possibly different shapes at offsets, with their planes."""
    n = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offsets = draw(st.booleans())
    base = (draw(st.integers(3, 17)), draw(st.integers(3, 23)))
    shapes = [(base[0] + int(rng.integers(0, 4)), base[1] + int(rng.integers(0, 4))) if offsets else base
              for _ in range(n)]
    offs = [(int(rng.integers(-5, 6)), int(rng.integers(-5, 6))) for _ in range(n)] if offsets else None
    dtype = draw(st.sampled_from(["float32", "float64", "uint16", "int32"]))
    frames = []
    for s in shapes:
        f = rng.normal(1000, 30, s)
        f[rng.random(s) < 0.03] += 800
        frames.append(f.round().astype(dtype) if dtype[0] in "ui" else f.astype(dtype))
    var = [(rng.uniform(20, 40, s) * rng.choice([1.0, 1.0, 1.0, 0.0, -1.0], s)).astype(
        draw(st.sampled_from(["float32", "float64"]))) for s in shapes]
    dqt = draw(st.sampled_from(["uint8", "uint16", "int16", "int32"]))
    dqs = [(rng.integers(0, 8, s) * (rng.random(s) < 0.2)).astype(dqt) for s in shapes]
    wts = [rng.uniform(0, 2, s) for s in shapes]
    return {"frames": frames, "variance": var, "dq": dqs, "weights": wts, "offsets": offs, "n": n}


@given(case=survey_stacks(), data=st.data())
def test_engine_equals_memory_with_planes_and_offsets(case, data):
    n = case["n"]
    weighting = data.draw(st.sampled_from([None, "inverse_variance", "pixel", "frame"]), label="weighting")
    method = data.draw(st.sampled_from(["mean", "sum"] if weighting else ["mean", "sum", "median", "lmedian"]),
                       label="method")
    rejectors = data.draw(st.sampled_from([None, imc.VarClip(3.0), imc.SigClip(2.5, stdfunc="mad"),
                                           imc.MinMaxClip(0, 1)]), label="rejectors")
    bad_bits = data.draw(st.sampled_from([None, 0, 4]), label="bad_bits")
    exptime = np.linspace(10, 30, n)
    offs = case["offsets"]
    if offs is not None:
        stack = place_into_padded(case["frames"], offs)
        variance = place_into_padded(case["variance"], offs, dtype=np.result_type(*case["variance"]))
        dq = place_into_padded(case["dq"], offs, fill=0, dtype=case["dq"][0].dtype)
        wplane = place_into_padded(case["weights"], offs, fill=0, dtype=np.float64)
    else:
        # (a list of frames of mixed float types is read as float64, as np.stack makes it)
        stack, variance, dq, wplane = (np.stack(case[k]) for k in ("frames", "variance", "dq", "weights"))
    weights = {None: None, "inverse_variance": "inverse_variance", "pixel": wplane,
               "frame": np.linspace(0.5, 1.5, n)}[weighting]
    names = list(PRODUCTS) + (["mask"] if data.draw(st.booleans(), label="mask") else [])
    if method not in ("mean", "sum", "median", "lmedian"):
        names.remove("variance")
    want = _memory(stack, variance, dq, weights, None, method, rejectors, names, exptime, bad_bits)

    # tiles of a quarter of an axis or more: up to ~16 tiles (tiling invariance, not task overhead)
    tile = tuple(data.draw(st.integers(max(1, s // 4), s), label=f"tile {ax}")
                 for ax, s in zip("yx", stack.shape[1:]))
    if offs is not None:
        eng_weights = case["weights"] if weighting == "pixel" else weights
        lazy = imd.combine(case["frames"], method, offsets=offs, variance=case["variance"], dq=case["dq"],
                           weights=eng_weights, rejectors=rejectors, diagnostics=names, tile=tile,
                           exptime=exptime, bad_bits=bad_bits)
    else:
        kind = data.draw(st.sampled_from(["numpy", "dask", "list"]), label="input kind")
        if kind == "dask":
            import dask.array as da

            chunks = (max(1, n // 2), tile[0], tile[1])
            wrap = (lambda a: da.from_array(a, chunks=chunks))
            inputs, var_in, dq_in, w_in = wrap(stack), wrap(variance), wrap(dq), (
                wrap(wplane) if weighting == "pixel" else weights)
        elif kind == "list":
            inputs, var_in, dq_in = list(stack), list(variance), list(dq)
            w_in = list(wplane) if weighting == "pixel" else weights
        else:
            inputs, var_in, dq_in, w_in = stack, variance, dq, weights
        lazy = imd.combine(inputs, method, variance=var_in, dq=dq_in, weights=w_in, rejectors=rejectors,
                           diagnostics=names, tile=tile, exptime=exptime, bad_bits=bad_bits)
    got = lazy.compute()
    _same(got, want, ["data", *names])


def _write_mef(path, sci, extensions):
    from astropy.io import fits

    hdus = [fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI")]
    hdus += [fits.ImageHDU(a, name=name) for name, a in extensions.items()]
    fits.HDUList(hdus).writeto(path)


@pytest.mark.parametrize("plane", ["VAR", "ERR", "WHT", ("NOISE", "stddev")])
def test_fits_extensions_by_name(tmp_path, plane):
    """VAR as given, ERR squared, WHT inverted on read; DQ words from their extension."""
    rng = np.random.default_rng(3)
    n, shape = 5, (12, 17)
    sci = rng.normal(100, 5, (n, *shape)).astype(np.float32)
    var = rng.uniform(1, 9, (n, *shape)).astype(np.float32)
    err = np.sqrt(var).astype(np.float32)
    wht = (1 / var).astype(np.float32)
    wht[0, 0, 0] = 0  # no data: an infinite variance
    dq = (rng.integers(0, 4, (n, *shape)) * (rng.random((n, *shape)) < 0.3)).astype(np.int16)
    name = plane if isinstance(plane, str) else plane[0]
    values = {"VAR": var, "ERR": err, "WHT": wht, "NOISE": err}[name]
    paths = []
    for i in range(n):
        p = str(tmp_path / f"f{i}.fits")
        _write_mef(p, sci[i], {name: values[i], "DQ": dq[i]})
        paths.append(p)
    # the in-memory reference converts the same float32 values the same way
    with np.errstate(divide="ignore"):
        as_var = {"VAR": var, "ERR": err * err, "NOISE": err * err}.get(name, np.float32(1) / wht)
    names = ["variance", "weight", "dq", "nused"]
    want = _memory(sci, as_var, dq, "inverse_variance", None, "mean", imc.VarClip(4.0), names, None, 2)
    lazy = imd.combine(paths, "mean", hdu="SCI", variance=plane, dq="DQ", bad_bits=2, weights="inverse_variance",
                       rejectors=imc.VarClip(4.0), diagnostics=names)
    _same(lazy.compute(), want, ["data", *names])
    assert lazy.provenance["parameters"]["variance"].startswith(name)


def test_a_plane_needs_file_inputs_for_an_extension_name():
    with pytest.raises(TypeError, match="FITS"):
        imd.combine(np.zeros((3, 4, 4), np.float32), variance="VAR")


def test_unknown_extension_names_need_a_kind(tmp_path):
    with pytest.raises(ValueError, match="meaning of extension 'NOISE'"):
        imd.combine([str(tmp_path / "a.fits")], variance="NOISE")


def test_plane_shape_mismatch_is_refused():
    x = np.zeros((3, 4, 5), np.float32)
    with pytest.raises(ValueError, match="variance has shape"):
        imd.combine(x, variance=np.ones((3, 4, 4), np.float32))
    with pytest.raises(TypeError, match="mask"):
        imd.combine(x, dq=np.zeros(x.shape, bool))


def test_planner_counts_the_planes():
    x = np.zeros((40, 64, 64), np.float32)
    plain = imd.plan(x, memory_limit="2GB", tile=(8, 64))
    with_planes = imd.plan(x, memory_limit="2GB", tile=(8, 64), variance=np.ones(x.shape, np.float64),
                           dq=np.zeros(x.shape, np.uint16), weights=np.ones(x.shape, np.float32),
                           diagnostics=["variance", "weight", "dq"])
    from imcombiners._memory_model import TASK_OVERHEAD

    # 4 bytes of data per sample, then 8 of variance + 2 of DQ + 4 of weights more, and
    # 3 more outputs per pixel: about 4.5 times the bytes of a tile
    ratio = (with_planes.per_task - TASK_OVERHEAD) / (plain.per_task - TASK_OVERHEAD)
    assert 4.2 < ratio < 4.8


@pytest.mark.parametrize("plane", ["VAR", "ERR", "WHT", ("NOISE", "stddev")])
def test_in_memory_combiner_reads_the_extensions_too(tmp_path, plane):
    """Combiner(FITS names, variance="ERR", dq="DQ") reads every file's extensions (the
    file of an image name a.fits[SCI], converted on read) and equals the arrays' combine."""
    rng = np.random.default_rng(8)
    n, shape = 4, (9, 11)
    sci = rng.normal(100, 5, (n, *shape)).astype(np.float32)
    var = rng.uniform(1, 9, (n, *shape)).astype(np.float32)
    dq = (rng.integers(0, 4, (n, *shape)) * (rng.random((n, *shape)) < 0.3)).astype(np.int16)
    name = plane if isinstance(plane, str) else plane[0]
    stored = {"VAR": var, "ERR": np.sqrt(var), "WHT": 1 / var, "NOISE": np.sqrt(var)}[name].astype(np.float32)
    paths = []
    for i in range(n):
        p = str(tmp_path / f"g{i}.fits")
        _write_mef(p, sci[i], {name: stored[i], "DQ": dq[i]})
        paths.append(p + "[SCI]")
    as_var = {"VAR": stored, "ERR": stored * stored, "NOISE": stored * stored, "WHT": np.float32(1) / stored}[name]
    names = ["variance", "dq", "weight"]
    got = imc.Combiner(paths, variance=plane, dq="DQ", bad_bits=1).combine("mean", weights="inverse_variance",
                                                                            diagnostics=names)
    want = imc.Combiner(sci, variance=as_var, dq=dq, bad_bits=1).combine("mean", weights="inverse_variance",
                                                                          diagnostics=names)
    _same({"data": got.data, **{k: getattr(got, k) for k in names}},
          {"data": want.data, **{k: getattr(want, k) for k in names}}, ["data", *names])
    with pytest.raises(TypeError, match="names a FITS extension"):
        imc.Combiner(sci, variance="VAR")
