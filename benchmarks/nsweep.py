#!/usr/bin/env python
"""Cost per input sample as the number of frames grows (N = 5 .. 1000), per scenario.

    python benchmarks/nsweep.py                     # full sweep -> section in RESULTS.md
    python benchmarks/nsweep.py --ns 100,300,1000 --scenarios 'sigclip*'
    python benchmarks/nsweep.py --samples 4e6 --repeats 2 --output /tmp/sweep.md   # smoke

Every N gets the same number of input samples (``--samples``, default 32 Mi: 128 MB of
float32, N x H x 1024 with H = samples / N / 1024), so the time per sample is comparable
across N. Data as in the other benchmarks (_data.frame: Normal(1000, 5) x per-frame
scale, 0.5 % cosmic rays). Ours: ``Combiner(stack).combine(...)`` on all cores (rayon);
peers: bottleneck, NumPy and astropy on one thread (they do not thread these reductions).

Per-sample targets of the large-N issue (20), checked at N = 100, 300 and 1000:
median <= 4 ns; median or mean + SigClip(3, maxiters=5) <= 6 ns; CcdClip, AvSigClip,
PClip and MinMaxClip within 1.5x of SigClip (mean) at the same N; and no scenario
more than 1.5x its N = 100 cost at N = 1000.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import statistics
import sys
import time
import warnings
from typing import Callable

import numpy as np

from _common import BENCH_DIR, machine_info, package_versions, replace_block, use_repo_package
from _data import frame

BEGIN = "<!-- nsweep:begin (benchmarks/nsweep.py writes this block) -->"
END = "<!-- nsweep:end -->"

NS = (5, 10, 20, 50, 100, 200, 300, 450, 700, 1000)
CHECK_NS = (100, 300, 1000)
WIDTH = 1024
SIGCLIP = {"sigma": 3.0, "maxiters": 5, "cenfunc": "median"}
TARGET_NS = {"median": 4.0, "sigclip-median": 6.0, "sigclip-mean": 6.0}
#: Scenarios held to 1.5x SigClip + mean at the same N.
RELATIVE = ("ccdclip-mean", "avsigclip-mean", "pclip-median", "minmax-mean")


def make_stack(n: int, samples: float) -> np.ndarray:
    h = max(1, int(samples) // (n * WIDTH))
    out = np.empty((n, h, WIDTH), np.float32)
    for i in range(n):
        out[i] = frame(7, n, h, WIDTH, i)
    return out


def ours(kind: str) -> Callable[[np.ndarray], Callable[[], object]]:
    import imcombiners as ic

    rej = {
        "sigclip": lambda: [ic.SigClip(**SIGCLIP)],
        "ccdclip": lambda: [ic.CcdClip(rdnoise=5.0, gain=1.0, **SIGCLIP)],
        "avsigclip": lambda: [ic.AvSigClip(sigma=3.0)],
        "pclip": lambda: [ic.PClip()],
        "minmax": lambda: [ic.MinMaxClip(1, 1)],
        "none": lambda: None,
    }
    name, _, method = kind.rpartition("-")
    rejectors = rej[name or "none"]()
    return lambda s: (lambda: ic.Combiner(s).combine(method, rejectors=rejectors))


def _astropy(method: str) -> Callable[[np.ndarray], Callable[[], object]]:
    def setup(s):
        import bottleneck as bn
        from astropy.stats import sigma_clip

        reduce = bn.nanmedian if method == "median" else bn.nanmean

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                c = sigma_clip(s, sigma=3.0, maxiters=5, cenfunc="median", stdfunc="std", axis=0,
                               masked=False, copy=True)
                return reduce(c, axis=0)
        return run
    return setup


def _bn(fn: str):
    def setup(s):
        import bottleneck as bn

        f = getattr(bn, fn)
        return lambda: f(s, axis=0)
    return setup


#: scenario -> [(implementation, setup(stack) -> call)]; ours first.
SCENARIOS: dict[str, list[tuple[str, Callable]]] = {
    "median": [("ours", ours("median")), ("bottleneck.nanmedian", _bn("nanmedian")),
               ("numpy.median", lambda s: (lambda: np.median(s, axis=0)))],
    "mean": [("ours", ours("mean")), ("bottleneck.nanmean", _bn("nanmean")),
             ("numpy.mean", lambda s: (lambda: np.mean(s, axis=0)))],
    "sigclip-median": [("ours", ours("sigclip-median")),
                       ("astropy sigma_clip + bn.nanmedian", _astropy("median"))],
    "sigclip-mean": [("ours", ours("sigclip-mean")),
                     ("astropy sigma_clip + bn.nanmean", _astropy("mean"))],
    "ccdclip-mean": [("ours", ours("ccdclip-mean"))],
    "avsigclip-mean": [("ours", ours("avsigclip-mean"))],
    "pclip-median": [("ours", ours("pclip-median"))],
    "minmax-mean": [("ours", ours("minmax-mean")),
                    ("numpy (sum - min - max) / (N - 2)",
                     lambda s: (lambda: (s.sum(0) - s.min(0) - s.max(0)) / (s.shape[0] - 2)))],
}


def time_calls(calls: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time of each call over `repeats` interleaved rounds (after one warm-up)."""
    for c in calls:
        c()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for k, c in enumerate(calls):
            t0 = time.perf_counter()
            c()
            times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, to report how loaded the machine was."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def run(ns: list[int], scenarios: list[str], samples: float, repeats: int, peers_max_n: int,
        log=print) -> dict:
    res: dict = {s: {} for s in scenarios}
    for n in ns:
        stack = make_stack(n, samples)
        for sc in scenarios:
            impls = [(name, setup) for name, setup in SCENARIOS[sc]
                     if name == "ours" or n <= peers_max_n]
            calls = [setup(stack) for _, setup in impls]
            ts = time_calls(calls, repeats)
            res[sc][n] = {name: t / stack.size * 1e9 for (name, _), t in zip(impls, ts)}
            log(f"N={n:5d} {sc:15s} " + "  ".join(f"{k}={v:.2f} ns" for k, v in res[sc][n].items()))
        del stack
    return res


def checks(res: dict) -> list[tuple[str, str, str]]:
    """(what, measured, PASS/FAIL) for each per-sample target the sweep covers."""
    rows = []

    def ours_at(sc, n):
        return res.get(sc, {}).get(n, {}).get("ours")

    for sc, lim in TARGET_NS.items():
        for n in CHECK_NS:
            v = ours_at(sc, n)
            if v is not None:
                rows.append((f"{sc} at N={n} <= {lim:g} ns/sample", f"{v:.2f} ns", "PASS" if v <= lim else "FAIL"))
    for sc in RELATIVE:
        for n in CHECK_NS:
            v, ref = ours_at(sc, n), ours_at("sigclip-mean", n)
            if v is not None and ref:
                rows.append((f"{sc} at N={n} <= 1.5x sigclip-mean", f"{v / ref:.2f}x",
                             "PASS" if v <= 1.5 * ref else "FAIL"))
    for sc in res:
        a, b = ours_at(sc, 100), ours_at(sc, 1000)
        if a and b:
            rows.append((f"{sc}: N=1000 <= 1.5x N=100", f"{b / a:.2f}x", "PASS" if b <= 1.5 * a else "FAIL"))
    return rows


def level_section(per_level: dict[str, dict]) -> list[str]:
    """Ours at every forced SIMD level: the cost per sample, and every target per level."""
    levels = list(per_level)
    out = ["### Every SIMD level (ours only, ns per input sample)", "",
           "Each level forced per call with `forced_simd_level` (the run-time form of "
           "`IMCOMBINERS_SIMD`); the issue holds every level to the targets.", "",
           "| scenario | N | " + " | ".join(levels) + " |", "|---|--:|" + "--:|" * len(levels)]
    first = per_level[levels[0]]
    for sc, rows in first.items():
        for n in sorted(rows):
            out.append(f"| {sc} | {n} | " + " | ".join(f"{per_level[lv][sc][n]['ours']:.2f}" for lv in levels) + " |")
    out += ["", "| target | " + " | ".join(levels) + " |", "|---|" + "--:|" * len(levels)]
    verdicts = {lv: checks(per_level[lv]) for lv in levels}
    for k, (what, _, _) in enumerate(verdicts[levels[0]]):
        cells = [f"{verdicts[lv][k][1]} **{verdicts[lv][k][2]}**" for lv in levels]
        out.append(f"| {what} | " + " | ".join(cells) + " |")
    return out + [""]


def markdown(res: dict, args, info: dict, load: tuple, busy: tuple[float, float],
             elapsed: float, per_level: dict[str, dict]) -> str:
    versions = package_versions(["numpy", "bottleneck", "astropy", "imcombiners"])
    out = [
        "## Cost per sample as N grows (N-sweep)",
        "",
        f"Generated by `python benchmarks/nsweep.py --samples {args.samples:g} --repeats {args.repeats}"
        + (f" --levels {args.levels}" if args.levels else "") + "` "
        f"on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC in {elapsed:.0f} s.",
        "",
        f"* CPU: {info['cpu_model']}; {info['usable_cpus']} usable CPUs; SIMD flags: "
        f"{', '.join(info['simd'])}; RAM {info['ram_gib']} GiB; kernel {info['kernel']}",
        "* Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in load[0])} / "
        f"{', '.join(f'{x:.2f}' for x in load[1])}; all CPUs were {100 * busy[0]:.0f} % busy during "
        f"the run, other processes than this one used {busy[1]:.2f} cores on average. "
        + ("**The machine was shared (others used more than 0.1 cores): the numbers are noisy, "
           "and only roughly comparable between rows.**" if busy[1] > 0.1 else
           "Quiet machine: nothing else ran."),
        f"* Each N: N x H x {WIDTH} float32 with N x H x {WIDTH} ~= {args.samples:.3g} samples; "
        f"time = median of {args.repeats} interleaved rounds after a warm-up, divided by the "
        "number of input samples. Ours on all cores (rayon); peers on one thread. Peers "
        f"only up to N = {args.peers_max_n}.",
        "",
    ]
    ns = sorted({n for sc in res.values() for n in sc})
    for sc, rows in res.items():
        names = [name for name, _ in SCENARIOS[sc] if any(name in rows[n] for n in rows)]
        out += [f"### {sc} (ns per input sample)", "",
                "| N | " + " | ".join(names) + " | ours / ours at N=100 |",
                "|--:|" + "--:|" * len(names) + "--:|"]
        base = rows.get(100, {}).get("ours")
        for n in ns:
            if n not in rows:
                continue
            cells = [f"{rows[n][k]:.2f}" if k in rows[n] else "-" for k in names]
            rel = f"{rows[n]['ours'] / base:.2f}" if base else "-"
            out.append(f"| {n} | " + " | ".join(cells) + f" | {rel} |")
        out.append("")
    chk = checks(res)
    if chk:
        out += ["### Targets (issue 20)", "", "| target | measured | |", "|---|--:|---|"]
        out += [f"| {a} | {b} | **{c}** |" for a, b, c in chk]
        out.append("")
    if per_level:
        out += level_section(per_level)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", default=",".join(map(str, NS)), help="comma-separated frame counts")
    ap.add_argument("--scenarios", default="*", help="glob(s), comma-separated, on " + ", ".join(SCENARIOS))
    ap.add_argument("--samples", type=float, default=32 * 2**20, help="input samples per N")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers-max-n", type=int, default=1000, help="skip peers above this N")
    ap.add_argument("--output", help="write the Markdown here instead of RESULTS.md's section")
    ap.add_argument("--levels", default="", help="then time ours again at each of these SIMD levels "
                    "(comma-separated, e.g. baseline,avx2,avx512)")
    args = ap.parse_args(argv)
    use_repo_package()
    ns = [int(x) for x in args.ns.split(",")]
    pats = args.scenarios.split(",")
    scenarios = [s for s in SCENARIOS if any(fnmatch.fnmatch(s, p) for p in pats)]
    if not scenarios:
        ap.error(f"--scenarios {args.scenarios!r} matches none of {', '.join(SCENARIOS)}")
    info = machine_info()
    load0, (b0, t0), start = os.getloadavg(), cpu_busy(), time.time()
    own0 = time.process_time()
    res = run(ns, scenarios, args.samples, args.repeats, args.peers_max_n)
    per_level: dict[str, dict] = {}
    if args.levels:
        from imcombiners._config import forced_simd_level

        for lv in args.levels.split(","):
            with forced_simd_level(lv):
                per_level[lv] = run(ns, scenarios, args.samples, args.repeats, 0,
                                    log=lambda line, lv=lv: print(f"[{lv}] {line}"))
    (b1, t1), elapsed = cpu_busy(), time.time() - start
    # This process's CPU (all its threads) in jiffies: the rest is other processes.
    own_jiffies = (time.process_time() - own0) * os.sysconf("SC_CLK_TCK")
    ncpu = len(os.sched_getaffinity(0))
    others = max(0.0, (b1 - b0) - own_jiffies) / max(1, t1 - t0) * ncpu
    text = markdown(res, args, info, (load0, os.getloadavg()), ((b1 - b0) / max(1, t1 - t0), others),
                    elapsed, per_level)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        replace_block(BENCH_DIR / "RESULTS.md", BEGIN, END, f"{BEGIN}\n{text.rstrip()}\n{END}\n")
    for lv, r in {"default": res, **per_level}.items():
        for a, b, c in checks(r):
            print(f"{c:4s}  [{lv}] {a}: {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
