"""Behaviour kept from imcombiners 0.1.1 (issue 16: no silent changes).

Each test pins one item of the upgrade list on small data of its own. Where 0.1.1's
numbers are the point, they were observed by running the published imcombiners 0.1.1 as a
black box (``bash benchmarks/setup_peers.sh`` builds it in a separate venv); they are
written here as literals so the tests do not depend on that venv, and each is also checked
against a formula written out in the test where one exists.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck
from imcombiners import OutputFlags, SampleFlags


def col(values, dtype=np.float64) -> np.ndarray:
    """One output element: an ``(N, 1)`` stack."""
    return np.asarray(values, dtype=dtype).reshape(-1, 1)


def quiet(fn, *a, **kw):
    """Call a deprecated spelling without letting its warning escape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*a, **kw)


def first(a):
    return None if a is None else np.asarray(a).reshape(-1)[0]


# --------------------------------------------------------------------------- 1. spread


TEN = [0.0, 1, 2, 3, 4, 5, 6, 7, 8, 30]


def test_sigclip_std_is_measured_about_the_clipping_centre():
    """Median centre 4.5: about it the spread is sqrt(71.25) = 8.441 and 30 (25.5 away) is
    within 3.1 sigma; about the mean (the NumPy std, 8.176) it would be rejected."""
    mask, std, low, upp, nit, flags = imck.sigclip(col(TEN), sigma=3.1, maxiters=1, nkeep=0)
    assert not mask.any()
    assert math.isclose(first(std), math.sqrt(sum((v - 4.5) ** 2 for v in TEN) / 10), rel_tol=1e-12)
    # imcombiners 0.1.1: std 8.440971508067067, low 0, upp 30, nit 1, flags 0
    assert math.isclose(first(std), 8.440971508067067, rel_tol=1e-12)
    assert (first(low), first(upp), first(nit), first(flags)) == (0.0, 30.0, 1, 0)


def test_spread_centre_mean_is_the_numpy_std():
    """spread_centre="mean" (0.1.1: clip_cen="mean") measures the spread about the mean."""
    mask, std, low, upp, nit, flags = imck.sigclip(col(TEN), sigma=3.1, maxiters=1, nkeep=0, spread_centre="mean")
    assert mask[:, 0].tolist() == [False] * 9 + [True]
    assert math.isclose(first(std), float(np.std(TEN)), rel_tol=1e-12)
    # imcombiners 0.1.1 with clip_cen="mean": std 8.175573374387879, low 0, upp 8, nit 2, MAXITERS
    assert math.isclose(first(std), 8.175573374387879, rel_tol=1e-12)
    assert (first(low), first(upp), first(nit), first(flags)) == (0.0, 8.0, 2, OutputFlags.MAXITERS)


def test_sigclip_ddof_applies_to_the_spread_about_the_centre():
    std = first(imck.sigclip(col(TEN), sigma=3.1, maxiters=1, nkeep=0, ddof=1)[1])
    assert math.isclose(std, math.sqrt(sum((v - 4.5) ** 2 for v in TEN) / 9), rel_tol=1e-12)
    assert math.isclose(std, 8.897565210026093, rel_tol=1e-12)  # imcombiners 0.1.1


def test_iraf_spread_is_the_std_about_the_centre_with_ddof_1():
    """docs/design.md: IRAF's sigclip sigma is sqrt(sum((x - c)**2) / (n - 1)) about the
    clipping centre (iraf.md 6.2), i.e. stdfunc="std" with ddof=1."""
    x = np.random.default_rng(3).normal(100, 5, (11, 6, 7))
    x[4, 2, 2] = 160
    a = imck.sigclip(x, sigma=2.0, stdfunc="iraf")
    b = imck.sigclip(x, sigma=2.0, ddof=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-13)


@pytest.mark.parametrize("cenfunc", ["mean", "lmedian"])
def test_other_centres_iterate_like_011(cenfunc):
    mask, std, low, upp, nit, flags = imck.sigclip(col(TEN), sigma=2.5 if cenfunc == "mean" else 2.0,
                                                    maxiters=5, nkeep=0, cenfunc=cenfunc)
    # imcombiners 0.1.1 (both centres): 30 rejected, std 2.581988897471611, low 0, upp 8, nit 2
    assert mask[:, 0].tolist() == [False] * 9 + [True]
    assert math.isclose(first(std), 2.581988897471611, rel_tol=1e-12)
    assert (first(low), first(upp), first(nit), first(flags)) == (0.0, 8.0, 2, 0)


def test_four_sample_masks_follow_011():
    """A 4-sample element where the spread's centre decides: about the median (0.1.1)
    only 26.6 goes; about the mean 0.7 goes too."""
    x = np.array([[0.7, 26.6, 13.9, 9.0], [9.0, 13.9, 0.7, 26.6]]).T.reshape(4, 1, 2)
    mask, std, *_ = imck.sigclip(x, sigma=1.5, maxiters=5, nkeep=0)
    # imcombiners 0.1.1: masks [F, T, F, F] and [F, F, F, T]; std 5.564770136013407
    assert mask[:, 0, 0].tolist() == [False, True, False, False]
    assert mask[:, 0, 1].tolist() == [False, False, False, True]
    np.testing.assert_allclose(std.ravel(), 5.564770136013407, rtol=1e-12)
    about_mean = imck.sigclip(x, sigma=1.5, maxiters=5, nkeep=0, spread_centre="mean")[0]
    assert about_mean[:, 0, 0].tolist() == [True, True, False, False]
    out = imc.Combiner(x).combine("mean", rejectors=imc.SigClip(sigma=1.5, nkeep=0))
    np.testing.assert_allclose(out.ravel(), [(0.7 + 13.9 + 9.0) / 3] * 2, rtol=1e-12)


def test_mad_about_the_spread_centre_with_ddof_correction():
    c = [3.0, 9, 10, 10, 11, 12, 25]
    mask, std, low, upp, nit, _ = imck.sigclip(col(c), sigma=1.5, maxiters=5, nkeep=0, cenfunc="mean", stdfunc="mad")
    # imcombiners 0.1.1: mask [T, T, F, F, F, T, T], std 0.4942, low 10, upp 11, nit 3. Its MAD
    # factor is 1.4826; ours is astropy's 1.482602218505602 (1.5e-6 relative, documented).
    assert mask[:, 0].tolist() == [True, True, False, False, False, True, True]
    assert math.isclose(first(std), 0.4942, rel_tol=2e-6)
    assert (first(low), first(upp), first(nit)) == (10.0, 11.0, 3)
    _, std1, *_ = imck.sigclip(col(c), sigma=1.5, maxiters=1, nkeep=0, stdfunc="mad", ddof=1)
    mad = 1.482602218505602 * float(np.median(np.abs(np.array(c) - 10.0)))
    assert math.isclose(first(std1), mad * math.sqrt(7 / 6), rel_tol=1e-12)
    assert math.isclose(first(std1), 1.6013910265765823, rel_tol=2e-6)  # imcombiners 0.1.1


def test_ccdclip_noise_at_the_spread_centre():
    """CcdClip(spread_centre=...) (0.1.1 clip_cen) evaluates the noise model there."""
    c = [3.0, 9, 10, 10, 11, 12, 25]
    mask, std, *_ = imck.ccdclip(col(c), sigma=1.0, maxiters=1, nkeep=0, rdnoise=1.0, spread_centre="mean")
    assert math.isclose(first(std), math.sqrt(1.0 + np.mean(c)), rel_tol=1e-12)
    assert math.isclose(first(std), 3.525417908358019, rel_tol=1e-12)  # imcombiners 0.1.1 (gain 1)
    assert mask[:, 0].tolist() == [True, False, False, False, False, False, True]
    std = first(imck.ccdclip(col(c), sigma=1.0, maxiters=1, nkeep=0, rdnoise=1.0)[1])
    assert math.isclose(std, math.sqrt(1.0 + 10.0), rel_tol=1e-12)  # the median centre


def test_ccdclip_gain_model_is_irafs():
    """Kept on purpose: 0.1.1 divided by the gain (IRAF multiplies; iraf.md 6.4). Median
    1000, rdnoise 5 e-, gain 2 e-/ADU: sigma = sqrt((5/2)**2 + 1000/2) = 22.5 ADU."""
    v = [998.0, 999, 1000, 1000, 1001, 1002, 1060]
    mask, std, *_ = imck.ccdclip(col(v), sigma=2.0, rdnoise=5.0, gain=2.0, nkeep=0)
    assert math.isclose(first(std), 22.5, rel_tol=1e-12)
    assert mask[:, 0].tolist() == [False] * 6 + [True]


def test_lone_sample_reports_a_zero_spread():
    mask, std, low, upp, nit, _ = imck.sigclip(col([7.0, np.nan, np.nan]))
    assert not mask[0, 0] and first(std) == 0.0 and (first(low), first(upp), first(nit)) == (7.0, 7.0, 1)
    assert np.isnan(first(imck.sigclip(col([7.0, np.nan, np.nan]), ddof=1)[1]))  # n <= ddof
    assert math.isclose(first(imck.ccdclip(col([7.0, np.nan, np.nan]), rdnoise=1.0)[1]), math.sqrt(8.0))


def test_combiner_sigclip_matches_011_on_a_stack():
    rng = np.random.default_rng(11)
    s = rng.normal(200, 4, (7, 3, 4))
    s[0, 1, 2] = 232
    s[3, 2, 0] = 175
    out = imc.Combiner(s).combine("mean", rejectors=imc.SigClip(sigma=2.0))
    # imcombiners 0.1.1, Combiner(s).combine("mean", rejectors=SigClip(sigma=2.0))
    want = [200.90573124634295, 201.21525305180012, 201.35851917978692, 200.30911088851738,
            199.3019327751938, 199.97876955342858, 203.21231739702765, 198.61778143242555,
            199.48846419450172, 198.5847122777123, 199.42942661205743, 200.3306305823335]
    np.testing.assert_allclose(out.ravel(), want, rtol=1e-12)


# --------------------------------------------------------------------------- 2. zero + scale


PLANES = np.stack([np.full((2, 3), 10.0), np.full((2, 3), 20.0), np.full((2, 3), 40.0)])


def test_zero_and_scale_together_follow_iraf():
    """IRAF (icscale.x): S_i /= S_1, Z_i /= S_i, Z_i -= Z_1, v' = v/S_i - Z_i, i.e.
    v' = (v - z_i) * s_1/s_i + z_1: planes 10/20/40 with zero = scale-matched levels all
    land on 10. 0.1.1 gave 5.8333 (mean((x - (z_i - z_0)) / (s_i / s_0))): documented."""
    out = imc.ndcombine(PLANES, combine="mean", zero=[10, 20, 40], scale=[1, 2, 4])
    np.testing.assert_allclose(out, 10.0, rtol=1e-15)


def test_011_rebasing_with_the_deprecated_flags():
    with pytest.warns(DeprecationWarning, match="relative="):
        out = imc.ndcombine(PLANES, combine="mean", zero=[10, 20, 40], scale=[1, 2, 4],
                            zero_to_0th=True, scale_to_0th=True)
    np.testing.assert_allclose(out, np.mean([10 / 1, (20 - 10) / 2, (40 - 30) / 4]), rtol=1e-15)
    np.testing.assert_allclose(out, 5.833333333333333, rtol=1e-15)  # imcombiners 0.1.1


def test_zero_scale_vectors_on_random_frames():
    rng = np.random.default_rng(11)
    rng.normal(200, 4, (7, 3, 4))  # the draws of the test above come first
    z = rng.normal(1000, 30, (4, 5, 6))
    zero, scale = np.array([5.0, -3.0, 12.0, 0.5]), np.array([1.0, 1.1, 0.9, 1.3])
    # the 0.1.1 result, from its formula and as observed
    legacy = np.mean((z - (zero - zero[0])[:, None, None]) / (scale / scale[0])[:, None, None], axis=0)
    got = quiet(imc.ndcombine, z, combine="mean", zero=zero.tolist(), scale=scale.tolist(),
                zero_to_0th=True, scale_to_0th=True)
    np.testing.assert_allclose(got, legacy, rtol=1e-13)
    np.testing.assert_allclose(got.ravel()[:6], [951.9775425061945, 925.9943170346952, 954.3679231754168,
                                                 952.0244542229905, 925.4402544226748, 956.679201002221], rtol=1e-12)
    # IRAF's normalisation (the default)
    iraf = np.mean((z - zero[:, None, None]) * (scale[0] / scale)[:, None, None] + zero[0], axis=0)
    np.testing.assert_allclose(imc.ndcombine(z, combine="mean", zero=zero, scale=scale), iraf, rtol=1e-13)
    # literal vectors (0.1.1's zero_to_0th=False, scale_to_0th=False = relative=False)
    plain = np.mean((z - zero[:, None, None]) / scale[:, None, None], axis=0)
    np.testing.assert_allclose(imc.ndcombine(z, combine="mean", zero=zero, scale=scale, relative=False), plain, rtol=1e-13)
    np.testing.assert_allclose(plain.ravel()[:3], [947.2407515194036, 921.2575260479043, 949.6311321886258], rtol=1e-12)
    # zero alone (or scale alone) was never different
    np.testing.assert_allclose(imc.ndcombine(z, combine="mean", zero=zero).ravel()[:3],
                               [1005.944059845099, 978.5229773496085, 1007.5635094529317], rtol=1e-12)
    # statistics: 0.1.1 numbers with its flags (median zero, mean scale, median combine)
    got = quiet(imc.Combiner(z).combine, "median", zero="median", scale="mean", zero_to_0th=True, scale_to_0th=True)
    np.testing.assert_allclose(got.ravel()[:4], [1008.2984958182403, 977.9627770495588, 998.642083582765,
                                                 994.0850512752589], rtol=1e-12)


def test_011_sigma_clipped_statistics():
    rng = np.random.default_rng(11)
    rng.normal(200, 4, (7, 3, 4))
    z = rng.normal(1000, 30, (4, 5, 6))
    got = quiet(imc.Combiner(z).combine, "mean", scale="mean_sc")
    np.testing.assert_allclose(got.ravel()[:4], [1006.9490579486974, 979.4820261212491, 1008.5584051746694,
                                                 1008.105017447019], rtol=1e-12)  # imcombiners 0.1.1
    got = quiet(imc.Combiner(z).combine, "mean", zero="sigclip_median", zero_sigclip_kwargs={"sigma": 2.0, "maxiters": 3})
    np.testing.assert_allclose(got.ravel()[:4], [1004.4877334699511, 977.0666509744607, 1006.1071830777839,
                                                 1005.5954434336395], rtol=1e-12)  # imcombiners 0.1.1
    got = quiet(imc.resolve_zero_scale, "scale", "median", z, nonzero=True, to_0th=True)
    assert got.shape == (4, 1, 1)
    np.testing.assert_allclose(got.ravel(), [1.0, 0.9935825777273551, 1.0057186751282634, 0.9969718321321909], rtol=1e-12)
    assert quiet(imc.resolve_zero_scale, "zero", 3.0, z).shape == (1, 1, 1)


# --------------------------------------------------------------------------- 3. variance


def test_variance_default_ddof_is_1():
    v = np.array([1.0, 2, 3, 4]).reshape(4, 1, 1)
    assert math.isclose(first(imc.Combiner(v).variance()), 5 / 3, rel_tol=1e-15)  # 0.1.1: 1.6667
    assert math.isclose(first(imc.Combiner(v).variance(ddof=0)), 1.25, rel_tol=1e-15)
    assert math.isclose(first(imc.Combiner(v).combine("variance")), 1.25, rel_tol=1e-15)  # ddof 0 there
    z = np.random.default_rng(5).normal(0, 3, (6, 4, 5))
    np.testing.assert_allclose(imc.Combiner(z).variance(), np.var(z, axis=0, ddof=1), rtol=1e-12)
    with pytest.warns(DeprecationWarning, match="return_mean"):
        var, mean = imc.Combiner(z).variance(return_mean=True)
    np.testing.assert_allclose(var, np.var(z, axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(mean, z.mean(axis=0), rtol=1e-12)


# --------------------------------------------------------------------------- 4. low / upp

Q = [1000.0, 1002, 1004, 1005, 1006, 1008, 1010, 1012, 950]


@pytest.mark.parametrize("kind, params, want", [
    # imcombiners 0.1.1's (mask_rej, low, upp, nit) on the same 9 samples
    ("pclip", {"frac": 0.25}, ([1, 1, 0, 0, 0, 1, 1, 1, 1], 1004.0, 1006.0, 1)),
    ("sigclip", {"sigma": 2}, ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1000.0, 1012.0, 2)),
    ("ccdclip", {"sigma": 2, "rdnoise": 2}, ([0] * 9, 950.0, 1012.0, 1)),
    ("minmax", {}, ([0, 0, 0, 0, 0, 0, 0, 1, 1], 1000.0, 1010.0, 1)),
    ("linearclip", {"low_scale": 0.99, "upp_scale": 1.005}, ([0, 0, 0, 0, 0, 0, 0, 1, 1], 994.95, 1010.025, 1)),
])
def test_low_upp_are_the_retained_extremes(kind, params, want):
    """low/upp are the smallest/largest kept samples (LinearClip: its bounds, as in 0.1.1)."""
    mask, std, low, upp, nit, flags = getattr(imck, kind)(col(Q), **params)
    w_mask, w_low, w_upp, w_nit = want
    assert mask[:, 0].astype(int).tolist() == w_mask
    assert math.isclose(first(low), w_low, rel_tol=1e-12) and math.isclose(first(upp), w_upp, rel_tol=1e-12)
    assert first(nit) == w_nit
    if kind != "linearclip":
        kept = np.array(Q)[~mask[:, 0]]
        assert (first(low), first(upp)) == (kept.min(), kept.max())


def test_clipping_bounds_under_their_new_names():
    x = np.array(Q).reshape(-1, 1, 1)
    res = imc.Combiner(x).combine("mean", rejectors=imc.SigClip(sigma=2), diagnostics="simple")
    assert (first(res.low), first(res.upp)) == (1000.0, 1012.0)
    # the last pass: the median of the 8 kept (1005.5) -/+ 2 std about it (ddof 0)
    kept = np.array(Q[:8])
    c = float(np.median(kept))
    s = math.sqrt(np.sum((kept - c) ** 2) / 8)
    assert math.isclose(first(res.clip_low), c - 2 * s, rel_tol=1e-12)
    assert math.isclose(first(res.clip_upp), c + 2 * s, rel_tol=1e-12)
    step = imc.Combiner(x).reject(imc.PClip(frac=0.25)).history[-1]
    assert (first(step.low), first(step.upp)) == (1004.0, 1006.0)
    assert first(step.clip_low) < 1004.0 and first(step.clip_upp) > 1006.0


def test_pclip_retained_extremes_on_fifteen_samples():
    r = col(np.arange(1000.0, 1015.0))
    mask, _, low, upp, nit, _ = imck.pclip(r, frac=-0.5, sigma=1.5)
    # imcombiners 0.1.1: the three lowest and three highest go; low 1003, upp 1011
    assert mask[:, 0].astype(int).tolist() == [1, 1, 1] + [0] * 9 + [1, 1, 1]
    assert (first(low), first(upp), first(nit)) == (1003.0, 1011.0, 1)


# --------------------------------------------------------------------------- 5. LinearClip()


def test_default_linearclip_is_a_no_op():
    mask, std, low, upp, nit, flags = imck.linearclip(col(Q))
    # imcombiners 0.1.1: nothing rejected, std None, low/upp NaN, nit 0, flags 0
    assert not mask.any() and std is None
    assert np.isnan(first(low)) and np.isnan(first(upp)) and first(nit) == 0 and first(flags) == 0
    out = imc.Combiner(np.array(Q).reshape(-1, 1, 1)).combine("mean", rejectors=imc.LinearClip())
    assert math.isclose(first(out), np.mean(Q), rel_tol=1e-15)  # 0.1.1: 999.6666666666666
    # any non-default bound makes it clip
    assert imck.linearclip(col(Q), upp=1.0)[0].any()


# --------------------------------------------------------------------------- 6. flags and nit

X5 = [1.0, 2, 3, 4, 100]


@pytest.mark.parametrize("params, flags, oflag", [
    # imcombiners 0.1.1: the undone pass proposed 1 and 4 (and 100 was rejected before)
    ({"nkeep": 3}, [64, 0, 0, 64, 8], OutputFlags.NKEEP),
    ({"nkeep": 0, "maxrej": 1}, [128, 0, 0, 128, 8], OutputFlags.MAXREJ),
    ({"nkeep": 4, "maxrej": 1}, [192, 0, 0, 192, 8], OutputFlags.NKEEP | OutputFlags.MAXREJ),
])
def test_restored_sample_flags(params, flags, oflag):
    assert SampleFlags.RESTORED_NKEEP == 64 and SampleFlags.RESTORED_MAXREJ == 128
    cmb = imc.Combiner(np.array(X5).reshape(-1, 1, 1)).reject(imc.SigClip(sigma=0.5, **params), diagnostics="full")
    step = cmb.history[-1]
    assert step.sample_flags.ravel().tolist() == flags
    assert first(step.nit) == 2 and first(step.output_flags) == oflag
    # restored samples are used
    assert step.mask.ravel().tolist() == [False] * 4 + [True]
    assert first(cmb.combine("mean")) == 2.5


def test_restored_flags_in_a_combine_and_with_previous_steps():
    x = np.array(X5).reshape(-1, 1, 1)
    m = np.zeros(x.shape, bool)
    m[0] = True
    res = imc.ndcombine(x, m, thresholds=(0, 50), reject="sigclip", sigma=0.3, nkeep=3, diagnostics="full")
    # imcombiners 0.1.1: sample_flags [1, 64, 0, 64, 4]
    assert res.sample_flags.ravel().tolist() == [1, 64, 0, 64, 4]
    cmb = imc.Combiner(x, m).threshold(0, 50).reject(imc.SigClip(sigma=0.3, nkeep=3), diagnostics="full")
    # chained, exclusions of earlier steps are PREVIOUS; the user's own mask stays INPUT_MASK
    # (0.1.1 gave [32, 64, 0, 64, 32]: documented in docs/migrating-from-0.1.md)
    assert cmb.sample_flags.ravel().tolist() == [1, 64, 0, 64, 32]


@pytest.mark.parametrize("maxiters, nit, flags", [(0, 1, 2), (1, 2, 2), (2, 2, 0), (5, 2, 0)])
def test_sigclip_nit_counts_like_011(maxiters, nit, flags):
    """nit = 1 + the passes that rejected and were kept; MAXITERS when maxiters = 0 or the
    last allowed pass still rejected (imcombiners 0.1.1, measured)."""
    *_, got_nit, got_flags = imck.sigclip(col(X5), sigma=1.5, maxiters=maxiters, nkeep=0)
    assert (first(got_nit), first(got_flags)) == (nit, flags)


@pytest.mark.parametrize("maxiters, kept, low, upp, nit, flags", [
    (0, list(range(1, 11)), math.nan, math.nan, 0, 0),
    (1, [5, 6, 7], 4.95, 7.15, 1, 0),           # a single pass never sets MAXITERS
    (2, [6, 7], 5.4, 7.8, 2, OutputFlags.MAXITERS),
    (3, [6, 7], 5.85, 8.45, 3, 0),
])
def test_linearclip_passes_like_011(maxiters, kept, low, upp, nit, flags):
    y = np.arange(1.0, 11.0)
    mask, std, g_low, g_upp, g_nit, g_flags = imck.linearclip(col(y), low_scale=0.9, upp_scale=1.3, maxiters=maxiters,
                                                              nkeep=0, cenfunc="mean")
    assert y[~mask[:, 0]].tolist() == kept
    if math.isnan(low):
        assert np.isnan(first(g_low)) and np.isnan(first(g_upp))
    else:
        assert math.isclose(first(g_low), low, rel_tol=1e-12) and math.isclose(first(g_upp), upp, rel_tol=1e-12)
    assert (first(g_nit), first(g_flags)) == (nit, flags)


def test_linearclip_first_pass_undone_by_nkeep():
    y = np.arange(1.0, 11.0)
    mask, _, low, upp, nit, flags = imck.linearclip(col(y), low_scale=0.9, upp_scale=1.3, maxiters=5, nkeep=4, cenfunc="mean")
    # imcombiners 0.1.1: nothing rejected, low/upp NaN, nit 1, NKEEP; 7 samples flagged restored
    assert not mask.any() and np.isnan(first(low)) and (first(nit), first(flags)) == (1, OutputFlags.NKEEP)
    cmb = imc.Combiner(y.reshape(-1, 1, 1)).reject(imc.LinearClip(low_scale=0.9, upp_scale=1.3, maxiters=5, nkeep=4,
                                                                  cenfunc="mean"), diagnostics="full")
    assert cmb.sample_flags.ravel().tolist() == [64, 64, 64, 64, 0, 0, 0, 64, 64, 64]


def test_ccdclip_nkeep_keeps_everything():
    mask, std, low, upp, nit, flags = imck.ccdclip(col(X5), sigma=0.1, nkeep=4)
    # imcombiners 0.1.1: std sqrt(3) (the median), low 1, upp 100, nit 1, NKEEP
    assert not mask.any() and math.isclose(first(std), math.sqrt(3.0), rel_tol=1e-12)
    assert (first(low), first(upp), first(nit), first(flags)) == (1.0, 100.0, 1, OutputFlags.NKEEP)


def test_sample_flags_carry_every_cause():
    """A masked sample outside the thresholds is INPUT_MASK | THRESHOLD (0.1.1: 5)."""
    x = np.array([399.5, 503.3, 501.6, 486.4, 572.6]).reshape(-1, 1)
    m = np.zeros(x.shape, bool)
    m[0] = True
    res = imc.ndcombine(x, m, thresholds=(400, 700), diagnostics="full")
    assert res.sample_flags[:, 0].tolist() == [5, 0, 0, 0, 0]
    y = np.array([1.0, np.inf, np.nan, 3.0]).reshape(-1, 1)
    res = imc.ndcombine(y, thresholds=(0, 10), diagnostics="full")
    assert res.sample_flags[:, 0].tolist() == [0, 2 | 4, 2, 0]


# --------------------------------------------------------------------------- 7. dtypes


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
@pytest.mark.parametrize("method", ["mean", "median", "sum", "variance"])
def test_small_integer_results_are_float32(dtype, method):
    """Kept (seed README dtype policy): 0.1.1's pure ndcombine path returned float64."""
    u = (np.arange(24).reshape(4, 2, 3) * 7 % 97).astype(dtype)
    for out in (imc.ndcombine(u, combine=method), imc.Combiner(u).combine(method)):
        assert out.dtype == np.float32
    ref = {"mean": np.mean, "median": np.median, "sum": np.sum, "variance": np.var}[method](u.astype(np.float64), axis=0)
    np.testing.assert_allclose(imc.ndcombine(u, combine=method), ref, rtol=1e-6)


def test_int32_results_are_float64_and_order_statistics_keep_the_dtype():
    u = (np.arange(24).reshape(4, 2, 3) * 100).astype(np.uint16)
    for method in ("lmedian", "min", "max"):
        assert imc.ndcombine(u, combine=method).dtype == np.uint16
    assert imc.ndcombine(u.astype(np.int32), combine="mean").dtype == np.float64


# --------------------------------------------------------------------------- place_into_padded


def test_extreme_offsets_raise_instead_of_dropping_a_frame():
    a = np.ones((2, 3), np.float32)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    for offsets in ([[big, 0], [small, 0]], [[0, big], [0, 0]], [[big, 0], [0, 0]]):
        with pytest.raises(OverflowError, match="offsets"):
            imc.place_into_padded([a, a], np.array(offsets, dtype=np.int64))
        with pytest.raises(ValueError):  # 0.1.1 raised ValueError: both catch it
            imc.place_into_padded([a, a], np.array(offsets, dtype=np.int64))
    out = imc.place_into_padded([a, a], np.array([[big - 1, 0], [big, 1]], dtype=np.int64))
    assert out.shape == (2, 3, 4) and np.isfinite(out[0, :2, :3]).all() and np.isfinite(out[1, 1:, 1:]).all()
