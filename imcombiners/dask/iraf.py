"""IRAF ``imcombine`` out of core: :func:`imcombine` on the tile engine.

The same IRAF-exact line kernel as :func:`imcombiners.imcombine`
(``_core.iraf_combine``), run tile by tile:

* tiles are **full-width row strips** (the kernel works per image line; IRAF's
  avsigclip estimates one sigma per line);
* the image statistics for ``zero``/``scale``/``weight`` (IRAF's subsampled
  grid of fewer than 100 000 pixels, ``statsec``) come from a first pass that
  reads **only the sampled grid rows** of each frame; the sub-image of grid
  points has the same statistics as the whole frame (the grid of a grid-sized
  image is itself, visited in the same order), so the factors are identical;
* ``grow``: IRAF's second pass marks pixels within ``int(grow)`` lines of a
  rejection, so a strip reads ``int(grow)`` extra lines above and below
  (halo) and crops them.  Two pieces of IRAF's grow pass are not local, see
  :func:`_grow_needs_whole_image`; those jobs run as one strip;
* ``offsets``/``outlimits`` and IRAF's mask types: the strips are strips of the
  output canvas; each reads, from each frame, only that frame's rows the strip
  covers, at the frame's offset, with its mask codes
  (:class:`~imcombiners.dask.iraf_canvas.CanvasSource`); the statistics read each
  frame's own sampling grid (statsec modifiers give every frame its own section).

Results are bit-identical to the in-memory :func:`imcombiners.imcombine` (tests
run the real-IRAF reference cases through small strips).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from imcombiners._iraf_masks import MaskRule
from imcombiners._iraf_params import (
    STATISTICS,
    FactorParam,
    Header,
    IrafParams,
    NoiseParam,
    ResolvedParams,
)
from imcombiners._iraf_setup import Layout, finish_output, resolve_layout
from imcombiners._iraf_wcs import header_changes, output_header
from imcombiners._job import load_core
from imcombiners._products import IRAF_PRODUCTS
from imcombiners.dask.inputs import Hdu, as_source, is_dask
from imcombiners.dask.iraf_canvas import CanvasSource, PlacedBlock, frame_readers, mask_readers
from imcombiners.io.fits import FitsFrame, read_header
from imcombiners.dask.lazy import LazyCombine, tile_graph
from imcombiners.dask.planner import Plan
from imcombiners.dask.scheduling import Progress
from imcombiners.dask.stack import MemoryLimit, PreparedStack, prepare_stack
from imcombiners.dask.tasks import Frames, Thresholds
from imcombiners.io.provenance import provenance_dict
from imcombiners.iraf import ImcombineResult

__all__ = ["imcombine", "plan_imcombine", "LazyImcombine", "iraf_tile_function", "PRODUCTS"]

#: Products besides the combined image (IRAF's sigma, rejmasks, nrejmasks, expmasks).
PRODUCTS = IRAF_PRODUCTS
_MAX_SAMPLE = 100_000  # IRAF's statistics grid holds fewer pixels than this
#: One image line of a strip: ``(values (N, w), mask (N, w))``.
Line = tuple[np.ndarray, np.ndarray]


# --------------------------------------------------------------------------
# task functions (module level: picklable)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class StripJob:
    """Everything a strip task needs: the IRAF line engine's parameters and products."""

    params: Mapping[str, object]
    want: tuple[str, ...]
    double: bool
    #: dtype of the kernel's real output (float32, float64 on the double path)
    work_dtype: str
    #: IRAF's outtype (None: the working type); integer types truncate and wrap
    outtype: str | None = None
    #: dtype of the sigma image
    sigma_dtype: str = "<f4"
    #: grow jobs: one image line with a first-pass rejection, appended below every
    #: strip (after ``int(grow)`` masked lines) so each strip runs IRAF's second pass
    #: exactly when the whole image does.
    sentinel: Line | None = None


def _flat(frames: Frames) -> tuple[list[np.ndarray], tuple[int, ...]]:
    if isinstance(frames, np.ndarray):
        spatial = frames.shape[1:]
        return [np.ascontiguousarray(f).reshape(-1) for f in frames], spatial
    spatial = np.shape(frames[0])
    return [np.ascontiguousarray(f).reshape(-1) for f in frames], spatial


def iraf_tile_function(frames: Frames | PlacedBlock, masks: Frames | None, job: StripJob) -> dict[str, np.ndarray]:
    """Run the IRAF line engine on one strip with one Rust thread."""
    placement = None
    if isinstance(frames, PlacedBlock):
        block = frames
        if job.sentinel is not None or block.placement is None:
            frames, masks = block.dense() if block.placement is not None or block.codes is not None else (
                np.stack(block.frames), None)
        else:
            flist = [np.ascontiguousarray(f).reshape(-1) for f in block.frames]
            mlist = None if block.codes is None else [
                None if c is None else np.ascontiguousarray(c).reshape(-1) for c in block.codes]
            return _run_strip(flist, mlist, block.shape, len(flist), job, block.placement)
    rows = None
    if job.sentinel is not None:
        frames, masks, rows = _with_sentinel(frames, masks, job)
    flist, spatial = _flat(frames)
    mlist = None
    if masks is not None:
        mlist = [np.ascontiguousarray(m).reshape(-1) for m in masks]
        mlist = [m if m.dtype in (np.dtype(bool), np.dtype(np.uint8)) else (m != 0) for m in mlist]
    out = _run_strip(flist, mlist, spatial, len(flist), job, placement)
    if rows is not None:  # drop the appended gap + sentinel lines
        out = {k: np.ascontiguousarray(v[..., :rows, :]) for k, v in out.items()}
    return out


def _run_strip(flist: list[np.ndarray], mlist: list[np.ndarray | None] | None, spatial: Sequence[int], n: int,
               job: StripJob, placement: list[tuple[int, int, int, int]] | None) -> dict[str, np.ndarray]:
    """The kernel on one strip's frames, and its products in their dtypes."""
    spatial = tuple(spatial)
    res = load_core().iraf_combine(flist, mlist, list(spatial), dict(job.params), list(job.want),
                                   bool(job.double), 1, None, placement)
    del flist, mlist
    output, _ = finish_output(res["output"], job.outtype, np.dtype(job.work_dtype))
    out = {"output": output.reshape(spatial)}
    if "sigma" in job.want:
        out["sigma"] = res["sigma"].astype(np.dtype(job.sigma_dtype), copy=False).reshape(spatial)
    if "rejmask" in job.want:
        out["rejmask"] = res["rejmask"].reshape((n, *spatial))
    for name in ("nrejmask", "expmask", "bpmask"):
        if name in job.want:
            out[name] = res[name].reshape(spatial)
    return out


def _with_sentinel(frames: Frames, masks: Frames | None, job: StripJob) -> tuple[np.ndarray, np.ndarray, int]:
    """Append ``int(grow)`` fully masked lines and the sentinel line to a 2-D strip."""
    frames = np.asarray(frames) if isinstance(frames, np.ndarray) else np.stack(frames)
    n, rows, w = frames.shape
    gap = int(job.params["grow"])  # type: ignore[call-overload]
    values, smask = job.sentinel  # type: ignore[misc]
    data = np.zeros((n, rows + gap + 1, w), frames.dtype)
    data[:, :rows] = frames
    data[:, -1] = values
    mk = np.ones(data.shape, np.uint8)  # mask codes: the gap lines are bad
    if masks is None:
        mk[:, :rows] = 0
    else:
        mk[:, :rows] = np.asarray(masks) if isinstance(masks, np.ndarray) else np.stack(masks)
    mk[:, -1] = smask
    return data, mk, rows


def find_sentinel(p: PreparedStack, params: Mapping[str, object], double: bool, rows: int) -> Line | None:
    """First image line with a first-pass rejection, as ``(values, mask)``, or None.

    Reads ``rows`` lines at a time from the top and stops at the first batch with a
    rejection (usually the first): rejected = not used by the job's rejection
    without grow, but used when nothing is rejected (``reject="none"``).  Without
    any rejection in the whole image this is one extra pass over the data (and
    IRAF's grow pass then never runs, so no sentinel is needed).
    """
    core = load_core()
    ny, w = p.spatial
    first = dict(params, grow=0.0)
    plain = dict(first, reject="none")
    for y0 in range(0, ny, rows):
        win = (slice(y0, min(ny, y0 + rows)), slice(0, w))
        data, mask = _read_rows(p, win)
        flist = [np.ascontiguousarray(f).reshape(-1) for f in data]
        mlist = None if mask is None else [np.ascontiguousarray(m).reshape(-1) for m in mask]
        shape = [data.shape[1], w]
        rej = core.iraf_combine(flist, mlist, shape, first, ["rejmask"], bool(double), 1)["rejmask"]
        excl = core.iraf_combine(flist, mlist, shape, plain, ["rejmask"], bool(double), 1)["rejmask"]
        hit = (rej & ~excl).reshape(data.shape).any(axis=(0, 2))
        if hit.any():
            y = int(np.argmax(hit))
            m = np.zeros((data.shape[0], w), np.uint8) if mask is None else mask[:, y].astype(np.uint8)
            return data[:, y].copy(), m
    return None


def _read_rows(p: PreparedStack, win: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(p.source, CanvasSource):
        return p.source.read(win).dense()  # the frames on the rows' grid, with mask codes
    if p.source is not None:
        data = p.source.read(win)
        mask = None if p.mask_source is None else p.mask_source.read(win)
    else:
        data = np.asarray(p.darr[(slice(None),) + win].compute(scheduler="sync"))
        mask = None if p.dmask is None else np.asarray(p.dmask[(slice(None),) + win].compute(scheduler="sync"))
    if mask is not None and mask.dtype != bool:
        mask = mask != 0
    return data, mask


def iraf_frame_stat(frame: np.ndarray, mask: np.ndarray | None, spec: int, *, thresholds: Thresholds | None,
                    needs_sort: bool) -> float:
    """One of IRAF's ``(mode, median, mean)`` of a frame's sampled grid points.

    ``frame`` holds exactly the grid points (read with the grid's steps), so the
    kernel's own grid over it is the identity and the sample is the same.
    """
    lo, hi = thresholds if thresholds is not None else (None, None)
    m = None
    if mask is not None:  # bool (True = bad) or uint8 mask codes
        m = np.ascontiguousarray(mask if mask.dtype in (np.dtype(bool), np.dtype(np.uint8)) else mask != 0)
        m = m.reshape(-1)
    stats = load_core().iraf_stats(np.ascontiguousarray(frame).reshape(-1), m, list(frame.shape), None,
                             lo, hi, needs_sort)
    return float(stats[spec])


# --------------------------------------------------------------------------
# statistics grid (IRAF ic_stat)
# --------------------------------------------------------------------------


def sample_window(spatial: Sequence[int], section: Sequence[tuple[int, int]] | None) -> tuple[slice, ...]:
    """IRAF's statistics grid as a NumPy window with steps.

    ``section`` is per IRAF axis (x = last NumPy axis first), 1-based inclusive
    limits, clipped to the image as IRAF does (a section wholly before the image start
    samples its first pixel; one wholly beyond its end is an error); the step (1..10, the
    same on every axis) is the smallest giving fewer than 100 000 points. Mirrors the
    kernel's ``sample_grid``.
    """
    nd = len(spatial)
    lims = []
    for d in range(nd):
        length = int(spatial[nd - 1 - d])
        a, b = section[d] if section is not None and d < len(section) else (1, length)
        v1, v2 = max(min(a, b), 1), min(max(a, b), length)
        if v1 > length:
            raise ValueError(f"statsec: section [{a}:{b}] on axis {d + 1} does not overlap the image "
                             f"(length {length})")
        lims.append((v1, v2))

    def count(v1: int, v2: int, step: int) -> int:
        return max(1, int((v2 - v1) / step) + 1)  # Fortran division truncates toward zero

    for step in range(1, 11):
        grid = [(v1 - 1, v1 - 1 + (count(v1, v2, step) - 1) * step, step) for v1, v2 in lims]
        if math.prod(count(v1, v2, step) for v1, v2 in lims) < _MAX_SAMPLE:
            break
    # IRAF axis d is NumPy axis nd-1-d
    return tuple(slice(grid[nd - 1 - ax][0], grid[nd - 1 - ax][1] + 1, grid[nd - 1 - ax][2])
                 for ax in range(nd))


def _grow_needs_whole_image(grow: float, nkeep: int, ndim: int = 2) -> bool:
    """IRAF grow pieces that are not local to a strip plus ``int(grow)`` lines.

    With ``nkeep <= 0`` a pixel left without any value after the grow pass is not
    written at all, so it keeps what IRAF's output line buffer held: the value of
    the same column in the last line written before it, which may lie anywhere
    above (and, for the first such lines, the first pass's output of a line chosen
    from the whole image).  That dependence has no bounded halo, so such jobs run
    as a single strip.  With ``nkeep > 0`` every pixel is written (from the first
    pass when fewer than nkeep values remain), and a strip with ``int(grow)``
    lines of halo is exact, provided it runs the second pass whenever the image
    has *any* first-pass rejection (IRAF's second pass re-combines unmarked lines
    too, which for some algorithms, e.g. crreject + lmedian, differs in the last
    bit from the first pass): see :func:`find_sentinel`.  Grow on images with
    more than two axes also runs as one strip (the sentinel is a line of a plane).
    """
    return grow >= 1.0 and (nkeep <= 0 or ndim != 2)


# --------------------------------------------------------------------------
# the lazy result
# --------------------------------------------------------------------------


class LazyImcombine(LazyCombine):
    """Lazy result of :func:`imcombine`: IRAF's products as dask arrays.

    Attributes
    ----------
    output : dask.array.Array
        The combined image (on the output canvas with offsets; in ``outtype``).
    sigma, rejmask, nrejmask, expmask, bpmask : dask.array.Array or None
        The requested products (``rejmask`` is ``(N, *spatial)`` bool).
    scale, zero, weight : ndarray of float32
        Factors used (as :class:`imcombiners.iraf.ImcombineResult`).
    maskscal, maskzero : float
        Encoding of ``expmask``.
    offsets : ndarray of int64, (N, ndim)
        IRAF's offsets of the images (x first).
    header : dict
        IRAF's output header (see :class:`imcombiners.iraf.ImcombineResult`).
    warnings : tuple of str
    plan : Plan

    Notes
    -----
    ``compute()`` returns an :class:`imcombiners.iraf.ImcombineResult` (products
    not requested are None); ``to_fits`` writes the output as the primary HDU (with
    IRAF's output header keywords) and SIGMA, REJMASK, NREJMASK, EXPMASK (with
    MASKSCAL/MASKZERO), BPMASK extensions; ``to_zarr`` one array per product.  Integer
    outtypes wrap out-of-range values as IRAF (a warning per strip where they do).
    """

    primary = "output"

    def __init__(self, *, factors: Mapping[str, object], maskscal: float, maskzero: float,
                 offsets: np.ndarray, header: dict, first_header: object = None, **kw: object) -> None:
        self.maskscal, self.maskzero = float(maskscal), float(maskzero)
        self.offsets = offsets
        self.header = header
        # IRAF's changes to the first input's header on the primary HDU (the provenance
        # cards carry NCOMBINE and IMCMB); primary_header deletes what IRAF deletes
        changed, self.removed_cards = header_changes(header, first_header)
        own = tuple(c for c in changed if not c[0].startswith("IMCMB") and c[0] != "NCOMBINE")
        self.extra_cards = {"output": own,
                            "expmask": (("MASKSCAL", self.maskscal, "exposure = value * MASKSCAL + MASKZERO"),
                                        ("MASKZERO", self.maskzero, "exposure mask zero point"))}
        super().__init__(**kw)  # type: ignore[arg-type]
        self.scale = np.asarray(factors["scales"], dtype=np.float32)
        self.zero = np.asarray(factors["zeros"], dtype=np.float32)
        self.weight = np.asarray(factors["wts"], dtype=np.float32)
        self.weights = self.weight
        self.warnings = tuple(factors["warnings"])  # type: ignore[arg-type]

    def _attribute_names(self) -> tuple[str, ...]:
        return ("output", *PRODUCTS)

    def __repr__(self) -> str:
        return f"<LazyImcombine {self.n} x {self.spatial} -> {sorted(self.arrays)}; {self.plan.ntiles} strips>"

    def compute(self, *, progress: Progress = None,  # type: ignore[override]
                outputs: Sequence[str] | None = None) -> ImcombineResult:
        """Compute the products into NumPy arrays (one kernel run per strip).

        Returns
        -------
        imcombiners.iraf.ImcombineResult
            As the in-memory :func:`imcombiners.imcombine`; products not computed are None.
        """
        res = self._compute_arrays(progress, outputs)
        return ImcombineResult(
            output=res.get("output"), sigma=res.get("sigma"), rejmask=res.get("rejmask"),
            nrejmask=res.get("nrejmask"), expmask=res.get("expmask"), scale=self.scale,
            zero=self.zero, weight=self.weight, maskscal=self.maskscal, maskzero=self.maskzero,
            warnings=self.warnings, bpmask=res.get("bpmask"), offsets=self.offsets.copy(),
            header=dict(self.header),
        )


# --------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------


def _headers_of(source: object, headers: Sequence[Header] | None) -> list[Header] | None:
    """The headers given, else those of FITS inputs (read once), else None."""
    if headers is not None:
        return list(headers)
    frames = getattr(source, "frames", None)
    if frames is None or not all(isinstance(f, FitsFrame) for f in frames):
        return None
    # the image's header as IRAF sees it (primary cards merged for an image in an extension)
    return [read_header(f) for f in frames]


def _extra_per_pixel(n: int, dtype: np.dtype, params: IrafParams, double: bool, placed: bool) -> float:
    """Bytes per pixel the IRAF kernel holds besides the inputs and the products."""
    work = 8 if double else 4
    # the kernel's line-major used-mask next to the frame-major rejmask; grow keeps a
    # copy of the first pass, its marks (N bytes) and the unwritten flags; astype copies
    extra = (n if "rejmask" in params.products else 0) + work
    if params.outtype is not None and params.outtype not in ("real", "double"):
        extra += 8 + 4  # truncation through int64, then the integer image
    if placed:
        extra += n  # mask codes of the frames' rows
    if params.grow >= 1.0:  # + the strip copy with the sentinel appended and its mask
        extra += n + work + 1 + dtype.itemsize * n + n
    return float(extra)


def _carries_line_state(params: IrafParams, rule: MaskRule) -> bool:
    """IRAF's avsigclip (mclip) with a median leaves its combine flag from line to line,
    which changes results (lmedian, novalue masks) on lines where no pixel has 3 values:
    such jobs run as one strip (the in-memory engine follows the flag line by line)."""
    return (params.reject == "avsigclip" and params.mclip and params.combine in ("median", "lmedian")
            and (params.combine == "lmedian" or rule.novalue))


@dataclass(frozen=True)
class _Setup:
    """The prepared stack and what the run derived from the inputs."""

    p: PreparedStack
    double: bool
    headers: list[Header] | None
    layout: Layout
    rule: MaskRule


def _prepare_iraf(images: object, masks: object, hdu: Hdu, params: IrafParams, memory_limit: MemoryLimit,
                  tile: Sequence[int] | None, threads: int | None, streaming: bool,
                  headers: Sequence[Header] | None) -> _Setup:
    """The prepared stack planned in full-width strips of the output, and its layout."""
    # the dtype decides the workspace; read it cheaply before planning
    # FITS files are read as IRAF reads them (e.g. unsigned 32-bit as real), as in memory
    probe_src = None if is_dask(images) else as_source(images, offsets=None, hdu=hdu, view="iraf")
    shape = tuple(images.shape if probe_src is None else probe_src.shape)  # type: ignore[attr-defined]
    dtype = np.dtype(images.dtype if probe_src is None else probe_src.dtype).newbyteorder("=")  # type: ignore[attr-defined]
    n, spatial = int(shape[0]), tuple(shape[1:])
    hdrs = _headers_of(probe_src, headers)
    layout = resolve_layout(params.offsets, params.outlimits, [spatial] * n, hdrs)
    rule = params.mask_rule(masks_given=masks is not None)
    double, _ = params.working_type(dtype)
    inputs = images if probe_src is None else probe_src  # built once (FITS headers probed once)
    # IRAF's mask types (or masks named by headers) and frames at offsets need the canvas
    # source; plain bool masks and the frames as the output grid take the fused readers
    placed = layout.placement is not None or (rule.active and (masks is None or rule.kind != "boolean"))
    mask_arg = masks
    if placed:
        paths = getattr(probe_src, "names", None)
        readers = mask_readers(rule, masks, n, spatial, hdrs, paths)
        inputs = CanvasSource(frame_readers(images, probe_src, n), layout, readers, rule, paths,
                              getattr(probe_src, "token", "") or str(id(images)))
        mask_arg = None
    out_spatial = layout.shape
    if _grow_needs_whole_image(params.grow, params.nkeep, len(out_spatial)) or _carries_line_state(params, rule):
        tile = out_spatial  # see _grow_needs_whole_image / _carries_line_state
    halo = int(params.grow) if params.grow >= 1.0 else 0
    p = prepare_stack(inputs, mask=mask_arg if rule.active else None, offsets=None, hdu=hdu, rejectors=None,
                      diagnostics=None, memory_limit=memory_limit, tile=tile, threads=threads,
                      result_in_memory=not streaming, full_rows=True, halo=halo,
                      outputs=["output", *params.products],
                      extra_per_pixel=_extra_per_pixel(n, dtype, params, double, placed))
    return _Setup(p, double, hdrs, layout, rule)


def _frame_stats(source: object, mask_source: object, i: int, window: tuple[slice, ...], needs_sort: bool,
                 thresholds: Thresholds | None) -> list[float]:
    """(mode, median, mean) of frame ``i``'s sampling grid (``window``)."""
    frame = np.asarray(source.read_frame(i, window))  # type: ignore[attr-defined]
    if isinstance(source, CanvasSource):
        mask = source.read_frame_codes(i, window)
    else:
        mask = None if mask_source is None else np.asarray(mask_source.read_frame(i, window))  # type: ignore[attr-defined]
    return [iraf_frame_stat(frame, mask, k, thresholds=thresholds, needs_sort=needs_sort) for k in range(3)]


def _sampled_statistics(p: PreparedStack, resolved: ResolvedParams,
                        progress: Progress) -> dict[str, np.ndarray] | None:
    """IRAF's (mode, median, mean) per image from a first pass over each image's sampled
    grid only, when scale/zero/weight ask for one of them; None otherwise."""
    params = resolved.params
    wanted = params.statistics()
    if not wanted:
        return None
    needs_sort = any(k in ("mode", "median") for k in wanted.values())
    thresholds = params.statistic_thresholds()
    frame_shape = getattr(p.source, "frame_shape", p.spatial)
    windows = []
    for i in range(p.n):
        try:
            windows.append(sample_window(frame_shape, resolved.sections[i]))
        except ValueError as e:
            raise ValueError(f"statsec: image {i}: {e}") from None
    if p.source is None:  # a dask stack: per frame from its blocks
        import dask

        assert p.darr is not None
        parts = [dask.delayed(_stats_of_blocks)(p.darr[(i,) + windows[i]],
                                                None if p.dmask is None else p.dmask[(i,) + windows[i]],
                                                needs_sort, thresholds) for i in range(p.n)]
        values = list(dask.compute(*parts))
    else:
        from concurrent.futures import ThreadPoolExecutor

        def one(i: int) -> list[float]:
            try:
                return _frame_stats(p.source, p.mask_source, i, windows[i], needs_sort, thresholds)
            except ValueError as e:
                raise ValueError(f"statsec: image {i}: {e}") from None

        with ThreadPoolExecutor(max(1, p.plan.threads)) as pool:
            values = list(pool.map(one, range(p.n)))
    table = np.asarray(values, dtype=np.float64)
    return {name: table[:, k] for k, name in enumerate(STATISTICS)}


def _stats_of_blocks(frame: np.ndarray, mask: np.ndarray | None, needs_sort: bool,
                     thresholds: Thresholds | None) -> list[float]:
    frame = np.asarray(frame)
    mask = None if mask is None else np.asarray(mask)
    return [iraf_frame_stat(frame, mask, k, thresholds=thresholds, needs_sort=needs_sort) for k in range(3)]


def _provenance_parameters(params: IrafParams, kernel: Mapping[str, object]) -> dict[str, object]:
    """The call's parameters as recorded in the provenance (noise values per image)."""
    parameters = {k: kernel[k] for k in ("combine", "reject", "nlow", "nhigh", "nkeep", "mclip", "lsigma",
                                         "hsigma", "rdnoise", "gain", "snoise", "sigscale", "pclip",
                                         "grow", "lthreshold", "hthreshold", "blank")}
    parameters.update(method=f"iraf:{params.combine}", zero_spec=_spec_repr(params.zero),
                      scale_spec=_spec_repr(params.scale), weight_spec=_spec_repr(params.weight),
                      statsec=params.statsec, expname=params.expname, outtype=params.outtype, engine="iraf",
                      masktype=params.masktype, maskvalue=None if params.maskvalue is None else str(params.maskvalue),
                      offsets=params.offsets if isinstance(params.offsets, str) or params.offsets is None
                      else np.asarray(params.offsets, dtype=float).tolist(),
                      outlimits=params.outlimits if isinstance(params.outlimits, str) or params.outlimits is None
                      else list(params.outlimits))  # type: ignore[call-overload]
    return parameters


def _spec_repr(spec: FactorParam) -> str | list[float]:
    return spec if isinstance(spec, str) else [float(x) for x in np.asarray(spec, dtype=float).ravel()]


def imcombine(
    images: object,
    *,
    combine: str = "average",
    reject: str = "none",
    nlow: float = 1,
    nhigh: float = 1,
    nkeep: int = 1,
    mclip: bool = True,
    lsigma: float | None = 3.0,
    hsigma: float | None = 3.0,
    rdnoise: NoiseParam = 0.0,
    gain: NoiseParam = 1.0,
    snoise: NoiseParam = 0.0,
    sigscale: float = 0.1,
    pclip: float = -0.5,
    grow: float = 0.0,
    lthreshold: float | None = None,
    hthreshold: float | None = None,
    zero: FactorParam = "none",
    scale: FactorParam = "none",
    weight: FactorParam = "none",
    statsec: str | None = None,
    expname: str | None = None,
    blank: float = 0.0,
    masks: object = None,
    masktype: str | None = None,
    maskvalue: object = None,
    offsets: object = "none",
    outlimits: object = None,
    headers: Sequence[Header] | None = None,
    outtype: str | None = None,
    products: str | Sequence[str] | None = None,
    hdu: Hdu = None,
    memory_limit: MemoryLimit = None,
    tile: Sequence[int] | None = None,
    threads: int | None = None,
    streaming: bool = False,
    progress: Progress = None,
) -> LazyImcombine:
    """IRAF ``imcombine`` out of core, bit-identical to :func:`imcombiners.imcombine`.

    Parameters
    ----------
    images
        ``(N, *spatial)`` NumPy array or memmap, zarr array, dask array, or a list of N
        frames (FITS paths, arrays).  FITS headers serve ``!KEYWORD``, ``exposure``/
        ``expname``, NCOMBINE, keyword noise parameters, WCS/physical offsets and mask
        keywords, as in the in-memory call.
    combine, reject, nlow, nhigh, nkeep, mclip, lsigma, hsigma, rdnoise, gain, snoise, sigscale, pclip, grow, lthreshold, hthreshold, zero, scale, weight, statsec, expname, blank, masks, masktype, maskvalue, offsets, outlimits, headers, outtype
        Exactly as :func:`imcombiners.imcombine` (IRAF's names and defaults).  With
        offsets every strip reads, from each frame, only the rows it covers.
    products : None, "all", "none", str or sequence of str
        Which of ``sigma``, ``rejmask``, ``nrejmask``, ``expmask``, ``bpmask`` to produce
        besides the output (default: none, as IRAF).  ``rejmask`` is as large as a uint8
        copy of the stack: leave it out when not needed.
    hdu
        HDU of FITS inputs (default: the first with an image).
    memory_limit, tile, threads, streaming
        As :func:`imcombiners.dask.combine`.  Tiles are always full-width row strips
        of the output (a forced ``tile`` is widened to whole rows).
    progress
        For the strips: True or ``callable(done, total)``.

    Returns
    -------
    LazyImcombine
        ``.output`` and the products as dask arrays; ``.compute()`` returns an
        :class:`imcombiners.iraf.ImcombineResult`; ``.to_fits()``, ``.to_zarr()``;
        ``.plan``; ``.scale/.zero/.weight``, ``.maskscal/.maskzero``, ``.offsets``,
        ``.header``, ``.warnings``.
    """
    params = IrafParams.from_arguments(locals())  # every IRAF parameter, validated
    if isinstance(images, (str, bytes)):
        raise TypeError("images: give a list of FITS paths, not a single string")
    setup = _prepare_iraf(images, masks, hdu, params, memory_limit, tile, threads, streaming, headers)
    p, double = setup.p, setup.double
    n = p.n
    frame_shape = tuple(getattr(p.source, "frame_shape", p.spatial))
    resolved = params.resolve(n, frame_shape, setup.headers)
    fac = resolved.factor_values(_sampled_statistics(p, resolved, progress))
    kernel = resolved.kernel_params(fac, int_path=params.int_path(p.dtype), novalue=setup.rule.novalue)
    sentinel = None
    if params.grow >= 1.0 and p.plan.ntiles > 1:
        sentinel = find_sentinel(p, kernel, double, max(1, p.plan.tile[0]))
    _, work_dtype = params.working_type(p.dtype)
    job = StripJob(params=kernel, want=params.products, double=double, work_dtype=work_dtype.str,
                   outtype=params.outtype, sigma_dtype=params.sigma_dtype(p.dtype).str, sentinel=sentinel)
    # maskscal/maskzero depend on the exposures only: a 1-pixel run gives them
    one = load_core().iraf_combine([np.zeros(1, p.dtype) for _ in range(n)], None, [1], dict(kernel),
                                   ["expmask"], double, 1)
    out_dtypes = {"output": params.output_dtype(p.dtype), "sigma": params.sigma_dtype(p.dtype),
                  "rejmask": np.dtype(bool), "nrejmask": np.dtype(np.int32), "expmask": np.dtype(np.int32),
                  "bpmask": np.dtype(np.int32)}
    out_dtypes = {k: out_dtypes[k] for k in ("output", *params.products)}
    prov = provenance_dict(inputs=p.names, ncombine=int(sum(resolved.ncombine)),
                           parameters=_provenance_parameters(params, kernel),
                           zero=list(fac["zeros"]), scale=list(fac["scales"]), weights=list(fac["wts"]))
    names = None if p.names is None else [os.path.basename(str(nm)) for nm in p.names]
    first = None if setup.headers is None else setup.headers[0]
    header = output_header(first, setup.layout.geom, ncombine=int(sum(resolved.ncombine)), names=names,
                           ndim=len(p.spatial))
    lazy = LazyImcombine(graph=tile_graph(p, job, iraf_tile_function), plan=p.plan, out_dtypes=out_dtypes,
                          n=n, spatial=p.spatial, zero=None, scale=None, weights=None,
                          provenance=prov, job=job, factors=fac, maskscal=float(one["maskscal"]),
                          maskzero=float(one["maskzero"]), offsets=setup.layout.offsets.copy(), header=header,
                          first_header=first)
    lazy.template = p.first_fits
    return lazy


def plan_imcombine(images: object, *, grow: float = 0.0, nkeep: int = 1, masks: object = None,
                   products: str | Sequence[str] | None = None, outtype: str | None = None, hdu: Hdu = None,
                   memory_limit: MemoryLimit = None, tile: Sequence[int] | None = None,
                   threads: int | None = None, streaming: bool = False, headers: Sequence[Header] | None = None,
                   **others: object) -> Plan:
    """The strip plan of :func:`imcombine` (same arguments, validated; nothing runs)."""
    params = IrafParams.from_arguments({**others, "grow": grow, "nkeep": nkeep, "products": products,
                                        "outtype": outtype})
    return _prepare_iraf(images, masks, hdu, params, memory_limit, tile, threads, streaming, headers).p.plan
