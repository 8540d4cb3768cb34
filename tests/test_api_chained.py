"""Chained Combiner: state kept between threshold / zero_scale / reject / combine."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import imcombiners as imc
from imcombiners import SampleFlags


def _stack(seed=21):
    rng = np.random.default_rng(seed)
    s = rng.normal(500.0, 8.0, (10, 14, 15)) * np.linspace(0.9, 1.2, 10)[:, None, None]
    s[1, 2, 3] = 9000.0
    s[7, 5, 5] = -3000.0
    s[3, 4, 4] = np.nan
    return s


def _mask(shape):
    m = np.zeros(shape, bool)
    m[0, 1, 1] = m[5, 6, 7] = m[2, 2, 3] = True
    return m


def test_chain_equals_one_call():
    s, m = _stack(), _mask((10, 14, 15))
    chained = (
        imc.Combiner(s, m)
        .threshold(-1000, 8000)
        .zero_scale(zero="median", scale="mean")
        .reject(imc.SigClip(2.5))
        .reject(imc.MinMaxClip(1, 1))
        .combine("median", diagnostics="simple")
    )
    one = imc.Combiner(s, m).combine(
        "median", thresholds=(-1000, 8000), zero="median", scale="mean",
        rejectors=[imc.SigClip(2.5), imc.MinMaxClip(1, 1)], diagnostics="simple",
    )
    np.testing.assert_array_equal(chained.data, one.data)
    np.testing.assert_array_equal(chained.mask, one.mask)
    np.testing.assert_array_equal(chained.nused, one.nused)
    np.testing.assert_array_equal(chained.zero, one.zero)
    np.testing.assert_array_equal(chained.scale, one.scale)


def test_history_records_each_step():
    s, m = _stack(), _mask((10, 14, 15))
    cmb = imc.Combiner(s, m).threshold(-1000, 8000).zero_scale(scale="median").reject(imc.SigClip(3)).reject(imc.PClip())
    kinds = [h.kind for h in cmb.history]
    assert kinds == ["threshold", "zero_scale", "reject", "reject"]
    th, zs, r1, r2 = cmb.history
    assert th.params["thresholds"] == (-1000.0, 8000.0)
    assert th.nrej[2, 3] == 1 and th.nrej[5, 5] == 1 and th.nrej.sum() == 2
    assert zs.params["scale"][0] == 1.0 and zs.params["zero"] is None
    assert r1.rejector == imc.SigClip(3) and r1.std is not None and r1.nit is not None
    assert r2.std is None  # pclip has no spread
    # accumulated mask = input mask + every step's new exclusions
    total = m.sum(axis=0) + sum(h.nrej.astype(int) for h in cmb.history if h.nrej is not None)
    np.testing.assert_array_equal(cmb.mask.sum(axis=0), total)
    res = cmb.combine("mean", diagnostics="simple")
    assert len(res.history) == 4  # the chain's steps; no new rejector in this call


def test_thresholds_apply_to_raw_values_whatever_the_order():
    s = _stack()
    a = imc.Combiner(s).zero_scale(scale=[1.0] + [10.0] * 9, relative=False).threshold(0, 1000).combine("mean")
    b = imc.Combiner(s).threshold(0, 1000).zero_scale(scale=[1.0] + [10.0] * 9, relative=False).combine("mean")
    np.testing.assert_array_equal(a, b)


def test_combine_does_not_change_state_and_chain_mask_is_used():
    s = _stack()
    cmb = imc.Combiner(s).reject(imc.SigClip(2.0))
    mask_before = cmb.mask.copy()
    first = cmb.combine("mean")
    cmb.combine("median", rejectors=imc.MinMaxClip(1, 1), thresholds=(0, 1000))
    np.testing.assert_array_equal(cmb.mask, mask_before)
    np.testing.assert_array_equal(cmb.combine("mean"), first)
    x = np.where(mask_before, np.nan, s)
    np.testing.assert_allclose(first, np.nanmean(x, axis=0), rtol=1e-12)


def test_variance_of_survivors():
    s = _stack()
    cmb = imc.Combiner(s).reject(imc.SigClip(2.5))
    x = np.where(cmb.mask, np.nan, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ddof in (0, 1):
            np.testing.assert_allclose(cmb.variance(ddof=ddof), np.nanvar(x, axis=0, ddof=ddof), rtol=1e-10)


def test_stage_local_sample_flags_mark_previous_exclusions():
    s, m = _stack(), _mask((10, 14, 15))
    cmb = imc.Combiner(s, m).threshold(-1000, 8000).reject(imc.SigClip(2.0), diagnostics="full")
    f1 = cmb.sample_flags
    assert f1 is cmb.history[-1].sample_flags
    assert f1[0, 1, 1] == SampleFlags.INPUT_MASK              # the user's mask
    assert f1[1, 2, 3] == SampleFlags.PREVIOUS                # the threshold step
    assert f1[3, 4, 4] & SampleFlags.NONFINITE
    rejected_1 = (f1 & SampleFlags.ALGORITHM) != 0
    assert rejected_1.any()
    cmb.reject(imc.MinMaxClip(0, 1), diagnostics="full")
    f2 = cmb.sample_flags
    assert np.all(f2[rejected_1] & SampleFlags.PREVIOUS)
    assert not np.any(f2[rejected_1] & SampleFlags.ALGORITHM)
    assert np.all(f2[m] == SampleFlags.INPUT_MASK)
    np.testing.assert_array_equal(f2 != 0, cmb.mask)
    # a final full combine reports the same stage-local view for the chain's exclusions
    res = cmb.combine("mean", diagnostics="full")
    np.testing.assert_array_equal(res.sample_flags != 0, res.mask)
    assert np.all(res.sample_flags[rejected_1] == SampleFlags.PREVIOUS)


def test_simple_reject_keeps_no_sample_flags():
    cmb = imc.Combiner(_stack()).reject(imc.SigClip())
    assert cmb.sample_flags is None and cmb.history[-1].sample_flags is None


def test_zero_scale_only_once_and_not_again_in_combine():
    cmb = imc.Combiner(_stack()).zero_scale(zero="median")
    with pytest.raises(ValueError, match="already set"):
        cmb.zero_scale(scale="median")
    with pytest.raises(ValueError, match="already set"):
        cmb.combine("mean", zero="mean")
    with pytest.raises(ValueError, match="give both zero and scale there"):
        cmb.combine("mean", scale="mean")
    cmb.combine("mean", weights="mean")  # weights are independent of the normalisation


def test_chain_statistics_skip_rejected_samples():
    s = np.full((3, 10, 10), 10.0)
    s[1] = 20.0
    s[1, :5] = 1e6  # half of frame 1 is garbage
    cmb = imc.Combiner(s).threshold(None, 1000).zero_scale(scale="mean")
    np.testing.assert_allclose(cmb.scale, [1.0, 2.0, 1.0])
    np.testing.assert_allclose(cmb.combine("mean"), 10.0)


def test_repr_and_properties():
    cmb = imc.Combiner(_stack(), _mask((10, 14, 15)))
    assert cmb.shape == (10, 14, 15) and cmb.n_frames == 10 and cmb.dtype == np.float64
    assert "N=10" in repr(cmb) and "n_masked=3" in repr(cmb)
    assert imc.Combiner(_stack()).mask is None
