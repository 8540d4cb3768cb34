"""Direct kernels: plain functions of arrays (``import imcombiners.kernels as imck``).

No object is kept between calls and validation is minimal (the dtype policy and the
rejector parameters are still checked, because the Rust side needs them right).

* Combines: :func:`mean`, :func:`median`, :func:`lmedian`, :func:`sum`, :func:`min`,
  :func:`max`, :func:`variance`, :func:`wavg`, :func:`quantile` -> ``*spatial`` array.
  ``lmedian``, ``min`` and ``max`` of an integer stack without mask keep its dtype.
* For every rejection ``X`` in sigclip, ccdclip, linearclip, minmax, pclip, winsorized
  (:class:`~imcombiners.WinsorizedSigClip`), gesd (:class:`~imcombiners.GESDClip`) and
  linearfit (:class:`~imcombiners.LinearFitClip`):

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

imcombiners 0.1.1 spellings still work with a DeprecationWarning: the 1-D kernels
(``sigclip_1d``, ``sigclip_mask_1d``, ``sigclip_combine_1d`` and the same for ccdclip,
minmax, pclip; ``linearclip_1d``), ``nanaverage`` (use :func:`wavg`), the ``arr=`` keyword
and ``validate=``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ._deprecation import pop_validate, renamed_kwargs, resolve_renamed, warn_deprecated
from ._frames import FrameSet, prepare_frames
from ._job import Job, load_core, run_job
from ._legacy import one_d_kernels
from ._planes import prepare_planes, split_weights
from ._rejectors import CcdClip, LinearClip, MinMaxClip, PClip, Rejector, SigClip, VarClip, register_runner
from ._rejectors_modern import GESDClip, LinearFitClip, WinsorizedSigClip
from ._validate import as_float

__all__ = [
    "mean", "median", "lmedian", "sum", "min", "max", "variance", "wavg", "quantile",
    "sigclip", "sigclip_mask", "sigclip_combine",
    "ccdclip", "ccdclip_mask", "ccdclip_combine",
    "linearclip", "linearclip_mask", "linearclip_combine",
    "minmax", "minmax_mask", "minmax_combine",
    "pclip", "pclip_mask", "pclip_combine",
    "winsorized", "winsorized_mask", "winsorized_combine",
    "gesd", "gesd_mask", "gesd_combine",
    "linearfit", "linearfit_mask", "linearfit_combine",
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


def run_rejector(rejector: Rejector, stack: Any, mask: Any = None) -> tuple[Any, ...]:
    """One rejector alone -> ``(mask_rej, std, low, upp, nit, output_flags)``."""
    res = run_job(prepare_frames(stack, mask), None, Job("mean", rejectors=(rejector,), want=_DIAG))
    std = res.get("std") if rejector.has_spread else None
    return res["mask"], std, res["low"], res["upp"], res["nit"], res["output_flags"]


_reject = run_rejector
register_runner(run_rejector)


def _params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    # 0.1.1 keywords: validate= (ignored) and arr= (the stack) are handled by the callers.
    pop_validate(f"imcombiners.kernels.{kind}", params)
    return params


def _reject_mask(rejector: Rejector, stack: Any, mask: Any) -> np.ndarray:
    return run_job(prepare_frames(stack, mask), None, Job("mean", rejectors=(rejector,), want=frozenset({"mask"})))["mask"]


def _reject_combine(rejector: Rejector, stack: Any, mask: Any, combine: str) -> np.ndarray:
    return run_job(prepare_frames(stack, mask), None, Job(combine, rejectors=(rejector,)))["data"]


@renamed_kwargs(arr="stack")
def sigclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Sigma clipping (:class:`~imcombiners.SigClip` parameters) -> 6-tuple."""
    return _reject(SigClip(**_params("sigclip", params)), stack, mask)


@renamed_kwargs(arr="stack")
def sigclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Sigma clipping -> ``(N, *spatial)`` bool mask of the excluded samples."""
    return _reject_mask(SigClip(**_params("sigclip_mask", params)), stack, mask)


@renamed_kwargs(arr="stack")
def sigclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Sigma clipping fused with the final combine -> ``*spatial`` image."""
    return _reject_combine(SigClip(**_params("sigclip_combine", params)), stack, mask, combine)


@renamed_kwargs(arr="stack")
def ccdclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """CCD noise-model clipping (:class:`~imcombiners.CcdClip` parameters) -> 6-tuple."""
    return _reject(CcdClip(**_params("ccdclip", params)), stack, mask)


@renamed_kwargs(arr="stack")
def ccdclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """CCD noise-model clipping -> mask of the excluded samples."""
    return _reject_mask(CcdClip(**_params("ccdclip_mask", params)), stack, mask)


@renamed_kwargs(arr="stack")
def ccdclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """CCD noise-model clipping fused with the final combine."""
    return _reject_combine(CcdClip(**_params("ccdclip_combine", params)), stack, mask, combine)


@renamed_kwargs(arr="stack")
def linearclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Linear clipping (:class:`~imcombiners.LinearClip` parameters) -> 6-tuple (std None)."""
    return _reject(LinearClip(**_params("linearclip", params)), stack, mask)


@renamed_kwargs(arr="stack")
def linearclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Linear clipping -> mask of the excluded samples."""
    return _reject_mask(LinearClip(**_params("linearclip_mask", params)), stack, mask)


@renamed_kwargs(arr="stack")
def linearclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Linear clipping fused with the final combine."""
    return _reject_combine(LinearClip(**_params("linearclip_combine", params)), stack, mask, combine)


@renamed_kwargs(arr="stack")
def minmax(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Min/max clipping (:class:`~imcombiners.MinMaxClip` parameters) -> 6-tuple (std None)."""
    return _reject(MinMaxClip(**_params("minmax", params)), stack, mask)


@renamed_kwargs(arr="stack")
def minmax_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Min/max clipping -> mask of the excluded samples."""
    return _reject_mask(MinMaxClip(**_params("minmax_mask", params)), stack, mask)


@renamed_kwargs(arr="stack")
def minmax_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Min/max clipping fused with the final combine."""
    return _reject_combine(MinMaxClip(**_params("minmax_combine", params)), stack, mask, combine)


@renamed_kwargs(arr="stack")
def pclip(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Percentile clipping (:class:`~imcombiners.PClip` parameters) -> 6-tuple (std None)."""
    return _reject(PClip(**_params("pclip", params)), stack, mask)


@renamed_kwargs(arr="stack")
def pclip_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Percentile clipping -> mask of the excluded samples."""
    return _reject_mask(PClip(**_params("pclip_mask", params)), stack, mask)


@renamed_kwargs(arr="stack")
def pclip_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Percentile clipping fused with the final combine."""
    return _reject_combine(PClip(**_params("pclip_combine", params)), stack, mask, combine)


def winsorized(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Winsorized sigma clipping (:class:`~imcombiners.WinsorizedSigClip` parameters) -> 6-tuple."""
    return _reject(WinsorizedSigClip(**params), stack, mask)


def winsorized_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Winsorized sigma clipping -> mask of the excluded samples."""
    return _reject_mask(WinsorizedSigClip(**params), stack, mask)


def winsorized_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Winsorized sigma clipping fused with the final combine."""
    return _reject_combine(WinsorizedSigClip(**params), stack, mask, combine)


def gesd(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Generalized ESD test (:class:`~imcombiners.GESDClip` parameters) -> 6-tuple."""
    return _reject(GESDClip(**params), stack, mask)


def gesd_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Generalized ESD test -> mask of the excluded samples."""
    return _reject_mask(GESDClip(**params), stack, mask)


def gesd_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Generalized ESD test fused with the final combine."""
    return _reject_combine(GESDClip(**params), stack, mask, combine)


def linearfit(stack: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Linear fit clipping (:class:`~imcombiners.LinearFitClip` parameters) -> 6-tuple."""
    return _reject(LinearFitClip(**params), stack, mask)


def linearfit_mask(stack: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Linear fit clipping -> mask of the excluded samples."""
    return _reject_mask(LinearFitClip(**params), stack, mask)


def linearfit_combine(stack: Any, mask: Any = None, *, combine: str = "mean", **params: Any) -> np.ndarray:
    """Linear fit clipping fused with the final combine."""
    return _reject_combine(LinearFitClip(**params), stack, mask, combine)


# --------------------------------------------------------------------------- with variances


def _with_variance(stack: Any, mask: Any, variance: Any) -> FrameSet:
    fs = prepare_frames(stack, mask)
    return fs.with_planes(prepare_planes(fs.n, fs.spatial, variance=variance))


def varclip(stack: Any, variance: Any, mask: Any = None, **params: Any) -> tuple[Any, ...]:
    """Clipping with each sample's own sigma sqrt(variance) (:class:`~imcombiners.VarClip`
    parameters) -> ``(mask_rej, std, low, upp, nit, output_flags)``."""
    r = VarClip(**params)
    res = run_job(_with_variance(stack, mask, variance), None, Job("mean", rejectors=(r,), want=_DIAG))
    return res["mask"], res["std"], res["low"], res["upp"], res["nit"], res["output_flags"]


def varclip_mask(stack: Any, variance: Any, mask: Any = None, **params: Any) -> np.ndarray:
    """Variance-aware clipping -> mask of the excluded samples."""
    job = Job("mean", rejectors=(VarClip(**params),), want=frozenset({"mask"}))
    return run_job(_with_variance(stack, mask, variance), None, job)["mask"]


def varclip_combine(stack: Any, variance: Any, mask: Any = None, *, combine: str = "mean",
                    **params: Any) -> np.ndarray:
    """Variance-aware clipping fused with the final combine."""
    job = Job(combine, rejectors=(VarClip(**params),))
    return run_job(_with_variance(stack, mask, variance), None, job)["data"]


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
    fs = _with_variance(stack, mask, variance)
    weighting, per_frame, planes = split_weights(weights, fs.n, fs.spatial, fs.planes)
    if per_frame is not None:
        if isinstance(per_frame, str) or callable(per_frame):
            raise TypeError(f"weights must be N numbers, an array of the stack's shape or 'inverse_variance'; "
                            f"got {per_frame!r}")
        per_frame = np.asarray(per_frame, dtype=np.float64).reshape(-1)
        weighting = "frame"
    job = Job(method, weights=per_frame, weighting=weighting, want=frozenset({"variance"}))
    res = run_job(fs.with_planes(planes), None, job)
    return res["data"], res["variance"]


# --------------------------------------------------------------------------- grow


def grow_mask(mask: Any, radius: float | None = None, **legacy: Any) -> np.ndarray:
    """Grow every True of an ``(N, *spatial)`` bool mask to the pixels of the same frame
    within Euclidean distance ``radius`` (``radius < 1`` adds nothing).

    Returns a new array; the input is not modified. (0.1.1 spellings ``grow=`` for
    ``radius`` and ``validate=`` still work, with a DeprecationWarning.)
    """
    if legacy:
        pop_validate("imcombiners.kernels.grow_mask", legacy)
        if radius is not None and "grow" in legacy:
            raise TypeError("grow_mask: give either radius or the deprecated grow=, not both")
        resolve_renamed("imcombiners.kernels.grow_mask", legacy, {"grow": "radius"})
        radius = legacy.pop("radius", radius)
        if legacy:
            raise TypeError(f"grow_mask() got unexpected keyword arguments {sorted(legacy)}")
    if radius is None:
        raise TypeError("grow_mask() missing the radius (a finite number >= 0)")
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"mask must have dtype bool; got {m.dtype}")
    if m.ndim < 2:
        raise ValueError(f"mask must have shape (N, *spatial); got shape {m.shape}")
    r = as_float(radius, "radius", min=0.0)
    if m.size == 0 or r < 1:
        return m.copy()
    return np.asarray(load_core().grow_mask(np.ascontiguousarray(m), r))



# --------------------------------------------------------------------------- 0.1.1 names

def nanaverage(arr: Any, weights: Any, **kwargs: Any) -> np.ndarray:
    """Deprecated 0.1.1 weighted mean over the finite samples: :func:`wavg`."""
    warn_deprecated("nanaverage(arr, weights)", "imcombiners.kernels.wavg(stack, weights)")
    pop_validate("nanaverage", kwargs)
    if kwargs:
        raise TypeError(f"nanaverage() got unexpected keyword arguments {sorted(kwargs)}")
    return wavg(arr, weights)


# Deprecated, not in __all__: 0.1.1's 1-D kernels (see the module doc).
globals().update(one_d_kernels(sys.modules[__name__]))
