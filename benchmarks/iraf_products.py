"""What asking for IRAF's optional products costs in imcombine(), and against IRAF.

IRAF computes a sigma image or a mask only when its output is named; ``imcombiners.
imcombine`` computes them only when ``products`` names them. This times, on the same
FITS files, ``imcombine(paths, products=...)`` with no product, with the four of IRAF's
classic outputs (sigma, rejmask, nrejmask, expmask) and with all five (bpmask too),
interleaved (none, four, five, none, ...; best and median of the repeats), and IRAF 2.17
(``irafcl``, whole process) writing the combined image alone and with the four outputs.
Writes a Markdown table (default benchmarks/IRAF_PRODUCTS.md) and its summary, against
issue 12's target (four products at most 1.5x the image alone), into the
``iraf-products`` block of benchmarks/RESULTS.md (``--no-results`` to skip).

Usage::

    python benchmarks/iraf_products.py                    # 20 x 2048 x 2048, every case
    python benchmarks/iraf_products.py --size 512 --no-iraf --out /tmp/p.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

# run as a script: its own directory (benchmarks/) is first on sys.path
import _common

_common.use_repo_package()

import _data  # noqa: E402
import _iraf  # noqa: E402
from iraf_speed import CASES  # noqa: E402

HERE = Path(__file__).resolve().parent
FOUR = ["sigma", "rejmask", "nrejmask", "expmask"]
FIVE = [*FOUR, "bpmask"]
IRAF_FOUR = {"sigmas": "sig.fits", "rejmasks": "rej.pl", "nrejmasks": "nrej.pl", "expmasks": "exp.pl"}


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl")
TARGET = 1.5
BEGIN = "<!-- iraf-products:begin (benchmarks/iraf_products.py writes this block) -->"
END = "<!-- iraf-products:end -->"


def _flags() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return " ".join(f for f in SIMD_FLAGS if f in have) or "none of " + ", ".join(SIMD_FLAGS)
    except OSError:
        pass
    return "unknown"


def time_ours(files: list[str], params: dict, repeats: int) -> dict[str, list[float]]:
    import imcombiners

    variants = {"none": "none", "four": FOUR, "five": FIVE}
    for prod in variants.values():  # warm-up
        imcombiners.imcombine(files, products=prod, **params)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for key, prod in variants.items():
            t0 = time.perf_counter()
            imcombiners.imcombine(files, products=prod, **params)
            times[key].append(time.perf_counter() - t0)
    return times


def time_iraf(files: list[str], params: dict, repeats: int) -> dict[str, list[float]]:
    p = {k: (str(v) if k in ("rdnoise", "gain", "snoise") else v) for k, v in params.items()}
    out = {}
    for key, extra in (("none", {}), ("four", IRAF_FOUR)):
        timed = _iraf.make_setup(files, {**p, **extra})()
        timed()  # warm-up
        out[key] = [timed()[0] for _ in range(repeats)]
    return out


def _ms(v: list[float]) -> str:
    return f"{min(v) * 1e3:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", choices=[*CASES, "all"], default="all")
    ap.add_argument("--no-iraf", action="store_true")
    ap.add_argument("--out", default=str(HERE / "IRAF_PRODUCTS.md"))
    ap.add_argument("--no-results", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args(argv)

    files = _data.fits_files(args.n, args.size, args.size)
    _data.warm_page_cache(files)
    has_iraf = _iraf.available() and not args.no_iraf
    load0 = os.getloadavg()
    rows = []
    summary = []
    cases = list(CASES) if args.case == "all" else [args.case]
    for name in cases:
        ours = time_ours(files, CASES[name], args.repeats)
        iraf = time_iraf(files, CASES[name], args.repeats) if has_iraf else None
        base = min(ours["none"])
        row = (f"| {name} | {_ms(ours['none'])} | {_ms(ours['four'])} | {min(ours['four']) / base:.2f}x "
               f"| {_ms(ours['five'])} | {min(ours['five']) / base:.2f}x | "
               f"{statistics.median(ours['four']) / statistics.median(ours['none']):.2f}x |")
        if iraf is not None:
            row += (f" {_ms(iraf['none'])} | {_ms(iraf['four'])} | "
                    f"{min(iraf['four']) / min(ours['four']):.1f}x |")
        else:
            row += " - | - | - |"
        print(row, flush=True)
        rows.append(row)
        ratio = min(ours["four"]) / base
        summary.append(f"| {name} | {_ms(ours['none'])} | {_ms(ours['four'])} | {ratio:.2f}x | "
                       f"{statistics.median(ours['four']) / statistics.median(ours['none']):.2f}x | "
                       f"{'**PASS**' if ratio <= TARGET else '**FAIL**'} |")
    load1 = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M")
    text = [
        "# IRAF imcombine: the cost of the optional products",
        "",
        f"Generated by `python benchmarks/iraf_products.py --n {args.n} --size {args.size} "
        f"--repeats {args.repeats}` on {stamp}.",
        "",
        f"* CPU: {_cpu()} (flags: {_flags()}); {os.cpu_count()} logical CPUs; "
        f"Python {platform.python_version()}; "
        "no `target-cpu=native` (runtime SIMD dispatch)",
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in load0)} / "
        f"{', '.join(f'{x:.2f}' for x in load1)}"
        + (" (the machine is shared: timings are noisy)" if max(load0[0], load1[0]) > 1.5 else ""),
        f"* {args.n} float32 FITS files of {args.size} x {args.size} (page cache warm); ours: "
        "`imcombiners.imcombine(paths, products=...)` in this process, all cores, interleaved; "
        "IRAF: the whole `irafcl` process (single-threaded), writing the outputs named "
        "(sigma as FITS, the masks as .pl). Figures are the best of the repeats; the median ratio "
        "is given too.",
        "* `four` = sigma, rejmask, nrejmask, expmask (IRAF's `sigmas`, `rejmasks`, "
        "`nrejmasks`, `expmasks`); `five` adds bpmask. Target (issue 12): four products cost at "
        "most 1.5x the image alone.",
        "",
        "| case | image only | four products | ratio | five products | ratio | median ratio (four) "
        "| IRAF image only | IRAF four outputs | IRAF four / ours four |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        *rows,
        "",
    ]
    old = Path(args.out).read_text() if Path(args.out).exists() else ""
    # a hand-written "## Reading" section after the table is kept
    reading = old[old.index("## Reading"):] if "## Reading" in old else ""
    Path(args.out).write_text("\n".join(text) + ("\n" + reading if reading else ""))
    print(f"wrote {args.out}")
    if not args.no_results:
        block = "\n".join([
            BEGIN,
            "## IRAF imcombine: what the optional products cost (issue 12)",
            "",
            f"`python benchmarks/iraf_products.py --n {args.n} --size {args.size} --repeats {args.repeats}` "
            f"({stamp}; CPU {_cpu()}, flags {_flags()}, {os.cpu_count()} logical CPUs; load average "
            f"{load0[0]:.2f} before, {load1[0]:.2f} after). `imcombiners.imcombine(paths, products=...)` "
            f"on {args.n} float32 FITS files of {args.size} x {args.size}, all cores, interleaved, best "
            f"of the repeats. Target: sigma, rejmask, nrejmask and expmask together cost at most "
            f"{TARGET}x the image alone. Details and IRAF's own times: benchmarks/IRAF_PRODUCTS.md.",
            "",
            "| case | image only | four products | ratio | median ratio | target 1.5x |",
            "|---|--:|--:|--:|--:|---|",
            *summary,
            END,
            "",
        ])
        _common.replace_block(HERE / "RESULTS.md", BEGIN, END, block)
        print(f"updated {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
