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
  :func:`_grow_needs_whole_image`; those jobs run as one strip.

Results are bit-identical to the in-memory :func:`imcombiners.imcombine` (tests
run the real-IRAF reference cases through small strips).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from imcombiners._iraf_params import (
    STATISTICS,
    FactorParam,
    Header,
    IrafParams,
    NoiseParam,
    ResolvedParams,
)
from imcombiners._job import load_core
from imcombiners._products import IRAF_PRODUCTS
from imcombiners.dask.inputs import Hdu, as_source, is_dask
from imcombiners.io.fits import FitsFrame, read_header
from imcombiners.dask.lazy import LazyCombine, tile_graph
from imcombiners.dask.normalisation import statistics_pass
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
    out_dtype: str
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


def iraf_tile_function(frames: Frames, masks: Frames | None, job: StripJob) -> dict[str, np.ndarray]:
    """Run the IRAF line engine on one strip with one Rust thread."""
    if job.sentinel is not None:
        frames, masks, rows = _with_sentinel(frames, masks, job)
    flist, spatial = _flat(frames)
    mlist = None
    if masks is not None:
        mlist = [np.ascontiguousarray(m, dtype=bool).reshape(-1) for m in masks]
    res = load_core().iraf_combine(flist, mlist, list(spatial), dict(job.params), list(job.want),
                                   bool(job.double), 1)
    del flist, mlist
    n = len(frames)
    dt = np.dtype(job.out_dtype)
    out = {"output": res["output"].astype(dt, copy=False).reshape(spatial)}
    if "sigma" in job.want:
        out["sigma"] = res["sigma"].astype(dt, copy=False).reshape(spatial)
    if "rejmask" in job.want:
        out["rejmask"] = res["rejmask"].reshape((n, *spatial))
    if "nrejmask" in job.want:
        out["nrejmask"] = res["nrejmask"].reshape(spatial)
    if "expmask" in job.want:
        out["expmask"] = res["expmask"].reshape(spatial)
    if job.sentinel is not None:  # drop the appended gap + sentinel lines
        out = {k: np.ascontiguousarray(v[..., :rows, :]) for k, v in out.items()}
    return out


def _with_sentinel(frames: Frames, masks: Frames | None, job: StripJob) -> tuple[np.ndarray, np.ndarray, int]:
    """Append ``int(grow)`` fully masked lines and the sentinel line to a 2-D strip."""
    frames = np.asarray(frames) if isinstance(frames, np.ndarray) else np.stack(frames)
    n, rows, w = frames.shape
    gap = int(job.params["grow"])
    values, smask = job.sentinel  # type: ignore[misc]
    data = np.zeros((n, rows + gap + 1, w), frames.dtype)
    data[:, :rows] = frames
    data[:, -1] = values
    mk = np.ones(data.shape, bool)
    if masks is None:
        mk[:, :rows] = False
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
            m = np.zeros((data.shape[0], w), bool) if mask is None else mask[:, y].copy()
            return data[:, y].copy(), m
    return None


def _read_rows(p: PreparedStack, win: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray | None]:
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
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    stats = load_core().iraf_stats(np.ascontiguousarray(frame).reshape(-1), m, list(frame.shape), None,
                             lo, hi, needs_sort)
    return float(stats[spec])


# --------------------------------------------------------------------------
# statistics grid (IRAF ic_stat)
# --------------------------------------------------------------------------


def sample_window(spatial: Sequence[int], section: Sequence[tuple[int, int]] | None) -> tuple[slice, ...]:
    """IRAF's statistics grid as a NumPy window with steps.

    ``section`` is per IRAF axis (x = last NumPy axis first), 1-based inclusive
    limits, clipped to the image; the step (1..10, the same on every axis) is the
    smallest giving fewer than 100 000 points.
    """
    nd = len(spatial)
    lims = []
    for d in range(nd):
        length = int(spatial[nd - 1 - d])
        a, b = section[d] if section is not None and d < len(section) else (1, length)
        v1, v2 = max(min(a, b), 1), min(max(a, b), length)
        if v1 > v2:
            raise ValueError(f"statsec: section [{a}:{b}] on axis {d + 1} does not overlap the image")
        lims.append((v1, v2))
    for step in range(1, 11):
        grid = [(v1 - 1, v1 - 1 + ((v2 - v1) // step) * step, step) for v1, v2 in lims]
        if math.prod((v2 - v1) // step + 1 for v1, v2 in lims) < _MAX_SAMPLE:
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
        The combined image.
    sigma, rejmask, nrejmask, expmask : dask.array.Array or None
        The requested products (``rejmask`` is ``(N, *spatial)`` bool).
    scale, zero, weight : ndarray of float32
        Factors used (as :class:`imcombiners.iraf.ImcombineResult`).
    maskscal, maskzero : float
        Encoding of ``expmask``.
    warnings : tuple of str
    plan : Plan

    Notes
    -----
    ``compute()`` returns an :class:`imcombiners.iraf.ImcombineResult` (products
    not requested are None); ``to_fits`` writes the output as the primary HDU and
    SIGMA, REJMASK, NREJMASK, EXPMASK (with MASKSCAL/MASKZERO) extensions;
    ``to_zarr`` one array per product.
    """

    primary = "output"

    def __init__(self, *, factors: Mapping[str, object], maskscal: float, maskzero: float,
                 **kw: object) -> None:
        self.maskscal, self.maskzero = float(maskscal), float(maskzero)
        self.extra_cards = {"expmask": (("MASKSCAL", self.maskscal, "exposure = value * MASKSCAL + MASKZERO"),
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
            warnings=self.warnings,
        )


# --------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------


def _headers_of(p: PreparedStack, headers: Sequence[Header] | None) -> list[Header] | None:
    """The headers given, else those of FITS inputs (read once), else None."""
    if headers is not None:
        return list(headers)
    frames = getattr(p.source, "frames", None)
    if frames is None or not all(isinstance(f, FitsFrame) for f in frames):
        return None
    # the image's header as IRAF sees it (primary cards merged for an image in an extension)
    return [read_header(f) for f in frames]


def _extra_per_pixel(n: int, dtype: np.dtype, params: IrafParams, double: bool) -> float:
    """Bytes per pixel the IRAF kernel holds besides the inputs and the products."""
    work = 8 if double else 4
    # the kernel's line-major used-mask next to the frame-major rejmask; grow keeps a
    # copy of the first pass, its marks (N bytes) and the unwritten flags; astype copies
    extra = (n if "rejmask" in params.products else 0) + work
    if params.grow >= 1.0:  # + the strip copy with the sentinel appended and its mask
        extra += n + work + 1 + dtype.itemsize * n + n
    return float(extra)


def _prepare_iraf(images: object, masks: object, hdu: Hdu, params: IrafParams, memory_limit: MemoryLimit,
                  tile: Sequence[int] | None, threads: int | None,
                  streaming: bool) -> tuple[PreparedStack, bool, np.dtype]:
    """The prepared stack planned in full-width strips, the working precision and output dtype."""
    # the dtype decides the workspace; read it cheaply before planning
    # FITS files are read as IRAF reads them (e.g. unsigned 32-bit as real), as in memory
    probe_src = None if is_dask(images) else as_source(images, offsets=None, hdu=hdu, view="iraf")
    shape = tuple(images.shape if probe_src is None else probe_src.shape)  # type: ignore[attr-defined]
    dtype = np.dtype(images.dtype if probe_src is None else probe_src.dtype).newbyteorder("=")  # type: ignore[attr-defined]
    n, spatial = int(shape[0]), shape[1:]
    double, out_dtype = params.working_type(dtype)
    if _grow_needs_whole_image(params.grow, params.nkeep, len(spatial)):
        tile = spatial  # see _grow_needs_whole_image
    halo = int(params.grow) if params.grow >= 1.0 else 0
    inputs = images if probe_src is None else probe_src  # built once (FITS headers probed once)
    p = prepare_stack(inputs, mask=masks, offsets=None, hdu=hdu, rejectors=None, diagnostics=None,
                      memory_limit=memory_limit, tile=tile, threads=threads,
                      result_in_memory=not streaming, full_rows=True, halo=halo,
                      outputs=["output", *params.products],
                      extra_per_pixel=_extra_per_pixel(n, dtype, params, double))
    return p, double, out_dtype


def _sampled_statistics(p: PreparedStack, resolved: ResolvedParams,
                        progress: Progress) -> dict[str, np.ndarray] | None:
    """IRAF's (mode, median, mean) per image from a first pass over the sampled grid rows
    only, when scale/zero/weight ask for one of them; None otherwise."""
    params = resolved.params
    wanted = params.statistics()
    if not wanted:
        return None
    window = sample_window(p.spatial, resolved.section)
    needs_sort = any(k in ("mode", "median") for k in wanted.values())
    fn = partial(iraf_frame_stat, needs_sort=needs_sort)
    table = statistics_pass(p, [0, 1, 2], window, params.statistic_thresholds(), fn, progress)
    return {name: table[k] for k, name in enumerate(STATISTICS)}


def _provenance_parameters(params: IrafParams, kernel: Mapping[str, object]) -> dict[str, object]:
    """The call's parameters as recorded in the provenance (noise values per image)."""
    parameters = {k: kernel[k] for k in ("combine", "reject", "nlow", "nhigh", "nkeep", "mclip", "lsigma",
                                         "hsigma", "rdnoise", "gain", "snoise", "sigscale", "pclip",
                                         "grow", "lthreshold", "hthreshold", "blank")}
    parameters.update(method=f"iraf:{params.combine}", zero_spec=_spec_repr(params.zero),
                      scale_spec=_spec_repr(params.scale), weight_spec=_spec_repr(params.weight),
                      statsec=params.statsec, expname=params.expname, outtype=params.outtype, engine="iraf")
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
    headers: Sequence[Header] | None = None,
    outtype: str | None = None,
    products: str | Sequence[str] = "all",
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
        ``expname``, NCOMBINE and keyword noise parameters, as in the in-memory call.
    combine, reject, nlow, nhigh, nkeep, mclip, lsigma, hsigma, rdnoise, gain, snoise, sigscale, pclip, grow, lthreshold, hthreshold, zero, scale, weight, statsec, expname, blank, masks, headers, outtype
        Exactly as :func:`imcombiners.imcombine` (IRAF's names and defaults).
    products : "all", "none", str or sequence of str
        Which of ``sigma``, ``rejmask``, ``nrejmask``, ``expmask`` to produce besides
        the output (default: all).  ``rejmask`` is as large
        as a uint8 copy of the stack: leave it out when not needed.
    hdu
        HDU of FITS inputs (default: the first with an image).
    memory_limit, tile, threads, streaming
        As :func:`imcombiners.dask.combine`.  Tiles are always full-width row strips
        (a forced ``tile`` is widened to whole rows).
    progress
        For the statistics pass: True or ``callable(done, total)``.

    Returns
    -------
    LazyImcombine
        ``.output`` and the products as dask arrays; ``.compute()`` returns an
        :class:`imcombiners.iraf.ImcombineResult`; ``.to_fits()``, ``.to_zarr()``;
        ``.plan``; ``.scale/.zero/.weight``, ``.maskscal/.maskzero``, ``.warnings``.
    """
    params = IrafParams.from_arguments(locals())  # every IRAF parameter, validated
    if isinstance(images, (str, bytes)):
        raise TypeError("images: give a list of FITS paths, not a single string")
    p, double, out_dtype = _prepare_iraf(images, masks, hdu, params, memory_limit, tile, threads, streaming)
    n = p.n
    resolved = params.resolve(n, p.spatial, _headers_of(p, headers))
    fac = resolved.factor_values(_sampled_statistics(p, resolved, progress))
    kernel = resolved.kernel_params(fac)
    sentinel = None
    if params.grow >= 1.0 and p.plan.ntiles > 1:
        sentinel = find_sentinel(p, kernel, double, max(1, p.plan.tile[0]))
    job = StripJob(params=kernel, want=params.products, double=double, out_dtype=out_dtype.str,
                   sentinel=sentinel)
    # maskscal/maskzero depend on the exposures only: a 1-pixel run gives them
    one = load_core().iraf_combine([np.zeros(1, p.dtype) for _ in range(n)], None, [1], dict(kernel),
                                   ["expmask"], double, 1)
    out_dtypes = {"output": out_dtype, "sigma": out_dtype, "rejmask": np.dtype(bool),
                  "nrejmask": np.dtype(np.int32), "expmask": np.dtype(np.int32)}
    out_dtypes = {k: out_dtypes[k] for k in ("output", *params.products)}
    prov = provenance_dict(inputs=p.names, ncombine=n, parameters=_provenance_parameters(params, kernel),
                           zero=list(fac["zeros"]), scale=list(fac["scales"]), weights=list(fac["wts"]))
    lazy = LazyImcombine(graph=tile_graph(p, job, iraf_tile_function), plan=p.plan, out_dtypes=out_dtypes,
                         n=n, spatial=p.spatial, zero=None, scale=None, weights=None,
                         provenance=prov, job=job, factors=fac, maskscal=float(one["maskscal"]),
                         maskzero=float(one["maskzero"]))
    lazy.template = p.first_fits
    return lazy


def plan_imcombine(images: object, *, grow: float = 0.0, nkeep: int = 1, masks: object = None,
                   products: str | Sequence[str] = "all", outtype: str | None = None, hdu: Hdu = None,
                   memory_limit: MemoryLimit = None, tile: Sequence[int] | None = None,
                   threads: int | None = None, streaming: bool = False, **others: object) -> Plan:
    """The strip plan of :func:`imcombine` (same arguments, validated; nothing runs)."""
    params = IrafParams.from_arguments({**others, "grow": grow, "nkeep": nkeep, "products": products,
                                        "outtype": outtype})
    p, _, _ = _prepare_iraf(images, masks, hdu, params, memory_limit, tile, threads, streaming)
    return p.plan
