"""Rejection algorithms as frozen, validated dataclasses.

A rejector only *describes* an algorithm: parameters are checked (and aliases resolved)
when it is constructed, and :meth:`Rejector.to_kernel_dict` gives the dictionary the Rust
kernel parses. The algorithms themselves run in ``imcombiners._core``; ``grow`` (spatial)
is applied by :func:`imcombiners._job.run_job` between kernel calls.

Every rejector narrows a window of an element's samples sorted by (value, frame index),
so survivors are always a contiguous run of the sorted samples and rejection walks inward
from both ends (see docs/design.md for the exact rules).

Shared rules (SigClip, CcdClip, LinearClip)
-------------------------------------------
``nkeep``
    ``>= 0``: keep at least ``nkeep`` samples; ``< 0``: reject at most ``-nkeep`` (IRAF).
``maxrej``
    Reject at most this many samples at an element (``None``: no limit).
``revert_on_nkeep``
    What happens when a pass would break ``nkeep``/``maxrej``. ``True`` (default): the
    whole offending pass is undone and clipping stops (the element keeps the survivors of
    the previous pass). ``False``: IRAF's add-back: samples rejected by that pass are
    restored from the two ends of the window, the end with the smaller ``|x - centre| /
    sigma`` first, until the limit holds; end samples tied with the last restored one
    (within 0.001 sigma) come back too. Either way ``output_flags`` records NKEEP/MAXREJ.
``grow``
    Spatial radius in pixels: every sample this rejector rejects also rejects the samples
    of the same frame within that Euclidean distance. Only this rejector's own rejections
    seed the growth (not input masks, thresholds or NaN).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ._validate import (
    as_bool,
    as_float,
    as_int,
    as_sigma_pair,
    canonical_centre,
    canonical_stdfunc,
)

__all__ = [
    "Rejector",
    "SigClip",
    "CcdClip",
    "VarClip",
    "AvSigClip",
    "LinearClip",
    "MinMaxClip",
    "PClip",
    "KERNEL_KINDS",
]

# nit is reported as uint8, so more passes than this cannot be counted.
_MAX_ITERS = 255


def _set(obj: Any, name: str, value: Any) -> None:
    # Frozen dataclasses normalise their own fields in __post_init__ this way.
    object.__setattr__(obj, name, value)


def _grow(value: Any) -> float | None:
    if value is None:
        return None
    g = as_float(value, "grow", min=0.0)
    return g if g > 0 else None


def _maxrej(value: Any) -> int | None:
    return None if value is None else as_int(value, "maxrej", min=0)


@dataclass(frozen=True)
class Rejector:
    """Base class of the rejection algorithms (use a subclass)."""

    #: Name of the algorithm in the kernel job (``{"kind": kind, ...}``).
    kind: ClassVar[str] = ""
    #: Whether the algorithm computes a spread, i.e. whether ``std`` is reported.
    has_spread: ClassVar[bool] = False
    #: Whether the algorithm reads the samples' variances (a ``variance=`` plane).
    needs_variance: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if type(self) is Rejector:
            raise TypeError("Rejector is abstract: use SigClip, CcdClip, VarClip, AvSigClip, LinearClip, MinMaxClip or PClip")

    @property
    def grow_radius(self) -> float | None:
        """The spatial grow radius, or None."""
        return getattr(self, "grow", None)

    def to_kernel_dict(self) -> dict[str, Any]:
        """The dictionary given to ``_core.run`` in ``job["rejectors"]``.

        Keys are the dataclass field names, except: ``sigma`` becomes ``sigma_lo`` and
        ``sigma_hi``; ``maxrej=None`` is omitted; ``grow`` is omitted (handled in Python).
        """
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "grow" or (f.name == "maxrej" and value is None):
                continue
            if f.name == "sigma":
                out["sigma_lo"], out["sigma_hi"] = float(value[0]), float(value[1])
            else:
                out[f.name] = value
        return out

    def replace(self, **changes: Any) -> Rejector:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _clip_common(obj: Any) -> None:
    """Validate the fields shared by the iterative clippers."""
    _set(obj, "maxiters", as_int(obj.maxiters, "maxiters", min=0, max=_MAX_ITERS))
    _set(obj, "cenfunc", canonical_centre(obj.cenfunc))
    _set(obj, "nkeep", as_int(obj.nkeep, "nkeep"))
    _set(obj, "maxrej", _maxrej(obj.maxrej))
    _set(obj, "revert_on_nkeep", as_bool(obj.revert_on_nkeep, "revert_on_nkeep"))
    _set(obj, "grow", _grow(obj.grow))


@dataclass(frozen=True)
class SigClip(Rejector):
    """Iterative sigma clipping about a centre.

    Parameters
    ----------
    sigma
        Clipping limit in units of the spread: one number for both sides or ``(lo, hi)``.
        A sample is rejected when ``x < c - lo*s`` or ``x > c + hi*s`` (equality kept).
    maxiters
        Maximum number of passes (each recomputes centre and spread from the survivors);
        clipping stops earlier when a pass rejects nothing.
    cenfunc
        Centre: ``"median"`` (even n: mean of the middle pair), ``"mean"`` or
        ``"lmedian"`` (lower middle).
    stdfunc
        Spread: ``"std"`` (standard deviation about the mean with ``ddof``, like NumPy and
        astropy), ``"mad"`` (1.4826 x median absolute deviation, astropy ``mad_std``) or
        ``"iraf"`` (RMS about the centre with n - 1, IRAF sigclip).
    ddof
        Delta degrees of freedom of ``stdfunc="std"``.
    nkeep, maxrej, revert_on_nkeep, grow
        See the module documentation.
    """

    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    stdfunc: str = "std"
    ddof: int = 0
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None

    kind: ClassVar[str] = "sigclip"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "stdfunc", canonical_stdfunc(self.stdfunc))
        _set(self, "ddof", as_int(self.ddof, "ddof", min=0))
        _clip_common(self)


@dataclass(frozen=True)
class CcdClip(Rejector):
    """Sigma clipping with IRAF's CCD noise model instead of a measured spread.

    For a sample of frame i the expected noise (ADU, in normalised units) is
    ``sqrt((rdnoise/gain)**2 + I/gain + (snoise*I)**2) / S_i`` with ``I = max(0, S_i*c + Z_i)``
    the centre in raw units when the frames' scales differ by more than ``sigscale``
    (otherwise ``I = max(0, c)``, ``S_i = 1``).

    Parameters
    ----------
    sigma, maxiters, cenfunc
        As for :class:`SigClip`.
    rdnoise
        Read noise in electrons.
    gain
        Gain in electrons per ADU (> 0).
    snoise
        Sensitivity noise as a fraction of the signal.
    sigscale
        Tolerance on ``|scale_i - 1|`` above which the per-frame scales enter the noise
        model (IRAF; 0 disables it).
    high_only
        Reject only high outliers (IRAF ``crreject``).
    nkeep, maxrej, revert_on_nkeep, grow
        See the module documentation.
    """

    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    rdnoise: float = 0.0
    gain: float = 1.0
    snoise: float = 0.0
    sigscale: float = 0.1
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    high_only: bool = False
    grow: float | None = None

    kind: ClassVar[str] = "ccdclip"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "rdnoise", as_float(self.rdnoise, "rdnoise", min=0.0))
        _set(self, "gain", as_float(self.gain, "gain", positive=True))
        _set(self, "snoise", as_float(self.snoise, "snoise", min=0.0))
        _set(self, "sigscale", as_float(self.sigscale, "sigscale", min=0.0))
        _set(self, "high_only", as_bool(self.high_only, "high_only"))
        _clip_common(self)

    def to_kernel_dict(self) -> dict[str, Any]:
        out = super().to_kernel_dict()
        if self.high_only:
            # crreject never rejects low: an infinite lower limit says so to any engine.
            out["sigma_lo"] = float("inf")
        return out


@dataclass(frozen=True)
class VarClip(Rejector):
    """Sigma clipping with each sample's own standard deviation (DRAGONS "varclip"-like).

    Needs a ``variance=`` plane.  Each pass takes the centre ``c`` of the survivors and
    rejects a sample when ``x < c - lo*sqrt(v)`` or ``x > c + hi*sqrt(v)`` with ``v`` that
    sample's variance after zero/scale (``V / scale**2``), walking inward from both ends
    of the sorted window (docs/design.md, "Survey planes").

    Parameters
    ----------
    sigma, maxiters, cenfunc
        As for :class:`SigClip`.
    nkeep, maxrej, revert_on_nkeep, grow
        See the module documentation.

    Notes
    -----
    ``std`` reports ``sqrt(mean variance)`` of the survivors of the last pass and
    ``low``/``upp`` the limits at that typical sigma.
    """

    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None

    kind: ClassVar[str] = "varclip"
    has_spread: ClassVar[bool] = True
    needs_variance: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _clip_common(self)


@dataclass(frozen=True)
class AvSigClip(Rejector):
    """IRAF ``avsigclip``: sigma clipping with one Poisson-scaled sigma per image line.

    The spread is estimated once per line (last spatial axis) from the samples of all its
    pixels that the rejectors before it in the chain left, under a Poisson model
    ``sigma(c) = s * sqrt(max(1, c))``; clipping then iterates until nothing changes.
    The out-of-core engine gives it full-width tiles so lines are never cut.

    Parameters
    ----------
    sigma
        ``lsigma``/``hsigma``: one number or ``(lo, hi)``.
    cenfunc
        ``"median"`` (IRAF ``mclip=yes``) or ``"mean"`` (``mclip=no``).
    nkeep
        As for :class:`SigClip` (IRAF add-back).
    sigscale
        When the per-image scales differ from 1 by more than this (and it is > 0), each
        sample's Poisson level is its own frame's, ``max(1, (scale*c + zero)/scale**2)``
        (IRAF's "doscale1"); 0 disables the correction.
    grow
        Spatial grow radius.
    """

    sigma: float | tuple[float, float] = 3.0
    cenfunc: str = "median"
    nkeep: int = 1
    sigscale: float = 0.1
    grow: float | None = None

    kind: ClassVar[str] = "avsigclip"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        cen = canonical_centre(self.cenfunc)
        if cen == "lmedian":
            raise ValueError("cenfunc: avsigclip accepts 'median' or 'mean' (IRAF mclip yes/no); got 'lmedian'")
        _set(self, "cenfunc", cen)
        _set(self, "nkeep", as_int(self.nkeep, "nkeep"))
        _set(self, "sigscale", as_float(self.sigscale, "sigscale", min=0.0))
        _set(self, "grow", _grow(self.grow))


@dataclass(frozen=True)
class LinearClip(Rejector):
    """Keep samples inside bounds that are affine in the centre.

    A sample survives when ``low_scale*c - low <= x <= upp_scale*c + upp`` (inclusive),
    with ``c`` the ``cenfunc`` centre of the current survivors. ``maxiters=1`` is a single
    pass; larger values iterate (centre recomputed) until nothing changes.

    Parameters
    ----------
    low_scale, low, upp_scale, upp
        Non-negative finite numbers defining the bounds.
    maxiters, cenfunc, nkeep, maxrej, revert_on_nkeep, grow
        See :class:`SigClip` and the module documentation.
    """

    low_scale: float = 1.0
    low: float = 0.0
    upp_scale: float = 1.0
    upp: float = 0.0
    maxiters: int = 1
    cenfunc: str = "median"
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None

    kind: ClassVar[str] = "linearclip"

    def __post_init__(self) -> None:
        for name in ("low_scale", "low", "upp_scale", "upp"):
            _set(self, name, as_float(getattr(self, name), name, min=0.0))
        _clip_common(self)


def _minmax_count(value: Any, name: str) -> int | float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a count (int >= 0) or a fraction (0 <= float < 1); got {value!r}")
    v = as_float(value, name, min=0.0)
    # Counts are integers (IRAF truncates); fractions stay floats below 1.
    return int(v) if (v >= 1 or float(v).is_integer()) else v


@dataclass(frozen=True)
class MinMaxClip(Rejector):
    """Reject the ``n_min`` lowest and ``n_max`` highest samples of each element.

    Integers (and floats >= 1, truncated) are counts, floats below 1 are fractions. Both
    follow IRAF's arithmetic: with N frames and n valid samples at an element, a count c
    becomes the fraction f = c/N and the element rejects ``trunc(f*n + 0.001)`` samples, so
    masked samples reduce the number rejected proportionally. Ties: the lower frame index
    counts as lower on the low side, and the higher frame index as higher on the high side
    (the (value, frame index) order).
    """

    n_min: float = 1
    n_max: float = 1
    grow: float | None = None

    kind: ClassVar[str] = "minmax"

    def __post_init__(self) -> None:
        _set(self, "n_min", _minmax_count(self.n_min, "n_min"))
        _set(self, "n_max", _minmax_count(self.n_max, "n_max"))
        _set(self, "grow", _grow(self.grow))

    def to_kernel_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_min": float(self.n_min), "n_max": float(self.n_max)}


@dataclass(frozen=True)
class PClip(Rejector):
    """IRAF percentile clipping (``pclip``), single pass.

    The spread is the distance between the median and the sample at a rank offset from
    it: ``frac`` is that offset as a fraction of half the number of frames N when
    ``|frac| < 1``, or as a rank when ``|frac| >= 1`` (negative: below the median). Samples
    whose distance from the median is at least ``sigma`` spreads are rejected.

    Parameters
    ----------
    frac
        Rank offset (finite, non-zero); IRAF default -0.5.
    sigma
        One number or ``(lo, hi)``.
    nkeep
        Minimum number of samples to keep (IRAF add-back); negative: reject at most -nkeep.
    grow
        Spatial grow radius.
    """

    frac: float = -0.5
    sigma: float | tuple[float, float] = 3.0
    nkeep: int = 1
    grow: float | None = None

    kind: ClassVar[str] = "pclip"

    def __post_init__(self) -> None:
        _set(self, "frac", as_float(self.frac, "frac", nonzero=True))
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "nkeep", as_int(self.nkeep, "nkeep"))
        _set(self, "grow", _grow(self.grow))


#: Kinds the library engine of ``_core.run`` is documented to implement. ``_core`` may
#: advertise its own list as ``_core.REJECTORS``.
KERNEL_KINDS = frozenset({"sigclip", "ccdclip", "avsigclip", "linearclip", "minmax", "pclip", "varclip"})
