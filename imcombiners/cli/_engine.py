"""The CLI's bridge to the library: out-of-core combine to files, plans, IRAF form.

Nothing here combines pixels itself: ``combine`` runs on this machine through the local
engine (:mod:`._local`: strips of the FITS files, no Dask) and on a scheduler or cluster,
or into zarr, through :func:`imcombiners.dask.combine` (streamed to FITS or zarr);
``imcombine`` goes through :func:`imcombiners.imcombine`. This module only chooses the
engine, outputs, files, schedulers and progress bars.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import Any, Callable, Mapping

import numpy as np

from imcombiners._record import Record, factory

from ._check import InputInfo, inspect_inputs
from ._cluster import ClusterSpec, compute_on
from ._errors import CLIError

__all__ = ["CombineOutcome", "combine_to_files", "plan_text", "engine_outputs"]

#: CLI product name -> engine output it is made from.
_SOURCE = {"nrej": "nused", "nused": "nused", "std": "std", "low": "low", "upp": "upp",
           "nit": "nit", "flags": "output_flags", "mask": "mask"}


class CombineOutcome(Record, frozen=False):
    """What :func:`combine_to_files` wrote."""

    output: str
    products: dict[str, str] = factory(dict)
    plan: Any = None
    plan_summary: str = ""
    zero: Any = None
    scale: Any = None
    weights: Any = None


def engine_outputs(products: Mapping[str, str], preview: bool, rejectors: list) -> list[str]:
    """Engine outputs needed for the asked products (and the preview's rejection map)."""
    want = {_SOURCE[p] for p in products}
    if preview:
        want.add("nused")
    if "std" in want and not any(getattr(r, "has_spread", False) for r in rejectors):
        want.discard("std")  # no spread without a sigma-type rejector
    order = ["nused", "output_flags", "std", "low", "upp", "nit", "mask"]
    return [w for w in order if w in want]


# ----------------------------------------------------------------------------- progress


class _Bar:
    """A tqdm bar fed by the engine's ``progress(done, total)`` callback; silent when off."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled, self.bar = label, enabled, None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit="tile", file=sys.stderr,
                            dynamic_ncols=True, leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _combine_kwargs(info: InputInfo, job: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        method=job["method"], rejectors=job["rejectors"] or None, thresholds=job["thresholds"],
        zero=job["zero"], scale=job["scale"], weights=job["weights"], statsec=job["statsec"],
        blank=job["blank"], ddof=job.get("ddof", 0), memory_limit=job["memory_limit"],
        threads=job["workers"] if job["scheduler"] is None and job.get("cluster") is None else None,
        **{k: job[k] for k in _PLANE_KEYS if job.get(k) is not None},
    )


#: Survey-plane options passed to the engine as they are (see ``--var``, ``--dq``...).
_PLANE_KEYS = ("variance", "dq", "bad_bits", "nodata_bit", "offsets")


def survey_outputs(method: str, job: Mapping[str, Any]) -> list[str]:
    """The survey products of a ``--mef`` master: VAR (methods with a propagated
    variance), DQ (with --dq), WHT (the sum of the weights, or the number of samples)."""
    from imcombiners._job import VARIANCE_METHODS
    from imcombiners._validate import canonical_method

    outs = []
    if job.get("variance") is not None and canonical_method(method) in VARIANCE_METHODS | {"wavg"}:
        outs.append("variance")
    if job.get("dq") is not None:
        outs.append("dq")
    outs.append("weight")
    return outs


# ----------------------------------------------------------------------------- combine


def combine_to_files(
    info: InputInfo | list[str],
    output: str | os.PathLike,
    *,
    method: str,
    rejectors: list | None = None,
    reject: str | None = None,
    params: Mapping[str, Any] | None = None,
    thresholds: Any = None,
    zero: Any = None,
    scale: Any = None,
    weights: Any = None,
    statsec: Any = None,
    blank: float | None = None,
    ddof: int = 0,
    variance: Any = None,
    dq: Any = None,
    bad_bits: int | None = None,
    nodata_bit: int | None = None,
    offsets: Any = None,
    mef: bool | None = None,
    memory_limit: int | str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    cluster: ClusterSpec | None = None,
    products: Mapping[str, str] | None = None,
    diagnostics: Mapping[str, str] | None = None,
    preview: str | None = None,
    dtype: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    log: Callable[[str], object] | None = None,
    engine: str = "auto",
) -> CombineOutcome:
    """Combine FITS files out of core into ``output`` (FITS or ``.zarr``) and products.

    Parameters
    ----------
    info : InputInfo or list of str
        Checked inputs (or names, checked here; IRAF selectors such as ``a.fits[1]``
        allowed).
    output : path
        Master image: FITS (the first input's header, cleaned, plus provenance) or a
        zarr group (``.zarr``).
    method, rejectors, thresholds, zero, scale, weights, statsec, blank, ddof, memory_limit
        As :func:`imcombiners.dask.combine`. ``rejectors`` may instead be given as
        ``reject`` + ``params`` (IRAF-named options).
    variance, dq, bad_bits, nodata_bit, offsets
        Survey planes read from every input's extensions (``"VAR"``, ``"DQ"``...) and
        ``offsets="wcs"``, as :func:`imcombiners.dask.combine`.
    mef : bool, optional
        Write the master in the survey layout (header-only primary, ``SCI``, ``VAR``,
        ``DQ``, ``WHT`` extensions); default: when ``variance`` or ``dq`` is given.
    scheduler, workers
        ``None``: threads in this process (``workers`` of them); ``"local"``: a
        LocalCluster of ``workers`` processes; else a distributed scheduler address or
        scheduler file.
    cluster : ClusterSpec, optional
        A batch cluster (dask-jobqueue) started for the run and stopped afterwards.
    products, diagnostics : mapping of product name -> FITS path
        Diagnostic images: nrej, nused, std, low, upp, nit, flags, mask.
        (``diagnostics`` is an alias used by the demo.)
    preview : path, optional
        PNG quick-look: first input, master, rejection map.
    dtype : {"float32", "float64"}, optional
        Pixel type of the master on disk (FITS only).
    progress : bool
        Show tqdm progress bars on stderr.
    overwrite : bool
        Replace existing files.
    log : callable, optional
        Receives one-line status messages (the batch cluster starting and stopping).
    engine : {"auto", "local", "dask"}
        ``auto``: the local engine (:mod:`imcombiners.cli._local`, no Dask) for FITS
        outputs computed in this process, Dask otherwise. Both write the same bits.

    Notes
    -----
    Every FITS output (master and products) is written by the same tile tasks in one
    pass, each into its own preallocated file, so nothing is held whole in memory and
    ``memory_limit`` holds whatever the products.
    """
    if not isinstance(info, InputInfo):
        info = inspect_inputs([os.fspath(p) for p in info])
    if rejectors is None and reject is not None:
        from ._rejection import build_rejectors

        rejectors = build_rejectors(reject, dict(params or {}))
    rejectors = list(rejectors or [])
    products = dict(products or diagnostics or {})
    output = os.fspath(output)
    to_zarr = output.rstrip("/").endswith(".zarr")
    outs = engine_outputs(products, preview is not None, rejectors)

    job = dict(method=method, rejectors=rejectors, thresholds=thresholds, zero=zero, scale=scale,
               weights=weights, statsec=statsec, blank=blank, ddof=ddof, memory_limit=memory_limit,
               workers=workers, scheduler=scheduler, cluster=cluster, variance=variance, dq=dq,
               bad_bits=bad_bits, nodata_bit=nodata_bit, offsets=offsets)
    if mef is None:
        mef = variance is not None or dq is not None
    survey = survey_outputs(method, job) if mef or (to_zarr and (variance is not None or dq is not None)) else []
    outs = outs + [s for s in survey if s not in outs]
    stat_bar, bar = _Bar("statistics", progress), _Bar("combining", progress)
    preview_counts: str | None = None
    if engine not in ("auto", "local", "dask"):
        raise ValueError(f"engine must be 'auto', 'local' or 'dask'; got {engine!r}")
    # the local engine has no planes, weights by pixel or offsets: survey jobs run on Dask
    survey_job = any(job[k] is not None for k in _PLANE_KEYS) or mef or isinstance(weights, str) and weights in (
        "inverse_variance", "ivar")
    if engine == "local" and survey_job:
        raise ValueError("engine='local' does not read variance/DQ planes, WCS offsets or write the survey "
                         "layout; use engine='dask' (or 'auto')")
    if engine == "local" or (engine == "auto" and not survey_job and runs_locally(info, to_zarr, scheduler, cluster)):
        prefetched = None
        if memory_limit is None:  # a small stack is read while the run is prepared
            from ._local import prefetch_stack

            prefetched = prefetch_stack(info.frames)
        try:
            outcome, preview_counts = _combine_locally(info, output, job, outs, products, dtype, preview,
                                                       overwrite, bar, prefetched)
        finally:
            bar.close()
        _finish_preview(info, output, to_zarr, preview, preview_counts, products)
        return outcome
    import imcombiners.dask as imd

    if not to_zarr:
        # the output header reads the first input's with astropy: load it before the engine
        # measures the process's baseline for --memory-limit (astropy.io.fits is ~15 MB)
        from imcombiners.io.fits import read_header

        read_header(info.frames[0])
    with compute_on(scheduler=scheduler, workers=workers, cluster=cluster, log=log,
                    memory_limit=memory_limit if isinstance(memory_limit, int) else None):
        try:
            # the probed frames carry each input's file and HDU (IRAF names such as a.fits[1])
            lazy = imd.combine(list(info.frames), diagnostics=outs or None, streaming=True,
                               progress=stat_bar, **_combine_kwargs(info, job))
        finally:
            stat_bar.close()
        lazy.provenance = dict(lazy.provenance, inputs=list(info.paths))
        outcome = CombineOutcome(output=output, plan=lazy.plan, plan_summary=_short_plan(lazy.plan),
                                 zero=lazy.zero, scale=lazy.scale, weights=lazy.weights)
        try:
            if to_zarr:
                lazy.to_zarr(output, outputs=["data", *outs], overwrite=overwrite, progress=bar)
                outcome.products = {p: f"{output}/{_SOURCE[p]}" for p in products}
            else:
                written, preview_counts = _write_fits_outputs(lazy, info, output, outs, products, dtype,
                                                              preview, overwrite, bar, survey if mef else None)
                outcome.products = written
        finally:
            bar.close()
    _finish_preview(info, output, to_zarr, preview, preview_counts, products)
    return outcome


def runs_locally(info: InputInfo, to_zarr: bool, scheduler: str | None, cluster: Any) -> bool:
    """Whether the local engine takes the job: FITS output computed in this process, from
    inputs of a pixel type the kernels take (else Dask, which also words the errors)."""
    from ._local import stack_dtype

    return not to_zarr and scheduler is None and cluster is None and stack_dtype(info.frames) is not None


def _combine_locally(info: InputInfo, output: str, job: Mapping[str, Any], outs: list[str],
                     products: Mapping[str, str], dtype: str | None, preview: str | None,
                     overwrite: bool, bar: Any, prefetched: Any = None) -> tuple[CombineOutcome, str | None]:
    """The local engine: statistics, job, strip plan (before any file exists), then strips
    (``prefetched``: the stack being read already, see :func:`._local.prefetch_stack`)."""
    from imcombiners._products import output_shape
    from imcombiners.io.fits import output_header
    from imcombiners.io.fits.outputs import open_products
    from imcombiners.io.provenance import provenance_cards

    from imcombiners._memory_model import line_based

    from ._local import bytes_per_pixel, plan_strips, prepare_local, run_strips

    threads = int(job.get("workers") or os.cpu_count() or 1)
    run = prepare_local(info, method=job["method"], rejectors=job["rejectors"], thresholds=job["thresholds"],
                        zero=job["zero"], scale=job["scale"], weights=job["weights"], statsec=job["statsec"],
                        blank=job["blank"], ddof=job.get("ddof", 0), outputs=outs, threads=threads)
    work = run.out_dtypes["data"].itemsize
    disk = max(f.disk_itemsize for f in run.frames)
    per_pixel = bytes_per_pixel(run.n, run.dtype.itemsize, work, run.out_dtypes, disk, run.grow_stages)
    limit = job["memory_limit"]
    if isinstance(limit, str):
        from ._sizes import parse_memory

        limit = parse_memory(limit, "memory_limit")
    from imcombiners.io.fits.direct import scratch_bytes

    plan = plan_strips(run.n, run.spatial, run.dtype.itemsize, per_pixel, run.halo, limit, threads,
                       sorted_store=line_based(job["rejectors"] or ()),
                       read_scratch=scratch_bytes() if run.uncached else 0)
    header = output_header(info.frames[0], provenance_cards(run.provenance), source=info.paths[0], plain=True)
    prods, written, counts = _fits_products(info, output, outs, products, dtype, preview, header)
    files = open_products(prods, run.out_dtypes, lambda name: output_shape(name, run.n, run.spatial), run.n,
                          overwrite=overwrite)
    try:
        run_strips(run, plan, files.targets, progress=bar, prefetched=prefetched)
        files.commit(overwrite)
    except BaseException:
        files.discard()
        raise
    summary = (f"{plan.nstrips} strips of {plan.rows} rows, {min(plan.threads, plan.nstrips)} at once"
               + (f", predicted peak {plan.predicted_peak / 2**20:.0f} MiB" if plan.baseline else "")
               + (", inputs read past the page cache" if run.uncached else ""))
    outcome = CombineOutcome(output=output, products=written, plan=plan, plan_summary=summary,
                             zero=run.zero, scale=run.scale, weights=run.weights)
    return outcome, counts


def _finish_preview(info: InputInfo, output: str, to_zarr: bool, preview: str | None,
                    counts: str | None, products: Mapping[str, str]) -> None:
    """Draw the preview, then remove the temporary counts image it was drawn from."""
    try:
        if preview is not None:
            _write_preview(info, output, to_zarr, preview, counts, products)
    finally:
        if counts is not None and counts not in products.values():
            discard(counts)


def discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _short_plan(plan: Any) -> str:
    return (f"{plan.ntiles} tiles of {'x'.join(map(str, plan.tile))}, {plan.threads} at once, "
            f"predicted peak {plan.predicted_peak / 2**20:.0f} MiB")


def _write_fits_outputs(lazy: Any, info: InputInfo, output: str, outs: list[str],
                        products: Mapping[str, str], dtype: str | None, preview: str | None,
                        overwrite: bool, bar: Any,
                        survey: list[str] | None = None) -> tuple[dict[str, str], str | None]:
    """Master and products in one streaming pass, each in its own FITS file.

    ``survey``: the master in the survey layout (header-only primary, ``SCI``, then these
    outputs as ``VAR``/``DQ``/``WHT`` extensions).  Returns the products written and the
    file holding the preview's counts (a product, or a temporary nused image).
    """
    from imcombiners.canvas import shift_wcs_header
    from imcombiners.dask.sinks import write_fits_files
    from imcombiners.io.fits import output_header
    from imcombiners.io.provenance import provenance_cards

    # survey outputs edit the header's WCS (astropy); others take the plain card path
    astropy_header = bool(lazy.origin) or survey is not None
    header = output_header(info.frames[0], provenance_cards(lazy.provenance), source=info.paths[0],
                           plain=not astropy_header)
    if lazy.origin:  # frames at offsets: the first frame's WCS moved onto the output grid
        header = shift_wcs_header(header, lazy.origin)
    prods, written, counts = _fits_products(info, output, outs, products, dtype, preview, header, survey)
    write_fits_files(lazy, prods, overwrite=overwrite, progress=bar)
    return written, counts


def _fits_products(info: InputInfo, output: str, outs: list[str], products: Mapping[str, str],
                   dtype: str | None, preview: str | None, header: Any,
                   survey: list[str] | None = None) -> tuple[list, dict[str, str], str | None]:
    """The files to write: the master (``header``; with ``survey`` in the survey layout,
    those outputs as its VAR/DQ/WHT extensions), the products asked for, and the counts
    image the preview needs (a product, or a temporary nused image).

    Returns (FitsProduct list, product name -> path written, counts image or None).
    """
    from imcombiners.io.atomic import temporary_sibling
    from imcombiners.io.fits.outputs import FitsProduct

    n = info.n
    prods = [FitsProduct(output, "data", dtype=dtype, header=header, extensions=tuple(survey or ()),
                         science_extension=survey is not None)]
    written: dict[str, str] = {}
    for name, path in products.items():
        source = _SOURCE[name]
        if source not in outs:  # e.g. std without a sigma-type rejector
            continue
        kind = {"nrej": np.int16 if n < 32768 else np.int32, "mask": np.uint8}.get(name)
        cards = (("IMCPROD", name, "imcombiners diagnostic product"),
                 ("IMCMAST", os.path.basename(output), "master image"),
                 ("NCOMBINE", n, "number of images combined"))
        prods.append(FitsProduct(path, source, dtype=kind, complement=name == "nrej", cards=cards))
        written[name] = path
    counts = next((p for k, p in written.items() if k in ("nrej", "nused")), None)
    if preview is not None and counts is None:
        counts = temporary_sibling(output) + ".nused.fits"
        prods.append(FitsProduct(counts, "nused"))
    return prods, written, counts


def _write_preview(info: InputInfo, output: str, to_zarr: bool, preview: str,
                   counts: str | None, products: Mapping[str, str]) -> None:
    """PNG of the first input, the master and the samples not used (read strip by strip)."""
    from imcombiners.io.atomic import atomic_path
    from imcombiners.io.fits import probe
    from imcombiners.quicklook import display_image, quicklook

    first = info.frames[0]
    if len(first.shape) != 2:
        raise CLIError(f"--preview needs 2-D images, the inputs have shape {first.shape}")
    n = info.n
    if to_zarr:
        import zarr

        group = zarr.open_group(output, mode="r")
        master_rows = lambda y0, y1: np.asarray(group["data"][y0:y1])  # noqa: E731
        count_rows = lambda y0, y1: n - np.asarray(group["nused"][y0:y1]).astype(np.int32)  # noqa: E731
    else:
        master = probe(output)
        master_rows = lambda y0, y1: master.read((slice(y0, y1),))  # noqa: E731
        cframe = probe(counts) if counts is not None else None
        is_nrej = counts is not None and counts == products.get("nrej")

        def count_rows(y0: int, y1: int) -> np.ndarray:
            v = cframe.read((slice(y0, y1),)).astype(np.int32)
            return v if is_nrej else n - v

    shape = first.shape
    side = 500  # pixels of a 5-inch panel at 100 dpi: more would only be resampled away
    panels = [display_image(lambda y0, y1: first.read((slice(y0, y1),)), shape, limit=side),
              display_image(master_rows, shape, limit=side),
              display_image(count_rows, shape, is_count=True, limit=side)]
    titles = [os.path.basename(info.paths[0]), "master", "samples not used"]
    with atomic_path(preview, overwrite=True) as t:
        quicklook(panels, t + ".png", titles=titles, kinds=["image", "image", "count"],
                  shapes=[shape] * 3)
        os.replace(t + ".png", t)


# ----------------------------------------------------------------------------- plan


def plan_text(info: InputInfo, *, method: str, rejectors: list, thresholds: Any = None,
              memory_limit: int | None = None, workers: int | None = None,
              scheduler: str | None = None, zero: Any = None, scale: Any = None,
              weights: Any = None, **_: Any) -> str:
    """A dry run: the engine's plan plus a measured time estimate, as text."""
    import imcombiners.dask as imd

    job = dict(method=method, rejectors=rejectors, thresholds=thresholds, zero=zero, scale=scale,
               weights=weights, statsec=None, blank=None, memory_limit=memory_limit,
               workers=workers, scheduler=scheduler, **{k: _.get(k) for k in _PLANE_KEYS})
    kw = _combine_kwargs(info, job)  # the planes (--var, --dq) are counted by the planner
    for k in ("zero", "scale", "weights", "statsec", "blank", "thresholds", "ddof"):
        kw.pop(k)
    plan = imd.plan(list(info.frames), streaming=True, **kw)  # each input's file and HDU
    n, spatial = plan.shape[0], plan.shape[1:]
    npix = math.prod(spatial)
    in_bytes = sum(math.prod(f.shape) * abs(f.bitpix) // 8 for f in info.frames)
    lines = [
        f"inputs      {n} images of {'x'.join(map(str, spatial))} ({', '.join(sorted(set(info.dtypes)))}), "
        f"{in_bytes / 2**20:.1f} MiB on disk",
        f"combine     {method}" + (f", reject {', '.join(type(r).__name__ for r in rejectors)}" if rejectors else ""),
        f"tiles       {plan.ntiles} of {'x'.join(map(str, plan.tile))} pixels (halo {plan.halo}), "
        f"{plan.threads} at once",
        f"memory      predicted peak {plan.predicted_peak / 2**20:.0f} MiB = baseline "
        f"{plan.baseline / 2**20:.0f} + {plan.threads} x {plan.per_task / 2**20:.1f} MiB per tile"
        + (f"; limit {plan.memory_limit / 2**20:.0f} MiB" if plan.memory_limit else "; no limit"),
    ]
    lines += [f"note        {note}" for note in plan.notes]
    passes = 2 if any(isinstance(v, str) for v in (zero, scale, weights)) else 1
    est = _estimate_seconds(info, method, rejectors, thresholds, plan.threads)
    if est is not None:
        read_s, kernel_s = est
        total = passes * read_s * npix + kernel_s * npix / max(1, plan.threads)
        lines.append(f"time        about {_fmt_seconds(total)} (measured on a sample window; "
                     f"{passes} pass{'es' if passes > 1 else ''} over the inputs)")
    return "\n".join(lines)


def _estimate_seconds(info: InputInfo, method: str, rejectors: list, thresholds: Any,
                      threads: int) -> tuple[float, float] | None:
    """Seconds per output pixel to read all N samples, and to combine them (one thread)."""
    import imcombiners as imc

    shape = info.shape
    width = math.prod(shape[1:])
    rows = max(1, min(shape[0], 32768 // max(1, width)))
    window = (slice(0, rows),) + tuple(slice(0, s) for s in shape[1:])
    t0 = time.perf_counter()
    frames = [f.read(window) for f in info.frames]
    read_s = time.perf_counter() - t0
    sample = np.stack(frames)
    t0 = time.perf_counter()
    try:
        imc.Combiner(sample).combine(method, rejectors=rejectors or None, thresholds=thresholds)
    except Exception:  # an estimate must not fail the dry run
        return None
    kernel_s = time.perf_counter() - t0
    px = rows * width
    return read_s / px, kernel_s * threads / px  # the in-memory call used all threads


def _fmt_seconds(s: float) -> str:
    if s < 1:
        return "under a second"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
