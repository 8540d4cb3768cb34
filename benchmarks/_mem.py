"""Peak-memory (and time) of one operation, measured in a fresh child process.

Usage (run.py does this for you; the parent also records the child's lifetime
ru_maxrss through os.wait4):

    python benchmarks/_mem.py --case ours:sigclip-mean+scale --npy data/stack.npy
    python benchmarks/_mem.py --case ccdproc:combine-files --files-list list.txt --mem-limit 256e6
    .venv-peers/bin/python benchmarks/_mem.py --case imc011:sigclip-mean+scale --npy ...

The child imports what the case needs, loads its input (a .npy stack into RAM, or
nothing for file cases), runs the operation once on a small slice (thread pools,
lazy imports), then:

* resets the kernel's peak-RSS counter (writes 5 to /proc/self/clear_refs, so VmHWM
  restarts from the current RSS) and notes the RSS before the operation;
* samples RssAnon/VmRSS every 2 ms in a thread (private memory vs mapped file pages);
* runs tracemalloc during the operation (it sees NumPy's allocations, not Rust's);
* runs the operation once, timing it.

It prints one JSON line: wall time, rss_before, VmHWM after, peak extra RSS
(VmHWM - rss_before), sampled peak anon, tracemalloc peak, output bytes. Uses only
numpy, the standard library and /proc (Linux), so it also runs in the 0.1.1 venv.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
import tracemalloc

import numpy as np

SIG = {"sigma": 3.0, "maxiters": 5, "cenfunc": "median"}


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Sampler(threading.Thread):
    """Peak RssAnon / VmRSS sampled every `period` seconds (misses sub-ms spikes)."""

    def __init__(self, period: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.stop = threading.Event()
        self.peak_anon = 0
        self.peak_rss = 0

    def run(self) -> None:
        while not self.stop.is_set():
            s = _status()
            self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
            self.peak_rss = max(self.peak_rss, s.get("VmRSS", 0))
            time.sleep(self.period)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _read_fits_stack(files: list[str]) -> np.ndarray:
    from astropy.io import fits

    first = fits.getdata(files[0], memmap=False)
    out = np.empty((len(files),) + first.shape, np.float32)
    out[0] = first
    for i, name in enumerate(files[1:], 1):
        out[i] = fits.getdata(name, memmap=False)
    return out


def _result_array(res):
    """Our result may be an array, a dask array, or a result object with .compute()."""
    if hasattr(res, "compute"):
        res = res.compute()
    if hasattr(res, "data") and not isinstance(res, np.ndarray):
        res = res.data
    if hasattr(res, "output") and not isinstance(res, np.ndarray):
        res = res.output
    return np.asarray(res)


def build_case(case: str, args) -> tuple:
    """Return (operation(input) -> output, input loader, needs warm-up)."""
    fam, _, what = case.partition(":")
    files: list[str] = []
    if args.files_list:
        with open(args.files_list) as f:
            files = [ln.strip() for ln in f if ln.strip()]
    mem_limit = args.mem_limit

    def load_npy():
        return np.load(args.npy)

    if fam == "ours":
        import imcombiners as imc  # this checkout (run.py checked it: `pip install -e .`)

        ops = {
            "sigclip-mean+scale": lambda s: imc.Combiner(s).combine(
                "mean", rejectors=[imc.SigClip(**SIG)], scale="median"),
            "sigclip-median+zero": lambda s: imc.Combiner(s).combine(
                "median", rejectors=[imc.SigClip(**SIG)], zero="median"),
            "sigclip-median": lambda s: imc.Combiner(s).combine(
                "median", rejectors=[imc.SigClip(**SIG)]),
            "median": lambda s: imc.kernels.median(s),
            "dask-ooc": lambda fl: _result_array(imc.dask.combine(
                fl, method="median", rejectors=[imc.SigClip(**SIG)],
                memory_limit=f"{int(mem_limit / 1e6)}MB")),
            "inmem-files": lambda fl: imc.Combiner(_read_fits_stack(fl)).combine(
                "median", rejectors=[imc.SigClip(**SIG)]),
        }
        if what == "dask-ooc":
            import imcombiners.dask  # noqa: F401 - fail early, before the timing
    elif fam == "imc011":
        import imcombiners as imc

        ops = {
            "sigclip-mean+scale": lambda s: imc.Combiner(s, copy=False).combine(
                "mean", rejectors=[imc.SigClip(**SIG)], scale="median"),
            "sigclip-median+zero": lambda s: imc.Combiner(s, copy=False).combine(
                "median", rejectors=[imc.SigClip(**SIG)], zero="median"),
            "sigclip-median": lambda s: imc.kernels.sigclip_combine(s, combine="median", **SIG),
            "inmem-files": lambda fl: imc.kernels.sigclip_combine(
                _read_fits_stack(fl), combine="median", **SIG),
        }
    elif fam == "peer":
        import bottleneck as bn
        from astropy.stats import sigma_clip

        def clip_nan(s):
            return sigma_clip(s, sigma=3.0, maxiters=5, cenfunc="median", stdfunc="std",
                              axis=0, masked=False, copy=True)

        def bands(fl):
            # The simple low-memory hand-written loop: memmap every file, combine bands.
            from astropy.io import fits

            hduls = [fits.open(f, memmap=True) for f in fl]
            datas = [h[0].data for h in hduls]
            n = len(datas)
            h, w = datas[0].shape
            rows = max(1, int(mem_limit / 2 / (n * w * 4 * 4)))  # ~4 temporaries
            out = np.empty((h, w), np.float32)
            for y0 in range(0, h, rows):
                blk = np.stack([d[y0:y0 + rows] for d in datas]).astype(np.float32)
                out[y0:y0 + rows] = bn.nanmedian(clip_nan(blk), axis=0)
            for hd in hduls:
                hd.close()
            return out

        ops = {
            "bn.nanmedian": lambda s: bn.nanmedian(s, axis=0),
            "astropy-sigclip+bn.nanmean": lambda s: bn.nanmean(clip_nan(s), axis=0),
            "astropy-sigclip+bn.nanmedian": lambda s: bn.nanmedian(clip_nan(s), axis=0),
            "memmap-bands+astropy-sigclip+bn.nanmedian": bands,
            "readall+astropy-sigclip+bn.nanmedian":
                lambda fl: bn.nanmedian(clip_nan(_read_fits_stack(fl)), axis=0),
        }
    elif fam == "ccdproc":
        import warnings

        import ccdproc
        from astropy.utils.exceptions import AstropyWarning

        warnings.simplefilter("ignore", AstropyWarning)

        def ccd_files(fl):
            res = ccdproc.combine(fl, method="median", sigma_clip=True,
                                  sigma_clip_low_thresh=3, sigma_clip_high_thresh=3,
                                  sigma_clip_func=np.ma.median, mem_limit=mem_limit,
                                  unit="adu")
            return np.asarray(res.data)

        ops = {"combine-files": ccd_files}
    elif fam == "read":
        def raw(fl):
            total = 0
            for name in fl:
                with open(name, "rb") as f:
                    total += len(f.read())
            return np.array([total])

        ops = {"raw": raw, "fits": _read_fits_stack}
    else:
        raise SystemExit(f"unknown case family {fam!r}")
    if what not in ops:
        raise SystemExit(f"unknown case {case!r}")
    file_case = bool(files)
    return ops[what], (lambda: files) if file_case else load_npy, not file_case


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="peak memory of one operation")
    ap.add_argument("--case", required=True)
    ap.add_argument("--npy")
    ap.add_argument("--files-list")
    ap.add_argument("--mem-limit", type=float, default=256e6)
    a = ap.parse_args(argv)
    s0 = _status()
    op, loader, warm = build_case(a.case, a)
    if a.files_list:
        try:  # import the FITS reader outside the timed call
            import astropy.io.fits  # noqa: F401
        except ImportError:
            pass
    inp = loader()
    if warm and isinstance(inp, np.ndarray):
        op(np.ascontiguousarray(inp[:, :8]))  # thread pools, lazy imports
    gc.collect()
    s_imports = _status()
    hwm_reset = _reset_peak()
    before = _status()
    sampler = Sampler()
    sampler.start()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = op(inp)
    wall = time.perf_counter() - t0
    _, tm_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sampler.stop.set()
    sampler.join()
    after = _status()
    out_bytes = int(np.asarray(out).nbytes)
    peak = after["VmHWM"] if hwm_reset else max(sampler.peak_rss, after["VmRSS"])
    print(json.dumps({
        "case": a.case, "wall": wall, "hwm_reset": hwm_reset,
        "rss_start": s0["VmRSS"], "rss_ready": s_imports["VmRSS"],
        "rss_before": before["VmRSS"], "anon_before": before.get("RssAnon", 0),
        "peak_rss": peak, "peak_extra": peak - before["VmRSS"],
        "peak_anon": max(sampler.peak_anon, after.get("RssAnon", 0)),
        "peak_anon_extra": max(sampler.peak_anon, after.get("RssAnon", 0))
        - before.get("RssAnon", 0),
        "tracemalloc_peak": tm_peak, "output_bytes": out_bytes,
        "input_bytes": int(inp.nbytes) if isinstance(inp, np.ndarray) else None,
    }))
    return 0


def run_child(case: str, python: str, *, npy: str | None = None,
              files_list: str | None = None, mem_limit: float = 256e6,
              timeout: float = 900.0) -> dict:
    """Run one case in a fresh child; adds its lifetime max RSS (os.wait4) and wall."""
    import subprocess

    cmd = [python, os.path.abspath(__file__), "--case", case, "--mem-limit", str(mem_limit)]
    if npy:
        cmd += ["--npy", npy]
    if files_list:
        cmd += ["--files-list", files_list]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, env=env,
                                cwd=os.path.dirname(os.path.abspath(__file__)))
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            out = proc.stdout.read()
            # wait4 gives this child's own rusage: ru_maxrss = its lifetime peak (KiB).
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        process_wall = time.perf_counter() - t0
        errf.seek(0)
        err = errf.read()
    if proc.returncode != 0:
        lines = [ln for ln in (err or out).strip().splitlines() if ln.strip()]
        tail = lines[-1] if lines else "no output"
        if process_wall >= timeout:
            tail = f"timed out after {timeout:.0f} s"
        return {"case": case, "error": f"exit {proc.returncode}: {tail[:300]}"}
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"case": case, "error": f"no JSON from child: {out[-300:]!r}"}
    res["lifetime_maxrss"] = ru.ru_maxrss * 1024
    res["process_wall"] = process_wall
    return res


if __name__ == "__main__":
    sys.exit(main())
