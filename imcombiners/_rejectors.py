"""Rejection algorithms as frozen, validated dataclasses.

Defined in :mod:`._rejectors_base` (Rejector, SigClip) and :mod:`._rejectors_extra` (the
others, loaded when first asked for: a frozen dataclass costs ~4.6 M instructions to
define, and a command-line sigma clipping run needs SigClip alone); all are named here.

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

Diagnostics (as imcombiners 0.1.1): ``low``/``upp`` are the smallest and largest samples
the rejector kept (LinearClip: its bounds); the clipping bounds of the last pass are
``clip_low``/``clip_upp``. ``nit`` for SigClip/CcdClip is 1 + the passes that rejected
something and were kept; for LinearClip and AvSigClip the passes evaluated; MinMaxClip
and PClip always 1. Samples a pass rejected and then gave back because of nkeep/maxrej
carry ``SampleFlags.RESTORED_NKEEP``/``RESTORED_MAXREJ``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._rejectors_base import (  # noqa: F401 - the helpers are shared with the other rejector modules
    _MAX_ITERS,
    KERNEL_KINDS,
    Rejector,
    SigClip,
    _clip_common,
    _grow,
    _maxrej,
    _set,
    _spread_centre,
    register_runner,
)

if TYPE_CHECKING:
    from ._rejectors_extra import AvSigClip, CcdClip, LinearClip, MinMaxClip, PClip, VarClip

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

#: Rejectors defined in :mod:`._rejectors_extra`, loaded when first asked for.
_EXTRA = frozenset({"CcdClip", "VarClip", "AvSigClip", "LinearClip", "MinMaxClip", "PClip"})


def __getattr__(name: str) -> Any:
    if name in _EXTRA:
        from . import _rejectors_extra

        value = getattr(_rejectors_extra, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
