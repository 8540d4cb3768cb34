"""Generated uint16 FITS sets for whole-process benchmarks (cached in benchmarks/data/).

Each frame looks like a raw CMOS/CCD frame: a bias level of 1000 ADU with Gaussian read
noise (10 ADU), a fixed-pattern column offset shared by every frame, a per-frame level
drift, and cosmic-ray hits (+200..+20000 ADU on 0.1 % of the pixels), clipped to
[1, 65535] (Siril treats exact zeros as "no data") and stored as BITPIX=16 with
BZERO=32768, as cameras write them. Every frame has its own generator seeded by
(seed, n, h, w, frame), so a set can be regenerated exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from _common import DATA_DIR

LEVEL = 1000.0
READ_NOISE = 10.0
CR_FRACTION = 0.001


def u16_frame(seed: int, n: int, h: int, w: int, i: int) -> np.ndarray:
    """Frame i (uint16, (h, w)) of the (seed, n, h, w) set."""
    pattern = np.random.default_rng([seed, h, w, 7]).normal(0.0, 3.0, w).astype(np.float32)
    drift = np.random.default_rng([seed, n, h, w, 2**31 - 1]).normal(0.0, 2.0, n)
    rng = np.random.default_rng([seed, n, h, w, i])
    img = rng.standard_normal((h, w), dtype=np.float32)
    img *= np.float32(READ_NOISE)
    img += np.float32(LEVEL + drift[i])
    img += pattern
    ncr = int(round(CR_FRACTION * h * w))
    flat = img.reshape(-1)
    flat[rng.integers(0, h * w, ncr)] += rng.uniform(200.0, 20000.0, ncr).astype(np.float32)
    np.rint(img, out=img)
    np.clip(img, 1, 65535, out=img)
    return img.astype(np.uint16)


def u16_set(n: int, h: int, w: int, seed: int = 1) -> list[str]:
    """N single-HDU uint16 FITS files (BITPIX=16, BZERO=32768), generated on first use."""
    from astropy.io import fits

    folder = DATA_DIR / f"u16_n{n}_{h}x{w}_s{seed}"
    names = [str(folder / f"frame{i:03d}.fits") for i in range(n)]
    done = folder / "COMPLETE"
    if done.exists():
        return names
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        hdu = fits.PrimaryHDU(u16_frame(seed, n, h, w, i))
        hdu.header["IMAGETYP"] = ("BIAS", "synthetic benchmark frame")
        hdu.header["EXPTIME"] = (0.0, "seconds")
        hdu.writeto(name + ".tmp", overwrite=True)
        os.replace(name + ".tmp", name)
    done.write_text("ok\n")
    return names


def set_folder(n: int, h: int, w: int, seed: int = 1) -> Path:
    return Path(u16_set(n, h, w, seed)[0]).parent
