"""The rejectors other than SigClip: CcdClip, VarClip, AvSigClip, LinearClip, MinMaxClip,
PClip (the rules they share: :mod:`imcombiners._rejectors`, which names them).

Why a module of its own: a frozen dataclass costs ~4.6 M instructions to define, and a
command-line sigma clipping run needs only :class:`~imcombiners.SigClip`; these six are
defined when first asked for (``imcombiners._rejectors`` loads them by name, and they
keep that module as theirs: ``imcombiners._rejectors.CcdClip`` as before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._deprecation import ParameterTypeError, warn_deprecated
from ._rejectors_base import Rejector, _clip_common, _grow, _set, _spread_centre
from ._validate import as_bool, as_float, as_int, as_sigma_pair, canonical_centre

__all__ = ["CcdClip", "VarClip", "AvSigClip", "LinearClip", "MinMaxClip", "PClip"]


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
    spread_centre
        Centre at which the noise is evaluated (None: the clipping centre).
    clip_cen, ddof, scale_ref, zero_ref
        Deprecated 0.1.1 parameters: ``clip_cen`` is ``spread_centre``; ``ddof`` never
        entered the noise model and is ignored; ``scale_ref``/``zero_ref`` (1 and 0 by
        default) describe the data as ``raw / scale_ref - zero_ref``, so the noise is
        evaluated at the raw level ``scale_ref * (c + zero_ref)`` and divided by
        ``scale_ref`` (IRAF's model for one frame's scale; give the frames' ``zero``/
        ``scale`` to the combine instead).
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
    spread_centre: str | None = None
    clip_cen: str | None = field(default=None, repr=False)
    ddof: int | None = field(default=None, repr=False)
    scale_ref: float = field(default=1.0, repr=False)
    zero_ref: float = field(default=0.0, repr=False)

    kind: ClassVar[str] = "ccdclip"
    has_spread: ClassVar[bool] = True
    _legacy_fields: ClassVar[frozenset[str]] = frozenset({"clip_cen", "ddof"})

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "rdnoise", as_float(self.rdnoise, "rdnoise", min=0.0))
        _set(self, "gain", as_float(self.gain, "gain", positive=True))
        _set(self, "snoise", as_float(self.snoise, "snoise", min=0.0))
        _set(self, "sigscale", as_float(self.sigscale, "sigscale", min=0.0))
        _set(self, "high_only", as_bool(self.high_only, "high_only"))
        _spread_centre(self)
        if self.ddof is not None:
            as_int(self.ddof, "ddof", min=0)
            warn_deprecated("CcdClip(ddof=...)", "no argument", detail="the CCD noise model has no ddof; it was always ignored")
            _set(self, "ddof", None)
        _set(self, "scale_ref", as_float(self.scale_ref, "scale_ref", positive=True))
        _set(self, "zero_ref", as_float(self.zero_ref, "zero_ref"))
        if (self.scale_ref, self.zero_ref) != (1.0, 0.0):
            warn_deprecated("CcdClip(scale_ref=..., zero_ref=...)", "the combine's zero=/scale= (per-frame normalisation)",
                            detail="the noise model follows IRAF: see docs/migrating-from-0.1.md")
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

    ``LinearClip()`` with all four bounds at their defaults (1, 0, 1, 0) rejects nothing
    (imcombiners 0.1.1: an unconfigured LinearClip is a no-op, not "keep x == c").
    Diagnostics: ``low``/``upp`` are the bounds of the last kept pass (NaN when none was
    kept), ``nit`` the passes evaluated; MAXITERS is set only when ``maxiters > 1``.

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
        if not isinstance(self.frac, (int, float)) and hasattr(self.frac, "__len__"):
            raise ParameterTypeError(f"frac must be a scalar for IRAF-style pclip (a rank offset); got {self.frac!r}")
        _set(self, "frac", as_float(self.frac, "frac", nonzero=True))
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "nkeep", as_int(self.nkeep, "nkeep"))
        _set(self, "grow", _grow(self.grow))


# pickles, reprs and documentation name them as members of imcombiners._rejectors
for _cls in (CcdClip, VarClip, AvSigClip, LinearClip, MinMaxClip, PClip):
    _cls.__module__ = "imcombiners._rejectors"
del _cls
