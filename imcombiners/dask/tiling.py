"""Tiling geometry: spatial tiles, their grow halo, and where a tile's pixels live in dask blocks.

Tiles never split axis 0: a tile is a window of all N frames.  Grow is spatial, so a
tile reads ``halo`` extra rows/columns on each side (clipped to the image), runs the
kernel on that read window and crops the core back out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import numpy as np

from imcombiners._memory_model import line_based
from imcombiners._rejectors import Rejector

if TYPE_CHECKING:  # dask.array is heavy (~1 s, and it imports xarray); only its type is used
    import dask.array as da

__all__ = ["Tile", "Window", "tiles", "grow_halo", "needs_whole_rows", "block_parts", "chunk_align"]

#: One slice per spatial axis.
Window = tuple[slice, ...]
#: ``(index into a dask block, index into the assembled read window)`` of one block.
Placement = tuple[tuple[slice, ...], tuple[slice, ...]]


@dataclass(frozen=True)
class Tile:
    """One spatial tile of the output grid.

    Attributes
    ----------
    index : tuple of int
        Block index of the tile in the output chunks.
    window : tuple of slice
        The output region the tile produces (its core).
    read_window : tuple of slice
        Core plus halo, clipped to the image: what the tile reads.
    crop : tuple of slice or None
        The core inside the read window (None: no halo, nothing to crop).
    """

    index: tuple[int, ...]
    window: Window
    read_window: Window
    crop: Window | None


def tiles(spatial: Sequence[int], chunks: Sequence[Sequence[int]], halo: int) -> list[Tile]:
    """Every tile of an output chunked as ``chunks``, reading ``halo`` extra pixels per side."""
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in chunks]
    out = []
    for idx in product(*(range(len(c)) for c in chunks)):
        win, rwin, crop = [], [], []
        for ax, k in enumerate(idx):
            a = int(starts[ax][k])
            b = a + int(chunks[ax][k])
            win.append(slice(a, b))
            ra, rb = max(0, a - halo), min(spatial[ax], b + halo)
            rwin.append(slice(ra, rb))
            crop.append(slice(a - ra, a - ra + (b - a)))
        out.append(Tile(tuple(idx), tuple(win), tuple(rwin), tuple(crop) if halo else None))
    return out


def grow_halo(rejectors: Iterable[Rejector]) -> tuple[int, int]:
    """(halo, number of grow stages): the halo is the sum of ``ceil(grow)`` over the
    rejectors with grow (each grow stage widens the region a pixel depends on).

    Runs before the job validates the rejectors, so anything without a grow radius
    counts as no grow (the job then names what is wrong with it).
    """
    halo, stages = 0, 0
    for r in rejectors:
        g = getattr(r, "grow_radius", getattr(r, "grow", None))
        if g:
            halo += int(math.ceil(float(g)))
            stages += 1
    return halo, stages


def needs_whole_rows(rejectors: Iterable[Rejector]) -> bool:
    """A rejector estimates a statistic from whole image lines (AvSigClip)."""
    return line_based(list(rejectors))


def chunk_align(darr: da.Array) -> tuple[int, ...]:
    """Preferred tile multiples of a dask input: its first spatial chunks (no input
    chunk is then split between tiles)."""
    return tuple(int(c[0]) for c in darr.chunks[1:])


def block_parts(arr: da.Array, tile: Tile) -> tuple[list[tuple], list[Placement], tuple[int, ...]]:
    """Block keys and placements covering a tile's read window, and the window's shape.

    Used when a halo makes the read window straddle neighbouring dask blocks: the task
    assembles the window from the listed blocks.
    """
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in arr.chunks]
    per_axis = []
    for ax, win in enumerate((slice(0, arr.shape[0]),) + tile.read_window):
        st = starts[ax]
        pieces = []
        for b in range(len(arr.chunks[ax])):
            lo, hi = max(win.start, st[b]), min(win.stop, st[b + 1])
            if lo < hi:
                pieces.append((b, slice(lo - st[b], hi - st[b]), slice(lo - win.start, hi - win.start)))
        per_axis.append(pieces)
    keys, placements = [], []
    for combo in product(*per_axis):
        keys.append((arr.name, *(c[0] for c in combo)))
        placements.append((tuple(c[1] for c in combo), tuple(c[2] for c in combo)))
    shape = (arr.shape[0],) + tuple(w.stop - w.start for w in tile.read_window)
    return keys, placements, shape
