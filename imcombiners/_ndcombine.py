"""``ndcombine``: the whole combine in one call, with IRAF-style or pythonic names."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from ._combine_request import full_or_diagnostics
from ._combiner import CombineResult, Combiner
from ._deprecation import pop_validate, warn_deprecated
from ._legacy import legacy_tuple
from ._rejectors import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip
from ._rejectors_modern import GESDClip, LinearFitClip, WinsorizedSigClip
from ._validate import as_sigma_pair

__all__ = ["ndcombine", "REJECT_METHODS"]

#: Accepted values of ``reject``.
REJECT_METHODS = ("none", "sigclip", "ccdclip", "crreject", "varclip", "avsigclip", "linearclip", "minmax",
                  "pclip", "winsorized", "gesd", "linearfit")
#: Other spellings of ``reject`` (Siril's and PixInsight's names).
_REJECT_ALIASES = {"winsorized_sigclip": "winsorized", "esd": "gesd", "gesdt": "gesd",
                   "linear_fit": "linearfit"}

#: 0.1.1's positional order after ``(arr, mask)`` (all its parameters were positional).
_POSITIONAL_011 = (
    "thresholds", "combine", "reject", "sigma", "cenfunc", "clip_cen", "maxiters", "ddof", "nkeep",
    "maxrej", "n_minmax", "rdnoise", "gain", "snoise", "pclip", "zero", "scale", "zero_to_0th",
    "scale_to_0th", "zero_sigclip_kwargs", "scale_sigclip_kwargs", "weight", "revert_on_nkeep",
    "grow", "full", "diagnostics", "scale_ref", "zero_ref", "validate",
)
#: 0.1.1 keywords that have no parameter of their own here any more.
_LEGACY_KEYWORDS = frozenset({"arr", "clip_cen", "zero_to_0th", "scale_to_0th", "zero_sigclip_kwargs",
                              "scale_sigclip_kwargs", "full", "scale_ref", "zero_ref", "validate"})
class _Required:
    """Default of ``stack``: required, but 0.1.1's ``arr=`` may stand in for it."""

    def __repr__(self) -> str:
        return "<required>"


_MISSING: Any = _Required()


def _one_of(name_a: str, a: Any, name_b: str, b: Any) -> None:
    if a is not None and b is not None:
        raise ValueError(f"give either {name_a} or {name_b}, not both")


def _centre(mclip: Any, cenfunc: Any) -> str:
    _one_of("mclip", mclip, "cenfunc", cenfunc)
    if mclip is None:
        return "median" if cenfunc is None else cenfunc
    if isinstance(mclip, (bool, np.bool_)):
        return "median" if mclip else "mean"
    if isinstance(mclip, str) and mclip.strip().lower() in ("yes", "no"):
        return "median" if mclip.strip().lower() == "yes" else "mean"
    if isinstance(mclip, str):
        return mclip  # a centre name; validated by the rejector
    raise TypeError(f"mclip must be True/False (median/mean centre) or a centre name; got {mclip!r}")


def _sigma(sigma: Any, lsigma: Any, hsigma: Any) -> tuple[float, float]:
    if sigma is not None and (lsigma is not None or hsigma is not None):
        raise ValueError("give either sigma or lsigma/hsigma, not both")
    if sigma is not None:
        return as_sigma_pair(sigma)
    lo = 3.0 if lsigma is None else lsigma
    hi = 3.0 if hsigma is None else hsigma
    return as_sigma_pair((lo, hi))


def _thresholds(thresholds: Any, lthreshold: Any, hthreshold: Any) -> Any:
    if thresholds is not None and (lthreshold is not None or hthreshold is not None):
        raise ValueError("give either thresholds or lthreshold/hthreshold, not both")
    if thresholds is not None:
        return thresholds
    if lthreshold is None and hthreshold is None:
        return None
    return (-math.inf if lthreshold is None else lthreshold, math.inf if hthreshold is None else hthreshold)


def _minmax_counts(nlow: Any, nhigh: Any, n_minmax: Any) -> tuple[Any, Any]:
    if n_minmax is not None and (nlow is not None or nhigh is not None):
        raise ValueError("give either n_minmax or nlow/nhigh, not both")
    if n_minmax is not None:
        if isinstance(n_minmax, (str, bytes)) or not hasattr(n_minmax, "__len__") or len(n_minmax) != 2:
            raise TypeError(f"n_minmax must be a (n_low, n_high) pair; got {n_minmax!r}")
        return n_minmax[0], n_minmax[1]
    return (1 if nlow is None else nlow), (1 if nhigh is None else nhigh)


def ndcombine(
    stack: Any = _MISSING,
    mask: Any = None,
    *legacy_args: Any,
    combine: str = "mean",
    reject: str | None = None,
    sigma: Any = None,
    lsigma: float | None = None,
    hsigma: float | None = None,
    mclip: Any = None,
    cenfunc: str | None = None,
    stdfunc: str = "std",
    ddof: int = 0,
    maxiters: int | None = None,
    nkeep: int = 1,
    maxrej: int | None = None,
    revert_on_nkeep: bool = True,
    nlow: float | None = None,
    nhigh: float | None = None,
    n_minmax: Any = None,
    rdnoise: float = 0.0,
    gain: float = 1.0,
    snoise: float = 0.0,
    sigscale: float = 0.1,
    pclip: float = -0.5,
    low_scale: float = 1.0,
    low: float = 0.0,
    upp_scale: float = 1.0,
    upp: float = 0.0,
    grow: float | None = None,
    lthreshold: float | None = None,
    hthreshold: float | None = None,
    thresholds: Any = None,
    zero: Any = None,
    scale: Any = None,
    weight: Any = None,
    weights: Any = None,
    statsec: Any = None,
    relative: bool = True,
    blank: float | None = None,
    q: float | None = None,
    diagnostics: Any = None,
    spread_centre: str | None = None,
    max_outliers: float = 0.3,
    significance: float = 0.05,
    cutoff: float = 1.5,
    variance: Any = None,
    dq: Any = None,
    bad_bits: Any = None,
    nodata_bit: int | None = None,
    exptime: Any = None,
    **legacy: Any,
) -> np.ndarray | CombineResult:
    """Combine a stack in one call (library semantics, IRAF-style names accepted).

    Parameters
    ----------
    stack, mask
        As for :class:`~imcombiners.Combiner`.
    combine
        Combine method (see :meth:`Combiner.combine`).
    reject
        None/"none", "sigclip", "ccdclip", "crreject" (ccdclip, high side only),
        "varclip" (each sample's own sigma from ``variance``), "avsigclip", "linearclip",
        "minmax", "pclip", or beyond IRAF (Siril / PixInsight): "winsorized" (winsorized
        sigma clipping), "gesd" (generalized ESD test; also "esd", "gesdt"), "linearfit"
        (linear fit clipping).
    sigma, lsigma, hsigma
        Clipping limits: ``sigma`` (one number or ``(lo, hi)``) or IRAF's
        ``lsigma``/``hsigma`` (each defaults to 3; linearfit: 5).
    mclip, cenfunc
        Clipping centre: IRAF's ``mclip`` (True = median, False = mean) or ``cenfunc``
        (median, mean, lmedian). Default median.
    stdfunc, ddof
        Spread of sigclip (std, mad, iraf) and its ddof (``ddof`` is also the delta
        degrees of freedom of ``combine="variance"``).
    maxiters
        Maximum passes (default 5 for sigclip/ccdclip, 1 for linearclip).
    nkeep, maxrej, revert_on_nkeep
        Limits of the clippers (see :class:`~imcombiners.SigClip`).
    nlow, nhigh, n_minmax
        Counts (or fractions < 1) of lowest/highest samples rejected by minmax
        (default 1 and 1).
    rdnoise, gain, snoise, sigscale
        CCD noise model (electrons, electrons/ADU, fraction) and scale tolerance.
    pclip
        Rank offset of pclip (IRAF meaning).
    low_scale, low, upp_scale, upp
        LinearClip bounds.
    grow
        Spatial grow radius (pixels) of the rejections.
    lthreshold, hthreshold, thresholds
        Inclusive keep range on raw values (IRAF names or one ``(lo, hi)`` pair).
    zero, scale, weight (or weights), statsec, relative
        Normalisation and weights (see :meth:`Combiner.combine`).
    blank
        Value where no sample is left (default NaN; sum gives 0).
    q
        Quantile for ``combine="quantile"``.
    diagnostics
        None (image only), "simple" or "full" (:class:`~imcombiners.CombineResult`), or a
        list of output names (see :meth:`Combiner.combine`; e.g. ``["variance", "dq"]``).
    variance, dq, bad_bits
        Per-sample variances and integer DQ words, as for :class:`~imcombiners.Combiner`.
    nodata_bit, exptime
        As for :meth:`Combiner.combine`.
    spread_centre
        Centre the sigclip spread (and the ccdclip noise level) is measured about; None:
        the clipping centre (see :class:`~imcombiners.SigClip`).
    max_outliers, significance
        gesd: largest outlier fraction and significance level of the test
        (:class:`~imcombiners.GESDClip`; Siril's two GESD parameters).
    cutoff
        winsorized: winsorization cutoff in sigma (:class:`~imcombiners.WinsorizedSigClip`).
    **legacy
        imcombiners 0.1.1 spellings, accepted with a DeprecationWarning: ``arr`` (the
        stack), positional arguments after ``mask`` (0.1.1's order), ``clip_cen``
        (``spread_centre``), ``full=True`` (returns 0.1.1's 8-tuple), ``zero_to_0th``,
        ``scale_to_0th``, ``zero_sigclip_kwargs``, ``scale_sigclip_kwargs``, ``scale_ref``,
        ``zero_ref`` (ccdclip) and ``validate``.

    Returns
    -------
    numpy.ndarray or CombineResult
        dtype as for :meth:`Combiner.combine`: an integer stack keeps its dtype for
        lmedian/min/max when nothing is masked, thresholded, normalised, weighted or
        rejected (every output is then one of the input samples); everything else is the
        float workspace (float32 for uint8/uint16/int16/float32, float64 for int32/float64),
        the same in every mode.
    """
    if stack is _MISSING or legacy_args or legacy:
        here = locals()
        return _legacy_call(stack, mask, legacy_args, {k: here[k] for k in _KEYWORD_DEFAULTS}, legacy)
    # Conflicting spellings are errors whatever the algorithm (IRAF would silently pick one).
    _one_of("weight", weight, "weights", weights)
    if sigma is not None and (lsigma is not None or hsigma is not None):
        raise ValueError("give either sigma or lsigma/hsigma, not both")
    _one_of("mclip", mclip, "cenfunc", cenfunc)
    if n_minmax is not None and (nlow is not None or nhigh is not None):
        raise ValueError("give either n_minmax or nlow/nhigh, not both")
    w = weight if weight is not None else weights
    thr = _thresholds(thresholds, lthreshold, hthreshold)
    rejector = _make_rejector(
        reject,
        sigma=sigma, lsigma=lsigma, hsigma=hsigma, mclip=mclip, cenfunc=cenfunc, stdfunc=stdfunc,
        ddof=ddof, maxiters=maxiters, nkeep=nkeep, maxrej=maxrej, revert_on_nkeep=revert_on_nkeep,
        nlow=nlow, nhigh=nhigh, n_minmax=n_minmax, rdnoise=rdnoise, gain=gain, snoise=snoise,
        sigscale=sigscale, pclip=pclip, low_scale=low_scale, low=low, upp_scale=upp_scale, upp=upp,
        grow=grow, spread_centre=spread_centre, ccd_ref=None, max_outliers=max_outliers,
        significance=significance, cutoff=cutoff,
    )
    return Combiner(stack, mask, variance=variance, dq=dq, bad_bits=bad_bits).combine(
        combine,
        thresholds=thr,
        zero=zero,
        scale=scale,
        weights=w,
        rejectors=rejector,
        diagnostics=diagnostics,
        ddof=ddof,
        blank=blank,
        statsec=statsec,
        q=q,
        relative=relative,
        nodata_bit=nodata_bit,
        exptime=exptime,
    )


def _make_rejector(reject: Any, **p: Any) -> Rejector | None:
    if reject is None:
        if p["grow"] is not None:
            raise ValueError("grow needs a rejection algorithm (reject=...)")
        return None
    if not isinstance(reject, str):
        raise TypeError(f"reject must be None or one of {', '.join(REJECT_METHODS)}; got {reject!r}")
    kind = reject.strip().lower()
    kind = _REJECT_ALIASES.get(kind, kind)
    if kind == "none":
        return _make_rejector(None, **p)
    if kind not in REJECT_METHODS:
        raise ValueError(f"reject: unknown method {reject!r}; expected one of {', '.join(REJECT_METHODS)}")
    cen = _centre(p["mclip"], p["cenfunc"])
    limits = {"nkeep": p["nkeep"], "maxrej": p["maxrej"], "revert_on_nkeep": p["revert_on_nkeep"]}
    iters = {} if p["maxiters"] is None else {"maxiters": p["maxiters"]}
    if kind in ("sigclip", "ccdclip", "crreject", "varclip", "avsigclip", "pclip"):
        sig = _sigma(p["sigma"], p["lsigma"], p["hsigma"])
    about = {} if p["spread_centre"] is None else {"spread_centre": p["spread_centre"]}
    if kind == "sigclip":
        return SigClip(sigma=sig, cenfunc=cen, stdfunc=p["stdfunc"], ddof=p["ddof"], grow=p["grow"],
                       **about, **iters, **limits)
    if kind in ("ccdclip", "crreject"):
        return CcdClip(
            sigma=sig, cenfunc=cen, rdnoise=p["rdnoise"], gain=p["gain"], snoise=p["snoise"],
            sigscale=p["sigscale"], high_only=kind == "crreject", grow=p["grow"], **about,
            **(p["ccd_ref"] or {}), **iters, **limits,
        )
    if kind == "varclip":
        return VarClip(sigma=sig, cenfunc=cen, grow=p["grow"], **iters, **limits)
    if kind == "avsigclip":
        return AvSigClip(sigma=sig, cenfunc=cen, nkeep=p["nkeep"], sigscale=p["sigscale"], grow=p["grow"])
    if kind == "linearclip":
        return LinearClip(
            low_scale=p["low_scale"], low=p["low"], upp_scale=p["upp_scale"], upp=p["upp"],
            cenfunc=cen, grow=p["grow"], **iters, **limits,
        )
    if kind in ("winsorized", "linearfit"):
        # No sigma given: the class's own default (3 for winsorized, 5 for linear fit).
        given = p["sigma"] is not None or p["lsigma"] is not None or p["hsigma"] is not None
        lim = {"sigma": _sigma(p["sigma"], p["lsigma"], p["hsigma"])} if given else {}
        cls = WinsorizedSigClip if kind == "winsorized" else LinearFitClip
        extra = {"cutoff": p["cutoff"]} if kind == "winsorized" else {}
        return cls(grow=p["grow"], **lim, **extra, **iters, **limits)
    if kind == "gesd":
        return GESDClip(max_outliers=p["max_outliers"], significance=p["significance"], nkeep=p["nkeep"],
                        maxrej=p["maxrej"], grow=p["grow"])
    if kind == "minmax":
        n_min, n_max = _minmax_counts(p["nlow"], p["nhigh"], p["n_minmax"])
        return MinMaxClip(n_min=n_min, n_max=n_max, grow=p["grow"])
    return PClip(frac=p["pclip"], sigma=sig, nkeep=p["nkeep"], grow=p["grow"])


_KEYWORD_DEFAULTS = {
    name: prm.default for name, prm in inspect.signature(ndcombine).parameters.items()
    if prm.kind is inspect.Parameter.KEYWORD_ONLY
}


def _legacy_call(stack: Any, mask: Any, args: tuple[Any, ...], params: dict[str, Any], legacy: dict[str, Any]) -> Any:
    """ndcombine called with imcombiners 0.1.1 spellings: translate (warning) and run."""
    legacy = dict(legacy)
    unknown = set(legacy) - _LEGACY_KEYWORDS
    if unknown:
        raise TypeError(f"ndcombine() got unexpected keyword arguments {sorted(unknown)}")
    if "arr" in legacy:
        if stack is not _MISSING:
            raise TypeError("ndcombine: give either stack or the deprecated arr=, not both")
        warn_deprecated("ndcombine(arr=...)", "the first argument (stack)")
        stack = legacy.pop("arr")
    if stack is _MISSING:
        raise TypeError("ndcombine() missing the stack (first argument)")
    if args:
        if len(args) > len(_POSITIONAL_011):
            raise TypeError(f"ndcombine() takes at most {2 + len(_POSITIONAL_011)} positional arguments")
        warn_deprecated("ndcombine(stack, mask, <more positional arguments>)", "keyword arguments",
                        detail="positional order of imcombiners 0.1.1")
        for name, value in zip(_POSITIONAL_011, args):
            if name in _LEGACY_KEYWORDS:
                if name in legacy:
                    raise TypeError(f"ndcombine() got multiple values for argument {name!r}")
                legacy[name] = value
                continue
            if params[name] is not _KEYWORD_DEFAULTS[name]:
                raise TypeError(f"ndcombine() got multiple values for argument {name!r}")
            params[name] = value
    pop_validate("ndcombine", legacy)
    if "clip_cen" in legacy:
        clip_cen = legacy.pop("clip_cen")
        if clip_cen is not None:
            if params["spread_centre"] is not None:
                raise TypeError("ndcombine: give either spread_centre= or the deprecated clip_cen=, not both")
            warn_deprecated("ndcombine(clip_cen=...)", "spread_centre=")
            params["spread_centre"] = clip_cen
    ccd_ref = {k: legacy.pop(k) for k in ("scale_ref", "zero_ref") if k in legacy}
    if ccd_ref:
        warn_deprecated("ndcombine(scale_ref=..., zero_ref=...)", "zero=/scale= (per-frame normalisation)",
                        detail="the ccdclip noise model follows IRAF; see docs/migrating-from-0.1.md")
    params["diagnostics"], full = full_or_diagnostics("ndcombine", legacy.pop("full", None), params["diagnostics"])
    res = _run(stack, mask, params, legacy, ccd_ref)
    if full:
        return legacy_tuple(res)
    return res


def _run(stack: Any, mask: Any, p: dict[str, Any], zs_legacy: dict[str, Any], ccd_ref: dict[str, Any]) -> Any:
    """The body of :func:`ndcombine` on resolved parameters (``zs_legacy``: 0.1.1's
    zero/scale keywords, passed on to :meth:`Combiner.combine`)."""
    _one_of("weight", p["weight"], "weights", p["weights"])
    if p["sigma"] is not None and (p["lsigma"] is not None or p["hsigma"] is not None):
        raise ValueError("give either sigma or lsigma/hsigma, not both")
    _one_of("mclip", p["mclip"], "cenfunc", p["cenfunc"])
    if p["n_minmax"] is not None and (p["nlow"] is not None or p["nhigh"] is not None):
        raise ValueError("give either n_minmax or nlow/nhigh, not both")
    w = p["weight"] if p["weight"] is not None else p["weights"]
    thr = _thresholds(p["thresholds"], p["lthreshold"], p["hthreshold"])
    names = ("sigma", "lsigma", "hsigma", "mclip", "cenfunc", "stdfunc", "ddof", "maxiters", "nkeep", "maxrej",
             "revert_on_nkeep", "nlow", "nhigh", "n_minmax", "rdnoise", "gain", "snoise", "sigscale", "pclip",
             "low_scale", "low", "upp_scale", "upp", "grow", "spread_centre", "max_outliers", "significance",
             "cutoff")
    rejector = _make_rejector(p["reject"], **{k: p[k] for k in names}, ccd_ref=ccd_ref or None)
    return Combiner(stack, mask, variance=p["variance"], dq=p["dq"], bad_bits=p["bad_bits"]).combine(
        p["combine"], thresholds=thr, zero=p["zero"], scale=p["scale"], weights=w, rejectors=rejector,
        diagnostics=p["diagnostics"], ddof=p["ddof"], blank=p["blank"], statsec=p["statsec"], q=p["q"],
        relative=p["relative"], nodata_bit=p["nodata_bit"], exptime=p["exptime"], **zs_legacy,
    )
