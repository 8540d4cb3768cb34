"""The rejectors beyond IRAF (WinsorizedSigClip, GESDClip, LinearFitClip) on worked
examples with published or hand-derived answers, in every entry point (Combiner, chained
steps, kernels, ndcombine, the CLI, the Dask engine) and with their parameter checks.

The element-by-element comparison with the slow twin is in test_twin_reject.py; the
kernel-level checks of the exact winsorized sigma and the t quantiles are Rust unit tests
(crates/imc-core/src/reject/{winsorized,tdist,gesd}.rs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck
from tests.helpers import reference as ref
from tests.helpers import twin as h

h.require_package()

#: Rosner (1983), Technometrics 25, 165-172; also the NIST/SEMATECH e-Handbook of
#: Statistical Methods, 1.3.5.17.3 (Generalized ESD Test for Outliers).
ROSNER = np.array([
    -0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56, 1.58,
    1.65, 1.69, 1.70, 1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10, 2.14, 2.15,
    2.23, 2.24, 2.26, 2.35, 2.37, 2.40, 2.47, 2.54, 2.62, 2.64, 2.90, 2.92, 2.92, 2.93, 3.21,
    3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01,
])
#: The published test statistics R_1..R_10 and 5 % critical values lambda_1..lambda_10
#: (three decimals, truncated); the published answer: 3 outliers.
ROSNER_R = [3.118, 2.942, 3.179, 2.810, 2.815, 2.848, 2.279, 2.310, 2.101, 2.067]
ROSNER_LAMBDA = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085]


def _column(values, dtype=np.float64) -> np.ndarray:
    return np.asarray(values, dtype=dtype)[:, None]


# --------------------------------------------------------------------------- GESD


def test_rosner_example_twin_reproduces_the_published_table():
    """The twin's statistics and critical values, checked against the published table
    (so the twin that the package is compared with is itself anchored)."""
    w = sorted(ROSNER.tolist())
    for i in range(10):
        m = len(w)
        mean = math.fsum(w) / m
        s = math.sqrt(math.fsum((x - mean) ** 2 for x in w) / (m - 1))
        j = 0 if mean - w[0] >= w[-1] - mean else m - 1
        r = abs(w[j] - mean) / s
        lam = ref.esd_critical(m, 0.05)
        assert ROSNER_R[i] <= r < ROSNER_R[i] + 1e-3, (i + 1, r)
        assert ROSNER_LAMBDA[i] <= lam < ROSNER_LAMBDA[i] + 1e-3, (i + 1, lam)
        del w[j]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rosner_example_three_outliers(dtype):
    x = _column(ROSNER, dtype)
    mask, std, low, upp, nit, flags = imck.gesd(x, max_outliers=10 / 54, significance=0.05, nkeep=0)
    assert sorted(ROSNER[mask[:, 0]].tolist()) == [5.34, 5.42, 6.01]
    assert nit[0] == 1 and flags[0] == 0
    # the survivors' spread and the band a fourth outlier would have had to leave
    kept = ROSNER[~mask[:, 0]]
    assert std[0] == pytest.approx(np.std(kept, ddof=1), rel=1e-6)
    assert low[0] == pytest.approx(kept.min(), rel=1e-6)  # retained extremes
    assert upp[0] == pytest.approx(kept.max(), rel=1e-6)
    # frame order does not matter: shuffled, the same three samples go
    perm = np.random.default_rng(3).permutation(len(ROSNER))
    m2 = imck.gesd_mask(x[perm], max_outliers=10 / 54, nkeep=0)
    assert sorted(ROSNER[perm][m2[:, 0]].tolist()) == [5.34, 5.42, 6.01]


def test_gesd_limits_keep_the_most_extreme_and_flag():
    x = _column(ROSNER)
    mask, *_, flags = imck.gesd(x, max_outliers=10 / 54, maxrej=1, nkeep=0)
    assert ROSNER[mask[:, 0]].tolist() == [6.01]
    assert flags[0] == imc.OutputFlags.MAXREJ
    mask, *_, flags = imck.gesd(x, max_outliers=10 / 54, nkeep=52)
    assert sorted(ROSNER[mask[:, 0]].tolist()) == [5.42, 6.01]
    assert flags[0] == imc.OutputFlags.NKEEP


def test_gesd_larger_significance_rejects_more():
    rng = np.random.default_rng(7)
    s = rng.normal(100.0, 5.0, (25, 40, 40))
    counts = [imck.gesd_mask(s, significance=a).sum() for a in (0.01, 0.05, 0.3)]
    assert counts[0] <= counts[1] <= counts[2] and counts[0] < counts[2]


# --------------------------------------------------------------------------- winsorized


def test_winsorized_worked_example():
    """x = (-100, -2, -1, 0, 1, 2, 100): median 0. At the limit exactly the two extremes are
    clamped (to -/+1.5 s), so s^2 = K^2 (2 (1.5 s)^2 + 10) / 6, i.e.
    s = K sqrt(10 / (6 - 2 K^2 1.5^2)) = 7.766...; 3 s = 23.3 rejects both extremes. The
    next pass (-2..2, nothing clamped) has s = K * std = 1.134 * sqrt(10/4) and rejects
    nothing."""
    k = 1.134
    s_first = k * math.sqrt(10.0 / (6.0 - 2.0 * k * k * 1.5 * 1.5))
    x = _column([-100.0, -2.0, -1.0, 0.0, 1.0, 2.0, 100.0])
    one = imck.winsorized(x, sigma=3.0, maxiters=1)
    assert one[0][:, 0].tolist() == [True, False, False, False, False, False, True]
    assert one[1][0] == pytest.approx(s_first, rel=1e-12)
    full = imck.winsorized(x, sigma=3.0)
    assert full[0][:, 0].tolist() == [True, False, False, False, False, False, True]
    assert full[1][0] == pytest.approx(k * math.sqrt(10.0 / 4.0), rel=1e-12)
    assert full[4][0] == 2  # passes evaluated
    assert imck.winsorized_combine(x)[0] == 0.0


def test_winsorized_is_not_plain_sigma_clipping():
    """Two cosmic rays in 9 samples: they inflate the plain standard deviation so much that
    a 2.5-sigma clip about the median keeps both; the winsorized sigma is not inflated."""
    x = _column([10.0, 11.0, 9.0, 10.5, 9.5, 10.2, 9.8, 60.0, 62.0])
    plain = imck.sigclip_mask(x, sigma=2.5, maxiters=1, spread_centre="mean", ddof=1)
    wins = imck.winsorized_mask(x, sigma=2.5, maxiters=1)
    assert not plain.any()
    assert wins[:, 0].tolist() == [False] * 7 + [True, True]


# --------------------------------------------------------------------------- linear fit


def test_linearfit_rejects_a_trail_and_keeps_a_gradient():
    """Sorted values that rise steadily (a gradient across frames) fit a line and stay;
    one frame with a satellite trail sits far above the line and goes."""
    x = _column([100.0, 101.0, 101.5, 102.0, 102.5, 103.0, 103.5, 104.0, 105.0, 400.0])
    mask, std, low, upp, nit, flags = imck.linearfit(x, sigma=3.0)
    assert mask[:, 0].tolist() == [False] * 9 + [True]
    assert nit[0] >= 2 and flags[0] == 0
    grad = _column(np.linspace(100.0, 140.0, 12))
    assert not imck.linearfit_mask(grad, sigma=1.0).any()
    # sigma clipping about the median would cut the ends of the gradient at 1 sigma
    assert imck.sigclip_mask(grad, sigma=1.0, maxiters=1).any()


def test_linearfit_needs_three_samples():
    x = _column([1.0, 500.0])
    mask, std, *_ = imck.linearfit(x, sigma=0.1)
    assert not mask.any() and np.isnan(std[0])


# --------------------------------------------------------------------------- entry points


def _stack(seed=1, n=15, shape=(12, 13)):
    rng = np.random.default_rng(seed)
    s = rng.normal(1000.0, 10.0, (n, *shape)).astype(np.float32)
    hit = rng.random(s.shape) < 0.05
    s[hit] += rng.uniform(100.0, 3000.0, hit.sum()).astype(np.float32)
    return s


REJ = [
    imc.WinsorizedSigClip(sigma=2.5),
    imc.GESDClip(max_outliers=0.3, significance=0.05),
    imc.LinearFitClip(sigma=(4.0, 3.0), grow=1.0),
]


@pytest.mark.parametrize("rej", REJ, ids=lambda r: type(r).__name__)
def test_every_entry_point_gives_the_same_bits(rej):
    s = _stack()
    res = imc.Combiner(s).combine("mean", rejectors=[rej], diagnostics="simple")
    assert res.std is not None and np.isfinite(res.std).any()
    kind = rej.kind
    if rej.grow_radius is None:
        fused = getattr(imck, f"{kind}_combine")(s, **_fields(rej))
        np.testing.assert_array_equal(fused, res.data)
        np.testing.assert_array_equal(getattr(imck, f"{kind}_mask")(s, **_fields(rej)), res.mask)
    chained = imc.Combiner(s).reject(rej).combine("mean", diagnostics="simple")
    np.testing.assert_array_equal(chained.data, res.data)
    np.testing.assert_array_equal(chained.mask, res.mask)
    step = chained.history[-1]
    assert step.rejector == rej and step.std is not None
    np.testing.assert_array_equal(step.nit, res.nit)
    import imcombiners.dask as imd

    lazy = imd.combine(list(s), "mean", rejectors=[rej], diagnostics="simple", tile=(5, 4)).compute()
    np.testing.assert_array_equal(lazy.data, res.data)
    np.testing.assert_array_equal(lazy.mask, res.mask)
    np.testing.assert_array_equal(lazy.std, res.std)


def _fields(rej) -> dict:
    import dataclasses

    return {f.name: getattr(rej, f.name) for f in dataclasses.fields(rej)}


@pytest.mark.parametrize("name, cls, extra", [
    ("winsorized", imc.WinsorizedSigClip, {"cutoff": 2.0}),
    ("winsorized_sigclip", imc.WinsorizedSigClip, {}),
    ("gesd", imc.GESDClip, {"max_outliers": 0.2, "significance": 0.1}),
    ("ESD", imc.GESDClip, {}),
    ("gesdt", imc.GESDClip, {}),
    ("linearfit", imc.LinearFitClip, {}),
    ("linear_fit", imc.LinearFitClip, {}),
])
def test_ndcombine_names(name, cls, extra):
    s = _stack(2)
    got = imc.ndcombine(s, reject=name, diagnostics="simple", **extra)
    rej = cls(**{k: v for k, v in extra.items() if k in _fields(cls())})
    want = imc.Combiner(s).combine("mean", rejectors=[rej], diagnostics="simple")
    np.testing.assert_array_equal(got.data, want.data)
    np.testing.assert_array_equal(got.mask, want.mask)


def test_ndcombine_sigma_defaults_and_overrides():
    s = _stack(3)
    # linearfit's own default is 5, not ndcombine's 3 of the IRAF rejectors
    a = imc.ndcombine(s, reject="linearfit", diagnostics="simple").mask
    b = imc.Combiner(s).combine("mean", rejectors=[imc.LinearFitClip(sigma=5.0)], diagnostics="simple").mask
    np.testing.assert_array_equal(a, b)
    a = imc.ndcombine(s, reject="winsorized", lsigma=2.0, hsigma=4.0, diagnostics="simple").mask
    b = imc.Combiner(s).combine("mean", rejectors=[imc.WinsorizedSigClip(sigma=(2.0, 4.0))],
                                diagnostics="simple").mask
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make, param", [
    (lambda: imc.GESDClip(max_outliers=1.0), "max_outliers"),
    (lambda: imc.GESDClip(max_outliers=-0.1), "max_outliers"),
    (lambda: imc.GESDClip(significance=0.0), "significance"),
    (lambda: imc.GESDClip(significance=1.5), "significance"),
    (lambda: imc.WinsorizedSigClip(cutoff=0.0), "cutoff"),
    (lambda: imc.WinsorizedSigClip(sigma=-1.0), "sigma"),
    (lambda: imc.WinsorizedSigClip(maxiters=0), "maxiters"),
    (lambda: imc.LinearFitClip(maxiters=300), "maxiters"),
    (lambda: imc.LinearFitClip(nkeep=1.5), "nkeep"),
])
def test_bad_parameters_name_themselves(make, param):
    with pytest.raises((TypeError, ValueError), match=param):
        make()


def test_cli_runs_the_new_rejectors(tmp_path):
    from astropy.io import fits

    from imcombiners.cli import main

    s = _stack(4, n=9, shape=(20, 24))
    paths = []
    for i, f in enumerate(s):
        p = tmp_path / f"f{i}.fits"
        fits.PrimaryHDU(f).writeto(p)
        paths.append(str(p))
    cases = [
        (["--reject", "winsorized", "--lsigma", "2.5", "--hsigma", "2.5"], imc.WinsorizedSigClip(sigma=2.5)),
        (["--reject", "gesd", "--max-outliers", "0.25", "--significance", "0.1"],
         imc.GESDClip(max_outliers=0.25, significance=0.1)),
        (["--reject", "linearfit"], imc.LinearFitClip()),
    ]
    for k, (opts, rej) in enumerate(cases):
        out = tmp_path / f"out{k}.fits"
        assert main(["combine", *paths, "-o", str(out), "-m", "mean", "-q", *opts]) == 0
        want = imc.Combiner(s).combine("mean", rejectors=[rej])
        np.testing.assert_array_equal(fits.getdata(out), want)
