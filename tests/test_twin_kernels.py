"""``imcombiners.kernels`` (imck) and ``imcombiners.ndcombine`` against the twin and NumPy.

The direct kernels and the one-call ``ndcombine`` (IRAF-style names) are thin layers over
the same engine, so what is checked here is the layer: argument names, defaults, aliases,
the 6-tuple of the rejection kernels (mask with every excluded sample, ``std`` None for
the algorithms without a spread), dtypes, and that each gives what the twin
(tests/helpers/reference.py) computes from the equivalent twin rejector.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

QS = [0.0, 0.1, 0.25, 0.5, 0.77, 1.0]
FINAL = ["mean", "median", "lmedian", "sum", "min", "max", "variance"]


def _imck():
    import imcombiners.kernels as imck

    return imck


def _kernel_combine(imck, method, data, mask, *, ddof=0, q=None, weights=None, blank=None):
    """Call the imck combine of ``method`` with its own signature."""
    if method == "sum":
        return imck.sum(data, mask, blank=blank)
    if method == "variance":
        return imck.variance(data, mask, ddof=ddof)
    if method == "wavg":
        return imck.wavg(data, weights, mask)
    if method == "quantile":
        return imck.quantile(data, q, mask)
    return getattr(imck, method)(data, mask)


@given(case=sts.stacks(budget=2000), method=st.sampled_from(sts.METHODS),
       ddof=st.sampled_from([0, 1, 2]), q=st.sampled_from(QS),
       blank=st.sampled_from([None, None, -7.5]))
def test_kernel_combines_match_numpy_and_twin(case, method, ddof, q, blank):
    imck = _imck()
    weights = None
    if method == "wavg":
        weights = np.random.default_rng(case.params["seed"]).uniform(0.1, 3, case.n)
    got = _kernel_combine(imck, method, case.data, case.mask, ddof=ddof, q=q, weights=weights,
                          blank=blank)
    h.assert_canonical_nan(got, method)
    # independent: NumPy's nan-reductions
    x = h.excluded_nan(case.data, case.mask)
    want = h.numpy_combine(x, method, ddof=ddof, q=q, weights=weights)
    if method == "sum" and blank is not None:
        want = np.where(np.isfinite(x).any(axis=0), want, blank)
    mag = np.nanmax(np.abs(x), axis=0, initial=0.0)
    mag = mag**2 if method == "variance" else mag
    rtol = h.rtol_for(case.data.dtype)
    assert got.shape == case.spatial
    h.assert_close(got, want, rtol=rtol, atol=rtol * mag, err=f"{method} vs numpy")
    # the twin (blank only where the kernel exposes it)
    tw = ref.combine(case.data, case.mask, method=method, weights=weights, ddof=ddof,
                     q=q if method == "quantile" else None, blank=blank if method == "sum" else None)
    h.assert_close(got, tw.data, rtol=rtol, atol=rtol * mag, err=f"{method} vs twin")
    # dtype: integer input keeps its dtype for lmedian/min/max without a mask
    ws = ref.workspace_dtype(case.data.dtype)
    exact = case.data.dtype.kind in "iu" and method in ("lmedian", "min", "max") and case.mask is None
    assert got.dtype == (case.data.dtype.newbyteorder("=") if exact else ws)


REJECTION_KERNELS = {
    "sigclip": sts.sigclips,
    "ccdclip": sts.ccdclips,
    "linearclip": sts.linearclips,
    "minmax": sts.minmaxclips,
    "pclip": sts.pclips,
}


def _params(rej) -> dict:
    """Keyword arguments of an imck rejection kernel equal to a twin rejector."""
    kw = {f.name: getattr(rej, f.name) for f in dataclasses.fields(rej)}
    if kw.get("grow") is None:
        kw.pop("grow", None)
    return kw


@h.more_examples(3)
@pytest.mark.parametrize("kind", sorted(REJECTION_KERNELS))
@given(data=st.data())
def test_rejection_kernels_match_twin(kind, data):
    """X(...) 6-tuple, X_mask and X_combine against the twin on the same stack."""
    imck = _imck()
    case = data.draw(sts.stacks(budget=1500), label="case")
    rej = data.draw(REJECTION_KERNELS[kind](grow=True), label="rejector")
    method = data.draw(st.sampled_from(FINAL), label="combine")
    kw = _params(rej)
    mask_rej, std, low, upp, nit, oflags = getattr(imck, kind)(case.data, case.mask, **kw)
    tw = ref.combine(case.data, case.mask, method=method, rejectors=[rej])

    assert mask_rej.shape == (case.n,) + case.spatial and mask_rej.dtype == bool
    for a in (low, upp, nit, oflags):
        assert a.shape == case.spatial
    has_spread = kind in ("sigclip", "ccdclip")
    assert (std is not None) == has_spread, f"std must be None exactly for {kind} without spread"
    got = {"mask": mask_rej, "nit": nit, "low": low, "upp": upp, "std": std, "output_flags": oflags}
    parts = ["mask", "output_flags", "nit", "low", "upp"] + (["std"] if has_spread else [])
    h.compare_to_twin(got, tw, parts=parts, err=f"imck.{kind} {rej}")

    only_mask = getattr(imck, f"{kind}_mask")(case.data, case.mask, **kw)
    assert np.array_equal(only_mask, mask_rej), f"{kind}_mask != {kind}()[0]"
    fused = getattr(imck, f"{kind}_combine")(case.data, case.mask, combine=method, **kw)
    h.compare_to_twin({"data": fused}, tw, method=method, parts=("data",), err=f"{kind}_combine")
    # the fused image is the combine of the survivors of the mask (identity rule)
    replay = _kernel_combine(imck, method, case.data, mask_rej)
    assert fused.tobytes() == np.asarray(replay, dtype=fused.dtype).tobytes()


def test_rejection_kernel_defaults_are_the_rejector_defaults(rng):
    """imck.X(stack) with no parameter == the twin with the dataclass defaults."""
    imck = _imck()
    x = rng.normal(1000, 30, (11, 4, 6))
    x[rng.random(x.shape) < 0.08] += 400
    for kind, rej in (("sigclip", ref.SigClip()), ("ccdclip", ref.CcdClip()),
                      ("linearclip", ref.LinearClip()), ("minmax", ref.MinMaxClip()),
                      ("pclip", ref.PClip())):
        tw = ref.combine(x, rejectors=[rej])
        got = getattr(imck, kind)(x)
        keep = ~tw.fragile
        assert keep.mean() > 0.5
        assert np.array_equal(got[0][:, keep], tw.mask[:, keep]), kind
        h.assert_close(getattr(imck, f"{kind}_combine")(x)[keep], tw.data[keep], rtol=1e-11, err=kind)


# ---------------------------------------------------------------------------------------
# ndcombine with IRAF-style names
# ---------------------------------------------------------------------------------------

#: IRAF / alias spellings of the combine methods accepted by ndcombine.
COMBINE_ALIASES = {"average": "mean", "mean": "mean", "median": "median", "lmedian": "lmedian",
                   "sum": "sum", "minimum": "min", "maximum": "max", "variance": "variance"}


@st.composite
def iraf_calls(draw):
    """(ndcombine keyword arguments, equivalent twin rejector or None)."""
    reject = draw(st.sampled_from(["none", "sigclip", "ccdclip", "crreject", "avsigclip",
                                   "linearclip", "minmax", "pclip"]))
    kw: dict = {"reject": reject}
    lsig, hsig = draw(st.sampled_from([1.5, 2.5, 3.0])), draw(st.sampled_from([1.5, 2.5, 3.0]))
    mclip = draw(st.sampled_from([True, False, "yes", "no", None]))
    cen = "median" if mclip in (True, "yes", None) else "mean"
    nkeep = draw(st.sampled_from([0, 1, 2, -1]))
    grow = draw(st.sampled_from([None, None, 1.0]))
    if reject != "none":
        kw["grow"] = grow
    if mclip is not None and reject in ("sigclip", "ccdclip", "crreject", "avsigclip", "linearclip"):
        kw["mclip"] = mclip
    rej = None
    if reject in ("sigclip", "ccdclip", "crreject", "avsigclip", "pclip"):
        kw.update(lsigma=lsig, hsigma=hsig, nkeep=nkeep)
    if reject == "sigclip":
        maxiters = draw(st.sampled_from([None, 1, 3]))
        stdfunc = draw(st.sampled_from(["std", "mad", "iraf"]))
        kw.update(stdfunc=stdfunc)
        if maxiters is not None:
            kw["maxiters"] = maxiters
        rej = ref.SigClip(sigma=(lsig, hsig), cenfunc=cen, stdfunc=stdfunc, nkeep=nkeep,
                          maxiters=5 if maxiters is None else maxiters, grow=grow)
    elif reject in ("ccdclip", "crreject"):
        noise = dict(rdnoise=draw(st.sampled_from([0.0, 5.0])), gain=draw(st.sampled_from([1.0, 2.5])),
                     snoise=draw(st.sampled_from([0.0, 0.05])), sigscale=draw(st.sampled_from([0.0, 0.1])))
        kw.update(noise)
        rej = ref.CcdClip(sigma=(lsig, hsig), cenfunc=cen, nkeep=nkeep, high_only=reject == "crreject",
                          grow=grow, **noise)
    elif reject == "avsigclip":
        rej = ref.AvSigClip(sigma=(lsig, hsig), cenfunc=cen, nkeep=nkeep, grow=grow)
    elif reject == "linearclip":
        b = dict(low_scale=draw(st.sampled_from([0.9, 1.0])), low=draw(st.sampled_from([0.0, 30.0])),
                 upp_scale=draw(st.sampled_from([1.0, 1.1])), upp=draw(st.sampled_from([0.0, 30.0])))
        kw.update(b, nkeep=nkeep)
        rej = ref.LinearClip(cenfunc=cen, nkeep=nkeep, grow=grow, **b)
    elif reject == "minmax":
        nlow, nhigh = draw(st.sampled_from([0, 1, 2, 0.2])), draw(st.sampled_from([0, 1, 2, 0.3]))
        kw.update(nlow=nlow, nhigh=nhigh)
        rej = ref.MinMaxClip(nlow, nhigh, grow=grow)
    elif reject == "pclip":
        frac = draw(st.sampled_from([-0.5, 0.5, -1.0, 2.0]))
        kw["pclip"] = frac
        rej = ref.PClip(frac=frac, sigma=(lsig, hsig), nkeep=nkeep, grow=grow)
    return kw, rej


@h.more_examples(3)
@given(case=sts.stacks(budget=1500), data=st.data())
def test_ndcombine_iraf_names_match_twin(case, data):
    from imcombiners import ndcombine

    kw, rej = data.draw(iraf_calls(), label="ndcombine kwargs")
    alias = data.draw(st.sampled_from(sorted(COMBINE_ALIASES)), label="combine")
    method = COMBINE_ALIASES[alias]
    twin_kw: dict = {}
    # thresholds by IRAF name
    thr = data.draw(sts.thresholds_for(case), label="thresholds")
    if thr is not None:
        kw["lthreshold"], kw["hthreshold"] = thr
        twin_kw["thresholds"] = thr
    # literal zero/scale vectors, relative to the first frame (IRAF) or as given
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    relative = data.draw(st.booleans(), label="relative")
    kw.update(zero=zero, scale=scale, relative=relative)
    if relative:  # the documented convention (imcombiners/_stats.py, module docstring)
        if scale is not None:
            scale = scale / scale[0]
        if zero is not None:
            zero = zero - zero[0] * (scale if scale is not None else 1.0)
            zero[0] = 0.0
    twin_kw.update(zero=zero, scale=scale)
    # IRAF's "weight" turns average into a weighted average
    if method == "mean" and data.draw(st.booleans(), label="weighted"):
        w = np.random.default_rng(case.params["seed"]).uniform(0.2, 2.0, case.n)
        kw["weight"] = w
        twin_kw["weights"] = w
    diagnostics = data.draw(st.sampled_from([None, "full"]), label="diagnostics")

    res = ndcombine(case.data, case.mask, combine=alias, diagnostics=diagnostics, **kw)
    tw = ref.combine(case.data, case.mask, method=method, rejectors=[] if rej is None else [rej],
                     **twin_kw)
    if diagnostics is None:
        h.compare_to_twin({"data": res}, tw, method=method, parts=("data",), err=f"{kw}")
        return
    got = {"data": res.data, "mask": res.mask, "nused": res.nused, "output_flags": res.output_flags,
           "sample_flags": res.sample_flags, "nit": res.nit, "low": res.low, "upp": res.upp,
           "std": res.std}
    parts = ["data", "mask", "nused", "output_flags", "sample_flags"]
    if rej is not None:
        parts += ["nit", "low", "upp"]
        has_spread = isinstance(rej, (ref.SigClip, ref.CcdClip, ref.AvSigClip))
        assert (res.std is not None) == has_spread
        if has_spread:
            parts.append("std")
    else:
        assert res.nit is None and res.std is None
    h.compare_to_twin(got, tw, method=method, parts=parts, err=f"{kw}")


def test_ndcombine_defaults_are_irafs(rng):
    """reject='minmax' without counts = nlow = nhigh = 1; mclip default = median centre;
    lsigma/hsigma default 3; crreject = ccdclip without the low side."""
    from imcombiners import ndcombine

    x = rng.normal(1000, 30, (9, 5, 7))
    x[rng.random(x.shape) < 0.1] += 300
    x[rng.random(x.shape) < 0.05] -= 300
    for kw, rej in (({"reject": "minmax"}, ref.MinMaxClip(1, 1)),
                    ({"reject": "sigclip"}, ref.SigClip(sigma=3.0, cenfunc="median")),
                    ({"reject": "crreject", "rdnoise": 5.0, "gain": 2.0},
                     ref.CcdClip(rdnoise=5.0, gain=2.0, high_only=True)),
                    ({"reject": "avsigclip"}, ref.AvSigClip()),
                    ({"reject": "pclip"}, ref.PClip())):
        tw = ref.combine(x, method="median", rejectors=[rej])
        res = ndcombine(x, combine="median", diagnostics="simple", **kw)
        keep = ~tw.fragile
        assert keep.mean() > 0.5, kw
        assert np.array_equal(res.mask[:, keep], tw.mask[:, keep]), kw
        h.assert_close(res.data[keep], tw.data[keep], rtol=1e-11, err=str(kw))
