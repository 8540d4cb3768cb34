"""Input adapters: what a user passes as ``inputs`` / ``mask`` -> a stack source or a dask array.

* lists of frames (FITS paths, arrays, memmaps, zarr arrays) -> :class:`FramesSource`
  (masks: :class:`MaskFrames`, nonzero or NaN = bad, uncovered pixels bad);
* one ``(N, *spatial)`` array-like -> :class:`StackArraySource` (masks: :class:`MaskArray`);
  with ``offsets``, its frames are placed like a list of frames;
* one frame-shaped mask shared by every frame -> :class:`Broadcast`;
* dask arrays stay dask arrays (the engine uses their blocks directly).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np
from dask.base import tokenize

from imcombiners.dask.sources import (
    ArrayLike,
    FrameReader,
    FramesSource,
    StackArraySource,
    StackSource,
    as_frame,
)
from imcombiners.offsets import padded_layout

if TYPE_CHECKING:  # dask.array is heavy (~1 s, and it imports xarray); only its type is used
    import dask.array as da

__all__ = ["Offsets", "Hdu", "is_dask", "as_source", "mask_inputs", "FrameView", "MaskFrames", "BoolFrame",
           "MaskArray", "Broadcast"]

#: Integer offset of each frame, NumPy axis order.
Offsets = Sequence[Sequence[int]]
#: HDU of FITS inputs: index, EXTNAME, or None (the first HDU with an image).
Hdu = Union[int, str, None]


def is_dask(x: object) -> bool:
    """True for a dask array (without importing dask.array when nothing could be one)."""
    # no dask array can exist before dask.array is imported (importing it costs ~1 s)
    if "dask.array" not in sys.modules:
        return False
    import dask.array as da  # already imported: costs nothing

    return isinstance(x, da.Array)


def as_source(inputs: object, *, offsets: Offsets | None, hdu: Hdu,
              is_mask: bool = False, view: str = "library") -> StackSource | None:
    """Turn inputs into a source (None for dask arrays, handled blockwise).

    ``view`` chooses the dtype FITS frames are read as (``"iraf"`` for IRAF's
    ``imcombine``: IRAF's pixel type of each file).
    """
    if isinstance(inputs, StackSource):
        return inputs
    if is_dask(inputs):
        if offsets is not None:
            raise ValueError("offsets= works with lists of frames (FITS paths, arrays), not a dask array")
        return None
    if isinstance(inputs, (str, bytes)):
        raise TypeError("inputs: give a list of FITS paths, not a single string")
    if isinstance(inputs, (list, tuple)):
        if is_mask:
            return MaskFrames(inputs, offsets=offsets, hdu=hdu)
        return FramesSource(inputs, offsets=offsets, hdu=hdu, view=view)
    if hasattr(inputs, "shape") and hasattr(inputs, "dtype"):
        if offsets is not None:
            # one (N, *spatial) array of equal frames placed at offsets
            frames = [FrameView(inputs, i) for i in range(inputs.shape[0])]  # type: ignore[attr-defined]
            return MaskFrames(frames, offsets=offsets) if is_mask else FramesSource(frames, offsets=offsets)
        return MaskArray(inputs) if is_mask else StackArraySource(inputs)
    raise TypeError(
        "inputs must be a dask array, a NumPy array or memmap, a zarr array, a list of FITS paths "
        f"or arrays, or an xarray DataArray (use .imc.combine); got {type(inputs).__name__}"
    )


@dataclass(frozen=True, eq=False)
class FrameView:
    """Frame ``i`` of an (N, *spatial) array-like, read lazily."""

    array: ArrayLike
    i: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype).newbyteorder("=")

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        block = self.array[(self.i,) + tuple(window or ())]
        if out is None:
            return np.ascontiguousarray(block, dtype=self.dtype)
        out[...] = block
        return out


@dataclass(frozen=True, eq=False)
class BoolFrame:
    """A mask frame read as bool: nonzero (or NaN) = bad."""

    reader: FrameReader

    @property
    def shape(self) -> tuple[int, ...]:
        return self.reader.shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(bool)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        raw = self.reader.read(window)
        res = raw != 0
        if raw.dtype.kind == "f":
            res |= np.isnan(raw)
        if out is None:
            return res
        out[...] = res
        return out


class MaskFrames(FramesSource):
    """Per-frame masks (nonzero = bad); uncovered pixels (offsets) are bad."""

    def __init__(self, frames: Sequence[object], offsets: Offsets | None = None, hdu: Hdu = None) -> None:
        readers = [as_frame(f, hdu) for f in frames]
        self.frames = [BoolFrame(r) for r in readers]
        shapes = [tuple(f.shape) for f in self.frames]
        self.names = None
        if offsets is None:
            if len(set(shapes)) != 1:
                raise ValueError("mask: frames have different shapes; give offsets=")
            self.offsets, spatial = None, shapes[0]
        else:
            offs, spatial = padded_layout(shapes, offsets)
            self.offsets = [tuple(int(v) for v in o) for o in offs]
        self.fill = True
        self.dtype = np.dtype(bool)
        self.shape = (len(self.frames),) + tuple(spatial)
        self.disk_itemsize = 1
        self.align = ()
        self.token = tokenize("mask", [getattr(r, "path", id(r)) for r in readers], self.offsets)


class MaskArray(StackArraySource):
    """An (N, *spatial) mask array-like; any dtype, nonzero = bad."""

    def __init__(self, array: ArrayLike) -> None:
        arr_dtype = np.dtype(array.dtype)
        self._orig_dtype = arr_dtype
        if arr_dtype not in (np.dtype(bool),) and arr_dtype.kind not in "biuf":
            raise TypeError(f"mask must be boolean or numeric (nonzero = bad); got dtype {arr_dtype}")
        # StackArraySource validates kernel dtypes; masks accept any numeric dtype
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = arr_dtype.newbyteorder("=")
        self.names = None
        self._reader = array
        self.align = ()
        self.disk_itemsize = arr_dtype.itemsize
        self.token = tokenize("maskarray", id(array), self.shape)

    def read(self, window: Sequence[slice]) -> np.ndarray:
        block = super().read(window)
        return block if block.dtype == bool else block != 0

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:
        block = super().read_frame(i, window)
        return block if block.dtype == bool else block != 0


@dataclass(frozen=True, eq=False)
class Broadcast:
    """One ``*spatial`` mask shared by every frame, seen as ``(N, *spatial)``."""

    array: ArrayLike
    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n,) + tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    def __getitem__(self, index: slice | tuple[slice, ...]) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        first, rest = index[0], index[1:]
        block = np.asarray(self.array[rest])
        count = len(range(*first.indices(self.n))) if isinstance(first, slice) else None
        if count is None:
            return block
        return np.broadcast_to(block, (count,) + block.shape)


def mask_inputs(mask: object, *, shape: tuple[int, ...], offsets: Offsets | None, hdu: Hdu,
                dask_stack: bool) -> tuple[StackSource | None, da.Array | None]:
    """A mask given with the stack -> (mask source, None) or (None, dask mask).

    The mask of a dask stack becomes a dask array broadcast to the stack's shape;
    otherwise a mask source (one frame-shaped mask is shared by all).  A dask mask
    needs a dask stack (the tiles of other stacks read their mask through a source).
    """
    spatial = shape[1:]
    if is_dask(mask) and not dask_stack:
        # the tiles of a file or array stack read their mask through a source
        raise TypeError("mask: a dask array mask needs a dask array stack; give the mask as a NumPy "
                        "or zarr array or a list of frames, or the stack as a dask array")
    if dask_stack:
        import dask.array as da  # a dask stack: dask.array is already imported

        dmask = mask if is_dask(mask) else da.from_array(np.asarray(mask))
        if dmask.shape == spatial:
            dmask = da.broadcast_to(dmask[None], shape)
        if tuple(dmask.shape) != shape:
            raise ValueError(f"mask has shape {dmask.shape} but the stack has shape {shape}")
        return None, dmask
    if hasattr(mask, "shape") and tuple(mask.shape) == spatial and offsets is None:  # type: ignore[attr-defined]
        mask = Broadcast(mask, shape[0])  # type: ignore[arg-type]
    source = as_source(mask, offsets=offsets, hdu=hdu, is_mask=True)
    if source is None or tuple(source.shape) != shape:
        got = None if source is None else source.shape
        raise ValueError(f"mask has shape {got} but the stack has shape {shape}")
    return source, None

