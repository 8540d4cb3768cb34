"""Task functions of the out-of-core graphs (module level, so dask.distributed can pickle them).

A tile task holds all N samples of its window (tiles never split axis 0) and runs a
tile kernel on them: by default the same :func:`~imcombiners._job.run_job` as the
in-memory API with one Rust thread (Dask parallelises tiles), or the IRAF line engine
(:func:`imcombiners.dask.iraf.iraf_tile_function`).  File sources are read inside the
tile task (fused reader: T tasks for T tiles, every input byte read once per pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar, Union

import numpy as np

from imcombiners._job import Job, run_job
from imcombiners._stats import frame_statistic
from imcombiners.dask.sources import StackSource, prefetch
from imcombiners.dask.tiling import Placement, Window

__all__ = [
    "Frames", "Thresholds", "TileFunction", "StatFunction", "RegionTarget",
    "default_tile_function", "default_stat_function", "tile_from_source", "tile_from_blocks",
    "tile_from_parts", "select_output", "write_tile", "frame_stats", "stats_of_arrays",
]

#: The N samples of a tile: one ``(N, *window)`` array or a list of N frames (no copy).
Frames = Union[np.ndarray, list[np.ndarray]]
#: Inclusive keep range on raw values.
Thresholds = tuple[float, float]
#: The job a tile kernel takes (a library :class:`~imcombiners._job.Job` or an IRAF strip job).
JobT = TypeVar("JobT")
#: A statistic spec: a name or a callable (library), an index into IRAF's (mode, median, mean).
SpecT = TypeVar("SpecT", contravariant=True)

#: ``tile_fn(frames, masks, job) -> outputs by name`` (the contract of ``run_job``).
TileFunction = Callable[[Frames, Union[Frames, None], JobT], Mapping[str, np.ndarray]]


class StatFunction(Protocol[SpecT]):
    """``stat_fn(frame, mask, spec, thresholds=...) -> float``: one statistic of one frame."""

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None, spec: SpecT, *,
                 thresholds: Thresholds | None) -> float: ...


class RegionTarget(Protocol):
    """Where a tile's output is written: a zarr array, a FITS region writer, an ndarray."""

    def __setitem__(self, region: tuple[slice, ...], value: np.ndarray) -> None: ...


def default_tile_function(frames: Frames, masks: Frames | None, job: Job) -> dict[str, np.ndarray]:
    """Run the library kernel on one tile with one Rust thread (no oversubscription)."""
    return run_job(frames, masks, job, threads=1, check_mem=False)


def default_stat_function(frame: np.ndarray, mask: np.ndarray | None,
                          spec: str | Callable[[np.ma.MaskedArray], float], *,
                          thresholds: Thresholds | None = None) -> float:
    """Per-frame statistic exactly as the in-memory API computes it."""
    return frame_statistic(frame, mask, spec, thresholds=thresholds)


def _as_bool(mask: np.ndarray) -> np.ndarray:
    return mask if mask.dtype == bool else mask != 0


def _crop(outputs: Mapping[str, np.ndarray], crop: Window | None) -> dict[str, np.ndarray]:
    if crop is None:
        return dict(outputs)
    out = {}
    for name, arr in outputs.items():
        if not isinstance(arr, np.ndarray):
            continue
        sel = ((slice(None),) + crop) if arr.ndim == len(crop) + 1 else crop
        # copy so the halo's memory is released with the uncropped block
        out[name] = np.ascontiguousarray(arr[sel])
    return out


def tile_from_source(source: StackSource, mask_source: StackSource | None, read_window: Window,
                     crop: Window | None, tile_fn: TileFunction[JobT], job: JobT,
                     ahead: Window | None = None) -> dict[str, np.ndarray]:
    """Fused reader + kernel: read the window of all N frames, combine, crop the halo.

    ``ahead``: the read window of a tile that runs later; its file bytes are requested
    in the background first, so the disk reads it while this tile's kernel runs.
    """
    prefetch(source, ahead)
    prefetch(mask_source, ahead)
    data = source.read(read_window)
    mask = None if mask_source is None else _as_bool(mask_source.read(read_window))
    outputs = tile_fn(data, mask, job)
    del data, mask
    return _crop(outputs, crop)


def _frames_of(blocks: Sequence[np.ndarray]) -> Frames:
    """Blocks along axis 0 -> one array (single block) or a list of frames (no copy)."""
    if len(blocks) == 1:
        return np.asarray(blocks[0])
    return [frame for b in blocks for frame in np.asarray(b)]


def tile_from_blocks(blocks: Sequence[np.ndarray], mask_blocks: Sequence[np.ndarray] | None,
                     crop: Window | None, tile_fn: TileFunction[JobT], job: JobT) -> dict[str, np.ndarray]:
    """Kernel over dask blocks of one tile (axis-0 blocks are not concatenated)."""
    data = _frames_of(blocks)
    mask = None
    if mask_blocks is not None:
        mask = _frames_of(mask_blocks)
        mask = [_as_bool(m) for m in mask] if isinstance(mask, list) else _as_bool(mask)
    return _crop(tile_fn(data, mask, job), crop)


def _assemble(parts: Sequence[np.ndarray], where: Sequence[Placement], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, np.asarray(parts[0]).dtype)
    for block, (src, dst) in zip(parts, where):
        out[dst] = np.asarray(block)[src]
    return out


def tile_from_parts(blocks: Sequence[np.ndarray], placements: Sequence[Placement], shape: tuple[int, ...],
                    mask_blocks: Sequence[np.ndarray] | None, mask_placements: Sequence[Placement] | None,
                    crop: Window | None, tile_fn: TileFunction[JobT], job: JobT) -> dict[str, np.ndarray]:
    """Kernel over a read window (tile + halo) assembled from neighbouring dask blocks."""
    data = _assemble(blocks, placements, shape)
    mask = None
    if mask_blocks is not None and mask_placements is not None:
        mask = _as_bool(_assemble(mask_blocks, mask_placements, shape))
    return _crop(tile_fn(data, mask, job), crop)


def select_output(outputs: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """One output of a tile's packed result (the leaves of the lazy arrays)."""
    return outputs[name]


def write_tile(outputs: Mapping[str, np.ndarray], targets: Mapping[str, RegionTarget],
               window: Window) -> int:
    """Write one tile's outputs into their targets (zarr arrays, FITS regions, ndarrays)."""
    for name, target in targets.items():
        arr = outputs[name]
        region = ((slice(None),) + window) if arr.ndim == len(window) + 1 else window
        target[region] = arr
    return 1


def frame_stats(source: StackSource, mask_source: StackSource | None, i: int, window: Window | None,
                specs: Sequence[SpecT], thresholds: Thresholds | None,
                stat_fn: StatFunction[SpecT]) -> list[float]:
    """Statistics pass: the statistics of frame ``i`` (its ``statsec`` region only)."""
    frame = source.read_frame(i, window)
    mask = None if mask_source is None else _as_bool(mask_source.read_frame(i, window))
    return [float(stat_fn(frame, mask, spec, thresholds=thresholds)) for spec in specs]


def stats_of_arrays(frame: np.ndarray, mask: np.ndarray | None, specs: Sequence[SpecT],
                    thresholds: Thresholds | None, stat_fn: StatFunction[SpecT]) -> list[float]:
    """Statistics pass over a dask input: the statistics of one frame's region."""
    mask = None if mask is None else _as_bool(mask)
    return [float(stat_fn(np.asarray(frame), mask, spec, thresholds=thresholds)) for spec in specs]
