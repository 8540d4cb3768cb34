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

__all__ = ["SAFETY", "TASK_OVERHEAD", "MAX_TASK_INPUT", "FRAME_READ", "AVSIG_STORE_BYTES",
           "AVSIG_CHUNKS_PER_WORKER", "process_baseline", "output_bytes", "bytes_per_pixel", "line_based",
           "sorted_store_bytes"]

#: Safety factor on the bytes of a piece (allocator slack, small temporaries).
SAFETY = 1.25
#: Fixed allowance per piece being combined (Python objects, kernel scratch, I/O buffers).
TASK_OVERHEAD = 4 * 2**20
#: Largest input bytes per piece we aim for (progress granularity, load balance).
MAX_TASK_INPUT = 256 * 2**20
#: Bytes of each frame a piece should read when the memory and MAX_TASK_INPUT allow: with
#: hundreds of files a piece reads a few rows of each, and larger requests keep the disk
#: busy (450 x 4096 x 4096 f32 from the command line, cold, past the page cache: 16, 32
#: and 64 rows a file took 32.9, 20.6 and 17.9 s; 4 rows, what 32 MiB strips gave, 60 s).
FRAME_READ = 2**20
#: Bytes of network-sorted samples AvSigClip's kernel keeps for a group of whole lines
#: (``STORE_BYTES`` in crates/imc-core/src/driver/avsig_store.rs): the line sigma and the
#: clip pass read the same sorted blocks, so each pixel is sorted once.
AVSIG_STORE_BYTES = 2**20
#: Worker threads that each run whole chunks of lines with a store of their own, when a
#: piece has at least this many lines per worker (``CHUNKS_PER_WORKER`` there).
AVSIG_CHUNKS_PER_WORKER = 4
#: Pixels per sorted block of that store, and the widest sample it holds (f64 lanes).
_STORE_BLOCK = 64
_STORE_ITEMSIZE = 8
#: N range sorted by the tiled bitonic network, whose rows are padded to a power of two
#: (``BITONIC_MIN_N``, ``NETWORK_MAX_N`` and ``bitonic::padded_rows`` in imc-core).
_BITONIC_NS = (128, 2048)


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


def line_based(rejectors: Sequence[object]) -> bool:
    """A rejector estimates a statistic from whole image lines (AvSigClip): pieces must be
    whole rows, and the kernel keeps a sorted copy of some lines (:func:`sorted_store_bytes`)."""
    return any(getattr(r, "kind", "") == "avsigclip" for r in rejectors)


def sorted_store_bytes(n: int, pixels: int, row_pixels: int, workers: int = 1) -> int:
    """Upper bound of the bytes AvSigClip's kernel keeps while it combines a piece of
    ``pixels`` pixels (whole rows of ``row_pixels``) on ``workers`` threads.

    The store holds the sorted samples of groups of whole lines, in blocks of 64 pixels,
    counted at 8 bytes a sample and with the rows the sort pads to. One store of about
    :data:`AVSIG_STORE_BYTES`, but never less than one line nor more than the piece; or,
    when the piece has :data:`AVSIG_CHUNKS_PER_WORKER` lines or more per worker, one store
    per worker of ``AVSIG_STORE_BYTES / workers`` or one line, whichever is larger.
    """
    rows = n
    if _BITONIC_NS[0] <= n <= _BITONIC_NS[1]:
        rows = max(8, 1 << (n - 1).bit_length())
    per_sample = rows * _STORE_ITEMSIZE
    lines = pixels // max(1, row_pixels)
    if workers > 1 and lines >= AVSIG_CHUNKS_PER_WORKER * workers:
        group = min(pixels, max(AVSIG_STORE_BYTES // workers // per_sample, row_pixels))
        return workers * (group + _STORE_BLOCK - 1) * per_sample
    group = min(pixels, max(AVSIG_STORE_BYTES // per_sample, row_pixels))
    return (group + _STORE_BLOCK - 1) * per_sample
