"""Per-frame statistics and the resolution of ``zero``, ``scale`` and ``weights``.

``zero``/``scale``/``weights`` may each be given as

* ``None`` (not used),
* a number (the same for every frame),
* a length-N sequence of numbers,
* a callable, called once per frame with a ``numpy.ma.MaskedArray`` of the frame (or of
  its ``statsec`` region, in the float workspace dtype) in which masked, non-finite and
  out-of-threshold pixels are masked and hold NaN, returning a number (when it returns
  NaN although the frame has valid pixels, it is called again with the plain array, NaN
  at the invalid pixels: ``np.nanmedian`` and ``np.nanpercentile`` mishandle masked
  arrays, and imcombiners 0.1.1 passed plain arrays),
* a statistic name: ``mean`` (``average``, ``avg``), ``median`` (``med``), ``mode`` (IRAF's
  histogram-window mode), ``sigclip_mean``, ``sigclip_median`` (mean/median of the
  survivors of a 3-sigma, median-centred clipping, like astropy's
  ``sigma_clipped_stats``), or ``min``, ``max``, ``sum``,
* for ``weights`` only: ``"noise"``, inverse-variance weights ``(scale_i / sigma_i)**2``
  from a robust estimate sigma_i of each frame's noise (:mod:`imcombiners._noise`: the
  scaled MAD of a high-pass residual; ``scale_i`` = 1 without ``scale``), so that each
  frame counts by the inverse variance of its *normalised* values, as Siril's and
  PixInsight's noise weighting does,
* a header keyword ``"!KEY"`` (its number in each frame's FITS header) or ``"exposure"``
  (``EXPTIME``, else ``EXPOSURE``): only where the frames come with headers (FITS inputs
  of :func:`imcombiners.dask.combine` and the command line); elsewhere give the numbers.

Statistics use only valid pixels: not masked, finite, inside the thresholds (raw values).

Normalisation is ``value' = (value - zero_i) / scale_i``. With ``relative=True`` (default,
IRAF's convention) vectors are made relative to the first frame: ``scale_i / scale_0``,
and zeros such that every frame's zero level lands on the first frame's, i.e.
``zero_i - zero_0 * scale_i / scale_0``. A single number is applied as given.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "STATISTICS",
    "canonical_statistic",
    "frame_statistic",
    "is_header_spec",
    "parse_statsec",
    "plane_sigclip_statistic",
    "resolve_normalisation",
]

_STAT_ALIASES = {
    "mean": "mean", "average": "mean", "avg": "mean",
    "median": "median", "med": "median",
    "mode": "mode",
    "sigclip_mean": "sigclip_mean",
    "sigclip_median": "sigclip_median",
    "min": "min", "max": "max", "sum": "sum",
    "noise": "noise",  # weights only (resolve_normalisation)
}

#: imcombiners 0.1.1 statistic names (deprecated) -> current name.
_DEPRECATED_STATS = {"mean_sc": "sigclip_mean", "median_sc": "sigclip_median", "med_sc": "sigclip_median"}

#: Canonical statistic names accepted for zero/scale/weights.
STATISTICS = ("mean", "median", "mode", "sigclip_mean", "sigclip_median", "min", "max", "sum")


def canonical_statistic(name: str, param: str = "statistic") -> str:
    """Resolve a statistic alias (case-insensitive)."""
    try:
        return _STAT_ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"{param}: unknown statistic {name!r}; expected one of {', '.join(STATISTICS)}, "
            "a number, a length-N sequence or a callable"
        ) from None


# --------------------------------------------------------------------------- statsec

_SECTION_RE = re.compile(r"^\s*\[(.*)\]\s*$")


def parse_statsec(statsec: Any, spatial: tuple[int, ...]) -> tuple[slice, ...] | None:
    """Normalise a statistics region to a tuple of slices over the spatial axes.

    Parameters
    ----------
    statsec
        None (whole frame); a slice or tuple of slices in NumPy axis order; or an IRAF
        section string ``"[x1:x2,y1:y2]"`` (1-based, inclusive, first field = last NumPy
        axis; ``*`` = the whole axis; ``a:b:s`` honours the step).
    spatial
        Spatial shape of a frame.
    """
    if statsec is None:
        return None
    ndim = len(spatial)
    if isinstance(statsec, str):
        m = _SECTION_RE.match(statsec)
        if not m:
            raise ValueError(f"statsec: expected an IRAF section like '[x1:x2,y1:y2]'; got {statsec!r}")
        fields = [f.strip() for f in m.group(1).split(",")]
        if len(fields) != ndim:
            raise ValueError(f"statsec {statsec!r} has {len(fields)} axes but a frame has {ndim}")
        slices = []
        # IRAF lists the fastest axis first; NumPy lists it last.
        for field, size in zip(fields, reversed(spatial)):
            slices.append(_iraf_axis(field, size, statsec))
        return tuple(reversed(slices))
    if isinstance(statsec, slice):
        statsec = (statsec,)
    if isinstance(statsec, (tuple, list)) and all(isinstance(s, slice) for s in statsec):
        if len(statsec) > ndim:
            raise ValueError(f"statsec has {len(statsec)} slices but a frame has {ndim} axes")
        full = tuple(statsec) + (slice(None),) * (ndim - len(statsec))
        for s, size in zip(full, spatial):
            if len(range(*s.indices(size))) == 0:
                raise ValueError(f"statsec {statsec!r} selects no pixel of a frame of shape {spatial}")
        return full
    raise TypeError(f"statsec must be None, a tuple of slices or an IRAF section string '[x1:x2,y1:y2]'; got {statsec!r}")


def _iraf_axis(field: str, size: int, text: str) -> slice:
    if field == "*":
        return slice(None)
    parts = field.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"statsec {text!r}: cannot read {field!r} (expected a, a:b or a:b:step)") from None
    if len(nums) == 1:
        a = b = nums[0]
        step = 1
    elif len(nums) in (2, 3):
        a, b = nums[0], nums[1]
        step = abs(nums[2]) if len(nums) == 3 else 1
    else:
        raise ValueError(f"statsec {text!r}: cannot read {field!r}")
    lo, hi = min(a, b), max(a, b)
    if lo < 1 or hi > size or step < 1:
        raise ValueError(f"statsec {text!r}: {field!r} is outside 1..{size}")
    return slice(lo - 1, hi, step)


# --------------------------------------------------------------------------- statistics


def _core_frame_stat() -> Callable[..., float] | None:
    try:
        from . import _core
    except ImportError:
        return None
    return getattr(_core, "frame_stat", None)


def _valid_mask(region: np.ndarray, mask: np.ndarray | None, thresholds: tuple[float, float] | None) -> np.ndarray:
    valid = np.isfinite(region) if region.dtype.kind == "f" else np.ones(region.shape, bool)
    if mask is not None:
        valid &= ~mask
    if thresholds is not None:
        lo, hi = thresholds
        valid &= (region >= lo) & (region <= hi)
    return valid


def frame_statistic(
    frame: np.ndarray,
    mask: np.ndarray | None,
    name: str | Callable[[np.ma.MaskedArray], Any],
    *,
    thresholds: tuple[float, float] | None = None,
    statsec: Any = None,
    sigma: float | tuple[float, float] = 3.0,
    maxiters: int = 5,
) -> float:
    """One statistic of one frame over its valid pixels.

    Parameters
    ----------
    frame
        One frame in its spatial shape (any accepted dtype or byte order).
    mask
        Same shape, True = bad, or None.
    name
        A statistic name (see module doc) or a callable on a masked array.
    thresholds
        Inclusive keep range on raw values, or None.
    statsec
        Region (see :func:`parse_statsec`).
    sigma, maxiters
        Clipping parameters of ``sigclip_mean``/``sigclip_median``.

    Returns
    -------
    float
        NaN when no pixel is valid.
    """
    sec = parse_statsec(statsec, frame.shape)
    region = frame if sec is None else frame[sec]
    rmask = None if mask is None else (mask if sec is None else mask[sec])
    if callable(name):
        valid = _valid_mask(region, rmask, thresholds)
        # The float workspace with NaN where invalid, as a masked array: mask-aware code and
        # NumPy's nan-functions (what 0.1.1 callables used) both see only the valid pixels.
        from ._validate import workspace_dtype

        data = np.array(region, dtype=workspace_dtype(region.dtype))
        data[~valid] = np.nan
        with warnings.catch_warnings():
            # NumPy says so when a nan-function partitions a masked array: handled below.
            warnings.filterwarnings("ignore", message=".*will ignore the 'mask' of the MaskedArray")
            value = name(np.ma.MaskedArray(data, mask=~valid))
        if (value is np.ma.masked or _is_nan(value)) and valid.any():
            # Some NumPy functions (np.nanmedian, np.nanpercentile) mishandle masked arrays:
            # give them the plain array with NaN at the invalid pixels (0.1.1's convention).
            value = name(data)
        if value is np.ma.masked:
            return math.nan
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"a statistic callable must return a number; got {value!r}") from None
    stat = canonical_statistic(name)
    if stat == "noise":
        from ._noise import frame_noise

        return frame_noise(region, _valid_mask(region, rmask, thresholds))
    lo_s, hi_s = (sigma, sigma) if isinstance(sigma, numbers.Real) else tuple(sigma)
    core_stat = _core_frame_stat()
    if core_stat is not None:
        native = region.dtype.newbyteorder("=")
        flat = np.ascontiguousarray(region, dtype=native).reshape(-1)
        fmask = None if rmask is None else np.ascontiguousarray(rmask, dtype=bool).reshape(-1)
        lo, hi = thresholds if thresholds is not None else (-math.inf, math.inf)
        return float(core_stat(flat, fmask, stat, float(lo), float(hi), float(lo_s), float(hi_s), int(maxiters)))
    values = np.asarray(region, dtype=np.float64)[_valid_mask(region, rmask, thresholds)]
    return _numpy_statistic(values, stat, lo_s, hi_s, maxiters)


def _is_nan(value: Any) -> bool:
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


def _numpy_statistic(values: np.ndarray, stat: str, lo_s: float, hi_s: float, maxiters: int) -> float:
    """NumPy version of the per-frame statistics (used when ``_core.frame_stat`` is absent)."""
    if values.size == 0:
        return math.nan
    if stat == "mean":
        return float(np.mean(values))
    if stat == "median":
        return float(np.median(values))
    if stat == "min":
        return float(values.min())
    if stat == "max":
        return float(values.max())
    if stat == "sum":
        return float(values.sum())
    if stat == "mode":
        return _iraf_mode(np.sort(values))
    keep = values
    for _ in range(maxiters):
        c = np.median(keep)
        s = np.std(keep)
        if not np.isfinite(s) or s == 0:
            break
        new = keep[(keep >= c - lo_s * s) & (keep <= c + hi_s * s)]
        if new.size == keep.size:
            break
        keep = new
    return float(np.mean(keep) if stat == "sigclip_mean" else np.median(keep))


def _iraf_mode(a: np.ndarray) -> float:
    """IRAF's mode of a sorted sample: the densest window of 10% of the central 70% range."""
    n = a.size
    if n < 10:
        return float(a[max(n // 2, 1) - 1])
    i1 = int(1 + n * 0.15) - 1          # central 70 %: 0-based indices of its ends
    j1 = int(1 + n * 0.85) - 1
    z1, z2 = a[i1], a[j1]
    if math.isclose(z1, z2, rel_tol=32 * 1.192e-7, abs_tol=0.0):
        return float(z1)
    width, step = 0.1 * (z2 - z1), 0.01 * (z2 - z1)
    best, mode = 0, z1
    lo = z1
    i = k = i1
    while True:
        while i < j1 and a[i] < lo:
            i += 1
        while k < j1 and a[k] < lo + width:
            k += 1
        if k - i > best:
            best, mode = k - i, a[(i + k) // 2]
        if k >= j1:
            break
        lo += step
    return float(mode)


def plane_sigclip_statistic(kind: str, *, sigma: Any = 3.0, maxiters: int = 5, cenfunc: str = "median",
                            clip_cen: str | None = None, ddof: int = 0) -> Callable[[np.ndarray], float]:
    """imcombiners 0.1.1's sigma-clipped frame statistic, as a callable for zero/scale.

    Each pass re-tests the whole frame: keep ``c - lo*s <= x <= c + hi*s`` with ``c`` the
    ``cenfunc`` centre and ``s = sqrt(sum((x - a)**2) / (n - ddof))`` about ``a``
    (``clip_cen``, default ``cenfunc``) of the current survivors; stop when nothing changes,
    nothing survives, n <= ddof or s == 0. Returns the mean (``kind="mean"``) or the median
    of the survivors. (The ``sigclip_mean``/``sigclip_median`` statistics clip like
    astropy's ``sigma_clipped_stats`` instead.)
    """
    from ._validate import as_int, as_sigma_pair, canonical_centre

    lo_s, hi_s = as_sigma_pair(sigma)
    maxiters = as_int(maxiters, "maxiters", min=0)
    ddof = as_int(ddof, "ddof", min=0)
    cen = canonical_centre(cenfunc)
    about = canonical_centre(clip_cen, "clip_cen") if clip_cen is not None else cen

    def centre(v: np.ndarray, name: str) -> float:
        if name == "mean":
            return float(np.mean(v))
        if name == "median":
            return float(np.median(v))
        return float(np.sort(v)[(v.size - 1) // 2])

    def stat(plane: np.ndarray) -> float:
        x = np.asarray(np.ma.compressed(plane) if np.ma.isMaskedArray(plane) else plane, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        keep = np.ones(x.size, bool)
        for _ in range(maxiters):
            v = x[keep]
            if v.size == 0 or v.size <= ddof:
                break
            c, a = centre(v, cen), centre(v, about)
            s = math.sqrt(float(np.sum((v - a) ** 2)) / (v.size - ddof))
            if s == 0:
                break
            new = (x >= c - lo_s * s) & (x <= c + hi_s * s)
            if np.array_equal(new, keep):
                break
            keep = new
        v = x[keep]
        if v.size == 0:
            return math.nan
        return float(np.mean(v)) if kind == "mean" else float(np.median(v))

    return stat


# --------------------------------------------------------------------------- zero/scale/weights

StatOf = Callable[[int, Any], float]


def _per_frame(stat_of: StatOf, n: int, spec: Any, parallel: bool) -> np.ndarray:
    if parallel and n > 1 and (os.cpu_count() or 1) > 1:
        # The Rust statistics release the GIL, so frames run on all cores.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(n, os.cpu_count() or 1)) as pool:
            return np.array(list(pool.map(lambda i: stat_of(i, spec), range(n))), dtype=np.float64)
    return np.array([stat_of(i, spec) for i in range(n)], dtype=np.float64)


def is_header_spec(value: Any) -> bool:
    """Whether zero/scale/weights name a header keyword (``"!KEY"``) or ``"exposure"``."""
    return isinstance(value, str) and (value.strip().startswith("!") or value.strip().lower() == "exposure")


def _header_values(value: str, n: int, param: str, headers: Any) -> np.ndarray:
    from ._headers import EXPOSURE_KEYWORDS, header_value, keyword_values

    text = value.strip()
    if headers is None:
        raise ValueError(
            f"{param}={value!r} reads FITS header keywords, but these frames have no headers: give "
            f"the {n} values, or combine the FITS files with imcombiners.dask.combine(paths, ...) or "
            "the command line"
        )
    if text.lower() == "exposure":
        if param == "zero":
            raise ValueError("zero: 'exposure' is for scale and weights")
        key = next((k for k in EXPOSURE_KEYWORDS if header_value(headers, 0, k) is not None), EXPOSURE_KEYWORDS[0])
    else:
        key = text[1:].strip()
        if not key:
            raise ValueError(f"{param}: '!' must be followed by a header keyword, e.g. '!EXPTIME'")
    return np.asarray(keyword_values(param, key, headers, n), dtype=np.float64)


def _resolve_one(value: Any, n: int, param: str, stat_of: StatOf, parallel: bool = False,
                 headers: Any = None) -> tuple[np.ndarray | None, bool]:
    """Numbers for one of zero/scale/weights and whether they form a per-frame vector."""
    if value is None:
        return None, False
    if is_header_spec(value):
        out = _header_values(value, n, param, headers)
        _check_values(out, param, source=f"header {value.strip()!r}")
        return out, True
    if isinstance(value, str) and value.strip().lower() == "noise":
        if param != "weights":
            raise ValueError(f"{param}: 'noise' is a weighting (weights='noise'), not a {param}")
        out = _per_frame(stat_of, n, "noise", parallel)
        bad = np.flatnonzero(~(np.isfinite(out) & (out > 0)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"weights='noise': the noise estimate of frame {i} is {out[i]} (it needs at least "
                             "5x5 valid pixels with some scatter)")
        return out, True
    if isinstance(value, str) and value.strip().lower() in _DEPRECATED_STATS:
        # imcombiners 0.1.1 names: its own per-plane sigma-clipped statistic.
        from ._deprecation import warn_deprecated

        old = value.strip().lower()
        warn_deprecated(f"{param}={old!r}", f"{param}={_DEPRECATED_STATS[old]!r}",
                        detail="the old name keeps 0.1.1's clipping about the median, re-tested from the whole frame")
        value = plane_sigclip_statistic("mean" if old == "mean_sc" else "median")
    if isinstance(value, str):
        stat = canonical_statistic(value, param)
        out = _per_frame(stat_of, n, stat, parallel)
        _check_values(out, param, source=f"statistic {stat!r}")
        return out, True
    if callable(value):
        # User callables run one frame at a time (they need not be thread-safe).
        out = _per_frame(stat_of, n, value, False)
        _check_values(out, param, source="callable")
        return out, True
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        out = np.full(n, float(value))
        _check_values(out, param, source="value")
        return out, False
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{param} must be None, a number, a length-{n} sequence, a callable or a statistic "
            f"name ({', '.join(STATISTICS)}); got {value!r}"
        ) from None
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"{param} must have one value per frame (length {n}); got shape {arr.shape}")
    _check_values(arr, param, source="values")
    return arr.copy(), True


def _check_values(arr: np.ndarray, param: str, *, source: str) -> None:
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        why = " (no valid pixel in that frame?)" if source.startswith("statistic") else ""
        raise ValueError(f"{param} must be finite; the {source} gives {arr[i]} for frame {i}{why}")
    if param == "scale":
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"scale must be > 0; the {source} gives {arr[i]} for frame {i}")
    if param == "weights":
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"weights must be >= 0; the {source} gives {arr[i]} for frame {i}")
        if not arr.sum() > 0:
            raise ValueError(f"weights must not all be zero; the {source} gives {arr.tolist()}")


def resolve_normalisation(
    n: int,
    zero: Any,
    scale: Any,
    weights: Any,
    *,
    stat_of: StatOf,
    relative: bool = True,
    parallel: bool = False,
    headers: Any = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Resolve zero, scale and weights to float64 vectors of length ``n`` (or None).

    Parameters
    ----------
    n
        Number of frames.
    zero, scale, weights
        See the module documentation.
    stat_of
        ``stat_of(i, spec)`` returns statistic ``spec`` of frame ``i`` where ``spec`` is a
        canonical statistic name or a callable (in memory: :func:`frame_statistic` with the
        current masks; out of core: a first pass over the frames). Every statistic is taken
        on the raw (un-normalised) frames.
    relative
        Make vectors relative to the first frame (see module doc).
    parallel
        Compute named statistics of different frames in threads (``stat_of`` must be
        thread-safe; callables given by the user always run sequentially).
    headers
        One header (mapping) per frame for ``"!KEY"``/``"exposure"``, or None.

    Returns
    -------
    (zero, scale, weights)
        float64 arrays of shape ``(n,)`` or None. ``value' = (value - zero) / scale``.
    """
    from ._validate import as_bool

    relative = as_bool(relative, "relative")  # reliability: relative="no" is not True
    z, z_vec = _resolve_one(zero, n, "zero", stat_of, parallel, headers)
    s, s_vec = _resolve_one(scale, n, "scale", stat_of, parallel, headers)
    w, _ = _resolve_one(weights, n, "weights", stat_of, parallel, headers)
    if relative and s is not None and s_vec:
        s = s / s[0]
    if isinstance(weights, str) and weights.strip().lower() == "noise" and w is not None:
        # Inverse variance of the normalised frame: (scale / sigma)^2, largest weight 1.
        w = ((s if s is not None else 1.0) / w) ** 2
        w = w / w.max()
    if relative and z is not None and z_vec:
        # Every frame's zero level lands on the first frame's after scaling:
        # (z_i - z'_i) / s_i == z_0 / s_0  =>  z'_i = z_i - z_0 * s_i / s_0.
        z = z - z[0] * (s / s[0] if s is not None else 1.0)
        z[0] = 0.0
    return z, s, w


def sequence_or_none(values: np.ndarray | None) -> list[float] | None:
    """A vector as a list of Python floats for the kernel job (None stays None)."""
    return None if values is None else [float(v) for v in values]

