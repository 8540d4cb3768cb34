"""Deterministic benchmark data, cached under benchmarks/data/ (git-ignored).

A frame is Normal(1000, 5) ADU times a per-frame gain drift from U(0.97, 1.03), plus
cosmic rays of +500..+5000 ADU on 0.5 % of the pixels (positions drawn with
replacement, so a few coincide). Every frame has its own generator seeded by
(seed, n, h, w, frame index), so frame i of a stack is the same whether it is made for
the .npy cache or for a FITS file, and any size can be regenerated exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from _common import DATA_DIR

CR_FRACTION = 0.005
SKY = 1000.0
NOISE = 5.0


def frame(seed: int, n: int, h: int, w: int, i: int) -> np.ndarray:
    """Frame i (float32, (h, w)) of the (seed, n, h, w) stack."""
    scales = np.random.default_rng([seed, n, h, w, 2**31 - 1]).uniform(0.97, 1.03, n)
    rng = np.random.default_rng([seed, n, h, w, i])
    img = rng.standard_normal((h, w), dtype=np.float32)
    img *= np.float32(NOISE)
    img += np.float32(SKY)
    img *= np.float32(scales[i])
    ncr = int(round(CR_FRACTION * h * w))
    flat = img.reshape(-1)
    pos = rng.integers(0, h * w, ncr)
    flat[pos] += rng.uniform(500.0, 5000.0, ncr).astype(np.float32)
    return img


def _atomic_save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)


def stack_path(n: int, h: int, w: int, seed: int = 1) -> Path:
    """Path of the cached .npy stack, generating it on first use."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"stack_n{n}_{h}x{w}_s{seed}.npy"
    if not path.exists():
        arr = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+",
                                        dtype=np.float32, shape=(n, h, w))
        for i in range(n):
            arr[i] = frame(seed, n, h, w, i)
        arr.flush()
        del arr
        os.replace(path.with_suffix(".tmp.npy"), path)
    return path


def load_stack(n: int, h: int, w: int, seed: int = 1) -> np.ndarray:
    """The stack in RAM (a fresh, C-contiguous, native float32 array)."""
    return np.load(stack_path(n, h, w, seed))


def fits_files(n: int, h: int, w: int, seed: int = 1) -> list[str]:
    """N single-HDU float32 FITS files (BITPIX -32, BUNIT adu) with the stack's frames."""
    from astropy.io import fits

    folder = DATA_DIR / f"fits_n{n}_{h}x{w}_s{seed}"
    names = [str(folder / f"f{i:03d}.fits") for i in range(n)]
    done = folder / "COMPLETE"
    if done.exists():
        return names
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        hdu = fits.PrimaryHDU(frame(seed, n, h, w, i))
        hdu.header["BUNIT"] = "adu"
        hdu.header["OBJECT"] = f"bench frame {i}"
        hdu.writeto(name + ".tmp", overwrite=True)
        os.replace(name + ".tmp", name)
    done.write_text("ok\n")
    return names


def warm_page_cache(files: list[str]) -> float:
    """Read every file once so later runs are served from the page cache; returns bytes."""
    total = 0
    for name in files:
        with open(name, "rb") as f:
            while chunk := f.read(16 * 2**20):
                total += len(chunk)
    return float(total)
