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

It is read where the graph (or the command line's local run) is planned: on a cluster
the workers follow the client's choice.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Iterable
from typing import Any

from imcombiners.io.fits.direct import available as direct_available

__all__ = ["ENV_VAR", "CHOICES", "setting", "file_bytes", "bypass", "past_cache", "source_past_cache",
           "source_frames"]

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


def _file_behind(frame: Any) -> Any:
    """The file frame (FITS image, raw array: ``stored_bytes`` and ``with_uncached``) a frame
    reads, looking through wrappers that convert values (mask and plane frames hold their
    reader as ``reader``); None when there is none or its bytes are not read in place."""
    while frame is not None and not hasattr(frame, "with_uncached"):
        frame = getattr(frame, "reader", None)
    return frame if frame is not None and frame.stored_bytes > 0 else None


def file_bytes(frames: Iterable[Any]) -> int:
    """Bytes of pixel data in the plain files (FITS, raw) behind ``frames``."""
    return sum(f.stored_bytes for f in map(_file_behind, frames) if f is not None)


def _available_memory() -> int:
    """Memory available for new data now (the kernel's MemAvailable: free + reclaimable)."""
    try:  # Linux, where O_DIRECT is used: no psutil import on the command line's path
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import psutil  # a dependency

    return int(psutil.virtual_memory().available)


def bypass(frames: Iterable[Any], available: int | None = None) -> bool:
    """Read these frames past the page cache (see the module doc for the rule)."""
    choice = setting()
    if choice == "use" or not direct_available():
        return False
    nbytes = file_bytes(frames)
    if nbytes == 0:
        return False
    if choice == "bypass":
        return True
    return nbytes > (_available_memory() if available is None else available)


def past_cache(frame: Any) -> Any:
    """The frame reading its file past the page cache (wrappers rebuilt around it)."""
    if hasattr(frame, "with_uncached"):
        return frame.with_uncached(True)
    reader = getattr(frame, "reader", None)
    if reader is None or _file_behind(reader) is None:
        return frame
    return dataclasses.replace(frame, reader=past_cache(reader))


def source_frames(source: Any) -> list[Any]:
    """The frames of a stack source read frame by frame (none for other sources)."""
    return list(getattr(source, "frames", None) or ())


def source_past_cache(source: Any) -> Any:
    """A copy of a stack source whose file frames read past the page cache."""
    frames = source_frames(source)
    if not any(_file_behind(f) is not None for f in frames):
        return source
    out = copy.copy(source)
    out.frames = [past_cache(f) for f in frames]
    return out
