"""Combining FITS files in this process without Dask: the command line's local engine.

Why: for a job that runs on this machine, a Dask graph costs more than it gives
(importing dask, xarray and pandas takes longer than combining ten frames), so the
command line runs the tile tasks itself:

* the image is cut into strips of whole rows (plus a halo of ``grow`` rows); a stack
  small enough is one strip, combined with every core;
* otherwise one thread per core takes strips in turn: it reads the strip of every input
  into buffers it keeps (memory is touched once), combines it with one kernel thread and
  writes its rows of every output file, so reading one strip overlaps combining another;
* under ``--memory-limit`` the strip height and the number of strips at once follow the
  memory model as the Dask planner (:mod:`imcombiners._memory_model`: baseline + strips
  at once x bytes per strip, with its safety factor), plus what this engine holds besides.

The job, the zero/scale/weight statistics and the provenance are those of
:func:`imcombiners.dask.combine` (:func:`imcombiners._job.library_job`,
:func:`imcombiners._stats.frame_statistic` on the same regions,
:func:`imcombiners.io.provenance.library_parameters`); since an output pixel depends only
on its samples and the job, the results are the same bits.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from imcombiners import _memory_model as memory_model
from imcombiners._memory_model import FRAME_READ, MAX_TASK_INPUT, SAFETY, TASK_OVERHEAD
from imcombiners._record import Record
from imcombiners.io import page_cache

from ._check import InputInfo

__all__ = ["StripPlan", "LocalRun", "StackPrefetch", "plan_strips", "prepare_local", "prefetch_stack", "run_strips",
           "KERNEL_DTYPES"]

#: Input bytes of one strip we aim for: small enough that strips overlap and balance,
#: large enough that a kernel call amortises its set-up.
STRIP_INPUT = 32 << 20
#: dtypes the kernels take as input.
KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.float32,
                                                 np.float64))


class StripPlan(Record):
    """How the local engine cuts the image and how many strips it runs at once.

    Attributes
    ----------
    rows : int
        Output rows per strip (the last strip may be shorter).
    halo : int
        Extra rows read above and below a strip (grow), cropped after the kernel.
    threads : int
        Strips combined at once (one kernel thread each); a single strip uses
        ``threads`` kernel threads.
    per_strip : int
        Predicted bytes of one strip being combined.
    baseline : int
        Resident memory of the process before the run (0 when not measured).
    memory_limit : int or None
    """

    rows: int
    halo: int
    threads: int
    per_strip: int
    baseline: int
    memory_limit: int | None
    height: int

    @property
    def nstrips(self) -> int:
        return -(-self.height // self.rows)

    @property
    def predicted_peak(self) -> int:
        return self.baseline + min(self.threads, self.nstrips) * self.per_strip


def bytes_per_pixel(n: int, itemsize: int, work_itemsize: int, out_dtypes: Mapping[str, np.dtype],
                    disk_itemsize: int, grow_stages: int) -> int:
    """Bytes per strip pixel while it is combined: the shared model's (the N samples, the
    outputs, grow scratch), plus what this engine adds: one frame's raw words as read,
    the stored copy of the outputs, the widest output's conversion and the workspace row."""
    dq = out_dtypes.get("dq")
    running, kept = memory_model.bytes_per_pixel(n, itemsize, work_itemsize, list(out_dtypes), False, grow_stages,
                                                 dq_itemsize=None if dq is None else np.dtype(dq).itemsize)
    widest = max((memory_model.output_bytes(name, n, work_itemsize, None if dq is None else np.dtype(dq).itemsize)
                  for name in out_dtypes), default=0)
    return int(running) + disk_itemsize + kept + widest + work_itemsize


def plan_strips(n: int, spatial: tuple[int, ...], itemsize: int, per_pixel: int, halo: int,
                memory_limit: int | None, threads: int | None, sorted_store: bool = False,
                read_scratch: int = 0) -> StripPlan:
    """Strip height and strips at once for N frames of ``spatial`` under ``memory_limit``
    (``sorted_store``: the kernel keeps sorted lines, AvSigClip; see
    :func:`imcombiners._memory_model.sorted_store_bytes`; ``read_scratch``: bytes a reading
    thread holds besides its strip, see :func:`imcombiners.io.fits.direct.scratch_bytes`).

    Raises
    ------
    MemoryError
        When even one row of the N frames does not fit the limit.
    """
    height = spatial[0]
    row_px = math.prod(spatial[1:])

    def store(px: int, workers: int = 1) -> int:
        return memory_model.sorted_store_bytes(n, px, row_px, workers) if sorted_store else 0

    def strip_cost(px: int, workers: int = 1) -> int:
        """Predicted bytes of a strip of ``px`` pixels whose kernel runs on ``workers`` threads."""
        return int(SAFETY * (px * per_pixel + store(px, workers))) + TASK_OVERHEAD + read_scratch
    threads = max(1, int(threads or os.cpu_count() or 1))
    strip_row = max(1, n * row_px * itemsize)  # input bytes of one row of every frame
    rows = max(1, STRIP_INPUT // strip_row)
    # Hundreds of frames: a strip of STRIP_INPUT reads a few rows of each file. Read
    # FRAME_READ of each (fewer, larger requests) while a strip stays under
    # MAX_TASK_INPUT; the memory limit below may lower it again.
    rows = max(rows, min(-(-FRAME_READ // max(1, row_px * itemsize)), MAX_TASK_INPUT // strip_row))
    baseline = 0
    if memory_limit is not None:
        baseline = memory_model.process_baseline()
        budget = memory_limit - baseline

        def strip_bytes(r: int) -> int:
            return strip_cost(min(height, r + 2 * halo) * row_px)

        if budget < strip_bytes(1):
            raise MemoryError(
                f"--memory-limit {memory_limit / 2**20:.0f} MiB leaves {max(budget, 0) / 2**20:.0f} MiB "
                f"after the process baseline ({baseline / 2**20:.0f} MiB); even one row of {n} frames "
                f"needs {strip_bytes(1) / 2**20:.1f} MiB. Raise --memory-limit or ask for fewer "
                "diagnostics."
            )
        threads = max(1, min(threads, budget // strip_bytes(1)))
        fit = int(((budget / threads - TASK_OVERHEAD - read_scratch) / SAFETY - store(height * row_px)) // (row_px * per_pixel)) - 2 * halo
        rows = max(1, min(rows, fit))
    rows = min(rows, height)
    if rows < height:
        # every thread busy: at least two strips per thread when the rows allow
        rows = max(1, min(rows, -(-height // (2 * threads))))
    per_strip = strip_cost(min(height, rows + 2 * halo) * row_px)
    if rows >= height:
        # a single strip runs the kernel on every thread, each worker with a store of its own
        alone = strip_cost(height * row_px, threads)
        if memory_limit is None or alone <= memory_limit - baseline or height == 1:
            per_strip = alone
        else:  # two strips of one kernel thread each fit where one strip on all does not
            rows = -(-height // 2)
            per_strip = strip_cost(min(height, rows + 2 * halo) * row_px)
    return StripPlan(rows=rows, halo=halo, threads=threads, per_strip=per_strip, baseline=baseline,
                     memory_limit=memory_limit, height=height)


# ----------------------------------------------------------------------------- the job


class LocalRun(Record, frozen=False):
    """Everything a local run needs, prepared before any output file is created.

    Attributes
    ----------
    frames : list of FitsFrame
    dtype : numpy.dtype
        The stack's dtype (the inputs' common type, as the Dask sources read it).
    job : imcombiners._job.Job
    out_dtypes : dict of str to numpy.dtype
        Every output of the job.
    provenance : dict
    zero, scale, weights : ndarray or None
        The factors used.
    halo : int
    grow_stages : int
        Rejector stages with grow.
    uncached : bool
        The frames are read past the page cache (:mod:`imcombiners.io.page_cache`).
    """

    frames: list
    dtype: np.dtype
    job: Any
    out_dtypes: dict[str, np.dtype]
    provenance: dict
    zero: np.ndarray | None
    scale: np.ndarray | None
    weights: np.ndarray | None
    halo: int
    grow_stages: int
    uncached: bool = False

    @property
    def n(self) -> int:
        return len(self.frames)

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(self.frames[0].shape)


def stack_dtype(frames: Sequence[Any]) -> np.dtype | None:
    """The dtype the stack is read in (the inputs' common type), None if no kernel takes it."""
    dtypes = {np.dtype(f.dtype) for f in frames}
    dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes.pop()
    dtype = np.dtype(dtype).newbyteorder("=")
    return dtype if dtype in KERNEL_DTYPES else None


def _statistics(frames: Sequence[Any], dtype: np.dtype, specs: list, statsec: Any, thresholds: Any,
                threads: int) -> dict[tuple[int, Any], float]:
    """Every statistic of every frame, each read over its statistics region only."""
    from imcombiners._stats import frame_statistic, parse_statsec
    from imcombiners._validate import as_thresholds
    from imcombiners.io.fits.window import normalise_window, window_shape

    spatial = tuple(frames[0].shape)
    region = parse_statsec(statsec, spatial)
    win = normalise_window(spatial, region)
    thr = as_thresholds(thresholds)

    def one(i: int) -> list[float]:
        frame = frames[i].read(win, out=np.empty(window_shape(win), dtype))
        return [float(frame_statistic(frame, None, spec, thresholds=thr)) for spec in specs]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="imc-stats") as pool:
        values = list(pool.map(one, range(len(frames))))
    return {(i, spec): values[i][k] for i in range(len(frames)) for k, spec in enumerate(specs)}


def prepare_local(info: InputInfo, *, method: str, rejectors: Sequence[Any], thresholds: Any,
                  zero: Any, scale: Any, weights: Any, statsec: Any, blank: float | None, ddof: int,
                  outputs: Sequence[str], threads: int) -> LocalRun:
    """Resolve zero/scale/weights, build and check the job, find every output's dtype."""
    from imcombiners._job import library_job, run_job
    from imcombiners._stats import canonical_statistic, resolve_normalisation
    from imcombiners.io.provenance import library_parameters, provenance_dict

    frames = list(info.frames)
    # a stack larger than the memory is read past the page cache (as the Dask engine)
    uncached = page_cache.bypass(frames)
    if uncached:
        frames = [page_cache.past_cache(f) for f in frames]
    dtype = stack_dtype(frames)
    if dtype is None:
        raise TypeError("the inputs' pixel type is not one the kernels take")
    n = len(frames)
    specs: list[Any] = []
    for v in (zero, scale, weights):
        if isinstance(v, str):
            spec = canonical_statistic(v)
            if spec not in specs:
                specs.append(spec)
    table = _statistics(frames, dtype, specs, statsec, thresholds, threads) if specs else {}
    z, s, w = resolve_normalisation(n, zero, scale, weights, stat_of=lambda i, spec: table[(i, spec)],
                                    relative=True)
    rej = tuple(rejectors)
    job = library_job(method, rejectors=rej, thresholds=thresholds, zero=z, scale=s, weights=w,
                      ddof=ddof, q=None, blank=blank, want=frozenset(outputs))
    job.check_n(n)
    # dtype of every output from the kernel itself on a 1-pixel stack (as the Dask engine)
    probe = run_job(np.zeros((n,) + (1,) * len(info.shape), dtype), None, job, threads=1, check_mem=False)
    out_dtypes = {k: np.asarray(v).dtype for k, v in probe.items() if isinstance(v, np.ndarray)}
    grows = [r.grow_radius for r in rej if getattr(r, "grow_radius", None)]
    halo = sum(math.ceil(g) for g in grows)
    prov = provenance_dict(
        inputs=list(info.paths), ncombine=n,
        parameters=library_parameters(job.method, rej, thresholds, zero, scale, weights, statsec, ddof,
                                      None, blank, job.want, None),
        zero=z, scale=s, weights=w,
    )
    return LocalRun(frames, dtype, job, out_dtypes, prov, z, s, w, halo, len(grows), uncached)


# ----------------------------------------------------------------------------- prefetch


class StackPrefetch:
    """The whole stack of a small job, read by a background thread.

    Why: a small job is one strip, and its reading (positioned reads into fresh memory,
    byte swaps) is ~10 % of a whole-process run. Started as soon as the inputs are
    checked, it overlaps what the run does before the first strip (importing the
    engine, building the job, creating the output files) instead of following it.
    The frames are read exactly as the strip would read them (:meth:`FitsFrame.read`
    of the whole image into the stack's dtype), so the bits are the same.
    """

    def __init__(self, frames: Sequence[Any], dtype: np.dtype) -> None:
        self.shape = (len(frames),) + tuple(frames[0].shape)
        self.dtype = np.dtype(dtype)
        self._stack: np.ndarray | None = None
        self._error: BaseException | None = None
        # a daemon: a run that fails before its strip does not wait for the read
        self._thread = threading.Thread(target=self._read, args=(list(frames),), name="imc-prefetch", daemon=True)
        self._thread.start()

    def _read(self, frames: list) -> None:
        try:
            stack = np.empty(self.shape, self.dtype)
            for i, frame in enumerate(frames):
                frame.read(None, out=stack[i])
            self._stack = stack
        except BaseException as exc:  # raised where the strip would have read
            self._error = exc

    def take(self) -> np.ndarray:
        """The stack (waits for the read; raises its error). Once only."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        stack, self._stack = self._stack, None
        if stack is None:
            raise RuntimeError("the prefetched stack was already taken")
        return stack


def prefetch_stack(frames: Sequence[Any]) -> StackPrefetch | None:
    """Start reading the whole stack when the job is small (one strip of at most
    :data:`STRIP_INPUT` bytes, plain uncompressed files, a kernel dtype); else None.

    Only for runs without a memory limit: the limit's baseline is measured before the
    first strip, and an early stack would count in it.
    """
    dtype = stack_dtype(frames)
    if dtype is None or any(f.compressed or f.container for f in frames):
        return None
    if len({tuple(f.shape) for f in frames}) != 1:
        return None
    if len(frames) * math.prod(frames[0].shape) * dtype.itemsize > STRIP_INPUT:
        return None
    return StackPrefetch(frames, dtype)


# ----------------------------------------------------------------------------- strips


def run_strips(run: LocalRun, plan: StripPlan, targets: Mapping[str, Any],
               progress: Callable[[int, int], object] | None = None,
               prefetched: StackPrefetch | None = None) -> None:
    """Read, combine and write every strip of ``run`` into ``targets`` (output -> region target).

    A failing strip stops the run: strips not started are cancelled, those running finish
    (so none writes into a file the caller is about to discard), then the error is raised.
    ``prefetched``: the whole stack being read already (:func:`prefetch_stack`), used
    when the run is one strip of the same shape and dtype.
    """
    from imcombiners._buffers import tile_buffer
    from imcombiners._job import run_job

    n, spatial, halo = run.n, run.spatial, plan.halo
    height = spatial[0]
    strips = [(y0, min(height, y0 + plan.rows)) for y0 in range(0, height, plan.rows)]
    single = len(strips) == 1
    if not (single and prefetched is not None and prefetched.shape == (n, height) + spatial[1:]
            and prefetched.dtype == run.dtype):
        prefetched = None
    pool = None
    if prefetched is None:  # (a prefetched run needs no pool: no concurrent.futures to import)
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=plan.threads, thread_name_prefix="imc-strip")

    def read_into(i: int, buf: np.ndarray, win: tuple[slice, ...], rows: int) -> None:
        run.frames[i].read(win, out=buf[i, :rows])

    def strip(y0: int, y1: int) -> None:
        r0, r1 = max(0, y0 - halo), min(height, y1 + halo)
        rows = r1 - r0
        win = (slice(r0, r1),) + tuple(slice(0, s) for s in spatial[1:])
        if prefetched is not None:
            frames: Any = prefetched.take()  # the whole image (one strip: no halo rows)
            kernel_threads = plan.threads
        elif single:
            buf = np.empty((n, rows) + spatial[1:], run.dtype)
            list(pool.map(lambda i: read_into(i, buf, win, rows), range(n)))  # frames in parallel
            frames = buf
            kernel_threads = plan.threads
        else:
            # Every strip reads into the thread's buffer of a full strip (see _buffers).
            buf = tile_buffer("strip", (n, min(height, plan.rows + 2 * halo)) + spatial[1:], run.dtype)
            for i in range(n):
                read_into(i, buf, win, rows)
            frames = buf if rows == buf.shape[1] else [buf[i, :rows] for i in range(n)]
            kernel_threads = 1
        res = run_job(frames, None, run.job, threads=kernel_threads, check_mem=False)
        del frames
        crop = slice(y0 - r0, y0 - r0 + (y1 - y0))
        out = {}
        for name in targets:
            arr = res[name]
            out[name] = arr[:, crop] if arr.ndim == len(spatial) + 1 else arr[crop]
        for name, target in targets.items():
            arr = out[name]
            target[(slice(None), slice(y0, y1)) if arr.ndim == len(spatial) + 1 else (slice(y0, y1),)] = arr

    try:
        if single:
            strip(*strips[0])
            if progress is not None:
                progress(1, 1)
            return
        from concurrent.futures import as_completed

        futures = [pool.submit(strip, y0, y1) for y0, y1 in strips]
        for done, fut in enumerate(as_completed(futures), start=1):
            fut.result()  # raises the strip's error
            if progress is not None:
                progress(done, len(strips))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
