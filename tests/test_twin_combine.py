"""Combine methods of the package against NumPy's nan-reductions (no rejection).

Every method and dtype, random stacks with NaN/inf/masks, N from 1 to 300, 1-D/2-D/3-D
spatial shapes, all-masked elements (NaN; sum 0; ``blank``), thresholds and zero/scale.
The NumPy reference is computed in float64 from the normalised samples; the package's
float32 workspace results must agree to ~1e-6 relative, float64 ones much tighter.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

QS = [0.0, 0.1, 0.25, 0.5, 0.77, 1.0]


def _reference(case, method, thresholds, zero, scale, weights, ddof, q):
    x = h.excluded_nan(case.data, case.mask, thresholds, zero, scale)
    want = h.numpy_combine(x, method, ddof=ddof, q=q, weights=weights)
    mag = np.nanmax(np.abs(x), axis=0, initial=0.0)
    return x, want, (mag**2 if method == "variance" else mag)


@given(case=sts.stacks(), method=st.sampled_from(sts.METHODS), ddof=st.sampled_from([0, 1, 2]),
       q=st.sampled_from(QS), data=st.data())
def test_methods_match_numpy(case, method, ddof, q, data):
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    weights = None
    if method == "wavg" or (method == "mean" and data.draw(st.booleans(), label="weighted")):
        weights = np.random.default_rng(case.params["seed"]).uniform(0.1, 3, case.n)
    got = h.run_pkg(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                    scale=scale, weights=weights, ddof=ddof, q=q if method == "quantile" else None,
                    want={"mask", "nused"})
    x, want, mag = _reference(case, method, thresholds, zero, scale, weights, ddof, q)
    rtol = h.rtol_for(case.data.dtype)
    assert got["data"].shape == case.spatial
    h.assert_close(got["data"], want, rtol=rtol, atol=rtol * mag, err=method)
    assert np.array_equal(got["mask"], np.isnan(x))
    assert np.array_equal(got["nused"], np.isfinite(x).sum(axis=0))


@given(case=sts.stacks(), method=st.sampled_from(sts.METHODS), q=st.sampled_from(QS))
def test_combiner_matches_numpy(case, method, q):
    """The public entry point (fused path, diagnostics=None) on plain stacks."""
    weights = np.linspace(0.5, 2.0, case.n) if method == "wavg" else None
    got = h.combiner_combine(case.data, case.mask, method=method, weights=weights,
                             q=q if method == "quantile" else None)
    x, want, mag = _reference(case, method, None, None, None, weights, 0, q)
    rtol = h.rtol_for(case.data.dtype)
    h.assert_close(got, want, rtol=rtol, atol=rtol * mag, err=method)
    ws = ref.workspace_dtype(case.data.dtype)
    pure_int = case.data.dtype.kind in "iu" and method in ("lmedian", "min", "max") and case.mask is None
    assert got.dtype == (case.data.dtype.newbyteorder("=") if pure_int else ws)


@pytest.mark.parametrize("dtype", sts.ALL_DTYPES)
@pytest.mark.parametrize("method", sts.METHODS)
def test_all_masked_elements(dtype, method):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 100, (5, 3, 4)).astype(dtype)
    mask = np.zeros(data.shape, bool)
    mask[:, 0, 0] = True  # no sample at (0, 0)
    mask[:4, 1, 1] = True  # one sample at (1, 1)
    kw = dict(method=method, q=0.5 if method == "quantile" else None,
              weights=np.ones(5) if method == "wavg" else None, want={"nused"})
    got = h.run_pkg(data, mask, **kw)
    empty = 0.0 if method == "sum" else np.nan
    h.assert_close(got["data"][0, 0], empty, err="empty element")
    assert got["nused"][0, 0] == 0 and got["nused"][1, 1] == 1
    one = 0.0 if method == "variance" else float(data[4, 1, 1])
    h.assert_close(got["data"][1, 1], one, err="single sample")
    blanked = h.run_pkg(data, mask, blank=-3.5, **kw)["data"]
    assert blanked[0, 0] == -3.5
    h.assert_close(blanked[1, 1], one)
    if dtype in ("float32", "float64"):  # NaN/inf samples behave like masked ones
        d2 = data.copy()
        d2[:, 2, 2] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
        got2 = h.run_pkg(d2, None, **kw)
        h.assert_close(got2["data"][2, 2], empty)


def test_variance_ddof_not_enough_samples():
    data = np.array([[1.0, 2.0], [3.0, np.nan]])
    got = h.run_pkg(data, method="variance", ddof=1, want={"nused"})["data"]
    assert got[0] == 2.0 and np.isnan(got[1])  # n = 1 <= ddof


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 64, 299, 300])
@pytest.mark.parametrize("dtype", ["uint16", "float32", "float64"])
def test_large_and_small_n(n, dtype, rng):
    data = (rng.normal(1000, 30, (n, 5, 3))).astype(dtype)
    mask = rng.random(data.shape) < 0.2
    rtol = h.rtol_for(dtype)
    for method in sts.METHODS:
        q = 0.3 if method == "quantile" else None
        w = np.linspace(1, 2, n) if method == "wavg" else None
        got = h.run_pkg(data, mask, method=method, q=q, weights=w, want=())["data"]
        x = h.excluded_nan(data, mask)
        want = h.numpy_combine(x, method, q=q, weights=w)
        h.assert_close(got, want, rtol=rtol, atol=rtol * (1000.0**2 if method == "variance" else 1000.0),
                       err=f"{method} n={n}")


def test_median_even_and_lmedian():
    data = np.array([4.0, 1.0, 3.0, 2.0])[:, None]
    assert h.run_pkg(data, method="median", want=())["data"][0] == 2.5
    assert h.run_pkg(data, method="lmedian", want=())["data"][0] == 2.0
    assert h.run_pkg(data[:2], method="lmedian", want=())["data"][0] == 1.0


def test_quantile_endpoints_exact(rng):
    data = rng.normal(size=(9, 6))
    mask = rng.random(data.shape) < 0.3
    x = h.excluded_nan(data, mask)
    for q in (0.0, 1.0):
        got = h.run_pkg(data, mask, method="quantile", q=q, want=())["data"]
        want = np.nanmin(x, axis=0) if q == 0 else np.nanmax(x, axis=0)
        assert np.array_equal(got, want, equal_nan=True)
