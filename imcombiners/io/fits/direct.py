"""Reads that bypass the page cache (``O_DIRECT``), for stacks larger than the RAM.

A cold buffered read costs the CPU twice: the kernel fills the page cache, then copies
the bytes out of it. When a stack is larger than the memory, those cached pages are
evicted before anything reads them again, so that work is wasted; on a 2-core machine it
took more CPU than the combine kernels (see benchmarks/RESULTS.md, beyond RAM).

``O_DIRECT`` reads go from the disk straight into an aligned buffer of this thread (a
small scratch, at most :data:`CHUNK` bytes plus alignment), then one copy moves the
wanted bytes into the destination. Offsets and lengths are rounded out to
:data:`ALIGN` bytes (a multiple of every common logical block size).

Where the file system refuses ``O_DIRECT`` (tmpfs on older kernels, some network file
systems) :func:`open_direct` or a read raises :class:`DirectRefused`, and
callers read the usual way.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading

import numpy as np

__all__ = ["ALIGN", "CHUNK", "DirectRefused", "available", "open_direct", "direct_pread_into",
           "scratch_bytes", "refuse_direct", "direct_refused"]

#: Alignment of direct reads' offsets, lengths and buffer addresses (bytes).
ALIGN = 4096
#: Largest single direct read: bounds the per-thread scratch buffer.
CHUNK = 4 << 20


class DirectRefused(OSError):
    """The file system refused an ``O_DIRECT`` read (read it buffered instead)."""


def available() -> bool:
    """This platform has ``O_DIRECT`` (Linux and some BSDs)."""
    return hasattr(os, "O_DIRECT")


def scratch_bytes() -> int:
    """Memory a reading thread holds for direct reads (for the memory planner)."""
    return CHUNK + ALIGN


#: Files whose reads were refused uncached in this process (read buffered from then on).
_REFUSED: set[str] = set()


def refuse_direct(path: str) -> None:
    """Read ``path`` buffered from now on (its file system refused an uncached read)."""
    _REFUSED.add(path)


def direct_refused(path: str) -> bool:
    """An uncached read of ``path`` was refused earlier in this process."""
    return path in _REFUSED


def open_direct(path: str) -> int:
    """A read-only ``O_DIRECT`` descriptor of ``path``.

    Raises
    ------
    DirectRefused
        No ``O_DIRECT`` here, or the file system refuses it (remembered for ``path``).
    """
    if not available() or path in _REFUSED:
        raise DirectRefused(errno.EINVAL, f"{path}: no O_DIRECT reads here")
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
            _REFUSED.add(path)
            raise DirectRefused(exc.errno, f"{path}: O_DIRECT refused: {exc.strerror}") from exc
        raise


class _Scratch(threading.local):
    """The calling thread's aligned buffer (anonymous mapping: page aligned)."""

    def __init__(self) -> None:
        self.map: mmap.mmap | None = None
        self.array: np.ndarray | None = None

    def get(self) -> tuple[memoryview, np.ndarray]:
        if self.map is None:
            self.map = mmap.mmap(-1, CHUNK + ALIGN)
            self.array = np.frombuffer(self.map, np.uint8)
        assert self.array is not None
        return memoryview(self.map), self.array


_SCRATCH = _Scratch()


def direct_pread_into(fd: int, dest: np.ndarray, offset: int) -> None:
    """Fill ``dest`` (uint8, contiguous) with the file's bytes at ``offset``, uncached.

    Raises
    ------
    DirectRefused
        The file system refused the read (EINVAL): nothing useful was written.
    OSError
        The file ends before ``offset + len(dest)``.
    """
    total = dest.shape[0]
    end = offset + total
    pos = offset - offset % ALIGN
    view, array = _SCRATCH.get()
    while pos < end:
        want = min(CHUNK, -(-(end - pos) // ALIGN) * ALIGN)
        try:
            got = os.preadv(fd, [view[:want]], pos)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise DirectRefused(exc.errno, f"O_DIRECT read refused: {exc.strerror}") from exc
            raise
        lo, hi = max(pos, offset), min(pos + got, end)
        if hi > lo:
            dest[lo - offset: hi - offset] = array[lo - pos: hi - pos]
        if got < want and pos + got < end:
            if got <= 0 or got % ALIGN:
                raise OSError(f"unexpected end of FITS data (needed {total} bytes at {offset})")
        pos += got
