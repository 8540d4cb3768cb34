"""Numerical edge cases have defined, documented results (docs/reliability.md, "Numerics").

Every expectation is either stated explicitly (NaN, blank, inf, the constant itself)
or taken from the slow NumPy twin (``tests/helpers/reference.py``) cast to the workspace
dtype; the package's own output is never the reference.  Out-of-core results must
equal the in-memory ones bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import reference as ref
from tests.helpers.twin import pkg_rejector, require_package

require_package()

import imcombiners as imc  # noqa: E402
import imcombiners.kernels as imck  # noqa: E402

F32MAX = float(np.finfo(np.float32).max)
SUB32 = float(np.finfo(np.float32).smallest_subnormal)

#: one twin description per library rejector (defaults, plus the spread variants)
REJECTORS = {
    "sigclip-std": ref.SigClip(),
    "sigclip-mad": ref.SigClip(stdfunc="mad"),
    "sigclip-iraf": ref.SigClip(stdfunc="iraf"),
    "sigclip-mean-centre": ref.SigClip(cenfunc="mean", sigma=1.5),
    "ccdclip": ref.CcdClip(rdnoise=5.0, gain=2.0),
    "ccdclip-crreject": ref.CcdClip(high_only=True),
    "linearclip": ref.LinearClip(low_scale=0.9, upp_scale=1.1),
    "minmax": ref.MinMaxClip(),
    "minmax-0-1": ref.MinMaxClip(n_min=0, n_max=1),
    "pclip": ref.PClip(),
}
METHODS = ("mean", "median", "lmedian", "sum", "min", "max", "variance")


def twin_data(stack, mask=None, **kw) -> np.ndarray:
    """The twin's result cast to the package's workspace dtype (overflow -> inf)."""
    a = np.asarray(stack)
    ws = ref.workspace_dtype(a.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return ref.combine(a, mask, **kw).data.astype(ws)


def combine(stack, mask=None, *, method="mean", rejectors=(), **kw):
    rej = [pkg_rejector(r) for r in rejectors] or None
    return imc.Combiner(stack, mask).combine(method, rejectors=rej, **kw)


def assert_same(got, want, rtol=0.0, err=""):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, err
    with np.errstate(invalid="ignore"):
        ok = (np.isnan(got) & np.isnan(want)) | (got == want) | (np.abs(got - want) <= rtol * np.abs(want))
    assert ok.all(), f"{err}: got {got[~ok][:6]} want {want[~ok][:6]}"


# --------------------------------------------------------------------------- all-NaN


@pytest.mark.parametrize("method", METHODS + ("quantile", "wavg"))
def test_all_nan_element_gives_nan_or_zero_sum_or_blank(method):
    x = np.arange(24, dtype=np.float32).reshape(3, 2, 4)
    x[:, 0, 1] = np.nan
    x[:, 1, 2] = [np.inf, -np.inf, np.nan]
    kw = {"q": 0.5} if method == "quantile" else {"weights": [1.0, 2.0, 3.0]} if method == "wavg" else {}
    out = imc.Combiner(x).combine(method, diagnostics="simple", **kw)
    empty = out.data[0, 1], out.data[1, 2]
    if method == "sum":
        assert empty == (0.0, 0.0)  # sum of nothing is 0
    else:
        assert np.isnan(empty).all()
    assert out.nused[0, 1] == 0 and out.nused[1, 2] == 0
    assert out.mask[:, 0, 1].all() and out.mask[:, 1, 2].all()
    assert out.output_flags[0, 1] & imc.OutputFlags.PREMASKED
    # blank fills exactly the elements with no sample left (sum included)
    filled = imc.Combiner(x).combine(method, blank=-7.0, **kw)
    assert filled[0, 1] == -7.0 and filled[1, 2] == -7.0
    np.testing.assert_array_equal(np.delete(filled.ravel(), [1, 6]), np.delete(out.data.ravel(), [1, 6]))


@pytest.mark.parametrize("name", list(REJECTORS))
def test_all_nan_stack_with_every_rejector(name):
    x = np.full((4, 3, 2), np.nan, np.float64)
    res = combine(x, rejectors=[REJECTORS[name]], diagnostics="full")
    assert np.isnan(res.data).all() and (res.nused == 0).all() and res.mask.all()
    assert (res.sample_flags == imc.SampleFlags.NONFINITE).all()


def test_all_nan_through_every_entry_point():
    x = np.full((3, 2, 2), np.nan, np.float32)
    assert np.isnan(imck.median(x)).all() and (imck.sum(x) == 0).all()
    assert np.isnan(imck.sigclip_combine(x)).all()
    assert np.isnan(imc.ndcombine(x, reject="minmax")).all()
    r = imc.imcombine(x, reject="sigclip", blank=-1.0, products="all")  # IRAF: blank where nothing is left
    assert (r.output == -1.0).all() and r.rejmask.all() and (r.nrejmask == 3).all()
    import imcombiners.dask as imd

    lazy = imd.combine(x, "median", rejectors=imc.SigClip(), diagnostics=["nused"])
    got = lazy.compute()
    assert np.isnan(got.data).all() and (got.nused == 0).all()


# --------------------------------------------------------------------------- N = 1, N = 2


def _small(n: int, dtype) -> np.ndarray:
    rng = np.random.default_rng(n)
    return np.round(rng.normal(1000, 30, (n, 3, 4))).astype(dtype)


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("name", list(REJECTORS))
@pytest.mark.parametrize("method", ["mean", "median"])
def test_one_and_two_frames_with_every_rejector_equal_the_twin(n, name, method):
    for dtype in (np.float32, np.uint16):
        x = _small(n, dtype)
        rej = REJECTORS[name]
        res = combine(x, method=method, rejectors=[rej], diagnostics="simple")
        tw = ref.combine(x, method=method, rejectors=[rej])
        ws = ref.workspace_dtype(x.dtype)
        keep = ~tw.fragile
        assert_same(res.data[keep], tw.data.astype(ws)[keep], rtol=1e-6, err=f"{name} n={n} {dtype}")
        np.testing.assert_array_equal(res.mask[:, keep], tw.mask[:, keep])
        np.testing.assert_array_equal(res.nused[keep], tw.nused[keep])


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_frames_documented_outcomes(n):
    x = _small(n, np.float64)
    # clippers never reject below their default nkeep=1 / with n <= 2 nothing is an outlier
    for name in ("sigclip-std", "sigclip-mad", "sigclip-iraf", "ccdclip", "pclip"):
        res = combine(x, rejectors=[REJECTORS[name]], diagnostics="simple")
        assert (res.nused == n).all(), name
        np.testing.assert_allclose(res.data, x.mean(axis=0), rtol=1e-15, err_msg=name)
    # MinMaxClip(1, 1) removes the lowest and the highest: nothing is left with n <= 2
    res = combine(x, rejectors=[REJECTORS["minmax"]], diagnostics="simple")
    assert np.isnan(res.data).all() and (res.nused == 0).all()
    # ... which IRAF refuses up front (nlow + nhigh must leave an image)
    with pytest.raises(ValueError, match="nlow, nhigh"):
        imc.imcombine(x, reject="minmax")


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("reject", ["none", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip"])
def test_one_and_two_frames_iraf(n, reject):
    x = _small(n, np.float32)
    r = imc.imcombine(x, reject=reject, combine="average", products="all")
    # IRAF keeps everything when there are too few pixels to clip
    np.testing.assert_allclose(r.output, x.astype(np.float64).mean(axis=0), rtol=1e-6)
    assert not r.rejmask.any()


# --------------------------------------------------------------------------- constant stacks


@pytest.mark.parametrize("name", [k for k in REJECTORS if not k.startswith("minmax")])  # rank-based: below
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8, np.float64])
def test_constant_stack_rejects_nothing(name, dtype):
    x = np.full((7, 3, 3), 42, dtype)
    res = combine(x, method="median", rejectors=[REJECTORS[name]], diagnostics="simple")
    assert (res.data == 42).all() and (res.nused == 7).all() and not res.mask.any()
    if res.std is not None and name.startswith("sigclip"):
        assert (res.std == 0).all()  # zero spread: defined, and nothing is outside c +- k*0


def test_constant_stack_minmax_and_variance():
    x = np.full((5, 2, 2), -3.5, np.float32)
    res = combine(x, rejectors=[REJECTORS["minmax"]], diagnostics="simple")
    assert (res.data == -3.5).all() and (res.nused == 3).all()
    assert (imc.Combiner(x).combine("variance") == 0).all()
    assert (imc.Combiner(x).combine("variance", ddof=5) != 0).all()  # n <= ddof: NaN
    assert np.isnan(imc.Combiner(x).combine("variance", ddof=5)).all()


def test_constant_stack_with_outlier_and_zero_spread():
    x = np.full((6, 1, 3), 10.0)
    x[2, 0, 1] = 11.0  # with sigma=3 the outlier survives pass 1 (std is large)...
    for name in ("sigclip-std", "sigclip-mad", "sigclip-iraf"):
        rej = REJECTORS[name]
        res = combine(x, rejectors=[rej], diagnostics="simple")
        assert_same(res.data, twin_data(x, rejectors=[rej]), err=name)
    # MAD of a stack that is constant but for one sample is 0: the outlier is rejected
    res = combine(x, rejectors=[REJECTORS["sigclip-mad"]], diagnostics="simple")
    assert res.mask[2, 0, 1] and (res.data == 10.0).all()


# --------------------------------------------------------------------------- huge values


@pytest.mark.parametrize("method", METHODS)
def test_values_near_float32_max(method):
    x = np.array([[F32MAX, F32MAX / 2, -F32MAX, 1.0],
                  [F32MAX, F32MAX / 2, -F32MAX, 2.0],
                  [F32MAX, F32MAX / 4, F32MAX, 3.0],
                  [F32MAX * 0.9, F32MAX / 2, -F32MAX, 4.0]], dtype=np.float32).reshape(4, 1, 4)
    got = imc.Combiner(x).combine(method)
    want = twin_data(x, method=method)
    assert got.dtype == np.float32
    assert_same(got, want, rtol=1e-6, err=method)
    if method == "sum":
        assert np.isinf(got[0, 0])  # the float64 sum exceeds float32: +inf, documented
    if method == "mean":
        assert np.isfinite(got).all()  # float64 accumulation: no spurious overflow


@pytest.mark.parametrize("name", list(REJECTORS))
def test_rejection_near_float32_max_matches_the_twin(name):
    rng = np.random.default_rng(3)
    x = (rng.uniform(0.5, 1.0, (9, 2, 3)) * F32MAX).astype(np.float32)
    x[4, 0, 0] = -F32MAX
    rej = REJECTORS[name]
    res = combine(x, rejectors=[rej], diagnostics="simple")
    tw = ref.combine(x, rejectors=[rej])
    keep = ~tw.fragile
    with np.errstate(over="ignore"):
        assert_same(res.data[keep], tw.data.astype(np.float32)[keep], rtol=2e-6, err=name)
    np.testing.assert_array_equal(res.mask[:, keep], tw.mask[:, keep])


def test_float64_extremes_do_not_crash():
    big = np.finfo(np.float64).max
    x = np.array([big, big, -big, big / 2], np.float64).reshape(4, 1)
    assert np.isinf(imc.Combiner(x).combine("sum")[0])
    # the even-n median is the mean of the middle pair, (a + b) / 2 in float64: it
    # overflows like NumPy's and the twin's (documented; float32 input never does)
    with np.errstate(over="ignore"):
        assert_same(imc.Combiner(x).combine("median"), twin_data(x, method="median"))
        assert np.isinf(np.median(x))
    for name, rej in REJECTORS.items():
        out = combine(x, rejectors=[rej])
        assert out.shape == (1,), name


# --------------------------------------------------------------------------- subnormals


@pytest.mark.parametrize("method", METHODS)
def test_subnormals_are_not_flushed(method):
    x = (np.array([1, 2, 3, 0, -1, 5], np.float32) * np.float32(SUB32)).reshape(6, 1)
    assert np.all(np.abs(x[x != 0]) < np.finfo(np.float32).tiny)
    got = imc.Combiner(x).combine(method)
    assert_same(got, twin_data(x, method=method), rtol=1e-6, err=method)
    if method in ("min", "max", "median", "lmedian"):
        assert got[0] != 0  # an order statistic of subnormals is a subnormal, exactly


def test_subnormal_stack_with_rejection():
    x = np.full((5, 1, 2), SUB32, np.float32)
    x[0, 0, 0] = 50 * SUB32
    for name, rej in REJECTORS.items():
        res = combine(x, rejectors=[rej], diagnostics="simple")
        assert_same(res.data, twin_data(x, rejectors=[rej]), rtol=1e-6, err=name)


# --------------------------------------------------------------------------- infinite limits


def test_infinite_thresholds_are_no_thresholds():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1e30, (6, 5)).astype(np.float32)
    x[2, 1] = np.inf
    base = imc.Combiner(x).combine("mean", diagnostics="simple")
    for thr in [(-np.inf, np.inf), (None, None), (None, np.inf), (-np.inf, None)]:
        got = imc.Combiner(x).combine("mean", thresholds=thr, diagnostics="simple")
        np.testing.assert_array_equal(got.data, base.data)
        np.testing.assert_array_equal(got.mask, base.mask)
    half = imc.Combiner(x).combine("mean", thresholds=(0, np.inf))
    assert_same(half, twin_data(x, thresholds=(0, np.inf)), rtol=1e-6)
    none_left = imc.Combiner(x).combine("mean", thresholds=(np.inf, np.inf), blank=-1)
    assert (none_left == -1).all()  # +inf is never a valid sample
    with pytest.raises(ValueError, match=r"thresholds\[0\]"):
        imc.Combiner(x).combine("mean", thresholds=(np.nan, 1))


def test_infinite_sigma_rejects_nothing():
    rng = np.random.default_rng(5)
    x = rng.normal(100, 5, (8, 4, 4))
    x[0, 0, 0] = 1e6
    plain = imc.Combiner(x).combine("mean")
    for rej in (imc.SigClip(sigma=np.inf), imc.CcdClip(sigma=np.inf), imc.PClip(sigma=np.inf)):
        res = imc.Combiner(x).combine("mean", rejectors=rej, diagnostics="simple")
        np.testing.assert_array_equal(res.data, plain)
        assert not res.mask.any()
    # one infinite side: only the other side clips (twin)
    for sigma in [(np.inf, 1.0), (1.0, np.inf)]:
        rej = ref.SigClip(sigma=sigma)
        res = combine(x, rejectors=[rej], diagnostics="simple")
        tw = ref.combine(x, rejectors=[rej])
        np.testing.assert_array_equal(res.mask[:, ~tw.fragile], tw.mask[:, ~tw.fragile])
    with pytest.raises(ValueError, match="sigma"):
        imc.SigClip(sigma=np.nan)
    with pytest.raises(ValueError, match="sigma"):
        imc.SigClip(sigma=-1.0)


# --------------------------------------------------------------------------- weights


def test_weights_summing_to_zero():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    # all-zero (or negative/NaN) weights are refused up front, naming the parameter
    for w in ([0, 0, 0], [1, -1, 0], [np.nan, 1, 1]):
        with pytest.raises(ValueError, match="weights"):
            imc.Combiner(x).combine("mean", weights=w)
    # an element whose surviving samples all have weight 0: NaN (samples exist, so not blank)
    mask = np.zeros(x.shape, bool)
    mask[1:, 2] = True
    w = [0.0, 1.0, 2.0]
    got = imc.Combiner(x, mask).combine("mean", weights=w, blank=-1.0)
    want = twin_data(x, mask, method="wavg", weights=w, blank=-1.0)
    assert np.isnan(got[2]) and np.isnan(want[2])
    assert_same(got, want, rtol=1e-15)
    # the kernels' wavg takes raw weights: a zero sum is NaN there too
    assert np.isnan(imck.wavg(x, [0.0, 0.0, 0.0])).all()


def test_edge_results_out_of_core_equal_in_memory():
    import imcombiners.dask as imd

    x = np.array([[F32MAX, np.nan, SUB32, 5.0],
                  [F32MAX, np.nan, 2 * SUB32, 5.0],
                  [-F32MAX, np.nan, 3 * SUB32, 5.0]], np.float32).reshape(3, 2, 2)
    for method in ("mean", "sum", "median", "variance"):
        for rej in (None, imc.SigClip(), imc.MinMaxClip()):
            want = imc.Combiner(x).combine(method, rejectors=rej)
            got = imd.combine(x, method, rejectors=rej, tile=(1, 1)).compute().data
            np.testing.assert_array_equal(got, want)
