"""The base of the rejectors and SigClip, with the helpers the others share (the rules:
:mod:`imcombiners._rejectors`, which re-exports these; the other built-in rejectors are
in :mod:`._rejectors_extra` and :mod:`._rejectors_modern`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._deprecation import AbstractRejectorError, pop_validate, warn_deprecated
from ._validate import (
    as_bool,
    as_float,
    as_int,
    as_sigma_pair,
    canonical_centre,
    canonical_stdfunc,
)


__all__ = ["Rejector", "SigClip", "KERNEL_KINDS", "register_runner"]

# nit is reported as uint8, so more passes than this cannot be counted.
_MAX_ITERS = 255

#: Runs one rejector alone for the deprecated ``Rejector.apply``: the kernels module,
#: which sits above this one, registers it (:func:`register_runner`).
_RUNNER: Callable[[Any, Any, Any], tuple[Any, ...]] | None = None


def register_runner(fn: Callable[[Any, Any, Any], tuple[Any, ...]]) -> None:
    """Set how ``Rejector.apply`` runs a built-in rejector (``kernels.run_rejector``)."""
    global _RUNNER
    _RUNNER = fn


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


def _spread_centre(obj: Any) -> None:
    """Resolve ``spread_centre`` and 0.1.1's deprecated ``clip_cen`` spelling of it."""
    owner = type(obj).__name__
    if obj.clip_cen is not None:
        if obj.spread_centre is not None:
            raise TypeError(f"{owner}: give either spread_centre= or the deprecated clip_cen=, not both")
        warn_deprecated(f"{owner}(clip_cen=...)", "spread_centre=")
        _set(obj, "spread_centre", obj.clip_cen)
        _set(obj, "clip_cen", None)
    if obj.spread_centre is not None:
        _set(obj, "spread_centre", canonical_centre(obj.spread_centre, "spread_centre"))



@dataclass(frozen=True)
class Rejector:
    """Base class of the rejection algorithms (use a subclass)."""

    #: Name of the algorithm in the kernel job (``{"kind": kind, ...}``).
    kind: ClassVar[str] = ""
    #: Whether the algorithm computes a spread, i.e. whether ``std`` is reported.
    has_spread: ClassVar[bool] = False
    #: Whether the algorithm reads the samples' variances (a ``variance=`` plane).
    needs_variance: ClassVar[bool] = False
    #: Fields kept only as deprecated 0.1.1 spellings (not sent to the kernel).
    _legacy_fields: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        if type(self) is Rejector:
            raise AbstractRejectorError(
                "Rejector is abstract: use SigClip, CcdClip, VarClip, AvSigClip, LinearClip, MinMaxClip, PClip, "
                "WinsorizedSigClip, GESDClip or LinearFitClip "
                "(or a subclass that implements apply())"
            )

    @property
    def is_custom(self) -> bool:
        """True for a user subclass that implements :meth:`apply` itself (0.1.1 style): it
        runs in Python on the normalised stack instead of in the kernel."""
        return type(self).apply is not Rejector.apply

    def apply(self, arr: Any, mask: Any = None, **kwargs: Any) -> tuple[Any, ...]:
        """Run this rejector alone: ``(mask_rej, std, low, upp, nit, output_flags)``.

        Deprecated for the built-in rejectors (use ``imcombiners.kernels.<kind>``). A
        subclass may override it (0.1.1's extension point): it receives the normalised
        float stack ``(N, *spatial)`` and the current bool mask, and returns that 6-tuple;
        :class:`~imcombiners.Combiner` then uses its ``mask_rej``.
        """
        pop_validate(f"{type(self).__name__}.apply", kwargs)
        if kwargs:
            raise TypeError(f"{type(self).__name__}.apply() got unexpected keyword arguments {sorted(kwargs)}")
        if not self.kind or _RUNNER is None:
            raise NotImplementedError(f"{type(self).__name__} does not implement apply()")
        warn_deprecated(f"{type(self).__name__}.apply(arr, mask)", f"imcombiners.kernels.{self.kind}(arr, mask, **params)")
        return _RUNNER(self, arr, mask)

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
            if f.name == "grow" or f.name in self._legacy_fields or (f.name in ("maxrej", "spread_centre") and value is None):
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
        Spread about the centre ``a`` (see ``spread_centre``): ``"std"``
        (``sqrt(sum((x - a)**2) / (n - ddof))``; with ddof=1 this is IRAF's sigclip sigma),
        ``"mad"`` (1.482602 x median ``|x - a|``, astropy ``mad_std``) or ``"iraf"`` (RMS
        about the clipping centre with n - 1, whatever ``ddof``).
    ddof
        Delta degrees of freedom of the spread: ``sqrt(sum((x - a)**2) / (n - ddof))`` for
        ``"std"``; ``"mad"`` is multiplied by ``sqrt(n / (n - ddof))`` when ddof > 0.
    nkeep, maxrej, revert_on_nkeep, grow
        See the module documentation.
    spread_centre
        Centre ``a`` the spread is measured about (mean, median, lmedian). None (default):
        the clipping centre ``cenfunc``, as imcombiners 0.1.1 and IRAF do. ``"mean"`` with
        ``stdfunc="std"`` is NumPy's / astropy's standard deviation.
    clip_cen
        Deprecated 0.1.1 name of ``spread_centre``.
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
    spread_centre: str | None = None
    clip_cen: str | None = field(default=None, repr=False)

    kind: ClassVar[str] = "sigclip"
    has_spread: ClassVar[bool] = True
    _legacy_fields: ClassVar[frozenset[str]] = frozenset({"clip_cen"})

    def __post_init__(self) -> None:
        _set(self, "sigma", as_sigma_pair(self.sigma))
        _set(self, "stdfunc", canonical_stdfunc(self.stdfunc))
        _set(self, "ddof", as_int(self.ddof, "ddof", min=0))
        _spread_centre(self)
        _clip_common(self)


#: Kinds the library engine of ``_core.run`` is documented to implement. ``_core`` may
#: advertise its own list as ``_core.REJECTORS``.
KERNEL_KINDS = frozenset({"sigclip", "ccdclip", "avsigclip", "linearclip", "minmax", "pclip", "varclip",
                          "winsorized", "gesd", "linearfit"})


# pickles, reprs and documentation name them as members of imcombiners._rejectors
Rejector.__module__ = SigClip.__module__ = "imcombiners._rejectors"
