"""Interleaved timing of several implementations of one scenario.

Protocol (per scenario): every implementation is set up, then called once untimed
(warm-up: page faults, thread pools, imports); its output is compared with the
scenario's reference implementation and the input is checked for modification. Then
R rounds run the implementations interleaved (A, B, C, A, B, C, ...) so that a change
of machine load hits all of them alike. An implementation whose warm-up took longer
than `slow_s` gets at most `slow_repeats` timed runs.

A failure anywhere (import, set-up, warm-up, a timed run) is recorded as
"error: ..." for that implementation only; the run goes on.
"""

from __future__ import annotations

import gc
import statistics
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# A timed call returns (wall seconds, cpu seconds, output or None).
Timed = tuple[float, float, Any]


@dataclass
class Impl:
    """One implementation of a scenario.

    `setup()` returns a zero-argument callable that performs the work once and returns
    the output image (in-process), or a callable returning a `Timed` triple when
    `self_timed` is set (subprocess engines time themselves).
    """

    name: str
    family: str  # floor | peer | ours | imc011 | iraf
    setup: Callable[[], Callable[[], Any]]
    threads: str = "1"
    note: str = ""
    self_timed: bool = False
    is_target: bool = False  # the peer a target ratio refers to
    is_reference: bool = False  # outputs are compared against this one

    # results
    times: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    warmup: float | None = None
    error: str | None = None
    mismatch_pct: float | None = None
    mismatch_note: str = ""
    modified_input: bool = False

    def stats(self) -> dict:
        t = sorted(self.times)
        if not t:
            return {"n": 0}
        q = statistics.quantiles(t, n=4) if len(t) >= 2 else [t[0], t[0], t[0]]
        cpu_wall = (sum(self.cpus) / sum(self.times)) if self.cpus and sum(self.times) else None
        return {"n": len(t), "min": t[0], "median": statistics.median(t), "max": t[-1],
                "q1": q[0], "q3": q[2], "cpu_wall": cpu_wall}

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def _short_error(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return msg[:300]


def fingerprint(arr: np.ndarray) -> int:
    """Cheap checksum of an array's bytes (to detect implementations writing into it)."""
    return zlib.crc32(memoryview(np.ascontiguousarray(arr)).cast("B"))


def mismatch(out: Any, ref: Any, tol: float) -> tuple[float | None, str]:
    """Percentage of elements that differ by more than tol or in NaN-ness."""
    if out is None or ref is None:
        return None, ""
    try:
        a = np.asarray(out, dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001
        return None, f"output not comparable ({_short_error(exc)})"
    if a.shape != b.shape:
        return None, f"shape {a.shape} != reference {b.shape}"
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    bad = (nan_a != nan_b) | (~nan_a & ~nan_b & (np.abs(a - b) > tol))
    return 100.0 * float(bad.mean()), ""


def _call_timed(fn: Callable[[], Any], self_timed: bool) -> Timed:
    if self_timed:
        return fn()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    t1 = time.perf_counter()
    c1 = time.process_time()
    return t1 - t0, c1 - c0, out


def run_interleaved(impls: list[Impl], *, repeats: int, stack: np.ndarray | None,
                    tol: float = 0.01, slow_s: float = 15.0, slow_repeats: int = 2,
                    log: Callable[[str], None] = print) -> None:
    """Warm up, check and time `impls` in place (results stored on each Impl)."""
    fns: dict[str, Callable[[], Any]] = {}
    ref_out = None
    print_fp = fingerprint(stack) if stack is not None else None
    # Reference first, so every other output can be compared as it is produced.
    order = sorted(impls, key=lambda e: not e.is_reference)
    for impl in order:
        try:
            fn = impl.setup()
            t, _, out = _call_timed(fn, impl.self_timed)
            impl.warmup = t
            fns[impl.name] = fn
        except BaseException as exc:  # noqa: BLE001 - any failure becomes a row
            if isinstance(exc, KeyboardInterrupt):
                raise
            impl.error = _short_error(exc)
            log(f"    {impl.name}: error: {impl.error}")
            log("      " + traceback.format_exc().strip().splitlines()[-1][:200])
            continue
        if impl.is_reference:
            ref_out = out
        elif out is not None and impl.family != "floor":  # floors compute other things
            impl.mismatch_pct, impl.mismatch_note = mismatch(out, ref_out, tol)
        if stack is not None and impl.family != "iraf":
            fp = fingerprint(stack)
            if fp != print_fp:
                impl.modified_input = True
                log(f"    {impl.name}: MODIFIED ITS INPUT (results after it are suspect)")
                print_fp = fp
        log(f"    warm-up {impl.name}: {t:.3f} s")
        del out
        gc.collect()

    budget = {name: (slow_repeats if (next(i for i in impls if i.name == name).warmup or 0)
                     > slow_s else repeats) for name in fns}
    for r in range(repeats):
        for impl in impls:
            fn = fns.get(impl.name)
            if fn is None or budget[impl.name] <= r or impl.error:
                continue
            try:
                t, c, out = _call_timed(fn, impl.self_timed)
                del out
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                impl.error = _short_error(exc)
                log(f"    {impl.name}: error in repeat {r}: {impl.error}")
                continue
            impl.times.append(t)
            impl.cpus.append(c)
            gc.collect()
    del ref_out
