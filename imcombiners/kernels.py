"""Direct kernels: plain functions of arrays (``import imcombiners.kernels as imck``).

No object is kept between calls and validation is minimal (the dtype policy and the
rejector parameters are still checked, because the Rust side needs them right).

* Combines: :func:`mean`, :func:`median`, :func:`lmedian`, :func:`sum`, :func:`min`,
  :func:`max`, :func:`variance`, :func:`wavg`, :func:`quantile` -> ``*spatial`` array.
  ``lmedian``, ``min`` and ``max`` of an integer stack without mask keep its dtype.
* For every rejection ``X`` in sigclip, ccdclip, linearclip, minmax, pclip:

  - ``X(stack, mask=None, **params)`` -> ``(mask_rej, std, low, upp, nit, output_flags)``,
    where ``mask_rej`` (``(N, *spatial)`` bool) holds every sample excluded at the end of
    the step (input mask and NaN/inf included, like IRAF's rejection masks) and ``std`` is
    None for linearclip, minmax and pclip;
  - ``X_mask(stack, mask=None, **params)`` -> ``mask_rej`` only;
  - ``X_combine(stack, mask=None, *, combine="mean", **params)`` -> the fused image.

  ``params`` are the fields of the matching rejector class (``grow`` included).
* Variance-aware: :func:`varclip`, :func:`varclip_mask`, :func:`varclip_combine` (each
  sample's own sigma from its variance; the ``variance`` array comes second), and
  :func:`combine_with_variance` -> ``(image, propagated variance)`` for mean, sum,
  median, lmedian, weighted (``weights=``, ``"inverse_variance"``) mean and sum.
* :func:`grow_mask`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._frames import FrameSet, prepare_frames
from ._job import Job, load_core, run_job
from ._planes import Planes, is_inverse_variance, is_pixel_weights, prepare_planes
from ._rejectors import CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip
from ._validate import as_float

__all__ = [
    "mean", "median", "lmedian", "sum", "min", "max", "variance", "wavg", "quantile",
    "sigclip", "sigclip_mask", "sigclip_combine",
    "ccdclip", "ccdclip_mask", "ccdclip_combine",
    "linearclip", "linearclip_mask", "linearclip_combine",
    "minmax", "minmax_mask", "minmax_combine",
    "pclip", "pclip_mask", "pclip_combine",
    "varclip", "varclip_mask", "varclip_combine", "combine_with_variance",
    "grow_mask",
]

_DIAG = frozenset({"mask", "std", "low", "upp", "nit", "output_flags"})


def _data(stack: Any, mask: Any, method: str, **job: Any) -> np.ndarray:
    return run_job(prepare_frames(stack, mask), None, Job(method, **job))["data"]


# --------------------------------------------------------------------------- combines


def mean(stack: Any, mask: Any = None) -> np.ndarray:
    """Mean of the valid samples along axis 0 (NaN where none)."""
    return _data(stack, mask, "mean")


def median(stack: Any, mask: Any = None) -> np.ndarray:
    """Median along axis 0 (even count: mean of the two middle values)."""
    return _data(stack, mask, "median")


def lmedian(stack: Any, mask: Any = None) -> np.ndarray:
    """Lower median along axis 0 (even count: the lower middle value; integer dtype kept)."""
    return _data(stack, mask, "lmedian")


def sum(stack: Any, mask: Any = None, *, blank: float | None = None) -> np.ndarray:  # noqa: A001
    """Sum of the valid samples along axis 0 (0 where none, unless ``blank``)."""
    return _data(stack, mask, "sum", blank=blank)


def min(stack: Any, mask: Any = None) -> np.ndarray:  # noqa: A001
    """Minimum along axis 0 (integer dtype kept without mask)."""
    return _data(stack, mask, "min")


def max(stack: Any, mask: Any = None) -> np.ndarray:  # noqa: A001
    """Maximum along axis 0 (integer dtype kept without mask)."""
    return _data(stack, mask, "max")


def variance(stack: Any, mask: Any = None, *, ddof: int = 0) -> np.ndarray:
    """``sum((x - mean)**2) / (n - ddof)`` along axis 0 (NaN where ``n <= ddof``)."""
    return _data(stack, mask, "variance", ddof=ddof)


def wavg(stack: Any, weights: Any, mask: Any = None) -> np.ndarray:
    """Weighted mean ``sum(w*x) / sum(w)`` over the valid samples (one weight per frame)."""
    fs = prepare_frames(stack, mask)  # reliability: validate the stack before len()
    n = fs.n
    try:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be a sequence of {n} numbers (one per frame); got {weights!r}") from None
    if w.size != n:
        raise ValueError(f"weights must have one value per frame ({n}); got {w.size}")
    return run_job(fs, None, Job("wavg", weights=w))["data"]


def quantile(stack: Any, q: float, mask: Any = None) -> np.ndarray:
    """Quantile ``q`` in [0, 1] along axis 0 (linear interpolation, like NumPy's default)."""
    return _data(stack, mask, "quantile", q=q)


# --------------------------------------------------------------------------- rejection


def _frames(stack: Any, mask: Any, variance: Any = None) -> FrameSet:
    fs = prepare_frames(stack, mask)
    return fs if variance is None else fs.with_planes(prepare_planes(fs.n, fs.spatial, variance=variance))


def _reject(rejector: Rejector, stack: Any, mask: Any, variance: Any = None) -> tuple[Any, ...]:
    res = run_job(_frames(stack, mask, variance), None, Job("mean", rejectors=(rejector,), want=_DIAG))
    std = res.get("std") if rejector.has_spread else None
    return res["mask"], std, res["low"], res["upp"], res["nit"], res["output_flags"]


def _reject_mask(rejector: Rejector, stack: Any, mask: Any, variance: Any = None) -> np.ndarray:
    job = Job("mean", rejectors=(rejector,), want=frozenset({"mask"}))
    return run_job(_frames(stack, mask, variance), None, job)["mask"]


def _reject_combine(rejector: Rejector, stack: Any, mask: Any, combine: str, variance: Any = None) -> np.ndarray:
    return run_job(_frames(stack, mask, variance), None, Job(combine, rejectors=(rejector,)))["data"]


def sigclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Sigma clipping (:class:`~imcombiners.SigClip` parameters) -> 6-tuple."""
    return _reject(SigClip(**params), stack, mask)


def sigclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Sigma clipping -> ``(N, *spatial)`` bool mask of the excluded samples."""
    return _reject_mask(SigClip(**params), stack, mask)


def sigclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Sigma clipping fused with the final combine -> ``*spatial`` image."""
    return _reject_combine(SigClip(**params), stack, mask, combine)


def ccdclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """CCD noise-model clipping (:class:`~imcombiners.CcdClip` parameters) -> 6-tuple."""
    return _reject(CcdClip(**params), stack, mask)


def ccdclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """CCD noise-model clipping -> mask of the excluded samples."""
    return _reject_mask(CcdClip(**params), stack, mask)


def ccdclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """CCD noise-model clipping fused with the final combine."""
    return _reject_combine(CcdClip(**params), stack, mask, combine)


def linearclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Linear clipping (:class:`~imcombiners.LinearClip` parameters) -> 6-tuple (std None)."""
    return _reject(LinearClip(**params), stack, mask)


def linearclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Linear clipping -> mask of the excluded samples."""
    return _reject_mask(LinearClip(**params), stack, mask)


def linearclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Linear clipping fused with the final combine."""
    return _reject_combine(LinearClip(**params), stack, mask, combine)


def minmax(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Min/max clipping (:class:`~imcombiners.MinMaxClip` parameters) -> 6-tuple (std None)."""
    return _reject(MinMaxClip(**params), stack, mask)


def minmax_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Min/max clipping -> mask of the excluded samples."""
    return _reject_mask(MinMaxClip(**params), stack, mask)


def minmax_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Min/max clipping fused with the final combine."""
    return _reject_combine(MinMaxClip(**params), stack, mask, combine)


def pclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Percentile clipping (:class:`~imcombiners.PClip` parameters) -> 6-tuple (std None)."""
    return _reject(PClip(**params), stack, mask)


def pclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Percentile clipping -> mask of the excluded samples."""
    return _reject_mask(PClip(**params), stack, mask)


def pclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Percentile clipping fused with the final combine."""
    return _reject_combine(PClip(**params), stack, mask, combine)


def varclip(stack: Any, variance: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Clipping with each sample's own sigma sqrt(variance) (:class:`~imcombiners.VarClip`
    parameters) -> 6-tuple."""
    return _reject(VarClip(**params), stack, mask, variance)


def varclip_mask(stack: Any, variance: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Variance-aware clipping -> mask of the excluded samples."""
    return _reject_mask(VarClip(**params), stack, mask, variance)


def varclip_combine(stack: Any, variance: Any, mask: Any = None, *, combine: str = "mean",
                    **params: Any) -> np.ndarray:
    """Variance-aware clipping fused with the final combine."""
    return _reject_combine(VarClip(**params), stack, mask, combine, variance)


def combine_with_variance(stack: Any, variance: Any, method: str = "mean", *, weights: Any = None,
                          mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The combined image and its propagated variance (docs/design.md "Survey planes").

    Parameters
    ----------
    stack, variance
        ``(N, *spatial)`` samples and their variances.
    method
        mean, sum, median or lmedian (with ``weights``: weighted mean or weighted sum).
    weights
        None, N per-frame weights, one weight per sample (the stack's shape) or
        ``"inverse_variance"``.
    mask
        Bad samples (True = bad).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``*spatial`` image and variance (NaN where no sample is left).
    """
    fs = _frames(stack, mask, variance)
    planes: Planes = fs.planes  # type: ignore[assignment]
    per_frame = None
    weighting = None
    if is_inverse_variance(weights):
        weighting = "inverse_variance"
    elif is_pixel_weights(weights, fs.n, fs.spatial):
        wp = prepare_planes(fs.n, fs.spatial, weights=weights)
        planes = Planes(planes.variance, wp.weights, None)  # type: ignore[union-attr]
        weighting = "pixel"
    elif weights is not None:
        try:
            per_frame = np.asarray(weights, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"weights must be N numbers, an array of the stack's shape or 'inverse_variance'; "
                            f"got {weights!r}") from None
        weighting = "frame"
    job = Job(method, weights=per_frame, weighting=weighting, want=frozenset({"variance"}))
    res = run_job(fs.with_planes(planes), None, job)
    return res["data"], res["variance"]


# --------------------------------------------------------------------------- grow


def grow_mask(mask: Any, radius: float) -> np.ndarray:
    """Grow every True of an ``(N, *spatial)`` bool mask to the pixels of the same frame
    within Euclidean distance ``radius`` (``radius < 1`` adds nothing).

    Returns a new array; the input is not modified.
    """
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"mask must have dtype bool; got {m.dtype}")
    if m.ndim < 2:
        raise ValueError(f"mask must have shape (N, *spatial); got shape {m.shape}")
    r = as_float(radius, "radius", min=0.0)
    if m.size == 0 or r < 1:
        return m.copy()
    return np.asarray(load_core().grow_mask(np.ascontiguousarray(m), r))

