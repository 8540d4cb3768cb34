"""The CLI's bridge to the library: out-of-core combine to files, plans, IRAF form.

Nothing here combines pixels itself: ``combine`` goes through
:func:`imcombiners.dask.combine` (streamed to FITS or zarr), ``imcombine`` through
:func:`imcombiners.imcombine`. This module only chooses outputs, files, schedulers
and progress bars.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from imcombiners._products import FITS_EXTNAMES

from ._check import InputInfo, inspect_inputs
from ._cluster import ClusterSpec, compute_on
from ._errors import CLIError

__all__ = ["CombineOutcome", "combine_to_files", "plan_text", "run_imcombine", "engine_outputs"]

#: CLI product name -> engine output it is made from.
_SOURCE = {"nrej": "nused", "nused": "nused", "std": "std", "low": "low", "upp": "upp",
           "nit": "nit", "flags": "output_flags", "mask": "mask"}


@dataclass
class CombineOutcome:
    """What :func:`combine_to_files` wrote."""

    output: str
    products: dict[str, str] = field(default_factory=dict)
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
    hdus = set(info.hdus)
    return dict(
        method=job["method"], rejectors=job["rejectors"] or None, thresholds=job["thresholds"],
        zero=job["zero"], scale=job["scale"], weights=job["weights"], statsec=job["statsec"],
        blank=job["blank"], memory_limit=job["memory_limit"],
        hdu=hdus.pop() if len(hdus) == 1 else None,
        threads=job["workers"] if job["scheduler"] is None and job.get("cluster") is None else None,
    )


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
) -> CombineOutcome:
    """Combine FITS files out of core into ``output`` (FITS or ``.zarr``) and products.

    Parameters
    ----------
    info : InputInfo or list of str
        Checked inputs (or paths, checked here).
    output : path
        Master image: FITS (primary HDU + provenance) or a zarr group (``.zarr``).
    method, rejectors, thresholds, zero, scale, weights, statsec, blank, memory_limit
        As :func:`imcombiners.dask.combine`. ``rejectors`` may instead be given as
        ``reject`` + ``params`` (IRAF-named options).
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
        Cast the master on writing (FITS only).
    progress : bool
        Show tqdm progress bars on stderr.
    overwrite : bool
        Replace existing files.
    log : callable, optional
        Receives one-line status messages (the batch cluster starting and stopping).
    """
    import imcombiners.dask as imd

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
               weights=weights, statsec=statsec, blank=blank, memory_limit=memory_limit,
               workers=workers, scheduler=scheduler, cluster=cluster)
    stat_bar, bar = _Bar("statistics", progress), _Bar("combining", progress)
    with compute_on(scheduler=scheduler, workers=workers, cluster=cluster, log=log,
                    memory_limit=memory_limit if isinstance(memory_limit, int) else None):
        try:
            lazy = imd.combine(info.paths, diagnostics=outs or None, streaming=True,
                               progress=stat_bar, **_combine_kwargs(info, job))
        finally:
            stat_bar.close()
        outcome = CombineOutcome(output=output, plan=lazy.plan, plan_summary=_short_plan(lazy.plan),
                                 zero=lazy.zero, scale=lazy.scale, weights=lazy.weights)
        try:
            if to_zarr:
                lazy.to_zarr(output, outputs=["data", *outs], overwrite=overwrite, progress=bar)
                outcome.products = {p: f"{output}/{_SOURCE[p]}" for p in products}
            elif not outs:
                lazy.to_fits(output, outputs=["data"], overwrite=overwrite, progress=bar)
                if dtype:
                    _recast(output, dtype)
            else:
                nrej = _fits_with_products(lazy, output, outs, products, info.n, dtype, overwrite,
                                           bar, keep_nrej=preview is not None)
                outcome.products = {k: v for k, v in products.items() if os.path.exists(v)}
        finally:
            bar.close()
    if preview is not None:
        _write_preview(info, output, to_zarr, preview, nrej if not to_zarr else None)
    return outcome


def _short_plan(plan: Any) -> str:
    return (f"{plan.ntiles} tiles of {'x'.join(map(str, plan.tile))}, {plan.threads} at once, "
            f"predicted peak {plan.predicted_peak / 2**20:.0f} MiB")


def _fits_with_products(lazy: Any, output: str, outs: list[str], products: Mapping[str, str],
                        n: int, dtype: str | None, overwrite: bool, bar: Any, *,
                        keep_nrej: bool = False) -> np.ndarray | None:
    """One streaming pass into a temporary multi-extension file, then split it.

    Why: every output comes from the same tile task, so writing them together runs the
    kernel once per tile; the split only copies the (small, 2-D) outputs.
    """
    from astropy.io import fits

    from imcombiners.io.atomic import atomic_path, temporary_sibling

    tmp = temporary_sibling(output)
    nrej_kept = None
    try:
        lazy.to_fits(tmp, outputs=["data", *outs], overwrite=True, progress=bar)
        with fits.open(tmp, memmap=True) as hdul:
            if keep_nrej:
                nrej_kept = n - np.array(hdul["NUSED"].data, dtype=np.int32)
            master = hdul[0]
            data = master.data if dtype is None else master.data.astype(dtype)
            with atomic_path(output, overwrite=overwrite) as t:
                fits.PrimaryHDU(data, header=_clean_header(master.header)).writeto(t)
            for name, path in products.items():
                ext = hdul[FITS_EXTNAMES[_SOURCE[name]]] if _SOURCE[name] in outs else None
                if ext is None:  # e.g. std without a sigma-type rejector
                    continue
                arr = ext.data
                if name == "nrej":
                    arr = (n - arr.astype(np.int32)).astype(np.int16 if n < 32768 else np.int32)
                elif name == "mask":
                    arr = arr.astype(np.uint8)
                hdr = fits.Header()
                hdr["IMCPROD"] = (name, "imcombiners diagnostic product")
                hdr["IMCMAST"] = (os.path.basename(output), "master image")
                hdr["NCOMBINE"] = (n, "number of images combined")
                with atomic_path(path, overwrite=overwrite) as t:
                    fits.PrimaryHDU(arr, header=hdr).writeto(t)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return nrej_kept


def _clean_header(header: Any) -> Any:
    h = header.copy()
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "BZERO", "BSCALE"):
        h.remove(key, ignore_missing=True, remove_all=True)
    return h


def _recast(path: str, dtype: str) -> None:
    from astropy.io import fits

    from imcombiners.io.atomic import atomic_path

    with fits.open(path, memmap=True) as hdul:
        if hdul[0].data.dtype == np.dtype(dtype):
            return
        data = hdul[0].data.astype(dtype)
        header = _clean_header(hdul[0].header)
    with atomic_path(path, overwrite=True) as t:
        fits.PrimaryHDU(data, header=header).writeto(t)


def _write_preview(info: InputInfo, output: str, to_zarr: bool, preview: str,
                   nrej: np.ndarray | None) -> None:
    from astropy.io import fits

    from imcombiners.io.fits import probe
    from imcombiners.quicklook import quicklook

    first = probe(info.paths[0], info.hdus[0]).read()
    if to_zarr:
        import zarr

        group = zarr.open_group(output, mode="r")
        master = np.asarray(group["data"])
        nrej = info.n - np.asarray(group["nused"]).astype(np.int32)
    else:
        master = fits.getdata(output)
    if master.ndim != 2:
        raise CLIError(f"--preview needs 2-D images, the master has shape {master.shape}")
    panels = [first, master]
    titles = [os.path.basename(info.paths[0]), "master"]
    if nrej is not None:
        panels.append(np.asarray(nrej).astype(np.int32))
        titles.append("samples not used")
    from imcombiners.io.atomic import atomic_path

    with atomic_path(preview, overwrite=True) as t:
        quicklook(panels, t + ".png", titles=titles)
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
               workers=workers, scheduler=scheduler)
    kw = _combine_kwargs(info, job)
    for k in ("zero", "scale", "weights", "statsec", "blank", "thresholds"):
        kw.pop(k)
    plan = imd.plan(info.paths, streaming=True, **kw)
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
    from imcombiners.io.fits import probe

    shape = info.shape
    width = math.prod(shape[1:])
    rows = max(1, min(shape[0], 32768 // max(1, width)))
    window = (slice(0, rows),) + tuple(slice(0, s) for s in shape[1:])
    t0 = time.perf_counter()
    frames = [probe(p, h).read(window) for p, h in zip(info.paths, info.hdus)]
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


# ----------------------------------------------------------------------------- IRAF form


def run_imcombine(call: Any, *, overwrite: bool = False, quiet: bool = False) -> None:
    """Run :func:`imcombiners.imcombine` for a parsed IRAF task call and write its images."""
    from astropy.io import fits

    import imcombiners as imc
    from imcombiners.io.atomic import atomic_path
    from imcombiners.io.provenance import provenance_cards, provenance_dict

    from ._inputs import expand_inputs
    from ._iraf import imcombine_kwargs

    paths = expand_inputs(call.inputs)
    info = inspect_inputs(paths)
    kwargs = imcombine_kwargs(call.kwargs)
    # Compute only the products the user asked for (IRAF's sigmas/rejmasks/... outputs).
    wanted = {"sigmas": "sigma", "rejmasks": "rejmask", "nrejmasks": "nrejmask", "expmasks": "expmask",
              "bpmasks": "bpmask"}
    kwargs["products"] = [wanted[k] for k in call.products if k in wanted] or "none"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")  # every warning is in res.warnings, printed below
        res = imc.imcombine(paths, **kwargs)

    # IRAF's output header: the first input's keywords, the shifted world/physical
    # system and NCOMBINE (res.header); then the provenance of this run.
    header = fits.Header()
    for key, value in (res.header or {}).items():
        if key.startswith("NAXIS") or not isinstance(value, (str, int, float, bool)):
            continue
        header[key] = value
    params = {"task": "imcombine", **{k: v for k, v in kwargs.items()}}
    prov = provenance_dict(inputs=paths, ncombine=int(res.header.get("NCOMBINE", len(paths))) if res.header
                           else len(paths), parameters=params, zero=res.zero, scale=res.scale, weights=res.weight)
    for key, value, comment in provenance_cards(prov):
        header[key] = (value, comment)
    if "bpmasks" in call.products:
        header["BPM"] = (os.path.basename(call.products["bpmasks"]), "bad pixel mask of this image")

    def write(path: str, data: np.ndarray, hdr: Any = None) -> None:
        with atomic_path(path, overwrite=overwrite) as t:
            fits.PrimaryHDU(data, header=hdr).writeto(t)

    write(call.output, res.output, header)
    small = fits.Header()
    small["IMCMAST"] = (os.path.basename(call.output), "master image")
    small["NCOMBINE"] = (len(paths), "number of images combined")
    if "sigmas" in call.products:
        write(call.products["sigmas"], res.sigma, small)
    if "rejmasks" in call.products:
        write(call.products["rejmasks"], res.rejmask.astype(np.uint8), small)
    if "nrejmasks" in call.products:
        write(call.products["nrejmasks"], res.nrejmask.astype(np.int32), small)
    if "expmasks" in call.products:
        hdr = small.copy()
        hdr["MASKSCAL"] = res.maskscal
        hdr["MASKZERO"] = res.maskzero
        write(call.products["expmasks"], res.expmask.astype(np.int32), hdr)
    if "bpmasks" in call.products:
        write(call.products["bpmasks"], res.bpmask.astype(np.int32), small)
    if "headers" in call.products:
        _write_headers(call.products["headers"], call.output, paths, info.hdus, overwrite)
    for w in res.warnings:
        print(f"imcombiners imcombine: warning: {w}", file=sys.stderr)
    if call.logfile and not quiet:
        _iraf_log(call, paths, res, kwargs)


def _write_headers(name: str, output: str, paths: list[str], hdus: Any, overwrite: bool) -> None:
    """IRAF's ``headers`` output: one data-less extension per input holding its header
    (``AXLENn`` for its axes, ``INIMAGE``, ``OUTIMAGE``, ``EXTNAME``)."""
    from astropy.io import fits

    from imcombiners.io.atomic import atomic_path

    path = name if name.lower().endswith(".fits") else name + ".fits"
    hdul = fits.HDUList([fits.PrimaryHDU()])
    for p, hdu in zip(paths, hdus):
        src = fits.getheader(p, hdu)
        h = fits.Header()
        for card in src.cards:
            key = card.keyword
            if key in ("SIMPLE", "XTENSION", "BITPIX", "EXTEND", "PCOUNT", "GCOUNT", "END", "BZERO", "BSCALE",
                       "EXTNAME") or key.startswith("NAXIS"):
                continue
            h.append(card, end=True)
        for d in range(int(src.get("NAXIS", 0))):
            h[f"AXLEN{d + 1}"] = int(src[f"NAXIS{d + 1}"])
        h["INIMAGE"] = os.path.basename(p)
        h["OUTIMAGE"] = os.path.basename(output)
        h["EXTNAME"] = os.path.basename(p)
        hdul.append(fits.ImageHDU(header=h))
    with atomic_path(path, overwrite=overwrite) as t:
        hdul.writeto(t)


def _iraf_log(call: Any, paths: list[str], res: Any, kwargs: Mapping[str, Any]) -> None:
    """A log in the spirit of IRAF's (parameters, per-image factors, output)."""
    p = {"combine": "average", "reject": "none", "scale": "none", "zero": "none", "weight": "none",
         **kwargs}
    lines = [time.strftime("%b %e %H:%M: IMCOMBINE (imcombiners)")]
    lines.append(f"  combine = {p['combine']}, scale = {_txt(p['scale'])}, zero = {_txt(p['zero'])}, "
                 f"weight = {_txt(p['weight'])}")
    if p["reject"] != "none":
        extra = ", ".join(f"{k} = {_txt(kwargs[k])}" for k in
                          ("mclip", "nkeep", "lsigma", "hsigma", "nlow", "nhigh", "rdnoise", "gain",
                           "snoise", "sigscale", "pclip", "grow") if k in kwargs)
        lines.append(f"  reject = {p['reject']}" + (f", {extra}" if extra else ""))
    lines.append(f"  {'Images':<32s} {'Zero':>10s} {'Scale':>8s} {'Weight':>8s}")
    for i, path in enumerate(paths):
        lines.append(f"  {os.path.basename(path):<32s} {float(res.zero[i]):10.5g} "
                     f"{float(res.scale[i]):8.4f} {float(res.weight[i]):8.4f}")
    lines.append(f"  Output image = {call.output}, ncombine = {len(paths)}")
    for name, path in call.products.items():
        lines.append(f"  {name[:-1].capitalize()} image = {path}" if name.endswith("s") else f"  {path}")
    text = "\n".join(lines) + "\n"
    if call.logfile == "STDOUT":
        sys.stdout.write(text)
    else:
        with open(call.logfile, "a") as fh:
            fh.write(text)


def _txt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "@list"
    return str(v)
