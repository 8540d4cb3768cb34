"""Whole images of many files for the in-memory API (Combiner, ndcombine, imcombine).

:func:`load_images` reads N FITS images (IRAF names allowed) as physical values of one
view (:mod:`.pixels`), with their headers. For the IRAF engine it first tries to
memory-map every file (:mod:`.mapped`: no converted copy); when any file does not
qualify, every file is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frame import FitsFrame, probe
from .mapped import LazyHeader, map_image

__all__ = ["ImageSet", "load_images", "is_image_names"]


@dataclass(frozen=True, eq=False)
class ImageSet:
    """N images read from FITS files.

    Attributes
    ----------
    frames : list of ndarray
        The images, or (``mapped``) the raw words of each memory-mapped image, flat
        (big-endian when ``swapped`` is set: the IRAF engine byte-swaps them itself).
    headers : list of mapping
        Each image's header (primary cards merged as IRAF does).
    swapped : str or None
        ``_core`` kind of memory-mapped raw words.
    names : list of str
        The file names as given.
    shape : tuple of int
        The spatial shape (of the first image when ``ragged`` loading allowed others).
    dtype : numpy.dtype
        The pixel type the values represent.
    mapped : bool
        ``frames`` are flat memory maps of the files' data (raw words).
    shapes : list of tuple of int
        Each image's spatial shape (all equal unless loaded with ``ragged=True``).
    """

    frames: list[np.ndarray]
    headers: list[Any]
    swapped: str | None
    names: list[str]
    shape: tuple[int, ...]
    dtype: np.dtype
    mapped: bool = False
    shapes: list[tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        if self.shapes is None:
            object.__setattr__(self, "shapes", [tuple(self.shape)] * len(self.frames))


def is_image_names(images: Any) -> bool:
    """A non-empty list or tuple of file names (str or path-like)."""
    return (isinstance(images, (list, tuple)) and len(images) > 0
            and all(isinstance(p, (str, os.PathLike)) for p in images))


def _mapped(names: Sequence[str], hdu: Any, ragged: bool) -> ImageSet | None:
    maps = []
    for name in names:
        m = map_image(name, hdu)
        if m is None or (maps and (m.swapped, m.dtype) != (maps[0].swapped, maps[0].dtype)):
            return None
        if maps and m.shape != maps[0].shape and not (ragged and len(m.shape) == len(maps[0].shape)):
            return None
        maps.append(m)
    first = maps[0]
    return ImageSet([m.raw for m in maps], [m.header for m in maps], first.swapped, list(names),
                    first.shape, first.dtype, mapped=True, shapes=[tuple(m.shape) for m in maps])


def load_images(images: Sequence[Any], hdu: Any = None, *, view: str = "library",
                allow_mapping: bool = False, what: str = "images", ragged: bool = False) -> ImageSet:
    """Read N FITS images (whole) for an in-memory combine.

    Parameters
    ----------
    images : sequence of str or path-like
        File names; IRAF selectors (``f.fits[1]``, ``f.fits[SCI,2]``) allowed.
    hdu : optional
        HDU selector for names without one (default: the first HDU with an image).
    view : {"library", "iraf"}
        Pixel dtype policy (:mod:`.pixels`).
    allow_mapping : bool
        Memory-map plain images for the IRAF engine (``swapped`` raw words).
    what : str
        Parameter name used in error messages.
    ragged : bool
        Allow images of different sizes (with the same number of axes), as IRAF's
        ``imcombine`` does.

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        Naming the file: missing, unreadable, no image, 64-bit integers, shapes differ.
    """
    names = [os.fspath(p) for p in images]
    if allow_mapping:
        got = _mapped(names, hdu, ragged)
        if got is not None:
            return got
    frames: list[FitsFrame] = []
    for name in names:
        try:
            frame = probe(name, hdu, view=view)
            frame.dtype  # noqa: B018 - refuses 64-bit integers, naming the file below
        except FileNotFoundError:
            raise
        except TypeError as exc:
            raise TypeError(f"{what}: {exc}") from None
        except (OSError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(f"{what}: {msg}" if name.split("[")[0] in msg
                             else f"{what}: cannot read FITS image {name!r}: {msg}") from exc
        if frames and frame.shape != frames[0].shape and not (ragged and len(frame.shape) == len(frames[0].shape)):
            raise ValueError(f"{what}: {name} has shape {frame.shape}, but {names[0]} has {frames[0].shape}")
        frames.append(frame)
    dtypes = {f.dtype for f in frames}
    dtype = dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
    from imcombiners._validate import check_memory

    # reliability: fail fast (pointing to the out-of-core engine) instead of swapping
    check_memory(sum(int(np.prod(f.shape, dtype=np.int64)) * f.dtype.itemsize for f in frames),
                 what=f"reading {len(frames)} FITS images")
    arrays = [f.read() for f in frames]
    headers = [_lazy_header(f) for f in frames]
    return ImageSet(arrays, headers, None, names, frames[0].shape, np.dtype(dtype),
                    shapes=[tuple(f.shape) for f in frames])


def _lazy_header(frame: FitsFrame) -> LazyHeader:
    """A header mapping parsed only when a present keyword is read."""
    from . import cards as _cards
    from .handles import local_copy

    raw = b""
    try:
        for h in _cards.walk(local_copy(frame.path, frame.container)):
            if h.index == 0 or h.index == frame.hdu:
                raw += h.header
            if h.index >= frame.hdu:
                break
    except (OSError, ValueError):
        raw = b""

    def load() -> Any:
        from .header import read_header

        return read_header(frame)

    if not raw or frame.compressed:
        return _Eager(load)
    return LazyHeader(raw, load)


class _Eager(LazyHeader):
    """A header mapping that always parses (compressed images: the raw cards are the table's)."""

    def __init__(self, load: Any) -> None:
        super().__init__(b"", load)

    def _absent(self, key: Any) -> bool:
        return False
