"""Robust per-frame noise estimate (for ``weights="noise"``).

The estimate is the scaled median absolute deviation (MAD) of a high-pass residual of
the frame, so that the sky level, gradients, stars and cosmic rays barely affect it:

    h[y, x] = f[y, x] - (f[y, x-2] + f[y, x+2] + f[y-2, x] + f[y+2, x]) / 4
    sigma   = 1.482602218505602 * median(|h - median(h)|) / sqrt(1.25)

over the pixels where all five samples are valid (not masked, finite, inside the
thresholds). For white noise of standard deviation sigma, h has standard deviation
sigma * sqrt(1 + 4/16) = sigma * sqrt(1.25), and 1.4826 MAD is a consistent estimate of
a normal standard deviation. Neighbours two pixels away keep each colour plane of a
Bayer (2x2) mosaic separate, and the linear part of any gradient cancels. A 1-D frame
uses the two neighbours along its axis (h's variance factor 1.5); for frames of more
than two dimensions the last two axes are used, every leading index on its own plane.

Spatially correlated noise (binned, interpolated or smoothed frames) is underestimated
by this estimator; the weights built from it are relative, so only differences in the
correlation between frames matter.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["frame_noise", "NOISE_MAD_FACTOR"]

#: 1 / Phi^-1(3/4): the MAD of a normal distribution times this is its standard deviation.
NOISE_MAD_FACTOR = 1.482602218505602


def _high_pass(f: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Residuals h at the pixels whose neighbours (2 pixels away) are all valid."""
    if f.ndim == 1:
        c = f[2:-2] - 0.5 * (f[:-4] + f[4:])
        good = ok[2:-2] & ok[:-4] & ok[4:]
        return c[good] / math.sqrt(1.5)
    core = (Ellipsis, slice(2, -2), slice(2, -2))
    nb = [(Ellipsis, slice(2, -2), slice(None, -4)), (Ellipsis, slice(2, -2), slice(4, None)),
          (Ellipsis, slice(None, -4), slice(2, -2)), (Ellipsis, slice(4, None), slice(2, -2))]
    c = f[core] - 0.25 * (f[nb[0]] + f[nb[1]] + f[nb[2]] + f[nb[3]])
    good = ok[core] & ok[nb[0]] & ok[nb[1]] & ok[nb[2]] & ok[nb[3]]
    return c[good] / math.sqrt(1.25)


def frame_noise(frame: np.ndarray, valid: np.ndarray) -> float:
    """Noise standard deviation of one frame (or region) from its valid pixels.

    Parameters
    ----------
    frame
        The frame (any supported dtype), at least 5 pixels along each axis used.
    valid
        Bool array of the same shape, True where a pixel may be used.

    Returns
    -------
    float
        The estimate, or NaN when fewer than 5 residuals are available.
    """
    f = np.asarray(frame, dtype=np.float64)
    if f.ndim == 0 or min(f.shape[-2:] if f.ndim >= 2 else f.shape) < 5:
        return math.nan
    ok = np.asarray(valid, dtype=bool) & np.isfinite(f)
    h = _high_pass(np.where(ok, f, 0.0), ok)
    if h.size < 5:
        return math.nan
    med = np.median(h)
    return float(NOISE_MAD_FACTOR * np.median(np.abs(h - med)))
