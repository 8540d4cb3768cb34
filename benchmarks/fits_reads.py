"""How fast are windowed reads of compressed FITS files? (not a test; writes FITS_READS.md)

The out-of-core engine reads every input strip by strip. For plain files a strip is one
positioned read; a tile-compressed (``.fz``) file is decompressed per overlapping tile
(astropy's ``section``), and a gzip (``.gz``) file is decompressed once per process into a
local copy that is then read like a plain file. This script measures, for N frames of
H x W uint16 stored in each way:

* ``strips``: reading the whole stack strip by strip as the engine does
  (``FramesSource.read`` of full-width strips of S rows), in a fresh process;
* ``whole``: reading each frame once, whole (the floor for the decompression work);
* the peak RSS of each (fresh process, VmHWM).

Run: ``python benchmarks/fits_reads.py [--frames 8] [--size 2048] [--strip 128]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

KINDS = {
    "plain": None,
    "RICE_1, tiles of 1 row (fpack default)": ("RICE_1", "row"),
    "RICE_1, tiles of 32 rows": ("RICE_1", 32),
    "RICE_1, tiles of 128 x 128": ("RICE_1", "square"),
    "RICE_1, one tile (whole frame)": ("RICE_1", "whole"),
    "GZIP_2, tiles of 1 row": ("GZIP_2", "row"),
    "HCOMPRESS_1 (lossless), tiles of 16 rows": ("HCOMPRESS_1", 16),
    "gzip whole file (.fits.gz)": "gzip",
}

CHILD = r"""
import json, sys, time
import numpy as np
from imcombiners.dask.sources import FramesSource
from imcombiners.io.fits import probe
mode, strip, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
if mode == "strips":
    src = FramesSource(paths)
    ny = src.shape[1]
    total = 0.0
    for y in range(0, ny, strip):
        total += float(src.read((slice(y, min(ny, y + strip)),))[:, 0, 0].sum())
else:
    total = sum(float(probe(p).read()[0, 0]) for p in paths)
dt = time.perf_counter() - t0
with open("/proc/self/status") as f:
    hwm = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:")]
print(json.dumps({"seconds": dt, "peak": hwm[0] if hwm else None}))
"""


def _write(kind, directory: Path, frames: np.ndarray) -> list[str]:
    from astropy.io import fits

    spec = KINDS[kind]
    paths = []
    for i, frame in enumerate(frames):
        p = directory / f"f{i:03d}.fits"
        if spec is None or spec == "gzip":
            fits.PrimaryHDU(frame).writeto(p, overwrite=True)
            if spec == "gzip":
                with open(p, "rb") as src, gzip.open(str(p) + ".gz", "wb", compresslevel=6) as dst:
                    shutil.copyfileobj(src, dst)
                os.remove(p)
                p = Path(str(p) + ".gz")
        else:
            ctype, tiles = spec
            h, w = frame.shape
            tile = {"row": (1, w), "square": (128, 128), "whole": (h, w)}.get(tiles, (tiles, w))
            kw = {"compression_type": ctype, "tile_shape": tile}
            if ctype == "HCOMPRESS_1":
                kw["hcomp_scale"] = 0
            fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(frame, **kw)]).writeto(
                str(p) + ".fz", overwrite=True)
            p = Path(str(p) + ".fz")
        paths.append(str(p))
    return paths


def _child(mode: str, strip: int, paths: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(strip), *paths], capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--strip", type=int, default=128)
    ap.add_argument("--out", default=str(HERE / "FITS_READS.md"))
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    n, s = args.frames, args.size
    frames = np.round(rng.normal(1000, 10, (n, s, s))).astype(np.uint16)
    rows = []
    load0 = os.getloadavg()
    for kind in KINDS:
        d = Path(tempfile.mkdtemp(prefix="imc_fitsread_"))
        try:
            paths = _write(kind, d, frames)
            size = sum(os.path.getsize(p) for p in paths)
            strips = min((_child("strips", args.strip, paths) for _ in range(3)), key=lambda r: r["seconds"])
            whole = min((_child("whole", args.strip, paths) for _ in range(3)), key=lambda r: r["seconds"])
            rows.append((kind, size, strips, whole))
            print(f"{kind:45s} strips {strips['seconds']:.2f} s, whole {whole['seconds']:.2f} s", flush=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    mib = 2**20
    lines = [
        "# Windowed reads of compressed FITS files",
        "",
        f"Generated by `python benchmarks/fits_reads.py --frames {n} --size {s} --strip {args.strip}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"* CPU: {_cpu()}; {os.cpu_count()} logical CPUs; Python {platform.python_version()}",
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in load0)} / "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (the machine is shared: timings are noisy)",
        f"* Stack: {n} frames of {s} x {s} uint16 (BZERO=32768), {n * s * s * 2 / mib:.0f} MiB of pixels; "
        "each figure is the best of 3 fresh processes.",
        f"* `strips`: the whole stack read as the engine reads it, full-width strips of {args.strip} rows "
        "of all frames (`FramesSource.read`); `whole`: every frame read once, whole.",
        "",
        "| storage | on disk | strips | whole frames | strips / whole | peak RSS strips | peak RSS whole |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for kind, size, st, wh in rows:
        lines.append(f"| {kind} | {size / mib:.1f} MiB | {st['seconds']:.2f} s | {wh['seconds']:.2f} s | "
                     f"{st['seconds'] / max(wh['seconds'], 1e-9):.1f}x | {st['peak'] / mib:.0f} MiB | "
                     f"{wh['peak'] / mib:.0f} MiB |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
