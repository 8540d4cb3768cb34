"""Place frames of different shapes at integer offsets into one padded stack."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._deprecation import pop_validate
from ._validate import check_dtype, check_memory, workspace_dtype

__all__ = ["place_into_padded", "padded_layout", "OffsetOverflowError"]

#: Largest padded extent per axis we accept (the output must be indexable with int64).
_MAX_EXTENT = 2**62


class OffsetOverflowError(OverflowError, ValueError):
    """Offsets so far apart that the padded stack cannot be indexed (catchable as either
    OverflowError or ValueError, like imcombiners 0.1.1's error)."""


def padded_layout(shapes: list[tuple[int, ...]], offsets: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """Normalised integer offsets and the padded spatial shape.

    Parameters
    ----------
    shapes
        Spatial shape of each of the N frames (all the same ndim).
    offsets
        ``(N, ndim)`` integers in NumPy axis order (``(dy, dx)`` for images).

    Returns
    -------
    (starts, outer_shape)
        ``starts`` = offsets minus their per-axis minimum (``(N, ndim)`` int64), and the
        smallest shape holding every frame. The out-of-core engine uses the same layout.
    """
    n = len(shapes)
    ndim = len(shapes[0])
    off = np.asarray(offsets)
    if off.dtype.kind == "f":
        if not np.all(np.isfinite(off)) or not np.all(off == np.round(off)):
            raise TypeError("offsets must be integers (whole pixels); subpixel offsets need interpolation")
        off = off.astype(np.int64)
    elif off.dtype.kind not in "iu":
        raise TypeError(f"offsets must have an integer dtype; got {off.dtype}")
    if off.ndim == 1 and ndim == 1 and off.shape[0] == n:
        off = off.reshape(n, 1)
    if off.shape != (n, ndim):
        raise ValueError(f"offsets must have shape (N, ndim) = ({n}, {ndim}); got {off.shape}")
    # Python integers: offsets near the int64 limits must not wrap around silently.
    rows = [[int(v) for v in row] for row in off.tolist()]
    lows = [min(row[k] for row in rows) for k in range(ndim)]
    outer_l = [max(row[k] - lows[k] + shapes[i][k] for i, row in enumerate(rows)) for k in range(ndim)]
    for k, extent in enumerate(outer_l):
        if extent > _MAX_EXTENT:
            raise OffsetOverflowError(
                f"offsets: axis {k} spans {extent} pixels once normalised (offsets "
                f"{min(r[k] for r in rows)} .. {max(r[k] for r in rows)}), more than a padded "
                "stack can index; check the offsets"
            )
    starts = np.array([[row[k] - lows[k] for k in range(ndim)] for row in rows], dtype=np.int64).reshape(n, ndim)
    return starts, tuple(outer_l)


def place_into_padded(images: Iterable[Any], offsets: Any, fill: float = math.nan, *, dtype: Any = None,
                      **legacy: Any) -> np.ndarray:
    """Place N frames at integer offsets into one ``(N, *outer)`` padded stack.

    Parameters
    ----------
    images
        N arrays with the same number of dimensions (any ndim >= 1), possibly different
        shapes, each of an accepted dtype (uint8, uint16, int16, int32, float32, float64).
    offsets
        ``(N, ndim)`` integer offsets in NumPy axis order (``(dy, dx)`` for 2-D frames).
        Only differences matter: they are normalised by subtracting the per-axis minimum,
        so frame i starts at ``offsets[i] - offsets.min(axis=0)``.
    fill
        Value of the uncovered pixels (default NaN, which every combine skips).
    dtype
        dtype of the result (default: the float workspace below).  The planes of a stack
        take theirs: ``dtype=dq.dtype, fill=0`` keeps integer DQ words; a variance plane
        keeps its float type with the NaN fill; per-pixel weights take ``fill=0``.
    **legacy
        ``validate=`` (imcombiners 0.1.1; ignored, with a DeprecationWarning).

    Returns
    -------
    numpy.ndarray
        ``(N, *outer)`` array, by default float (float32 if every frame's workspace is
        float32, otherwise float64); ``outer`` is the smallest shape covering every frame.

    Raises
    ------
    OffsetOverflowError
        (an OverflowError and a ValueError) when the offsets are too far apart to index.
    """
    pop_validate("place_into_padded", legacy)
    if legacy:
        raise TypeError(f"place_into_padded() got unexpected keyword arguments {sorted(legacy)}")
    imgs = [np.asarray(im) for im in images]
    if not imgs:
        raise ValueError("images must contain at least one array")
    ndim = imgs[0].ndim
    for i, im in enumerate(imgs):
        if im.ndim == 0:
            raise ValueError(f"images[{i}] must have at least 1 dimension; got a scalar")
        if im.ndim != ndim:
            raise ValueError(f"images must all have the same number of dimensions; images[{i}] has {im.ndim}, images[0] has {ndim}")
        if 0 in im.shape:
            raise ValueError(f"images[{i}] must have non-zero axes; got shape {im.shape}")
        if dtype is None:
            check_dtype(im.dtype, f"images[{i}]")
    if dtype is None:
        ws = np.result_type(*[workspace_dtype(im.dtype) for im in imgs])
    else:
        ws = np.dtype(dtype)
        if ws.kind in "iu" and not (np.isfinite(fill) and float(fill) == int(fill)):
            raise ValueError(f"fill={fill!r} cannot be stored in dtype {ws}; give an integer fill (e.g. 0)")
    starts, outer = padded_layout([im.shape for im in imgs], offsets)
    n = len(imgs)
    check_memory(n * int(np.prod(outer, dtype=np.int64)) * ws.itemsize, what="place_into_padded")
    out = np.full((n, *outer), fill, dtype=ws)
    for i, im in enumerate(imgs):
        region = tuple(slice(int(s), int(s) + d) for s, d in zip(starts[i], im.shape))
        out[(i, *region)] = im
    return out
