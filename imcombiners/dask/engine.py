"""The out-of-core library combine: :func:`combine` and :func:`plan`.

One kernel task per spatial tile (:mod:`~imcombiners.dask.tiling`), many lazy outputs
(:mod:`~imcombiners.dask.lazy`).  A call prepares the stack and its plan
(:mod:`~imcombiners.dask.stack`), resolves statistic-based zero/scale/weights with a
first pass (:mod:`~imcombiners.dask.normalisation`), builds the same
:class:`~imcombiners._job.Job` as the in-memory API and returns the lazy result, whose
tile tasks (:mod:`~imcombiners.dask.tasks`) run ``run_job`` with one Rust thread.

* File sources are read *inside* the tile task (fused reader): T tasks for T tiles,
  no per-frame tasks, every input byte read once per pass.
* Grow is spatial: a tile reads ``halo`` extra rows/columns per side (the sum of
  ``ceil(grow)`` over the rejectors with grow) and crops after the kernel.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from imcombiners._job import Job, combine_method
from imcombiners._planes import PlaneSpec, as_bad_bits, is_inverse_variance
from imcombiners._rejectors import Rejector
from imcombiners.canvas import WcsCanvas, resolve_offsets
from imcombiners.dask.inputs import Hdu, Offsets
from imcombiners.dask.lazy import CombinedArrays, LazyCombine, tile_graph
from imcombiners.dask.normalisation import Factor, LibraryStat, resolve_factors
from imcombiners.dask.planner import Plan
from imcombiners.dask.scheduling import Progress
from imcombiners._combine_request import as_rejectors
from imcombiners.dask.stack import Diagnostics, MemoryLimit, prepare_stack
from imcombiners.dask.tasks import (
    StatFunction,
    Thresholds,
    TileFunction,
    default_stat_function,
    default_tile_function,
)
from imcombiners.io.provenance import library_parameters, provenance_dict

__all__ = ["combine", "plan", "LazyCombine", "CombinedArrays", "TileFunction", "default_tile_function"]

log = logging.getLogger("imcombiners.dask")


# --------------------------------------------------------------------------
# kernels (replaceable in tests)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kernels:
    """What :func:`combine` runs: the tile kernel, the per-frame statistic, the job type."""

    tile_fn: TileFunction = default_tile_function
    stat_fn: StatFunction[LibraryStat] = default_stat_function
    job_factory: Callable[..., Job] = Job


_kernels = _Kernels()


@contextmanager
def _replace_kernels(*, tile_fn: TileFunction | None = None,
                     stat_fn: StatFunction[LibraryStat] | None = None,
                     job_factory: Callable[..., Job] | None = None) -> Iterator[None]:
    """Tests only: :func:`combine` calls inside the block use these kernels.

    The engine is tested without (or around) the compiled kernel this way: a slow tile
    to kill a worker mid-run, a failing tile, a tile counting its calls.  The kernels
    are captured when the graph is built, so the lazy result may run after the block.
    """
    global _kernels
    saved = _kernels
    given = {k: v for k, v in (("tile_fn", tile_fn), ("stat_fn", stat_fn), ("job_factory", job_factory))
             if v is not None}
    _kernels = replace(saved, **given)
    try:
        yield
    finally:
        _kernels = saved


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _probe_outputs(tile_fn: TileFunction, job: object, n: int, dtype: np.dtype, ndim: int,
                   masked: bool, plane_dtypes: dict[str, np.dtype] | None = None) -> dict[str, np.dtype]:
    """dtype of every output, from the kernel itself on a 1-pixel stack of zeros (with unit
    variances and weights and zero DQ words when the stack has planes)."""
    frames = np.zeros((n,) + (1,) * ndim, dtype)
    masks = np.zeros(frames.shape, bool) if masked else None
    planes = {role: (np.zeros if role == "dq" else np.ones)(frames.shape, dt)
              for role, dt in (plane_dtypes or {}).items()}
    res = tile_fn(frames, masks, job, planes=planes) if planes else tile_fn(frames, masks, job)
    return {k: np.asarray(v).dtype for k, v in res.items() if isinstance(v, np.ndarray)}


def _is_pixel_weights(weights: object) -> bool:
    """``weights`` is a plane (one weight per sample), not per-frame numbers."""
    if isinstance(weights, PlaneSpec):
        return True
    if isinstance(weights, (list, tuple)):
        return bool(weights) and all(isinstance(w, str) or np.ndim(w) >= 1 for w in weights)  # type: ignore[arg-type]
    shape = getattr(weights, "shape", None)
    return shape is not None and len(shape) >= 2


def _weighting(weights: Factor | object) -> tuple[str | None, object, object]:
    """(weighting, per-frame weights for the statistics pass, weights plane)."""
    if is_inverse_variance(weights):
        return "inverse_variance", None, None
    if _is_pixel_weights(weights):
        return "pixel", None, weights
    return None, weights, None


# --------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------


def plan(inputs: object, method: str = "mean", *, mask: object = None,
         rejectors: Rejector | Sequence[Rejector] | None = None, diagnostics: Diagnostics = None,
         offsets: Offsets | str | WcsCanvas | None = None, hdu: Hdu = None, memory_limit: MemoryLimit = None,
         tile: Sequence[int] | None = None, threads: int | None = None, streaming: bool = False,
         variance: object = None, dq: object = None, weights: object = None,
         **_ignored: object) -> Plan:
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
    unknown = sorted(set(_ignored) - set(inspect.signature(combine).parameters))
    if unknown:
        raise TypeError(f"plan() got unexpected keyword arguments {unknown}; it takes the arguments of combine()")
    _, _, wplane = _weighting(weights)
    offsets, _canvas = resolve_offsets(offsets, inputs, hdu)
    p = prepare_stack(inputs, mask=mask, offsets=offsets, hdu=hdu, rejectors=rejectors,
                      diagnostics=diagnostics, memory_limit=memory_limit, tile=tile, threads=threads,
                      result_in_memory=not streaming,
                      planes={"variance": variance, "dq": dq, "weights": wplane})
    return p.plan


def combine(
    inputs: object,
    method: str = "mean",
    *,
    mask: object = None,
    rejectors: Rejector | Sequence[Rejector] | None = None,
    thresholds: Thresholds | None = None,
    zero: Factor = None,
    scale: Factor = None,
    weights: Factor = None,
    statsec: object = None,
    diagnostics: Diagnostics = None,
    ddof: int = 0,
    q: float | None = None,
    blank: float | None = None,
    relative: bool = True,
    offsets: Offsets | str | WcsCanvas | None = None,
    hdu: Hdu = None,
    memory_limit: MemoryLimit = None,
    tile: Sequence[int] | None = None,
    threads: int | None = None,
    streaming: bool = False,
    progress: Progress = None,
    variance: object = None,
    dq: object = None,
    bad_bits: int | Sequence[int] | None = None,
    nodata_bit: int | None = None,
    exptime: Sequence[float] | None = None,
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
        output names (``["mask", "nused"]``, ``["variance", "weight", "dq"]``).
        Per-pixel ``weights`` take the forms of ``variance`` below (an extension as
        ``PlaneSpec("WHT", "weights")``); ``"inverse_variance"`` weights by 1/variance.
    variance, dq
        Per-sample variances (raw units) and integer DQ words, read with the stack: the
        same forms as ``inputs`` (dask array with a dask stack; NumPy, memmap or zarr
        array; list of N frames), or for FITS file inputs an extension name of every
        file (``"VAR"``; ``"ERR"`` is squared and ``"WHT"``/``"IVAR"`` inverted on
        read; ``("NAME", "stddev")`` for other names; ``"DQ"``).  See docs/design.md,
        "Survey planes".
    bad_bits, nodata_bit, exptime
        As :class:`imcombiners.Combiner` and :meth:`~imcombiners.Combiner.combine`.
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
        ``"wcs"``: offsets from the WCS of FITS inputs (nearest pixel; frames rotated or
        scaled relative to the first are refused), or a
        :class:`~imcombiners.canvas.WcsCanvas` from :func:`~imcombiners.canvas.wcs_canvas`.
        The output's WCS (``to_fits`` header, ``.wcs_header``) is then the canvas's.
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

    Returns
    -------
    LazyCombine
        ``.data`` and each requested diagnostic as dask arrays; ``.compute()``,
        ``.to_zarr()``, ``.to_fits()``; ``.plan``; ``.zero/.scale/.weights`` used.
    """
    kernels = _kernels
    weighting, frame_weights, wplane = _weighting(weights)
    planes_in = {"variance": variance, "dq": dq, "weights": wplane}
    offsets, canvas = resolve_offsets(offsets, inputs, hdu)
    p = prepare_stack(inputs, mask=mask, offsets=offsets, hdu=hdu, rejectors=rejectors,
                      diagnostics=diagnostics, memory_limit=memory_limit, tile=tile, threads=threads,
                      result_in_memory=not streaming, planes=planes_in)
    log.info("imcombiners.dask plan:\n%s", p.plan.summary())
    rej = as_rejectors(rejectors)
    plane_dtypes = p.plane_dtypes
    if bad_bits is not None:
        if "dq" not in plane_dtypes:
            raise ValueError("bad_bits selects DQ bits: it needs dq= (integer DQ words)")
        bad_bits = as_bad_bits(bad_bits, plane_dtypes["dq"])

    # first pass: per-image statistics for zero/scale/weights
    z, s, w = resolve_factors(p, zero, scale, frame_weights, statsec, thresholds, kernels.stat_fn, progress,
                              relative, bad_bits)  # type: ignore[arg-type]
    # a mean with weights (per frame, per pixel or inverse variance) is the weighted mean
    m = combine_method(method, w if w is not None else weighting)
    extra = {} if not (weighting or dq is not None or nodata_bit is not None or exptime is not None) else {
        "weighting": "frame" if w is not None else weighting, "bad_bits": bad_bits, "nodata_bit": nodata_bit,
        "exptime": exptime}
    job = kernels.job_factory(method=m, rejectors=rej, thresholds=thresholds, zero=z, scale=s, weights=w,
                              ddof=ddof, q=q, blank=blank, want=p.want, **extra)
    if hasattr(job, "check_n"):
        job.check_n(p.n)
    out_dtypes = _probe_outputs(kernels.tile_fn, job, p.n, p.dtype, len(p.spatial), masked=p.masked,
                                plane_dtypes=plane_dtypes)
    graph = tile_graph(p, job, kernels.tile_fn)
    prov = provenance_dict(
        inputs=p.names, ncombine=p.n,
        parameters=library_parameters(m, rej, thresholds, zero, scale, weights, statsec, ddof, q, blank,
                                      p.want, "wcs" if canvas is not None else offsets, planes=planes_in,
                                      bad_bits=bad_bits),
        zero=z, scale=s, weights=w,
    )
    lazy = LazyCombine(graph=graph, plan=p.plan, out_dtypes=out_dtypes, n=p.n, spatial=p.spatial,
                       zero=z, scale=s, weights=w, provenance=prov, job=job)
    lazy.template = p.first_fits
    frame_starts = getattr(p.source, "offsets", None)
    if offsets is not None and frame_starts:
        lazy.origin = tuple(int(v) for v in frame_starts[0])
    if canvas is not None:
        lazy.wcs_header = canvas.header
    return lazy
