"""What one library combine asks for: its rejectors, its outputs, its weighting.

:class:`~imcombiners.Combiner` (and through it :func:`~imcombiners.ndcombine`) turns
its user-facing arguments into the pieces a :class:`~imcombiners._job.Job` needs here,
so the Combiner module keeps only the state of a chain and the calls into the kernel.
"""

from __future__ import annotations

from typing import Any

from ._deprecation import warn_deprecated
from ._products import DIAGNOSTICS, SIMPLE_DIAGNOSTICS
from ._rejectors import Rejector
from ._validate import as_bool, check_diagnostics

__all__ = ["ALL_DIAGNOSTICS", "is_rejector", "as_rejectors", "wanted_outputs", "full_or_diagnostics",
           "weighted_method"]

#: The outputs of ``diagnostics="simple"`` (and of every chained reject step).
ALL_DIAGNOSTICS = frozenset(SIMPLE_DIAGNOSTICS)

_KINDS = ("SigClip, CcdClip, VarClip, AvSigClip, LinearClip, MinMaxClip, PClip, WinsorizedSigClip, "
          "GESDClip, LinearFitClip")


def is_rejector(r: Any) -> bool:
    """A built-in rejector or a user subclass with its own ``apply`` (not the bare base)."""
    return isinstance(r, Rejector) and (type(r) is not Rejector or r.is_custom)


def as_rejectors(rejectors: Any, owner: str = "rejectors") -> tuple[Rejector, ...]:
    """None, one rejector or a sequence of them -> a tuple (checked)."""
    if rejectors is None:
        return ()
    if isinstance(rejectors, Rejector):
        return (rejectors,)
    if isinstance(rejectors, (list, tuple)):
        for r in rejectors:
            if not is_rejector(r):
                raise TypeError(f"{owner} must be a Rejector or a sequence of them ({_KINDS}); got an item {r!r}")
        return tuple(rejectors)
    raise TypeError(f"{owner} must be None, a Rejector or a sequence of Rejectors; got {rejectors!r}")


def check_rejector(rejector: Any) -> None:
    """``Combiner.reject``'s argument: one rejector."""
    if not is_rejector(rejector):
        raise TypeError(f"reject() expects a Rejector ({_KINDS}); got {rejector!r}")


def wanted_outputs(diagnostics: Any) -> tuple[str | None, frozenset[str]]:
    """``diagnostics`` -> (level, outputs): None / "simple" / "full", or "list" with names."""
    if diagnostics is None or isinstance(diagnostics, str):
        level = check_diagnostics(diagnostics)
        want = set() if level is None else set(ALL_DIAGNOSTICS)
        if level == "full":
            want.add("sample_flags")
        return level, frozenset(want)
    try:
        names = frozenset(str(x) for x in diagnostics)
    except TypeError:
        raise ValueError(f"diagnostics must be None, 'simple', 'full' or a list of output names; got "
                         f"{diagnostics!r}") from None
    unknown = names - DIAGNOSTICS - {"data"}
    if unknown:
        raise ValueError(f"diagnostics: unknown outputs {sorted(unknown)}; expected some of {sorted(DIAGNOSTICS)}")
    return "list", names - {"data"}


def full_or_diagnostics(owner: str, full: Any, diagnostics: Any) -> tuple[Any, bool]:
    """0.1.1's ``full=True``: a deprecated spelling of ``diagnostics="simple"``."""
    if full is None or not as_bool(full, "full"):
        return diagnostics, False
    if diagnostics is not None:
        raise ValueError("pass either diagnostics or full, not both")
    warn_deprecated(f"{owner}(full=True)", "diagnostics='simple'",
                    detail="which returns a CombineResult with .data, .mask, .std, ...")
    return "simple", True


def weighted_method(method: str, weighted: bool) -> str:
    """The method a combine runs once its weights are known: weights turn ``mean`` into
    the weighted mean (``wavg``) and ``sum`` into a weighted sum; other methods refuse them."""
    if weighted and method == "mean":
        method = "wavg"
    if weighted and method not in ("wavg", "sum"):
        raise ValueError(f"weights can only be used with mean/wavg and sum; got method {method!r}")
    if method == "wavg" and not weighted:
        raise ValueError("weights: method 'wavg' needs weights (one per frame or sample, a statistic name "
                         "or 'inverse_variance')")
    return method
