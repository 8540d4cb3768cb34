"""The images of an in-memory IRAF ``imcombine`` run, as the kernel reads them.

IRAF combines images of different sizes (each placed on the output canvas at its
offset; with ``offsets="none"`` every image starts at the first output pixel), so unlike
the library's :class:`~imcombiners._frames.FrameSet` each frame keeps its own shape here.
Images of one shape go through :func:`~imcombiners._frames.prepare_frames` (views, no
copies); images of different shapes are converted one by one to their common dtype.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._frames import FrameSet, _is_masked_array, prepare_frames
from ._validate import check_dtype, check_memory

__all__ = ["IrafFrames", "load_iraf_frames", "load_projected"]


@dataclass(frozen=True, eq=False)
class IrafFrames:
    """N images, each flat and C-contiguous, with its own spatial shape.

    Attributes
    ----------
    frames : tuple of ndarray
        Flat native-endian arrays of one dtype (or raw big-endian FITS words, ``swapped``).
    masks : tuple of ndarray or None
        A masked array's own masks (flat bool, True = bad), or None.
    shapes : tuple of tuple of int
        Each image's spatial shape (NumPy order; one number of axes for all).
    dtype : numpy.dtype
        The pixel type the values represent.
    swapped : str or None
        ``_core`` kind of memory-mapped raw FITS words.
    paths : list of str or None
        The FITS file names, when the images are files.
    headers : list of mapping or None
        The files' headers.
    """

    frames: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...] | None
    shapes: tuple[tuple[int, ...], ...]
    dtype: np.dtype
    swapped: str | None = None
    paths: list[str] | None = None
    headers: list[Any] | None = None

    @property
    def n(self) -> int:
        return len(self.frames)

    @property
    def same_shape(self) -> bool:
        return all(s == self.shapes[0] for s in self.shapes)

    @property
    def spatial(self) -> tuple[int, ...]:
        """The common shape (the first image's when the shapes differ)."""
        return self.shapes[0]


def _ragged_arrays(images: Sequence[Any], name: str) -> IrafFrames:
    """Arrays of different shapes (one number of axes) as flat frames of their common dtype."""
    arrays, masks = [], []
    for i, a in enumerate(images):
        own = None
        if _is_masked_array(a):
            own = np.ma.getmaskarray(a)
            a = np.ma.getdata(a)
        a = np.asarray(a)
        check_dtype(a.dtype, f"{name}[{i}]")
        if a.ndim < 1 or a.size == 0:
            raise ValueError(f"{name}[{i}]: an image needs at least one axis and one pixel; got shape {a.shape}")
        arrays.append(a)
        masks.append(own)
    ndims = {a.ndim for a in arrays}
    if len(ndims) > 1:
        raise ValueError(f"{name}: images of different sizes must have the same number of axes (IRAF); "
                         f"got shapes {[a.shape for a in arrays]}")
    dtype = check_dtype(np.result_type(*[a.dtype for a in arrays]), name)
    check_memory(sum(a.size * dtype.itemsize for a in arrays if a.dtype != dtype or not a.flags.c_contiguous),
                 what=f"converting {len(arrays)} images of {name}")
    frames = tuple(np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in arrays)
    flat_masks = None
    if any(m is not None for m in masks):
        flat_masks = tuple(np.zeros(a.size, bool) if m is None else np.ascontiguousarray(m).reshape(-1)
                           for a, m in zip(arrays, masks))
    return IrafFrames(frames, flat_masks, tuple(a.shape for a in arrays), dtype)


def _differ(images: Any) -> bool:
    """A list of arrays whose shapes are not all equal."""
    if not isinstance(images, (list, tuple)) or len(images) < 2:
        return False
    shapes = {tuple(np.shape(a)) for a in images}
    return len(shapes) > 1


def load_iraf_frames(images: Any, hdu: Any, *, name: str = "images") -> IrafFrames:
    """The images of :func:`imcombiners.imcombine`: an ``(N, *spatial)`` array, a list of N
    arrays (sizes may differ) or a list of N FITS names (read as IRAF reads them; sizes
    may differ)."""
    from .io.fits.stack import is_image_names, load_images

    if isinstance(images, IrafFrames):
        return images
    if is_image_names(images):
        # IRAF's view of the files (e.g. unsigned 32-bit -> real, as IRAF reads them)
        loaded = load_images(images, hdu, view="iraf", allow_mapping=True, ragged=True)
        shapes = tuple(tuple(s) for s in (loaded.shapes or []))
        if loaded.mapped or len(set(shapes)) > 1:
            frames = tuple(np.ascontiguousarray(f).reshape(-1) for f in loaded.frames)
            if not loaded.mapped and len({f.dtype for f in frames}) > 1:
                frames = tuple(f.astype(loaded.dtype) for f in frames)
            return IrafFrames(frames, None, shapes, np.dtype(loaded.dtype), loaded.swapped, loaded.names,
                              loaded.headers)
        fs = prepare_frames(loaded.frames, None, name=name)
        return IrafFrames(fs.frames, None, (fs.spatial,) * fs.n, fs.dtype, None, loaded.names, loaded.headers)
    if _differ(images):
        return _ragged_arrays(images, name)
    fs = images if isinstance(images, FrameSet) else prepare_frames(images, None, name=name, mask_name="masks")
    return IrafFrames(fs.frames, fs.masks, (fs.spatial,) * fs.n, fs.dtype)



def load_projected(image: Any, header: Any, hdu: Any, what: str) -> IrafFrames:
    """One image of a ``project=yes`` run as the images combined: its planes (the first
    NumPy axis), each with the image's header (and file name, for ``IMCMBnnn`` and mask
    files)."""
    from .io.fits.stack import load_images

    path = None
    if isinstance(image, (str, os.PathLike)):
        loaded = load_images([image], hdu, view="iraf")
        path, array = loaded.names[0], np.asarray(loaded.frames[0])
        if header is None:
            header = loaded.headers[0]
    else:
        array = image
    if np.ndim(array) < 2:
        raise ValueError(f"images: project=True combines the highest axis of each image; {what} has shape "
                         f"{np.shape(array)} (at least two axes needed)")
    fs = prepare_frames(array, None, name="images", mask_name="masks")
    return IrafFrames(fs.frames, fs.masks, (fs.spatial,) * fs.n, fs.dtype, None,
                      None if path is None else [path] * fs.n, None if header is None else [header] * fs.n)
