"""Rejectors beyond IRAF, as in Siril and PixInsight: winsorized sigma clipping, the
generalized ESD test and linear fit clipping.

Like every rejector they only *describe* an algorithm (validated parameters); the
kernels in ``imcombiners._core`` run them on the sorted valid samples of each output
element, so survivors are always a contiguous run of the sorted samples. The exact
definitions, and where they differ from Siril's and PixInsight's, are in
docs/design.md ("Library rejection semantics") and docs/rejection.md.

Median/MAD clipping needs no class of its own: ``SigClip(cenfunc="median",
stdfunc="mad")`` clips at median -/+ sigma x 1.4826 MAD (astropy's ``mad_std``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._rejectors import Rejector, _grow, _maxrej, _set
from ._validate import as_bool, as_float, as_int, as_sigma_pair

__all__ = ["WinsorizedSigClip", "GESDClip", "LinearFitClip"]

# nit is a uint8: at most this many passes can be counted.
_MAX_PASSES = 255


def _passes(value: Any) -> int | None:
    """maxiters: None (until a pass rejects nothing) or 1..255 passes."""
    if value is None:
        return None
    return as_int(value, "maxiters", min=1, max=_MAX_PASSES)


def _limits(obj: Any, revert: bool = True) -> None:
    _set(obj, "nkeep", as_int(obj.nkeep, "nkeep"))
    _set(obj, "maxrej", _maxrej(obj.maxrej))
    if revert:
        _set(obj, "revert_on_nkeep", as_bool(obj.revert_on_nkeep, "revert_on_nkeep"))
    _set(obj, "grow", _grow(obj.grow))


def _kernel_dict(obj: Rejector) -> dict[str, Any]:
    out = Rejector.to_kernel_dict(obj)
    if "maxiters" in out and out["maxiters"] is None:
        out["maxiters"] = _MAX_PASSES  # None: until a pass rejects nothing
    return out


@dataclass(frozen=True)
class WinsorizedSigClip(Rejector):
    """Winsorized sigma clipping (Huber's winsorization; Siril ``rej w``, PixInsight).

    Each pass takes the median ``m`` of the current survivors and their winsorized sigma
    ``s``: starting from the standard deviation (n - 1), the samples are clamped to
    ``m -/+ cutoff*s`` and ``s`` becomes 1.134 x the standard deviation of the clamped
    values, repeated to its limit (computed exactly, not to a tolerance). Samples with
    ``x < m - lo*s`` or ``x > m + hi*s`` are rejected; passes repeat until one rejects
    nothing.

    Parameters
    ----------
    sigma
        Clipping limits in units of the winsorized sigma: one number or ``(lo, hi)``
        (Siril's sigma low / sigma high).
    maxiters
        Maximum passes; None (default) = until a pass rejects nothing (as Siril), at
        most 255.
    cutoff
        Winsorization cutoff in sigma (Huber's c, 1.5 in Siril and PixInsight).
    nkeep, maxrej, revert_on_nkeep, grow
        As for :class:`~imcombiners.SigClip`.
    """

    sigma: float | tuple[float, float] = 3.0
    maxiters: int | None = None
    cutoff: float = 1.5
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None

    kind: ClassVar[str] = "winsorized"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "maxiters", _passes(self.maxiters))
        _set(self, "cutoff", as_float(self.cutoff, "cutoff", positive=True))
        _limits(self)

    def to_kernel_dict(self) -> dict[str, Any]:
        return _kernel_dict(self)


@dataclass(frozen=True)
class GESDClip(Rejector):
    """Rosner's generalized extreme studentized deviate test (Siril ``rej g``, PixInsight ESD).

    Up to ``trunc(max_outliers * n)`` of the n valid samples (at most n - 2) are tested
    one after the other: each test takes the sample farthest from the mean of those left,
    in units of their standard deviation (n - 1), and sets it aside. The number of outliers
    is the largest i whose statistic exceeds Rosner's critical value at ``significance``;
    those i samples are rejected. One pass.

    Parameters
    ----------
    max_outliers
        Largest fraction of the samples that may be outliers, 0 <= f < 1 (Siril's first
        GESD parameter, PixInsight's "ESD outliers"; default 0.3).
    significance
        Significance level alpha of the test, 0 < alpha < 1 (Siril's second parameter,
        PixInsight's "ESD significance"; default 0.05). Larger values reject more.
    nkeep, maxrej
        Keep at least ``nkeep`` samples (negative: reject at most -nkeep) and reject at
        most ``maxrej``: when the test finds more outliers, only the most extreme are
        rejected (output flags NKEEP / MAXREJ).
    grow
        Spatial grow radius, as for :class:`~imcombiners.SigClip`.
    """

    max_outliers: float = 0.3
    significance: float = 0.05
    nkeep: int = 1
    maxrej: int | None = None
    grow: float | None = None

    kind: ClassVar[str] = "gesd"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        f = as_float(self.max_outliers, "max_outliers", min=0.0)
        if f >= 1.0:
            raise ValueError(f"max_outliers: must be a fraction in [0, 1); got {self.max_outliers!r}")
        _set(self, "max_outliers", f)
        a = as_float(self.significance, "significance", positive=True)
        if a >= 1.0:
            raise ValueError(f"significance: must be in (0, 1); got {self.significance!r}")
        _set(self, "significance", a)
        _limits(self, revert=False)


@dataclass(frozen=True)
class LinearFitClip(Rejector):
    """Linear fit clipping (PixInsight's method; Siril ``rej l``).

    Each pass fits a least-squares line to the sorted survivors against their rank and
    takes the mean absolute residual ``s`` as the scatter. Walking in from both ends of
    the sorted samples, a sample whose residual is below ``-lo*s`` (low end) or above
    ``hi*s`` (high end) is rejected; passes repeat until one rejects nothing. Good against
    satellite trails and gradients in large stacks. Needs at least 3 samples.

    Parameters
    ----------
    sigma
        Limits in units of the mean absolute residual (about 0.8 standard deviations for
        normal noise): one number or ``(lo, hi)``; default 5.
    maxiters
        Maximum passes; None (default) = until a pass rejects nothing, at most 255.
    nkeep, maxrej, revert_on_nkeep, grow
        As for :class:`~imcombiners.SigClip` (add-back orders by |residual| / s).
    """

    sigma: float | tuple[float, float] = 5.0
    maxiters: int | None = None
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None

    kind: ClassVar[str] = "linearfit"
    has_spread: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "maxiters", _passes(self.maxiters))
        _limits(self)

    def to_kernel_dict(self) -> dict[str, Any]:
        return _kernel_dict(self)
