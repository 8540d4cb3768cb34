"""Every imcombiners 0.1.1 spelling that was renamed or removed still works, emits a
DeprecationWarning naming its replacement, and gives what the replacement gives."""

from __future__ import annotations

import copy
import dataclasses
import re
import warnings

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck


def _stack(n=7, shape=(5, 6), seed=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(100.0, 3.0, (n, *shape))
    x[1, 2, 3] = 180.0
    x[4, 0, 0] = 20.0
    return x


X = _stack()


def deprecated(match: str):
    """pytest.warns for a DeprecationWarning whose message names ``match`` (the
    replacement) and says it is deprecated."""
    return pytest.warns(DeprecationWarning, match=rf"deprecated.*{re.escape(match)}")


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --------------------------------------------------------------------------- result shapes


def test_ndcombine_full_true_returns_the_011_tuple():
    want = imc.ndcombine(X, reject="sigclip", diagnostics="simple")
    with deprecated("diagnostics='simple'"):
        got = imc.ndcombine(X, reject="sigclip", full=True)
    assert isinstance(got, tuple) and len(got) == 8
    combined, mask_rej, mask_thresh, std, low, upp, nit, flags = got
    same(combined, want.data)
    same(mask_rej, want.mask)
    assert mask_thresh is None
    for a, b in ((std, want.std), (low, want.low), (upp, want.upp), (nit, want.nit), (flags, want.output_flags)):
        same(a, b)
    with pytest.raises(ValueError, match="either diagnostics or full"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imc.ndcombine(X, reject="sigclip", full=True, diagnostics="simple")


def test_result_unpacks_as_the_011_tuple():
    res = imc.ndcombine(X, thresholds=(0, 170), reject="minmax", diagnostics="full")
    with deprecated(".data"):
        assert len(res) == 9
    with deprecated(".data"):
        data, mask_rej, mask_thresh, std, low, upp, nit, flags, sample_flags = res
    same(data, res.data)
    same(mask_rej, res.mask)
    assert std is None  # minmax has no spread
    same(mask_thresh, X > 170)
    same(sample_flags, res.sample_flags)
    with deprecated(".data"):
        assert res[0] is res.data and res[-1] is res.sample_flags
    plain = imc.ndcombine(X, diagnostics="simple")
    with deprecated(".data"):
        assert tuple(plain)[1:] == (None,) * 7


def test_result_truth_value_does_not_warn():
    res = imc.ndcombine(X, reject="sigclip", diagnostics="simple")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert res and repr(res).startswith("CombineResult(")


def test_result_acts_as_the_image_array():
    res = imc.Combiner(X).combine("median", rejectors=imc.SigClip(), diagnostics="simple")
    with deprecated("result.data"):
        same(np.asarray(res), res.data)
    with deprecated("result.data.shape"):
        assert res.shape == X.shape[1:]
    with deprecated("result.data.dtype"):
        assert res.dtype == np.float64
    with deprecated("result.data.ndim"):
        assert res.ndim == 2
    with deprecated("result.data[...]"):
        assert res[1, 2] == res.data[1, 2]
    with deprecated("result.data"):
        same(res - 100.0, res.data - 100.0)
    with deprecated("result.data"):
        same(2 * res > 150.0, 2 * res.data > 150.0)
    with deprecated("result.data.mean"):
        assert res.mean() == res.data.mean()
    with deprecated("result.data.ravel"):
        same(res.ravel(), res.data.ravel())
    assert res.std is not None and res.std.shape == res.data.shape  # fields are not delegated
    assert res != imc.Combiner(X).combine("median", rejectors=imc.SigClip(), diagnostics="simple")  # identity


def test_combiner_full_true_returns_the_image_and_keeps_the_diagnostics():
    cmb = imc.Combiner(X)
    with deprecated("diagnostics='simple'"):
        out = cmb.combine("mean", rejectors=imc.SigClip(2.5), full=True)
    want = imc.Combiner(X).combine("mean", rejectors=imc.SigClip(2.5), diagnostics="simple")
    assert isinstance(out, np.ndarray)
    same(out, want.data)
    with deprecated("history[-1].mask"):
        same(cmb.mask_rej, want.mask)


# --------------------------------------------------------------------------- rejector keywords


@pytest.mark.parametrize("cls", [imc.SigClip, imc.CcdClip])
def test_clip_cen_is_spread_centre(cls):
    with deprecated("spread_centre="):
        r = cls(clip_cen="avg")
    assert r == cls(spread_centre="mean") and r.clip_cen is None
    with pytest.raises(TypeError, match="either spread_centre"):
        cls(clip_cen="mean", spread_centre="median")
    with deprecated("spread_centre="):
        got = imck.sigclip(X, clip_cen="mean")
    for a, b in zip(got, imck.sigclip(X, spread_centre="mean")):
        same(a, b)
    with deprecated("spread_centre="):
        same(imc.ndcombine(X, reject="sigclip", clip_cen="mean"), imc.ndcombine(X, reject="sigclip", spread_centre="mean"))


def test_ccdclip_ddof_is_ignored():
    with deprecated("no argument"):
        r = imc.CcdClip(ddof=1, rdnoise=3)
    assert r == imc.CcdClip(rdnoise=3)


def test_ccdclip_scale_ref_zero_ref():
    """0.1.1's reference scale/zero of the noise model: sigma(scale_ref*(c + zero_ref))/scale_ref."""
    v = np.array([990.0, 1000.0, 1000.0, 1010.0]).reshape(-1, 1)
    with deprecated("zero=/scale="):
        std = imck.ccdclip(v, sigma=100.0, scale_ref=2.0, zero_ref=5.0)[1]
    assert np.isclose(std.item(), np.sqrt(2.0 * (1000.0 + 5.0)) / 2.0, rtol=1e-12)
    assert imc.CcdClip(scale_ref=1.0, zero_ref=0.0) == imc.CcdClip()  # defaults: no warning, no change
    with deprecated("zero=/scale="):
        out = imc.ndcombine(X, reject="ccdclip", scale_ref=1.0, zero_ref=0.0)
    same(out, imc.ndcombine(X, reject="ccdclip"))


def test_builtin_rejector_apply():
    with deprecated("imcombiners.kernels.sigclip"):
        got = imc.SigClip(sigma=2.0).apply(X)
    for a, b in zip(got, imck.sigclip(X, sigma=2.0)):
        same(a, b)
    with pytest.warns(DeprecationWarning) as rec:
        got = imc.MinMaxClip(1, 1).apply(X, None, validate=False)
    text = " ".join(str(w.message) for w in rec)
    assert "imcombiners.kernels.minmax" in text and "validate" in text
    same(got[0], imck.minmax(X)[0])


def test_custom_rejector_subclass_runs_through_the_combiner():
    @dataclasses.dataclass(frozen=True)
    class AboveLimit(imc.Rejector):
        limit: float = 150.0

        def apply(self, arr, mask=None, *, validate=True):
            rej = arr > self.limit
            if mask is not None:
                rej = rej | mask
            n = arr.shape[0]
            return rej, None, np.nanmin(arr, axis=0), np.nanmax(arr, axis=0), np.ones(arr.shape[1:], np.uint8), \
                np.zeros(arr.shape[1:], np.uint8)

    with deprecated("Combiner(stack, mask=...)"):
        cmb = imc.Combiner(X).reject(AboveLimit())
    assert cmb.mask[1, 2, 3] and cmb.mask.sum() == 1
    with deprecated("Combiner(stack, mask=...)"):
        out = imc.Combiner(X).combine("mean", rejectors=[AboveLimit(), imc.MinMaxClip(0, 1)])
    m = X > 150.0
    want = imc.Combiner(X, m).combine("mean", rejectors=imc.MinMaxClip(0, 1))
    np.testing.assert_allclose(out, want, rtol=1e-13)
    with pytest.raises(NotImplementedError):
        imc.Rejector()


# --------------------------------------------------------------------------- zero / scale


def test_zero_scale_flags_on_every_entry_point():
    z, s = [1.0, 2.0, 0.0, 3.0, 1.0, 2.0, 0.5], [1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 1.05]
    plain = imc.Combiner(X).combine("mean", zero=z, scale=s, relative=False)
    with deprecated("relative="):
        same(imc.Combiner(X).combine("mean", zero=z, scale=s, zero_to_0th=False, scale_to_0th=False), plain)
    with deprecated("relative="):
        same(imc.Combiner(X).zero_scale(z, s, zero_to_0th=False, scale_to_0th=False).combine("mean"), plain)
    with deprecated("relative="):
        same(imc.ndcombine(X, zero=z, scale=s, zero_to_0th=False, scale_to_0th=False), plain)
    # scale alone: rebasing is the same in 0.1.1 and now
    with deprecated("relative="):
        same(imc.ndcombine(X, scale=s, scale_to_0th=True), imc.ndcombine(X, scale=s))


@pytest.mark.parametrize("old", ["mean_sc", "median_sc", "med_sc"])
def test_sigma_clipped_statistic_names(old):
    new = "sigclip_mean" if old == "mean_sc" else "sigclip_median"
    with deprecated(f"scale='{new}'"):
        got = imc.Combiner(X).combine("mean", scale=old)
    # the old names keep 0.1.1's statistic; on well-behaved frames it equals the new one
    np.testing.assert_allclose(got, imc.Combiner(X).combine("mean", scale=new), rtol=1e-6)


def _plane_sigclip_mean(frame, sigma, maxiters):
    """0.1.1's statistic, written out: re-test the whole frame each pass against the median
    -/+ sigma * (std about the median) of the current survivors."""
    x = frame.ravel()
    keep = np.ones(x.size, bool)
    for _ in range(maxiters):
        v = x[keep]
        c = np.median(v)
        s = np.sqrt(np.mean((v - c) ** 2))
        new = (x >= c - sigma * s) & (x <= c + sigma * s)
        if s == 0 or np.array_equal(new, keep):
            break
        keep = new
    return x[keep].mean()


def test_sigclip_kwargs():
    with deprecated("a callable zero="):
        got = imc.Combiner(X).combine("mean", zero="sigclip_mean", zero_sigclip_kwargs={"sigma": 2.5, "maxiters": 3})
    z = np.array([_plane_sigclip_mean(f, 2.5, 3) for f in X])
    np.testing.assert_allclose(got, np.mean(X - (z - z[0])[:, None, None], axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="foo"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imc.Combiner(X).combine("mean", scale="sigclip_mean", scale_sigclip_kwargs={"foo": 1})


def test_resolve_zero_scale():
    with deprecated("zero_scale"):
        got = imc.resolve_zero_scale("zero", "median", X, to_0th=True)
    med = np.median(X.reshape(len(X), -1), axis=1)
    np.testing.assert_allclose(got.ravel(), med - med[0], rtol=1e-12)
    assert got.shape == (len(X), 1, 1)


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("kind, params", [
    ("sigclip", {"sigma": 2.0}), ("ccdclip", {"sigma": 2.0, "rdnoise": 2.0}), ("minmax", {"n_min": 1, "n_max": 1}),
    ("pclip", {"frac": -0.5}), ("linearclip", {"low_scale": 0.98, "upp_scale": 1.02}),
])
def test_one_d_kernels(kind, params):
    v = X[:, 1, 2].copy()
    m = np.zeros(v.shape, bool)
    m[3] = True
    stack = imck.__dict__[kind](v[:, None], m[:, None], **params)
    with deprecated(f"imcombiners.kernels.{kind}(values[:, None])"):
        got = getattr(imck, f"{kind}_1d")(v, mask=m, **params)
    same(got[0], stack[0][:, 0])
    for a, b in zip(got[1:], stack[1:]):
        assert (a is None and b is None) or np.isscalar(a) and (a == b.item() or (np.isnan(a) and np.isnan(b.item())))
    if kind == "linearclip":
        assert not hasattr(imck, "linearclip_mask_1d")
        return
    with deprecated(f"imcombiners.kernels.{kind}_mask(values[:, None])"):
        same(getattr(imck, f"{kind}_mask_1d")(v, mask=m, **params), stack[0][:, 0])
    with deprecated(f"imcombiners.kernels.{kind}_combine(values[:, None])"):
        c = getattr(imck, f"{kind}_combine_1d")(v, mask=m, combine="median", **params)
    assert isinstance(c, float)
    assert c == getattr(imck, f"{kind}_combine")(v[:, None], m[:, None], combine="median", **params).item()


def test_one_d_kernels_check_their_input():
    with pytest.raises(ValueError, match="1-D"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imck.sigclip_1d(X)


def test_nanaverage():
    w = np.arange(1.0, 8.0)
    with deprecated("imcombiners.kernels.wavg"):
        same(imck.nanaverage(X, w), imck.wavg(X, w))
    with pytest.warns(DeprecationWarning) as rec:
        same(imc.nanaverage(X, w, validate=False), imck.wavg(X, w))
    text = " ".join(str(r.message) for r in rec)
    assert "imcombiners.kernels.wavg" in text and "validate" in text


@pytest.mark.parametrize("name", ["sigclip", "ccdclip", "linearclip", "minmax", "pclip"])
def test_top_level_rejection_kernels(name):
    with deprecated(f"imcombiners.kernels.{name}"):
        got = getattr(imc, name)(X)
    for a, b in zip(got, getattr(imck, name)(X)):
        same(a, b)


def test_top_level_grow_mask():
    m = np.zeros((2, 5, 5), bool)
    m[0, 2, 2] = True
    with deprecated("imcombiners.kernels.grow_mask"):
        same(imc.grow_mask(m, 1), imck.grow_mask(m, 1))
    with deprecated("radius="):
        same(imck.grow_mask(m, grow=1.5), imck.grow_mask(m, 1.5))


def test_arr_keyword():
    with deprecated("stack="):
        same(imck.sigclip_combine(arr=X, combine="median"), imck.sigclip_combine(X, combine="median"))
    with deprecated("stack="):
        same(imc.Combiner(arr=X).combine("mean"), imc.Combiner(X).combine("mean"))
    with deprecated("the first argument"):
        same(imc.ndcombine(arr=X, combine="median"), imc.ndcombine(X, combine="median"))


def test_ndcombine_positional_arguments():
    with deprecated("keyword arguments"):
        got = imc.ndcombine(X, None, (0.0, 170.0), "median", "sigclip", (2.5, 2.5))
    same(got, imc.ndcombine(X, thresholds=(0.0, 170.0), combine="median", reject="sigclip", sigma=(2.5, 2.5)))
    with pytest.raises(TypeError, match="multiple values"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imc.ndcombine(X, None, None, "median", combine="sum")


@pytest.mark.parametrize("call", [
    lambda: imc.Combiner(X, validate=True),
    lambda: imck.sigclip(X, validate=False),
    lambda: imck.minmax_mask(X, validate=True),
    lambda: imck.pclip_combine(X, combine="mean", validate=True),
    lambda: imc.ndcombine(X, validate=True),
    lambda: imc.place_into_padded([X[0], X[1]], [(0, 0), (1, 1)], validate=True),
    lambda: imck.grow_mask(X > 150, 1, validate=True),
])
def test_validate_keyword_is_accepted_and_ignored(call):
    with deprecated("no argument"):
        call()


# --------------------------------------------------------------------------- Combiner


def test_combine_weight_keyword():
    w = np.arange(1.0, 8.0)
    with deprecated("weights="):
        same(imc.Combiner(X).combine("mean", weight=w), imc.Combiner(X).combine("mean", weights=w))


def test_threshold_low_upp_names():
    with deprecated("lo="):
        a = imc.Combiner(X).threshold(low=50).combine("mean")
    with deprecated("hi="):
        b = imc.Combiner(X).threshold(upp=150).combine("mean")
    same(a, imc.Combiner(X).threshold(50).combine("mean"))
    same(b, imc.Combiner(X).threshold(hi=150).combine("mean"))


def test_combiner_state_attributes():
    m = np.zeros(X.shape, bool)
    m[0, 0, 1] = True
    cmb = imc.Combiner(X, m).threshold(0, 170).reject(imc.SigClip(2.0)).reject(imc.MinMaxClip(0, 1), diagnostics="full")
    last = cmb.history[-1]
    with deprecated("Combiner.history[-1]"):
        lr = cmb.last_reject
    assert len(lr) == 6
    same(lr[0], last.mask)
    for name, want in (("mask_rej", last.mask), ("std", last.std), ("low", last.low), ("upp", last.upp),
                       ("nit", last.nit), ("output_flags", last.output_flags)):
        with deprecated("history[-1]"):
            got = getattr(cmb, name)
        if want is None:
            assert got is None
        else:
            same(got, want)
    with deprecated("Combiner.history"):
        hist = cmb.reject_history
    assert len(hist) == 2
    same(hist[0][0], cmb.history[1].mask)
    with deprecated("SampleFlags.THRESHOLD"):
        same(cmb.mask_thresh, X > 170)
    with deprecated("Combiner.mask.sum()"):
        assert cmb.n_rejected == int(cmb.mask.sum())
    with deprecated("Combiner.sample_flags"):
        same(cmb.last_sample_flags, cmb.sample_flags)
    with deprecated("the input stack"):
        arr = cmb.arr
    same(arr, X)
    with deprecated("copy.copy(combiner)"):
        twin = cmb.copy()
    twin.reject(imc.SigClip(1.0))
    assert len(twin.history) == len(cmb.history) + 1
    assert len(copy.copy(cmb).history) == len(cmb.history)


def test_combiner_arr_is_normalised():
    cmb = imc.Combiner(X).zero_scale(scale=[1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0], relative=False)
    with deprecated("the input stack"):
        arr = cmb.arr
    np.testing.assert_allclose(arr[1], X[1] / 2.0)


# --------------------------------------------------------------------------- error types


def test_error_types_stay_catchable_as_011s():
    with pytest.raises(ValueError, match="frac"):
        imck.pclip(X, frac=(0.1, 0.2))
    with pytest.raises(TypeError, match="frac"):
        imc.PClip(frac=(0.1, 0.2))
    for bad in (dict(maxiters=-1), dict(ddof=-1), dict(maxrej=-1)):
        with pytest.raises(OverflowError):
            imck.sigclip(X, **bad)
        with pytest.raises(ValueError):
            imck.sigclip(X, **bad)
    with pytest.raises(OverflowError):
        imc.Combiner(X).variance(ddof=-1)
    with pytest.raises(NotImplementedError):
        imc.Rejector()
    with pytest.raises(ValueError, match="1-D"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        imck.minmax_1d(np.zeros((3, 2)))
