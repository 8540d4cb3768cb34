"""Hand-written NumPy/bottleneck peers for rejections that astropy/ccdproc lack.

Each is written the way a careful NumPy user would: vectorised over pixels, processed
in row bands so the temporaries stay small (cache-friendly, no full-size copies), with
bottleneck for the NaN-aware reductions. They are the "best NumPy formulation" the
targets compare with, and they double as independent references for the outputs.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

BAND_BYTES = 8 * 2**20  # input bytes per band (all N frames)


def _bands(stack: np.ndarray):
    n, h, w = stack.shape
    rows = max(1, BAND_BYTES // (n * w * stack.itemsize))
    for y0 in range(0, h, rows):
        yield y0, min(h, y0 + rows)


def ccdclip_mean(stack: np.ndarray, *, sigma: float = 3.0, maxiters: int = 5,
                 rdnoise: float = 0.0, gain: float = 1.0, snoise: float = 0.0) -> np.ndarray:
    """IRAF ccdclip (median centre, equal scales) then the mean of the survivors.

    Per pass: c = median of the survivors, s = sqrt((rdnoise/gain)^2 + max(0, c)/gain
    + (snoise*max(0, c))^2); reject x < c - sigma*s or x > c + sigma*s; stop when a pass
    rejects nothing or after maxiters passes.
    """
    n, h, w = stack.shape
    out = np.empty((h, w), np.float32)
    rn2 = (rdnoise / gain) ** 2
    for y0, y1 in _bands(stack):
        x = stack[:, y0:y1].astype(np.float32, copy=True)
        for _ in range(maxiters):
            c = bn.nanmedian(x, axis=0)
            pos = np.maximum(c, 0)
            s = np.sqrt(rn2 + pos / gain + (snoise * pos) ** 2) * np.float32(sigma)
            dev = x - c
            bad = (dev < -s) | (dev > s)  # NaN compares False: already rejected stays
            if not bad.any():
                break
            x[bad] = np.nan
        out[y0:y1] = bn.nanmean(x, axis=0)
    return out


def minmax_mean_fast(stack: np.ndarray) -> np.ndarray:
    """(sum - min - max) / (N - 2): exact only for nlow = nhigh = 1 and no NaN."""
    n = stack.shape[0]
    s = stack.sum(axis=0, dtype=np.float64)
    s -= stack.min(axis=0)
    s -= stack.max(axis=0)
    return (s / (n - 2)).astype(np.float32)


def minmax_mean_sort(stack: np.ndarray, nlow: int = 1, nhigh: int = 1) -> np.ndarray:
    """General rank form: sort each pixel's samples, drop nlow/nhigh, mean of the rest."""
    n, h, w = stack.shape
    out = np.empty((h, w), np.float32)
    for y0, y1 in _bands(stack):
        s = np.sort(stack[:, y0:y1], axis=0)
        out[y0:y1] = s[nlow:n - nhigh].mean(axis=0, dtype=np.float64)
    return out


def _pclip_offset(n: int, frac: float) -> int:
    """IRAF's rank offset of the clipping sample from the median (from the stack length)."""
    half = max(n // 2, 1)
    p = frac * half if abs(frac) < 1 else frac
    p = int(math.trunc(p))
    return min(max(p, -half), -1) if frac < 0 else min(max(p, 1), half)


def pclip_median(stack: np.ndarray, *, frac: float = -0.5, sigma: float = 3.0) -> np.ndarray:
    """IRAF pclip (no NaN, all N samples valid) then the median of the survivors.

    Sorted samples x(1..N): median m; the offset sample x(n3) gives the spread
    d = sign(frac)*(x(n3) - m); reject (m - x)/d >= sigma and (x - m)/d >= sigma
    (one pass; d == 0 rejects nothing). Since the samples are sorted the survivors are a
    contiguous rank range, whose median is read by index.
    """
    n, h, w = stack.shape
    out = np.empty((h, w), np.float32)
    if n < 3:
        return np.median(stack, axis=0).astype(np.float32)
    p = _pclip_offset(n, frac)
    n2 = 1 + n // 2
    base = n2 - 1 if (n % 2 == 0 and p < 0) else n2
    n3 = min(max(int(math.floor(base + p + 0.5)), 1), n)
    for y0, y1 in _bands(stack):
        s = np.sort(stack[:, y0:y1], axis=0)
        med = s[n2 - 1] if n % 2 else (s[n2 - 2] + s[n2 - 1]) * np.float32(0.5)
        d = np.float32(math.copysign(1.0, frac)) * (s[n3 - 1] - med)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (s - med) / d
        live = d > 0
        lo = np.where(live, (-r >= sigma).sum(axis=0), 0)
        hi = np.where(live, (r >= sigma).sum(axis=0), 0)
        keep = n - lo - hi
        i1 = lo + (keep - 1) // 2
        i2 = lo + keep // 2
        a = np.take_along_axis(s, i1[None], axis=0)[0]
        b = np.take_along_axis(s, i2[None], axis=0)[0]
        out[y0:y1] = (a + b) * np.float32(0.5)
    return out
