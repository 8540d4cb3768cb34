"""Stack sources: small picklable readers of ``(N, *window)`` blocks.

A source knows the stack's shape and dtype and reads one spatial window of all
N frames into one preallocated, C-contiguous, native-endian buffer (the fused
reader: one task reads its window from every file, no per-frame tasks, no
concatenation copy).  Sources hold paths or cheaply-pickled handles (zarr),
never the data, so graphs stay small on ``dask.distributed``.

Two contracts: a :class:`FrameReader` reads a window of one frame (FITS file, raw
file, array); a :class:`StackSource` reads a window of all N frames.

* :class:`FramesSource` — N frames given separately: FITS files
  (:class:`~imcombiners.io.fits.FitsFrame`), raw binary files / memmaps
  (:class:`RawFrame`), in-memory arrays (:class:`ArrayFrame`); optional integer
  offsets place frames of different shapes without building the padded stack
  (a tile reads only the frames that overlap it).
* :class:`StackArraySource` — one ``(N, *spatial)`` array-like (zarr array,
  memmap file, ndarray) read with a single slice per tile.

Dask arrays and xarray objects do not need a source: the engine uses their
blocks directly (see :mod:`imcombiners.dask.lazy`).  What users pass is turned
into a source by :mod:`imcombiners.dask.inputs`.
"""

from __future__ import annotations

import dataclasses
import math
import mmap
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, Union, runtime_checkable

import numpy as np
from dask.base import tokenize

from imcombiners.io.fits import FitsFrame, probe
from imcombiners.io.fits.window import normalise_window as _normalise_window
from imcombiners.io.fits.window import read_file_window
from imcombiners.offsets import padded_layout

__all__ = [
    "FrameReader",
    "ArrayLike",
    "StackSource",
    "FramesSource",
    "StackArraySource",
    "RawFrame",
    "ArrayFrame",
    "KERNEL_DTYPES",
    "workspace_dtype",
    "fill_dtype",
    "prefetch",
]

#: dtypes the kernels take as input.
KERNEL_DTYPES = frozenset(
    np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64)
)


def workspace_dtype(dtype: np.dtype) -> np.dtype:
    """Workspace (output) dtype for an input dtype: float64 for int32/float64, else float32."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float64) if dtype in (np.dtype(np.int32), np.dtype(np.float64)) else np.dtype(np.float32)


def fill_dtype(dtype: np.dtype) -> np.dtype:
    """dtype able to hold a NaN fill for frames not covering a pixel (offsets)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else workspace_dtype(dtype)


@runtime_checkable
class FrameReader(Protocol):
    """Reads windows of one frame: the contract of every single-frame input.

    Implemented by :class:`~imcombiners.io.fits.FitsFrame`, :class:`RawFrame`,
    :class:`ArrayFrame` and the adapters of :mod:`imcombiners.dask.inputs`.
    """

    @property
    def shape(self) -> tuple[int, ...]:
        """The frame's shape."""

    @property
    def dtype(self) -> np.dtype:
        """Native-endian dtype of what :meth:`read` returns."""

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Samples of ``window`` (slices, steps allowed; None = whole frame), into ``out`` if given."""


class ArrayLike(Protocol):
    """An array that can be sliced: ndarray, memmap, zarr array, h5py dataset."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype: ...

    def __getitem__(self, index: tuple[slice | int, ...]) -> np.ndarray: ...


#: One input frame as users give it: a FITS path, a memmap or array, or a reader.
FrameInput = Union[str, os.PathLike, np.ndarray, ArrayLike, FrameReader]


def _native(dtype: np.dtype | str) -> np.dtype:
    return np.dtype(dtype).newbyteorder("=")


def _check_kernel_dtype(dtype: np.dtype, what: str) -> np.dtype:
    dtype = _native(dtype)
    if dtype == np.dtype(bool) and what == "mask":
        return dtype
    if what == "mask":
        return dtype
    if dtype not in KERNEL_DTYPES:
        raise TypeError(
            f"{what} dtype {dtype} is not supported (uint8, uint16, int16, int32, float32, "
            "float64); cast explicitly"
        )
    return dtype


# --------------------------------------------------------------------------
# single frames
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFrame:
    """A C-ordered array stored in a binary file (e.g. an ``np.memmap``).

    Read with positioned reads, not a memory map, so pages do not accumulate in
    the process's resident memory; ``uncached``: long runs past the page cache
    (:mod:`imcombiners.io.page_cache`).
    """

    path: str
    offset: int
    shape: tuple[int, ...]
    disk_dtype: str
    uncached: bool = False

    @property
    def stored_bytes(self) -> int:
        """Bytes of pixel data in the file."""
        return math.prod(self.shape) * np.dtype(self.disk_dtype).itemsize

    def with_uncached(self, uncached: bool) -> RawFrame:
        """The same frame read past the page cache (True) or through it (False)."""
        return self if uncached == self.uncached else dataclasses.replace(self, uncached=uncached)

    @property
    def dtype(self) -> np.dtype:
        return _native(self.disk_dtype)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        win = _normalise_window(self.shape, window)
        wshape = tuple(len(range(s.start, s.stop, s.step)) for s in win)
        if out is None:
            out = np.empty(wshape, self.dtype)
        if 0 in wshape:
            return out
        out[...] = read_file_window(self.path, self.shape, win, np.dtype(self.disk_dtype), self.offset,
                                    uncached=self.uncached)
        return out

    @classmethod
    def from_memmap(cls, mm: np.memmap) -> RawFrame | None:
        """Describe an ``np.memmap`` by file + offset (None if it is not C-contiguous)."""
        fname = getattr(mm, "filename", None)
        buf = getattr(mm, "_mmap", None)
        if fname is None or buf is None or not mm.flags.c_contiguous:
            return None
        try:
            start = np.frombuffer(buf, np.uint8).__array_interface__["data"][0]
        except Exception:
            return None
        # the mapping starts at the offset rounded down to the allocation granularity
        mapped_at = int(mm.offset) - int(mm.offset) % mmap.ALLOCATIONGRANULARITY
        offset = mapped_at + int(mm.__array_interface__["data"][0] - start)
        return cls(os.fspath(fname), offset, tuple(mm.shape), mm.dtype.str)


@dataclass(frozen=True, eq=False)
class ArrayFrame:
    """An array-like frame already in memory (or a zarr/h5py frame)."""

    array: ArrayLike

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return _native(self.array.dtype)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        win = _normalise_window(self.shape, window)
        block = self.array[win]
        if out is None:
            return np.ascontiguousarray(block, dtype=self.dtype)
        out[...] = block
        return out


def as_frame(obj: FrameInput, hdu: int | str | None = None, view: str = "library") -> FrameReader:
    """Turn one input frame (path, memmap, array) into a frame reader.

    FITS paths (IRAF names such as ``f.fits[SCI,2]`` allowed) and probed
    :class:`~imcombiners.io.fits.FitsFrame` objects are read for ``view``: ``"library"``
    (exact physical values) or ``"iraf"`` (IRAF's pixel type for the file), see
    :mod:`imcombiners.io.fits.pixels`.
    """
    if isinstance(obj, FitsFrame):
        frame = obj.with_view(view)
        frame.dtype  # noqa: B018 - same dtype policy as arrays: 64-bit integers are refused
        return frame
    if isinstance(obj, (RawFrame, ArrayFrame, FrameReader)):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        frame = probe(obj, hdu, view=view)
        frame.dtype  # noqa: B018 - refuses 64-bit integers, naming the file
        return frame
    if isinstance(obj, np.memmap):
        raw = RawFrame.from_memmap(obj)
        if raw is not None:
            return raw
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__"):
        return ArrayFrame(obj)
    raise TypeError(
        f"cannot read a frame from {type(obj).__name__}; give a FITS path, a NumPy array/memmap "
        "or a zarr array"
    )


# --------------------------------------------------------------------------
# read-ahead
# --------------------------------------------------------------------------

#: One thread that issues read-ahead hints, so a tile's kernel never waits for them.
_PREFETCHER: ThreadPoolExecutor | None = None
_PREFETCH_LOCK = threading.Lock()


def _file_range(frame: object, win: tuple[slice, ...]) -> tuple[str, int, int] | None:
    """(path, offset, length) of the bytes a window of an uncompressed file frame covers.

    Only windows of whole rows (every axis after the first taken whole, step 1) map to
    one contiguous byte range, as the planner's strips do; other windows return None.
    """
    path = getattr(frame, "path", None)
    if getattr(frame, "uncached", False):
        return None  # read past the page cache: a hint would only fill it
    if path is None or getattr(frame, "compressed", False) or getattr(frame, "container", ""):
        return None  # tile-compressed or gzip/bzip2: the file bytes are not the pixels
    offset = getattr(frame, "data_offset", getattr(frame, "offset", None))
    shape = tuple(getattr(frame, "shape", ()))
    if offset is None or len(shape) != len(win) or not shape:
        return None
    if any(s.step != 1 for s in win) or any((s.start, s.stop) != (0, n) for s, n in zip(win[1:], shape[1:])):
        return None
    bitpix = getattr(frame, "bitpix", None)
    itemsize = abs(int(bitpix)) // 8 if bitpix is not None else np.dtype(getattr(frame, "disk_dtype")).itemsize
    row = math.prod(shape[1:]) * itemsize
    return os.fspath(path), int(offset) + win[0].start * row, (win[0].stop - win[0].start) * row


def _advise(ranges: list[tuple[str, int, int]]) -> None:
    """Ask the kernel to start reading these byte ranges into the page cache."""
    for path, offset, length in ranges:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # the tile's own read reports a missing file
        try:
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def prefetch(source: StackSource | None, window: Sequence[slice] | None) -> None:
    """Start reading a window of every frame file in the background (a hint, no result).

    The pages land in the page cache (not in this process's memory): the tile that
    reads them later finds them there, so the disk works while kernels run.  Sources
    without files, compressed frames and windows that are not whole rows are skipped.
    """
    global _PREFETCHER
    if source is None or window is None or not hasattr(os, "posix_fadvise"):
        return
    ranges = source.file_ranges(window)
    if not ranges:
        return
    with _PREFETCH_LOCK:
        if _PREFETCHER is None:
            _PREFETCHER = ThreadPoolExecutor(1, thread_name_prefix="imc-prefetch")
        _PREFETCHER.submit(_advise, ranges)


# --------------------------------------------------------------------------
# stacks
# --------------------------------------------------------------------------


class StackSource:
    """Interface of a stack source (documentation base class).

    Attributes
    ----------
    shape : tuple of int
        ``(N, *spatial)``.
    dtype : numpy.dtype
        dtype of the blocks :meth:`read` returns.
    names : list of str or None
        Input names for provenance (file names).
    align : tuple of int
        Preferred tile multiples per spatial axis (storage chunks).
    token : str
        Deterministic identity for dask key names.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    names: list[str] | None = None
    align: tuple[int, ...] = ()
    token: str = ""
    #: bytes per sample actually read from storage (for I/O accounting)
    disk_itemsize: int = 0
    #: extra copies of a tile held while reading (zarr keeps decoded chunk buffers
    #: next to the assembled block: measured ~1x the tile); planner multiplies by it
    read_overhead: float = 0.0

    @property
    def nframes(self) -> int:
        return self.shape[0]

    def read(self, window: Sequence[slice]) -> np.ndarray:  # pragma: no cover - interface
        """Return ``(N, *window)`` C-contiguous native-endian samples."""
        raise NotImplementedError

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:  # pragma: no cover
        """Return frame ``i`` (a window of it, steps allowed), padded as in :meth:`read`."""
        raise NotImplementedError

    def file_ranges(self, window: Sequence[slice]) -> list[tuple[str, int, int]]:
        """(path, offset, length) of the file bytes a window reads (for read-ahead);
        empty when the source has no plain files behind it."""
        return []


def _overlap(win: tuple[slice, ...], off: Sequence[int], shape: Sequence[int]):
    """Part of a padded-frame window covered by a frame placed at ``off``.

    Returns (window in frame coordinates, index into the output block) or None.
    Steps are honoured (the frame window keeps the grid of the padded window).
    """
    fwin, dst = [], []
    for s, o, n in zip(win, off, shape):
        # padded index p = s.start + k*s.step (k = 0..len-1) lies in [o, o+n)
        length = len(range(s.start, s.stop, s.step))
        k0 = max(0, -(-(o - s.start) // s.step))
        k1 = min(length, -(-(o + n - s.start) // s.step))
        if k1 <= k0:
            return None
        start = s.start + k0 * s.step - o
        fwin.append(slice(start, start + (k1 - k0 - 1) * s.step + 1, s.step))
        dst.append(slice(k0, k1))
    return tuple(fwin), tuple(dst)


class FramesSource(StackSource):
    """N separately stored frames read window by window into one buffer.

    Parameters
    ----------
    frames : sequence
        Frame readers or objects :func:`as_frame` accepts (FITS paths, memmaps,
        arrays, zarr arrays).
    offsets : sequence of sequence of int, optional
        Integer position of each frame's first pixel in the output grid
        (NumPy axis order), as in :func:`imcombiners.offsets.place_into_padded`.
        The output grid spans all placed frames; uncovered samples are NaN
        (the dtype becomes floating).  A tile reads only overlapping frames.
    hdu : int or str, optional
        HDU to read from FITS paths.
    fill : float
        Value of uncovered samples (NaN = masked).
    view : {"library", "iraf"}
        Pixel dtype policy of FITS frames (:mod:`imcombiners.io.fits.pixels`).
    """

    def __init__(self, frames: Sequence[FrameInput], offsets: Sequence[Sequence[int]] | None = None,
                 hdu: int | str | None = None, fill: float = np.nan, view: str = "library") -> None:
        self.frames: list[FrameReader] = [as_frame(f, hdu, view) for f in frames]
        if not self.frames:
            raise ValueError("inputs: need at least one frame")
        shapes = [tuple(f.shape) for f in self.frames]
        dtypes = {f.dtype for f in self.frames}
        dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes.pop()
        self.names = [f.path for f in self.frames] if all(hasattr(f, "path") for f in self.frames) else None
        if offsets is None:
            if len(set(shapes)) != 1:
                # reliability: name the first odd frame (and its file) among possibly thousands
                k = next(i for i, s in enumerate(shapes) if s != shapes[0])
                what = f"frame {k}" + (f" ({self.names[k]})" if self.names else "")
                raise ValueError(
                    f"inputs: frames have different shapes {sorted(set(shapes))}: {what} has shape "
                    f"{shapes[k]} but frame 0 has {shapes[0]}; give offsets= to place them"
                )
            self.offsets = None
            spatial = shapes[0]
            self.dtype = _check_kernel_dtype(dtype, "input")
        else:
            if len({len(s) for s in shapes}) != 1:
                raise ValueError("inputs: frames must have the same number of axes")
            offs, spatial = padded_layout(shapes, offsets)  # the in-memory layout, shared
            self.offsets = [tuple(int(v) for v in o) for o in offs]
            self.dtype = _check_kernel_dtype(fill_dtype(dtype), "input")
        self.fill = fill
        self.shape = (len(self.frames),) + tuple(spatial)
        self.disk_itemsize = max(getattr(f, "disk_itemsize", np.dtype(f.dtype).itemsize) for f in self.frames)
        self.align = self._align()
        self.token = tokenize(
            [(getattr(f, "path", None), getattr(f, "hdu", None), f.shape, str(f.dtype),
              getattr(f, "data_offset", getattr(f, "offset", None)),
              id(f.array) if isinstance(f, ArrayFrame) else None) for f in self.frames],
            self.offsets, str(self.dtype),
        )

    def _align(self) -> tuple[int, ...]:
        nd = len(self.shape) - 1
        align = [1] * nd
        if self.offsets is None:
            for f in self.frames:
                ts = getattr(f, "tile_shape", None)
                if getattr(f, "compressed", False) and ts:
                    align = [max(a, int(t)) for a, t in zip(align, ts)]
        return tuple(align)

    def block_shape(self, window: Sequence[slice]) -> tuple[int, ...]:
        """Shape of the block :meth:`read` returns for ``window``."""
        win = _normalise_window(self.shape[1:], window)
        return (self.shape[0],) + tuple(len(range(s.start, s.stop, s.step)) for s in win)

    def read(self, window: Sequence[slice], out: np.ndarray | None = None) -> np.ndarray:
        """``(N, *window)`` samples, into ``out`` when it is given (C-contiguous, of the
        window's shape and of :attr:`dtype`; every element is overwritten)."""
        win = _normalise_window(self.shape[1:], window)
        shape = self.block_shape(win)
        if out is None:
            out = np.empty(shape, self.dtype)
        elif out.shape != shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out: need a C-contiguous {self.dtype} array of shape {shape}")
        for i in range(self.shape[0]):
            self._read_into(i, win, out[i])
        return out

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:
        win = _normalise_window(self.shape[1:], window)
        wshape = tuple(len(range(s.start, s.stop, s.step)) for s in win)
        out = np.empty(wshape, self.dtype)
        self._read_into(i, win, out)
        return out

    def _read_into(self, i: int, win: tuple[slice, ...], out: np.ndarray) -> None:
        frame = self.frames[i]
        if self.offsets is None:
            frame.read(win, out=out)
            return
        ov = _overlap(win, self.offsets[i], frame.shape)
        if ov is None:
            out[...] = self.fill
            return
        fwin, dst = ov
        if any(d.start != 0 or d.stop != n for d, n in zip(dst, out.shape)):
            out[...] = self.fill
        frame.read(fwin, out=out[dst])

    def file_ranges(self, window: Sequence[slice]) -> list[tuple[str, int, int]]:
        win = _normalise_window(self.shape[1:], window)
        out = []
        for i, frame in enumerate(self.frames):
            fwin: tuple[slice, ...] | None = win
            if self.offsets is not None:
                ov = _overlap(win, self.offsets[i], frame.shape)
                fwin = None if ov is None else ov[0]
            r = None if fwin is None else _file_range(frame, fwin)
            if r is not None:
                out.append(r)
        return out

    def covering(self, window: Sequence[slice]) -> list[int]:
        """Indices of the frames overlapping a window (all frames without offsets)."""
        if self.offsets is None:
            return list(range(self.shape[0]))
        win = _normalise_window(self.shape[1:], window)
        return [i for i in range(self.shape[0])
                if _overlap(win, self.offsets[i], self.frames[i].shape) is not None]


class StackArraySource(StackSource):
    """One ``(N, *spatial)`` array-like: a zarr array, a memmap file, an ndarray.

    Zarr arrays pickle by store location and memmaps are re-read by path, so
    graphs stay small.  Plain ndarrays are embedded (fine on threads; the engine
    turns them into dask arrays when a distributed client is active).
    """

    def __init__(self, array: ArrayLike) -> None:
        if len(getattr(array, "shape", ())) < 2:
            raise ValueError("inputs: a stack needs shape (N, *spatial) with at least one spatial axis")
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = _check_kernel_dtype(array.dtype, "input")
        self.names = None
        raw = RawFrame.from_memmap(array) if isinstance(array, np.memmap) else None
        self._reader: RawFrame | ArrayLike = raw if raw is not None else array
        self.read_overhead = 0.0 if (raw is not None or isinstance(array, np.ndarray)) else 1.0
        chunks = getattr(array, "chunks", None)
        self.align = tuple(int(c) for c in chunks[1:]) if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], int) else ()
        self.disk_itemsize = np.dtype(array.dtype).itemsize
        if raw is not None:
            self.token = tokenize("raw", raw)
        elif isinstance(array, np.ndarray):
            self.token = tokenize("ndarray", id(array), array.shape, array.dtype.str)
        else:
            self.token = tokenize("array", type(array).__name__, getattr(array, "store", None),
                                  getattr(array, "path", None), self.shape, str(array.dtype))

    def read(self, window: Sequence[slice]) -> np.ndarray:
        win = (slice(None),) + _normalise_window(self.shape[1:], window)
        if isinstance(self._reader, RawFrame):
            return self._reader.read(win)
        return np.ascontiguousarray(self._reader[win], dtype=self.dtype)

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:
        win = (slice(i, i + 1),) + _normalise_window(self.shape[1:], window)
        if isinstance(self._reader, RawFrame):
            return self._reader.read(win)[0]
        return np.ascontiguousarray(self._reader[win][0], dtype=self.dtype)


def frame_bytes(source: StackSource) -> int:
    """Bytes of one whole frame as read (stats pass sizing)."""
    return math.prod(source.shape[1:]) * np.dtype(source.dtype).itemsize
