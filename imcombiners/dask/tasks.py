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

from imcombiners._buffers import forget_if_shared, tile_buffer
from imcombiners._job import Job, run_job
from imcombiners._planes import prepare_planes, unusable_samples
from imcombiners._stats import frame_statistic
from imcombiners.dask.sources import FramesSource, StackSource, prefetch
from imcombiners.dask.tiling import Placement, Window

#: The planes a stack may carry, in the order tasks receive them (dask.planes imports it).
PLANE_ROLES = ("variance", "weights", "dq")

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

#: ``tile_fn(frames, masks, job) -> outputs by name`` (the contract of ``run_job``); a
#: stack with planes (variance, weights, DQ) also passes ``planes={role: Frames}``.
TileFunction = Callable[..., Mapping[str, np.ndarray]]
#: The planes of a tile by role (variance, weights, dq), each like ``Frames``.
PlaneBlocks = Mapping[str, Frames]


class StatFunction(Protocol[SpecT]):
    """``stat_fn(frame, mask, spec, thresholds=...) -> float``: one statistic of one frame."""

    def __call__(self, frame: np.ndarray, mask: np.ndarray | None, spec: SpecT, *,
                 thresholds: Thresholds | None) -> float: ...


class RegionTarget(Protocol):
    """Where a tile's output is written: a zarr array, a FITS region writer, an ndarray."""

    def __setitem__(self, region: tuple[slice, ...], value: np.ndarray) -> None: ...


def default_tile_function(frames: Frames, masks: Frames | None, job: Job,
                          planes: PlaneBlocks | None = None) -> dict[str, np.ndarray]:
    """Run the library kernel on one tile with one Rust thread (no oversubscription)."""
    pl = None
    if planes:
        first = frames[0]
        n = frames.shape[0] if isinstance(frames, np.ndarray) else len(frames)
        spatial = tuple(first.shape)
        pl = prepare_planes(n, spatial, variance=planes.get("variance"), weights=planes.get("weights"),
                            dq=planes.get("dq"))
    return run_job(frames, masks, job, threads=1, check_mem=False, planes=pl)


def _call(tile_fn: TileFunction, data: Frames, mask: Frames | None, job: object,
          planes: PlaneBlocks | None) -> Mapping[str, np.ndarray]:
    # planes only when there are some: tile functions without planes keep their 3 arguments
    return tile_fn(data, mask, job, planes=planes) if planes else tile_fn(data, mask, job)


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
                     crop: Window | None, tile_fn: TileFunction, job: JobT,
                     ahead: Window | None = None,
                     plane_sources: Mapping[str, StackSource] | None = None) -> dict[str, np.ndarray]:
    """Fused reader + kernel: read the window of all N frames (and planes), combine, crop.

    ``ahead``: the read window of a tile that runs later; its file bytes are requested
    in the background first, so the disk reads it while this tile's kernel runs.
    """
    prefetch(source, ahead)
    prefetch(mask_source, ahead)
    for plane_source in (plane_sources or {}).values():
        prefetch(plane_source, ahead)
    data = _read_data(source, read_window)
    mask = None if mask_source is None else _as_bool(mask_source.read(read_window))
    planes = {role: src.read(read_window) for role, src in (plane_sources or {}).items()}
    outputs = _call(tile_fn, data, mask, job, planes)
    forget_if_shared("data", outputs.values())
    del data, mask, planes
    return _crop(outputs, crop)


def _read_data(source: StackSource, read_window: Window) -> np.ndarray:
    """The tile's frames; sources of separate frames read into the thread's tile buffer
    (see :mod:`imcombiners._buffers`)."""
    if not isinstance(source, FramesSource):
        return source.read(read_window)
    buf = tile_buffer("data", source.block_shape(read_window), np.dtype(source.dtype))
    return source.read(read_window, out=buf)


def _frames_of(blocks: Sequence[np.ndarray]) -> Frames:
    """Blocks along axis 0 -> one array (single block) or a list of frames (no copy)."""
    if len(blocks) == 1:
        return np.asarray(blocks[0])
    return [frame for b in blocks for frame in np.asarray(b)]


def tile_from_blocks(blocks: Sequence[np.ndarray], mask_blocks: Sequence[np.ndarray] | None,
                     crop: Window | None, tile_fn: TileFunction, job: JobT,
                     plane_blocks: Sequence[Sequence[np.ndarray] | None] | None = None) -> dict[str, np.ndarray]:
    """Kernel over dask blocks of one tile (axis-0 blocks are not concatenated).

    ``plane_blocks``: the blocks of each plane in :data:`PLANE_ROLES` order (None: not given).
    """
    data = _frames_of(blocks)
    mask = None
    if mask_blocks is not None:
        mask = _frames_of(mask_blocks)
        mask = [_as_bool(m) for m in mask] if isinstance(mask, list) else _as_bool(mask)
    planes = {role: _frames_of(b) for role, b in zip(PLANE_ROLES, plane_blocks or ()) if b is not None}
    return _crop(_call(tile_fn, data, mask, job, planes), crop)


def _assemble(parts: Sequence[np.ndarray], where: Sequence[Placement], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, np.asarray(parts[0]).dtype)
    for block, (src, dst) in zip(parts, where):
        out[dst] = np.asarray(block)[src]
    return out


def tile_from_parts(blocks: Sequence[np.ndarray], placements: Sequence[Placement], shape: tuple[int, ...],
                    mask_blocks: Sequence[np.ndarray] | None, mask_placements: Sequence[Placement] | None,
                    crop: Window | None, tile_fn: TileFunction, job: JobT,
                    plane_parts: Sequence[Sequence[object] | None] | None = None,
                    ) -> dict[str, np.ndarray]:
    """Kernel over a read window (tile + halo) assembled from neighbouring dask blocks.

    ``plane_parts``: ``[blocks, placements]`` of each plane in :data:`PLANE_ROLES` order.
    """
    data = _assemble(blocks, placements, shape)
    mask = None
    if mask_blocks is not None and mask_placements is not None:
        mask = _as_bool(_assemble(mask_blocks, mask_placements, shape))
    planes = {role: _assemble(part[0], part[1], shape)  # type: ignore[arg-type]
              for role, part in zip(PLANE_ROLES, plane_parts or ()) if part is not None}
    return _crop(_call(tile_fn, data, mask, job, planes), crop)


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


def _with_unusable(mask: np.ndarray | None, dq: np.ndarray | None, variance: np.ndarray | None,
                   bad_bits: int | None) -> np.ndarray | None:
    bad = unusable_samples(dq, variance, bad_bits)
    if bad is None:
        return mask
    return bad if mask is None else (mask | bad)


def frame_stats(source: StackSource, mask_source: StackSource | None, i: int, window: Window | None,
                specs: Sequence[SpecT], thresholds: Thresholds | None,
                stat_fn: StatFunction[SpecT], plane_sources: Mapping[str, StackSource] | None = None,
                bad_bits: int | None = None) -> list[float]:
    """Statistics pass: the statistics of frame ``i`` (its ``statsec`` region only), over
    the samples the combine may use (mask, bad DQ bits and unusable variances skipped)."""
    frame = source.read_frame(i, window)
    mask = None if mask_source is None else _as_bool(mask_source.read_frame(i, window))
    if plane_sources:
        read = {role: src.read_frame(i, window) for role, src in plane_sources.items() if role in ("dq", "variance")}
        mask = _with_unusable(mask, read.get("dq"), read.get("variance"), bad_bits)
    return [float(stat_fn(frame, mask, spec, thresholds=thresholds)) for spec in specs]


def stats_of_arrays(frame: np.ndarray, mask: np.ndarray | None, specs: Sequence[SpecT],
                    thresholds: Thresholds | None, stat_fn: StatFunction[SpecT],
                    dq: np.ndarray | None = None, variance: np.ndarray | None = None,
                    bad_bits: int | None = None) -> list[float]:
    """Statistics pass over a dask input: the statistics of one frame's region."""
    mask = None if mask is None else _as_bool(mask)
    mask = _with_unusable(mask, None if dq is None else np.asarray(dq),
                          None if variance is None else np.asarray(variance), bad_bits)
    return [float(stat_fn(np.asarray(frame), mask, spec, thresholds=thresholds)) for spec in specs]
