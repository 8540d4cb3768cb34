"""Memory planner: ``memory_limit`` -> tile shape, concurrency, predicted peak.

The memory model (docs/memory.md has the long version)::

    peak RSS  ~=  baseline                         (interpreter + libraries, measured)
               +  result held in memory            (only when computing to NumPy; the
                                                    streaming sinks hold none)
               +  threads * per_task               (tiles being combined at once)

    per_task  =  safety * pixels_with_halo * (N * (input itemsize + mask input + planes)
                                              + per-sample outputs (N bytes each)
                                              + grow scratch (3 N bytes per grow stage)
                                              + per-element outputs)

Tiles are spatial only (never along axis 0) and full-width row strips whenever
one row of all N frames fits: a strip is one contiguous byte range per FITS file.
Strip heights are rounded to the storage's natural chunk (zarr chunk height,
FITS compression tile height) so that no input byte is read twice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dask.utils import parse_bytes

from imcombiners._memory_model import (MAX_TASK_INPUT, SAFETY, TASK_OVERHEAD, bytes_per_pixel, process_baseline,
                                       sorted_store_bytes)
from imcombiners._products import ITEMSIZE

__all__ = ["Plan", "make_plan", "parse_memory", "process_baseline", "OUTPUT_ITEMSIZE"]

#: Smallest piece of each frame a tile should read: with hundreds of files, thinner
#: strips turn one large sequential read per file into many small ones. 128 KiB is
#: Linux's default read-ahead window: below it every read is a separate small request.
MIN_FRAME_READ = 128 * 2**10


def parse_memory(value: int | float | str | None) -> int | None:
    """Parse ``memory_limit`` ("2GB", "512 MiB", 2e9, None).

    Raises
    ------
    ValueError
        For unparsable or non-positive values.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("memory_limit must be bytes (int), a string like '2GB', or None")
    if isinstance(value, (int, float)):
        n = int(value)
    elif isinstance(value, str):
        try:
            n = int(parse_bytes(value))
        except Exception:
            raise ValueError(
                f"memory_limit={value!r} is not understood; use bytes or a string like '2GB'"
            ) from None
    else:
        raise TypeError("memory_limit must be bytes (int), a string like '2GB', or None")
    if n <= 0:
        raise ValueError(f"memory_limit must be positive, got {value!r}")
    return n


#: bytes per element of each output (per-sample outputs are multiplied by N); the
#: workspace-typed ones (``data``, ``std``, ...) use the workspace itemsize.
OUTPUT_ITEMSIZE: Mapping[str, int] = ITEMSIZE


@dataclass(frozen=True)
class Plan:
    """What the engine will do, decided before anything runs.

    Attributes
    ----------
    shape : tuple of int
        ``(N, *spatial)`` of the stack.
    tile : tuple of int
        Spatial tile shape (without halo).
    halo : int
        Extra rows/columns read on each side of a tile (grow).
    chunks : tuple of tuple of int
        Spatial chunks of the outputs.
    ntiles : int
        Number of tiles = kernel runs.
    tasks : int
        Tasks in the main graph (kernel tasks; outputs add cheap getitem tasks).
    threads : int
        Tiles processed at once per process (worker).
    per_task : int
        Predicted bytes of one running tile.
    baseline : int
        Process memory before the run (interpreter, libraries).
    result : int
        Bytes of results held in memory at the end (0 when streaming to disk).
    predicted_peak : int
        ``baseline + result + threads * per_task``.
    memory_limit : int or None
        The limit planned for.
    notes : tuple of str
        Decisions worth telling the user (alignment, reduced concurrency).
    """

    shape: tuple[int, ...]
    tile: tuple[int, ...]
    halo: int
    chunks: tuple[tuple[int, ...], ...]
    ntiles: int
    tasks: int
    threads: int
    per_task: int
    baseline: int
    result: int
    predicted_peak: int
    memory_limit: int | None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """Human-readable one-paragraph description (CLI ``--dry-run``, logs)."""
        mib = 2**20
        lim = "none" if self.memory_limit is None else f"{self.memory_limit / mib:.0f} MiB"
        lines = [
            f"stack {self.shape} -> {self.ntiles} tiles of {self.tile} (halo {self.halo}), "
            f"{self.tasks} kernel tasks, {self.threads} at once",
            f"predicted peak {self.predicted_peak / mib:.0f} MiB (baseline "
            f"{self.baseline / mib:.0f} + result {self.result / mib:.0f} + "
            f"{self.threads} x {self.per_task / mib:.1f} per tile); limit {lim}",
        ]
        lines.extend(self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def make_plan(
    shape: Sequence[int],
    *,
    in_itemsize: int,
    work_itemsize: int,
    outputs: Sequence[str] = ("data",),
    mask_input: bool = False,
    halo: int = 0,
    grow_stages: int = 0,
    memory_limit: int | str | None = None,
    threads: int | None = None,
    baseline: int | None = None,
    result_in_memory: bool = True,
    align: Sequence[int] | None = None,
    tile: Sequence[int] | None = None,
    full_rows: bool = False,
    extra_per_pixel: float = 0.0,
    plane_itemsize: float = 0.0,
    dq_itemsize: int | None = None,
    sorted_store: bool = False,
    read_scratch: int = 0,
) -> Plan:
    """Choose the spatial tiling and concurrency for a stack.

    Parameters
    ----------
    shape : sequence of int
        ``(N, *spatial)``.
    in_itemsize : int
        Bytes per input sample as held in a tile (after reading/conversion).
    work_itemsize : int
        Workspace itemsize (4 for float32 outputs, 8 for float64).
    outputs : sequence of str
        Outputs the kernel produces (``data`` and the wanted diagnostics).
    mask_input : bool
        A bad-pixel mask stack is read alongside (1 byte per sample).
    halo : int
        Rows/columns of context needed on each side of a tile (grow).
    grow_stages : int
        Number of rejector stages with grow (extra mask scratch).
    memory_limit : int, str or None
        Limit for the whole process (bytes or "2GB").  None: no limit; tiles
        of about :data:`MAX_TASK_INPUT` input bytes.
    threads : int, optional
        Concurrency available (default: CPU count).  Lowered when even the
        smallest tile would not fit ``threads`` times.
    baseline : int, optional
        Memory already used by the process (default: measured now).
    result_in_memory : bool
        Results are gathered into NumPy arrays (True) or streamed to disk.
    align : sequence of int, optional
        Preferred tile multiples per spatial axis (storage chunking).
    tile : sequence of int, optional
        Force this spatial tile shape (checked against the limit).
    full_rows : bool
        Never split axes after the first spatial axis (line-based kernels:
        AvSigClip's per-line sigma, the IRAF engine).  A forced ``tile`` is
        widened to whole rows.
    extra_per_pixel : float
        Further bytes per tile pixel the kernel allocates (scratch the output
        list does not show, e.g. the IRAF engine's line-major used-mask).
    plane_itemsize : float
        Bytes per sample of the planes read with the stack (variance, weights, DQ),
        read overheads included.
    dq_itemsize : int, optional
        Bytes per pixel of the ``dq`` output (its input's width).
    sorted_store : bool
        The kernel keeps sorted copies of groups of lines (AvSigClip): counted per tile
        with :func:`imcombiners._memory_model.sorted_store_bytes`.
    read_scratch : int
        Bytes a reading task holds besides its tile (the aligned buffer of reads past
        the page cache, :func:`imcombiners.io.fits.direct.scratch_bytes`).

    Returns
    -------
    Plan
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"a stack needs shape (N, *spatial), got {shape}")
    n, spatial = shape[0], shape[1:]
    limit = parse_memory(memory_limit)
    threads = int(threads or os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    base = process_baseline() if baseline is None else int(baseline)
    halo = int(halo)
    running, kept = bytes_per_pixel(
        n, in_itemsize, work_itemsize, list(outputs), mask_input, grow_stages, plane_itemsize, dq_itemsize
    )
    running += float(extra_per_pixel)
    npix = math.prod(spatial)
    # compute() fills preallocated arrays tile by tile: the result is held once
    result = kept * npix if result_in_memory else 0
    notes: list[str] = []

    row_px = math.prod(spatial[1:])

    def per_task(t: Sequence[int]) -> int:
        px = math.prod(min(s, ti + 2 * halo) for s, ti in zip(spatial, t))
        store = sorted_store_bytes(n, px, row_px) if sorted_store else 0
        return int(SAFETY * (px * running + store)) + TASK_OVERHEAD + read_scratch

    def minimal_tile() -> tuple[int, ...]:
        if full_rows:
            return (1,) + tuple(spatial[1:])
        return (1,) * len(spatial)

    if tile is not None:
        chosen = tuple(int(t) for t in tile)
        if len(chosen) != len(spatial) or any(t < 1 for t in chosen):
            raise ValueError(f"tile must give {len(spatial)} positive sizes, got {tile!r}")
        chosen = tuple(min(t, s) for t, s in zip(chosen, spatial))
        if full_rows and chosen[1:] != tuple(spatial[1:]):
            notes.append(f"tile {chosen} widened to whole rows (line-based algorithm)")
            chosen = (chosen[0],) + tuple(spatial[1:])
    else:
        if limit is not None:
            budget = limit - base - result
            if budget <= per_task(minimal_tile()):
                raise MemoryError(
                    f"memory_limit={limit / 2**20:.0f} MiB leaves {max(budget, 0) / 2**20:.0f} MiB "
                    f"after the process baseline ({base / 2**20:.0f} MiB) and the result held in "
                    f"memory ({result / 2**20:.0f} MiB); even one row of {n} frames needs "
                    f"{per_task(minimal_tile()) / 2**20:.1f} MiB. Raise memory_limit, stream the "
                    "output to zarr/FITS, or ask for fewer diagnostics."
                )
            min_task = per_task(minimal_tile())
            if threads * min_task > budget:
                new = max(1, budget // min_task)
                notes.append(f"concurrency lowered from {threads} to {new} to fit memory_limit")
                threads = int(new)
        else:
            budget = float("inf")

        def fit(k: int) -> tuple[int, ...]:
            """The tile for k tiles at once."""
            room = budget / k - TASK_OVERHEAD - read_scratch
            max_px = room / (SAFETY * running)
            if sorted_store:
                # Feasible either way: the store at its largest, or at most 8 N bytes a
                # pixel (+ one block).
                largest = sorted_store_bytes(n, npix, row_px)
                max_px = max((room - SAFETY * largest) / (SAFETY * running),
                             (room - SAFETY * sorted_store_bytes(n, 0, row_px)) / (SAFETY * (running + 8 * n)))
            max_px = min(max_px, max(1.0, MAX_TASK_INPUT / max(1, n * in_itemsize)))
            t = _fit_tile(spatial, max_px, halo, full_rows)
            # keep every thread busy: at least ~2 tiles per thread when rows allow
            want_tiles = 2 * k
            if math.prod(-(-s // ti) for s, ti in zip(spatial, t)) < want_tiles and spatial[0] > 1:
                rows = max(1, -(-spatial[0] // want_tiles))
                if rows < t[0]:
                    t = (rows,) + t[1:]
            return t

        chosen = fit(threads)
        # Many frames in a small budget make thin tiles: each tile reads a small piece of
        # every file. Fewer tiles at once make each piece larger; worth a kernel thread
        # only when the pieces then reach MIN_FRAME_READ.
        frame_read = lambda t: math.prod(t) * in_itemsize  # noqa: E731
        if frame_read(chosen) < MIN_FRAME_READ and threads > 1 and budget != float("inf"):
            k = next((k for k in range(threads - 1, 0, -1) if frame_read(fit(k)) >= MIN_FRAME_READ), None)
            if k is not None:
                notes.append(
                    f"{k} tile(s) at once instead of {threads}: tiles then read "
                    f"{frame_read(fit(k)) / 2**10:.0f} KiB of each of the {n} frames "
                    f"instead of {frame_read(chosen) / 2**10:.0f} KiB (small reads from many "
                    "files leave the disk waiting)"
                )
                threads, chosen = k, fit(k)
        if align:
            chosen = _align(chosen, spatial, align, notes)
    chunks = tuple(_axis_chunks(s, t) for s, t in zip(spatial, chosen))
    ntiles = math.prod(len(c) for c in chunks)
    pt = per_task(chosen)
    peak = base + result + threads * pt
    if limit is not None and peak > limit:
        notes.append(
            f"WARNING: predicted peak {peak / 2**20:.0f} MiB exceeds memory_limit "
            f"{limit / 2**20:.0f} MiB"
        )
    return Plan(
        shape=shape, tile=chosen, halo=halo, chunks=chunks, ntiles=ntiles, tasks=ntiles,
        threads=threads, per_task=pt, baseline=base, result=result, predicted_peak=peak,
        memory_limit=limit, notes=tuple(notes),
    )


def _fit_tile(spatial: tuple[int, ...], max_px: float, halo: int, full_rows: bool) -> tuple[int, ...]:
    """Largest tile: full trailing axes, splitting leading axes first."""
    tile = list(spatial)
    for axis in range(len(spatial)):
        before = math.prod(min(s, t + 2 * halo) for s, t in zip(spatial[:axis], tile[:axis]))
        rest = math.prod(spatial[axis + 1 :])
        fit = int(max_px // max(1, before * rest)) - 2 * halo
        if fit >= spatial[axis]:
            return tuple(tile)
        if fit >= 1 or full_rows:
            tile[axis] = max(1, fit)
            return tuple(tile)
        tile[axis] = 1  # even one index is too big: split the next axis too
    return tuple(tile)


def _align(tile: tuple[int, ...], spatial: tuple[int, ...], align: Sequence[int], notes: list[str]) -> tuple[int, ...]:
    out = []
    for t, s, a in zip(tile, spatial, list(align) + [1] * len(tile)):
        a = max(1, int(a))
        if t >= s or a == 1:
            out.append(t)
        elif t >= a:
            out.append((t // a) * a)
        else:
            notes.append(f"tile {t} smaller than storage chunk {a}: some chunks are read more than once")
            out.append(t)
    return tuple(out)


def _axis_chunks(size: int, t: int) -> tuple[int, ...]:
    full, rem = divmod(size, t)
    return (t,) * full + ((rem,) if rem else ())
