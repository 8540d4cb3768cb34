#!/usr/bin/env python
"""A stack larger than RAM, out of core, against the disk's cold sequential read speed.

    sudo python benchmarks/beyond_ram.py --dir /scratch/bigstack          # 450 x 4096 x 4096
    python benchmarks/beyond_ram.py --n 20 --size 512 --dir /tmp/s --output /tmp/s.md  # smoke

1. Writes N float32 FITS files of size x size (once; 450 x 4096 x 4096 = 30.2 GB, more
   than this machine's RAM) into ``--dir`` (a COMPLETE marker records a finished set):
   Normal(1000, 5) x per-frame scale with 0.5 % cosmic rays, 8 frames generated and the
   others rolled copies of them (see :func:`frames`).
2. Drops the page cache (``sync; echo 3 > /proc/sys/vm/drop_caches``, needs root; without
   root the run is reported as *not cold*) and times one sequential read of every file
   (16 MiB reads, one file after another), buffered and again (caches dropped) with
   ``O_DIRECT``: the faster of the two is the read floor (buffered reads of this VM's
   disk vary from run to run between 0.7 and 1.6 GB/s).
3. Drops the page cache again and, in a fresh child process, runs
   ``imcombiners.dask.combine(paths, "median", rejectors=[SigClip(3, maxiters=5)],
   memory_limit=...).to_fits(...)``, reporting wall time, throughput (input bytes / time)
   against the floor, the child's peak RSS against the limit, and its CPU use. The
   default reads such a stack past the page cache (``IMCOMBINERS_PAGE_CACHE=auto``, see
   docs/memory.md); unless ``--no-buffered``, the same combine is run once more with
   buffered reads (``IMCOMBINERS_PAGE_CACHE=use``, page cache dropped again) for comparison.
4. Deletes the files and the output unless ``--keep``.

The result goes into RESULTS.md's ``beyond-ram`` section (or ``--output``).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import BENCH_DIR, machine_info, package_versions, replace_block, use_repo_package
from _data import frame

BEGIN = "<!-- beyond-ram:begin (benchmarks/beyond_ram.py writes this block) -->"
END = "<!-- beyond-ram:end -->"

READ_CHUNK = 16 * 2**20


#: Distinct frames generated (Normal noise + cosmic rays, _data.frame); the others are
#: these rolled by a different number of rows and scaled, so every pixel still sees
#: independent-looking samples while writing 450 frames costs seconds, not minutes.
POOL = 8


def frames(n: int, size: int):
    """The stack's frames, one at a time (float32, size x size)."""
    pool = [frame(11, POOL, size, size, j) for j in range(min(POOL, n))]
    scales = np.random.default_rng(12).uniform(0.97, 1.03, n).astype(np.float32)
    for i in range(n):
        img = np.roll(pool[i % POOL], (i // POOL) * 37 % size, axis=0)
        img *= scales[i]
        yield img


def write_stack(folder: Path, n: int, size: int) -> list[str]:
    """N single-HDU float32 FITS files (see :func:`frames`); reused if complete."""
    from astropy.io import fits

    names = [str(folder / f"f{i:04d}.fits") for i in range(n)]
    done = folder / "COMPLETE"
    if done.exists() and done.read_text().strip() == f"{n} {size} {POOL}":
        return names
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for i, (name, img) in enumerate(zip(names, frames(n, size))):
        fits.PrimaryHDU(img).writeto(name + ".tmp", overwrite=True)
        os.replace(name + ".tmp", name)
        if i % 50 == 49:
            print(f"  wrote {i + 1}/{n} files ({time.time() - t0:.0f} s)", flush=True)
    done.write_text(f"{n} {size} {POOL}\n")
    return names


def drop_caches() -> bool:
    """Empty the page cache (root only); False when not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def sequential_read(paths: list[str], direct: bool = False) -> tuple[float, int]:
    """(seconds, bytes) of reading every file once, in order, in large reads; ``direct``:
    past the page cache (``O_DIRECT`` into an aligned buffer), as the disk delivers."""
    buf = mmap.mmap(-1, READ_CHUNK) if direct else bytearray(READ_CHUNK)  # page aligned
    flags = os.O_RDONLY | (os.O_DIRECT if direct else 0)
    total = 0
    t0 = time.perf_counter()
    for p in paths:
        fd = os.open(p, flags)
        try:
            while k := os.readv(fd, [buf]):
                total += k
        finally:
            os.close(fd)
    return time.perf_counter() - t0, total


_CHILD = r"""
import json, os, resource, sys, time
import imcombiners.dask as imd
from imcombiners import SigClip
args = json.loads(sys.argv[1])
paths = [l.strip() for l in open(args["list"])]
lazy = imd.combine(paths, "median", rejectors=[SigClip(3.0, maxiters=5)], memory_limit=args["limit"])
plan = lazy.plan
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
lazy.to_fits(args["out"], overwrite=True)
wall = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
with open("/proc/self/status") as f:
    hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
print(json.dumps({"wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
                  "peak_rss": hwm, "tile": list(plan.tile), "threads": plan.threads,
                  "ntiles": plan.ntiles, "predicted_peak": plan.predicted_peak, "notes": list(plan.notes)}))
"""


def combine_in_child(paths: list[str], limit: str, out: str, workdir: Path, page_cache: str = "auto") -> dict:
    lst = workdir / "inputs.txt"
    lst.write_text("\n".join(paths) + "\n")
    env = dict(os.environ, IMCOMBINERS_PAGE_CACHE=page_cache)
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps({"list": str(lst), "limit": limit, "out": out})],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"combine failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(a, info, stack_bytes, cold, floors, run, load, elapsed, buffered=None) -> str:
    gb = 1e9
    floor_s = min(floors.values())
    floor_rate = stack_bytes / floor_s / gb
    rate = stack_bytes / run["wall"] / gb
    limit = a.memory_limit
    versions = package_versions(["numpy", "astropy", "dask", "imcombiners"])
    return "\n".join([
        "## Beyond RAM: median + SigClip out of core against the cold read floor",
        "",
        f"Generated by `python benchmarks/beyond_ram.py --n {a.n} --size {a.size} --memory-limit "
        f"{limit}` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC ({elapsed:.0f} s including "
        "writing the files).",
        "",
        f"* CPU: {info['cpu_model']}; {info['usable_cpus']} usable CPUs; SIMD flags: "
        f"{', '.join(info['simd'])}; RAM {info['ram_gib']} GiB; kernel {info['kernel']}",
        "* Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in load[0])} / "
        f"{', '.join(f'{x:.2f}' for x in load[1])} (this benchmark's own processes count).",
        f"* Stack: {a.n} float32 FITS files of {a.size} x {a.size} = {stack_bytes / gb:.1f} GB "
        f"({stack_bytes / (info['ram_gib'] * 2**30):.2f}x the RAM). Page cache dropped before "
        f"each measurement: {'yes' if cold else '**no (not root): warm-cache numbers**'}.",
        "",
        "| measurement | time | throughput | x read floor | peak RSS |",
        "|---|--:|--:|--:|--:|",
        *[f"| one sequential read of every file, {how} | {t:.1f} s | {stack_bytes / t / gb:.2f} GB/s | "
          f"{floor_s / t:.2f} | - |" for how, t in floors.items()],
        f"| `imcombiners.dask.combine(paths, 'median', rejectors=[SigClip(3, maxiters=5)], "
        f"memory_limit='{limit}').to_fits(...)` | {run['wall']:.1f} s | {rate:.2f} GB/s | "
        f"{rate / floor_rate:.2f} | {run['peak_rss'] / 2**20:.0f} MiB |",
        *([] if buffered is None else [
            f"| the same with buffered reads (`IMCOMBINERS_PAGE_CACHE=use`; {buffered['cpu']:.0f} s CPU) | "
            f"{buffered['wall']:.1f} s | {stack_bytes / buffered['wall'] / gb:.2f} GB/s | "
            f"{stack_bytes / buffered['wall'] / gb / floor_rate:.2f} | {buffered['peak_rss'] / 2**20:.0f} MiB |"]),
        "",
        f"* Plan: tiles of {run['tile'][0]} x {run['tile'][1]} pixels, {run['threads']} at once, "
        f"{run['ntiles']} tiles; predicted peak {run['predicted_peak'] / 2**20:.0f} MiB. "
        + (" ".join(run["notes"]) if run["notes"] else ""),
        f"* The combine's process used {run['cpu'] / run['wall']:.2f} CPUs on average "
        f"({run['cpu']:.0f} s CPU); combine throughput is {100 * rate / floor_rate:.0f} % of the "
        "read floor (issue 20's target: >= 70 %, with the memory limit held: peak RSS "
        f"{'within' if run['peak_rss'] <= _bytes(limit) else '**above**'} {limit}).",
        "",
    ])


def _bytes(limit: str) -> int:
    from imcombiners.dask.planner import parse_memory

    return int(parse_memory(limit) or 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=450)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--dir", required=True, help="folder for the stack (not in the repository)")
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--keep", action="store_true", help="keep the files for another run")
    ap.add_argument("--output", help="write the Markdown here instead of RESULTS.md's section")
    ap.add_argument("--no-buffered", action="store_true",
                    help="skip the comparison run with buffered reads (IMCOMBINERS_PAGE_CACHE=use)")
    a = ap.parse_args(argv)
    use_repo_package()
    folder = Path(a.dir)
    if BENCH_DIR.parent in folder.resolve().parents:
        ap.error("--dir must be outside the repository (tens of GB)")
    need = a.n * (a.size * a.size * 4 + 2880) * 1.05
    free = shutil.disk_usage(folder.parent if not folder.exists() else folder).free
    if not (folder / "COMPLETE").exists() and need > free:
        ap.error(f"--dir: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
    info, load0, start = machine_info(), os.getloadavg(), time.time()
    print(f"writing {a.n} files of {a.size}^2 into {folder} ...", flush=True)
    paths = write_stack(folder, a.n, a.size)
    stack_bytes = a.n * a.size * a.size * 4
    out = str(folder / "combined.fits")
    try:
        cold = drop_caches()
        floors = {}
        for how, direct in (("buffered", False), ("`O_DIRECT`", True)):
            if direct and not hasattr(os, "O_DIRECT"):
                continue
            drop_caches()
            floors[how], nbytes = sequential_read(paths, direct)
            print(f"sequential read, {how}: {floors[how]:.1f} s, {nbytes / floors[how] / 1e9:.2f} GB/s "
                  f"(cold={cold})", flush=True)
        drop_caches()
        run = combine_in_child(paths, a.memory_limit, out, folder)
        print(f"combine: {run['wall']:.1f} s, {stack_bytes / run['wall'] / 1e9:.2f} GB/s, "
              f"peak RSS {run['peak_rss'] / 2**20:.0f} MiB", flush=True)
        buffered = None
        if not a.no_buffered:
            drop_caches()
            buffered = combine_in_child(paths, a.memory_limit, out, folder, page_cache="use")
            print(f"combine, buffered reads: {buffered['wall']:.1f} s", flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)
    text = markdown(a, info, stack_bytes, cold, floors, run, (load0, os.getloadavg()), time.time() - start,
                    buffered)
    if a.output:
        Path(a.output).write_text(text)
    else:
        replace_block(BENCH_DIR / "RESULTS.md", BEGIN, END, f"{BEGIN}\n{text.rstrip()}\n{END}\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
