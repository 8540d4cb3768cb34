"""The prepared stack: the inputs as a source or dask arrays, checked, and the plan for them.

:func:`prepare_stack` is the first step of every out-of-core call (library
:func:`~imcombiners.dask.combine`, IRAF :func:`~imcombiners.dask.imcombine`, and their
``plan`` functions): it turns the inputs and mask into readers, checks shapes, and asks
the planner for tiles and concurrency under the memory limit (on a cluster: the
workers' threads and memory limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Union

import numpy as np

from imcombiners._combine_request import as_rejectors, wanted_outputs
from imcombiners._rejectors import Rejector
from imcombiners.dask.inputs import Hdu, Offsets, as_source, mask_inputs
from imcombiners.dask.planes import PLANE_ROLES, check_plane_names, plane_inputs
from imcombiners.dask.planner import Plan, make_plan, parse_memory
from imcombiners.dask.scheduling import distributed_client, worker_resources
from imcombiners.dask.sources import StackSource
from imcombiners.dask.tiling import chunk_align, grow_halo, needs_whole_rows
from imcombiners.io import page_cache
from imcombiners.io.fits import FitsFrame
from imcombiners.io.fits.direct import scratch_bytes as direct_scratch_bytes

if TYPE_CHECKING:
    import dask.array as da  # heavy (~1 s, and it imports xarray); only its type is used
    from distributed import Client  # imported only when a client is active

__all__ = ["PreparedStack", "prepare_stack", "Diagnostics", "MemoryLimit"]

#: ``diagnostics``: None, "simple", "full" or a collection of output names.
Diagnostics = Union[None, str, Iterable[str]]
#: ``memory_limit``: bytes, a string such as "2GB", or None.
MemoryLimit = Union[int, float, str, None]


@dataclass
class PreparedStack:
    """Inputs ready for the graph: exactly one of ``source`` / ``darr`` is set.

    Attributes
    ----------
    source, mask_source
        Readers of the stack and the mask (file or array inputs).
    darr, dmask
        The stack and mask as dask arrays (dask inputs, or arrays shipped to a cluster).
    n, spatial, dtype
        Frames, their shape, the native-endian input dtype.
    want
        Diagnostics asked for.
    halo, grow_stages
        Extra pixels read per side, number of grow stages.
    plan
        Tiling, concurrency and predicted memory.
    names
        Input names for provenance (file names) or None.
    plane_sources, dplanes
        Variance / weights / DQ planes (by role) as sources or as dask arrays.
    """

    source: StackSource | None
    mask_source: StackSource | None
    darr: da.Array | None
    dmask: da.Array | None
    n: int
    spatial: tuple[int, ...]
    dtype: np.dtype
    want: frozenset[str]
    halo: int
    grow_stages: int
    plan: Plan
    names: list[str] | None
    plane_sources: dict[str, StackSource] = field(default_factory=dict)
    dplanes: dict[str, da.Array] = field(default_factory=dict)

    @property
    def masked(self) -> bool:
        """A mask was given."""
        return self.mask_source is not None or self.dmask is not None

    @property
    def plane_dtypes(self) -> dict[str, np.dtype]:
        """dtype of every plane, by role."""
        out = {role: np.dtype(src.dtype) for role, src in self.plane_sources.items()}
        out.update({role: np.dtype(d.dtype) for role, d in self.dplanes.items()})
        return out

    @property
    def first_fits(self) -> FitsFrame | None:
        """The first input when the inputs are FITS images (its header starts the output's)."""
        frames = getattr(self.source, "frames", None)
        return frames[0] if frames and isinstance(frames[0], FitsFrame) else None


def prepare_stack(inputs: object, *, mask: object, offsets: Offsets | None, hdu: Hdu,
                  rejectors: Rejector | Sequence[Rejector] | None, diagnostics: Diagnostics,
                  memory_limit: MemoryLimit, tile: Sequence[int] | None, threads: int | None,
                  result_in_memory: bool, full_rows: bool = False, halo: int | None = None,
                  outputs: Sequence[str] | None = None, extra_per_pixel: float = 0.0,
                  client: Client | None | bool = False,
                  planes: dict[str, object] | None = None) -> PreparedStack:
    """Readers for the inputs, mask and planes, checked, and the plan (see the module doc).

    ``halo`` (default: from the rejectors' grow) and ``full_rows`` let the IRAF mode plan
    its strips; ``outputs`` and ``extra_per_pixel`` size the tiles for its products;
    ``client`` False means "look for the active one"; ``planes`` maps a role (variance,
    weights, dq) to what the user gave (see :mod:`imcombiners.dask.planes`).
    """
    user_inputs = inputs
    check_plane_names(planes or {})  # a bad extension name fails before any file is read
    if client is False:
        client = distributed_client()
    if client is not None and isinstance(inputs, np.ndarray) and not isinstance(inputs, np.memmap):
        # a plain ndarray would be pickled into every task: let dask ship it once
        import dask.array as da  # a cluster run imports it anyway

        inputs = da.from_array(inputs, chunks=(-1,) + ("auto",) * (inputs.ndim - 1))
    source = as_source(inputs, offsets=offsets, hdu=hdu)
    darr = None if source is not None else inputs
    shape = tuple(source.shape if source is not None else darr.shape)  # type: ignore[union-attr]
    if len(shape) < 2:
        raise ValueError(f"inputs must have shape (N, *spatial); got {shape}")
    n, spatial = shape[0], shape[1:]
    # reliability: empty stacks fail here with the input's shape (not in the planner)
    if n == 0:
        raise ValueError(f"inputs must contain at least one frame along axis 0; got shape {shape}")
    if 0 in spatial:
        raise ValueError(f"inputs: every spatial axis must be non-empty for the out-of-core engine; "
                         f"got shape {shape} (the in-memory API returns an empty result)")
    dtype = np.dtype(source.dtype if source is not None else darr.dtype).newbyteorder("=")  # type: ignore[union-attr]

    mask_source = dmask = None
    if mask is not None:
        mask_source, dmask = mask_inputs(mask, shape=shape, offsets=offsets, hdu=hdu,
                                         dask_stack=darr is not None)

    plane_sources: dict[str, StackSource] = {}
    dplanes: dict[str, da.Array] = {}
    for role in PLANE_ROLES:
        value = (planes or {}).get(role)
        if value is None:
            continue
        psrc, pdarr = plane_inputs(value, role=role, inputs=user_inputs, shape=shape, offsets=offsets,
                                   dask_stack=darr is not None)
        if psrc is not None:
            plane_sources[role] = psrc
        else:
            dplanes[role] = pdarr  # type: ignore[assignment]
    plane_bytes = sum(float(np.dtype(src.dtype).itemsize) * (1.0 + src.read_overhead)
                      for src in plane_sources.values())
    plane_bytes += sum(2.0 * np.dtype(d.dtype).itemsize for d in dplanes.values())  # + rechunk copy

    want = wanted_outputs(diagnostics)[1]
    rej = as_rejectors(rejectors)
    if halo is None:
        halo, stages = grow_halo(rej)
    else:
        stages = 1 if halo else 0
    # line-based statistics (AvSigClip) need whole image lines in every tile
    line_based = needs_whole_rows(rej)
    full_rows = full_rows or line_based
    work = 8 if dtype in (np.dtype(np.int32), np.dtype(np.float64)) else 4
    outputs = list(outputs) if outputs is not None else ["data", *want]
    baseline = None
    no_workers = False
    if client is not None:
        w_threads, w_limit, baseline = worker_resources(client)  # type: ignore[arg-type]
        no_workers = w_threads is None
        if threads is None:
            threads = w_threads
        if w_limit is not None:
            lim = parse_memory(memory_limit)
            memory_limit = w_limit if lim is None else min(lim, w_limit)
    # stacks larger than the memory: input files read past the page cache (same values)
    sources = [source, mask_source, *plane_sources.values()]
    uncached = page_cache.bypass([f for s in sources for f in page_cache.source_frames(s)])
    if uncached:
        source = None if source is None else page_cache.source_past_cache(source)
        mask_source = None if mask_source is None else page_cache.source_past_cache(mask_source)
        plane_sources = {role: page_cache.source_past_cache(src) for role, src in plane_sources.items()}
    align = source.align if source is not None else chunk_align(darr)  # type: ignore[arg-type]
    overhead = source.read_overhead if source is not None else 1.0  # dask: rechunk copies
    plan = make_plan(shape, in_itemsize=dtype.itemsize * (1.0 + overhead), work_itemsize=work, outputs=outputs,
                     mask_input=mask is not None, halo=halo, grow_stages=stages,
                     memory_limit=memory_limit, threads=threads, baseline=baseline,
                     result_in_memory=result_in_memory, align=align, tile=tile, full_rows=full_rows,
                     extra_per_pixel=extra_per_pixel, plane_itemsize=plane_bytes,
                     dq_itemsize=np.dtype(plane_sources["dq"].dtype if "dq" in plane_sources else
                                          dplanes["dq"].dtype if "dq" in dplanes else np.uint8).itemsize,
                     sorted_store=line_based, read_scratch=direct_scratch_bytes() if uncached else 0)
    if uncached:
        plan = replace(plan, notes=plan.notes + (
            f"input files read past the page cache ({page_cache.ENV_VAR}={page_cache.setting()}): "
            "the stack is larger than the memory available",))
    if no_workers:
        # e.g. adapt(minimum_jobs=0) before the first job starts: nothing to read limits from
        plan = replace(plan, notes=plan.notes + (
            "no worker connected yet: planned with this machine's cores and without the "
            "workers' memory limit (wait for a worker first, or pass memory_limit= and threads=)",))
    names = source.names if source is not None else None
    return PreparedStack(source, mask_source, darr, dmask, n, spatial, dtype, want, halo, stages, plan, names,
                         plane_sources, dplanes)


def fits_headers(p: PreparedStack) -> list | None:
    """The FITS header of every input frame (read once, headers only), or None when the
    inputs are not all FITS files (arrays, dask or zarr stacks have no headers)."""
    frames = getattr(p.source, "frames", None)
    if frames is None or not all(isinstance(f, FitsFrame) for f in frames):
        return None
    from imcombiners.io.fits import read_header

    # the image's header as IRAF sees it (primary cards merged for an image in an extension)
    return [read_header(f) for f in frames]
