"""imcombine() against real IRAF 2.17 imcombine on the same FITS files.

Times ``imcombiners.imcombine(paths, ..., products="none")`` (the combined image only,
which is all IRAF computes when no sigma/mask outputs are named) and the whole ``irafcl``
process running ``imcombine`` on the same files (page cache warm), and prints wall time,
CPU time (all threads / the CL and its child) and the ratio. IRAF is skipped when
``irafcl`` is not installed. Our output is compared with IRAF's.

Usage::

    python benchmarks/iraf_speed.py                       # 20 x 2048 x 2048, 3 cases
    python benchmarks/iraf_speed.py --case median-sigclip --repeats 7
    python benchmarks/iraf_speed.py --size 512 --no-iraf  # quick, ours only

CPU time is the fairer comparison on a shared machine: wall time depends on how many
cores are free, and IRAF is single-threaded while ours uses every core.
"""

from __future__ import annotations

import argparse
import statistics
import time

# run as a script: its own directory (benchmarks/) is first on sys.path
import _common

_common.use_repo_package()

import numpy as np  # noqa: E402

import _data  # noqa: E402
import _iraf  # noqa: E402

CASES = {
    "median-sigclip": {"combine": "median", "reject": "sigclip", "lsigma": 3.0, "hsigma": 3.0,
                       "mclip": True, "nkeep": 1},
    "average-ccdclip": {"combine": "average", "reject": "ccdclip", "rdnoise": 5.0, "gain": 1.0},
    "average-none": {"combine": "average", "reject": "none"},
    "average-minmax": {"combine": "average", "reject": "minmax", "nlow": 1, "nhigh": 1},
    "median-pclip": {"combine": "median", "reject": "pclip", "pclip": -0.5},
    "average-sigclip-mean": {"combine": "average", "reject": "sigclip", "mclip": False},
    "average-avsigclip": {"combine": "average", "reject": "avsigclip"},
}


def _ours_kwargs(params: dict) -> dict:
    return {k: v for k, v in params.items()}


def time_ours(files: list[str], params: dict, repeats: int, threads: int) -> tuple[list, list, np.ndarray]:
    import imcombiners

    kw = _ours_kwargs(params)
    out = imcombiners.imcombine(files, products="none", threads=threads, **kw).output  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        imcombiners.imcombine(files, products="none", threads=threads, **kw)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, out


def time_iraf(files: list[str], params: dict, repeats: int) -> tuple[list, list, np.ndarray | None]:
    # IRAF's rdnoise/gain are strings (numbers or keywords) in its parameter file
    p = {k: (str(v) if k in ("rdnoise", "gain", "snoise") else v) for k, v in params.items()}
    timed = _iraf.make_setup(files, p)()
    _, _, out = timed()  # warm-up, keeps IRAF's output for the comparison
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu, _ = timed()
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus, out


def _s(v: list) -> str:
    return f"{min(v):7.3f} s (median {statistics.median(v):.3f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="number of files (default 20)")
    ap.add_argument("--size", type=int, default=2048, help="frame side (default 2048)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--case", choices=[*CASES, "all"], default="all")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="ours: 0 = all cores")
    ap.add_argument("--no-iraf", action="store_true", help="time ours only")
    args = ap.parse_args(argv)

    files = _data.fits_files(args.n, args.size, args.size, seed=args.seed)
    _data.warm_page_cache(files)
    has_iraf = _iraf.available() and not args.no_iraf
    print(f"{args.n} FITS files of {args.size} x {args.size} float32 (page cache warm); "
          f"IRAF: {'irafcl' if has_iraf else 'skipped (' + ('--no-iraf' if args.no_iraf else _iraf.NOT_INSTALLED) + ')'}")
    if has_iraf:
        print(f"IRAF CL start-up alone: {_iraf.startup_seconds():.3f} s (included in IRAF's times)")
    cases = list(CASES) if args.case == "all" else [args.case]
    for name in cases:
        params = CASES[name]
        print(f"\n== {name}: {params}")
        w_ours, c_ours, out = time_ours(files, params, args.repeats, args.threads)
        print(f"  ours  wall {_s(w_ours)}   cpu {_s(c_ours)}")
        if not has_iraf:
            continue
        w_ir, c_ir, iraf_out = time_iraf(files, params, args.repeats)
        print(f"  IRAF  wall {_s(w_ir)}   cpu {_s(c_ir)}")
        print(f"  ratio IRAF/ours: wall {min(w_ir) / min(w_ours):.1f}x (medians "
              f"{statistics.median(w_ir) / statistics.median(w_ours):.1f}x), "
              f"cpu {min(c_ir) / min(c_ours):.1f}x")
        if iraf_out is not None:
            same = np.array_equal(out, iraf_out)
            diff = np.abs(out.astype(np.float64) - iraf_out.astype(np.float64))
            print(f"  output vs IRAF: {'bit-identical' if same else 'DIFFERENT'}"
                  + ("" if same else f" ({int((diff > 0).sum())} pixels, max |diff| {diff.max():.3g})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
