"""``ndcombine``: the whole combine in one call, with IRAF-style or pythonic names."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._combiner import CombineResult, Combiner
from ._rejectors import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip
from ._validate import as_sigma_pair

__all__ = ["ndcombine", "REJECT_METHODS"]

#: Accepted values of ``reject``.
REJECT_METHODS = ("none", "sigclip", "ccdclip", "crreject", "varclip", "avsigclip", "linearclip", "minmax",
                  "pclip")


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
    stack: Any,
    mask: Any = None,
    *,
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
    variance: Any = None,
    dq: Any = None,
    bad_bits: Any = None,
    nodata_bit: int | None = None,
    exptime: Any = None,
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
        "varclip" (each sample's own sigma from ``variance``), "avsigclip",
        "linearclip", "minmax" or "pclip".
    sigma, lsigma, hsigma
        Clipping limits: ``sigma`` (one number or ``(lo, hi)``) or IRAF's
        ``lsigma``/``hsigma`` (each defaults to 3).
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

    Returns
    -------
    numpy.ndarray or CombineResult
        dtype as for :meth:`Combiner.combine`: an integer stack keeps its dtype for
        lmedian/min/max when nothing is masked, thresholded, normalised, weighted or
        rejected (every output is then one of the input samples); everything else is the
        float workspace (float32 for uint8/uint16/int16/float32, float64 for int32/float64),
        the same in every mode.
    """
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
        grow=grow,
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
    if kind == "none":
        return _make_rejector(None, **p)
    if kind not in REJECT_METHODS:
        raise ValueError(f"reject: unknown method {reject!r}; expected one of {', '.join(REJECT_METHODS)}")
    cen = _centre(p["mclip"], p["cenfunc"])
    limits = {"nkeep": p["nkeep"], "maxrej": p["maxrej"], "revert_on_nkeep": p["revert_on_nkeep"]}
    iters = {} if p["maxiters"] is None else {"maxiters": p["maxiters"]}
    if kind in ("sigclip", "ccdclip", "crreject", "varclip", "avsigclip", "pclip"):
        sig = _sigma(p["sigma"], p["lsigma"], p["hsigma"])
    if kind == "sigclip":
        return SigClip(sigma=sig, cenfunc=cen, stdfunc=p["stdfunc"], ddof=p["ddof"], grow=p["grow"], **iters, **limits)
    if kind in ("ccdclip", "crreject"):
        return CcdClip(
            sigma=sig, cenfunc=cen, rdnoise=p["rdnoise"], gain=p["gain"], snoise=p["snoise"],
            sigscale=p["sigscale"], high_only=kind == "crreject", grow=p["grow"], **iters, **limits,
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
    if kind == "minmax":
        n_min, n_max = _minmax_counts(p["nlow"], p["nhigh"], p["n_minmax"])
        return MinMaxClip(n_min=n_min, n_max=n_max, grow=p["grow"])
    return PClip(frac=p["pclip"], sigma=sig, nkeep=p["nkeep"], grow=p["grow"])
