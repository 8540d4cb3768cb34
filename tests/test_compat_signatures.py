"""Every parameter of imcombiners 0.1.1's public signatures is still accepted.

The parameter lists and defaults are 0.1.1's (its API as published; they match the seed
research notes). Each call passes every optional parameter explicitly at its 0.1.1
default, as generated or careful 0.1.1 code does, and must give what the call without
them gives (deprecated keywords may warn: that is tested in test_compat_aliases.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# 0.1.1's keyword defaults, per rejection family.
SIG = dict(sigma=(3.0, 3.0), maxiters=5, ddof=0, nkeep=1, maxrej=None, cenfunc="median", clip_cen=None,
           stdfunc="std", revert_on_nkeep=True)
CCD = dict(sigma=(3.0, 3.0), maxiters=5, ddof=0, nkeep=1, maxrej=None, cenfunc="median", clip_cen=None,
           revert_on_nkeep=True, rdnoise=0.0, gain=1.0, snoise=0.0, scale_ref=1.0, zero_ref=0.0)
LIN = dict(low_scale=1.0, low=0.0, upp_scale=1.0, upp=0.0, maxiters=1, nkeep=1, maxrej=None, cenfunc="median",
           revert_on_nkeep=True)
MM = dict(n_min=1, n_max=1)
PC = dict(frac=-0.5, sigma=3.0, nkeep=1)
FAMILIES = {"sigclip": SIG, "ccdclip": CCD, "linearclip": LIN, "minmax": MM, "pclip": PC}

NDCOMBINE = dict(mask=None, thresholds=None, combine="mean", reject=None, sigma=(3.0, 3.0), cenfunc="median",
                 clip_cen=None, maxiters=5, ddof=0, nkeep=1, maxrej=None, n_minmax=(1, 1), rdnoise=0.0, gain=1.0,
                 snoise=0.0, pclip=-0.5, zero=None, scale=None, zero_to_0th=True, scale_to_0th=True,
                 zero_sigclip_kwargs=None, scale_sigclip_kwargs=None, weight=None, revert_on_nkeep=True, grow=None,
                 full=False, diagnostics=None, scale_ref=1.0, zero_ref=0.0, validate=True)
COMBINE = dict(weight=None, ddof=0, zero=None, scale=None, zero_to_0th=True, scale_to_0th=True,
               zero_sigclip_kwargs=None, scale_sigclip_kwargs=None, thresholds=None, rejectors=None, full=False,
               diagnostics=None)
ZERO_SCALE = dict(zero=None, scale=None, zero_to_0th=True, scale_to_0th=True, zero_sigclip_kwargs=None,
                  scale_sigclip_kwargs=None)
REJECTOR_FIELDS = {
    "SigClip": dict(sigma=(3.0, 3.0), maxiters=5, cenfunc="median", clip_cen=None, stdfunc="std", ddof=0, nkeep=1,
                    maxrej=None, revert_on_nkeep=True, grow=None),
    "CcdClip": dict(sigma=(3.0, 3.0), maxiters=5, cenfunc="median", clip_cen=None, ddof=0, nkeep=1, maxrej=None,
                    revert_on_nkeep=True, rdnoise=0.0, gain=1.0, snoise=0.0, scale_ref=1.0, zero_ref=0.0, grow=None),
    "LinearClip": dict(low_scale=1.0, low=0.0, upp_scale=1.0, upp=0.0, maxiters=1, cenfunc="median", nkeep=1,
                       maxrej=None, revert_on_nkeep=True, grow=None),
    "MinMaxClip": dict(n_min=1, n_max=1, grow=None),
    "PClip": dict(frac=-0.5, sigma=3.0, nkeep=1, grow=None),
}


def _stack():
    rng = np.random.default_rng(8)
    x = rng.normal(50.0, 2.0, (9, 4, 5))
    x[3, 1, 1] = 90.0
    return x


X = _stack()


def _equal(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _equal(u, v)
    elif a is None or b is None:
        assert a is None and b is None
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_rejection_kernels_take_every_011_parameter(kind):
    params = FAMILIES[kind]
    fn = getattr(imck, kind)
    _equal(fn(X, mask=None, grow=None, validate=True, **params), fn(X))
    v = X[:, 1, 1].copy()
    _equal(getattr(imck, f"{kind}_1d")(v, mask=None, validate=True, **params), getattr(imck, f"{kind}_1d")(v))
    if kind == "linearclip":
        return  # 0.1.1 had no linearclip_mask / _combine (they exist now)
    _equal(getattr(imck, f"{kind}_mask")(X, mask=None, grow=None, validate=True, **params), getattr(imck, f"{kind}_mask")(X))
    _equal(getattr(imck, f"{kind}_combine")(X, mask=None, combine="median", validate=True, **params),
           getattr(imck, f"{kind}_combine")(X, combine="median"))
    _equal(getattr(imck, f"{kind}_mask_1d")(v, mask=None, validate=True, **params), getattr(imck, f"{kind}_mask_1d")(v))
    a = getattr(imck, f"{kind}_combine_1d")(v, mask=None, combine="mean", validate=True, **params)
    assert a == getattr(imck, f"{kind}_combine_1d")(v, combine="mean")


def test_other_kernels_take_every_011_parameter():
    w = np.arange(1.0, 10.0)
    _equal(imck.nanaverage(X, w, validate=True), imck.nanaverage(X, w))
    m = X > 80
    _equal(imck.grow_mask(m, 1.0, validate=True), imck.grow_mask(m, 1.0))


def test_ndcombine_takes_every_011_parameter():
    _equal(imc.ndcombine(X, **NDCOMBINE), imc.ndcombine(X))
    for reject in ("sigclip", "ccdclip", "minmax", "pclip"):
        kw = dict(NDCOMBINE, reject=reject)
        _equal(imc.ndcombine(X, **kw), imc.ndcombine(X, reject=reject))
    # every parameter positionally, in 0.1.1's order
    args = [NDCOMBINE[k] for k in NDCOMBINE]
    _equal(imc.ndcombine(X, *args), imc.ndcombine(X))


def test_combiner_takes_every_011_parameter():
    _equal(imc.Combiner(X, None, copy=True, validate=True).combine("median"), imc.Combiner(X).combine("median"))
    _equal(imc.Combiner(X).combine("mean", **COMBINE), imc.Combiner(X).combine("mean"))
    _equal(imc.Combiner(X).zero_scale(**ZERO_SCALE).combine("mean"), imc.Combiner(X).combine("mean"))
    _equal(imc.Combiner(X).threshold(low=-math.inf, upp=math.inf).combine("mean"), imc.Combiner(X).combine("mean"))
    cmb = imc.Combiner(X).reject(imc.SigClip(), grow=None, diagnostics="simple")
    _equal(cmb.combine("mean"), imc.Combiner(X).combine("mean", rejectors=imc.SigClip()))
    _equal(imc.Combiner(X).variance(ddof=1, return_mean=False), imc.Combiner(X).variance())


@pytest.mark.parametrize("name", sorted(REJECTOR_FIELDS))
def test_rejectors_take_every_011_field(name):
    cls = getattr(imc, name)
    assert cls(**REJECTOR_FIELDS[name]) == cls()


def test_helpers_take_every_011_parameter():
    a = np.ones((2, 2))
    _equal(imc.place_into_padded([a, a], [(0, 0), (1, 1)], fill=math.nan, validate=True),
           imc.place_into_padded([a, a], [(0, 0), (1, 1)]))
    _equal(imc.resolve_zero_scale("zero", "median", X, nonzero=False, to_0th=False, sigclip_kwargs=None, validate=True),
           imc.resolve_zero_scale("zero", "median", X))
