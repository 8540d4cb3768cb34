"""Make freed buffers leave the process (glibc), so a memory limit measures live data.

glibc serves large allocations with their own memory maps, returned to the system when
freed, but it raises that size threshold each time such a map is freed (up to 32 MiB).
After the first tiles of an out-of-core combine, tile buffers of a few MiB are therefore
carved from per-thread heaps that keep their pages when freed: a run whose live data fit
its memory limit was seen to peak 60-90 MB above it (40 x 2048^2 frames, 150 MB limit,
a preview drawn after the combine). Fixing the threshold keeps every buffer of 1 MiB or
more in its own map, given back on free.

No effect (and no error) on other C libraries.
"""

from __future__ import annotations

import ctypes

__all__ = ["fix_mmap_threshold"]

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_done = False


def fix_mmap_threshold(nbytes: int = 1 << 20) -> bool:
    """Serve allocations of ``nbytes`` or more from their own memory maps (glibc only).

    Returns
    -------
    bool
        True when the C library accepted the setting.
    """
    global _done
    if _done:
        return True
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, int(nbytes)))
    return _done
