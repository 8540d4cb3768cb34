"""The memory model both out-of-core engines plan with.

The Dask engine (:mod:`imcombiners.dask.planner`) and the command line's local strip
engine (:mod:`imcombiners.cli._local`) cut the image into pieces that run a few at a
time, and predict::

    peak RSS  ~=  baseline  +  pieces at once * (SAFETY * pixels * bytes per pixel + OVERHEAD)

This module holds what they share: the safety factor, the fixed allowance per piece,
the measured baseline and the bytes each pixel of a piece needs (docs/memory.md).
It imports neither dask nor psutil at module level, so the local engine stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._products import ITEMSIZE, PER_SAMPLE, WORKSPACE_TYPED

__all__ = ["SAFETY", "TASK_OVERHEAD", "process_baseline", "output_bytes", "bytes_per_pixel"]

#: Safety factor on the bytes of a piece (allocator slack, small temporaries).
SAFETY = 1.25
#: Fixed allowance per piece being combined (Python objects, kernel scratch, I/O buffers).
TASK_OVERHEAD = 4 * 2**20


def process_baseline() -> int:
    """Resident memory of this process now (bytes): the part a plan cannot shrink."""
    import psutil  # a dependency; imported only when a memory limit asks for it

    try:
        return int(psutil.Process().memory_info().rss)
    except Exception:  # pragma: no cover - a process without /proc access
        return 200 * 2**20


def output_bytes(name: str, n: int, work_itemsize: int, dq_itemsize: int | None = None) -> int:
    """Bytes of output ``name`` per output pixel (per-sample outputs count N samples)."""
    if name in WORKSPACE_TYPED:
        return work_itemsize
    if name in PER_SAMPLE:
        return n * ITEMSIZE[name]
    if name == "dq" and dq_itemsize is not None:
        return dq_itemsize
    return ITEMSIZE.get(name, 4)


def bytes_per_pixel(n: int, in_itemsize: float, work_itemsize: int, outputs: Sequence[str], mask_input: bool,
                    grow_stages: int, plane_itemsize: float = 0.0,
                    dq_itemsize: int | None = None) -> tuple[float, int]:
    """(bytes per pixel of a piece while it runs, bytes per output pixel kept as result).

    Running: the N samples (and their planes, and an input mask), the outputs, and the
    grow scratch (3 N bytes per grow stage)."""
    kept = sum(output_bytes(name, n, work_itemsize, dq_itemsize) for name in outputs)
    running = (n * (in_itemsize + plane_itemsize) + (n if mask_input else 0) + kept
               + 3 * n * grow_stages)
    return running, kept
