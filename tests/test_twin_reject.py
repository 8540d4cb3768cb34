"""Every library rejector of the package against the twin (tests/reference.py).

Masks, sample/output flags and used counts must be identical and the data close on
every element where the twin's decisions were not within rounding of a tie
(``TwinResult.fragile``).  Rejection diagnostics (std, low, upp, nit) are compared in
separate tests so a diagnostics-only difference does not hide a mask difference.
SigClip is also checked directly against astropy.stats.sigma_clip and MinMaxClip against
a NumPy sort, independently of the twin.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import helpers as h
import reference as ref
import strategies as sts

h.require_package()

REJECTORS = {
    "sigclip": sts.sigclips,
    "ccdclip": sts.ccdclips,
    "linearclip": sts.linearclips,
    "minmax": sts.minmaxclips,
    "pclip": sts.pclips,
}
FINAL = st.sampled_from(["mean", "median", "mean", "lmedian", "sum", "variance"])


def _run_both(case, rejectors, method, thresholds=None, zero=None, scale=None):
    got = h.run_pkg(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                    scale=scale, rejectors=rejectors)
    tw = ref.combine(case.data, case.mask, method=method, thresholds=thresholds, zero=zero,
                     scale=scale, rejectors=rejectors)
    return got, tw


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
    import imcombiners._rejectors as pr

    if getattr(pr, type(rej).__name__).has_spread:
        parts.append("std")
    h.compare_to_twin(got, tw, parts=parts, err=f"{rej}")


@given(case=sts.stacks(budget=1500), chain=st.lists(sts.any_rejector(grow=True), min_size=1, max_size=3),
       method=FINAL, data=st.data())
def test_chain_with_grow_matches_twin(case, chain, method, data):
    """Rejectors in turn (each sees the survivors of the previous), grow between stages."""
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    got, tw = _run_both(case, chain, method, thresholds)
    h.compare_to_twin(got, tw, method=method, err=f"{chain}")


# ---------------------------------------------------------------------------------------
# Independent of the twin
# ---------------------------------------------------------------------------------------


@given(case=sts.stacks(dtypes=("float64", "int32", "float32", "uint16"), max_n=120, budget=1500),
       cen=st.sampled_from(["mean", "median"]), std=st.sampled_from(["std", "mad"]),
       sigma=sts.sigma_pairs, maxiters=st.integers(1, 8))
def test_sigclip_matches_astropy(case, cen, std, sigma, maxiters):
    """SigClip(nkeep=0, no maxrej) == astropy sigma_clip (generic, accumulating path)."""
    from astropy.stats import mad_std, sigma_clip

    lo, hi = ref._pair(sigma)
    r = ref.SigClip(sigma=sigma, maxiters=maxiters, cenfunc=cen, stdfunc=std, nkeep=0)
    got = h.run_pkg(case.data, case.mask, rejectors=[r], want={"mask", "low", "upp", "nit", "nused"})
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
    h.assert_close(got["low"][ev], np.broadcast_to(blo, ev.shape)[ev], rtol=rtol, atol=rtol * mag[ev], err="low")
    h.assert_close(got["upp"][ev], np.broadcast_to(bhi, ev.shape)[ev], rtol=rtol, atol=rtol * mag[ev], err="upp")


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
        want[rest[np.lexsort((rest, -col[rest]))][:k_hi], e] = True
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
    r = _one([0.0, 10.0, 10.1, 100.0], ref.SigClip(sigma=1.0, stdfunc="iraf", nkeep=0, maxiters=2))
    assert r["nit"][0] == 2 and r["output_flags"][0] == ref.O_MAXITERS


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
    assert r["mask"][:, 0].tolist() == [True, True, False, False]
    r = _one([1.0, 9.0, 9.0, 3.0], ref.MinMaxClip(0, 1))
    assert r["mask"][:, 0].tolist() == [False, True, False, False]
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


def test_minmax_high_side_ties_reject_first_frames():
    """design.md: "first frame wins the high side" (the earliest of equal maxima goes)."""
    r = _one([5.0, 1.0, 5.0, 1.0, 5.0], ref.MinMaxClip(0, 2))
    assert r["mask"][:, 0].tolist() == [True, False, True, False, False]
    r = _one([101.0, 105.0, 100.0, 96.0, 105.0], ref.MinMaxClip(0, 1))
    assert r["mask"][:, 0].tolist() == [False, True, False, False, False]


def test_linearclip_empty_keep_range_rejects_everything():
    """With c < 0, low_scale*c - low > upp_scale*c + upp: no value can be kept."""
    x = [-10.0, -20.0, -30.0, -40.0, -15.0]  # mean -23: keep -11.5 <= x <= -23
    r = _one(x, ref.LinearClip(low_scale=0.5, nkeep=0))
    assert r["mask"].all() and np.isnan(r["data"][0])
    r = _one([-477.0], ref.LinearClip(low_scale=0.5, upp_scale=1.01, nkeep=0))
    assert r["mask"].all()


def test_ccdclip_per_image_noise_is_per_sample():
    """design.md: CcdClip is SigClip with sigma_i per sample: every sample is tested
    against its own bound; a kept sample with a large sigma must not shield a sample
    with a small sigma next to it in value order."""
    S = np.array([1, 1, 1, 1, 1, 0.25, 4.0])
    xn = np.array([1000.0, 1001, 999, 1000, 1002, 900, 920])  # normalised values
    raw = (xn * S)[:, None]  # value' = raw / S (zero 0)
    rej = ref.CcdClip(sigma=3.0, rdnoise=0.0, gain=1.0, sigscale=0.1, nkeep=0, maxiters=1)
    # frame 5: sigma = sqrt(250)/0.25 = 63.2 -> keeps 900 (bound 810.3);
    # frame 6: sigma = sqrt(4000)/4 = 15.8 -> rejects 920 (bound 952.6)
    tw = ref.combine(raw, scale=S, rejectors=[rej])
    assert tw.mask[:, 0].tolist() == [False] * 6 + [True]
    r = h.run_pkg(raw, scale=S, rejectors=[rej])
    assert r["mask"][:, 0].tolist() == [False] * 6 + [True]


def test_single_sample_is_not_a_clipping_pass():
    """design.md: nothing is clipped when n < 2 (s undefined): no pass is evaluated."""
    for rej in (ref.SigClip(nkeep=0), ref.SigClip(stdfunc="mad", nkeep=0),
                ref.CcdClip(rdnoise=5.0, nkeep=0)):
        r = _one([7.0, np.nan, np.nan], rej)
        assert not r["mask"][0, 0]
        assert r["nit"][0] == 0, rej
        assert np.isnan(r["std"][0]) and np.isnan(r["low"][0]) and np.isnan(r["upp"][0]), rej
