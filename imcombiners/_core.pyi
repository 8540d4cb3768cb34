"""Type stub of the compiled Rust module ``imcombiners._core`` (see docs/design.md)."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def run(
    frames: Sequence[npt.NDArray[Any]],
    masks: Sequence[npt.NDArray[np.bool_]] | None,
    job: dict[str, Any],
    threads: int = 0,
) -> dict[str, npt.NDArray[Any]]:
    """Gather, reject and combine N flat frames (1-D, C-contiguous, native, one dtype among
    uint8/uint16/int16/int32/float32/float64, length M).

    ``job`` keys: method, ddof, q, thresholds, zero, scale, weights, blank, rejectors
    (list of ``Rejector.to_kernel_dict()``), want (list of output names), line.
    Returns ``data`` (M,) and the wanted outputs: ``mask``/``sample_flags`` (N*M,)
    frame-major, ``std``/``low``/``upp`` (M,) workspace dtype, ``nit``/``output_flags``
    (M,) uint8, ``nused`` (M,). Errors in the job raise ValueError.
    """

def grow_mask(mask: npt.NDArray[np.bool_], radius: float) -> npt.NDArray[np.bool_]:
    """Grow every True of a C-contiguous (N, *spatial) bool mask within ``radius`` pixels
    (Euclidean, same frame). Returns a new array of the same shape."""

def frame_stat(
    frame: npt.NDArray[Any],
    mask: npt.NDArray[np.bool_] | None,
    name: str,
    lo: float,
    hi: float,
    sigma_lo: float,
    sigma_hi: float,
    maxiters: int,
) -> float:
    """Statistic ``name`` (mean, median, mode, sigclip_mean, sigclip_median, min, max,
    sum) of the valid samples of one flat frame: not masked, finite, ``lo <= x <= hi``.
    NaN when no sample is valid."""
