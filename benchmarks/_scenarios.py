"""The benchmark scenarios of the speed issue and the implementations each one times.

Families: `floor` (one read of the stack), `peer` (NumPy, bottleneck, astropy,
ccdproc, in this process), `imc011` (PyPI imcombiners 0.1.1 in its own venv, through
peer_imc011.py), `iraf` (real IRAF via irafcl), `ours` (this repository).

Our implementations are only imported inside their set-up functions, so a missing or
broken entry point becomes an "error: ..." row instead of stopping the run.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

import _formulations as F
import _iraf
from _common import use_repo_package
from _imc011 import make_setup as imc011_setup
from _timing import Impl

SIG = {"sigma": 3.0, "maxiters": 5, "cenfunc": "median"}
# CCD model parameters. gain = 1 makes 0.1.1's (pre-IRAF) noise model equal to IRAF's,
# so all three implementations clip the same samples and the outputs are comparable.
CCD = {"sigma": 3.0, "maxiters": 5, "cenfunc": "median", "rdnoise": 5.0, "gain": 1.0}


@dataclass
class Scenario:
    id: str
    title: str
    full: tuple[int, int, int]
    quick: tuple[int, int, int]
    kind: str  # stack | imcombine | memory | ooc
    target: str  # human text of the target
    # speedup: peer/ours >= value; floor: ours/floor <= value; slower: ours/target <= value
    target_kind: str = "speedup"
    target_value: float = 1.0
    imc011_factor: float = 2.0  # we must be this much faster than 0.1.1's best form


SCENARIOS = [
    Scenario("mean", "mean", (20, 2048, 2048), (20, 256, 256), "stack",
             "time <= 2x NumPy stack.sum(axis=0)", "floor", 2.0),
    Scenario("median", "median", (20, 2048, 2048), (20, 256, 256), "stack",
             ">= 5x faster than bottleneck.nanmedian", "speedup", 5.0),
    Scenario("sigclip-mean", "SigClip(3, maxiters=5, median centre) + mean",
             (20, 2048, 2048), (20, 256, 256), "stack",
             ">= 15x faster than astropy sigma_clip + bottleneck", "speedup", 15.0),
    Scenario("sigclip-median", "SigClip(3, maxiters=5, median centre) + median",
             (20, 2048, 2048), (20, 256, 256), "stack",
             ">= 15x faster than astropy sigma_clip + bottleneck", "speedup", 15.0),
    Scenario("ccdclip-mean", "CcdClip(rdnoise=5, gain=1, 3 sigma, maxiters=5) + mean",
             (20, 2048, 2048), (20, 256, 256), "stack",
             ">= 5x faster than the best NumPy/astropy/ccdproc formulation", "speedup", 5.0),
    Scenario("minmax-mean", "MinMaxClip(1, 1) + mean", (20, 2048, 2048), (20, 256, 256),
             "stack", ">= 5x faster than the best NumPy/astropy/ccdproc formulation",
             "speedup", 5.0),
    Scenario("pclip-median", "PClip() + median", (20, 2048, 2048), (20, 256, 256), "stack",
             ">= 5x faster than the best NumPy/astropy/ccdproc formulation", "speedup", 5.0),
    Scenario("rejectors-modern", "WinsorizedSigClip, GESDClip, LinearFitClip + mean vs SigClip",
             (20, 2048, 2048), (20, 256, 256), "stack",
             "time <= 2x SigClip(3, maxiters=5, median centre) + mean", "slower", 2.0),
    Scenario("median-n100", "median, 100 x 1024 x 1024", (100, 1024, 1024), (100, 128, 128),
             "stack", ">= 5x faster than bottleneck.nanmedian", "speedup", 5.0),
    Scenario("median-n5", "median, 5 x 4096 x 4096", (5, 4096, 4096), (5, 512, 512),
             "stack", ">= 5x faster than bottleneck.nanmedian", "speedup", 5.0),
    Scenario("imcombine", "imcombine() on 20 FITS files (page cache), combine=median "
             "reject=sigclip", (20, 2048, 2048), (20, 256, 256), "imcombine",
             ">= 10x faster than IRAF 2.17 imcombine", "speedup", 10.0),
    Scenario("memory", "peak extra memory, output-only path with rejection and zero/scale",
             (20, 2048, 2048), (20, 256, 256), "memory",
             "peak extra RSS <= output + 64 MB (no copy of the stack)", "memory", 64.0),
    Scenario("ooc", "out-of-core: 60 FITS files, median + sigclip, memory_limit 256 MB",
             (60, 2048, 2048), (60, 256, 256), "ooc",
             "report time, peak RSS and throughput vs ccdproc, in-memory and raw reads",
             "report", 0.0),
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _ours() -> object:
    use_repo_package()
    import imcombiners

    return imcombiners


def _as_image(res) -> np.ndarray:
    """Our results may be arrays, result objects (.data/.output) or lazy (.compute())."""
    if isinstance(res, np.ndarray):
        return res
    if hasattr(res, "compute"):
        res = res.compute()
    for attr in ("output", "data"):
        if not isinstance(res, np.ndarray) and hasattr(res, attr):
            res = getattr(res, attr)
    return np.asarray(res)


def _threads2_sum(stack: np.ndarray) -> np.ndarray:
    """stack.sum(axis=0) split over 2 threads by rows (NumPy releases the GIL)."""
    h = stack.shape[1]
    out = np.empty(stack.shape[1:], stack.dtype)

    def part(sl):
        np.sum(stack[:, sl], axis=0, out=out[sl])

    with ThreadPoolExecutor(2) as ex:
        list(ex.map(part, [slice(0, h // 2), slice(h // 2, h)]))
    return out


def _ccd_list(stack):
    from astropy.nddata import CCDData

    return [CCDData(f, unit="adu") for f in stack]  # views, no copies


def _ccdproc_combine(stack, **kw) -> Callable[[], np.ndarray]:
    import ccdproc
    from astropy.utils.exceptions import AstropyWarning

    ccds = _ccd_list(stack)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(ccdproc.combine(ccds, **kw).data)

    return run


def _astropy_clip(stack):
    from astropy.stats import sigma_clip

    # The fast C path: string cenfunc/stdfunc, axis given, NaN-filled (masked=False);
    # copy=True because copy=False writes NaNs into the caller's array.
    return sigma_clip(stack, sigma=3.0, maxiters=5, cenfunc="median", stdfunc="std",
                      axis=0, masked=False, copy=True)


def floor_impls(stack: np.ndarray) -> list[Impl]:
    return [
        Impl("numpy stack.sum(axis=0) [floor]", "floor",
             lambda: (lambda: stack.sum(axis=0)), note="one read of the stack"),
        Impl("numpy sum, 2 threads by rows", "floor",
             lambda: (lambda: _threads2_sum(stack)), threads="2"),
    ]


def _imc011(ctx, name: str, call: dict, note: str = "") -> Impl:
    return Impl(name, "imc011", imc011_setup(ctx.driver, call, ctx.npy, ctx.tmpdir),
                threads="all", note=note, self_timed=True)


# ---------------------------------------------------------------------------
# per-scenario implementation lists
# ---------------------------------------------------------------------------

def stack_impls(sc: Scenario, stack: np.ndarray, ctx) -> list[Impl]:
    import bottleneck as bn

    s = stack
    I = Impl  # noqa: E741 - short alias keeps the tables below readable
    impls = floor_impls(s)
    sid = sc.id

    if sid == "mean":
        impls += [
            I("numpy.mean", "peer", lambda: (lambda: s.mean(axis=0)), is_reference=True),
            I("bottleneck.nanmean", "peer", lambda: (lambda: bn.nanmean(s, axis=0))),
            I("ccdproc.combine(average)", "peer",
              lambda: _ccdproc_combine(s, method="average")),
            I("imcombiners.kernels.mean", "ours",
              lambda: (lambda k=_ours().kernels: k.mean(s)), threads="all"),
            I("Combiner(stack).combine('mean')", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine("mean"))),
              threads="all"),
            _imc011(ctx, "0.1.1 ndcombine(combine='mean')",
                    {"impl": "ndcombine", "kwargs": {"combine": "mean"}}),
            _imc011(ctx, "0.1.1 Combiner(copy=False).combine('mean')",
                    {"impl": "combiner", "method": "mean", "init": {"copy": False}}),
        ]
    elif sid == "rejectors-modern":
        # The target is our own SigClip; the new rejectors clip other samples, so the
        # mismatch column (against SigClip's output) only says they ran, not that they agree.
        impls += [
            I("kernels.sigclip_combine(combine='mean')", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.sigclip_combine(s, combine="mean", **SIG))),
              threads="all", is_target=True, is_reference=True),
            I("kernels.sigclip_combine(combine='mean', maxiters=100)", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.sigclip_combine(s, combine="mean", **{**SIG, "maxiters": 100}))),
              threads="all", note="SigClip iterated until nothing changes, as the three below"),
        ]
        for cls, fn in (("WinsorizedSigClip", "winsorized"), ("GESDClip", "gesd"),
                        ("LinearFitClip", "linearfit")):
            impls += [
                I(f"Combiner(stack).combine('mean', rejectors=[{cls}()])", "ours",
                  lambda cls=cls: (lambda m=_ours(): _as_image(m.Combiner(s).combine(
                      "mean", rejectors=[getattr(m, cls)()]))), threads="all"),
                I(f"kernels.{fn}_combine(combine='mean')", "ours",
                  lambda fn=fn: (lambda k=_ours().kernels: _as_image(
                      getattr(k, f"{fn}_combine")(s, combine="mean"))), threads="all"),
            ]
    elif sid in ("median", "median-n100", "median-n5"):
        impls += [
            I("bottleneck.nanmedian", "peer", lambda: (lambda: bn.nanmedian(s, axis=0)),
              is_target=True, is_reference=True),
            I("bottleneck.median", "peer", lambda: (lambda: bn.median(s, axis=0))),
        ]
        if sid == "median":
            impls += [
                I("numpy.median", "peer", lambda: (lambda: np.median(s, axis=0))),
                I("ccdproc.combine(median)", "peer",
                  lambda: _ccdproc_combine(s, method="median")),
            ]
        impls += [
            I("imcombiners.kernels.median", "ours",
              lambda: (lambda k=_ours().kernels: k.median(s)), threads="all"),
            I("Combiner(stack).combine('median')", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine("median"))),
              threads="all"),
            _imc011(ctx, "0.1.1 ndcombine(combine='median')",
                    {"impl": "ndcombine", "kwargs": {"combine": "median"}}),
            _imc011(ctx, "0.1.1 Combiner(copy=False).combine('median')",
                    {"impl": "combiner", "method": "median", "init": {"copy": False}}),
        ]
    elif sid in ("sigclip-mean", "sigclip-median"):
        method = sid.split("-")[1]
        red = bn.nanmean if method == "mean" else bn.nanmedian
        impls += [
            I(f"astropy sigma_clip(masked=False) + bn.nan{method}", "peer",
              lambda: (lambda: red(_astropy_clip(s), axis=0)),
              is_target=True, is_reference=True,
              note="astropy's C fast path (string cenfunc/stdfunc), 5 iterations"),
            I(f"ccdproc.combine({'average' if method == 'mean' else 'median'}, sigma_clip)",
              "peer",
              lambda: _ccdproc_combine(
                  s, method="average" if method == "mean" else "median", sigma_clip=True,
                  sigma_clip_low_thresh=3, sigma_clip_high_thresh=3,
                  sigma_clip_func=np.ma.median, sigma_clip_dev_func=np.ma.std),
              note="1 clipping iteration only (ccdproc cannot pass maxiters)"),
            I(f"Combiner(stack).combine('{method}', rejectors=[SigClip])", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine(
                  method, rejectors=[m.SigClip(**SIG)]))), threads="all"),
            I(f"kernels.sigclip_combine(combine='{method}')", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.sigclip_combine(s, combine=method, **SIG))), threads="all"),
            _imc011(ctx, f"0.1.1 kernels.sigclip_combine(combine='{method}')",
                    {"impl": "kernel", "func": "sigclip_combine",
                     "kwargs": {"combine": method, **SIG}}),
            _imc011(ctx, f"0.1.1 Combiner(stack).combine('{method}', rejectors=[SigClip])",
                    {"impl": "combiner", "method": method, "rejector": ["SigClip", SIG]}),
        ]
    elif sid == "ccdclip-mean":
        ccd_np = {k: CCD[k] for k in ("sigma", "maxiters", "rdnoise", "gain")}
        impls += [
            I("numpy+bottleneck ccdclip (row bands) + nanmean", "peer",
              lambda: (lambda: F.ccdclip_mean(s, **ccd_np)), is_target=True,
              is_reference=True, note="no astropy/ccdproc equivalent of ccdclip exists"),
            I("Combiner(stack).combine('mean', rejectors=[CcdClip])", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine(
                  "mean", rejectors=[m.CcdClip(**CCD)]))), threads="all"),
            I("kernels.ccdclip_combine(combine='mean')", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.ccdclip_combine(s, combine="mean", **CCD))), threads="all"),
            _imc011(ctx, "0.1.1 kernels.ccdclip_combine(combine='mean')",
                    {"impl": "kernel", "func": "ccdclip_combine",
                     "kwargs": {"combine": "mean", **CCD}},
                    note="0.1.1's noise model equals IRAF's at gain=1"),
        ]
    elif sid == "minmax-mean":
        impls += [
            I("numpy (sum - min - max)/(N - 2)", "peer",
              lambda: (lambda: F.minmax_mean_fast(s)), is_target=True,
              note="algebraic shortcut: only nlow = nhigh = 1, no NaN"),
            I("numpy sort + trim + mean (row bands)", "peer",
              lambda: (lambda: F.minmax_mean_sort(s, 1, 1)), is_reference=True,
              note="general rank form"),
            I("ccdproc.combine(average, clip_extrema)", "peer",
              lambda: _ccdproc_combine(s, method="average", clip_extrema=True,
                                       nlow=1, nhigh=1)),
            I("Combiner(stack).combine('mean', rejectors=[MinMaxClip(1, 1)])", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine(
                  "mean", rejectors=[m.MinMaxClip(1, 1)]))), threads="all"),
            I("kernels.minmax_combine(combine='mean')", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.minmax_combine(s, combine="mean", n_min=1, n_max=1))), threads="all"),
            _imc011(ctx, "0.1.1 kernels.minmax_combine(combine='mean')",
                    {"impl": "kernel", "func": "minmax_combine",
                     "kwargs": {"combine": "mean", "n_min": 1, "n_max": 1}}),
        ]
    elif sid == "pclip-median":
        impls += [
            I("numpy sort + IRAF pclip + median (row bands)", "peer",
              lambda: (lambda: F.pclip_median(s)), is_target=True, is_reference=True,
              note="no astropy/ccdproc equivalent of pclip exists"),
            I("Combiner(stack).combine('median', rejectors=[PClip()])", "ours",
              lambda: (lambda m=_ours(): _as_image(m.Combiner(s).combine(
                  "median", rejectors=[m.PClip()]))), threads="all"),
            I("kernels.pclip_combine(combine='median')", "ours",
              lambda: (lambda k=_ours().kernels: _as_image(
                  k.pclip_combine(s, combine="median"))), threads="all"),
            _imc011(ctx, "0.1.1 kernels.pclip_combine(combine='median')",
                    {"impl": "kernel", "func": "pclip_combine",
                     "kwargs": {"combine": "median"}}),
        ]
    else:
        raise ValueError(f"not a stack scenario: {sid}")
    return impls


def _read_fits_stack(files: list[str]) -> np.ndarray:
    from astropy.io import fits

    first = fits.getdata(files[0], memmap=False)
    out = np.empty((len(files),) + first.shape, np.float32)
    out[0] = first
    for i, name in enumerate(files[1:], 1):
        out[i] = fits.getdata(name, memmap=False)
    return out


def _raw_read(files: list[str]) -> None:
    for name in files:
        with open(name, "rb") as f:
            f.read()


IRAF_PARAMS = {"combine": "median", "reject": "sigclip", "lsigma": 3.0, "hsigma": 3.0,
               "mclip": True, "nkeep": 1}


def imcombine_impls(files: list[str], ctx) -> list[Impl]:
    import bottleneck as bn
    from astropy.stats import sigma_clip

    def py_equiv():
        st = _read_fits_stack(files)
        clipped = sigma_clip(st, sigma=3.0, maxiters=None, cenfunc="median",
                             stdfunc="std", axis=0, masked=False, copy=False)
        return bn.nanmedian(clipped, axis=0)

    has_iraf = _iraf.available()
    return [
        Impl("open().read() of the files [raw read]", "floor",
             lambda: (lambda: _raw_read(files))),
        Impl("astropy fits.getdata into one stack [read]", "floor",
             lambda: (lambda: _read_fits_stack(files))),
        Impl("IRAF 2.17 imcombine (irafcl)", "iraf",
             _iraf.make_setup(files, IRAF_PARAMS), self_timed=True, is_target=True,
             is_reference=has_iraf,
             note="whole irafcl process incl. CL start-up; writes out.fits"),
        Impl("astropy read + sigma_clip(maxiters=None) + bn.nanmedian", "peer",
             lambda: (lambda: py_equiv()),
             note="Python equivalent; astropy's std is about the mean, IRAF's is not"),
        # products="none": only the combined image, as IRAF computes when no sigma or
        # mask outputs are named (the IRAF call above names none)
        Impl("imcombiners.imcombine(paths, combine='median', reject='sigclip', products='none')", "ours",
             lambda: (lambda m=_ours(): _as_image(m.imcombine(
                 files, combine="median", reject="sigclip", products="none"))),
             threads="all", is_reference=not has_iraf),
        Impl("0.1.1 astropy read + ndcombine(median, sigclip, maxiters=100)", "imc011",
             imc011_setup(ctx.driver, {"impl": "fits_ndcombine", "kwargs": {
                 "combine": "median", "reject": "sigclip", "sigma": [3.0, 3.0],
                 "cenfunc": "median", "maxiters": 100}}, None, ctx.tmpdir, files=files),
             threads="all", self_timed=True,
             note="0.1.1 has no FITS/IRAF entry point; its closest workflow"),
    ]


# Memory scenario: (case, interpreter key, is ours, description)
MEMORY_CASES = [
    ("ours:sigclip-mean+scale", "sys", True,
     "Combiner(stack).combine('mean', rejectors=[SigClip], scale='median')"),
    ("ours:sigclip-median+zero", "sys", True,
     "Combiner(stack).combine('median', rejectors=[SigClip], zero='median')"),
    ("imc011:sigclip-mean+scale", "venv", False,
     "0.1.1 Combiner(stack, copy=False).combine('mean', rejectors=[SigClip], scale='median')"),
    ("imc011:sigclip-median+zero", "venv", False,
     "0.1.1 Combiner(stack, copy=False).combine('median', rejectors=[SigClip], zero='median')"),
    ("peer:astropy-sigclip+bn.nanmean", "sys", False,
     "astropy sigma_clip(masked=False) + bn.nanmean (no scaling)"),
    ("peer:bn.nanmedian", "sys", False, "bottleneck.nanmedian (no rejection)"),
]

# Out-of-core scenario: (case, interpreter key, description)
OOC_CASES = [
    ("read:raw", "sys", "open().read() of every file (raw read speed)"),
    ("read:fits", "sys", "astropy fits.getdata of every file into one stack"),
    ("ours:dask-ooc", "sys",
     "imcombiners.dask.combine(files, 'median', [SigClip], memory_limit=LIMIT).compute()"),
    ("ours:inmem-files", "sys", "in-memory path: read all + Combiner median + SigClip"),
    ("ccdproc:combine-files", "sys",
     "ccdproc.combine(files, 'median', sigma_clip, mem_limit=LIMIT) (1 clip iteration)"),
    ("peer:memmap-bands+astropy-sigclip+bn.nanmedian", "sys",
     "hand-written: memmap + row bands + astropy sigma_clip + bn.nanmedian"),
    ("imc011:inmem-files", "venv", "0.1.1: read all + kernels.sigclip_combine(median)"),
]
