"""Behaviour of Combiner.combine (standard mode) against independent NumPy/astropy references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import imcombiners as imc
from imcombiners import OutputFlags, SampleFlags


def _stack(shape=(9, 12, 13), seed=3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    s = rng.normal(1000.0, 10.0, shape)
    s[2, 1, 1] = 5000.0   # a cosmic ray
    s[4, 2, 2] = np.nan
    s[5, 3, 3] = np.inf
    s[6, 3, 3] = -np.inf
    return s.astype(dtype)


def _mask(shape, seed=4):
    rng = np.random.default_rng(seed)
    m = rng.random(shape) < 0.08
    m[:, 0, 0] = True  # an element with no valid sample
    return m


def _nan_filled(stack, mask=None):
    x = np.array(stack, dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    if mask is not None:
        x[mask] = np.nan
    return x


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def _lower_median(x):
    out = np.full(x.shape[1:], np.nan)
    for idx in np.ndindex(*x.shape[1:]):
        v = np.sort(x[(slice(None), *idx)])
        v = v[np.isfinite(v)]
        if v.size:
            out[idx] = v[(v.size - 1) // 2]
    return out


REFERENCES = {
    "mean": lambda x: _quiet(np.nanmean, x, axis=0),
    "median": lambda x: _quiet(np.nanmedian, x, axis=0),
    "lmedian": _lower_median,
    "sum": lambda x: np.nansum(x, axis=0),
    "min": lambda x: _quiet(np.nanmin, x, axis=0),
    "max": lambda x: _quiet(np.nanmax, x, axis=0),
    "variance": lambda x: _quiet(np.nanvar, x, axis=0),
}


@pytest.mark.parametrize("method", sorted(REFERENCES))
@pytest.mark.parametrize("masked", [False, True])
def test_methods_match_numpy(method, masked):
    s = _stack()
    m = _mask(s.shape) if masked else None
    got = imc.Combiner(s, m).combine(method)
    want = REFERENCES[method](_nan_filled(s, m))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9, equal_nan=True)
    if masked and method == "sum":
        assert got[0, 0] == 0.0  # no sample left: sum gives 0
    elif masked:
        assert np.isnan(got[0, 0])


def test_quantile_and_variance_ddof():
    s = _stack()
    x = _nan_filled(s)
    for q in (0.0, 0.25, 0.5, 0.9, 1.0):
        np.testing.assert_allclose(imc.Combiner(s).combine("quantile", q=q), _quiet(np.nanquantile, x, q, axis=0), rtol=1e-12)
    np.testing.assert_allclose(imc.Combiner(s).combine("variance", ddof=1), _quiet(np.nanvar, x, axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(imc.Combiner(s).variance(ddof=1), _quiet(np.nanvar, x, axis=0, ddof=1), rtol=1e-10)


def test_blank_fills_elements_without_samples():
    s = _stack()
    m = _mask(s.shape)
    for method in ("mean", "median", "sum", "max"):
        out = imc.Combiner(s, m).combine(method, blank=-7.0)
        assert out[0, 0] == -7.0
        assert np.all(out[1:, 1:] != -7.0)


def test_weighted_mean():
    s = _stack()
    w = np.arange(1.0, 10.0)
    x = _nan_filled(s)
    valid = np.isfinite(x)
    want = np.nansum(x * w[:, None, None], axis=0) / np.sum(valid * w[:, None, None], axis=0)
    np.testing.assert_allclose(imc.Combiner(s).combine("mean", weights=w), want, rtol=1e-12)
    np.testing.assert_allclose(imc.Combiner(s).combine("wavg", weights=list(w)), want, rtol=1e-12)


# --------------------------------------------------------------------------- inputs


def test_list_bigendian_fortran_strided_and_masked_array_inputs_agree():
    s = _stack(dtype=np.float32)
    m = _mask(s.shape)
    ref = imc.Combiner(s, m).combine("median", rejectors=imc.SigClip(2.5))
    variants = [
        imc.Combiner(list(s), list(m)),
        imc.Combiner(tuple(s), m),
        imc.Combiner(s.astype(">f4"), m),
        imc.Combiner(np.asfortranarray(s), np.asfortranarray(m)),
        imc.Combiner(np.ma.MaskedArray(s, mask=m)),
        imc.Combiner(s, m.astype(np.uint8)),
    ]
    for cmb in variants:
        np.testing.assert_array_equal(cmb.combine("median", rejectors=imc.SigClip(2.5)), ref)
    big = np.zeros((s.shape[0] * 2, *s.shape[1:]), np.float32)
    big[::2] = s
    np.testing.assert_array_equal(imc.Combiner(big[::2], m).combine("median", rejectors=imc.SigClip(2.5)), ref)


def test_one_frame_shaped_mask_applies_to_every_frame():
    s = _stack()
    bpm = np.zeros(s.shape[1:], bool)
    bpm[5, 6] = True
    out = imc.Combiner(s, bpm).combine("mean", blank=-1.0)
    assert out[5, 6] == -1.0
    np.testing.assert_array_equal(out[4], imc.Combiner(s).combine("mean")[4])


@pytest.mark.parametrize("copy", [False, True])
def test_input_is_never_modified(copy):
    s = _stack(dtype=np.float32)
    m = _mask(s.shape)
    s0, m0 = s.copy(), m.copy()
    cmb = imc.Combiner(s, m, copy=copy)
    cmb.combine("mean", thresholds=(0, 3000), zero="median", scale="mean",
                rejectors=[imc.SigClip(2, grow=1), imc.MinMaxClip(1, 1)], diagnostics="full")
    cmb.threshold(0, 4000).zero_scale(zero="mode", scale="median").reject(imc.CcdClip(rdnoise=5, gain=2))
    cmb.combine("median")
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(m, m0)


def test_copy_true_isolates_from_later_changes():
    s = _stack()
    cmb = imc.Combiner(s, copy=True)
    before = cmb.combine("mean")
    s[:] = 0
    np.testing.assert_array_equal(cmb.combine("mean"), before)


def test_any_number_of_spatial_axes():
    rng = np.random.default_rng(0)
    for shape in [(5, 17), (5, 3, 4, 6)]:
        s = rng.normal(0, 1, shape)
        np.testing.assert_allclose(imc.Combiner(s).combine("median"), np.median(s, axis=0), rtol=1e-12)
        res = imc.Combiner(s).combine("mean", rejectors=imc.SigClip(1.5), diagnostics="full")
        assert res.data.shape == shape[1:] and res.mask.shape == shape and res.sample_flags.shape == shape


# --------------------------------------------------------------------------- order of operations


def test_thresholds_are_inclusive_on_raw_values_before_scaling():
    s = np.array([[10.0], [20.0], [30.0], [40.0]]).reshape(4, 1, 1)
    # Raw thresholds keep 20 and 30 (bounds inclusive), whatever the scale does.
    out = imc.Combiner(s).combine("mean", thresholds=(20, 30), scale=[1, 1, 3, 1], relative=False)
    assert out[0, 0] == pytest.approx((20 + 30 / 3) / 2)
    assert imc.Combiner(s).combine("sum", thresholds=(None, 20))[0, 0] == 30.0


def test_zero_scale_numbers_are_applied_as_value_minus_zero_over_scale():
    s = _stack()
    z = np.linspace(-5, 5, 9)
    sc = np.linspace(0.5, 2, 9)
    x = (_nan_filled(s) - z[:, None, None]) / sc[:, None, None]
    got = imc.Combiner(s).combine("mean", zero=z, scale=sc, relative=False)
    np.testing.assert_allclose(got, _quiet(np.nanmean, x, axis=0), rtol=1e-12)


def test_relative_normalisation_brings_every_frame_to_the_first_frames_level():
    rng = np.random.default_rng(11)
    base = rng.normal(0, 1, (40, 40))
    gains = np.array([1.0, 1.5, 0.8, 2.0, 1.2])
    skies = np.array([100.0, 250.0, 80.0, 400.0, 150.0])
    s = np.stack([g * (base + 500) + z for g, z in zip(gains, skies)])
    res = imc.Combiner(s).combine("mean", zero=skies, scale=gains, diagnostics="simple")
    # (s_i - zero_i) / scale_i equals frame 0 for every frame.
    np.testing.assert_allclose(res.data, s[0], rtol=1e-12)
    assert res.scale[0] == 1.0 and res.zero[0] == 0.0
    # statistics: median/median gives the same frames up to the statistic's precision
    got = imc.Combiner(s).combine("median", scale="median")
    np.testing.assert_allclose(np.median(got), np.median(s[0]), rtol=1e-6)


def test_scalar_zero_is_not_rebased():
    s = _stack()
    got = imc.Combiner(s).combine("mean", zero=100.0)
    np.testing.assert_allclose(got, imc.Combiner(s).combine("mean") - 100.0, rtol=1e-12)


# --------------------------------------------------------------------------- rejection


def test_sigclip_matches_astropy_when_nothing_comes_back():
    # astropy re-tests every sample at each pass (a rejected sample can return); the
    # library accumulates rejections. On this data no sample returns, so they agree.
    # astropy's std is about the mean: spread_centre="mean" says the same.
    from astropy.stats import sigma_clip

    s = _stack(shape=(15, 20, 21))
    for sigma, cen in [(3.0, "median"), (2.5, "mean")]:
        got = imc.Combiner(s).combine("mean", rejectors=imc.SigClip(sigma, maxiters=10, cenfunc=cen, spread_centre="mean"))
        ref = sigma_clip(np.ma.masked_invalid(s), sigma=sigma, maxiters=10, axis=0, cenfunc=cen, stdfunc="std")
        np.testing.assert_allclose(got, ref.mean(axis=0).filled(np.nan), rtol=1e-12)


def _cumulative_sigclip_mad(x, sigma, maxiters):
    """Per-element reference: median centre, mad_std spread, rejections accumulate."""
    keep = np.isfinite(x)
    for _ in range(maxiters):
        v = x[keep]
        if v.size < 2:
            break
        c = np.median(v)
        sd = 1.482602218505602 * np.median(np.abs(v - c))
        new = keep & ~((x < c - sigma * sd) | (x > c + sigma * sd))
        if new.sum() == keep.sum():
            break
        keep = new
    return keep


def test_sigclip_mad_matches_cumulative_reference():
    s = _stack(shape=(15, 20, 21))
    res = imc.Combiner(s).combine("mean", rejectors=imc.SigClip(2.0, maxiters=10, stdfunc="mad"), diagnostics="simple")
    for idx in np.ndindex(*s.shape[1:]):
        keep = _cumulative_sigclip_mad(s[(slice(None), *idx)], 2.0, 10)
        np.testing.assert_array_equal(~res.mask[(slice(None), *idx)], keep)


def test_outlier_is_rejected_and_diagnostics_are_consistent():
    s = _stack()
    m = _mask(s.shape)
    # 8 valid samples: about the median one outlier is at most sqrt(8) = 2.83 sigma out
    res = imc.Combiner(s, m).combine("mean", rejectors=imc.SigClip(2.5), diagnostics="full")
    assert isinstance(res, imc.CombineResult)
    assert res.mask[2, 1, 1]                       # the cosmic ray
    assert res.mask[4, 2, 2] and res.mask[5, 3, 3]  # NaN, inf
    assert np.all(res.mask[m])                      # input mask
    # data is the mean of exactly the samples not in mask; nused counts them
    x = _nan_filled(s, res.mask)
    np.testing.assert_allclose(res.data, _quiet(np.nanmean, x, axis=0), rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(res.nused, (~res.mask).sum(axis=0))
    # every excluded sample has a reason and only excluded samples have one (the RESTORED_*
    # bits mark samples a limited pass gave back: they are used)
    restored = np.uint8(SampleFlags.RESTORED_NKEEP | SampleFlags.RESTORED_MAXREJ)
    np.testing.assert_array_equal((res.sample_flags & ~restored) != 0, res.mask)
    assert res.sample_flags[2, 1, 1] & SampleFlags.ALGORITHM
    assert res.sample_flags[4, 2, 2] & SampleFlags.NONFINITE
    assert np.all(res.sample_flags[m] & SampleFlags.INPUT_MASK)
    assert np.all(res.output_flags[m.any(axis=0)] & OutputFlags.PREMASKED)
    for a in (res.std, res.low, res.upp, res.nit):
        assert a.shape == s.shape[1:]
    assert res.low[1, 1] <= res.data[1, 1] <= res.upp[1, 1]


def test_threshold_flags():
    s = _stack()
    res = imc.Combiner(s).combine("mean", thresholds=(0, 2000), diagnostics="full")
    assert res.sample_flags[2, 1, 1] == SampleFlags.THRESHOLD
    assert res.low is None and res.std is None and res.nit is None  # no rejector


def test_std_is_none_for_algorithms_without_spread():
    s = _stack()
    for r in (imc.MinMaxClip(), imc.PClip(), imc.LinearClip(low=50, upp=50)):
        res = imc.Combiner(s).combine("mean", rejectors=r, diagnostics="simple")
        assert res.std is None and res.low is not None and res.nit is not None
    assert imc.Combiner(s).combine("mean", rejectors=imc.SigClip(), diagnostics="simple").std is not None


def test_fused_path_equals_diagnostic_path_bit_for_bit():
    s = _stack(shape=(11, 16, 17), dtype=np.float32)
    m = _mask(s.shape)
    chains = [
        [imc.SigClip(2.5)],
        [imc.MinMaxClip(1, 1), imc.SigClip(2.0, cenfunc="mean")],
        [imc.CcdClip(rdnoise=5, gain=2), imc.PClip()],
        [imc.SigClip(2.0, grow=1.5), imc.LinearClip(low=30, upp=30)],
    ]
    for chain in chains:
        kw = dict(thresholds=(0, 4000), zero="median", scale="mean", rejectors=chain)
        fast = imc.Combiner(s, m).combine("median", **kw)
        res = imc.Combiner(s, m).combine("median", diagnostics="full", **kw)
        np.testing.assert_array_equal(fast, res.data)
        assert len(res.history) == len(chain)


def test_history_counts_add_up_to_the_mask():
    s = _stack()
    m = _mask(s.shape)
    res = imc.Combiner(s, m).combine(
        "mean", thresholds=(0, 4000), rejectors=[imc.SigClip(2.0), imc.MinMaxClip(1, 0)], diagnostics="simple"
    )
    assert [h.kind for h in res.history] == ["reject", "reject"]
    total = m.sum(axis=0) + sum(h.nrej.astype(int) for h in res.history)
    np.testing.assert_array_equal(total, res.mask.sum(axis=0))
    assert res.history[1].std is None  # MinMaxClip


def test_grow_seeds_only_algorithm_rejections():
    # no sample deviates by more than 1.4 sigma except the planted outlier
    s = np.full((7, 9, 9), 100.0) + np.array([-1, 0, 1, 0, -1, 1, 0.0])[:, None, None]
    s[3, 4, 4] = 1e5          # rejected by sigclip -> grows
    m = np.zeros(s.shape, bool)
    m[1, 1, 1] = True         # input-masked: must not grow
    s[2, 7, 7] = np.nan       # non-finite: must not grow
    res = imc.Combiner(s, m).combine("mean", rejectors=imc.SigClip(2, maxiters=1, grow=1), diagnostics="full")
    grown = [(3, 3, 4), (3, 5, 4), (3, 4, 3), (3, 4, 5)]
    for idx in grown:
        assert res.mask[idx] and res.sample_flags[idx] == SampleFlags.GROW
        assert res.output_flags[idx[1:]] & OutputFlags.GROW
    assert not res.mask[3, 3, 3]  # diagonal is beyond radius 1
    assert res.mask.sum() == 1 + 1 + 1 + len(grown)
    for idx in [(1, 0, 1), (1, 1, 0), (2, 6, 7)]:
        assert not res.mask[idx]


def test_rejector_grow_override_in_chain_and_result_flags():
    s = np.full((7, 9, 9), 100.0) + np.array([-1, 0, 1, 0, -1, 1, 0.0])[:, None, None]
    s[3, 4, 4] = 1e5
    cmb = imc.Combiner(s).reject(imc.SigClip(2, maxiters=1), grow=1.5)
    assert cmb.mask[3].sum() == 9
    assert cmb.history[-1].output_flags[4, 3] & OutputFlags.GROW


def test_integer_dtype_policy():
    rng = np.random.default_rng(2)
    for dtype in (np.uint8, np.uint16, np.int16, np.int32):
        s = rng.integers(0, 120, (6, 5, 4)).astype(dtype)
        for method in ("lmedian", "min", "max"):
            out = imc.Combiner(s).combine(method)
            assert out.dtype == dtype
            np.testing.assert_array_equal(out, REFERENCES[method](s.astype(float)))
            # anything that may mask or change values uses the float workspace
            assert imc.Combiner(s, np.zeros(s.shape, bool)).combine(method).dtype.kind == "f"
            assert imc.Combiner(s).combine(method, thresholds=(0, 200)).dtype.kind == "f"
            assert imc.Combiner(s).combine(method, rejectors=imc.MinMaxClip()).dtype.kind == "f"
        assert imc.Combiner(s).combine("mean").dtype.kind == "f"


def test_combine_result_is_frozen():
    res = imc.Combiner(_stack()).combine("mean", diagnostics="simple")
    with pytest.raises(Exception):
        res.data = None


def test_fast_path_is_one_kernel_call(monkeypatch):
    from imcombiners import _core

    calls = []
    real = _core.run
    monkeypatch.setattr(_core, "run", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    s = _stack()
    imc.Combiner(s).combine("median", thresholds=(0, 4000), scale="median",
                            rejectors=[imc.MinMaxClip(1, 1), imc.SigClip(3), imc.PClip()])
    assert len(calls) == 1
    assert [r["kind"] for r in calls[0]["rejectors"]] == ["minmax", "sigclip", "pclip"]
    assert calls[0]["want"] == []
    calls.clear()
    imc.Combiner(s).combine("median", rejectors=[imc.SigClip(3, grow=1), imc.PClip()])
    assert len(calls) == 2  # grow needs its own stage


def test_flags_merge_across_stages():
    s = np.full((7, 9, 9), 100.0) + np.array([-1, 0, 1, 0, -1, 1, 0.0])[:, None, None]
    s[3, 4, 4] = 1e5
    s[0, 0, 0] = np.nan
    res = imc.Combiner(s).combine(
        "mean", rejectors=[imc.SigClip(2, maxiters=1, grow=1), imc.MinMaxClip(0, 1)], diagnostics="full"
    )
    # the second stage sees the first stage's rejections as masked input, but the merged
    # flags still say why each sample went
    assert res.sample_flags[3, 4, 4] == SampleFlags.ALGORITHM
    assert res.sample_flags[3, 3, 4] == SampleFlags.GROW
    assert res.sample_flags[0, 0, 0] == SampleFlags.NONFINITE
    mm = res.mask & (res.sample_flags == SampleFlags.ALGORITHM)
    # minmax n_max=1 is the fraction 1/7 of the valid samples (IRAF): trunc(6/7 + 0.001) = 0
    # at the 6 elements that lost a sample to NaN, the outlier or grow
    assert mm.sum() == (81 - 6) + 1
    assert not np.any(res.sample_flags & SampleFlags.INPUT_MASK)
    assert res.output_flags[3, 4] & OutputFlags.GROW and not res.output_flags[4, 4] & OutputFlags.GROW
    assert res.output_flags[4, 4] & OutputFlags.MAXITERS  # the single allowed pass rejected
    assert res.output_flags[0, 0] & OutputFlags.PREMASKED
    assert not res.output_flags[8, 8] & OutputFlags.PREMASKED
    assert [h.nrej[4, 4] for h in res.history] == [1, 0]
    assert res.history[0].nrej[3, 4] == 1 and res.history[0].nrej.sum() == 6  # outlier + 4 grown + NaN


# --------------------------------------------------------------------------- invariants

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_REJECTORS = st.sampled_from([
    imc.SigClip(2.0), imc.SigClip((1.5, 2.5), cenfunc="mean", nkeep=-2, revert_on_nkeep=False),
    imc.SigClip(2.0, stdfunc="mad", maxrej=2, grow=1), imc.CcdClip(rdnoise=3, gain=2),
    imc.CcdClip(high_only=True, grow=1.5), imc.LinearClip(low=5, upp=5, maxiters=3),
    imc.MinMaxClip(1, 0.3), imc.PClip(-0.5, sigma=2),
])


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 9),
    shape=st.sampled_from([(6,), (4, 5), (2, 3, 4)]),
    dtype=st.sampled_from(["uint16", "int32", "float32", "float64"]),
    chain=st.lists(_REJECTORS, max_size=3),
    method=st.sampled_from(["mean", "median", "lmedian", "sum", "max", "variance"]),
    masked=st.booleans(),
    list_input=st.booleans(),
)
def test_paths_agree_and_diagnostics_are_consistent(seed, n, shape, dtype, chain, method, masked, list_input):
    rng = np.random.default_rng(seed)
    s = rng.normal(100, 10, (n, *shape)).clip(0, 1000)
    if dtype.startswith("float"):
        s[rng.random(s.shape) < 0.05] = np.nan
    s = s.astype(dtype)
    m = rng.random(s.shape) < 0.1 if masked else None
    fast = imc.Combiner(list(s) if list_input else s, m).combine(method, rejectors=chain)
    res = imc.Combiner(s, m).combine(method, rejectors=chain, diagnostics="full")
    np.testing.assert_array_equal(fast, res.data)
    restored = np.uint8(SampleFlags.RESTORED_NKEEP | SampleFlags.RESTORED_MAXREJ)
    np.testing.assert_array_equal((res.sample_flags & ~restored) != 0, res.mask)
    np.testing.assert_array_equal(res.nused, (~res.mask).sum(axis=0))
    if m is not None:
        assert np.all(res.mask[m])
    if dtype.startswith("float"):
        assert np.all(res.mask[~np.isfinite(s)])
    # the chain run step by step gives the same image and mask
    cmb = imc.Combiner(s, m)
    for r in chain:
        cmb.reject(r)
    step = cmb.combine(method, diagnostics="simple")
    np.testing.assert_array_equal(step.data, res.data)
    np.testing.assert_array_equal(step.mask, res.mask)
