"""Every library rejector of the package against the twin (tests/helpers/reference.py).

Masks, sample/output flags and used counts must be identical and the data close on
every element where the twin's decisions were not within rounding of a tie
(``TwinResult.fragile``).  Rejection diagnostics (std, low, upp, nit) are compared in
separate tests so a diagnostics-only difference does not hide a mask difference.
SigClip is also checked directly against astropy.stats.sigma_clip and MinMaxClip against
a NumPy sort, independently of the twin; AvSigClip's per-line sigma (from the survivors of
the rejectors before it, with per-frame Poisson levels under ``sigscale``) against a
vectorised NumPy estimate, and its fused call against the split paths.  Hand-worked cases pin the sorted-window rules of design.md (tie order,
sorted-ends shielding, the ends add-back with its fixed tie reference).
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
from tests.helpers import twin as h

h.require_package()

REJECTORS = {
    "sigclip": sts.sigclips,
    "ccdclip": sts.ccdclips,
    "linearclip": sts.linearclips,
    "minmax": sts.minmaxclips,
    "pclip": sts.pclips,
    "avsigclip": sts.avsigclips,
    "winsorized": sts.winsorizedclips,
    "linearfit": sts.linearfitclips,
    "gesd": sts.gesdclips,
}
FINAL = st.sampled_from(["mean", "median", "mean", "lmedian", "sum", "variance"])


def _run_both(case, rejectors, method, thresholds=None, zero=None, scale=None):
    got = h.run_pkg(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                    scale=scale, rejectors=rejectors)
    tw = ref.combine(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                     scale=scale, rejectors=rejectors)
    return got, tw


@h.more_examples(3)
@pytest.mark.parametrize("kind", sorted(REJECTORS))
@given(data=st.data())
def test_rejector_matches_twin(kind, data):
    case = data.draw(sts.stacks(budget=2000), label="case")
    rej = data.draw(REJECTORS[kind](), label="rejector")
    method = data.draw(FINAL, label="method")
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    got, tw = _run_both(case, [rej], method, thresholds, zero, scale)
    h.compare_to_twin(got, tw, method=method, err=f"{rej}")


@pytest.mark.parametrize("kind", sorted(REJECTORS))
@given(data=st.data())
def test_rejector_diagnostics_match_twin(kind, data):
    case = data.draw(sts.stacks(budget=2000), label="case")
    rej = data.draw(REJECTORS[kind](), label="rejector")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    got, tw = _run_both(case, [rej], "mean", None, zero, scale)
    parts = ["nit", "low", "upp"]
    import imcombiners as pr

    if getattr(pr, type(rej).__name__).has_spread:
        parts.append("std")
    h.compare_to_twin(got, tw, parts=parts, err=f"{rej}")


@h.more_examples(3)
@given(case=sts.stacks(budget=1500), chain=sts.chains(min_size=1, max_size=3), method=FINAL,
       data=st.data())
def test_chain_with_grow_matches_twin(case, chain, method, data):
    """Rejectors in turn (each sees the survivors of the previous), grow between stages."""
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    got, tw = _run_both(case, chain, method, thresholds, zero, scale)
    h.compare_to_twin(got, tw, method=method, err=f"{chain}")


# ---------------------------------------------------------------------------------------
# Independent of the twin
# ---------------------------------------------------------------------------------------


@given(case=sts.stacks(dtypes=("float64", "int32", "float32", "uint16"), max_n=120, budget=1500),
       cen=st.sampled_from(["mean", "median"]), std=st.sampled_from(["std", "mad"]),
       sigma=sts.sigma_pairs, maxiters=st.integers(1, 8))
def test_sigclip_matches_astropy(case, cen, std, sigma, maxiters):
    """SigClip(nkeep=0, no maxrej) == astropy sigma_clip (generic, accumulating path).

    astropy measures its std about the mean and its mad_std about the median, whatever the
    clipping centre: ``spread_centre`` says the same; the bounds are ``clip_low/clip_upp``.
    """
    from astropy.stats import mad_std, sigma_clip

    lo, hi = ref._pair(sigma)
    about = "mean" if std == "std" else "median"
    r = ref.SigClip(sigma=sigma, maxiters=maxiters, cenfunc=cen, stdfunc=std, nkeep=0, spread_centre=about)
    got = h.run_pkg(case.data, case.mask, rejectors=[r], want={"mask", "clip_low", "clip_upp", "nit", "nused"})
    x = h.excluded_nan(case.data, case.mask)
    cenfunc = {"mean": lambda a, axis: np.nanmean(a, axis=axis),
               "median": lambda a, axis: np.nanmedian(a, axis=axis)}[cen]
    stdfunc = ((lambda a, axis: mad_std(a, axis=axis, ignore_nan=True)) if std == "mad"
               else (lambda a, axis: np.nanstd(a, axis=axis)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clipped, blo, bhi = sigma_clip(x, sigma_lower=lo, sigma_upper=hi, maxiters=maxiters,
                                       cenfunc=cenfunc, stdfunc=stdfunc, axis=0, masked=True,
                                       return_bounds=True, copy=True)
    want = np.ma.getmaskarray(clipped) | np.isnan(x)
    # elements whose decisions sit on a rounding tie are excluded via the twin's judge
    tw = ref.combine(case.data, case.mask, rejectors=[r])
    keep = ~tw.fragile
    assert np.array_equal(got["mask"][:, keep], want[:, keep])
    blo, bhi = (np.asarray(b, float) for b in (blo, bhi))
    if blo.ndim == x.ndim:
        blo, bhi = blo[0], bhi[0]
    ev = keep & (got["nused"] >= 2)
    rtol = h.rtol_for(case.data.dtype)
    mag = np.nanmax(np.abs(x), axis=0, initial=0.0)
    h.assert_close(got["clip_low"][ev], np.broadcast_to(blo, ev.shape)[ev], rtol=rtol, atol=rtol * mag[ev], err="clip_low")
    h.assert_close(got["clip_upp"][ev], np.broadcast_to(bhi, ev.shape)[ev], rtol=rtol, atol=rtol * mag[ev], err="clip_upp")


@given(case=sts.stacks(), n_min=sts._counts, n_max=sts._counts)
def test_minmax_matches_numpy_sort(case, n_min, n_max):
    got = h.run_pkg(case.data, case.mask, rejectors=[ref.MinMaxClip(n_min, n_max)], want={"mask"})
    x = h.excluded_nan(case.data, case.mask)
    N = x.shape[0]
    flat = x.reshape(N, -1)
    want = np.isnan(flat).copy()
    f_lo = math.trunc(n_min) / N if n_min >= 1 else n_min
    f_hi = math.trunc(n_max) / N if n_max >= 1 else n_max
    for e in range(flat.shape[1]):
        col = flat[:, e]
        ok = np.flatnonzero(np.isfinite(col))
        k_lo, k_hi = int(f_lo * len(ok) + 0.001), int(f_hi * len(ok) + 0.001)
        low_order = ok[np.lexsort((ok, col[ok]))]
        want[low_order[:k_lo], e] = True
        rest = np.setdiff1d(ok, low_order[:k_lo])
        # highest first; among equal values the higher frame goes first
        want[rest[np.lexsort((-rest, -col[rest]))][:k_hi], e] = True
    assert np.array_equal(got["mask"].reshape(N, -1), want)


# ---------------------------------------------------------------------------------------
# Hand-worked cases (docs/design.md, iraf.md), on the package
# ---------------------------------------------------------------------------------------


def _one(values, rejector, mask=None, **kw):
    x = np.asarray(values, float)[:, None]
    m = None if mask is None else np.asarray(mask, bool)[:, None]
    return h.run_pkg(x, m, rejectors=[rejector], **kw)


def test_sigclip_iterates_and_flags_maxiters():
    r = _one([0.0, 10.0, 10.1, 100.0], ref.SigClip(sigma=1.0, stdfunc="iraf", nkeep=0))
    assert r["mask"][:, 0].tolist() == [True, False, False, True]
    assert r["nit"][0] == 3 and r["output_flags"][0] == 0
    # nit = 1 + the passes that rejected and were kept (0.1.1): both passes rejected.
    r = _one([0.0, 10.0, 10.1, 100.0], ref.SigClip(sigma=1.0, stdfunc="iraf", nkeep=0, maxiters=2))
    assert r["nit"][0] == 3 and r["output_flags"][0] == ref.O_MAXITERS


def test_sigclip_nkeep_revert_vs_addback():
    v = [0.0, 9.9, 10.0, 10.1, 25.0]
    base = dict(sigma=1.0, stdfunc="iraf", nkeep=4)
    r = _one(v, ref.SigClip(**base, revert_on_nkeep=True))
    assert not r["mask"].any() and r["output_flags"][0] == ref.O_NKEEP
    r = _one(v, ref.SigClip(**base, revert_on_nkeep=False))
    assert r["mask"][:, 0].tolist() == [False] * 4 + [True] and r["output_flags"][0] == ref.O_NKEEP
    r = _one([0.0, 9.9, 10.0, 10.1, 20.0], ref.SigClip(**base, revert_on_nkeep=False))
    assert not r["mask"].any()  # tied residuals come back together
    r = _one(v, ref.SigClip(sigma=1.0, stdfunc="iraf", nkeep=0, maxrej=1))
    assert not r["mask"].any() and r["output_flags"][0] == ref.O_MAXREJ


def test_ccdclip_noise_model():
    v = [998, 999, 1000, 1000, 1001, 1002, 1060]
    r = _one(v, ref.CcdClip(sigma=2.0, rdnoise=5.0, gain=2.0, nkeep=0))
    assert r["mask"][:, 0].tolist() == [False] * 6 + [True]
    assert math.isclose(r["std"][0], 22.5, rel_tol=1e-12)


def test_pclip_hand_example():
    r = _one([40.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ref.PClip(frac=-0.5, sigma=3.0, nkeep=0))
    assert r["mask"][:, 0].tolist() == [True, True] + [False] * 5  # 1 sits exactly on >=
    r = _one([40.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ref.PClip(frac=-0.5, sigma=3.0, nkeep=6))
    assert r["mask"][:, 0].tolist() == [True] + [False] * 6


def test_minmax_ties_and_masked_counts():
    r = _one([5.0, 5.0, 5.0, 5.0], ref.MinMaxClip(1, 1))
    assert r["mask"][:, 0].tolist() == [True, False, False, True]
    r = _one([1.0, 9.0, 9.0, 3.0], ref.MinMaxClip(0, 1))
    assert r["mask"][:, 0].tolist() == [False, False, True, False]
    r = _one([1.0, 2.0, 3.0, 4.0, np.nan], ref.MinMaxClip(2, 0))
    assert r["mask"][:, 0].tolist() == [True, False, False, False, True]


def test_flags_pinned_example():
    r = _one([np.nan, 1.0, -5.0, 2.0, 100.0], ref.MinMaxClip(0, 3),
             mask=[False, True, False, False, False], thresholds=(0, np.inf))
    assert r["sample_flags"][:, 0].tolist() == [2, 1, 4, 0, 8]
    assert r["data"][0] == 2.0 and r["output_flags"][0] == ref.O_PREMASKED


def test_grow_seeded_only_by_algorithm():
    x = np.full((5, 1, 5), 100.0)
    x[:, 0, :] += np.arange(5)[:, None] * 0.1
    x[2, 0, 2] = 1e4
    m = np.zeros(x.shape, bool)
    m[0, 0, 0] = True
    r = h.run_pkg(x, m, rejectors=[ref.SigClip(sigma=3.0, stdfunc="mad", nkeep=0, grow=1.0)])
    assert r["mask"][2, 0].tolist() == [False, True, True, True, False]
    assert r["mask"][0, 0].tolist() == [True, False, False, False, False]
    assert r["sample_flags"][2, 0].tolist() == [0, 16, 8, 16, 0]
    assert r["output_flags"][0].tolist() == [1, 16, 0, 16, 0]


def test_addback_with_zero_spread_restores_least_deviant():
    """MAD = 0 (two equal samples of three): every sample != the mean centre is rejected;
    nkeep=-1 allows one rejection, so the add-back must keep the two 103s (|x - c| = 1.67)
    and reject 108 (|x - c| = 3.33), not restore in frame order."""
    r = _one([103.0, 108.0, 103.0],
             ref.SigClip(sigma=0.5, maxiters=1, cenfunc="mean", stdfunc="mad", nkeep=-1,
                         revert_on_nkeep=False))
    assert r["mask"][:, 0].tolist() == [False, True, False]


def test_minmax_ties_follow_value_frame_order():
    """design.md: at the high edge the higher frame indices go, at the low edge the lower."""
    r = _one([5.0, 1.0, 5.0, 1.0, 5.0], ref.MinMaxClip(0, 2))
    assert r["mask"][:, 0].tolist() == [False, False, True, False, True]
    r = _one([5.0, 1.0, 5.0, 1.0, 5.0], ref.MinMaxClip(1, 0))
    assert r["mask"][:, 0].tolist() == [False, True, False, False, False]
    r = _one([101.0, 105.0, 100.0, 96.0, 105.0], ref.MinMaxClip(0, 1))
    assert r["mask"][:, 0].tolist() == [False, False, False, False, True]
    # -0.0 and 0.0 are equal values: the frame index decides
    r = _one([0.0, -0.0, 0.0], ref.MinMaxClip(1, 1))
    assert r["mask"][:, 0].tolist() == [True, False, True]


def test_linearclip_empty_keep_range_rejects_everything():
    """With c < 0, low_scale*c - low > upp_scale*c + upp: no value can be kept."""
    x = [-10.0, -20.0, -30.0, -40.0, -15.0]  # mean -23: keep -11.5 <= x <= -23
    r = _one(x, ref.LinearClip(low_scale=0.5, nkeep=0))
    assert r["mask"].all() and np.isnan(r["data"][0])
    r = _one([-477.0], ref.LinearClip(low_scale=0.5, upp_scale=1.01, nkeep=0))
    assert r["mask"].all()


def test_ccdclip_per_image_noise_sorted_ends_shield():
    """design.md: survivors are a contiguous run of the sorted samples; with per-image noise
    a kept end sample with a large sigma shields the sample inside it (IRAF sorted ends)."""
    S = np.array([1, 1, 1, 1, 1, 0.25, 4.0])
    rej = ref.CcdClip(sigma=3.0, rdnoise=0.0, gain=1.0, sigscale=0.1, nkeep=0, maxiters=1)
    # median 1000; frame 5: sigma = sqrt(250)/0.25 = 63.2 -> keeps 900 (bound 810.3);
    # frame 6: sigma = sqrt(4000)/4 = 15.8 -> alone it would reject 920 (bound 952.6)
    xn = np.array([1000.0, 1001, 999, 1000, 1002, 900, 920])
    for values, want in ((xn, [False] * 7),  # 900 is the low end and is kept: 920 shielded
                         (np.where(np.arange(7) == 6, 880.0, xn), [False] * 6 + [True])):
        raw = (values * S)[:, None]  # value' = raw / S (zero 0)
        tw = ref.combine(raw, scale=S, rejectors=[rej])
        assert tw.mask[:, 0].tolist() == want
        r = h.run_pkg(raw, scale=S, rejectors=[rej])
        assert r["mask"][:, 0].tolist() == want


def test_addback_restores_ends_with_fixed_tie_reference():
    """IRAF add-back: the end with the smaller residual first, then both ends while the
    residual is within 0.001 of the *last restored* one (not chained).  CcdClip with
    rdnoise 0, gain 1 at the median 100 has sigma exactly 10: residuals 5.0 (50),
    4.9992 (149.992), 5.0 (150.0), 5.0009 (150.009).  nkeep = 6 of 9 allows 3 rejections:
    149.992 comes back first, then 50 and 150.0 (within 0.0008); 150.009 is 0.0017 from
    the last restored residual and stays rejected (a chained rule would restore it)."""
    v = [100.0] * 5 + [50.0, 149.992, 150.0, 150.009]
    rej = ref.CcdClip(sigma=1.0, rdnoise=0.0, gain=1.0, nkeep=6, maxiters=1, revert_on_nkeep=False)
    want = [False] * 8 + [True]
    assert ref.combine(np.asarray(v)[:, None], rejectors=[rej]).mask[:, 0].tolist() == want
    r = _one(v, rej)
    assert r["mask"][:, 0].tolist() == want and r["output_flags"][0] == ref.O_NKEEP


def test_linearclip_empty_range_addback_from_the_ends():
    """Median -20, low_scale 0.5: keep -10 <= x <= -20 is empty, every sample is rejected
    (the low walk takes x < -10, the high walk -10).  nkeep = 1 restores one sample from
    the ends of the sorted window: -15 (|x - c| = 5, low end) beats -10 (10, high end);
    -20 (residual 0) is inside the rejected run and does not come back."""
    v = [-10.0, -20.0, -30.0, -40.0, -15.0]
    rej = ref.LinearClip(low_scale=0.5, nkeep=1, revert_on_nkeep=False)
    want = [True, True, True, True, False]
    assert ref.combine(np.asarray(v)[:, None], rejectors=[rej]).mask[:, 0].tolist() == want
    r = _one(v, rej)
    assert r["mask"][:, 0].tolist() == want and r["output_flags"][0] == ref.O_NKEEP


def test_single_sample_is_not_a_clipping_pass():
    """A lone sample is its own centre and is never rejected (0.1.1 still evaluates the
    pass: std 0 for std/mad, the model sigma for ccdclip; nit 1 = 1 + no rejecting pass);
    "iraf" (n - 1) and ddof >= n leave the spread undefined: no pass, std NaN."""
    for rej, std in ((ref.SigClip(nkeep=0), 0.0), (ref.SigClip(stdfunc="mad", nkeep=0), 0.0),
                     (ref.CcdClip(rdnoise=5.0, nkeep=0), math.sqrt(25.0 + 7.0)),
                     (ref.SigClip(stdfunc="iraf", nkeep=0), math.nan), (ref.SigClip(ddof=1, nkeep=0), math.nan)):
        r = _one([7.0, np.nan, np.nan], rej)
        assert not r["mask"][0, 0]
        assert r["nit"][0] == 1, rej
        assert r["low"][0] == 7.0 and r["upp"][0] == 7.0, rej
        assert (np.isnan(r["std"][0]) and np.isnan(r["clip_low"][0])) if math.isnan(std) else \
            (math.isclose(r["std"][0], std) and r["clip_low"][0] <= 7.0 <= r["clip_upp"][0]), rej


def test_minmax_and_clippers_with_no_sample():
    """Nothing is evaluated for an empty element: nit is 1 for the rejectors that count
    like 0.1.1's sigclip/minmax/pclip, 0 for those that count evaluated passes."""
    for rej, nit in ((ref.MinMaxClip(1, 1), 1), (ref.SigClip(nkeep=0), 1), (ref.CcdClip(nkeep=0), 1),
                     (ref.PClip(), 1), (ref.LinearClip(low=1.0, nkeep=0), 0), (ref.AvSigClip(nkeep=0), 0)):
        r = _one([np.nan, np.nan, np.nan], rej)
        assert r["nit"][0] == nit and np.isnan(r["low"][0]) and np.isnan(r["upp"][0]), rej
        assert np.isnan(r["data"][0]) and not np.signbit(r["data"][0]), rej


# ---------------------------------------------------------------------------------------
# AvSigClip: one Poisson-scaled sigma per image line
# ---------------------------------------------------------------------------------------


def _line_stack(rng, n=12, shape=(6, 40), noise=(1.0, 3.0, 10.0, 30.0, 1.0, 100.0)):
    """Lines (last axis) with very different noise; the same +60 excursion in frame 0 at
    column 5 of every line, NaNs and an input mask."""
    x = np.empty((n,) + shape)
    lines = x.reshape(n, -1, shape[-1])
    noise = np.resize(np.asarray(noise), lines.shape[1])
    for k, sd in enumerate(noise):
        # a level that changes along the line, Poisson-like scaling of the noise
        level = 1000.0 + 200.0 * np.sin(np.arange(shape[-1]) / 5.0)
        lines[:, k, :] = level + sd * np.sqrt(level / 1000.0) * rng.standard_normal((n, shape[-1]))
    lines[0, :, 5] += 60.0
    x[rng.random(x.shape) < 0.03] = np.nan
    mask = rng.random(x.shape) < 0.05
    mask[:, ..., 7] = False
    mask[: n - 2, ..., 9] = True  # two samples left at column 9: such pixels do not count
    return x, mask, noise


@pytest.mark.parametrize("cen", ["median", "mean"])
@pytest.mark.parametrize("shape", [(6, 40), (2, 3, 25), (60,)])
def test_avsigclip_lines_with_different_noise(cen, shape, rng):
    x, mask, noise = _line_stack(rng, shape=shape)
    for rej in (ref.AvSigClip(sigma=3.0, cenfunc=cen, nkeep=1),
                ref.AvSigClip(sigma=(2.0, 2.5), cenfunc=cen, nkeep=-2),
                ref.AvSigClip(sigma=1.0, cenfunc=cen, nkeep=6)):
        for method in ("mean", "median"):
            got = h.run_pkg(x, mask, method=method, rejectors=[rej])
            tw = ref.combine(x, mask, method=method, rejectors=[rej])
            assert (~tw.fragile).mean() > 0.9
            h.compare_to_twin(got, tw, method=method,
                              parts=("data", "mask", "nused", "output_flags", "sample_flags",
                                     "nit", "std", "low", "upp"), err=f"{rej} {shape}")
    # independent of the twin: the std of a pixel whose first pass rejected nothing is
    # s * sqrt(max(1, c)) with s of its line
    rej = ref.AvSigClip(sigma=3.0, cenfunc=cen, nkeep=1)
    got = h.run_pkg(x, mask, rejectors=[rej])
    s, c, n, _ = _numpy_line_sigma_levels(h.excluded_nan(x, mask), cen)
    one = (got["nit"] == 1) & (got["nused"] == n)
    assert one.sum() > 0.5 * one.size
    want = (s[..., None] * np.sqrt(np.maximum(1.0, c)))
    h.assert_close(got["std"][one], want[one], rtol=1e-12, err="std = s sqrt(max(1, c))")
    assert (got["nit"][n < 3] == 0).all()  # fewer than 3 samples: never clipped
    if len(shape) >= 2:
        # the +60 excursion is rejected in the quiet lines and kept in the noisy ones
        lines = got["mask"][0].reshape(-1, shape[-1])[:, 5]
        quiet = np.resize(np.asarray(noise), lines.shape[0]) <= 3
        noisy = np.resize(np.asarray(noise), lines.shape[0]) >= 30
        assert lines[quiet].all() and not lines[noisy].any()


def _numpy_line_sigma_levels(v, cen, S=None, Z=None):
    """Independent vectorised s per line with per-frame Poisson levels.

    ``v``: normalised values with NaN where excluded.  Without S: L = max(1, c); with it
    L_i = max(1, (S_i c + Z_i) / S_i^2).  Returns (s per line, c, n, L).
    """
    n = np.isfinite(v).sum(axis=0)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = np.nanmedian(v, axis=0) if cen == "median" else np.nanmean(v, axis=0)
        if S is None:
            L = np.broadcast_to(np.maximum(1.0, c), v.shape)
        else:
            S1 = np.asarray(S, float).reshape((-1,) + (1,) * (v.ndim - 1))
            Z1 = np.asarray(Z, float).reshape(S1.shape)
            L = np.maximum(1.0, (S1 * c + Z1) / (S1 * S1))
        t = np.nansum((v - c) ** 2 / L, axis=0)
    ok = n >= 3
    acc = np.where(ok, t, 0.0).sum(axis=-1)
    cnt = np.where(ok, n, 0).sum(axis=-1)
    return np.sqrt(acc / (cnt - 1)), c, n, L


def _all_paths(x, mask, chain, **kw):
    """Fused one-call data, the two diagnostics modes and the chained Combiner must be the
    same bits; returns the "full" result."""
    fused = h.combiner_combine(x, mask, rejectors=chain, **kw)
    simple = h.combiner_combine(x, mask, rejectors=chain, diagnostics="simple", **kw)
    full = h.combiner_combine(x, mask, rejectors=chain, diagnostics="full", **kw)
    c = h.combiner_class()(x, mask)
    if kw.get("zero") is not None or kw.get("scale") is not None:
        c = c.zero_scale(zero=kw.get("zero"), scale=kw.get("scale"), relative=False)
    for r in chain:
        c = c.reject(h.pkg_rejector(r))
    chained = c.combine(kw.get("method", "mean"))
    for other, what in ((simple.data, "simple"), (full.data, "full"), (chained, "chained")):
        assert fused.tobytes() == np.asarray(other).tobytes(), f"fused vs {what}"
    assert np.array_equal(simple.mask, full.mask)
    return full


def test_avsigclip_after_another_rejector_same_on_every_path(rng):
    """design.md: an AvSigClip's line sigma comes from the samples the rejectors before it
    left, so the fused call, the diagnostics modes and the chained Combiner agree; the
    twin agrees, and s matches a NumPy estimate from the MinMaxClip survivors."""
    x, mask, _ = _line_stack(rng)
    chain = [ref.MinMaxClip(2, 2), ref.AvSigClip(sigma=2.0)]
    full = _all_paths(x, mask, chain)
    got = h.run_pkg(x, mask, method="mean", rejectors=chain)
    assert got["data"].tobytes() == full.data.tobytes()
    tw = ref.combine(x, mask, method="mean", rejectors=chain)
    assert (~tw.fragile).mean() > 0.9
    h.compare_to_twin(got, tw, parts=("data", "mask", "nused", "output_flags", "sample_flags",
                                      "nit", "std", "low", "upp"))
    # independent of the twin: s from the MinMaxClip survivors, not from all valid samples
    v = h.excluded_nan(x, mask)
    first = h.run_pkg(x, mask, rejectors=chain[:1], want={"mask"})["mask"]
    s_after, c, n, _ = _numpy_line_sigma_levels(np.where(first, np.nan, v), "median")
    s_all = _numpy_line_sigma_levels(v, "median")[0]
    assert (np.abs(s_after / s_all - 1) > 1e-3).all()  # the two readings differ
    one = (got["nit"] == 1) & (got["nused"] == n)
    assert one.mean() > 0.5
    want = s_after[..., None] * np.sqrt(np.maximum(1.0, c))
    h.assert_close(got["std"][one], want[one], rtol=1e-12, err="std from the survivors")


def test_avsigclip_after_a_grow_stage_matches_twin():
    """Samples grown by an earlier stage are gone before the AvSigClip's line sigma."""
    rng = np.random.default_rng(1)
    x = rng.normal(1000, 30, (15, 4, 50))
    x[rng.random(x.shape) < 0.05] += 300
    for chain in ([ref.MinMaxClip(2, 2, grow=1.0), ref.AvSigClip(sigma=2.0)],
                  [ref.SigClip(sigma=3.0, stdfunc="mad", grow=1.5), ref.MinMaxClip(1, 0),
                   ref.AvSigClip(sigma=(2.0, 2.5), cenfunc="mean", nkeep=-3)]):
        full = _all_paths(x, None, chain)
        got = h.run_pkg(x, None, rejectors=chain)
        assert got["data"].tobytes() == full.data.tobytes()
        tw = ref.combine(x, rejectors=chain)
        assert (~tw.fragile).mean() > 0.9
        assert (tw.sample_flags == ref.F_GROW).any()
        h.compare_to_twin(got, tw, parts=("data", "mask", "nused", "output_flags",
                                          "sample_flags", "nit", "std", "low", "upp"),
                          err=f"{chain}")


def _scaled_stack(rng, n=14, shape=(5, 30), cosmics=0.005):
    """Frames of one scene (level ~1000 in normalised units) taken with different scales
    and zeros: raw = S_i * v + Z_i with Poisson noise of the raw counts, so the noise of
    v in frame i is sqrt((S_i v + Z_i) / S_i^2).  A few cosmic rays."""
    S = np.resize([1.0, 0.25, 0.5, 2.0, 4.0, 1.3, 0.8], n)
    Z = np.resize([0.0, 50.0, -30.0, 200.0, 0.0, 10.0, -5.0], n)
    level = 1000.0 + 300.0 * np.sin(np.arange(shape[-1]) / 4.0)
    lev = np.broadcast_to(level, (n,) + shape)
    S1, Z1 = S.reshape(-1, 1, 1), Z.reshape(-1, 1, 1)
    v = lev + np.sqrt((S1 * lev + Z1) / S1**2) * rng.standard_normal((n,) + shape)
    hit = rng.random(v.shape) < cosmics
    v[hit] += rng.uniform(150, 600, hit.sum())
    raw = S1 * v + Z1
    mask = rng.random(raw.shape) < 0.04
    return raw, mask, S, Z


@pytest.mark.parametrize("cen", ["median", "mean"])
def test_avsigclip_sigscale_per_frame_poisson_level(cen, rng):
    """Scales differing beyond sigscale: each sample's Poisson level is its own frame's,
    L_i = max(1, (S_i c + Z_i) / S_i^2), in the line sigma and in its clipping sigma."""
    raw, mask, S, Z = _scaled_stack(rng)
    for rej in (ref.AvSigClip(sigma=3.0, cenfunc=cen, sigscale=0.1),
                ref.AvSigClip(sigma=(2.0, 2.5), cenfunc=cen, nkeep=-2, sigscale=0.5),
                ref.AvSigClip(sigma=1.5, cenfunc=cen, nkeep=8, sigscale=0.1)):
        got = h.run_pkg(raw, mask, zero=Z, scale=S, rejectors=[rej])
        tw = ref.combine(raw, mask, zero=Z, scale=S, rejectors=[rej])
        assert (~tw.fragile).mean() > 0.9
        h.compare_to_twin(got, tw, parts=("data", "mask", "nused", "output_flags",
                                          "sample_flags", "nit", "std", "low", "upp"),
                          err=f"{rej}")
    # the fused call equals the split paths with the correction on, after another rejector
    _all_paths(raw, mask, [ref.MinMaxClip(1, 1), ref.AvSigClip(sigma=2.5, cenfunc=cen)],
               zero=Z, scale=S)
    # independent of the twin: s with per-frame levels; std = s sqrt(max(1, c)) where the
    # first pass rejected nothing, which happens exactly when both end samples (lowest,
    # highest; they shield the samples inside them) are within 3 s sqrt(L_i) of c
    rej = ref.AvSigClip(sigma=3.0, cenfunc=cen, nkeep=0, sigscale=0.1)
    got = h.run_pkg(raw, mask, zero=Z, scale=S, rejectors=[rej])
    v = h.excluded_nan(raw, mask, zero=Z, scale=S)
    s, c, n, L = _numpy_line_sigma_levels(v, cen, S, Z)
    s_flat = _numpy_line_sigma_levels(v, cen)[0]
    assert (np.abs(s / s_flat - 1) > 0.05).all()  # the correction matters on this stack
    one = (got["nit"] == 1) & (got["nused"] == n)
    assert 0.2 < one.mean() < 1.0
    h.assert_close(got["std"][one], (s[..., None] * np.sqrt(np.maximum(1.0, c)))[one],
                   rtol=1e-12, err="std with per-frame levels")
    resid = np.abs(v - c) / (s[None, :, None] * np.sqrt(L))
    ends = [np.nanargmin(np.where(n >= 3, v, 0), axis=0), np.nanargmax(np.where(n >= 3, v, 0), axis=0)]
    out = np.zeros(n.shape, bool)
    for e in ends:
        out |= np.take_along_axis(resid, e[None], axis=0)[0] > 3.0
    clipped = (n >= 3) & (got["nit"] >= 1)
    assert np.array_equal(out[clipped], got["nit"][clipped] >= 2)


def test_avsigclip_sigscale_zero_disables_the_correction(rng):
    """sigscale = 0 (or scales within sigscale) uses L = max(1, c) for every sample, the
    same bits as without scales differing; the twin and a NumPy s agree."""
    raw, mask, S, Z = _scaled_stack(rng)
    off = ref.AvSigClip(sigma=2.5, sigscale=0.0)
    within = ref.AvSigClip(sigma=2.5, sigscale=10.0)  # every |S_i - 1| <= 3 < 10
    on = ref.AvSigClip(sigma=2.5, sigscale=0.1)
    res = {r.sigscale: h.run_pkg(raw, mask, zero=Z, scale=S, rejectors=[r]) for r in (off, within, on)}
    for k in res[0.0]:
        assert np.asarray(res[0.0][k]).tobytes() == np.asarray(res[10.0][k]).tobytes(), k
    assert (res[0.0]["mask"] != res[0.1]["mask"]).sum() >= 5  # the switch changes decisions
    tw = ref.combine(raw, mask, zero=Z, scale=S, rejectors=[off])
    h.compare_to_twin(res[0.0], tw, parts=("data", "mask", "nused", "sample_flags", "nit",
                                           "std", "low", "upp"))
    v = h.excluded_nan(raw, mask, zero=Z, scale=S)
    s, c, n, _ = _numpy_line_sigma_levels(v, "median")
    one = (res[0.0]["nit"] == 1) & (res[0.0]["nused"] == n)
    h.assert_close(res[0.0]["std"][one], (s[..., None] * np.sqrt(np.maximum(1.0, c)))[one],
                   rtol=1e-12, err="std without correction")
