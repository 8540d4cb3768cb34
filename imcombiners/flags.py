"""Bit flags reported by the rejection diagnostics.

Two separate namespaces:

* :class:`SampleFlags` describe one *sample* (one frame at one output element) and are
  returned as a ``uint8`` array shaped ``(N, *spatial)`` (``diagnostics="full"``).
* :class:`OutputFlags` describe one *output element* and are returned as a ``uint8``
  array shaped ``*spatial``. ``0`` means normal completion (not "nothing rejected").
"""

from __future__ import annotations

from enum import IntFlag

__all__ = ["SampleFlags", "OutputFlags"]


class SampleFlags(IntFlag):
    """Why a sample was excluded (bits may combine)."""

    #: Excluded by the input mask / bad-pixel mask given by the caller.
    INPUT_MASK = 1
    #: The value is NaN or +/-inf.
    NONFINITE = 2
    #: The raw value is outside the inclusive ``thresholds`` range.
    THRESHOLD = 4
    #: Rejected by a rejection algorithm.
    ALGORITHM = 8
    #: Added by the spatial ``grow`` of a rejection.
    GROW = 16
    #: Already excluded before this step (stage-local flags of a chained step).
    PREVIOUS = 32
    #: Rejected by a pass that was then undone (``revert_on_nkeep=True``) or given back
    #: (IRAF add-back) to keep ``nkeep`` samples; the sample is *used*.
    RESTORED_NKEEP = 64
    #: The same for ``maxrej``; both bits when both limits were binding.
    RESTORED_MAXREJ = 128


class OutputFlags(IntFlag):
    """Status of the rejection at one output element (bits may combine)."""

    #: At least one sample was excluded by the input mask before rejection started.
    PREMASKED = 1
    #: The last allowed pass still rejected something (``maxiters`` reached).
    MAXITERS = 2
    #: A pass was limited by ``nkeep``.
    NKEEP = 4
    #: A pass was limited by ``maxrej``.
    MAXREJ = 8
    #: ``grow`` added rejected samples at this element.
    GROW = 16
