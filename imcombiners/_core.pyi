"""Type stub of the compiled Rust module ``imcombiners._core`` (see docs/design.md).

Errors: every failure is raised as a class of :mod:`imcombiners.errors`, each a subclass of
the builtin it always was: ``ParameterError`` / ``ShapeError`` / ``KernelCallError``
(``ValueError``), ``DtypeError`` (``TypeError``), ``KernelPanic`` (``RuntimeError``: a Rust
panic, caught at the boundary). The ``job`` and ``params`` dicts are strict: no key has a
default in Rust, unknown keys are refused.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str
#: Rejector kinds the library kernel implements.
REJECTORS: list[str]

def run(
    frames: Sequence[npt.NDArray[Any]],
    masks: Sequence[npt.NDArray[np.bool_]] | None,
    job: dict[str, Any],
    threads: int = 0,
) -> dict[str, npt.NDArray[Any]]:
    """Gather, reject and combine N flat frames (1-D, C-contiguous, native, one dtype among
    uint8/uint16/int16/int32/float32/float64, length M).

    ``job`` (``Job.kernel_dict``): ``method`` required; ``ddof`` (required by variance), ``q``,
    ``thresholds``, ``zero``, ``scale``, ``weights``, ``blank``, ``rejectors`` (list of
    ``Rejector.to_kernel_dict()``, every parameter given; ``maxrej``/``spread_centre`` may be
    absent = none), ``want`` (list of output names), ``line`` (required by avsigclip); an
    absent optional key means "not used". Returns ``data`` (M,) and the wanted outputs:
    ``mask``/``sample_flags`` (N*M,) frame-major, ``std``/``low``/``upp``/``clip_low``/
    ``clip_upp`` (M,) workspace dtype, ``nit``/``output_flags`` (M,) uint8, ``nused`` (M,).
    """

def grow_mask(mask: npt.NDArray[np.bool_], radius: float) -> npt.NDArray[np.bool_]:
    """Grow every True of a C-contiguous (N, *spatial) bool mask within ``radius`` pixels
    (Euclidean, same frame). Returns a new array of the same shape."""

def frame_stat(
    frame: npt.NDArray[Any],
    mask: npt.NDArray[np.bool_] | npt.NDArray[np.uint8] | None,
    name: str,
    lo: float = ...,
    hi: float = ...,
    sigma_lo: float = ...,
    sigma_hi: float = ...,
    maxiters: int = ...,
) -> float:
    """Statistic ``name`` (mean, median, mode, sigclip_mean, sigclip_median, min, max,
    sum) of the valid samples of one flat frame: not masked, finite, ``lo <= x <= hi``.
    NaN when no sample is valid."""

def iraf_combine(
    frames: Sequence[npt.NDArray[Any]],
    masks: Sequence[npt.NDArray[np.bool_] | npt.NDArray[np.uint8] | None] | None,
    shape: Sequence[int],
    params: dict[str, Any],
    want: Sequence[str],
    double: bool,
    threads: int = 0,
    swapped: str | None = None,
    placement: Sequence[tuple[int, int, int, int] | tuple[Sequence[int], Sequence[int]]] | None = None,
) -> dict[str, Any]:
    """IRAF imcombine's line engine. ``masks``: per frame None, bool (True = bad) or uint8
    mask codes; ``shape``: the output's; ``params``: ``ResolvedParams.kernel_params``
    (every key, INDEF as None); ``want`` among sigma, rejmask, nrejmask, expmask, bpmask;
    ``swapped``: the big-endian FITS type of raw words ("f4", "f8", "i2", "u2", "i4") or
    None; ``placement``: per frame (oy, ox, h, w) on a 1-D/2-D output, or (offsets, shape)
    in NumPy order for any number of axes (IRAF offsets)."""

def iraf_stats(
    frame: npt.NDArray[Any],
    mask: npt.NDArray[np.bool_] | npt.NDArray[np.uint8] | None,
    shape: Sequence[int],
    section: Sequence[tuple[int, int]] | None,
    lthreshold: float | None,
    hthreshold: float | None,
    sorted: bool,
    swapped: str | None = None,
) -> tuple[float, float, float]:
    """IRAF image statistics (mode, median, mean) of one frame on its subsampled grid."""

def iraf_factors(
    scale: tuple[str, Sequence[float]],
    zero: tuple[str, Sequence[float]],
    weight: tuple[str, Sequence[float]],
    ncombine: Sequence[float],
) -> dict[str, Any]:
    """IRAF's normalisation of raw scale / zero / weight values (source none|stat|file)."""

def _panic_for_tests() -> None:
    """Raise a Rust panic on purpose (it arrives as ``imcombiners.errors.KernelPanic``)."""
