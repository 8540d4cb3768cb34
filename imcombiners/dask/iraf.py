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
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from imcombiners.dask.engine import (
    LazyCombine,
    _graph_parts,
    _prepare,
    _Prepared,
    _statistics_pass,
)
from imcombiners.dask.planner import Plan

__all__ = ["imcombine", "plan_imcombine", "LazyImcombine", "iraf_tile_function", "PRODUCTS"]

#: Products besides the combined image (IRAF's sigma, rejmasks, nrejmasks, expmasks).
PRODUCTS = ("sigma", "rejmask", "nrejmask", "expmask")
_MAX_SAMPLE = 100_000  # IRAF's statistics grid holds fewer pixels than this


# --------------------------------------------------------------------------
# task functions (module level: picklable)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class IrafJob:
    """Everything a strip task needs: the resolved ``_core.iraf_combine`` parameters."""

    params: Mapping[str, Any]
    want: tuple[str, ...]
    double: bool
    out_dtype: str
    #: grow jobs: ``(values (N, w), mask (N, w))`` of one image line with a first-pass
    #: rejection, appended below every strip (after ``int(grow)`` masked lines) so each
    #: strip runs IRAF's second pass exactly when the whole image does.
    sentinel: Any = None


def _flat(frames: Any) -> tuple[list[np.ndarray], tuple[int, ...]]:
    if isinstance(frames, np.ndarray):
        spatial = frames.shape[1:]
        return [np.ascontiguousarray(f).reshape(-1) for f in frames], spatial
    spatial = np.shape(frames[0])
    return [np.ascontiguousarray(f).reshape(-1) for f in frames], spatial


def iraf_tile_function(frames: Any, masks: Any, job: IrafJob) -> dict[str, np.ndarray]:
    """Run the IRAF line engine on one strip with one Rust thread."""
    from imcombiners import _core

    if job.sentinel is not None:
        frames, masks, rows = _with_sentinel(frames, masks, job)
    flist, spatial = _flat(frames)
    mlist = None
    if masks is not None:
        mlist = [np.ascontiguousarray(m, dtype=bool).reshape(-1) for m in masks]
    res = _core.iraf_combine(flist, mlist, list(spatial), dict(job.params), list(job.want),
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


def _with_sentinel(frames: Any, masks: Any, job: IrafJob) -> tuple[np.ndarray, np.ndarray, int]:
    """Append ``int(grow)`` fully masked lines and the sentinel line to a 2-D strip."""
    frames = np.asarray(frames) if isinstance(frames, np.ndarray) else np.stack(frames)
    n, rows, w = frames.shape
    gap = int(job.params["grow"])
    values, smask = job.sentinel
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


def find_sentinel(p: _Prepared, params: Mapping[str, Any], double: bool, rows: int) -> Any:
    """First image line with a first-pass rejection, as ``(values, mask)``, or None.

    Reads ``rows`` lines at a time from the top and stops at the first batch with a
    rejection (usually the first): rejected = not used by the job's rejection
    without grow, but used when nothing is rejected (``reject="none"``).  Without
    any rejection in the whole image this is one extra pass over the data (and
    IRAF's grow pass then never runs, so no sentinel is needed).
    """
    from imcombiners import _core

    ny, w = p.spatial
    first = dict(params, grow=0.0)
    plain = dict(first, reject="none")
    for y0 in range(0, ny, rows):
        win = (slice(y0, min(ny, y0 + rows)), slice(0, w))
        data, mask = _read_rows(p, win)
        flist = [np.ascontiguousarray(f).reshape(-1) for f in data]
        mlist = None if mask is None else [np.ascontiguousarray(m).reshape(-1) for m in mask]
        shape = [data.shape[1], w]
        rej = _core.iraf_combine(flist, mlist, shape, first, ["rejmask"], bool(double), 1)["rejmask"]
        excl = _core.iraf_combine(flist, mlist, shape, plain, ["rejmask"], bool(double), 1)["rejmask"]
        hit = (rej & ~excl).reshape(data.shape).any(axis=(0, 2))
        if hit.any():
            y = int(np.argmax(hit))
            m = np.zeros((data.shape[0], w), bool) if mask is None else mask[:, y].copy()
            return data[:, y].copy(), m
    return None


def _read_rows(p: _Prepared, win: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    if p.source is not None:
        data = p.source.read(win)
        mask = None if p.mask_source is None else p.mask_source.read(win)
    else:
        data = np.asarray(p.darr[(slice(None),) + win].compute(scheduler="sync"))
        mask = None if p.dmask is None else np.asarray(p.dmask[(slice(None),) + win].compute(scheduler="sync"))
    if mask is not None and mask.dtype != bool:
        mask = mask != 0
    return data, mask


def iraf_frame_stat(frame: np.ndarray, mask: np.ndarray | None, spec: int, *, thresholds: Any,
                    needs_sort: bool) -> float:
    """One of IRAF's ``(mode, median, mean)`` of a frame's sampled grid points.

    ``frame`` holds exactly the grid points (read with the grid's steps), so the
    kernel's own grid over it is the identity and the sample is the same.
    """
    from imcombiners import _core

    lo, hi = thresholds if thresholds is not None else (None, None)
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    stats = _core.iraf_stats(np.ascontiguousarray(frame).reshape(-1), m, list(frame.shape), None,
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
            raise ValueError(f"statsec: section [{a}:{b}] on axis {d + 1} does not overlap the image")
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


# --------------------------------------------------------------------------
# parameters (IRAF names, validated as imcombiners.imcombine does)
# --------------------------------------------------------------------------


def _validate(n: int, *, combine: Any, reject: Any, nlow: Any, nhigh: Any, nkeep: Any, mclip: Any,
              lsigma: Any, hsigma: Any, sigscale: Any, grow: Any, pclip: Any, blank: Any,
              lthreshold: Any, hthreshold: Any, rdnoise: Any, gain: Any, snoise: Any,
              expname: Any, outtype: Any, headers: Any) -> dict[str, Any]:
    from imcombiners import iraf as _ir

    if not isinstance(combine, str) or combine.lower() not in _ir._COMBINES:
        raise ValueError(f"combine: unknown {combine!r}; use one of {', '.join(_ir._COMBINES)}")
    if not isinstance(reject, str) or reject.lower() not in _ir._REJECTS:
        raise ValueError(f"reject: unknown {reject!r}; use one of {', '.join(_ir._REJECTS)}")
    combine, reject = combine.lower(), reject.lower()
    if outtype not in (None, "real", "double"):
        raise ValueError(f"outtype: use None, 'real' or 'double'; got {outtype!r}")
    counts = {}
    for name, v in (("nlow", nlow), ("nhigh", nhigh)):
        f = _ir._nonneg(name, v)
        if f >= 1 and f != int(f):
            raise ValueError(f"{name}: counts (>= 1) must be integers, fractions must be < 1; got {v!r}")
        counts[name] = f
    if reject == "minmax":
        nf = np.float32(n)

        def _k(f: float) -> int:
            frac = np.float32(f) if f < 1 else np.float32(np.float32(f) / nf)
            return int(np.float32(frac * nf))

        if _k(counts["nlow"]) + _k(counts["nhigh"]) >= n:
            raise ValueError(f"nlow, nhigh: together they must remove fewer than the {n} images "
                             f"(nlow={nlow!r}, nhigh={nhigh!r})")
    if isinstance(nkeep, bool) or not isinstance(nkeep, numbers.Integral):
        raise TypeError(f"nkeep must be an integer; got {nkeep!r}")
    if not isinstance(mclip, (bool, np.bool_)):
        raise TypeError(f"mclip must be True or False; got {mclip!r}")
    pclip = _ir._float("pclip", pclip)
    if not math.isfinite(pclip) or pclip == 0:
        raise ValueError(f"pclip must be a finite nonzero number; got {pclip!r}")
    lth = _ir._float("lthreshold", lthreshold, allow_none=True)
    hth = _ir._float("hthreshold", hthreshold, allow_none=True)
    if lth is not None and hth is not None and lth > hth:
        raise ValueError(f"lthreshold ({lth}) must not exceed hthreshold ({hth})")
    rn = _ir._noise_values("rdnoise", rdnoise, headers, n)
    gn = _ir._noise_values("gain", gain, headers, n)
    sn = _ir._noise_values("snoise", snoise, headers, n)
    for name, vals in (("rdnoise", rn), ("snoise", sn)):
        if any(not (v >= 0 and math.isfinite(v)) for v in vals):
            raise ValueError(f"{name} must be finite and >= 0; got {vals}")
    if any(not (v > 0 and math.isfinite(v)) for v in gn):
        raise ValueError(f"gain must be finite and > 0 (electrons per ADU); got {gn}")
    if expname is not None and not isinstance(expname, str):
        raise TypeError(f"expname must be a header keyword name or None; got {expname!r}")
    return {
        "combine": combine, "reject": reject, "nlow": counts["nlow"], "nhigh": counts["nhigh"],
        "nkeep": int(nkeep), "mclip": bool(mclip),
        "lsigma": _ir._nonneg("lsigma", lsigma, allow_none=True),
        "hsigma": _ir._nonneg("hsigma", hsigma, allow_none=True),
        "rdnoise": rn, "gain": gn, "snoise": sn, "sigscale": _ir._nonneg("sigscale", sigscale),
        "pclip": pclip, "grow": _ir._nonneg("grow", grow), "lthreshold": lth, "hthreshold": hth,
        "blank": _ir._float("blank", blank, allow_nan=True),
    }


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

    def __init__(self, *, factors: Mapping[str, Any], maskscal: float, maskzero: float,
                 **kw: Any) -> None:
        self.maskscal, self.maskzero = float(maskscal), float(maskzero)
        self.extra_cards = {"expmask": (("MASKSCAL", self.maskscal, "exposure = value * MASKSCAL + MASKZERO"),
                                        ("MASKZERO", self.maskzero, "exposure mask zero point"))}
        super().__init__(**kw)
        self.scale = np.asarray(factors["scales"], dtype=np.float32)
        self.zero = np.asarray(factors["zeros"], dtype=np.float32)
        self.weight = np.asarray(factors["wts"], dtype=np.float32)
        self.weights = self.weight
        self.warnings = tuple(factors["warnings"])

    def _attribute_names(self) -> tuple[str, ...]:
        return ("output", *PRODUCTS)

    def __repr__(self) -> str:
        return f"<LazyImcombine {self.n} x {self.spatial} -> {sorted(self.arrays)}; {self.plan.ntiles} strips>"

    def compute(self, *, progress: Any = None, outputs: Sequence[str] | None = None):  # type: ignore[override]
        """Compute the products into NumPy arrays (one kernel run per strip).

        Returns
        -------
        imcombiners.iraf.ImcombineResult
            As the in-memory :func:`imcombiners.imcombine`; products not computed are None.
        """
        from imcombiners.iraf import ImcombineResult

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


def _headers_of(p: _Prepared, headers: Any) -> list[Any] | None:
    if headers is not None:
        headers = list(headers)
        if len(headers) != p.n:
            raise ValueError(f"headers: {len(headers)} headers given for {p.n} images")
        return headers
    frames = getattr(p.source, "frames", None)
    if frames is None or not all(hasattr(f, "path") and hasattr(f, "hdu") for f in frames):
        return None
    from astropy.io import fits

    return [fits.getheader(f.path, f.hdu) for f in frames]


def _layout(n: int, dtype: np.dtype, products: Sequence[str], grow: float, nkeep: int,
            outtype: Any) -> tuple[bool, np.dtype, list[str], float]:
    double = outtype == "double" or dtype == np.float64 or (dtype == np.int32 and outtype != "real")
    out_dtype = np.dtype(np.float32 if outtype == "real" else np.float64 if (outtype == "double" or double)
                         else np.float32)
    work = 8 if double else 4
    outputs = ["output", *products]
    # the kernel's line-major used-mask next to the frame-major rejmask; grow keeps a
    # copy of the first pass, its marks (N bytes) and the unwritten flags; astype copies
    extra = (n if "rejmask" in products else 0) + work
    if grow >= 1.0:  # + the strip copy with the sentinel appended and its mask
        extra += n + work + 1 + dtype.itemsize * n + n
    return double, out_dtype, outputs, float(extra)


def _prepare_iraf(images: Any, masks: Any, hdu: Any, grow: float, nkeep: int, products: Sequence[str],
                  outtype: Any, memory_limit: Any, tile: Any, threads: Any, streaming: bool) -> tuple:
    from imcombiners.dask.engine import _as_source, _is_dask

    # the dtype decides the workspace; read it cheaply before planning
    probe_src = None if _is_dask(images) else _as_source(images, offsets=None, hdu=hdu)
    dtype = np.dtype(images.dtype if probe_src is None else probe_src.dtype).newbyteorder("=")
    n = int(images.shape[0] if probe_src is None else probe_src.shape[0])
    double, out_dtype, outputs, extra = _layout(n, dtype, products, grow, nkeep, outtype)
    spatial = tuple(images.shape[1:] if probe_src is None else probe_src.shape[1:])
    if _grow_needs_whole_image(grow, nkeep, len(spatial)):
        tile = spatial  # see _grow_needs_whole_image
    halo = int(grow) if grow >= 1.0 else 0
    inputs = images if probe_src is None else probe_src  # built once (FITS headers probed once)
    p = _prepare(inputs, mask=masks, offsets=None, hdu=hdu, rejectors=None, diagnostics=None,
                 memory_limit=memory_limit, tile=tile, threads=threads,
                 result_in_memory=not streaming, full_rows=True, halo=halo, outputs=outputs,
                 extra_per_pixel=extra)
    return p, double, out_dtype


def imcombine(
    images: Any,
    *,
    combine: str = "average",
    reject: str = "none",
    nlow: float = 1,
    nhigh: float = 1,
    nkeep: int = 1,
    mclip: bool = True,
    lsigma: float | None = 3.0,
    hsigma: float | None = 3.0,
    rdnoise: Any = 0.0,
    gain: Any = 1.0,
    snoise: Any = 0.0,
    sigscale: float = 0.1,
    pclip: float = -0.5,
    grow: float = 0.0,
    lthreshold: float | None = None,
    hthreshold: float | None = None,
    zero: Any = "none",
    scale: Any = "none",
    weight: Any = "none",
    statsec: str | None = None,
    expname: str | None = None,
    blank: float = 0.0,
    masks: Any = None,
    headers: Sequence[Mapping[str, Any]] | None = None,
    outtype: str | None = None,
    products: Any = "all",
    hdu: int | str | None = None,
    memory_limit: int | str | None = None,
    tile: Sequence[int] | None = None,
    threads: int | None = None,
    streaming: bool = False,
    progress: Any = None,
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
    from imcombiners import _core
    from imcombiners import iraf as _ir

    products = _products(products)
    grow_v = _ir._nonneg("grow", grow)
    if isinstance(nkeep, bool) or not isinstance(nkeep, numbers.Integral):
        raise TypeError(f"nkeep must be an integer; got {nkeep!r}")
    if isinstance(images, (str, bytes)):
        raise TypeError("images: give a list of FITS paths, not a single string")
    p, double, out_dtype = _prepare_iraf(images, masks, hdu, grow_v, int(nkeep), products, outtype,
                                         memory_limit, tile, threads, streaming)
    n = p.n
    hdrs = _headers_of(p, headers)
    v = _validate(n, combine=combine, reject=reject, nlow=nlow, nhigh=nhigh, nkeep=nkeep, mclip=mclip,
                  lsigma=lsigma, hsigma=hsigma, sigscale=sigscale, grow=grow, pclip=pclip, blank=blank,
                  lthreshold=lthreshold, hthreshold=hthreshold, rdnoise=rdnoise, gain=gain, snoise=snoise,
                  expname=expname, outtype=outtype, headers=hdrs)

    # first pass: IRAF statistics from the sampled grid rows only
    specs = {"scale": scale, "zero": zero, "weight": weight}
    kinds = {k: s.lower() for k, s in specs.items() if isinstance(s, str) and s.strip().lower() in _ir._STATS}
    stats: dict[str, np.ndarray] = {}
    if kinds:
        section = _ir._parse_statsec(statsec, p.spatial)
        window = sample_window(p.spatial, section)
        lo, hi = v["lthreshold"], v["hthreshold"]
        if lo is not None or hi is not None:
            lo = -_ir._MAX_REAL if lo is None else lo
            hi = _ir._MAX_REAL if hi is None else hi
        needs_sort = any(k in ("mode", "median") for k in kinds.values())
        fn = partial(iraf_frame_stat, needs_sort=needs_sort)
        table = _statistics_pass(p, [0, 1, 2], window, (lo, hi) if lo is not None else None, fn, progress)
        stats = {name: table[k] for k, name in enumerate(_ir._STATS)}
    elif statsec is not None:
        _ir._parse_statsec(statsec, p.spatial)  # validate anyway
    resolved = {k: _ir._resolve_factor(k, s, n, stats, expname, hdrs) for k, s in specs.items()}
    fac = _ir._iraf_factors(resolved, hdrs, n)
    exposures = _ir._header_numbers(hdrs, n, expname, 1.0)

    params = dict(v)
    params.update(scales=fac["scales"], zeros=fac["zeros"], wts=fac["wts"], doscale=fac["doscale"],
                  dozero=fac["dozero"], dowts=fac["dowts"], exposures=exposures)
    sentinel = None
    if params["grow"] >= 1.0 and p.plan.ntiles > 1:
        sentinel = find_sentinel(p, params, bool(double), max(1, p.plan.tile[0]))
    job = IrafJob(params=params, want=products, double=bool(double), out_dtype=out_dtype.str,
                  sentinel=sentinel)
    # maskscal/maskzero depend on the exposures only: a 1-pixel run gives them
    one = _core.iraf_combine([np.zeros(1, p.dtype) for _ in range(n)], None, [1], dict(params),
                             ["expmask"], bool(double), 1)
    out_dtypes = {"output": out_dtype, "sigma": out_dtype, "rejmask": np.dtype(bool),
                  "nrejmask": np.dtype(np.int32), "expmask": np.dtype(np.int32)}
    out_dtypes = {k: out_dtypes[k] for k in ("output", *products)}
    tiles, expr, deps, token = _graph_parts(p, job, iraf_tile_function)

    from imcombiners.io.provenance import provenance_dict

    parameters = {k: params[k] for k in ("combine", "reject", "nlow", "nhigh", "nkeep", "mclip", "lsigma",
                                         "hsigma", "rdnoise", "gain", "snoise", "sigscale", "pclip",
                                         "grow", "lthreshold", "hthreshold", "blank")}
    parameters.update(method=f"iraf:{params['combine']}", zero_spec=_spec_repr(zero),
                      scale_spec=_spec_repr(scale), weight_spec=_spec_repr(weight), statsec=statsec,
                      expname=expname, outtype=outtype, engine="iraf")
    prov = provenance_dict(inputs=p.names, ncombine=n, parameters=parameters,
                           zero=list(fac["zeros"]), scale=list(fac["scales"]), weights=list(fac["wts"]))
    return LazyImcombine(tile_expr=expr, deps=deps, tiles=tiles, plan=p.plan, out_dtypes=out_dtypes,
                         n=n, spatial=p.spatial, token=token, zero=None, scale=None, weights=None,
                         provenance=prov, job=job, factors=fac, maskscal=float(one["maskscal"]),
                         maskzero=float(one["maskzero"]))


def _products(products: Any) -> tuple[str, ...]:
    """``"all"``, ``"none"``, one name or a collection of names -> product names."""
    if isinstance(products, str):
        low = products.lower()
        products = PRODUCTS if low == "all" else () if low == "none" else (low,)
    names = tuple(str(x).lower() for x in products)
    bad = [x for x in names if x not in PRODUCTS]
    if bad:
        raise ValueError(f"products: unknown {bad}; use 'all', 'none' or names among {list(PRODUCTS)}")
    return tuple(x for x in PRODUCTS if x in names)


def _spec_repr(spec: Any) -> Any:
    return spec if isinstance(spec, str) else [float(x) for x in np.asarray(spec, dtype=float).ravel()]


def plan_imcombine(images: Any, *, grow: float = 0.0, nkeep: int = 1, masks: Any = None,
                   products: Any = "all", outtype: str | None = None, hdu: Any = None,
                   memory_limit: Any = None, tile: Any = None, threads: int | None = None,
                   streaming: bool = False, **_ignored: Any) -> Plan:
    """The strip plan of :func:`imcombine` (same arguments; nothing runs)."""
    p, _, _ = _prepare_iraf(images, masks, hdu, float(grow), int(nkeep), _products(products), outtype,
                            memory_limit, tile, threads, streaming)
    return p.plan
