"""The out-of-core engine: one kernel task per spatial tile, many lazy outputs.

Graph shape (see docs/memory.md for the memory side)::

    source / dask blocks --(read window + halo)--> tile task --(crop)--> packed dict
    packed dict --getitem--> data, mask, std, low, upp, nit, output_flags, nused, ...

* A tile task holds all N samples of its window (tiles never split axis 0) and
  runs the same ``run_job`` as the in-memory API, with ``threads=1`` (Dask
  parallelises tiles; one Rust thread per Dask thread).
* File sources are read *inside* the tile task (fused reader): T tasks for T
  tiles, no per-frame tasks, every input byte read once per pass.
* All outputs come from one packed layer, so computing them together runs the
  kernel once per tile.  The streaming sinks (``to_zarr``, ``to_fits``, and
  ``compute`` into preallocated NumPy arrays) go further: each task reads,
  combines *and writes* its tile, so nothing is held between tasks.
* Grow is spatial: a tile reads ``halo`` extra rows/columns per side (the sum
  of ``ceil(grow)`` over the rejectors with grow) and crops after the kernel.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from imcombiners.dask.planner import Plan, make_plan, parse_memory
from imcombiners.dask.sources import FramesSource, StackArraySource, StackSource, frame_bytes

__all__ = ["combine", "plan", "LazyCombine", "CombinedArrays", "TileFunction", "default_tile_function"]

log = logging.getLogger("imcombiners.dask")

#: ``tile_fn(frames, masks, job) -> dict[str, ndarray]`` (the contract of ``run_job``).
TileFunction = Callable[[Any, Any, Any], Mapping[str, np.ndarray]]

_SIMPLE = ("mask", "low", "upp", "std", "nit", "output_flags", "nused")
_FULL = _SIMPLE + ("sample_flags",)
PER_SAMPLE = frozenset({"mask", "sample_flags", "rejmask"})


# --------------------------------------------------------------------------
# task functions (module level: picklable for dask.distributed)
# --------------------------------------------------------------------------


def default_tile_function(frames: Any, masks: Any, job: Any) -> dict[str, np.ndarray]:
    """Run the library kernel on one tile with one Rust thread (no oversubscription)."""
    from imcombiners._job import run_job

    return run_job(frames, masks, job, threads=1, check_mem=False)


def default_stat_function(frame: np.ndarray, mask: np.ndarray | None, spec: Any, *,
                          thresholds: Any = None) -> float:
    """Per-frame statistic exactly as the in-memory API computes it."""
    from imcombiners._stats import frame_statistic

    return frame_statistic(frame, mask, spec, thresholds=thresholds)


def _crop(outputs: Mapping[str, np.ndarray], crop: tuple[slice, ...] | None) -> dict[str, np.ndarray]:
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


def _tile_from_source(source: StackSource, mask_source: StackSource | None,
                      read_window: tuple[slice, ...], crop: tuple[slice, ...] | None,
                      tile_fn: TileFunction, job: Any) -> dict[str, np.ndarray]:
    """Fused reader + kernel: read the window of all N frames, combine, crop the halo."""
    data = source.read(read_window)
    mask = None
    if mask_source is not None:
        mask = mask_source.read(read_window)
        if mask.dtype != bool:
            mask = mask != 0
    outputs = tile_fn(data, mask, job)
    del data, mask
    return _crop(outputs, crop)


def _frames_of(blocks: Sequence[np.ndarray]) -> Any:
    """Blocks along axis 0 -> one array (single block) or a list of frames (no copy)."""
    if len(blocks) == 1:
        return np.asarray(blocks[0])
    return [frame for b in blocks for frame in np.asarray(b)]


def _tile_from_blocks(blocks: Sequence[np.ndarray], mask_blocks: Sequence[np.ndarray] | None,
                      crop: tuple[slice, ...] | None, tile_fn: TileFunction, job: Any) -> dict[str, np.ndarray]:
    """Kernel over dask blocks of one tile (axis-0 blocks are not concatenated)."""
    data = _frames_of(blocks)
    mask = None
    if mask_blocks is not None:
        mask = _frames_of(mask_blocks)
        mask = [m if m.dtype == bool else m != 0 for m in mask] if isinstance(mask, list) else (
            mask if mask.dtype == bool else mask != 0)
    return _crop(tile_fn(data, mask, job), crop)


def _tile_from_parts(blocks: Sequence[np.ndarray], placements: Sequence[tuple], shape: tuple[int, ...],
                     mask_blocks: Sequence[np.ndarray] | None, mask_placements: Sequence[tuple] | None,
                     crop: tuple[slice, ...] | None, tile_fn: TileFunction, job: Any) -> dict[str, np.ndarray]:
    """Kernel over a read window (tile + halo) assembled from neighbouring dask blocks."""

    def assemble(parts: Sequence[np.ndarray], where: Sequence[tuple]) -> np.ndarray:
        first = np.asarray(parts[0])
        out = np.empty(shape, first.dtype)
        for block, (src, dst) in zip(parts, where):
            out[dst] = np.asarray(block)[src]
        return out

    data = assemble(blocks, placements)
    mask = None
    if mask_blocks is not None:
        mask = assemble(mask_blocks, mask_placements)
        mask = mask if mask.dtype == bool else mask != 0
    return _crop(tile_fn(data, mask, job), crop)


def _select(outputs: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return outputs[name]


def _write_tile(outputs: Mapping[str, np.ndarray], targets: Mapping[str, Any],
                window: tuple[slice, ...]) -> int:
    """Write one tile's outputs into their targets (zarr arrays, FITS regions, ndarrays)."""
    for name, target in targets.items():
        arr = outputs[name]
        region = ((slice(None),) + window) if arr.ndim == len(window) + 1 else window
        target[region] = arr
    return 1


def _frame_stats(source: StackSource, mask_source: StackSource | None, i: int,
                 window: tuple[slice, ...] | None, specs: Sequence[Any], thresholds: Any,
                 stat_fn: Callable[..., float]) -> list[float]:
    """First pass: the statistics of frame ``i`` (its ``statsec`` region only)."""
    frame = source.read_frame(i, window)
    mask = None
    if mask_source is not None:
        mask = mask_source.read_frame(i, window)
        if mask.dtype != bool:
            mask = mask != 0
    return [float(stat_fn(frame, mask, spec, thresholds=thresholds)) for spec in specs]


# --------------------------------------------------------------------------
# tiles
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tile:
    index: tuple[int, ...]
    window: tuple[slice, ...]       # output region (core)
    read_window: tuple[slice, ...]  # core + halo, clipped to the image
    crop: tuple[slice, ...] | None  # core inside the read window (None: no halo)


def _tiles(spatial: tuple[int, ...], chunks: tuple[tuple[int, ...], ...], halo: int) -> list[_Tile]:
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in chunks]
    out = []
    for idx in product(*(range(len(c)) for c in chunks)):
        win, rwin, crop = [], [], []
        for ax, k in enumerate(idx):
            a = int(starts[ax][k])
            b = a + int(chunks[ax][k])
            win.append(slice(a, b))
            ra, rb = max(0, a - halo), min(spatial[ax], b + halo)
            rwin.append(slice(ra, rb))
            crop.append(slice(a - ra, a - ra + (b - a)))
        out.append(_Tile(tuple(idx), tuple(win), tuple(rwin), tuple(crop) if halo else None))
    return out


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------


def _is_dask(x: Any) -> bool:
    import sys

    # no dask array can exist before dask.array is imported (importing it costs ~1 s)
    if "dask.array" not in sys.modules:
        return False
    import dask.array as da

    return isinstance(x, da.Array)


def _distributed_client() -> Any:
    """The active ``distributed.Client`` if Dask computes through one, else None."""
    import sys

    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        client = default_client()
    except (ValueError, ImportError):
        return None
    import dask

    sched = dask.config.get("scheduler", None)
    if sched not in (None, "dask.distributed", "distributed") and not hasattr(sched, "submit"):
        return None
    return client


def _as_source(inputs: Any, *, offsets: Any, hdu: Any, is_mask: bool = False) -> StackSource | None:
    """Turn inputs into a source (None for dask arrays, handled blockwise)."""
    if isinstance(inputs, StackSource):
        return inputs
    if _is_dask(inputs):
        if offsets is not None:
            raise ValueError("offsets= works with lists of frames (FITS paths, arrays), not a dask array")
        return None
    if isinstance(inputs, (str, bytes)):
        raise TypeError("inputs: give a list of FITS paths, not a single string")
    if isinstance(inputs, (list, tuple)):
        if is_mask:
            return _MaskFrames(inputs, offsets=offsets, hdu=hdu)
        return FramesSource(inputs, offsets=offsets, hdu=hdu)
    if hasattr(inputs, "shape") and hasattr(inputs, "dtype"):
        if offsets is not None:
            # one (N, *spatial) array of equal frames placed at offsets
            frames = [_FrameView(inputs, i) for i in range(inputs.shape[0])]
            return _MaskFrames(frames, offsets=offsets) if is_mask else FramesSource(frames, offsets=offsets)
        return _MaskArray(inputs) if is_mask else StackArraySource(inputs)
    raise TypeError(
        "inputs must be a dask array, a NumPy array or memmap, a zarr array, a list of FITS paths "
        f"or arrays, or an xarray DataArray (use .imc.combine); got {type(inputs).__name__}"
    )


@dataclass(frozen=True, eq=False)
class _FrameView:
    """Frame ``i`` of an (N, *spatial) array-like, read lazily."""

    array: Any
    i: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype).newbyteorder("=")

    def read(self, window=None, out=None):
        block = self.array[(self.i,) + tuple(window or ())]
        if out is None:
            return np.ascontiguousarray(block, dtype=self.dtype)
        out[...] = block
        return out


class _MaskFrames(FramesSource):
    """Per-frame masks (nonzero = bad); uncovered pixels (offsets) are bad."""

    def __init__(self, frames: Sequence[Any], offsets: Any = None, hdu: Any = None) -> None:
        from imcombiners.dask.sources import as_frame

        readers = [as_frame(f, hdu) for f in frames]
        self.frames = [_BoolFrame(r) for r in readers]
        shapes = [tuple(f.shape) for f in self.frames]
        self.names = None
        if offsets is None:
            if len(set(shapes)) != 1:
                raise ValueError("mask: frames have different shapes; give offsets=")
            self.offsets, spatial = None, shapes[0]
        else:
            from imcombiners.offsets import padded_layout

            offs, spatial = padded_layout(shapes, offsets)
            self.offsets = [tuple(int(v) for v in o) for o in offs]
        self.fill = True
        self.dtype = np.dtype(bool)
        self.shape = (len(self.frames),) + tuple(spatial)
        self.disk_itemsize = 1
        self.align = ()
        from dask.base import tokenize

        self.token = tokenize("mask", [getattr(r, "path", id(r)) for r in readers], self.offsets)


@dataclass(frozen=True, eq=False)
class _BoolFrame:
    reader: Any

    @property
    def shape(self):
        return self.reader.shape

    @property
    def dtype(self):
        return np.dtype(bool)

    def read(self, window=None, out=None):
        raw = self.reader.read(window)
        res = raw != 0
        if raw.dtype.kind == "f":
            res |= np.isnan(raw)
        if out is None:
            return res
        out[...] = res
        return out


class _MaskArray(StackArraySource):
    """An (N, *spatial) mask array-like; any dtype, nonzero = bad."""

    def __init__(self, array: Any) -> None:
        arr_dtype = np.dtype(array.dtype)
        self._orig_dtype = arr_dtype
        if arr_dtype not in (np.dtype(bool),) and arr_dtype.kind not in "biuf":
            raise TypeError(f"mask must be boolean or numeric (nonzero = bad); got dtype {arr_dtype}")
        # StackArraySource validates kernel dtypes; masks accept any numeric dtype
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = arr_dtype.newbyteorder("=")
        self.names = None
        self._reader = array
        self.align = ()
        self.disk_itemsize = arr_dtype.itemsize
        from dask.base import tokenize

        self.token = tokenize("maskarray", id(array), self.shape)

    def read(self, window):
        block = super().read(window)
        return block if block.dtype == bool else block != 0

    def read_frame(self, i, window=None):
        block = super().read_frame(i, window)
        return block if block.dtype == bool else block != 0


# --------------------------------------------------------------------------
# the job
# --------------------------------------------------------------------------


def _want_of(diagnostics: Any) -> frozenset[str]:
    if diagnostics is None:
        return frozenset()
    if isinstance(diagnostics, str):
        d = diagnostics.lower()
        if d == "simple":
            return frozenset(_SIMPLE)
        if d == "full":
            return frozenset(_FULL)
        raise ValueError(f"diagnostics must be None, 'simple', 'full' or a list of output names; got {diagnostics!r}")
    names = frozenset(str(x) for x in diagnostics)
    unknown = names - set(_FULL) - {"data"}
    if unknown:
        raise ValueError(f"diagnostics: unknown outputs {sorted(unknown)}; expected some of {sorted(_FULL)}")
    return names - {"data"}


def _halo_of(job: Any) -> tuple[int, int]:
    """(halo, number of grow stages) for a job (reads ``job.rejectors[k].grow_radius``)."""
    halo, stages = 0, 0
    for r in getattr(job, "rejectors", ()) or ():
        g = getattr(r, "grow_radius", getattr(r, "grow", None))
        if g:
            halo += int(math.ceil(float(g)))
            stages += 1
    return halo, stages


def _probe_outputs(tile_fn: TileFunction, job: Any, n: int, dtype: np.dtype, ndim: int,
                   masked: bool) -> dict[str, np.dtype]:
    """dtype of every output, from the kernel itself on a 1-pixel stack of zeros."""
    frames = np.zeros((n,) + (1,) * ndim, dtype)
    masks = np.zeros(frames.shape, bool) if masked else None
    res = tile_fn(frames, masks, job)
    return {k: np.asarray(v).dtype for k, v in res.items() if isinstance(v, np.ndarray)}


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


@dataclass
class CombinedArrays:
    """Computed outputs (NumPy) of an out-of-core combine.

    Attributes
    ----------
    data : ndarray
        The combined image.
    mask, sample_flags : ndarray or None
        Per-sample diagnostics ``(N, *spatial)`` when asked.
    std, low, upp, nit, output_flags, nused : ndarray or None
        Per-element diagnostics when asked.
    zero, scale, weights : ndarray or None
        The per-image factors used.
    provenance : dict
        NCOMBINE, inputs, parameters, factors, version.
    """

    data: np.ndarray
    mask: np.ndarray | None = None
    sample_flags: np.ndarray | None = None
    std: np.ndarray | None = None
    low: np.ndarray | None = None
    upp: np.ndarray | None = None
    nit: np.ndarray | None = None
    output_flags: np.ndarray | None = None
    nused: np.ndarray | None = None
    zero: np.ndarray | None = None
    scale: np.ndarray | None = None
    weights: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        if hasattr(self, name) and name not in ("provenance", "extra"):
            return getattr(self, name)
        return self.extra[name]


class LazyCombine:
    """Lazy result of :func:`combine`: dask arrays plus streaming writers.

    Attributes
    ----------
    data : dask.array.Array
        The combined image (lazy).
    mask, sample_flags, std, low, upp, nit, output_flags, nused : dask.array.Array or None
        Requested diagnostics (lazy), from the same tile tasks as ``data``.
    arrays : dict of str to dask.array.Array
        All outputs by name.
    plan : Plan
        Tiling, concurrency and predicted peak memory.
    zero, scale, weights : ndarray or None
        Per-image factors resolved by the first pass.
    provenance : dict
        What ``to_zarr``/``to_fits`` record.

    Notes
    -----
    Compute outputs together (``result.compute()``, ``dask.compute(*result.arrays.values())``)
    so each tile is combined once.  ``compute``, ``to_zarr`` and ``to_fits`` stream:
    each task reads, combines and writes one tile.
    """

    def __init__(self, *, tile_expr: Callable[[_Tile], tuple], deps: list[Any], tiles: list[_Tile],
                 plan: Plan, out_dtypes: Mapping[str, np.dtype], n: int, spatial: tuple[int, ...],
                 token: str, zero: Any, scale: Any, weights: Any, provenance: dict[str, Any],
                 job: Any) -> None:
        self._tile_expr = tile_expr
        self._deps = deps
        self._tiles = tiles
        self.plan = plan
        self.out_dtypes = dict(out_dtypes)
        self.n = n
        self.spatial = spatial
        self.token = token
        self.zero, self.scale, self.weights = zero, scale, weights
        self.provenance = provenance
        self.job = job
        self._arrays: dict[str, Any] | None = None  # built on first use (imports dask.array)

    @property
    def arrays(self) -> dict[str, Any]:
        """All outputs by name as lazy dask arrays (built on first access)."""
        if self._arrays is None:
            self._arrays = self._build_arrays()
        return self._arrays

    def __getattr__(self, name: str) -> Any:
        # data, mask, ... (IRAF: output, sigma, ...) as dask arrays, or None when not computed
        if name.startswith("_") or "_arrays" not in self.__dict__:
            raise AttributeError(name)
        if name in self._attribute_names():
            return self.arrays.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    #: Name of the combined image among the outputs (the primary HDU of ``to_fits``).
    primary = "data"
    #: Extra header cards per output written by ``to_fits`` (name -> cards).
    extra_cards: Mapping[str, tuple] = {}

    def _attribute_names(self) -> tuple[str, ...]:
        return ("data", *_FULL)

    def __repr__(self) -> str:
        return f"<LazyCombine {self.n} x {self.spatial} -> {sorted(self.arrays)}; {self.plan.ntiles} tiles>"

    # -- graph pieces -----------------------------------------------------
    def _packed_layer(self) -> tuple[str, dict]:
        name = f"imc-tile-{self.token}"
        return name, {(name, *t.index): self._tile_expr(t) for t in self._tiles}

    def _hlg(self, name: str, layer: dict, extra: Mapping[str, dict] | None = None):
        from dask.highlevelgraph import HighLevelGraph

        hlg = HighLevelGraph.from_collections(name, layer, dependencies=self._deps)
        if extra:
            layers = dict(hlg.layers)
            deps = dict(hlg.dependencies)
            for lname, ldsk in extra.items():
                layers[lname] = ldsk
                deps[lname] = {name}
            hlg = HighLevelGraph(layers, deps)
        return hlg

    def _build_arrays(self) -> dict[str, Any]:
        import dask.array as da

        packed, layer = self._packed_layer()
        chunks = self.plan.chunks
        leaves: dict[str, dict] = {}
        specs = {}
        for out, dtype in self.out_dtypes.items():
            lname = f"imc-{out}-{self.token}"
            per_sample = out in PER_SAMPLE
            dsk = {}
            for t in self._tiles:
                key = (lname, 0, *t.index) if per_sample else (lname, *t.index)
                dsk[key] = (_select, (packed, *t.index), out)
            leaves[lname] = dsk
            specs[out] = (lname, per_sample, dtype)
        hlg = self._hlg(packed, layer, leaves)
        arrays = {}
        for out, (lname, per_sample, dtype) in specs.items():
            ch = (((self.n,),) + chunks) if per_sample else chunks
            meta = np.empty((0,) * len(ch), dtype)
            arrays[out] = da.Array(hlg, lname, ch, meta=meta)
        return arrays

    # -- execution ----------------------------------------------------------
    def _run_writes(self, targets: Mapping[str, Any], progress: Any, *, local_only: bool = False) -> None:
        """Each task: read + combine + write its tile into ``targets``."""
        packed, _ = self._packed_layer()
        name = f"imc-write-{self.token}"
        layer = {(name, *t.index): (_write_tile, self._tile_expr(t), dict(targets), t.window)
                 for t in self._tiles}
        hlg = self._hlg(name, layer)
        keys = list(layer)
        _execute(hlg, keys, self.plan, progress, name, on_result=None)

    def compute(self, *, progress: Any = None, outputs: Sequence[str] | None = None) -> CombinedArrays:
        """Compute every output into NumPy arrays (kernel once per tile).

        Parameters
        ----------
        progress : bool or callable, optional
            True: a progress bar (dask's locally, distributed's with a client);
            a callable ``progress(done, total)`` is called as tiles finish.
        outputs : sequence of str, optional
            Subset of outputs to compute (default: all).
        """
        res = self._compute_arrays(progress, outputs)
        fields = {k: v for k, v in res.items() if k in CombinedArrays.__dataclass_fields__}
        extra = {k: v for k, v in res.items() if k not in fields}
        return CombinedArrays(**fields, zero=self.zero, scale=self.scale, weights=self.weights,
                              provenance=self.provenance, extra=extra)

    def _compute_arrays(self, progress: Any, outputs: Sequence[str] | None) -> dict[str, np.ndarray]:
        """Every requested output filled tile by tile into preallocated NumPy arrays."""
        names = list(outputs) if outputs is not None else list(self.out_dtypes)
        unknown = [nm for nm in names if nm not in self.out_dtypes]
        if unknown:
            raise ValueError(f"outputs: {unknown} were not computed; available: {sorted(self.out_dtypes)}")
        res: dict[str, np.ndarray] = {}
        for nm in names:
            shape = ((self.n,) + self.spatial) if nm in PER_SAMPLE else self.spatial
            res[nm] = np.empty(shape, self.out_dtypes[nm])
        client = _distributed_client()
        if client is None and _local_scheduler_kind() in ("threads", "sync"):
            self._run_writes(res, progress)
        else:
            # results travel back; place them tile by tile as they arrive
            packed, layer = self._packed_layer()
            hlg = self._hlg(packed, layer)
            windows = {(packed, *t.index): t.window for t in self._tiles}

            def place(key: Any, outputs: Mapping[str, np.ndarray]) -> None:
                _write_tile(outputs, {k: res[k] for k in names}, windows[key])

            _execute(hlg, list(layer), self.plan, progress, packed, on_result=place)
        return res

    def to_zarr(self, store: Any, *, outputs: Sequence[str] | None = None, overwrite: bool = False,
                progress: Any = None, compressors: Any = "default", atomic: bool = True) -> Any:
        """Stream every output into a zarr group (one array per output).

        See :func:`imcombiners.dask.sinks.write_zarr`.
        """
        from imcombiners.dask.sinks import write_zarr

        return write_zarr(self, store, outputs=outputs, overwrite=overwrite, progress=progress,
                          compressors=compressors, atomic=atomic)

    def to_fits(self, path: Any, *, outputs: Sequence[str] | None = None, overwrite: bool = False,
                progress: Any = None) -> str:
        """Stream every output into one multi-extension FITS file, renamed when complete.

        See :func:`imcombiners.dask.sinks.write_fits`.
        """
        from imcombiners.dask.sinks import write_fits

        return write_fits(self, path, outputs=outputs, overwrite=overwrite, progress=progress)


# --------------------------------------------------------------------------
# execution helpers
# --------------------------------------------------------------------------


def _local_scheduler_kind() -> str:
    import sys

    import dask

    if "distributed" not in sys.modules and dask.config.get("scheduler", None) is None:
        # dask.base.get_scheduler() would import distributed (~0.3 s) to look for a client
        return "threads"
    import dask.base

    sched = dask.base.get_scheduler()
    if sched is None:
        return "threads"
    import dask.local
    import dask.threaded

    if sched is dask.threaded.get:
        return "threads"
    if sched is dask.local.get_sync:
        return "sync"
    return "other"


class _TileCallback:
    """dask local-scheduler callback counting finished tile tasks."""

    def __init__(self, prefix: str, total: int, fn: Callable[[int, int], Any] | None,
                 on_result: Callable[[Any, Any], None] | None) -> None:
        from dask.callbacks import Callback

        outer = self

        class _CB(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):  # noqa: D401
                if isinstance(key, tuple) and key and key[0] == prefix:
                    outer.done += 1
                    if on_result is not None:
                        on_result(key, result)
                    if fn is not None:
                        fn(outer.done, total)

        self.done = 0
        self.cb = _CB()


def _execute(hlg: Any, keys: list, plan: Plan, progress: Any, prefix: str,
             on_result: Callable[[Any, Any], None] | None) -> None:
    """Run ``keys`` of ``hlg`` on the active scheduler with the plan's concurrency."""
    total = len(keys)
    client = _distributed_client()
    fn = progress if callable(progress) else None
    if client is not None:
        from distributed import as_completed

        futures = client.get(hlg, keys, sync=False)
        if progress is True:
            from distributed import progress as dprogress

            dprogress(futures)
        done = 0
        key_of = {f.key: k for f, k in zip(futures, keys)}
        try:
            for fut in as_completed(futures):
                result = fut.result()  # raises the task's exception, if any
                done += 1
                if on_result is not None:
                    on_result(key_of[fut.key], result)
                if fn is not None:
                    fn(done, total)
                fut.release()
        except BaseException:
            client.cancel(futures)  # stop writing into an output about to be discarded
            raise
        return
    import dask

    kind = _local_scheduler_kind()
    tracker = _TileCallback(prefix, total, fn, on_result)
    callbacks = [tracker.cb]
    if progress is True:
        from dask.diagnostics import ProgressBar

        callbacks.append(ProgressBar())
    dsk = dict(hlg)
    pool = None
    if kind == "threads":
        from concurrent.futures import ThreadPoolExecutor

        from dask.threaded import get

        # Our own pool, so that a failing run waits for the tiles still in flight before
        # the caller discards a partial output (they would re-create it otherwise).
        pool = ThreadPoolExecutor(max_workers=plan.threads, thread_name_prefix="imc-tile")
        kw = {"num_workers": plan.threads, "pool": pool}
    elif kind == "sync":
        from dask.local import get_sync as get

        kw = {}
    else:
        import dask.base

        get = dask.base.get_scheduler()
        kw = {}
    from contextlib import ExitStack

    try:
        with ExitStack() as stack:
            for cb in callbacks:
                stack.enter_context(cb)
            get(dsk, keys, **kw)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------


@dataclass
class _Prepared:
    source: StackSource | None
    mask_source: StackSource | None
    darr: Any
    dmask: Any
    n: int
    spatial: tuple[int, ...]
    dtype: np.dtype
    want: frozenset[str]
    halo: int
    grow_stages: int
    plan: Plan
    names: list[str] | None


def _line_based(rejectors: Sequence[Any]) -> bool:
    """A rejector estimates a statistic from whole image lines (AvSigClip)."""
    return any(getattr(r, "kind", "") == "avsigclip" for r in rejectors)


def _worker_resources(client: Any) -> tuple[int | None, int | None, int | None]:
    """(threads, memory limit, baseline RSS) of the smallest/fullest worker of a client.

    The scheduler's view (``scheduler_info``) carries each worker's ``nthreads``,
    ``memory_limit`` and its last reported process memory; a worker that has not
    imported the library yet will grow by its import, so the baseline is at
    least :data:`WORKER_BASELINE`.
    """
    try:
        info = client.scheduler_info(n_workers=-1).get("workers", {})
    except TypeError:  # older distributed: no n_workers argument
        info = client.scheduler_info().get("workers", {})
    if not info:
        return None, None, None
    threads = min(int(w.get("nthreads", 1)) for w in info.values())
    lims = [int(w.get("memory_limit") or 0) for w in info.values()]
    limit = min(lims) if all(lims) else None
    rss = [int((w.get("metrics") or {}).get("memory") or 0) for w in info.values()]
    baseline = max([WORKER_BASELINE] + [r + WORKER_IMPORTS for r in rss])
    return threads, limit, baseline


#: Smallest baseline assumed for a distributed worker (interpreter + numpy/dask/distributed).
WORKER_BASELINE = 200 * 2**20
#: What a worker's RSS grows by when it first imports imcombiners, astropy and zarr.
WORKER_IMPORTS = 60 * 2**20


def _prepare(inputs: Any, *, mask: Any, offsets: Any, hdu: Any, rejectors: Any, diagnostics: Any,
             memory_limit: Any, tile: Any, threads: Any, result_in_memory: bool,
             full_rows: bool = False, halo: int | None = None, outputs: Sequence[str] | None = None,
             extra_per_pixel: float = 0.0, client: Any = False) -> _Prepared:
    if client is False:
        client = _distributed_client()
    if client is not None and isinstance(inputs, np.ndarray) and not isinstance(inputs, np.memmap):
        # a plain ndarray would be pickled into every task: let dask ship it once
        import dask.array as da

        inputs = da.from_array(inputs, chunks=(-1,) + ("auto",) * (inputs.ndim - 1))
    source = _as_source(inputs, offsets=offsets, hdu=hdu)
    darr = None if source is not None else inputs
    shape = tuple(source.shape if source is not None else darr.shape)
    if len(shape) < 2:
        raise ValueError(f"inputs must have shape (N, *spatial); got {shape}")
    n, spatial = shape[0], shape[1:]
    # reliability: empty stacks fail here with the input's shape (not in the planner)
    if n == 0:
        raise ValueError(f"inputs must contain at least one frame along axis 0; got shape {shape}")
    if 0 in spatial:
        raise ValueError(f"inputs: every spatial axis must be non-empty for the out-of-core engine; "
                         f"got shape {shape} (the in-memory API returns an empty result)")
    dtype = np.dtype(source.dtype if source is not None else darr.dtype).newbyteorder("=")

    mask_source = dmask = None
    if mask is not None:
        if _is_dask(mask) or darr is not None:
            import dask.array as da

            dmask = mask if _is_dask(mask) else da.from_array(np.asarray(mask))
            if dmask.shape == spatial:
                dmask = da.broadcast_to(dmask[None], shape)
        else:
            if hasattr(mask, "shape") and tuple(mask.shape) == spatial and offsets is None:
                mask = _Broadcast(mask, n)
            mask_source = _as_source(mask, offsets=offsets, hdu=hdu, is_mask=True)
            if tuple(mask_source.shape) != shape:
                raise ValueError(f"mask has shape {mask_source.shape} but the stack has shape {shape}")
        if dmask is not None and tuple(dmask.shape) != shape:
            raise ValueError(f"mask has shape {dmask.shape} but the stack has shape {shape}")

    want = _want_of(diagnostics)
    rej = () if rejectors is None else ((rejectors,) if not isinstance(rejectors, (list, tuple)) else tuple(rejectors))

    class _J:  # halo only depends on the rejectors
        rejectors = rej

    if halo is None:
        halo, stages = _halo_of(_J)
    else:
        stages = 1 if halo else 0
    # line-based statistics (AvSigClip) need whole image lines in every tile
    full_rows = full_rows or _line_based(rej)
    work = 8 if dtype in (np.dtype(np.int32), np.dtype(np.float64)) else 4
    outputs = list(outputs) if outputs is not None else ["data", *want]
    baseline = None
    if client is not None:
        w_threads, w_limit, baseline = _worker_resources(client)
        if threads is None:
            threads = w_threads
        if w_limit is not None:
            lim = parse_memory(memory_limit)
            memory_limit = w_limit if lim is None else min(lim, w_limit)
    align = source.align if source is not None else _dask_align(darr)
    overhead = getattr(source, "read_overhead", 0.0) if source is not None else 1.0  # dask: rechunk copies
    p = make_plan(shape, in_itemsize=dtype.itemsize * (1.0 + overhead), work_itemsize=work, outputs=outputs,
                  mask_input=mask is not None, halo=halo, grow_stages=stages,
                  memory_limit=memory_limit, threads=threads, baseline=baseline,
                  result_in_memory=result_in_memory, align=align, tile=tile, full_rows=full_rows,
                  extra_per_pixel=extra_per_pixel)
    names = source.names if source is not None else None
    return _Prepared(source, mask_source, darr, dmask, n, spatial, dtype, want, halo, stages, p, names)


@dataclass(frozen=True, eq=False)
class _Broadcast:
    """One ``*spatial`` mask shared by every frame, seen as ``(N, *spatial)``."""

    array: Any
    n: int

    @property
    def shape(self):
        return (self.n,) + tuple(self.array.shape)

    @property
    def dtype(self):
        return np.dtype(self.array.dtype)

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        first, rest = index[0], index[1:]
        block = np.asarray(self.array[rest])
        count = len(range(*first.indices(self.n))) if isinstance(first, slice) else None
        if count is None:
            return block
        return np.broadcast_to(block, (count,) + block.shape)


def _dask_align(darr: Any) -> tuple[int, ...]:
    # prefer multiples of the first spatial chunk (no splitting of input chunks)
    return tuple(int(c[0]) for c in darr.chunks[1:])


def _dask_blocks(p: _Prepared) -> tuple[Any, Any]:
    """Rechunk a dask input to the plan's spatial chunks (axis 0 untouched)."""
    spatial_chunks = p.plan.chunks
    darr = p.darr.rechunk(p.darr.chunks[:1] + spatial_chunks)
    dmask = None if p.dmask is None else p.dmask.rechunk(p.dmask.chunks[:1] + spatial_chunks)
    return darr, dmask


def _halo_parts(arr: Any, t: _Tile) -> tuple[list, list, tuple[int, ...]]:
    """Block keys and (source, destination) slices covering a tile's read window."""
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in arr.chunks]
    per_axis = []
    for ax, win in enumerate((slice(0, arr.shape[0]),) + t.read_window):
        st = starts[ax]
        pieces = []
        for b in range(len(arr.chunks[ax])):
            lo, hi = max(win.start, st[b]), min(win.stop, st[b + 1])
            if lo < hi:
                pieces.append((b, slice(lo - st[b], hi - st[b]), slice(lo - win.start, hi - win.start)))
        per_axis.append(pieces)
    keys, placements = [], []
    for combo in product(*per_axis):
        keys.append((arr.name, *(c[0] for c in combo)))
        placements.append((tuple(c[1] for c in combo), tuple(c[2] for c in combo)))
    shape = (arr.shape[0],) + tuple(w.stop - w.start for w in t.read_window)
    return keys, placements, shape


def _parameters(method: str, rejectors: Any, thresholds: Any, zero: Any, scale: Any, weights: Any,
                statsec: Any, ddof: Any, q: Any, blank: Any, want: frozenset[str], offsets: Any) -> dict:
    return {
        "method": method, "rejectors": list(rejectors or ()), "thresholds": thresholds,
        "zero": zero if isinstance(zero, str) or zero is None else "values",
        "scale": scale if isinstance(scale, str) or scale is None else "values",
        "weights": weights if isinstance(weights, str) or weights is None else "values",
        "statsec": repr(statsec) if statsec is not None else None, "ddof": ddof, "q": q,
        "blank": blank, "diagnostics": sorted(want), "offsets": offsets is not None,
    }


def plan(inputs: Any, method: str = "mean", *, mask: Any = None, rejectors: Any = None,
         diagnostics: Any = None, offsets: Any = None, hdu: Any = None, memory_limit: Any = None,
         tile: Any = None, threads: int | None = None, streaming: bool = False, **_ignored: Any) -> Plan:
    """Report the tiling, task count and predicted peak memory without running anything.

    Takes the same arguments as :func:`combine` (normalisation arguments are ignored:
    the plan does not depend on them).  ``streaming=True`` plans for ``to_zarr``/
    ``to_fits`` (no result held in memory).

    Returns
    -------
    Plan
        See :class:`imcombiners.dask.planner.Plan`; ``print(plan.summary())``.
    """
    # reliability: only combine()'s own arguments are ignored; a typo such as
    # ``memory_limt=`` would otherwise give a silently wrong plan
    import inspect

    unknown = sorted(set(_ignored) - set(inspect.signature(combine).parameters))
    if unknown:
        raise TypeError(f"plan() got unexpected keyword arguments {unknown}; it takes the arguments of combine()")
    p = _prepare(inputs, mask=mask, offsets=offsets, hdu=hdu, rejectors=rejectors,
                 diagnostics=diagnostics, memory_limit=memory_limit, tile=tile, threads=threads,
                 result_in_memory=not streaming)
    return p.plan


def combine(
    inputs: Any,
    method: str = "mean",
    *,
    mask: Any = None,
    rejectors: Any = None,
    thresholds: Any = None,
    zero: Any = None,
    scale: Any = None,
    weights: Any = None,
    statsec: Any = None,
    diagnostics: Any = None,
    ddof: int = 0,
    q: float | None = None,
    blank: float | None = None,
    relative: bool = True,
    offsets: Sequence[Sequence[int]] | None = None,
    hdu: int | str | None = None,
    memory_limit: int | str | None = None,
    tile: Sequence[int] | None = None,
    threads: int | None = None,
    streaming: bool = False,
    progress: Any = None,
    tile_fn: TileFunction | None = None,
    stat_fn: Callable[..., float] | None = None,
    job_factory: Callable[..., Any] | None = None,
) -> LazyCombine:
    """Combine a stack out of core; returns lazy outputs.

    Parameters
    ----------
    inputs
        ``(N, *spatial)`` dask array, NumPy array or memmap, zarr array; or a list of N
        frames: FITS paths (uncompressed or tile-compressed; BZERO/BSCALE; big-endian),
        arrays, memmaps.  For xarray use ``da.imc.combine(dim=...)``.
    method, rejectors, thresholds, zero, scale, weights, diagnostics, ddof, blank
        As :meth:`imcombiners.Combiner.combine` (same names and meanings).  Statistic
        names for zero/scale/weights are computed by a first pass over the frames (only
        their ``statsec`` region is read).  ``diagnostics`` may also be a list of
        output names (``["mask", "nused"]``).
    mask
        Bad-pixel mask (True/nonzero = bad): same forms as ``inputs`` (or one frame's
        shape, shared by all frames).
    statsec
        Region for the statistics (tuple of slices or IRAF section string).
    relative
        Make statistic-derived zero/scale relative to the first frame (as the
        in-memory API).
    q
        Quantile for ``method="quantile"``.
    offsets
        Integer offset of each frame (NumPy axis order) as in
        :func:`imcombiners.offsets.place_into_padded`; frames may then differ in shape.
        The padded stack is never built: a tile reads only the frames overlapping it.
    hdu
        HDU of FITS inputs (default: the first with an image).
    memory_limit
        Bytes or a string ("2GB") for the whole process (per worker on a cluster);
        the planner picks tile shape and concurrency to stay under it.
    tile
        Force a spatial tile shape (expert use; checked against the limit).
    threads
        Concurrency to plan for (default: CPU count, or the workers' threads).
    streaming
        Plan for ``to_zarr``/``to_fits`` (no result held in memory).
    progress
        For the statistics pass: True or ``callable(done, total)``.
    tile_fn, stat_fn, job_factory
        Injection points for testing the engine without the compiled kernel (tests
        only); default to the library kernel.

    Returns
    -------
    LazyCombine
        ``.data`` and each requested diagnostic as dask arrays; ``.compute()``,
        ``.to_zarr()``, ``.to_fits()``; ``.plan``; ``.zero/.scale/.weights`` used.
    """
    p = _prepare(inputs, mask=mask, offsets=offsets, hdu=hdu, rejectors=rejectors,
                 diagnostics=diagnostics, memory_limit=memory_limit, tile=tile, threads=threads,
                 result_in_memory=not streaming)
    log.info("imcombiners.dask plan:\n%s", p.plan.summary())
    tile_fn = tile_fn or default_tile_function
    stat_fn = stat_fn or default_stat_function
    rej = () if rejectors is None else ((rejectors,) if not isinstance(rejectors, (list, tuple)) else tuple(rejectors))

    # first pass: per-image statistics for zero/scale/weights
    z, s, w = _resolve_factors(p, zero, scale, weights, statsec, thresholds, stat_fn, progress,
                               relative)
    m = method
    if w is not None:
        from imcombiners._validate import canonical_method

        if canonical_method(method) == "mean":
            m = "wavg"  # weighted mean
    factory = job_factory
    if factory is None:
        from imcombiners._job import Job as factory  # noqa: N813
    job = factory(method=m, rejectors=rej, thresholds=thresholds, zero=z, scale=s, weights=w,
                  ddof=ddof, q=q, blank=blank, want=p.want)
    if hasattr(job, "check_n"):
        job.check_n(p.n)
    out_dtypes = _probe_outputs(tile_fn, job, p.n, p.dtype, len(p.spatial),
                                masked=p.mask_source is not None or p.dmask is not None)

    tiles, expr, deps, token = _graph_parts(p, job, tile_fn)

    from imcombiners.io.provenance import provenance_dict

    prov = provenance_dict(
        inputs=p.names, ncombine=p.n,
        parameters=_parameters(m, rej, thresholds, zero, scale, weights, statsec, ddof, q, blank,
                               p.want, offsets),
        zero=z, scale=s, weights=w,
    )
    return LazyCombine(tile_expr=expr, deps=deps, tiles=tiles, plan=p.plan, out_dtypes=out_dtypes,
                       n=p.n, spatial=p.spatial, token=token, zero=z, scale=s, weights=w,
                       provenance=prov, job=job)



def _graph_parts(p: _Prepared, job: Any, tile_fn: TileFunction) -> tuple[list[_Tile], Callable, list, str]:
    """Tiles, the task expression of a tile, the graph dependencies and a token.

    Shared by :func:`combine` and :func:`imcombiners.dask.imcombine`: only the
    kernel (``tile_fn``) and its ``job`` differ.
    """
    tiles = _tiles(p.spatial, p.plan.chunks, p.halo)
    from dask.base import tokenize

    if p.source is not None:
        token = tokenize(p.source.token, None if p.mask_source is None else p.mask_source.token,
                         p.plan.chunks, p.halo, _job_token(job), tile_fn)
        src, msrc = p.source, p.mask_source

        def expr(t: _Tile) -> tuple:
            return (_tile_from_source, src, msrc, t.read_window, t.crop, tile_fn, job)

        deps: list[Any] = []
    else:
        darr, dmask = _dask_blocks(p)
        nb0 = darr.numblocks[0]
        mb0 = None if dmask is None else dmask.numblocks[0]
        token = tokenize(darr.name, None if dmask is None else dmask.name, p.halo, _job_token(job), tile_fn)

        def expr(t: _Tile) -> tuple:
            if t.crop is not None:  # halo: assemble the read window from neighbouring blocks
                keys, placements, shape = _halo_parts(darr, t)
                mkeys, mplace = (None, None) if dmask is None else _halo_parts(dmask, t)[:2]
                return (_tile_from_parts, keys, placements, shape, mkeys, mplace, t.crop, tile_fn, job)
            blocks = [(darr.name, k, *t.index) for k in range(nb0)]
            mblocks = None if dmask is None else [(dmask.name, k, *t.index) for k in range(mb0)]
            return (_tile_from_blocks, blocks, mblocks, None, tile_fn, job)

        deps = [darr] + ([dmask] if dmask is not None else [])

    return tiles, expr, deps, token


def _job_token(job: Any) -> str:
    from dask.base import tokenize

    try:
        items = sorted((k, repr(v)) for k, v in vars(job).items())
    except TypeError:
        items = repr(job)
    return tokenize(type(job).__name__, items)


def _stat_specs(zero: Any, scale: Any, weights: Any) -> list[Any]:
    specs: list[Any] = []
    for v in (zero, scale, weights):
        if isinstance(v, str):
            from imcombiners._stats import canonical_statistic

            spec: Any = canonical_statistic(v)
        elif callable(v):
            spec = v
        else:
            continue
        if not any(spec is s or (isinstance(s, str) and s == spec) for s in specs):
            specs.append(spec)
    return specs


def _resolve_factors(p: _Prepared, zero: Any, scale: Any, weights: Any, statsec: Any, thresholds: Any,
                     stat_fn: Callable[..., float], progress: Any,
                     relative: bool = True) -> tuple[Any, Any, Any]:
    from imcombiners._stats import parse_statsec, resolve_normalisation
    from imcombiners._validate import as_thresholds

    specs = _stat_specs(zero, scale, weights)
    table: dict[int, np.ndarray] = {}
    if specs:
        table = _statistics_pass(p, specs, parse_statsec(statsec, p.spatial), as_thresholds(thresholds),
                                 stat_fn, progress)

    def stat_of(i: int, spec: Any) -> float:
        for k, s in enumerate(specs):
            if s is spec or (isinstance(s, str) and s == spec):
                return float(table[k][i])
        raise KeyError(spec)  # pragma: no cover - every spec is precomputed

    return resolve_normalisation(p.n, zero, scale, weights, stat_of=stat_of, relative=relative)


def _statistics_pass(p: _Prepared, specs: list[Any], region: tuple[slice, ...] | None, thresholds: Any,
                     stat_fn: Callable[..., float], progress: Any) -> dict[int, np.ndarray]:
    """One task per frame reading only its statistics region; runs now (eagerly)."""
    source = p.source
    mask_source = p.mask_source
    if source is None:
        # a dask input: statistics per frame from its blocks
        import dask

        reg = region or tuple(slice(None) for _ in p.spatial)
        parts = []
        for i in range(p.n):
            fr = p.darr[(i,) + reg]
            mk = None if p.dmask is None else p.dmask[(i,) + reg]
            parts.append(dask.delayed(_stats_of_arrays)(fr, mk, specs, thresholds, stat_fn))
        values = dask.compute(*parts)
    else:
        name = f"imc-stats-{_tok(source.token, specs, region, thresholds)}"
        layer = {(name, i): (_frame_stats, source, mask_source, i, region, specs, thresholds, stat_fn)
                 for i in range(p.n)}
        from dask.highlevelgraph import HighLevelGraph

        hlg = HighLevelGraph.from_collections(name, layer, dependencies=[])
        per = frame_bytes(source) if region is None else int(
            np.prod([len(range(*s.indices(n))) for s, n in zip(region, p.spatial)])) * source.dtype.itemsize
        threads = p.plan.threads
        if p.plan.memory_limit is not None:
            room = p.plan.memory_limit - p.plan.baseline
            threads = max(1, min(threads, int(room // max(1, 4 * per))))
        plan_stats = Plan(p.plan.shape, p.plan.tile, 0, p.plan.chunks, p.n, p.n, threads, 4 * per,
                          p.plan.baseline, 0, p.plan.baseline + threads * 4 * per, p.plan.memory_limit)
        results: dict[int, list[float]] = {}

        def keep(key: Any, value: Any) -> None:
            results[key[1]] = value

        _execute(hlg, list(layer), plan_stats, progress, name, on_result=keep)
        values = [results[i] for i in range(p.n)]
    arr = np.asarray(values, dtype=np.float64).reshape(p.n, len(specs))
    return {k: arr[:, k] for k in range(len(specs))}


def _stats_of_arrays(frame: np.ndarray, mask: np.ndarray | None, specs: list[Any], thresholds: Any,
                     stat_fn: Callable[..., float]) -> list[float]:
    if mask is not None and mask.dtype != bool:
        mask = mask != 0
    return [float(stat_fn(np.asarray(frame), mask, spec, thresholds=thresholds)) for spec in specs]


def _tok(*args: Any) -> str:
    from dask.base import tokenize

    return tokenize(*[repr(a) if callable(a) else a for a in args])


_ = operator
