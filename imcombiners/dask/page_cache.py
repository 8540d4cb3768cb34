"""Whether an out-of-core run reads its input files through the page cache or past it.

Buffered reads keep what they read in the page cache, so a second run over the same
files (an interactive re-run, a statistics pass then the combine) reads from memory. A
stack larger than the memory gains nothing from that: its pages are evicted before
anything reads them again, and filling and copying them out of the cache costs more CPU
than the combine's kernels on a small machine. Such stacks are read past the cache
(``O_DIRECT``, :mod:`imcombiners.io.fits.direct`); the values are the same either way.
This concerns the files read with positioned reads: uncompressed FITS images and raw
arrays (``np.memmap`` frames); compressed files and zarr stores are always buffered.

The environment variable ``IMCOMBINERS_PAGE_CACHE`` chooses:

* ``auto`` (default): past the cache when the files a run reads (stack, mask, planes)
  hold more bytes than the memory available now;
* ``use``: always through the cache;
* ``bypass``: always past it (where the file system allows; otherwise buffered).

It is read where the graph is built: on a cluster the workers follow the client's choice.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Iterable
from typing import Union

import numpy as np

from imcombiners.dask.sources import FramesSource, RawFrame, StackSource
from imcombiners.io.fits import FitsFrame
from imcombiners.io.fits.direct import available as direct_available

__all__ = ["ENV_VAR", "CHOICES", "setting", "file_bytes", "bypass", "read_past_cache"]

ENV_VAR = "IMCOMBINERS_PAGE_CACHE"
CHOICES = ("auto", "use", "bypass")


def setting() -> str:
    """The value of :data:`ENV_VAR` (default ``auto``).

    Raises
    ------
    ValueError
        An unknown value, naming the variable.
    """
    value = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{ENV_VAR}={value!r}: use one of {', '.join(CHOICES)}")
    return value


#: Frames that read a plain file with positioned reads (and have ``with_uncached``).
FileFrame = Union[FitsFrame, RawFrame]


def _file_behind(frame: object) -> FileFrame | None:
    """The plain file (uncompressed FITS image, raw array) a frame reads, looking through
    wrappers that convert values (mask and plane frames hold their reader as ``reader``)."""
    while not isinstance(frame, (FitsFrame, RawFrame)):
        frame = getattr(frame, "reader", None)
        if frame is None:
            return None
    if isinstance(frame, FitsFrame) and (frame.compressed or frame.container):
        return None
    return frame


def _file_frames(source: StackSource | None) -> list[FileFrame]:
    if not isinstance(source, FramesSource):
        return []
    return [f for f in map(_file_behind, source.frames) if f is not None]


def _nbytes(frame: FileFrame) -> int:
    itemsize = frame.disk_itemsize if isinstance(frame, FitsFrame) else np.dtype(frame.disk_dtype).itemsize
    return math.prod(frame.shape) * itemsize


def _uncached(frame: object) -> object:
    if isinstance(frame, (FitsFrame, RawFrame)):
        return frame.with_uncached(True)
    reader = getattr(frame, "reader", None)
    if reader is None or _file_behind(reader) is None:
        return frame
    return dataclasses.replace(frame, reader=_uncached(reader))  # type: ignore[type-var]


def file_bytes(sources: Iterable[StackSource | None]) -> int:
    """Bytes of pixel data in the plain files (FITS, raw) behind ``sources``."""
    return sum(_nbytes(f) for s in sources for f in _file_frames(s))


def _available_memory() -> int:
    import psutil  # a dependency, imported when a file stack is planned

    return int(psutil.virtual_memory().available)


def bypass(sources: Iterable[StackSource | None], available: int | None = None) -> bool:
    """Read these sources past the page cache (see the module doc for the rule)."""
    choice = setting()
    if choice == "use" or not direct_available():
        return False
    sources = list(sources)
    nbytes = file_bytes(sources)
    if nbytes == 0:
        return False
    if choice == "bypass":
        return True
    return nbytes > (_available_memory() if available is None else available)


def read_past_cache(source: StackSource) -> StackSource:
    """A copy of ``source`` whose plain file frames read past the page cache."""
    if not _file_frames(source):
        return source
    out = copy.copy(source)
    out.frames = [_uncached(f) for f in source.frames]  # type: ignore[attr-defined]
    return out
