"""imcombiners.kernels: plain functions, 6-tuples, fused combines, grow_mask."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck


def _stack(seed=13):
    rng = np.random.default_rng(seed)
    s = rng.normal(200.0, 4.0, (9, 8, 7)).astype(np.float32)
    s[2, 1, 1] = 900.0
    s[5, 4, 4] = np.nan
    return s


FAMILIES = {
    "sigclip": (imc.SigClip, dict(sigma=2.5, maxiters=3)),
    "ccdclip": (imc.CcdClip, dict(sigma=3, rdnoise=4, gain=1.5)),
    "linearclip": (imc.LinearClip, dict(low=10, upp=10)),
    "minmax": (imc.MinMaxClip, dict(n_min=1, n_max=2)),
    "pclip": (imc.PClip, dict(frac=-0.5, sigma=2)),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_rejection_families(name):
    cls, params = FAMILIES[name]
    s = _stack()
    m = np.zeros(s.shape, bool)
    m[0, 0, 0] = True
    mask_rej, std, low, upp, nit, oflags = getattr(imck, name)(s, m, **params)
    res = imc.Combiner(s, m).combine("mean", rejectors=cls(**params), diagnostics="simple")
    np.testing.assert_array_equal(mask_rej, res.mask)
    assert mask_rej.shape == s.shape and mask_rej.dtype == bool
    if cls.has_spread:
        np.testing.assert_array_equal(std, res.std)
    else:
        assert std is None
    for a, b in ((low, res.low), (upp, res.upp), (nit, res.nit), (oflags, res.output_flags)):
        np.testing.assert_array_equal(a, b)
        assert a.shape == s.shape[1:]
    np.testing.assert_array_equal(getattr(imck, f"{name}_mask")(s, m, **params), mask_rej)
    for combine in ("mean", "median"):
        fused = getattr(imck, f"{name}_combine")(s, m, combine=combine, **params)
        np.testing.assert_array_equal(fused, imc.Combiner(s, m).combine(combine, rejectors=cls(**params)))
    x = np.where(mask_rej, np.nan, s.astype(np.float64))
    np.testing.assert_allclose(getattr(imck, f"{name}_combine")(s, m, **params), np.nanmean(x, axis=0), rtol=1e-6)


def test_unknown_parameter_is_a_typeerror():
    with pytest.raises(TypeError, match="sigmaa"):
        imck.sigclip(_stack(), sigmaa=3)


def test_combines_match_numpy():
    s = _stack().astype(np.float64)
    x = np.where(np.isfinite(s), s, np.nan)
    np.testing.assert_allclose(imck.mean(s), np.nanmean(x, axis=0), rtol=1e-12)
    np.testing.assert_allclose(imck.median(s), np.nanmedian(x, axis=0), rtol=1e-12)
    np.testing.assert_allclose(imck.sum(s), np.nansum(x, axis=0), rtol=1e-12)
    np.testing.assert_allclose(imck.min(s), np.nanmin(x, axis=0))
    np.testing.assert_allclose(imck.max(s), np.nanmax(x, axis=0))
    np.testing.assert_allclose(imck.variance(s, ddof=1), np.nanvar(x, axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(imck.quantile(s, 0.3), np.nanquantile(x, 0.3, axis=0), rtol=1e-12)
    w = np.linspace(1, 3, 9)
    valid = np.isfinite(x)
    ref = np.nansum(x * w[:, None, None], 0) / np.sum(valid * w[:, None, None], 0)
    np.testing.assert_allclose(imck.wavg(s, w), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="weights must have one value per frame"):
        imck.wavg(s, w[:3])


def test_lmedian_keeps_integer_dtype_and_takes_the_lower_middle():
    s = np.array([[4, 1], [2, 9], [3, 7], [1, 5]], dtype=np.int16).reshape(4, 2)
    out = imck.lmedian(s)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, [2, 5])


def _grow_reference(mask, radius):
    out = mask.copy()
    spatial = mask.shape[1:]
    r = int(np.floor(radius))
    offsets = [o for o in itertools.product(range(-r, r + 1), repeat=len(spatial)) if np.dot(o, o) <= radius**2]
    for i, *idx in zip(*np.nonzero(mask)):
        for o in offsets:
            p = tuple(a + b for a, b in zip(idx, o))
            if all(0 <= q < n for q, n in zip(p, spatial)):
                out[(i, *p)] = True
    return out


@pytest.mark.parametrize("radius", [0, 0.5, 1, 1.5, 2, 2.9])
def test_grow_mask_matches_euclidean_disk(radius):
    rng = np.random.default_rng(int(radius * 10))
    mask = rng.random((3, 12, 13)) < 0.03
    got = imck.grow_mask(mask, radius)
    np.testing.assert_array_equal(got, _grow_reference(mask, radius))
    assert got is not mask
    cube = rng.random((2, 5, 6, 7)) < 0.02
    np.testing.assert_array_equal(imck.grow_mask(cube, radius), _grow_reference(cube, radius))


def test_grow_mask_validation():
    with pytest.raises(TypeError, match="bool"):
        imck.grow_mask(np.zeros((2, 3, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="shape"):
        imck.grow_mask(np.zeros(3, bool), 1)
    with pytest.raises(ValueError, match="radius"):
        imck.grow_mask(np.zeros((2, 3, 3), bool), -1)
