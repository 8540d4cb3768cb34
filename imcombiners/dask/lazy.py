"""The lazy result: one packed kernel task per tile, many lazy outputs, streaming writers.

Graph shape (see docs/memory.md for the memory side)::

    source / dask blocks --(read window + halo)--> tile task --(crop)--> packed dict
    packed dict --getitem--> data, mask, std, low, upp, nit, output_flags, nused, ...

All outputs come from one packed layer, so computing them together runs the kernel
once per tile.  The streaming sinks (``to_zarr``, ``to_fits``, and ``compute`` into
preallocated NumPy arrays) go further: each task reads, combines *and writes* its
tile, so nothing is held between tasks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from imcombiners._products import FULL_DIAGNOSTICS, PER_SAMPLE, PLANE_PRODUCTS, output_shape
from imcombiners.dask.planner import Plan
from imcombiners.dask.scheduling import Progress, distributed_client, execute, local_scheduler_kind
from imcombiners.dask.sinks import Compressors, ZarrStore, write_fits, write_zarr
from imcombiners.dask.stack import PreparedStack
from imcombiners.dask.tasks import (
    PLANE_ROLES,
    RegionTarget,
    TileFunction,
    select_output,
    tile_from_blocks,
    tile_from_parts,
    tile_from_source,
    write_tile,
)
from imcombiners.dask.tiling import Tile, block_parts, tiles

if TYPE_CHECKING:
    import dask.array as da  # heavy (~1 s, and it imports xarray); imported when arrays are built
    import zarr  # only its type is used

__all__ = ["TileGraph", "tile_graph", "job_token", "CombinedArrays", "LazyCombine"]

#: A dask task: ``(function, *arguments)``.
Task = tuple


@dataclass(frozen=True)
class TileGraph:
    """The tile tasks of a run, before they become a graph layer.

    Attributes
    ----------
    tiles : list of Tile
        Every spatial tile.
    expr : callable
        ``expr(tile)`` -> the task combining that tile (its outputs as a dict).
    deps : list of dask.array.Array
        Graph dependencies (dask inputs; empty for sources read inside the tasks).
    token : str
        Deterministic identity of the run for key names.
    """

    tiles: list[Tile]
    expr: Callable[[Tile], Task]
    deps: list[da.Array]
    token: str


def job_token(job: object) -> str:
    """Deterministic token of a job (a dataclass: its fields by name)."""
    try:
        items: object = sorted((k, repr(v)) for k, v in vars(job).items())
    except TypeError:
        items = repr(job)
    return tokenize(type(job).__name__, items)


def tile_graph(p: PreparedStack, job: object, tile_fn: TileFunction) -> TileGraph:
    """The tile tasks of a prepared stack for one kernel (``tile_fn``) and its ``job``.

    Shared by :func:`imcombiners.dask.combine` and :func:`imcombiners.dask.imcombine`:
    only the kernel and its job differ.
    """
    all_tiles = tiles(p.spatial, p.plan.chunks, p.halo)
    if p.source is not None:
        psrc = dict(p.plane_sources)
        token = tokenize(p.source.token, None if p.mask_source is None else p.mask_source.token,
                         sorted((k, v.token) for k, v in psrc.items()),
                         p.plan.chunks, p.halo, job_token(job), tile_fn)
        src, msrc = p.source, p.mask_source
        # Tiles run roughly in order, `threads` at a time: each asks for the one that
        # will start when it finishes (read-ahead; see tasks.tile_from_source).
        order = {t.index: k for k, t in enumerate(all_tiles)}
        lead = max(1, p.plan.threads)

        def expr(t: Tile) -> Task:
            k = order[t.index] + lead
            ahead = all_tiles[k].read_window if k < len(all_tiles) else None
            # planes only when given: tasks without them keep their form
            extra = (psrc,) if psrc else ()
            return (tile_from_source, src, msrc, t.read_window, t.crop, tile_fn, job, ahead, *extra)

        return TileGraph(all_tiles, expr, [], token)

    assert p.darr is not None
    # rechunk to the plan's spatial chunks (axis 0 untouched)
    darr = p.darr.rechunk(p.darr.chunks[:1] + p.plan.chunks)
    dmask = None if p.dmask is None else p.dmask.rechunk(p.dmask.chunks[:1] + p.plan.chunks)
    dplanes = {role: d.rechunk(d.chunks[:1] + p.plan.chunks) for role, d in p.dplanes.items()}
    nb0 = darr.numblocks[0]
    mb0 = None if dmask is None else dmask.numblocks[0]
    token = tokenize(darr.name, None if dmask is None else dmask.name,
                     sorted((k, d.name) for k, d in dplanes.items()), p.halo, job_token(job), tile_fn)

    # Plane blocks go into tasks as lists in PLANE_ROLES order (dask substitutes keys in
    # lists, not in dicts): None for a role not given.
    def dask_expr(t: Tile) -> Task:
        if t.crop is not None:  # halo: assemble the read window from neighbouring blocks
            keys, placements, shape = block_parts(darr, t)
            mkeys, mplace = (None, None) if dmask is None else block_parts(dmask, t)[:2]
            parts = [None if r not in dplanes else list(block_parts(dplanes[r], t)[:2]) for r in PLANE_ROLES]
            extra = (parts,) if dplanes else ()
            return (tile_from_parts, keys, placements, shape, mkeys, mplace, t.crop, tile_fn, job, *extra)
        blocks = [(darr.name, k, *t.index) for k in range(nb0)]
        mblocks = None if dmask is None else [(dmask.name, k, *t.index) for k in range(mb0)]  # type: ignore[arg-type]
        pblocks = [None if r not in dplanes else [(dplanes[r].name, k, *t.index)
                                                  for k in range(dplanes[r].numblocks[0])] for r in PLANE_ROLES]
        extra2 = (pblocks,) if dplanes else ()
        return (tile_from_blocks, blocks, mblocks, None, tile_fn, job, *extra2)

    deps = [darr] + ([dmask] if dmask is not None else []) + list(dplanes.values())
    return TileGraph(all_tiles, dask_expr, deps, token)


@dataclass
class CombinedArrays:
    """Computed outputs (NumPy) of an out-of-core combine.

    Attributes
    ----------
    data : ndarray
        The combined image.
    mask, sample_flags : ndarray or None
        Per-sample diagnostics ``(N, *spatial)`` when asked.
    std, low, upp, nit, output_flags, nused, clip_low, clip_upp : ndarray or None
        Per-element diagnostics when asked (``low``/``upp`` the retained extremes,
        ``clip_low``/``clip_upp`` the clipping bounds).
    variance, weight, exposure, dq : ndarray or None
        Survey products when asked (docs/design.md "Survey planes").
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
    variance: np.ndarray | None = None
    weight: np.ndarray | None = None
    exposure: np.ndarray | None = None
    dq: np.ndarray | None = None
    clip_low: np.ndarray | None = None
    clip_upp: np.ndarray | None = None
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
    mask, sample_flags, std, low, upp, nit, output_flags, nused, clip_low, clip_upp : dask.array.Array or None
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

    #: Name of the combined image among the outputs (the primary HDU of ``to_fits``).
    primary = "data"
    #: Extra header cards per output written by ``to_fits`` (name -> cards).
    extra_cards: Mapping[str, tuple] = {}
    #: The first input when the inputs are FITS images: ``to_fits`` starts the primary
    #: header from its header, as IRAF does (:func:`imcombiners.io.fits.output_header`).
    template: object = None
    #: With offsets: where the first frame's pixel 0 lies on the output grid (NumPy axis
    #: order); ``to_fits`` moves the template's WCS there (None: no offsets).
    origin: tuple[int, ...] | None = None
    #: With a WCS canvas (``offsets="wcs"``): the canvas WCS cards, for outputs without a
    #: FITS template and for the zarr attributes.
    wcs_header: object = None

    def __init__(self, *, graph: TileGraph, plan: Plan, out_dtypes: Mapping[str, np.dtype], n: int,
                 spatial: tuple[int, ...], zero: np.ndarray | None, scale: np.ndarray | None,
                 weights: np.ndarray | None, provenance: dict, job: object) -> None:
        self._graph = graph
        self._tile_expr = graph.expr
        self._tiles = graph.tiles
        self.plan = plan
        self.out_dtypes = dict(out_dtypes)
        self.n = n
        self.spatial = spatial
        self.token = graph.token
        self.zero, self.scale, self.weights = zero, scale, weights
        self.provenance = provenance
        self.job = job
        self._arrays: dict[str, da.Array] | None = None  # built on first use (imports dask.array)

    @property
    def arrays(self) -> dict[str, da.Array]:
        """All outputs by name as lazy dask arrays (built on first access)."""
        if self._arrays is None:
            self._arrays = self._build_arrays()
        return self._arrays

    def __getattr__(self, name: str) -> da.Array | None:
        # data, mask, ... (IRAF: output, sigma, ...) as dask arrays, or None when not computed
        if name.startswith("_") or "_arrays" not in self.__dict__:
            raise AttributeError(name)
        if name in self._attribute_names():
            return self.arrays.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _attribute_names(self) -> tuple[str, ...]:
        return ("data", *FULL_DIAGNOSTICS, *PLANE_PRODUCTS)

    def __repr__(self) -> str:
        return f"<LazyCombine {self.n} x {self.spatial} -> {sorted(self.arrays)}; {self.plan.ntiles} tiles>"

    # -- graph pieces -----------------------------------------------------
    def _packed_layer(self) -> tuple[str, dict]:
        name = f"imc-tile-{self.token}"
        return name, {(name, *t.index): self._tile_expr(t) for t in self._tiles}

    def _hlg(self, name: str, layer: dict, extra: Mapping[str, dict] | None = None) -> HighLevelGraph:
        hlg = HighLevelGraph.from_collections(name, layer, dependencies=self._graph.deps)
        if extra:
            layers = dict(hlg.layers)
            deps = dict(hlg.dependencies)
            for lname, ldsk in extra.items():
                layers[lname] = ldsk
                deps[lname] = {name}
            hlg = HighLevelGraph(layers, deps)
        return hlg

    def _build_arrays(self) -> dict[str, da.Array]:
        import dask.array as da  # heavy (~1 s, and it imports xarray): only for lazy arrays

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
                dsk[key] = (select_output, (packed, *t.index), out)
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
    def write_tiles(self, targets: Mapping[str, RegionTarget], progress: Progress) -> None:
        """Each task: read + combine + write its tile into ``targets`` (output name -> target)."""
        name = f"imc-write-{self.token}"
        layer = {(name, *t.index): (write_tile, self._tile_expr(t), dict(targets), t.window)
                 for t in self._tiles}
        execute(self._hlg(name, layer), list(layer), self.plan, progress, name, on_result=None)

    def compute(self, *, progress: Progress = None, outputs: Sequence[str] | None = None) -> CombinedArrays:
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

    def _compute_arrays(self, progress: Progress, outputs: Sequence[str] | None) -> dict[str, np.ndarray]:
        """Every requested output filled tile by tile into preallocated NumPy arrays."""
        names = list(outputs) if outputs is not None else list(self.out_dtypes)
        unknown = [nm for nm in names if nm not in self.out_dtypes]
        if unknown:
            raise ValueError(f"outputs: {unknown} were not computed; available: {sorted(self.out_dtypes)}")
        res: dict[str, np.ndarray] = {
            nm: np.empty(output_shape(nm, self.n, self.spatial), self.out_dtypes[nm]) for nm in names}
        if distributed_client() is None and local_scheduler_kind() in ("threads", "sync"):
            self.write_tiles(res, progress)
        else:
            # results travel back; place them tile by tile as they arrive
            packed, layer = self._packed_layer()
            windows = {(packed, *t.index): t.window for t in self._tiles}

            def place(key: Hashable, outputs: object) -> None:
                write_tile(outputs, {k: res[k] for k in names}, windows[key])  # type: ignore[arg-type]

            execute(self._hlg(packed, layer), list(layer), self.plan, progress, packed, on_result=place)
        return res

    def to_zarr(self, store: ZarrStore, *, outputs: Sequence[str] | None = None, overwrite: bool = False,
                progress: Progress = None, compressors: Compressors = "default",
                atomic: bool = True) -> zarr.Group:
        """Stream every output into a zarr group (one array per output).

        See :func:`imcombiners.dask.sinks.write_zarr`.
        """
        return write_zarr(self, store, outputs=outputs, overwrite=overwrite, progress=progress,
                          compressors=compressors, atomic=atomic)

    def to_fits(self, path: str | os.PathLike[str], *, outputs: Sequence[str] | None = None,
                overwrite: bool = False, progress: Progress = None, science_extension: bool = False) -> str:
        """Stream every output into one multi-extension FITS file, renamed when complete.

        ``science_extension=True``: the survey layout (data-less primary header, then
        ``SCI``, ``VAR``, ``DQ``, ``WHT``... extensions).  See
        :func:`imcombiners.dask.sinks.write_fits`.
        """
        return write_fits(self, path, outputs=outputs, overwrite=overwrite, progress=progress,
                          science_extension=science_extension)
