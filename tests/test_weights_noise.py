"""Frame weights beyond numbers and statistics: ``weights="noise"`` (inverse variance from a
robust per-frame noise estimate), header keywords (``"!KEY"``) and ``"exposure"``.

The noise estimator is checked by Monte Carlo against frames of known noise (with the
structures it must ignore: sky gradients, stars, a Bayer pattern, masked pixels), the
weights against their definition, and every mode against the in-memory call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import imcombiners as imc
from imcombiners._noise import frame_noise
from tests.helpers import twin as h

h.require_package()


def _frame(rng, sigma, shape=(256, 256), structure=False):
    f = rng.normal(0.0, sigma, shape)
    if structure:
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
        f += 1000.0 + 0.5 * xx + 0.2 * yy  # a sky gradient (linear: cancels exactly)
        f[::2, ::2] += 40.0  # one colour plane of a Bayer mosaic brighter
        for y, x in rng.integers(3, min(shape) - 3, (40, 2)):  # stars
            f[y - 1:y + 2, x - 1:x + 2] += 3000.0
    return f


def test_noise_estimate_is_unbiased_on_white_noise():
    """Monte Carlo: 40 frames of 256x256 N(0, 7); the mean estimate is within 3 standard
    errors of 7 (standard error from the spread of the estimates themselves)."""
    rng = np.random.default_rng(11)
    est = np.array([frame_noise(_frame(rng, 7.0), np.ones((256, 256), bool)) for _ in range(40)])
    se = est.std(ddof=1) / math.sqrt(est.size)
    assert abs(est.mean() - 7.0) < 3 * se + 1e-3, (est.mean(), se)
    assert est.std() < 0.1  # each estimate is within a few percent


def test_noise_estimate_ignores_gradient_bayer_stars_and_masked_pixels():
    rng = np.random.default_rng(12)
    f = _frame(rng, 5.0, structure=True)
    valid = np.ones(f.shape, bool)
    bad = rng.random(f.shape) < 0.05
    f[bad] = 1e6  # garbage under the mask
    valid &= ~bad
    assert frame_noise(f, valid) == pytest.approx(5.0, rel=0.06)
    one_d = rng.normal(0.0, 3.0, 100_000)
    assert frame_noise(one_d, np.ones(one_d.shape, bool)) == pytest.approx(3.0, rel=0.03)
    assert math.isnan(frame_noise(np.zeros((4, 40)), np.ones((4, 40), bool)))


def test_noise_weights_are_inverse_variance_of_normalised_frames():
    rng = np.random.default_rng(13)
    sig = [4.0, 8.0, 4.0, 16.0, 2.0]
    gains = [1.0, 1.0, 2.0, 1.0, 0.5]  # frame i = gain_i * (sky + noise)
    st = np.stack([g * (1000.0 + _frame(rng, s / g)) for s, g in zip(sig, gains)])
    res = imc.Combiner(st).combine("mean", scale="median", weights="noise", diagnostics="simple")
    # raw noise sigma_i, scale_i = median_i / median_0 = gain_i: normalised noise
    # sigma_i / gain_i, and the weights 1 / (sigma_i / gain_i)^2, largest 1
    np.testing.assert_allclose(res.scale, gains, rtol=1e-3)
    sig_norm = np.array(sig) / np.array(gains)
    want = (1.0 / sig_norm**2) / (1.0 / sig_norm**2).max()
    np.testing.assert_allclose(res.weights, want, rtol=0.05)
    assert res.weights.max() == 1.0
    # the combine used them: a weighted mean
    direct = imc.Combiner(st).combine("mean", scale=res.scale, relative=False, weights=res.weights)
    np.testing.assert_array_equal(res.data, direct)


def test_noise_is_only_a_weighting():
    st = np.random.default_rng(1).normal(0, 1, (3, 16, 16))
    for param in ("zero", "scale"):
        with pytest.raises(ValueError, match=f"{param}: 'noise' is a weighting"):
            imc.Combiner(st).combine("mean", **{param: "noise"})


def _fits_frames(tmp_path, n=5, shape=(40, 48), keys=True):
    from astropy.io import fits

    rng = np.random.default_rng(5)
    paths, frames = [], []
    for i in range(n):
        f = (1000.0 + rng.normal(0.0, 3.0 + 3 * i, shape)).astype(np.float32)
        hdr = fits.Header()
        if keys:
            hdr["EXPTIME"] = 30.0 * (i + 1)
            hdr["MYWEIGHT"] = (0.5 + i, "a weight")
        p = tmp_path / f"f{i}.fits"
        fits.PrimaryHDU(f, header=hdr).writeto(p)
        paths.append(str(p))
        frames.append(f)
    return paths, np.stack(frames)


def test_dask_fits_inputs_noise_and_header_weights(tmp_path):
    import imcombiners.dask as imd

    paths, st = _fits_frames(tmp_path)
    rej = [imc.WinsorizedSigClip()]
    ref = imc.Combiner(st).combine("mean", rejectors=rej, weights="noise", diagnostics="simple")
    lazy = imd.combine(paths, "mean", rejectors=rej, weights="noise", diagnostics="simple", tile=(9, 11))
    np.testing.assert_array_equal(lazy.weights, ref.weights)
    np.testing.assert_array_equal(lazy.compute().data, ref.data)
    for spec, values in (("!MYWEIGHT", [0.5 + i for i in range(5)]), ("!myweight", [0.5 + i for i in range(5)]),
                         ("exposure", [30.0 * (i + 1) for i in range(5)])):
        lazy = imd.combine(paths, "mean", weights=spec)
        np.testing.assert_array_equal(lazy.weights, values)
        np.testing.assert_array_equal(lazy.compute().data, imc.Combiner(st).combine("mean", weights=values))
    lazy = imd.combine(paths, "mean", scale="exposure")
    np.testing.assert_allclose(lazy.scale, [1.0, 2.0, 3.0, 4.0, 5.0])


def test_header_weights_need_headers_and_the_keyword(tmp_path):
    import imcombiners.dask as imd

    paths, st = _fits_frames(tmp_path, keys=False)
    with pytest.raises(ValueError, match="weights: header keyword 'EXPTIME' not found for image 0"):
        imd.combine(paths, "mean", weights="exposure")
    with pytest.raises(ValueError, match="reads FITS header keywords"):
        imc.Combiner(st).combine("mean", weights="!EXPTIME")
    (tmp_path / "k").mkdir()
    with_keys, _ = _fits_frames(tmp_path / "k")
    with pytest.raises(ValueError, match="zero: 'exposure' is for scale and weights"):
        imd.combine(with_keys, "mean", zero="exposure")


def test_cli_weight_noise(tmp_path):
    from astropy.io import fits

    from imcombiners.cli import main

    paths, st = _fits_frames(tmp_path)
    out = tmp_path / "out.fits"
    assert main(["combine", *paths, "-o", str(out), "-m", "mean", "--weight", "noise", "-q"]) == 0
    np.testing.assert_array_equal(fits.getdata(out), imc.Combiner(st).combine("mean", weights="noise"))
    assert main(["combine", *paths, "-o", str(tmp_path / "o2.fits"), "--scale", "noise", "-q"]) == 2
    assert not (tmp_path / "o2.fits").exists()
