"""ndcombine: IRAF-style and pythonic names, reject methods, dtype of the pure path."""

from __future__ import annotations

import numpy as np
import pytest

import imcombiners as imc


def _stack(dtype=np.float64, seed=8):
    rng = np.random.default_rng(seed)
    s = rng.normal(1000.0, 20.0, (12, 10, 11))
    s[3, 2, 2] = 9000.0   # high outlier
    s[4, 3, 3] = -5000.0  # low outlier
    return s.astype(dtype)


def test_iraf_and_pythonic_names_are_equivalent():
    s = _stack()
    pairs = [
        (dict(reject="sigclip", lsigma=2.0, hsigma=2.5), dict(rejectors=imc.SigClip(sigma=(2.0, 2.5)))),
        (dict(reject="sigclip", mclip=False), dict(rejectors=imc.SigClip(cenfunc="mean"))),
        (dict(reject="sigclip", sigma=(2, 3), cenfunc="mean"), dict(rejectors=imc.SigClip((2, 3), cenfunc="mean"))),
        (dict(reject="minmax", nlow=2, nhigh=1), dict(rejectors=imc.MinMaxClip(2, 1))),
        (dict(reject="minmax", n_minmax=(0, 0.25)), dict(rejectors=imc.MinMaxClip(0, 0.25))),
        (dict(reject="ccdclip", rdnoise=5, gain=2, snoise=0.01), dict(rejectors=imc.CcdClip(rdnoise=5, gain=2, snoise=0.01))),
        (dict(reject="pclip", pclip=-0.3, lsigma=2), dict(rejectors=imc.PClip(-0.3, sigma=(2, 3)))),
        (dict(reject="linearclip", low=40, upp=40), dict(rejectors=imc.LinearClip(low=40, upp=40))),
        (dict(lthreshold=0, hthreshold=5000), dict(thresholds=(0, 5000))),
        (dict(lthreshold=0), dict(thresholds=(0, None))),
        (dict(weight=np.arange(1, 13)), dict(weights=np.arange(1, 13))),
        (dict(reject="sigclip", nkeep=-2, maxrej=3, revert_on_nkeep=False, maxiters=2),
         dict(rejectors=imc.SigClip(nkeep=-2, maxrej=3, revert_on_nkeep=False, maxiters=2))),
        (dict(reject="sigclip", grow=1), dict(rejectors=imc.SigClip(grow=1))),
    ]
    for nd_kw, cmb_kw in pairs:
        got = imc.ndcombine(s, combine="average", **nd_kw)
        want = imc.Combiner(s).combine("mean", **cmb_kw)
        np.testing.assert_array_equal(got, want, err_msg=str(nd_kw))


def test_crreject_rejects_only_high_outliers():
    s = _stack()
    res = imc.ndcombine(s, reject="crreject", rdnoise=5, gain=1, diagnostics="simple")
    assert res.mask[3, 2, 2]
    assert not res.mask[4, 3, 3]
    both = imc.ndcombine(s, reject="ccdclip", rdnoise=5, gain=1, diagnostics="simple")
    assert both.mask[4, 3, 3] and both.mask[3, 2, 2]


@pytest.mark.parametrize("kw, match", [
    (dict(sigma=3, lsigma=2), "sigma or lsigma"),
    (dict(mclip=True, cenfunc="mean", reject="sigclip"), "mclip or cenfunc"),
    (dict(nlow=1, n_minmax=(1, 1), reject="minmax"), "n_minmax or nlow"),
    (dict(thresholds=(0, 1), lthreshold=0), "thresholds or lthreshold"),
    (dict(weight=[1] * 12, weights=[1] * 12), "weight or weights"),
    (dict(reject="avsigclipx"), "reject: unknown method"),
    (dict(grow=1), "grow needs"),
])
def test_conflicting_or_unknown_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        imc.ndcombine(_stack(), **kw)


def test_reject_none_names_and_mclip_strings():
    s = _stack()
    base = imc.ndcombine(s, combine="median")
    np.testing.assert_array_equal(imc.ndcombine(s, combine="median", reject="none"), base)
    np.testing.assert_array_equal(
        imc.ndcombine(s, reject="sigclip", mclip="no"), imc.ndcombine(s, reject="sigclip", mclip=False)
    )
    with pytest.raises(TypeError, match="reject must be"):
        imc.ndcombine(s, reject=3)


def test_diagnostics_return_a_combine_result():
    res = imc.ndcombine(_stack(), reject="minmax", diagnostics="full")
    assert isinstance(res, imc.CombineResult)
    assert res.sample_flags.shape == (12, 10, 11)
    assert res.mask.sum() == 2 * 10 * 11  # one low and one high per element


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32])
def test_pure_path_dtype_matches_combiner(dtype):
    rng = np.random.default_rng(0)
    s = rng.integers(0, 100, (5, 4, 3)).astype(dtype)
    ws = np.float32 if dtype != np.int32 else np.float64
    for method in ("lmedian", "min", "max"):
        assert imc.ndcombine(s, combine=method).dtype == dtype
        assert imc.kernels.lmedian(s).dtype == dtype
        assert imc.ndcombine(s, combine=method, reject="minmax").dtype == ws
    for method in ("mean", "median", "sum", "variance"):
        # same float workspace in every mode (0.1.1 gave float64 here but float32 in Combiner)
        assert imc.ndcombine(s, combine=method).dtype == ws
        assert imc.Combiner(s).combine(method).dtype == ws


def test_zero_scale_weight_statistics_and_statsec():
    s = _stack() * np.linspace(1, 2, 12)[:, None, None]
    a = imc.ndcombine(s, scale="median", statsec="[2:9,3:8]")
    b = imc.Combiner(s).combine("mean", scale="median", statsec=(slice(2, 8), slice(1, 9)))
    np.testing.assert_array_equal(a, b)
    c = imc.ndcombine(s, weight="median", scale="median")
    assert c.shape == (10, 11)
