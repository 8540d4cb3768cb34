"""Turn a stack (ndarray or list of frames) and a mask into what the kernel reads.

The kernel (``_core.run``) takes N flat, C-contiguous, native-endian frames of one dtype.
For an ordinary C-contiguous stack these are views ``stack[i].reshape(-1)``: nothing is
copied. A frame is converted (byte-swapped, made contiguous or cast to the common dtype
of a mixed list) only when it has to be, and one frame at a time, so a big-endian FITS
stack never needs a second full-size temporary on top of the converted copy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._planes import Planes
from ._record import Record
from ._validate import check_dtype, check_memory, workspace_dtype

__all__ = ["FrameSet", "prepare_frames", "prepare_masks"]


class FrameSet(Record, eq=False):
    """N frames of one spatial shape, ready for the kernel.

    Attributes
    ----------
    frames
        N 1-D C-contiguous native-endian arrays of length M (one dtype).
    masks
        None, or N 1-D C-contiguous bool arrays of length M (True = bad).
    spatial
        The spatial shape of one frame.
    dtype
        The (native) dtype of the frames.
    planes
        Variance / weights / DQ planes of the frames (:mod:`imcombiners._planes`), or None.
    """

    frames: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...] | None
    spatial: tuple[int, ...]
    dtype: np.dtype
    planes: Planes | None = None

    @property
    def n(self) -> int:
        """Number of frames N."""
        return len(self.frames)

    @property
    def m(self) -> int:
        """Number of output elements M (pixels of one frame)."""
        return int(np.prod(self.spatial, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, ...]:
        """The stack shape ``(N, *spatial)``."""
        return (self.n, *self.spatial)

    @property
    def workspace(self) -> np.dtype:
        """Float dtype of the results."""
        return workspace_dtype(self.dtype)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` in its spatial shape (a view)."""
        return self.frames[i].reshape(self.spatial)

    def mask(self, i: int) -> np.ndarray | None:
        """Mask of frame ``i`` in its spatial shape (a view), or None."""
        return None if self.masks is None else self.masks[i].reshape(self.spatial)

    def with_masks(self, masks: Sequence[np.ndarray] | None) -> FrameSet:
        """The same frames (and planes) with other (already flat, bool, contiguous) masks."""
        return FrameSet(self.frames, None if masks is None else tuple(masks), self.spatial, self.dtype,
                        self.planes)

    def with_planes(self, planes: Planes | None) -> FrameSet:
        """The same frames and masks with other planes."""
        return FrameSet(self.frames, self.masks, self.spatial, self.dtype, planes)


def _needs_conversion(a: np.ndarray, dtype: np.dtype) -> bool:
    return a.dtype != dtype or not a.flags.c_contiguous


def _to_native(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # One frame at a time: byte order, dtype and layout are fixed in a single copy.
    return np.ascontiguousarray(a, dtype=dtype)


def _is_masked_array(obj: Any) -> bool:
    """``isinstance(obj, numpy.ma.MaskedArray)`` without importing numpy.ma (~50 ms on the
    first ``np.ma`` access): no masked array exists before numpy.ma has been imported."""
    ma = sys.modules.get("numpy.ma")
    return ma is not None and isinstance(obj, ma.MaskedArray)


def prepare_frames(
    stack: Any,
    mask: Any = None,
    *,
    copy: bool = False,
    name: str = "stack",
    mask_name: str = "mask",
) -> FrameSet:
    """Validate a stack and a mask and return a :class:`FrameSet`.

    Parameters
    ----------
    stack
        ``(N, *spatial)`` ndarray (any byte order or layout; a ``numpy.ma.MaskedArray``
        contributes its mask), or a list/tuple of N equally shaped arrays, or a list/tuple
        of N FITS file names (read with :func:`imcombiners.io.fits.load_images`).
    mask
        None; a bool array of the stack's shape (True = bad; other dtypes: nonzero = bad);
        a list of N frame masks; or one ``*spatial`` mask shared by every frame.
    copy
        Hold private copies of frames and masks (otherwise views where possible; the
        library never writes into them either way).

    Raises
    ------
    TypeError
        Unsupported dtype (see :func:`~imcombiners._validate.check_dtype`).
    ValueError
        No frame, fewer than 2 dimensions, unequal frame shapes, mask shape mismatch.
    """
    if (isinstance(stack, (list, tuple)) and stack
            and all(isinstance(p, (str, os.PathLike)) for p in stack)):
        # FITS file names: the images' physical values (io.fits, library view)
        from .io.fits.stack import load_images

        stack = load_images(stack, what=name).frames
    if isinstance(stack, FrameSet):
        if mask is not None:
            return stack.with_masks(prepare_masks(mask, stack.n, stack.spatial, name=mask_name, copy=copy))
        return stack

    if _is_masked_array(stack):
        own = np.ma.getmask(stack)
        data = np.ma.getdata(stack)
        if own is not np.ma.nomask:
            own = np.broadcast_to(own, data.shape)
            if mask is None:
                mask = own
            else:
                mask = _as_mask_array(mask, data.shape, mask_name) | own
        stack = data

    if isinstance(stack, np.generic):
        stack = np.asarray(stack)
    if (isinstance(stack, np.ndarray) and not copy and stack.ndim >= 2 and stack.shape[0] > 0
            and stack.flags.c_contiguous and check_dtype(stack.dtype, name) == stack.dtype):
        # The common case, a C-contiguous native stack: the frames are the rows of one
        # (N, M) view (one reshape, not N; ~0.25 ms per call at N = 1000).
        spatial = tuple(stack.shape[1:])
        frames = tuple(stack.reshape(stack.shape[0], int(np.prod(spatial, dtype=np.int64))))
        masks = None if mask is None else prepare_masks(mask, len(frames), spatial, name=mask_name, copy=copy)
        return FrameSet(frames, masks, spatial, stack.dtype)
    if isinstance(stack, np.ndarray):
        frames_in, spatial, dtype = _split_ndarray(stack, name)
    elif isinstance(stack, (list, tuple)):
        frames_in, spatial, dtype = _split_list(stack, name)
    else:
        raise TypeError(
            f"{name} must be an ndarray of shape (N, *spatial) or a list/tuple of equally "
            f"shaped arrays; got {type(stack).__name__}"
        )

    n = len(frames_in)
    m = int(np.prod(spatial, dtype=np.int64))
    to_convert = [i for i, f in enumerate(frames_in) if copy or _needs_conversion(f, dtype)]
    check_memory(len(to_convert) * m * dtype.itemsize, what=f"converting {len(to_convert)} frames of {name}")

    if (
        isinstance(stack, np.ndarray)
        and len(to_convert) == n
        and stack.dtype == dtype
        and stack.flags.c_contiguous
    ):
        # copy=True of a contiguous stack: one block copy is faster than N small ones.
        flat = stack.reshape(n, m).copy()
        frames = tuple(flat)
    else:
        convert = set(to_convert)
        frames = tuple(
            (_to_native(f, dtype) if _needs_conversion(f, dtype) else f.copy()).reshape(m)
            if i in convert
            else f.reshape(m)
            for i, f in enumerate(frames_in)
        )

    masks = None if mask is None else prepare_masks(mask, n, spatial, name=mask_name, copy=copy)
    return FrameSet(frames, masks, spatial, dtype)


def _split_ndarray(stack: np.ndarray, name: str) -> tuple[list[np.ndarray], tuple[int, ...], np.dtype]:
    if stack.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (N, *spatial); got shape {stack.shape}")
    if stack.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one frame along axis 0; got shape {stack.shape}")
    dtype = check_dtype(stack.dtype, name)
    return list(stack), tuple(stack.shape[1:]), dtype


def _split_list(stack: Sequence[Any], name: str) -> tuple[list[np.ndarray], tuple[int, ...], np.dtype]:
    if len(stack) == 0:
        raise ValueError(f"{name} must contain at least one frame; got an empty {type(stack).__name__}")
    frames = [np.asarray(f) for f in stack]
    spatial = frames[0].shape
    if len(spatial) < 1:
        raise ValueError(f"{name}: each frame must have at least 1 dimension; frame 0 is a scalar")
    for i, f in enumerate(frames):
        if f.shape != spatial:
            raise ValueError(
                f"{name}: all frames must have the same shape; frame {i} has shape {f.shape} "
                f"but frame 0 has {spatial} (use place_into_padded for offset frames)"
            )
        check_dtype(f.dtype, f"{name}[{i}]")
    dtype = check_dtype(np.result_type(*[check_dtype(f.dtype) for f in frames]), name)
    return frames, tuple(spatial), dtype


def _as_mask_array(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape} but the stack has shape {shape}; it must match (True = bad)")
    return m if m.dtype == bool else (m != 0)


def prepare_masks(
    mask: Any,
    n: int,
    spatial: tuple[int, ...],
    *,
    name: str = "mask",
    copy: bool = False,
) -> tuple[np.ndarray, ...]:
    """N flat C-contiguous bool masks from a mask argument (see :func:`prepare_frames`)."""
    m = int(np.prod(spatial, dtype=np.int64))
    if isinstance(mask, (list, tuple)):
        if len(mask) != n:
            raise ValueError(f"{name} has {len(mask)} frames but the stack has {n}")
        items = [np.asarray(x) for x in mask]
        for i, x in enumerate(items):
            if x.shape != spatial:
                raise ValueError(f"{name}[{i}] has shape {x.shape} but a frame has shape {spatial}")
    else:
        arr = np.asarray(mask)
        if arr.shape == (n, *spatial):
            items = list(arr)
        elif arr.shape == spatial:
            # One bad-pixel mask for every frame: the same view N times, no copies.
            one = _flat_bool(arr, m, copy)
            return (one,) * n
        else:
            raise ValueError(
                f"{name} has shape {arr.shape} but the stack has shape {(n, *spatial)}; it must "
                f"have the stack's shape (or one frame's shape {spatial}), True = bad"
            )
    return tuple(_flat_bool(x, m, copy) for x in items)


def _flat_bool(x: np.ndarray, m: int, copy: bool) -> np.ndarray:
    if x.dtype != bool:
        if x.dtype.kind not in "biuf":
            raise TypeError(f"mask must be boolean (True = bad) or numeric (nonzero = bad); got dtype {x.dtype}")
        x = x != 0
    elif copy or not x.flags.c_contiguous:
        x = np.array(x, dtype=bool, order="C")
    return x.reshape(m)
