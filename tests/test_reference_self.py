"""The twin (tests/helpers/reference.py) proven against NumPy, astropy and hand-worked cases.

The reference must be right before it judges the package, so every piece of it is
checked here against an independent source: NumPy's nan-reductions, astropy's
sigma_clip, vectorised NumPy re-derivations, and small cases computed by hand from
docs/design.md and /work/shared/research/iraf.md.  None of these tests needs the
compiled package.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as helpers


def excluded_nan(case: sts.StackCase, thresholds=None, zero=None, scale=None) -> np.ndarray:
    return helpers.excluded_nan(case.data, case.mask, thresholds, zero, scale)


numpy_combine = helpers.numpy_combine
assert_close = helpers.assert_close


# ---------------------------------------------------------------------------------------
# combine methods
# ---------------------------------------------------------------------------------------


@given(case=sts.stacks(), method=st.sampled_from(sts.METHODS), ddof=st.sampled_from([0, 1, 2]),
       q=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.77, 1.0]), data=st.data())
def test_twin_combine_matches_numpy(case, method, ddof, q, data):
    thresholds = data.draw(sts.thresholds_for(case))
    zero, scale = data.draw(sts.normalisations(case.n))
    weights = None
    if method == "wavg" or (method == "mean" and data.draw(st.booleans())):
        weights = np.random.default_rng(case.params["seed"]).uniform(0.1, 3, case.n)
    got = ref.combine(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                      scale=scale, weights=weights, ddof=ddof, q=q)
    x = excluded_nan(case, thresholds, zero, scale)
    want = numpy_combine(x, method, ddof=ddof, q=q, weights=weights)
    assert_close(got.data, want, rtol=1e-11, err=method)
    assert np.array_equal(got.mask, np.isnan(x))
    assert np.array_equal(got.nused, np.isfinite(x).sum(axis=0))


def test_empty_elements_and_blank():
    x = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    for method in ("mean", "median", "lmedian", "min", "max", "variance", "quantile"):
        r = ref.combine(x, method=method, q=0.5)
        assert np.isnan(r.data[0]) and np.isfinite(r.data[1])
        assert ref.combine(x, method=method, q=0.5, blank=-7).data[0] == -7
    assert ref.combine(x, method="sum").data[0] == 0.0
    assert ref.combine(x, method="sum", blank=5.0).data[0] == 5.0
    # variance with 0 < n <= ddof is NaN, not blank
    assert np.isnan(ref.combine(np.full((2, 2), 3.0), method="variance", ddof=2, blank=9).data[0])


def test_lmedian_and_median_even():
    x = np.array([4.0, 1.0, 3.0, 2.0])[:, None]
    assert ref.combine(x, method="median").data[0] == 2.5
    assert ref.combine(x, method="lmedian").data[0] == 2.0
    assert ref.combine(x[:2], method="lmedian").data[0] == 1.0


def test_dtypes_and_workspace():
    for dt, ws in [("uint8", "float32"), ("uint16", "float32"), ("int16", "float32"),
                   ("int32", "float64"), ("float32", "float32"), ("float64", "float64")]:
        assert ref.workspace_dtype(dt) == np.dtype(ws)
        assert ref.workspace_dtype(np.dtype(dt).newbyteorder(">")) == np.dtype(ws)
    with pytest.raises(TypeError):
        ref.workspace_dtype("int64")


def test_twin_does_not_modify_input():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    a[1, 2] = np.nan
    m = np.zeros(a.shape, bool)
    m[0, 0] = True
    a0, m0 = a.copy(), m.copy()
    ref.combine(a, m, method="mean", zero=np.arange(4.0), scale=np.ones(4) * 2,
                rejectors=[ref.SigClip(sigma=1.0, nkeep=0, grow=1.0)])
    assert np.array_equal(a, a0, equal_nan=True) and np.array_equal(m, m0)


# ---------------------------------------------------------------------------------------
# SigClip against astropy
# ---------------------------------------------------------------------------------------


@given(case=sts.stacks(dtypes=("float64", "int32", "float32"), max_n=120, budget=1500),
       cen=st.sampled_from(["mean", "median"]), std=st.sampled_from(["std", "mad"]),
       sigma=sts.sigma_pairs, maxiters=st.integers(1, 8), ddof=st.sampled_from([0, 1]))
def test_sigclip_matches_astropy(case, cen, std, sigma, maxiters, ddof):
    from astropy.stats import mad_std, sigma_clip

    if std == "mad":
        ddof = 0
    lo, hi = ref._pair(sigma)
    # astropy's std is about the mean and its mad_std about the median, whatever the centre
    about = "mean" if std == "std" else "median"
    r = ref.SigClip(sigma=sigma, maxiters=maxiters, cenfunc=cen, stdfunc=std, ddof=ddof, nkeep=0,
                    spread_centre=about)
    got = ref.combine(case.data, case.mask, rejectors=[r])
    x = excluded_nan(case)
    # Callables on purpose: astropy's C fast path (string cenfunc/stdfunc with an axis)
    # returns the data outside the *final* bounds, un-rejecting samples that an earlier
    # pass clipped; its generic path accumulates rejections as design.md requires.
    cenfunc = {"mean": lambda a, axis: np.nanmean(a, axis=axis),
               "median": lambda a, axis: np.nanmedian(a, axis=axis)}[cen]
    if std == "mad":
        stdfunc = lambda a, axis: mad_std(a, axis=axis, ignore_nan=True)  # noqa: E731
    else:
        stdfunc = lambda a, axis: np.nanstd(a, axis=axis, ddof=ddof)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clipped, blo, bhi = sigma_clip(x, sigma_lower=lo, sigma_upper=hi, maxiters=maxiters,
                                       cenfunc=cenfunc, stdfunc=stdfunc, axis=0, masked=True,
                                       return_bounds=True, copy=True)
    want_mask = np.ma.getmaskarray(clipped) | np.isnan(x)
    keep = ~got.fragile
    assert np.array_equal(got.mask[:, keep], want_mask[:, keep])
    # bounds of the last evaluated pass (astropy also evaluates a pass with n == 1, the
    # twin does not: compare where at least two samples are left)
    ev = keep & (got.nit > 0) & (got.nused >= 2)
    blo, bhi = (np.asarray(b, float) for b in (blo, bhi))
    if blo.ndim == x.ndim:  # keepdims-style bounds
        blo, bhi = blo[0], bhi[0]
    assert_close(got.clip_low[ev], np.broadcast_to(blo, ev.shape)[ev], rtol=1e-9)
    assert_close(got.clip_upp[ev], np.broadcast_to(bhi, ev.shape)[ev], rtol=1e-9)


def test_sigclip_spread_about_the_clipping_centre():
    """0.1.1 / IRAF: the std is measured about the clipping centre with ddof.

    [0..8, 30] with a median centre (4.5): about the median the spread is sqrt(71.25) =
    8.44 and 30 is 3.02 sigma out (kept at sigma 3.1); about the mean (6.6) it is
    sqrt(66.84) = 8.18 and 30 is 3.12 sigma out (rejected)."""
    x = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 30])[:, None]
    about_med = math.sqrt(sum((v - 4.5) ** 2 for v in x[:, 0]) / 10)
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=3.1, nkeep=0, maxiters=1)])
    assert not r.mask.any() and math.isclose(r.std[0], about_med)
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=3.1, nkeep=0, maxiters=1, spread_centre="mean")])
    assert r.mask[:, 0].tolist() == [False] * 9 + [True]
    assert math.isclose(r.std[0], float(np.std(x[:, 0])))
    # IRAF's spread is the same with ddof = 1
    a = ref.combine(x, rejectors=[ref.SigClip(sigma=3.0, nkeep=0, stdfunc="iraf")])
    b = ref.combine(x, rejectors=[ref.SigClip(sigma=3.0, nkeep=0, ddof=1)])
    assert a.std[0] == b.std[0] and np.array_equal(a.mask, b.mask)


def test_sigclip_hand_iterations():
    # iraf.md 5-quirk sample; library SigClip with the IRAF spread about the median.
    x = np.array([0.0, 10.0, 10.1, 100.0])[:, None]
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=1.0, cenfunc="median", stdfunc="iraf", nkeep=0)])
    assert r.mask[:, 0].tolist() == [True, False, False, True]
    assert r.nit[0] == 3 and r.output_flags[0] == 0  # 1 + two kept rejecting passes
    s3 = math.sqrt(0.05**2 * 2)  # last pass: [10, 10.1], c = 10.05
    assert math.isclose(r.std[0], s3) and math.isclose(r.clip_low[0], 10.05 - s3)
    assert (r.low[0], r.upp[0]) == (10.0, 10.1)  # retained extremes
    # the same with maxiters=2: the second pass still rejected -> flag 2
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=1.0, cenfunc="median", stdfunc="iraf",
                                              nkeep=0, maxiters=2)])
    assert r.mask[:, 0].tolist() == [True, False, False, True]
    assert r.nit[0] == 3 and r.output_flags[0] == ref.O_MAXITERS


def test_sigclip_nkeep_revert_and_addback():
    x = np.array([0.0, 9.9, 10.0, 10.1, 25.0])[:, None]
    base = dict(sigma=1.0, cenfunc="median", stdfunc="iraf", nkeep=4)
    rv = ref.combine(x, rejectors=[ref.SigClip(**base, revert_on_nkeep=True)])
    assert not rv.mask.any() and rv.output_flags[0] == ref.O_NKEEP and rv.nit[0] == 1
    # the undone pass proposed 0 and 25: they are flagged as restored
    assert rv.sample_flags[:, 0].tolist() == [ref.F_RESTORED_NKEEP, 0, 0, 0, ref.F_RESTORED_NKEEP]
    ab = ref.combine(x, rejectors=[ref.SigClip(**base, revert_on_nkeep=False)])
    assert ab.mask[:, 0].tolist() == [False, False, False, False, True]  # 0 is less deviant
    assert ab.output_flags[0] == ref.O_NKEEP and ab.nit[0] == 2
    assert ab.sample_flags[:, 0].tolist() == [ref.F_RESTORED_NKEEP, 0, 0, 0, ref.F_ALGORITHM]
    # equal residuals are restored together, even beyond the limit
    y = np.array([0.0, 9.9, 10.0, 10.1, 20.0])[:, None]
    tie = ref.combine(y, rejectors=[ref.SigClip(**base, revert_on_nkeep=False)])
    assert not tie.mask.any()
    # negative nkeep = reject at most |nkeep|; maxrej sets bit 8
    neg = ref.combine(x, rejectors=[ref.SigClip(sigma=1.0, cenfunc="median", stdfunc="iraf",
                                                nkeep=-1, revert_on_nkeep=False)])
    assert neg.mask[:, 0].tolist() == [False, False, False, False, True]
    mr = ref.combine(x, rejectors=[ref.SigClip(sigma=1.0, cenfunc="median", stdfunc="iraf",
                                               nkeep=0, maxrej=1)])
    assert not mr.mask.any() and mr.output_flags[0] == ref.O_MAXREJ
    assert mr.sample_flags[:, 0].tolist() == [ref.F_RESTORED_MAXREJ, 0, 0, 0, ref.F_RESTORED_MAXREJ]


def test_sigclip_lone_sample_is_kept():
    x = np.array([[1.0], [np.nan], [np.nan]])
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=0.0, nkeep=0)])
    assert not r.mask[0, 0] and r.nit[0] == 1 and r.std[0] == 0.0  # nit: 1 + kept passes
    r = ref.combine(x, rejectors=[ref.SigClip(sigma=0.0, nkeep=0, stdfunc="iraf")])
    assert not r.mask[0, 0] and r.nit[0] == 1 and np.isnan(r.std[0])  # n - 1 = 0: undefined


# ---------------------------------------------------------------------------------------
# CcdClip
# ---------------------------------------------------------------------------------------


def test_ccdclip_worked_example():
    # seed-imcombiners.md 3.6: median centre, sigma 2, rdnoise 5, gain 2 (e-/ADU)
    x = np.array([998, 999, 1000, 1000, 1001, 1002, 1060], float)[:, None]
    r = ref.combine(x, rejectors=[ref.CcdClip(sigma=2.0, rdnoise=5.0, gain=2.0, nkeep=0)])
    assert r.mask[:, 0].tolist() == [False] * 6 + [True]
    assert math.isclose(r.std[0], 22.5)  # sqrt(2.5^2 + 1000/2)
    assert r.nit[0] == 2
    ho = ref.combine(-x + 2000, rejectors=[ref.CcdClip(sigma=2.0, rdnoise=5.0, gain=2.0, nkeep=0,
                                                       high_only=True)])
    assert not ho.mask.any()  # the outlier is now low and high_only ignores it


def test_ccdclip_poisson_correction():
    # frame 1 is scaled by 2: value' = (v - Z)/S; sigma_1 = model(S c + Z)/S
    S = np.array([1.0, 2.0, 1.0, 1.0, 1.0])
    Z = np.array([0.0, 100.0, 0.0, 0.0, 0.0])
    raw = np.array([1000.0, S[1] * (1000 + 27) + Z[1], 999.0, 1001.0, 1002.0])[:, None]
    c = 1001.0  # median of the normalised values [1000, 1027, 999, 1001, 1002]
    sig1 = math.sqrt(S[1] * c + Z[1]) / S[1]  # gain 1, rdnoise 0 at I = S c + Z
    assert 26 > 1.0 * sig1  # rejected with the correction ...
    assert 26 < 1.0 * math.sqrt(c)  # ... though within one sigma of the plain model
    r = ref.combine(raw, zero=Z, scale=S, method="mean",
                    rejectors=[ref.CcdClip(sigma=1.0, sigscale=0.1, nkeep=0, maxiters=1)])
    assert r.mask[:, 0].tolist() == [False, True, False, False, False]
    off = ref.combine(raw, zero=Z, scale=S, method="mean",
                      rejectors=[ref.CcdClip(sigma=1.0, sigscale=0.0, nkeep=0, maxiters=1)])
    assert not off.mask.any()  # sigscale = 0 disables the correction


# ---------------------------------------------------------------------------------------
# LinearClip
# ---------------------------------------------------------------------------------------


def test_linearclip_inclusive_bounds():
    x = np.array([90.0, 99.0, 100.0, 110.0, 111.0])[:, None]  # median 100
    r = ref.combine(x, rejectors=[ref.LinearClip(low_scale=1.0, low=10.0, upp_scale=1.1, upp=0.0,
                                                 nkeep=0)])
    assert r.mask[:, 0].tolist() == [False, False, False, False, True]
    assert (r.low[0], r.upp[0], r.nit[0]) == (90.0, 110.00000000000001, 1)


# ---------------------------------------------------------------------------------------
# MinMaxClip against a NumPy sort
# ---------------------------------------------------------------------------------------


@given(case=sts.stacks(), n_min=sts._counts, n_max=sts._counts)
def test_minmax_matches_numpy_sort(case, n_min, n_max):
    got = ref.combine(case.data, case.mask, rejectors=[ref.MinMaxClip(n_min, n_max)])
    x = excluded_nan(case)
    N = x.shape[0]
    flat = x.reshape(N, -1)
    want = np.isnan(flat).copy()
    f_lo = n_min / N if n_min >= 1 else n_min
    f_hi = n_max / N if n_max >= 1 else n_max
    for e in range(flat.shape[1]):
        col = flat[:, e]
        ok = np.flatnonzero(np.isfinite(col))
        n = len(ok)
        k_lo, k_hi = int(f_lo * n + 0.001), int(f_hi * n + 0.001)
        low_order = ok[np.lexsort((ok, col[ok]))]  # value, then frame index
        want[low_order[:k_lo], e] = True
        rest = np.setdiff1d(ok, low_order[:k_lo])
        # highest first; among equal values the higher frame index counts as higher
        high_order = rest[np.lexsort((-rest, -col[rest]))]
        want[high_order[:k_hi], e] = True
    assert np.array_equal(got.mask.reshape(N, -1), want)


def test_minmax_ties_and_fractions():
    # (value, frame) order: equal values lose their lower frames at the low edge and
    # their higher frames at the high edge
    x = np.array([5.0, 5.0, 5.0, 5.0])[:, None]
    r = ref.combine(x, rejectors=[ref.MinMaxClip(1, 1)])
    assert r.mask[:, 0].tolist() == [True, False, False, True]
    y = np.array([1.0, 9.0, 9.0, 3.0])[:, None]
    r = ref.combine(y, rejectors=[ref.MinMaxClip(0, 1)])
    assert r.mask[:, 0].tolist() == [False, False, True, False]
    z = np.array([5.0, 1.0, 5.0, 1.0, 5.0])[:, None]  # the brief's example
    r = ref.combine(z, rejectors=[ref.MinMaxClip(0, 2)])
    assert r.mask[:, 0].tolist() == [False, False, True, False, True]
    r = ref.combine(z, rejectors=[ref.MinMaxClip(1, 0)])
    assert r.mask[:, 0].tolist() == [False, True, False, False, False]
    # counts shrink with masked samples: N=5, n=4, n_min=2 -> trunc(0.4*4 + 0.001) = 1
    z = np.array([1.0, 2.0, 3.0, 4.0, np.nan])[:, None]
    r = ref.combine(z, rejectors=[ref.MinMaxClip(2, 0)])
    assert r.mask[:, 0].tolist() == [True, False, False, False, True]


# ---------------------------------------------------------------------------------------
# PClip
# ---------------------------------------------------------------------------------------


def test_pclip_rank_offset():
    # iraf.md 6.5: N = 10, pclip = -0.5 -> -2; N = 7 -> -1
    assert ref.pclip_offset(-0.5, 10) == -2
    assert ref.pclip_offset(-0.5, 7) == -1
    assert ref.pclip_offset(0.5, 10) == 2
    assert ref.pclip_offset(-0.5, 15) == -3  # seed doc example
    assert ref.pclip_offset(3.0, 4) == 2  # clamped to N//2
    assert ref.pclip_offset(0.1, 4) == 1  # at least 1


def test_pclip_hand_examples():
    # seed doc: arange(100) frac 0.4 and arange(10) frac 0.5 reject nothing
    for n, frac in [(100, 0.4), (10, 0.5)]:
        r = ref.combine(np.arange(n, dtype=float)[:, None], rejectors=[ref.PClip(frac=frac)])
        assert not r.mask.any()
    # N = 7, p = -1: sorted [1, 2, 3, 4, 5, 6, 40]; m = 4, median 4, slot 3 -> sigma 1;
    # reject (4 - v) >= 3 -> v = 1; (v - 4) >= 3 -> 40 (and 7 if present)
    x = np.array([40.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[:, None]
    r = ref.combine(x, rejectors=[ref.PClip(frac=-0.5, sigma=3.0, nkeep=0)])
    assert r.mask[:, 0].tolist() == [True, True, False, False, False, False, False]
    assert (r.clip_low[0], r.clip_upp[0], r.nit[0]) == (1.0, 7.0, 1) and np.isnan(r.std[0])  # std: design.md
    assert (r.low[0], r.upp[0]) == (2.0, 6.0)  # retained extremes
    # >= : 1 sits exactly at median - 3 sigma and is rejected (a strict test would keep it)
    # nkeep = 6: one must come back; 1 (residual 3) beats 40 (residual 36)
    r = ref.combine(x, rejectors=[ref.PClip(frac=-0.5, sigma=3.0, nkeep=6)])
    assert r.mask[:, 0].tolist() == [True, False, False, False, False, False, False]
    assert r.output_flags[0] == ref.O_NKEEP


# ---------------------------------------------------------------------------------------
# grow
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("radius,count", [(1.0, 5), (1.5, 9), (2.0, 13), (2.5, 21), (0.5, 1)])
def test_grow_disc_sizes(radius, count):
    m = np.zeros((1, 9, 9), bool)
    m[0, 4, 4] = True
    assert ref.grow_mask(m, radius).sum() == count  # iraf.md 6.7 (verified in IRAF)


@given(shape=sts.spatial_shapes(max_elements=40), radius=st.sampled_from([1.0, 1.5, 2.0, 2.9]),
       seed=st.integers(0, 2**32 - 1))
def test_grow_matches_distance(shape, radius, seed):
    rng = np.random.default_rng(seed)
    m = rng.random((3,) + shape) < 0.1
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1)
    want = np.zeros_like(m)
    for i, *pos in zip(*np.nonzero(m)):
        d2 = ((grid - np.array(pos)) ** 2).sum(-1)
        want[i] |= d2 <= radius**2
    assert np.array_equal(ref.grow_mask(m, radius), want)


def test_grow_seeded_only_by_algorithm():
    x = np.full((5, 1, 5), 100.0)
    x[:, 0, :] += np.arange(5)[:, None] * 0.1  # small spread
    x[2, 0, 2] = 1e4  # one outlier in frame 2 at column 2
    m = np.zeros(x.shape, bool)
    m[0, 0, 0] = True  # an input-masked sample must not seed growth
    r = ref.combine(x, m, rejectors=[ref.SigClip(sigma=3.0, stdfunc="mad", nkeep=0, grow=1.0)])
    assert r.mask[2, 0].tolist() == [False, True, True, True, False]
    assert r.mask[0, 0].tolist() == [True, False, False, False, False]
    assert r.sample_flags[2, 0].tolist() == [0, 16, 8, 16, 0]
    assert r.sample_flags[0, 0, 0] == ref.F_INPUT
    assert r.output_flags[0].tolist() == [1, 16, 0, 16, 0]


def test_flags_first_cause():
    # seed doc pinned example: [nan, 1 (masked), -5, 2, 100], thresholds (0, inf), minmax (0, 3)
    x = np.array([np.nan, 1.0, -5.0, 2.0, 100.0])[:, None]
    m = np.array([False, True, False, False, False])[:, None]
    r = ref.combine(x, m, thresholds=(0, np.inf), rejectors=[ref.MinMaxClip(0, 3)])
    # n = 2 valid (2, 100); f_hi = 3/5 -> k = trunc(1.2 + 0.001) = 1 -> rejects 100
    assert r.sample_flags[:, 0].tolist() == [2, 1, 4, 0, 8]
    assert r.data[0] == 2.0 and r.output_flags[0] == ref.O_PREMASKED


def test_chain_sees_survivors():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[:, None]
    r = ref.combine(x, rejectors=[ref.MinMaxClip(1, 1), ref.MinMaxClip(1, 0)])
    # first removes 1 and 6; second: n = 4, f = 1/6 -> k = trunc(0.667 + 0.001) = 0
    assert r.mask[:, 0].tolist() == [True, False, False, False, False, True]
    r = ref.combine(x, rejectors=[ref.MinMaxClip(1, 1), ref.MinMaxClip(0.25, 0)])
    assert r.mask[:, 0].tolist() == [True, True, False, False, False, True]


# ---------------------------------------------------------------------------------------
# The sorted window and AvSigClip
# ---------------------------------------------------------------------------------------


def test_sigclip_window_equals_keep_range():
    """For one keep range the sorted-ends walk == "reject everything outside the range"
    (design.md); checked on a single pass against a direct NumPy test."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        x = rng.normal(0, 1, 15)
        x[rng.random(15) < 0.2] *= 8
        r = ref.combine(x[:, None], rejectors=[ref.SigClip(sigma=1.5, maxiters=1, cenfunc="median",
                                                           stdfunc="mad", nkeep=0)])
        c = np.median(x)
        s = ref.MAD_FACTOR * np.median(np.abs(x - c))
        assert r.mask[:, 0].tolist() == ((x < c - 1.5 * s) | (x > c + 1.5 * s)).tolist()


def test_add_back_ends_hand_cases():
    j = ref.Judge(1e-9)
    # residuals of sorted samples 0..6; window [0, 7), proposed [2, 5): 0, 1 low, 5, 6 high
    res = [9.0, 4.0, 0.0, 0.0, 0.0, 3.0, 3.0005]
    assert ref.add_back_ends(res.__getitem__, 0, 7, 2, 5, 3, 0.001, j) == (2, 7)  # 5 then tie 6
    assert ref.add_back_ends(res.__getitem__, 0, 7, 2, 5, 2, 0.001, j) == (2, 7)  # 3.0, 3.0005
    assert ref.add_back_ends(res.__getitem__, 0, 7, 2, 5, 1, 0.001, j) == (1, 7)  # then 4.0 (low)
    assert ref.add_back_ends(res.__getitem__, 0, 7, 2, 5, 3, 0.0, j) == (2, 6)  # exact ties only
    # only the end candidates compete: the high side offers 5.0 first, so the 1.0 behind
    # it waits and the low 2.0 comes back
    res2 = [2.0, 0.0, 0.0, 5.0, 1.0]
    assert ref.add_back_ends(res2.__getitem__, 0, 5, 1, 3, 2, 0.001, j) == (0, 3)
    # equal residuals on both ends: the high side first, then the low one as a tie
    res3 = [2.0, 0.0, 2.0, 7.0]
    assert ref.add_back_ends(res3.__getitem__, 0, 4, 1, 2, 2, 0.0, j) == (0, 3)


def test_avsigclip_hand_example():
    # one pixel, one line: c = 10, sum (v - c)^2 / c = 144/10, n = 5 -> s = sqrt(3.6);
    # sigma(c) = s sqrt(10) = 6; 22 - 10 = 12 > 1.5 * 6 -> rejected; second pass rejects nothing
    x = np.array([10.0, 10.0, 10.0, 10.0, 22.0])[:, None]
    r = ref.combine(x, rejectors=[ref.AvSigClip(sigma=1.5, nkeep=0)])
    assert r.mask[:, 0].tolist() == [False] * 4 + [True]
    assert r.nit[0] == 2 and math.isclose(r.std[0], 6.0) and math.isclose(r.clip_upp[0], 19.0)
    assert r.upp[0] == 10.0
    r = ref.combine(x, rejectors=[ref.AvSigClip(sigma=2.0, nkeep=0)])
    assert not r.mask.any() and r.nit[0] == 1
    # nkeep = 5 of 5: n < keep + 1 -> not clipped at all
    r = ref.combine(x, rejectors=[ref.AvSigClip(sigma=1.5, nkeep=5)])
    assert not r.mask.any() and r.nit[0] == 0 and np.isnan(r.std[0])


@given(shape=st.sampled_from([(3, 8), (2, 2, 5), (12,)]), seed=st.integers(0, 2**32 - 1),
       cen=st.sampled_from(["median", "mean"]), corr=st.booleans())
def test_line_sigmas_match_numpy(shape, seed, cen, corr):
    """Vectorised s per line; ``corr``: per-frame levels L_i = max(1, (S_i c + Z_i)/S_i^2)."""
    rng = np.random.default_rng(seed)
    x = rng.poisson(rng.uniform(0.5, 3000, shape), (7,) + shape).astype(float)
    valid = rng.random(x.shape) > 0.3
    S, Z = rng.uniform(0.2, 3.0, 7), rng.normal(0, 200, 7)
    got = ref.line_sigmas(x, valid, cen, S, Z, corr) if corr else ref.line_sigmas(x, valid, cen)
    v = np.where(valid, x, np.nan)
    n = valid.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = np.nanmedian(v, axis=0) if cen == "median" else np.nanmean(v, axis=0)
        if corr:
            S1, Z1 = S.reshape((7,) + (1,) * len(shape)), Z.reshape((7,) + (1,) * len(shape))
            L = np.maximum(1.0, (S1 * c + Z1) / (S1 * S1))
        else:
            L = np.maximum(1.0, c)
        t = np.nansum((v - c) ** 2 / L, axis=0)
    acc = np.where(n >= 3, t, 0).sum(axis=-1)
    cnt = np.where(n >= 3, n, 0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.where(cnt > 1, np.sqrt(acc / np.maximum(cnt - 1, 1)), np.nan)
    for key in np.ndindex(*shape[:-1]):
        g, w = got[key], want[key]
        assert (np.isnan(g) and np.isnan(w)) or math.isclose(g, w, rel_tol=1e-12), (key, g, w)


def test_avsigclip_line_sigma_from_the_survivors_of_earlier_rejectors():
    # MinMaxClip(0, 1) removes 40; AvSigClip then sees [10, 10, 10, 10, 22] as in the hand
    # example above (s = sqrt(3.6), sigma(c) = 6) and rejects 22 at 1.5 sigma.  With 40
    # still in the line sigma, s = sqrt(104.4 / 5) and 22 would be kept.
    x = np.array([10.0, 10.0, 10.0, 10.0, 22.0, 40.0])[:, None]
    r = ref.combine(x, rejectors=[ref.MinMaxClip(0, 1), ref.AvSigClip(sigma=1.5, nkeep=0)])
    assert r.mask[:, 0].tolist() == [False] * 4 + [True, True]
    assert math.isclose(r.std[0], 6.0) and r.nit[0] == 2
    # a grow stage before it: LinearClip keeps x <= c + 15 = 25, rejects 40 in the first
    # pixel and grows it into the second, removing its 24 (kept by the LinearClip itself)
    x2 = np.hstack([x, np.array([10.0, 10.0, 10.0, 10.0, 22.0, 24.0])[:, None]])
    lin = ref.LinearClip(low=100.0, upp=15.0, nkeep=0, grow=1.0)
    r = ref.combine(x2, rejectors=[lin, ref.AvSigClip(sigma=1.5, nkeep=0)])
    assert r.sample_flags[5].tolist() == [ref.F_ALGORITHM, ref.F_GROW]
    # line: two pixels of [10]*4 + [22]: s^2 = 2 * 14.4 / 9 = 3.2; sigma(c) = sqrt(32)
    assert np.allclose(r.std, math.sqrt(32.0)) and r.mask[4].all()
    # without the grow the 24 is in the line sigma: s^2 = (14.4 + 34) / 10; the AvSigClip
    # itself then rejects it (14 > 1.5 * 6.96)
    r = ref.combine(x2, rejectors=[ref.LinearClip(low=100.0, upp=15.0, nkeep=0),
                                   ref.AvSigClip(sigma=1.5, nkeep=0)])
    assert math.isclose(r.std[0], math.sqrt(4.84) * math.sqrt(10.0))
    assert r.sample_flags[5].tolist() == [ref.F_ALGORITHM, ref.F_ALGORITHM]


def test_avsigclip_sigscale_hand_example():
    # one pixel; frames 0-3 scale 1, frame 4 scale 4 (zero 0): v' = [95, 100, 100, 105, 110]
    # c = 100: L = 100 for frames 0-3, L_4 = max(1, 4*100/16) = 25.
    # corrected: s^2 = (25/100 + 25/100 + 100/25) / 4 = 1.125, sigma_4 = s*5 = 5.30 ->
    #   110 is 1.886 sigma out: rejected at 1.75; std = s*sqrt(100) = 10.607
    # sigscale = 0: s^2 = 150/100/4 = 0.375, sigma = s*10 = 6.12 -> 1.633 sigma: kept
    S = np.array([1.0, 1.0, 1.0, 1.0, 4.0])
    raw = (np.array([95.0, 100.0, 100.0, 105.0, 110.0]) * S)[:, None]
    r = ref.combine(raw, scale=S, rejectors=[ref.AvSigClip(sigma=1.75, nkeep=0)])
    assert r.mask[:, 0].tolist() == [False] * 4 + [True]
    assert r.nit[0] == 2 and math.isclose(r.std[0], math.sqrt(1.125) * 10)
    r = ref.combine(raw, scale=S, rejectors=[ref.AvSigClip(sigma=1.75, nkeep=0, sigscale=0.0)])
    assert not r.mask.any() and r.nit[0] == 1 and math.isclose(r.std[0], math.sqrt(0.375) * 10)
    # the zero enters the level in raw units: Z_4 = -300 -> L_4 = max(1, 100/16) = 6.25
    Z = np.array([0.0, 0.0, 0.0, 0.0, -300.0])
    r = ref.combine(raw + Z[:, None], zero=Z, scale=S, rejectors=[ref.AvSigClip(sigma=1.75, nkeep=0)])
    s = math.sqrt((0.5 + 100 / 6.25) / 4)
    assert math.isclose(r.std[0], s * 10) and r.mask[4, 0]


@given(case=sts.stacks(max_n=40, budget=600), first=sts.any_rejector(grow=True),
       av=sts.avsigclips(), data=st.data())
def test_chain_with_avsigclip_equals_two_steps(case, first, av, data):
    """A chain [R, AvSigClip] rejects what R does and then what the AvSigClip does on R's
    survivors given as an input mask (the split paths of the package)."""
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    kw = dict(zero=zero, scale=scale)
    one = ref.combine(case.data, case.mask, rejectors=[first, av], **kw)
    step = ref.combine(case.data, case.mask, rejectors=[first], **kw)
    two = ref.combine(case.data, step.mask, rejectors=[av], **kw)
    assert np.array_equal(one.mask, two.mask)  # same arithmetic: equal even on near ties
    assert np.array_equal(one.nit, two.nit)
    assert np.array_equal(one.std, two.std, equal_nan=True)
