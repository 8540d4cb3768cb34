"""Windows of C-ordered arrays stored in files: exactly the window's bytes, positioned reads.

A full-width strip of rows is one contiguous run of bytes, hence one ``preadv`` per file;
other windows are read as one run per row (or per index of a stepped axis). No memory
map: mapped pages would count towards the process's resident memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from .direct import DirectRefused, direct_pread_into, direct_refused, open_direct, refuse_direct
from .handles import CACHE, handle_key

__all__ = ["normalise_window", "window_shape", "contiguous_runs", "read_window", "read_file_window",
           "pread_into", "pwrite_runs"]


def normalise_window(shape: tuple[int, ...], window: Sequence[slice] | None) -> tuple[slice, ...]:
    """One ``slice(start, stop, step)`` per axis with explicit non-negative bounds."""
    window = tuple(window or ())
    if len(window) > len(shape):
        raise ValueError(f"window has {len(window)} axes, image has {len(shape)}")
    window = window + (slice(None),) * (len(shape) - len(window))
    out = []
    for s, n in zip(window, shape):
        if not isinstance(s, slice):
            raise TypeError(f"window must be a tuple of slices, got {s!r}")
        start, stop, step = s.indices(n)
        if step < 1:
            raise ValueError("window slices must have a positive step")
        out.append(slice(start, max(start, stop), step))
    return tuple(out)


def window_shape(win: Sequence[slice]) -> tuple[int, ...]:
    """Shape of a normalised window."""
    return tuple(len(range(s.start, s.stop, s.step)) for s in win)


def contiguous_runs(shape: tuple[int, ...], win: tuple[slice, ...]) -> Iterator[tuple[int, int]]:
    """Yield ``(element_offset, count)`` runs covering ``win`` in C order.

    Trailing axes taken whole (step 1) merge with the axis before them, so a
    full-width strip of rows is a single run.
    """
    ndim = len(shape)
    strides = [1] * ndim
    for k in range(ndim - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    m = ndim  # axes m.. are whole with step 1
    while m > 0 and win[m - 1].step == 1 and win[m - 1].start == 0 and win[m - 1].stop == shape[m - 1]:
        m -= 1
    if m == 0:
        yield 0, int(np.prod(shape))
        return
    block_axis = m - 1
    if win[block_axis].step == 1:
        count = (win[block_axis].stop - win[block_axis].start) * strides[block_axis]
        outer = list(range(block_axis))
        inner_start = win[block_axis].start * strides[block_axis]
    else:  # a stepped axis cannot be merged: one run per index of it
        count = strides[block_axis]
        outer = list(range(block_axis + 1))
        inner_start = 0
    ranges = [range(win[k].start, win[k].stop, win[k].step) for k in outer]

    def rec(level: int, base: int) -> Iterator[tuple[int, int]]:
        if level == len(ranges):
            yield base + inner_start, count
            return
        for idx in ranges[level]:
            yield from rec(level + 1, base + idx * strides[outer[level]])

    yield from rec(0, 0)


def pread_into(fd: int, buf: np.ndarray, offset: int) -> None:
    """Fill ``buf`` (uint8, contiguous) from ``fd`` at ``offset`` (loops on short reads)."""
    view = memoryview(buf)
    done = 0
    total = len(view)
    while done < total:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise OSError(f"unexpected end of FITS data (needed {total} bytes at {offset})")
        done += got


#: Runs at least this long are read past the page cache when a direct descriptor is given;
#: shorter ones (rows of narrow tiles) stay buffered, where the kernel's read-ahead helps.
DIRECT_MIN_RUN = 64 << 10


def read_window(fd: int, shape: tuple[int, ...], win: tuple[slice, ...], disk: np.dtype,
                offset: int, into: np.ndarray | None = None, direct_fd: int | None = None) -> np.ndarray:
    """Read a window of a C-ordered array stored at byte ``offset`` of an open file.

    Only the window's bytes are read (positioned reads, one per contiguous run); the last
    axis is read as one run and subsampled in memory when the window has a step there.
    Returns the window in the on-disk dtype ``disk``: in a new array, or in ``into`` (a
    C-contiguous array of the window's shape and of ``disk``'s item size, e.g. the
    caller's native-endian destination, which then holds the stored bytes) when given
    and the window has no step on the last axis.

    ``direct_fd``: an ``O_DIRECT`` descriptor of the same file (:mod:`.direct`); runs of
    at least :data:`DIRECT_MIN_RUN` bytes are read through it, uncached. It raises
    :class:`~.direct.DirectRefused` when the file system refuses such a read.
    """
    last = win[-1]
    read_win = win[:-1] + (slice(last.start, last.stop, 1),)
    if (into is not None and last.step == 1 and into.shape == window_shape(read_win)
            and into.dtype.itemsize == disk.itemsize and into.flags.c_contiguous):
        raw = into.view(disk)
    else:
        raw = np.empty(window_shape(read_win), disk)
    flat = raw.reshape(-1).view(np.uint8)
    pos = 0
    for elem_offset, count in contiguous_runs(shape, read_win):
        nbytes = count * disk.itemsize
        if direct_fd is not None and nbytes >= DIRECT_MIN_RUN:
            direct_pread_into(direct_fd, flat[pos: pos + nbytes], offset + elem_offset * disk.itemsize)
        else:
            pread_into(fd, flat[pos: pos + nbytes], offset + elem_offset * disk.itemsize)
        pos += nbytes
    return raw[..., :: last.step] if last.step != 1 else raw


def read_file_window(path: str, shape: tuple[int, ...], win: tuple[slice, ...], disk: np.dtype, offset: int,
                     into: np.ndarray | None = None, uncached: bool = False) -> np.ndarray:
    """:func:`read_window` of the array stored at ``offset`` of the file ``path``.

    Descriptors come from the process's shared cache (:data:`.handles.CACHE`). With
    ``uncached`` long runs are read past the page cache (:mod:`.direct`); a file system
    that refuses is remembered and read buffered from then on (this read too).
    """
    key = handle_key("fd", path)
    fd, _lock = CACHE.acquire(key, lambda: os.open(path, os.O_RDONLY))
    try:
        if uncached and not direct_refused(path):
            dkey = ("direct",) + key[1:]
            try:
                dfd, _dlock = CACHE.acquire(dkey, lambda: open_direct(path))
            except DirectRefused:
                return read_window(fd, shape, win, disk, offset, into=into)
            try:
                return read_window(fd, shape, win, disk, offset, into=into, direct_fd=dfd)
            except DirectRefused:
                refuse_direct(path)
            finally:
                CACHE.release(dkey)
        return read_window(fd, shape, win, disk, offset, into=into)
    finally:
        CACHE.release(key)


def pwrite_runs(fd: int, shape: tuple[int, ...], win: tuple[slice, ...], raw: np.ndarray,
                offset: int) -> None:
    """Write ``raw`` (the window's stored bytes, C order) into a file's array at ``offset``."""
    flat = raw.reshape(-1).view(np.uint8)
    itemsize = raw.dtype.itemsize
    pos = 0
    for elem_offset, count in contiguous_runs(shape, win):
        nbytes = count * itemsize
        view = memoryview(flat[pos: pos + nbytes])
        done = 0
        while done < nbytes:
            done += os.pwrite(fd, view[done:], offset + elem_offset * itemsize + done)
        pos += nbytes
