"""CCDData / NDData in and out, for ccdproc users.

``ccdproc.combine`` users hold lists of :class:`astropy.nddata.CCDData` with a unit,
a bad-pixel ``mask`` and often an ``uncertainty``. These helpers turn such a list into
the ``(N, *spatial)`` stack + mask the library combines, and the result back into a
``CCDData`` with a mask (no sample left), an uncertainty and provenance in ``meta``.

>>> from imcombiners.io.nddata import combine_nddata
>>> master = combine_nddata(ccds, method="median", rejectors=[SigClip(3)])  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["NDStack", "stack_from_nddata", "to_ccddata", "combine_nddata"]


@dataclass
class NDStack:
    """Arrays taken from a list of NDData objects.

    Attributes
    ----------
    data : ndarray, shape (N, *spatial)
        The frames, stacked (dtype of the inputs when they share one).
    mask : ndarray of bool, shape (N, *spatial), or None
        True = bad; None when no input has a mask.
    uncertainty : ndarray, shape (N, *spatial), or None
        Standard deviations (converted from variance / inverse variance), None when
        no input has an uncertainty.
    unit : astropy unit or None
        The common unit.
    meta : dict or astropy.io.fits.Header
        The first input's ``meta``, copied.
    wcs : object or None
        The first input's WCS.
    """

    data: np.ndarray
    mask: np.ndarray | None
    uncertainty: np.ndarray | None
    unit: Any
    meta: Any
    wcs: Any = None


def _std_of(item: Any) -> np.ndarray | None:
    unc = getattr(item, "uncertainty", None)
    if unc is None:
        return None
    kind = getattr(unc, "uncertainty_type", "std")
    arr = np.asarray(unc.array, dtype=np.float64)
    if kind == "std":
        return arr
    if kind == "var":
        return np.sqrt(arr)
    if kind == "ivar":
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(arr)
    raise TypeError(f"uncertainty type {kind!r} is not supported (use std, var or ivar)")


def stack_from_nddata(items: Sequence[Any]) -> NDStack:
    """Stack NDData/CCDData objects into the library's ``(N, *spatial)`` arrays.

    Parameters
    ----------
    items : sequence of NDData or CCDData
        Frames of one shape and one unit (``None`` units must all be ``None``).

    Returns
    -------
    NDStack

    Raises
    ------
    ValueError
        Empty list, different shapes or units.
    """
    items = list(items)
    if not items:
        raise ValueError("items must hold at least one NDData/CCDData")
    shape = np.shape(items[0].data)
    unit = getattr(items[0], "unit", None)
    for i, item in enumerate(items):
        if np.shape(item.data) != shape:
            raise ValueError(f"items[{i}] has shape {np.shape(item.data)}, expected {shape} like items[0]")
        if getattr(item, "unit", None) != unit:
            raise ValueError(f"items[{i}] has unit {getattr(item, 'unit', None)}, expected {unit} like items[0]")
    data = np.stack([np.asarray(item.data) for item in items])
    masks = [getattr(item, "mask", None) for item in items]
    mask = None
    if any(m is not None for m in masks):
        mask = np.zeros(data.shape, dtype=bool)
        for i, m in enumerate(masks):
            if m is not None:
                mask[i] = np.broadcast_to(np.asarray(m, dtype=bool), shape)
    stds = [_std_of(item) for item in items]
    unc = None
    if any(s is not None for s in stds):
        unc = np.full(data.shape, np.nan)
        for i, s in enumerate(stds):
            if s is not None:
                unc[i] = np.broadcast_to(s, shape)
    meta0 = getattr(items[0], "meta", None)
    # Keep a FITS Header a Header (comments, order); anything else becomes a dict copy.
    meta = meta0.copy() if hasattr(meta0, "tostring") else dict(meta0 or {})
    return NDStack(data, mask, unc, unit, meta, getattr(items[0], "wcs", None))


def to_ccddata(
    data: np.ndarray,
    *,
    unit: Any = None,
    mask: np.ndarray | None = None,
    uncertainty: np.ndarray | None = None,
    meta: dict | None = None,
    wcs: Any = None,
):
    """Wrap a combined image as :class:`astropy.nddata.CCDData`.

    Parameters
    ----------
    data : ndarray
        The combined image.
    unit : astropy unit or str, optional
        Default ``"adu"`` (CCDData requires a unit).
    mask : ndarray of bool, optional
        Pixels without a valid value.
    uncertainty : ndarray, optional
        Standard deviations, stored as ``StdDevUncertainty``.
    meta : dict or Header, optional
        Header/meta to attach.
    wcs : optional
        WCS to attach.
    """
    from astropy.nddata import CCDData, StdDevUncertainty

    return CCDData(
        np.asarray(data),
        unit=unit if unit is not None else "adu",
        mask=None if mask is None else np.asarray(mask, dtype=bool),
        uncertainty=None if uncertainty is None else StdDevUncertainty(np.asarray(uncertainty)),
        meta=meta,
        wcs=wcs,
    )


def combine_nddata(
    items: Sequence[Any],
    method: str = "median",
    *,
    rejectors: Sequence[Any] | None = None,
    uncertainty: str | None = "sem",
    thresholds: tuple[float, float] | None = None,
    zero: Any = None,
    scale: Any = None,
    weights: Any = None,
    blank: float = np.nan,
):
    """Combine CCDData/NDData frames with :class:`imcombiners.Combiner`; return CCDData.

    Input masks are honoured (True = bad). The result's mask marks pixels where no
    sample was left; ``meta`` is the first input's header plus provenance keywords
    (``NCOMBINE``, ``IMCMETH``, ``IMCPARAM``, ``IMCVERS``).

    Parameters
    ----------
    items : sequence of NDData or CCDData
        Frames of one shape and unit.
    method : str
        Combine method of :meth:`Combiner.combine` (mean, median, sum, ...).
    rejectors : sequence of rejectors, optional
        E.g. ``[imcombiners.SigClip(3.0)]``.
    uncertainty : {"sem", "propagate", None}
        ``"sem"`` (default, as ``ccdproc.combine``): standard deviation of the samples
        that made each pixel divided by sqrt(their number). ``"propagate"``: from the
        inputs' uncertainties, sqrt(sum of variances of the used samples) / n for
        mean (without sum of weights) and n times that for sum; refused for other
        methods. ``None``: no uncertainty.
    thresholds, zero, scale, weights, blank
        As in :meth:`Combiner.combine`.

    Returns
    -------
    astropy.nddata.CCDData
    """
    from imcombiners import Combiner
    from imcombiners.io.provenance import provenance_cards, provenance_dict

    if uncertainty not in ("sem", "propagate", None):
        raise ValueError(f"uncertainty must be 'sem', 'propagate' or None; got {uncertainty!r}")
    st = stack_from_nddata(items)
    kw = dict(thresholds=thresholds, zero=zero, scale=scale, weights=weights, blank=blank,
              rejectors=list(rejectors) if rejectors else None)
    res = Combiner(st.data, st.mask).combine(method, diagnostics="simple", **kw)
    data = np.asarray(res.data)
    nused = np.asarray(res.nused)
    out_mask = nused == 0

    unc = None
    if uncertainty == "sem":
        var = Combiner(st.data, st.mask).combine("variance", ddof=0, **kw)
        with np.errstate(invalid="ignore", divide="ignore"):
            unc = np.sqrt(np.asarray(var, dtype=np.float64)) / np.sqrt(nused)
    elif uncertainty == "propagate":
        canonical = {"mean": "mean", "average": "mean", "avg": "mean", "sum": "sum", "summation": "sum"}
        kind = canonical.get(str(method).lower())
        if kind is None:
            raise ValueError(f"uncertainty='propagate' supports mean and sum, not method={method!r}")
        if weights is not None or scale is not None:
            raise ValueError("uncertainty='propagate' does not model weights or scale; use 'sem'")
        if st.uncertainty is None:
            raise ValueError("uncertainty='propagate' needs inputs with an uncertainty")
        used = ~np.asarray(res.mask, dtype=bool)
        var_sum = np.where(used, st.uncertainty**2, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            unc = np.sqrt(var_sum) / (nused if kind == "mean" else 1)
        unc = np.where(out_mask, np.nan, unc)

    params = {"method": method, "rejectors": list(rejectors or []), "thresholds": thresholds,
              "zero": zero, "scale": scale, "weights": weights, "uncertainty": uncertainty}
    prov = provenance_dict(inputs=None, ncombine=len(st.data), parameters=params)
    meta = st.meta
    for key, value, comment in provenance_cards(prov):
        meta[key] = (value, comment) if hasattr(meta, "tostring") else value
    return to_ccddata(data, unit=st.unit, mask=out_mask, uncertainty=unc, meta=meta, wcs=st.wcs)
