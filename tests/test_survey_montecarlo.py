"""Propagated variance against Monte Carlo (docs/design.md "Survey planes").

2000 realisations of a stack with a known variance for every sample (different for every
frame and pixel, spread over a factor 4); for every method (mean, inverse-variance and
per-frame weighted mean, sum, weighted sum, median, lower median), with and without
rejection, with and without zero/scale, the variance the package propagates must equal
the empirical variance of its output within 3% (mean, weighted mean, sum) and 5%
(median, lower median).

The realisations are a spatial axis of one stack (2000 x 48 pixels), so one call combines
them all.  The empirical variance of each of the 48 pixels is taken over its 2000
realisations about the value the output estimates given the samples used (the true level
for means and medians; level times the number, or the sum of the weights, of the samples
used for sums), divided by the mean propagated variance of that pixel; the ratio averaged
over the pixels has a statistical error of about 3.2%/sqrt(48) = 0.5%.

Rejection runs on stacks where 5% of the samples are cosmic rays (+50 sigma): the
propagated variance treats the survivors as independent samples of their stated
variances (design.md), which is what a clip removing contaminants and almost no inliers
leaves.  VarClip (4 sigma, each sample judged by its own variance) runs on the stacks
whose frames differ in noise.  SigClip (5 sigma, robust MAD spread) measures one spread
per pixel, so it runs where the frames of a pixel share one noise level (which varies
from pixel to pixel).  Tighter data-spread clips remove inliers about a noisy centre and
spread and make the clipped mean noisier than its survivors say (measured at N = 15:
+4% at 4 sigma, +12% at 3 sigma; on frames of unequal noise the clip also trims the noisy
frames' inliers, -3%): properties of the clip, listed in design.md, not of propagation.

The lower median of an even count is biased low (it is an order statistic below the
centre); after rejection the count varies, so its spread is taken about its own mean for
each pixel and count, not about the true level.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import twin as h

h.require_package()

import imcombiners as imc  # noqa: E402

N, R, P = 15, 2000, 48
TOL = {"mean": 0.03, "wavg": 0.03, "sum": 0.03, "median": 0.05, "lmedian": 0.05}


def _stack(outliers: bool, normalised: bool, equal_frames: bool = False, seed: int = 12345):
    rng = np.random.default_rng(seed)
    level = rng.uniform(50, 150, (1, 1, P))
    # per frame and pixel (per pixel only with equal_frames)
    sigma = np.exp(rng.uniform(np.log(0.5), np.log(2.0), (1 if equal_frames else N, 1, P)))
    var = np.broadcast_to(sigma**2, (N, R, P))
    x = level + rng.standard_normal((N, R, P)) * sigma
    if outliers:
        x = x + (rng.random((N, R, P)) < 0.05) * 50 * sigma
    zero = scale = None
    if normalised:
        # raw = scale * x + zero: the combine divides it out again, and the variance by scale^2
        scale = rng.uniform(0.7, 1.4, N)
        zero = rng.uniform(-20, 20, N)
        x = x * scale[:, None, None] + zero[:, None, None]
        var = var * (scale**2)[:, None, None]
    return x, np.ascontiguousarray(var), level[0, 0], zero, scale


CASES = [
    ("mean", None), ("mean", "inverse_variance"), ("mean", "frame"), ("sum", None), ("sum", "inverse_variance"),
    ("median", None), ("lmedian", None),
]
REJECTIONS = {
    "none": None,
    "sigclip": imc.SigClip(5.0, stdfunc="mad"),
    "varclip": imc.VarClip(4.0),
}


@pytest.mark.parametrize("rejection", list(REJECTIONS))
@pytest.mark.parametrize("method, weighting", CASES, ids=[f"{m}-{w}" for m, w in CASES])
@pytest.mark.parametrize("normalised", [False, True], ids=["raw", "zero-scale"])
def test_propagated_variance_matches_monte_carlo(method, weighting, rejection, normalised):
    x, var, level, zero, scale = _stack(outliers=rejection != "none", normalised=normalised,
                                        equal_frames=rejection == "sigclip")
    weights = {"inverse_variance": "inverse_variance", "frame": np.linspace(0.5, 2.0, N), None: None}[weighting]
    cmb = imc.Combiner(x, variance=var)
    res = cmb.combine(method, weights=weights, zero=zero, scale=scale, relative=False,
                      rejectors=REJECTIONS[rejection], diagnostics=["variance", "weight", "nused"])
    if method == "sum":
        # what the output estimates given the samples used: level x (sum of their weights)
        expect = level * res.weight
    elif method == "lmedian":
        expect = _mean_by_count(res.data, res.nused)
    else:
        expect = np.broadcast_to(level, res.data.shape)
    empirical = ((res.data - expect) ** 2).mean(axis=0)
    predicted = res.variance.mean(axis=0)
    ratio = empirical / predicted
    kind = "wavg" if weighting else method
    assert np.all(np.isfinite(ratio))
    assert abs(ratio.mean() - 1) < TOL[kind], (
        f"{method} {weighting} {rejection}: empirical/predicted = {ratio.mean():.4f} "
        f"(per pixel {ratio.min():.3f}..{ratio.max():.3f})")
    if rejection != "none":
        # the clip removed the cosmic rays (and little else)
        assert 0.93 * N < res.nused.mean() < 0.97 * N


def _mean_by_count(data: np.ndarray, nused: np.ndarray) -> np.ndarray:
    """The mean of each pixel's outputs over the realisations with the same count."""
    out = np.empty_like(data)
    for p in range(data.shape[1]):
        for n in np.unique(nused[:, p]):
            sel = nused[:, p] == n
            out[sel, p] = data[sel, p].mean()
    return out


def test_monte_carlo_can_tell_a_wrong_variance():
    """The check has the power the tolerances claim: the plain pi/(2n) median asymptote and
    the mean variance in place of the harmonic sigma would both fail it."""
    x, var, level, _, _ = _stack(outliers=False, normalised=False)
    res = imc.Combiner(x, variance=var).combine("median", diagnostics=["variance"])
    empirical = ((res.data - level) ** 2).mean(axis=0)
    n = N
    vbar = var.mean(axis=0)[0]
    plain = np.pi * vbar / (2 * n)
    assert abs((empirical / res.variance.mean(axis=0)).mean() - 1) < TOL["median"]
    assert abs((empirical / plain).mean() - 1) > TOL["median"]
