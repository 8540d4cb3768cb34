"""Slow, obviously-correct pure-NumPy twin of the imcombiners library semantics.

This is the ``bottleneck.slow`` pattern: every output element is processed by plain
Python loops over its samples, written to be read next to ``docs/design.md``
("Library rejection semantics"), never for speed.  The twin shares no code with the
package; tests compare the two.

Pipeline (per call, :func:`combine`)::

    input mask -> non-finite -> thresholds (inclusive, raw values)
    -> value' = (value - zero_i) / scale_i
    -> each rejector in turn (each sees the survivors of the previous one; a rejector
       with ``grow`` is its own stage: its algorithm rejections are grown spatially and
       the grown samples are excluded before the next stage)
    -> combine the survivors

Every rejector narrows a window of the element's valid samples sorted by (value, frame
index): survivors are a contiguous run of that order.  Iterative clippers walk inward
from both ends and stop at the first kept sample on each side (IRAF's sorted-ends model:
with per-sample noise a kept end sample shields the samples inside it).  AvSigClip's
per-line sigma is computed from the samples left by the rejectors before it in the chain
(including samples removed by earlier grow stages), so a chain gives the same result
whether it runs in one call or step by step.

All arithmetic is float64 (every supported input dtype converts exactly).  The result
carries ``fragile``: True for an output element where some decision of the twin (a
clipping comparison, an add-back tie) was within a relative ``rtol`` of flipping, so
a legitimate difference in rounding (summation order, f32 workspace) could make the
package decide otherwise.  Tests exclude fragile elements from exact mask comparisons.

Choices where docs/design.md is silent are marked ``CHOICE:`` below; they are listed in
the contributor's report so the Rust code and this twin can be aligned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: astropy's mad_std factor (1 / Phi^-1(3/4)).
MAD_FACTOR = 1.482602218505602
#: IRAF add-back tie tolerance, in units of sigma.
ADDBACK_TOL = 0.001

# sample_flags bits
F_INPUT, F_NONFINITE, F_THRESHOLD, F_ALGORITHM, F_GROW, F_PREVIOUS = 1, 2, 4, 8, 16, 32
# samples a pass rejected and then gave back to respect nkeep / maxrej (they stay in use)
F_RESTORED_NKEEP, F_RESTORED_MAXREJ = 64, 128
# output_flags bits
O_PREMASKED, O_MAXITERS, O_NKEEP, O_MAXREJ, O_GROW = 1, 2, 4, 8, 16

_WORKSPACE = {
    np.dtype(np.uint8): np.dtype(np.float32),
    np.dtype(np.uint16): np.dtype(np.float32),
    np.dtype(np.int16): np.dtype(np.float32),
    np.dtype(np.float32): np.dtype(np.float32),
    np.dtype(np.int32): np.dtype(np.float64),
    np.dtype(np.float64): np.dtype(np.float64),
}
SUPPORTED_DTYPES = tuple(_WORKSPACE)


def workspace_dtype(dtype) -> np.dtype:
    """Float dtype of the outputs for an input dtype (byte order ignored)."""
    dt = np.dtype(dtype).newbyteorder("=")
    try:
        return _WORKSPACE[dt]
    except KeyError:
        raise TypeError(f"unsupported dtype {dtype}") from None


def default_rtol(dtype) -> float:
    """Relative closeness below which a decision is considered fragile."""
    return 2e-6 if workspace_dtype(dtype) == np.float32 else 1e-9


# --------------------------------------------------------------------------------------
# Rejector descriptions (same field names and defaults as the package's dataclasses)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigClip:
    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    stdfunc: str = "std"
    ddof: int = 0
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None
    spread_centre: str | None = None


@dataclass(frozen=True)
class CcdClip:
    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    rdnoise: float = 0.0
    gain: float = 1.0
    snoise: float = 0.0
    sigscale: float = 0.1
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    high_only: bool = False
    grow: float | None = None
    spread_centre: str | None = None
    scale_ref: float = 1.0
    zero_ref: float = 0.0


@dataclass(frozen=True)
class LinearClip:
    low_scale: float = 1.0
    low: float = 0.0
    upp_scale: float = 1.0
    upp: float = 0.0
    maxiters: int = 1
    cenfunc: str = "median"
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None


@dataclass(frozen=True)
class AvSigClip:
    sigma: float | tuple[float, float] = 3.0
    cenfunc: str = "median"
    nkeep: int = 1
    sigscale: float = 0.1
    grow: float | None = None


@dataclass(frozen=True)
class MinMaxClip:
    n_min: float = 1
    n_max: float = 1
    grow: float | None = None


@dataclass(frozen=True)
class PClip:
    frac: float = -0.5
    sigma: float | tuple[float, float] = 3.0
    nkeep: int = 1
    grow: float | None = None


@dataclass(frozen=True)
class VarClip:
    sigma: float | tuple[float, float] = 3.0
    maxiters: int = 5
    cenfunc: str = "median"
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None


@dataclass(frozen=True)
class WinsorizedSigClip:
    sigma: float | tuple[float, float] = 3.0
    maxiters: int | None = None
    cutoff: float = 1.5
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None


@dataclass(frozen=True)
class GESDClip:
    max_outliers: float = 0.3
    significance: float = 0.05
    nkeep: int = 1
    maxrej: int | None = None
    grow: float | None = None


@dataclass(frozen=True)
class LinearFitClip:
    sigma: float | tuple[float, float] = 5.0
    maxiters: int | None = None
    nkeep: int = 1
    maxrej: int | None = None
    revert_on_nkeep: bool = True
    grow: float | None = None


def _pair(sigma) -> tuple[float, float]:
    if np.ndim(sigma) == 0:
        return float(sigma), float(sigma)
    lo, hi = sigma
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------
# Small statistics over a 1-D float64 array of valid samples
# --------------------------------------------------------------------------------------


def mean(x: np.ndarray) -> float:
    return math.fsum(x) / len(x) if len(x) else math.nan


def median(x: np.ndarray) -> float:
    """Middle value; even n: mean of the middle pair."""
    n = len(x)
    if n == 0:
        return math.nan
    v = sorted(x)
    if n % 2:
        return float(v[n // 2])
    return (float(v[n // 2 - 1]) + float(v[n // 2])) / 2.0


def lmedian(x: np.ndarray) -> float:
    """Lower middle value (sorted index (n-1)//2), for every n."""
    n = len(x)
    return float(sorted(x)[(n - 1) // 2]) if n else math.nan


def variance(x: np.ndarray, ddof: int = 0) -> float:
    """Two-pass variance about the mean; NaN when n <= ddof."""
    n = len(x)
    if n == 0 or n <= ddof:
        return math.nan
    m = mean(x)
    return math.fsum((float(v) - m) ** 2 for v in x) / (n - ddof)


def quantile(x: np.ndarray, q: float) -> float:
    """NumPy's default ('linear') quantile, q in [0, 1]."""
    n = len(x)
    if n == 0:
        return math.nan
    v = sorted(float(t) for t in x)
    pos = q * (n - 1)
    i = int(math.floor(pos))
    j = min(i + 1, n - 1)
    t = pos - i
    return v[i] + (v[j] - v[i]) * t


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    """sum(w x) / sum(w).

    CHOICE: a zero weight sum gives NaN (not ``blank``: samples exist).
    """
    if len(x) == 0:
        return math.nan
    sw = math.fsum(w)
    if sw == 0:
        return math.nan
    return math.fsum(float(a) * float(b) for a, b in zip(x, w)) / sw


def centre(x: np.ndarray, cenfunc: str) -> float:
    if cenfunc == "mean":
        return mean(x)
    if cenfunc == "median":
        return median(x)
    if cenfunc == "lmedian":
        return lmedian(x)
    raise ValueError(f"cenfunc {cenfunc!r}")


# --------------------------------------------------------------------------------------
# Fragility bookkeeping
# --------------------------------------------------------------------------------------


class Judge:
    """Comparisons that remember whether any decision was a near tie.

    ``exact=True`` when every operand of the comparisons is computed by the same
    correctly rounded operations in any faithful implementation (order statistics,
    MAD, the noise model at a median centre): then even an exact tie is decided the
    same way everywhere and nothing is fragile.  Means and standard deviations depend
    on the summation order, so comparisons against them are judged with ``rtol``.
    """

    def __init__(self, rtol: float, exact: bool = False):
        self.rtol = rtol
        self.exact = exact
        self.fragile = False

    def _near(self, a: float, b: float, scale: float) -> None:
        if self.exact:
            return
        if math.isfinite(a) and math.isfinite(b):
            ref = max(abs(a), abs(b), abs(scale), 1e-300)
            if abs(a - b) <= self.rtol * ref:
                self.fragile = True

    def lt(self, a: float, b: float, scale: float = 0.0) -> bool:
        self._near(a, b, scale)
        return a < b

    def gt(self, a: float, b: float, scale: float = 0.0) -> bool:
        self._near(a, b, scale)
        return a > b

    def ge(self, a: float, b: float, scale: float = 0.0) -> bool:
        self._near(a, b, scale)
        return a >= b

    def le(self, a: float, b: float, scale: float = 0.0) -> bool:
        self._near(a, b, scale)
        return a <= b


@dataclass
class Outcome:
    """Result of one rejector on one output element.

    ``low``/``upp``: the iterative drivers leave the bounds of the last *kept* pass here
    (LinearClip reports them); :func:`combine` replaces them by the retained extremes for
    every other rejector.  ``clip_low``/``clip_upp``: bounds of the last evaluated pass.
    """

    rejected: np.ndarray  # bool, aligned with the element's input survivors
    std: float = math.nan
    low: float = math.nan
    upp: float = math.nan
    nit: int = 0
    flags: int = 0
    clip_low: float = math.nan
    clip_upp: float = math.nan
    restored: np.ndarray | None = None  # uint8 RESTORED_* bits aligned with the input


# --------------------------------------------------------------------------------------
# The sorted window, nkeep / maxrej and the IRAF add-back
# --------------------------------------------------------------------------------------


def sort_samples(x: np.ndarray, fid: np.ndarray) -> list[int]:
    """Positions of the samples in (value, frame index) order (design.md: one canonical
    order; -0.0 == 0.0, so the frame index breaks that tie too)."""
    return sorted(range(len(x)), key=lambda j: (float(x[j]), int(fid[j])))


def keep_count(nkeep: int, n0: int) -> int:
    """Samples a rejector must leave: min(nkeep, n0), or max(0, n0 + nkeep) for nkeep < 0."""
    return min(nkeep, n0) if nkeep >= 0 else max(0, n0 + nkeep)


def allowed_rejections(n0: int, nkeep: int, maxrej: int | None) -> int:
    """Most samples one rejector may remove: min(n0 - keep, maxrej)."""
    allowed = n0 - keep_count(nkeep, n0)
    return allowed if maxrej is None else min(allowed, int(maxrej))


def add_back_ends(resid, lo0: int, hi0: int, lo: int, hi: int, budget: int, tol: float,
                  judge: Judge) -> tuple[int, int]:
    """IRAF add-back on a sorted window (design.md, brief of the kernel change).

    The window was ``[lo0, hi0)``, the pass proposed ``[lo, hi)``; at most ``budget`` of the
    proposed rejections may stand.  Samples come back one at a time from the ends of the
    proposed window: the end whose candidate has the smaller residual ``resid(j)`` first,
    a tie going to the high side.  Then both ends grow further while the next candidate's
    residual is within ``tol`` of the *last restored* residual (not chained).

    CHOICE: a NaN residual (0/0 at a zero spread) counts as 0, the kernel's comment.
    """

    def r(j: int) -> float:
        v = float(resid(j))
        return 0.0 if math.isnan(v) else v

    restore = (lo - lo0) + (hi0 - hi) - budget
    last = -math.inf
    while restore > 0 and (lo > lo0 or hi < hi0):
        rl = r(lo - 1) if lo > lo0 else math.inf
        rh = r(hi) if hi < hi0 else math.inf
        if lo > lo0 and hi < hi0:
            judge._near(rl, rh, max(rl, rh))
        if hi < hi0 and rh <= rl:
            hi, last = hi + 1, rh
        else:
            lo, last = lo - 1, rl
        restore -= 1

    def tied(j: int) -> bool:
        v = r(j)
        judge._near(v, last + tol, v)
        judge._near(v, last - tol, v)
        return abs(v - last) <= tol

    while lo > lo0 and tied(lo - 1):
        lo -= 1
    while hi < hi0 and tied(hi):
        hi += 1
    return lo, hi


# --------------------------------------------------------------------------------------
# Iterative clippers (SigClip, CcdClip, LinearClip, AvSigClip) share one driver
# --------------------------------------------------------------------------------------


@dataclass
class PassBounds:
    """What one pass of an iterative clipper computed from the current window."""

    centre: float
    lo: np.ndarray  # per-sample lower keep bound (reject x < lo)
    hi: np.ndarray  # per-sample upper keep bound (reject x > hi)
    std: float
    low: float
    upp: float
    sig: np.ndarray | None  # per-sample residual scale; None: plain distances (LinearClip)
    scale: float  # magnitude for fragility checks
    fit: np.ndarray | None = None  # per-sample expected value (LinearFitClip); None: centre


def _iterate(x, fid, *, maxiters, nkeep, maxrej, revert, min_n, bounds_of, judge,
             count: str = "accepted") -> Outcome:
    """Generic "clip, accumulate, repeat" driver on the sorted window (design.md).

    Each pass computes bounds from the current window ``[lo, hi)`` of the (value, frame)
    sorted samples and walks inward from both ends: the low end while a sample is below
    its lower bound, then the high end while a sample is above its upper bound, each walk
    stopping at the first sample it keeps.  ``maxiters=None`` iterates until nothing
    changes.  A pass that cannot start (fewer than ``min_n`` samples, bounds undefined) is
    not evaluated; std/clip_low/clip_upp describe the last evaluated pass (also a reverted
    one), low/upp the bounds of the last pass that was kept (NaN if none).
    When a pass would remove more than allowed: flag 4 when the survivors would be fewer
    than keep, flag 8 when more than ``maxrej`` would be rejected in total; then either
    the pass is undone (``revert``) or the IRAF add-back restores samples; clipping stops.
    The samples the pass proposed and that stay get RESTORED_NKEEP (64) / RESTORED_MAXREJ
    (128) for the flags raised.
    Add-back residuals: |x - c|/sigma_i with ties within 0.001 when every sample of the
    window has sigma_i > 0 and std is finite, else |x - c| with exact ties.

    Pass counting (imcombiners 0.1.1's two conventions):
    ``count="accepted"`` (SigClip, CcdClip): nit = 1 + passes that rejected something and
    were kept (an add-back pass counts when it still removed something); flag 2 when
    ``maxiters`` is 0 or pass number ``maxiters`` rejected and was kept in full.
    ``count="evaluated"`` (LinearClip, AvSigClip): nit = passes evaluated; flag 2 only when
    ``maxiters`` > 1 and pass number ``maxiters`` rejected and was kept in full.
    ``count="all"`` (WinsorizedSigClip, LinearFitClip): nit = passes evaluated; flag 2
    whenever pass number ``maxiters`` rejected and was kept in full.
    """
    n0 = len(x)
    order = sort_samples(x, fid)
    xs = np.array([float(x[j]) for j in order], dtype=np.float64)
    fs = np.array([int(fid[j]) for j in order], dtype=np.int64)
    out = Outcome(rejected=np.zeros(n0, dtype=bool), restored=np.zeros(n0, dtype=np.uint8))
    accepted = count == "accepted"
    if accepted:
        out.nit = 1
        if maxiters == 0:
            out.flags |= O_MAXITERS
    keep = keep_count(nkeep, n0)
    allowed = allowed_rejections(n0, nkeep, maxrej)
    lo, hi = 0, n0
    it = 0

    def give_back(ranges, bits):
        for a, b in ranges:
            for j in range(a, b):
                out.restored[order[j]] |= bits

    while maxiters is None or it < maxiters:
        it += 1
        if hi - lo < max(min_n, 1):
            break
        b = bounds_of(xs[lo:hi], fs[lo:hi])
        if b is None:
            break
        if not accepted:
            out.nit += 1
        out.std, out.clip_low, out.clip_upp = b.std, b.low, b.upp

        def below(j):
            return judge.lt(float(xs[j]), float(b.lo[j - lo]), b.scale)

        def above(j):
            return judge.gt(float(xs[j]), float(b.hi[j - lo]), b.scale)

        def side(j):  # -1 below, +1 above, 0 kept (below wins: an empty range rejects all)
            if below(j):
                return -1
            return 1 if above(j) else 0

        nlo = lo
        while nlo < hi and side(nlo) < 0:
            nlo += 1
        nhi = hi
        while nhi > nlo and side(nhi - 1) > 0:
            nhi -= 1
        k = (nlo - lo) + (hi - nhi)
        if k == 0:
            out.low, out.upp = b.low, b.upp
            break
        done = n0 - (hi - lo)
        if done + k > allowed:
            bits = 0
            if (nhi - nlo) < keep:
                out.flags |= O_NKEEP
                bits |= F_RESTORED_NKEEP
            if maxrej is not None and done + k > maxrej:
                out.flags |= O_MAXREJ
                bits |= F_RESTORED_MAXREJ
            if revert:
                give_back([(lo, nlo), (nhi, hi)], bits)
            else:
                win = slice(lo, hi)
                scaled = b.sig is not None and math.isfinite(b.std) and bool(np.all(b.sig > 0))
                c = b.centre

                def resid(j):
                    expect = c if b.fit is None else float(b.fit[j - win.start])
                    d = abs(float(xs[j]) - expect)
                    return d / float(b.sig[j - win.start]) if scaled else d

                l2, h2 = add_back_ends(resid, lo, hi, nlo, nhi, allowed - done,
                                       ADDBACK_TOL if scaled else 0.0, judge)
                give_back([(l2, nlo), (nhi, h2)], bits)
                if l2 > lo or h2 < hi:
                    out.low, out.upp = b.low, b.upp
                    if accepted:
                        out.nit += 1
                lo, hi = l2, h2
            break
        lo, hi = nlo, nhi
        out.low, out.upp = b.low, b.upp
        if accepted:
            out.nit += 1
        if maxiters is not None and it == maxiters and (accepted or maxiters > 1 or count == "all"):
            out.flags |= O_MAXITERS
    for j in list(range(0, lo)) + list(range(hi, n0)):
        out.rejected[order[j]] = True
    return out


def spread(x: np.ndarray, c: float, stdfunc: str, ddof: int, about: str) -> float:
    """SigClip spread about the centre ``about`` (a centre name; design.md).

    ``"std"``: sqrt(sum (x - a)^2 / (n - ddof)), NaN when n <= ddof; ``"mad"``:
    MAD_FACTOR * median |x - a|, times sqrt(n / (n - ddof)) when ddof > 0 (NaN when
    n <= ddof); ``"iraf"``: sqrt(sum (x - c)^2 / (n - 1)) about the clipping centre c.
    """
    n = len(x)
    a = centre(x, about)
    if stdfunc == "std":
        if n <= ddof:
            return math.nan
        return math.sqrt(math.fsum((float(v) - a) ** 2 for v in x) / (n - ddof))
    if stdfunc == "mad":
        if n <= ddof:
            return math.nan
        mad = MAD_FACTOR * median(np.abs(x - a))
        return mad * math.sqrt(n / (n - ddof)) if ddof > 0 else mad
    if stdfunc == "iraf":
        return math.sqrt(math.fsum((float(v) - c) ** 2 for v in x) / (n - 1)) if n >= 2 else math.nan
    raise ValueError(f"stdfunc {stdfunc!r}")


def sigclip_element(x: np.ndarray, fid: np.ndarray, r: SigClip, judge: Judge) -> Outcome:
    """design.md SigClip on the valid (normalised) samples of one element.

    Rejects x < c - lo*s or x > c + hi*s (strict).  A pass runs from n = 1 (0.1.1: a lone
    sample is its own centre, s = 0 for std/mad, nothing is rejected; "iraf" needs n >= 2).
    s == 0 is a valid spread (every x != c is rejected, as astropy does).  The spread is
    taken about ``spread_centre`` (None: the clipping centre, imcombiners 0.1.1).
    """
    lo_s, hi_s = _pair(r.sigma)
    about = r.spread_centre or r.cenfunc

    def bounds_of(xs, _fid):
        c = centre(xs, r.cenfunc)
        s = spread(xs, c, r.stdfunc, r.ddof, about)
        if not math.isfinite(s) or not math.isfinite(c):
            return None
        lo, hi = c - lo_s * s, c + hi_s * s
        n = len(xs)
        return PassBounds(c, np.full(n, lo), np.full(n, hi), s, lo, hi, np.full(n, s),
                          max(abs(c), s))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=1, bounds_of=bounds_of, judge=judge)


#: IRAF's floor on the read-noise variance: 1e4 / MAX_REAL with MAX_REAL = 0.99e37.
CCD_VAR_FLOOR = 1e4 / 0.99e37


def ccd_level_sigma(v: float, r: CcdClip) -> float:
    """Model sigma at normalised level ``v`` without per-image scales: the raw level is
    scale_ref * (v + zero_ref) (0.1.1's deprecated reference; 1 and 0 by default) and the
    sigma is brought back to normalised units."""
    if r.scale_ref == 1.0 and r.zero_ref == 0.0:
        return ccd_sigma(v, r)
    return ccd_sigma(r.scale_ref * v + r.scale_ref * r.zero_ref, r) / r.scale_ref


def ccd_sigma(level: float, r: CcdClip) -> float:
    """IRAF noise model sqrt(var0 + I/gain + (snoise*I)^2) at I = max(0, level).

    CHOICE (iraf.md 6.4): var0 = max((rdnoise/gain)^2, 1e4/0.99e37), so sigma > 0 always.
    Squares are written as products (one correctly rounded operation, as in the kernel;
    ``** 2`` goes through libm's pow).
    """
    i = max(0.0, level)
    rg = r.rdnoise / r.gain
    var0 = max(rg * rg, CCD_VAR_FLOOR)
    si = r.snoise * i
    return math.sqrt(var0 + i / r.gain + si * si)


def doscale1(r: CcdClip | AvSigClip, scale: np.ndarray | None) -> bool:
    """IRAF's Poisson correction (CcdClip, AvSigClip): sigscale > 0 and some
    |S_i - 1| > sigscale."""
    if scale is None or r.sigscale <= 0:
        return False
    return bool(np.any(np.abs(np.asarray(scale, dtype=float) - 1.0) > r.sigscale))


def ccdclip_element(x, fid, r: CcdClip, scale, zero, judge: Judge) -> Outcome:
    """design.md CcdClip: SigClip with the IRAF noise model as the per-sample sigma.

    With the Poisson correction, sigma_i = model(max(0, S_i*c + Z_i)) / S_i (Z in raw
    units, i.e. value' = (value - Z_i)/S_i); otherwise sigma = model(max(0, c)) for all.
    With per-sample sigmas a kept sample at an end of the sorted window shields the
    samples inside it (IRAF's sorted-ends model), handled by :func:`_iterate`.
    std = model(max(0, c)) (sigma at the centre, S = 1); low/upp = c -/+ sigma*std with
    that centre sigma; high_only: no low-side test and low = -inf.  The level ``c`` of the
    model is the ``spread_centre`` of the window when given (0.1.1's clip_cen), else the
    clipping centre.
    """
    lo_s, hi_s = _pair(r.sigma)
    corr = doscale1(r, scale)
    if corr:
        S = np.asarray(scale, dtype=float)
        Z = np.zeros_like(S) if zero is None else np.asarray(zero, dtype=float)

    def bounds_of(xs, fs):
        c = centre(xs, r.cenfunc)
        lev = centre(xs, r.spread_centre) if r.spread_centre else c
        if not (math.isfinite(c) and math.isfinite(lev)):
            return None
        sc = ccd_level_sigma(lev, r)
        if corr:
            sig = np.array([ccd_sigma(S[f] * lev + Z[f], r) / abs(S[f]) for f in fs])
        else:
            sig = np.full(len(xs), sc)
        lo = np.full(len(xs), -math.inf) if r.high_only else c - lo_s * sig
        hi = c + hi_s * sig
        low = -math.inf if r.high_only else c - lo_s * sc
        return PassBounds(c, lo, hi, sc, low, c + hi_s * sc, sig,
                          max(abs(c), float(np.max(sig))))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=1, bounds_of=bounds_of, judge=judge)


def linearclip_is_noop(r: LinearClip) -> bool:
    """The default bounds (1, 0, 1, 0) would keep only x == c: 0.1.1 treats that
    LinearClip as unconfigured and rejects nothing (nit 0, NaN bounds)."""
    return (r.low_scale, r.low, r.upp_scale, r.upp) == (1.0, 0.0, 1.0, 0.0)


def linearclip_element(x, fid, r: LinearClip, judge: Judge) -> Outcome:
    """design.md LinearClip: keep low_scale*c - low <= x <= upp_scale*c + upp.

    Runs from n >= 1 (it needs no spread); std is NaN; add-back by |x - c| with exact
    ties.  An empty keep range (low bound > upper bound) rejects every sample: the low
    walk takes the samples below the low bound, the high walk all the rest.  Passes are
    counted as evaluated; low/upp are the bounds of the last kept pass.
    """
    if linearclip_is_noop(r):
        return Outcome(rejected=np.zeros(len(x), dtype=bool))

    def bounds_of(xs, _fid):
        c = centre(xs, r.cenfunc)
        if not math.isfinite(c):
            return None
        lo, hi = r.low_scale * c - r.low, r.upp_scale * c + r.upp
        n = len(xs)
        return PassBounds(c, np.full(n, lo), np.full(n, hi), math.nan, lo, hi, None,
                          max(abs(c), abs(lo), abs(hi)))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=1, bounds_of=bounds_of, judge=judge,
                    count="evaluated")


# --------------------------------------------------------------------------------------
# AvSigClip (IRAF avsigclip: one Poisson-scaled sigma per image line)
# --------------------------------------------------------------------------------------


def varclip_element(x, fid, var_of_frame: np.ndarray, r: VarClip, judge: Judge) -> Outcome:
    """design.md VarClip: each sample's own sigma sqrt(v') about the window's centre.

    ``var_of_frame[f]`` is the normalised variance of frame f's sample of this element.
    std = sqrt(mean v' of the window) of the last pass; low/upp = c -/+ sigma*std.
    """
    lo_s, hi_s = _pair(r.sigma)

    def bounds_of(xs, fs):
        c = centre(xs, r.cenfunc)
        if not math.isfinite(c):
            return None
        v = np.array([float(var_of_frame[f]) for f in fs])
        sig = np.sqrt(v)
        sd = math.sqrt(math.fsum(v) / len(v))
        return PassBounds(c, c - lo_s * sig, c + hi_s * sig, sd, c - lo_s * sd, c + hi_s * sd, sig,
                          max(abs(c), float(np.max(sig))))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=2, bounds_of=bounds_of, judge=judge,
                    count="evaluated")


def poisson_level(c: float, frames: np.ndarray, scale, zero, corr: bool) -> np.ndarray:
    """AvSigClip's Poisson level of each sample (variance in units of s^2) at centre ``c``.

    Without the scale correction L = max(1, c) for every sample; with it (see
    :func:`doscale1`) L_i = max(1, (S_i*c + Z_i) / S_i^2) for the sample's frame i: its raw
    level (S_i*c + Z_i) converted to normalised units squared (IRAF's (c + Z)/S).
    """
    if not corr:
        return np.full(len(frames), max(1.0, c))
    S = np.asarray(scale, dtype=float)
    Z = np.zeros_like(S) if zero is None else np.asarray(zero, dtype=float)
    out = np.empty(len(frames))
    for k, f in enumerate(frames):
        sf = float(S[f])
        out[k] = max(1.0, (sf * c + float(Z[f])) / (sf * sf))
    return out


def avsig_line_sigma(pixels: Sequence[tuple[np.ndarray, np.ndarray]], cenfunc: str,
                     scale=None, zero=None, corr: bool = False) -> float:
    """s of one image line from the (values, frame indices) still valid at each pixel.

    s = sqrt(sum over pixels with n >= 3 of sum (v - c)^2 / L_i, divided by (total count
    of those samples - 1)); c the pixel's centre, L_i from :func:`poisson_level`.  NaN when
    fewer than two samples count.
    """
    terms, count = [], 0
    for x, fid in pixels:
        if len(x) < 3:
            continue
        c = centre(x, cenfunc)
        lev = poisson_level(c, fid, scale, zero, corr)
        terms.extend((float(v) - c) ** 2 / float(L) for v, L in zip(x, lev))
        count += len(x)
    return math.sqrt(math.fsum(terms) / (count - 1)) if count > 1 else math.nan


def avsigclip_element(x, fid, r: AvSigClip, s: float, judge: Judge, scale=None,
                      zero=None) -> Outcome:
    """One pixel of AvSigClip given its line's ``s``.

    Clips only when s > 0 and n >= max(3, keep + 1); iterates until nothing changes
    (stops below 3 samples) with the per-sample sigma s*sqrt(L_i) (:func:`poisson_level`;
    L = max(1, c) for all samples without the scale correction), c from the survivors,
    strict comparisons, walking in from the ends of the sorted window (a kept end sample
    shields the ones inside it), IRAF add-back for nkeep (no maxrej).
    std = s*sqrt(max(1, c)); low/upp = c -/+ sigma*std.
    """
    lo_s, hi_s = _pair(r.sigma)
    n = len(x)
    if not s > 0 or n < max(3, keep_count(r.nkeep, n) + 1):
        return Outcome(rejected=np.zeros(n, dtype=bool))
    corr = doscale1(r, scale)

    def bounds_of(xs, fs):
        c = centre(xs, r.cenfunc)
        if not math.isfinite(c):
            return None
        sd = s * math.sqrt(max(1.0, c))
        sig = s * np.sqrt(poisson_level(c, fs, scale, zero, corr))
        return PassBounds(c, c - lo_s * sig, c + hi_s * sig, sd, c - lo_s * sd, c + hi_s * sd,
                          sig, max(abs(c), float(np.max(sig))))

    return _iterate(x, fid, maxiters=None, nkeep=r.nkeep, maxrej=None, revert=False, min_n=3,
                    bounds_of=bounds_of, judge=judge, count="evaluated")


# --------------------------------------------------------------------------------------
# MinMaxClip and PClip (order statistics, single pass)
# --------------------------------------------------------------------------------------


def minmax_fraction(count: float, nframes: int) -> float:
    """IRAF: counts >= 1 become fractions of N; values < 1 already are fractions.

    A count >= 1 is truncated to an integer first (1.5 -> 1), like IRAF's integer
    nlow/nhigh parameters.
    """
    return math.trunc(count) / nframes if count >= 1 else float(count)


def minmax_element(x, fid, r: MinMaxClip, nframes: int) -> Outcome:
    """design.md MinMaxClip: k_lo = trunc(f_lo*n + 0.001) lowest and
    k_hi = min(trunc(f_hi*n + 0.001), n - k_lo) highest valid samples, in (value, frame)
    order: among equal values the lower frames go at the low edge, the higher frames at
    the high edge.  nit = 1 (a single pass, 0.1.1); low/upp and clip_low/clip_upp =
    retained extremes (NaN if none).
    """
    n = len(x)
    out = Outcome(rejected=np.zeros(n, dtype=bool), nit=1)
    if n == 0:
        return out
    k_lo = min(int(minmax_fraction(r.n_min, nframes) * n + 0.001), n)
    k_hi = min(int(minmax_fraction(r.n_max, nframes) * n + 0.001), n - k_lo)
    order = sort_samples(x, fid)
    for j in order[:k_lo] + order[n - k_hi:]:
        out.rejected[j] = True
    kept = x[~out.rejected]
    if len(kept):
        out.low, out.upp = float(kept.min()), float(kept.max())
        out.clip_low, out.clip_upp = out.low, out.upp
    return out


def pclip_offset(frac: float, nframes: int) -> int:
    """IRAF rank offset p from the stack length N (iraf.md 6.5)."""
    h = nframes // 2
    p = frac * h if abs(frac) < 1 else frac
    p = math.trunc(p)
    if frac < 0:
        return min(-1, max(-h, p))
    return max(1, min(h, p))


def pclip_element(x, fid, r: PClip, nframes: int, judge: Judge) -> Outcome:
    """IRAF pclip (iraf.md 6.5), library flavour.

    Runs when n >= max(3, keep + 1); sorted values v[1..n], m = 1 + n//2,
    median = v[m] (odd) or (v[m-1] + v[m]) / 2 (even); slot = m - 1 + p (even n, p < 0)
    or m + p, clamped to [1, n]; sigma = sign(p) * (v[slot] - median); sigma <= 0 -> no
    rejection.  Single pass walking in from both ends while (median - v)/sigma >= lsigma
    (low end) or (v - median)/sigma >= hsigma (high end).  If fewer than keep survive,
    the ends add-back (residual |v - median|/sigma, ties within 0.001) restores them,
    sets bit 4 and marks them RESTORED_NKEEP.  std NaN (design.md), clip_low/clip_upp =
    median -/+ sigma*(lo, hi); nit = 1 at every element (0.1.1).
    """
    n = len(x)
    out = Outcome(rejected=np.zeros(n, dtype=bool), nit=1, restored=np.zeros(n, dtype=np.uint8))
    lo_s, hi_s = _pair(r.sigma)
    keep = keep_count(r.nkeep, n)
    if n < max(3, keep + 1):
        return out
    p = pclip_offset(r.frac, nframes)
    order = sort_samples(x, fid)
    v = [float(x[j]) for j in order]
    m = 1 + n // 2
    med = v[m - 1] if n % 2 else (v[m - 2] + v[m - 1]) / 2.0
    if p < 0:
        slot = (m - 1 + p) if n % 2 == 0 else (m + p)
        slot = max(slot, 1)
    else:
        slot = min(m + p, n)
    sig = math.copysign(1.0, p) * (v[slot - 1] - med)
    out.clip_low, out.clip_upp = med - lo_s * sig, med + hi_s * sig
    if not sig > 0:
        return out
    lo, hi = 0, n
    while lo < hi and judge.ge((med - v[lo]) / sig, lo_s, 1.0):
        lo += 1
    while hi > lo and judge.ge((v[hi - 1] - med) / sig, hi_s, 1.0):
        hi -= 1
    if hi - lo < keep:
        out.flags |= O_NKEEP
        l2, h2 = add_back_ends(lambda j: abs(v[j] - med) / sig, 0, n, lo, hi, n - keep,
                               ADDBACK_TOL, judge)
        for j in list(range(l2, lo)) + list(range(hi, h2)):
            out.restored[order[j]] |= F_RESTORED_NKEEP
        lo, hi = l2, h2
    for j in list(range(0, lo)) + list(range(hi, n)):
        out.rejected[order[j]] = True
    return out


# --------------------------------------------------------------------------------------
# Beyond IRAF: winsorized sigma clipping, linear fit clipping, generalized ESD
# --------------------------------------------------------------------------------------

#: Huber's consistency factor for a normal distribution winsorized at 1.5 sigma.
WINSOR_K = 1.134


def winsorized_sigma(xs: np.ndarray, cutoff: float, judge: Judge) -> tuple[float, float]:
    """(median, winsorized sigma) of the values: the limit of Huber's iteration
    s <- 1.134 * std_{n-1}(clip(x, m - c*s, m + c*s)) from s = std_{n-1}(x).

    Iterated until s stops changing (relative 1e-15).  Once every sample off the median
    is clamped the map is s -> rho*s exactly (rho < 1: the limit is 0).  An iteration that
    has not settled after 100000 steps makes the element fragile.
    """
    m = median(xs)
    d = np.asarray(xs, dtype=np.float64) - m
    s = float(np.std(d, ddof=1))
    for _ in range(100_000):
        if s == 0.0:
            return m, 0.0
        nxt = WINSOR_K * float(np.std(np.clip(d, -cutoff * s, cutoff * s), ddof=1))
        if nxt < s and bool(np.all((np.abs(d) > cutoff * s) | (d == 0.0))):
            return m, 0.0
        if abs(nxt - s) <= 1e-15 * s:
            return m, nxt
        s = nxt
    judge.fragile = True
    return m, s


def winsorized_element(x, fid, r: WinsorizedSigClip, judge: Judge) -> Outcome:
    """design.md WinsorizedSigClip: clip at median -/+ (lo, hi) * winsorized sigma.

    Needs n >= 2; s == 0 is a valid sigma (every x != m is rejected).  Passes counted as
    evaluated; maxiters None = until a pass rejects nothing (at most 255 passes)."""
    lo_s, hi_s = _pair(r.sigma)

    def bounds_of(xs, _fid):
        if len(xs) < 2:
            return None
        m, s = winsorized_sigma(xs, r.cutoff, judge)
        if not (math.isfinite(m) and math.isfinite(s)):
            return None
        lo, hi = m - lo_s * s, m + hi_s * s
        n = len(xs)
        return PassBounds(m, np.full(n, lo), np.full(n, hi), s, lo, hi, np.full(n, s), max(abs(m), s))

    return _iterate(x, fid, maxiters=255 if r.maxiters is None else r.maxiters, nkeep=r.nkeep,
                    maxrej=r.maxrej, revert=r.revert_on_nkeep, min_n=2, bounds_of=bounds_of,
                    judge=judge, count="all")


def linear_fit(xs: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares line through sorted values against their rank 0..n-1: (fitted value
    at every rank, mean absolute residual)."""
    n = len(xs)
    kbar = (n - 1) / 2.0
    ks = [k - kbar for k in range(n)]
    slope = math.fsum(k * float(v) for k, v in zip(ks, xs)) / math.fsum(k * k for k in ks)
    mean_x = math.fsum(float(v) for v in xs) / n
    fit = np.array([mean_x + slope * k for k in ks])
    return fit, math.fsum(abs(float(v) - f) for v, f in zip(xs, fit)) / n


def linearfit_element(x, fid, r: LinearFitClip, judge: Judge) -> Outcome:
    """design.md LinearFitClip: reject below fit - lo*s / above fit + hi*s, s the mean
    absolute residual of the least-squares line against the rank (ranks renumbered in
    every pass).  Needs n >= 3 and s > 0.  low/upp = bounds at the lowest / highest rank;
    std = s; add-back by |x - fit| / s."""
    lo_s, hi_s = _pair(r.sigma)

    def bounds_of(xs, _fid):
        if len(xs) < 3:
            return None
        fit, s = linear_fit(xs)
        if not (math.isfinite(s) and s > 0):
            return None
        n = len(xs)
        return PassBounds(fit[n // 2], fit - lo_s * s, fit + hi_s * s, s, fit[0] - lo_s * s,
                          fit[-1] + hi_s * s, np.full(n, s), max(abs(fit[0]), abs(fit[-1]), s),
                          fit=fit)

    return _iterate(x, fid, maxiters=255 if r.maxiters is None else r.maxiters, nkeep=r.nkeep,
                    maxrej=r.maxrej, revert=r.revert_on_nkeep, min_n=3, bounds_of=bounds_of,
                    judge=judge, count="all")


def esd_critical(m: int, alpha: float) -> float:
    """Rosner's (1983) critical value for a test on m >= 3 samples:
    (m-1) t / sqrt((m-2+t^2) m), t the upper alpha/(2m) point of Student's t, m-2 dof
    (scipy's t.isf)."""
    from scipy import stats

    t = float(stats.t.isf(alpha / (2.0 * m), m - 2))
    return (m - 1) * t / math.sqrt((m - 2 + t * t) * m)


def gesd_tests(n: int, frac: float) -> int:
    """Number of tests: trunc(frac * n + 0.001), at most n - 2."""
    return max(0, min(int(frac * n + 0.001), n - 2))


def gesd_element(x, fid, r: GESDClip, judge: Judge) -> Outcome:
    """design.md GESDClip (Rosner 1983) on the sorted window.

    Test i on the m samples left: R_i = max(mean - lowest, highest - mean) / s (s with
    m - 1), the farther end set aside (the low end on a tie).  k = largest i with
    R_i > lambda(m); the first k set-aside samples are rejected, or only the first
    ``allowed`` (nkeep / maxrej) with flags NKEEP / MAXREJ.  nit = 1 when a test ran.
    std / low / upp: the survivors' s and mean -/+ lambda(m_survivors) * s.
    """
    n = len(x)
    out = Outcome(rejected=np.zeros(n, dtype=bool))
    tests = gesd_tests(n, r.max_outliers)
    if tests == 0:
        return out
    out.nit = 1
    order = sort_samples(x, fid)
    xs = [float(x[j]) for j in order]
    lo, hi = 0, n
    removed: list[int] = []  # sorted positions, in the order set aside
    k = 0
    for i in range(1, tests + 1):
        v = xs[lo:hi]
        m = len(v)
        mean = math.fsum(v) / m
        s = math.sqrt(math.fsum((t - mean) ** 2 for t in v) / (m - 1))
        if not s > 0:
            break
        dl, dh = mean - xs[lo], xs[hi - 1] - mean
        high = judge.gt(dh, dl, s)
        stat = (dh if high else dl) / s
        if judge.gt(stat, esd_critical(m, r.significance), 1.0):
            k = i
        if high:
            hi -= 1
            removed.append(hi)
        else:
            removed.append(lo)
            lo += 1
    keep = keep_count(r.nkeep, n)
    allowed = allowed_rejections(n, r.nkeep, r.maxrej)
    if k > allowed:
        if n - k < keep:
            out.flags |= O_NKEEP
        if r.maxrej is not None and k > r.maxrej:
            out.flags |= O_MAXREJ
        k = allowed
    for j in removed[:k]:
        out.rejected[order[j]] = True
    kept = [xs[j] for j in range(n) if j not in set(removed[:k])]
    if len(kept) >= 2:
        mean = math.fsum(kept) / len(kept)
        s = math.sqrt(math.fsum((t - mean) ** 2 for t in kept) / (len(kept) - 1))
        lam = esd_critical(len(kept), r.significance) if len(kept) >= 3 else math.nan
        out.std, out.clip_low, out.clip_upp = s, mean - lam * s, mean + lam * s
    return out


# --------------------------------------------------------------------------------------
# Grow
# --------------------------------------------------------------------------------------


def grow_offsets(radius: float, ndim: int) -> list[tuple[int, ...]]:
    """Integer offsets d with sum(d_k^2) <= radius^2 (a disc/ball, centre included)."""
    k = int(math.floor(radius))
    offs = []
    for d in np.ndindex(*([2 * k + 1] * ndim)):
        d = tuple(int(t) - k for t in d)
        if sum(t * t for t in d) <= radius * radius:
            offs.append(d)
    return offs


def grow_mask(mask: np.ndarray, radius: float | None) -> np.ndarray:
    """Grow each True of a (N, *spatial) mask by a disc of ``radius`` in the same frame.

    CHOICE: for 3-D spatial shapes the disc is a ball over all spatial axes.
    radius < 1 (or None) adds nothing.
    """
    out = mask.copy()
    if radius is None or radius < 1:
        return out
    spatial = mask.shape[1:]
    offs = grow_offsets(radius, len(spatial))
    for seed in zip(*np.nonzero(mask)):
        i, pos = seed[0], seed[1:]
        for d in offs:
            q = tuple(p + t for p, t in zip(pos, d))
            if all(0 <= a < s for a, s in zip(q, spatial)):
                out[(i,) + q] = True
    return out


# --------------------------------------------------------------------------------------
# The whole call
# --------------------------------------------------------------------------------------


def order_statistics_only(rej) -> bool:
    """True when a rejector's decisions use no sum (see :class:`Judge`)."""
    if isinstance(rej, (MinMaxClip, PClip)):
        return True
    if isinstance(rej, SigClip):
        about = rej.spread_centre or rej.cenfunc
        return rej.cenfunc != "mean" and about != "mean" and rej.stdfunc == "mad" and rej.ddof == 0
    if isinstance(rej, CcdClip):
        return rej.cenfunc != "mean" and rej.spread_centre != "mean"
    if isinstance(rej, LinearClip):
        return rej.cenfunc != "mean"
    return False


def line_sigmas(values: np.ndarray, valid: np.ndarray, cenfunc: str, scale=None, zero=None,
                corr: bool = False) -> dict:
    """AvSigClip's s for every image line (line = last spatial axis; a 0-d or 1-D
    spatial shape is one line), keyed by the element index without its last axis.
    ``valid`` (N, *spatial): the samples still in play when the AvSigClip starts."""
    spatial = values.shape[1:]
    fids = np.arange(values.shape[0])

    def pixel(key):
        sl = (slice(None),) + key
        ok = valid[sl]
        return values[sl][ok], fids[ok]

    if not spatial:
        return {(): avsig_line_sigma([pixel(())], cenfunc, scale, zero, corr)}
    out = {}
    for key in np.ndindex(*spatial[:-1]):
        pix = [pixel(key + (k,)) for k in range(spatial[-1])]
        out[key] = avsig_line_sigma(pix, cenfunc, scale, zero, corr)
    return out


def line_fragile(fragile: np.ndarray) -> np.ndarray:
    """Every element of a line that holds a fragile element (same shape as ``fragile``).

    Why: an AvSigClip's line sigma depends on what the earlier rejectors left at every
    pixel of the line; if one of them may have decided otherwise, so may the whole line.
    """
    if fragile.ndim == 0:
        return fragile.copy()
    return np.broadcast_to(fragile.any(axis=-1, keepdims=True), fragile.shape).copy()


@dataclass
class TwinResult:
    data: np.ndarray  # (*spatial) float64
    mask: np.ndarray  # (N, *spatial) bool, every excluded sample
    sample_flags: np.ndarray  # (N, *spatial) uint8
    std: np.ndarray
    low: np.ndarray  # retained extremes (LinearClip: bounds of its last kept pass)
    upp: np.ndarray
    nit: np.ndarray
    output_flags: np.ndarray
    nused: np.ndarray
    fragile: np.ndarray  # (*spatial) bool
    magnitude: np.ndarray  # (*spatial) max |value| of the valid samples (for tolerances)
    workspace: np.dtype = field(default=np.dtype(np.float64))
    clip_low: np.ndarray | None = None  # clipping bounds of the last evaluated pass
    clip_upp: np.ndarray | None = None
    # survey products (design.md "Survey planes"); None when not computable
    variance: np.ndarray | None = None  # (*spatial) float64
    weight: np.ndarray | None = None  # (*spatial) float64, sum of the survivors' weights
    dq: np.ndarray | None = None  # (*spatial) unsigned DQ (OR of the survivors, + nodata)
    exposure: np.ndarray | None = None  # (*spatial) float64, sum of exptime over survivors


def _as_vector(v, n: int, default: float) -> np.ndarray | None:
    if v is None:
        return None
    a = np.asarray(v, dtype=np.float64)
    return np.full(n, float(a)) if a.ndim == 0 else a.reshape(n).copy()


def final_value(x: np.ndarray, w: np.ndarray | None, method: str, ddof: int, q: float | None) -> float:
    """Combine the surviving (normalised) samples of one element; x non-empty."""
    if method == "mean":
        return weighted_mean(x, w) if w is not None else mean(x)
    if method == "wavg":
        return weighted_mean(x, w)
    if method == "median":
        return median(x)
    if method == "lmedian":
        return lmedian(x)
    if method == "sum":
        return math.fsum(x)
    if method == "min":
        return float(np.min(x))
    if method == "max":
        return float(np.max(x))
    if method == "variance":
        return variance(x, ddof)
    if method == "quantile":
        return quantile(x, q)
    raise ValueError(f"method {method!r}")


def median_variance(sd: np.ndarray, kind: str) -> float:
    """design.md: variance of the median (or lower median) of n normal samples with
    standard deviations ``sd``: pi/2 asymptote with finite-n corrections, sigma = the
    harmonic mean of ``sd``."""
    n = len(sd)
    s = n / math.fsum(1.0 / float(v) for v in sd)
    s2 = s * s
    if n == 1:
        return s2
    if n == 2:
        return s2 / 2.0 if kind == "median" else s2 * (1.0 - 1.0 / math.pi)
    if n % 2:
        a, b = 0.859, 0.49
    elif kind == "median":
        a, b = 2.852, -1.41
    else:
        a, b = 0.858, -0.60
    return math.pi * s2 / (2 * n + a + b / n)


def propagated_variance(v: np.ndarray, w: np.ndarray | None, method: str,
                        inverse_variance: bool = False) -> float:
    """design.md products: the variance of the combined value of survivors with normalised
    variances ``v`` and weights ``w`` (None: unweighted; ``inverse_variance``: w = 1/v,
    where the variance is 1/Σw for the mean and Σw for the sum)."""
    n = len(v)
    if n == 0:
        return math.nan
    if method in ("mean", "wavg"):
        if w is None:
            return math.fsum(v) / (n * n)
        sw = math.fsum(w)
        if sw == 0:
            return math.nan
        if inverse_variance:
            return 1.0 / sw
        return math.fsum(float(a) * float(a) * float(b) for a, b in zip(w, v)) / (sw * sw)
    if method == "sum":
        if w is None:
            return math.fsum(v)
        if inverse_variance:
            return math.fsum(w)
        return math.fsum(float(a) * float(a) * float(b) for a, b in zip(w, v))
    if method in ("median", "lmedian"):
        return median_variance(np.sqrt(np.asarray(v, dtype=float)), method)
    raise ValueError(f"no propagated variance for method {method!r}")


def dq_dtype(dq) -> np.dtype:
    """Unsigned dtype of the output DQ (the input DQ's width; uint8 without one)."""
    if dq is None:
        return np.dtype(np.uint8)
    return np.dtype(f"u{np.asarray(dq).dtype.itemsize}")


def combine(stack, mask=None, *, method: str = "mean", thresholds=None, zero=None, scale=None,
            weights=None, rejectors: Sequence = (), ddof: int = 0, q: float | None = None,
            blank: float | None = None, rtol: float | None = None, variance=None, dq=None,
            bad_bits: int | None = None, nodata_bit: int | None = None,
            exptime=None) -> TwinResult:
    """The full library call, element by element.

    ``stack`` is (N, *spatial) of a supported dtype or a list of equally shaped frames;
    ``zero``/``scale`` are resolved numbers (scalar or length N); ``weights`` is None,
    resolved per-frame numbers, an (N, *spatial) array of per-pixel weights or
    ``"inverse_variance"``.  ``variance`` (raw units), ``dq`` (integers) are planes of
    the stack's shape (design.md "Survey planes"); ``bad_bits`` None = every bit.

    CHOICEs:
    * sample_flags of a sample excluded before rejection carry every cause that applies
      (input mask 1, non-finite 2, outside the thresholds 4: imcombiners 0.1.1); a
      rejector's exclusions add 8 (algorithm) or 16 (grow) to valid samples only;
    * output bit 1 (premasked) = some sample of the element was excluded before the
      first rejector (input mask, non-finite or threshold);
    * ``blank`` fills only elements with no sample left; variance with 0 < n <= ddof is
      NaN; sum of nothing is 0 unless ``blank`` is given;
    * with no rejector, std/low/upp are NaN and nit 0;
    * a sample restored by nkeep/maxrej keeps its earlier flags and gains bit 64/128; a
      sample flagged so and rejected later carries both bits.
    """
    if isinstance(stack, (list, tuple)):
        stack = np.stack([np.asarray(f) for f in stack])
    stack = np.asarray(stack)
    ws = workspace_dtype(stack.dtype)
    rtol = default_rtol(stack.dtype) if rtol is None else rtol
    nframes = stack.shape[0]
    spatial = stack.shape[1:]
    raw = stack.astype(np.float64)  # exact for every supported dtype; never modifies input
    excluded = np.zeros(stack.shape, dtype=bool)
    flags = np.zeros(stack.shape, dtype=np.uint8)

    if mask is not None:
        m = np.asarray(mask, dtype=bool).reshape(stack.shape)
        flags[m] |= F_INPUT
        excluded |= m
    if dq is not None:
        # a bad DQ bit works like the input mask (design.md "Survey planes")
        words = np.asarray(dq).astype(np.int64) & ((1 << (8 * np.asarray(dq).dtype.itemsize)) - 1)
        bits = words if bad_bits is None else words & int(bad_bits)
        bad_dq = bits != 0
        flags[bad_dq] |= F_INPUT
        excluded |= bad_dq
    nonfinite = ~np.isfinite(raw)
    flags[nonfinite] |= F_NONFINITE
    excluded |= nonfinite
    if thresholds is not None:
        lo, hi = thresholds
        with np.errstate(invalid="ignore"):
            outside = (raw < lo) | (raw > hi)  # NaN never, an infinity beyond a finite bound yes
        flags[outside] |= F_THRESHOLD
        excluded |= outside

    zv, sv = _as_vector(zero, nframes, 0.0), _as_vector(scale, nframes, 1.0)
    per_frame = weights is not None and not isinstance(weights, str) and np.ndim(weights) <= 1
    wv = _as_vector(weights, nframes, 1.0) if per_frame else None
    values = raw.copy()
    shape1 = (nframes,) + (1,) * len(spatial)
    with np.errstate(invalid="ignore"):
        if zv is not None:
            values = values - zv.reshape(shape1)
        if sv is not None:
            values = values / sv.reshape(shape1)

    # a value that normalisation made non-finite is excluded like a non-finite input
    bad_norm = ~np.isfinite(values) & ~excluded
    flags[bad_norm] = F_NONFINITE
    excluded |= bad_norm
    values = values + 0.0  # -0.0 -> +0.0 (no observable effect on the comparisons)

    # normalised variance v' = V / s^2; unusable variances or weights exclude the sample
    nvar = None
    if variance is not None:
        nvar = np.asarray(variance, dtype=np.float64).reshape(stack.shape).copy()
        if sv is not None:
            with np.errstate(all="ignore"):
                nvar = nvar / (sv * sv).reshape(shape1)
        # an unusable variance counts as a non-finite sample (every cause is recorded)
        with np.errstate(invalid="ignore"):
            bad_var = ~(np.isfinite(nvar) & (nvar > 0))
        flags[bad_var] |= F_NONFINITE
        excluded |= bad_var
    wplane = None
    ivar = isinstance(weights, str)
    if isinstance(weights, str):
        if weights not in ("inverse_variance", "ivar") or nvar is None:
            raise ValueError("weights='inverse_variance' needs a variance")
        with np.errstate(divide="ignore"):
            wplane = 1.0 / nvar
    elif weights is not None and np.ndim(weights) > 1:
        wplane = np.asarray(weights, dtype=np.float64).reshape(stack.shape)
        with np.errstate(invalid="ignore"):
            bad_w = ~(np.isfinite(wplane) & (wplane >= 0))
        flags[bad_w] |= F_NONFINITE
        excluded |= bad_w

    out_flags = np.zeros(spatial, dtype=np.uint8)
    out_flags[excluded.any(axis=0)] |= O_PREMASKED
    magnitude = np.where(excluded, 0.0, np.abs(np.where(excluded, 0.0, values))).max(axis=0, initial=0.0)
    std = np.full(spatial, np.nan)
    low = np.full(spatial, np.nan)
    upp = np.full(spatial, np.nan)
    clip_low = np.full(spatial, np.nan)
    clip_upp = np.full(spatial, np.nan)
    nit = np.zeros(spatial, dtype=np.int64)
    fragile = np.zeros(spatial, dtype=bool)
    fids = np.arange(nframes)

    for rej in rejectors:
        stage = np.zeros(stack.shape, dtype=bool)
        if isinstance(rej, AvSigClip):
            # from what the rejectors (and grow stages) before this one left
            line_s = line_sigmas(values, ~excluded, rej.cenfunc, sv, zv, doscale1(rej, sv))
            fragile = line_fragile(fragile)
        for e in np.ndindex(*spatial):
            sl = (slice(None),) + e
            ok = ~excluded[sl]
            x, fid = values[sl][ok], fids[ok]
            judge = Judge(rtol, exact=order_statistics_only(rej))
            if isinstance(rej, SigClip):
                o = sigclip_element(x, fid, rej, judge)
            elif isinstance(rej, CcdClip):
                o = ccdclip_element(x, fid, rej, sv, zv, judge)
            elif isinstance(rej, LinearClip):
                o = linearclip_element(x, fid, rej, judge)
            elif isinstance(rej, MinMaxClip):
                o = minmax_element(x, fid, rej, nframes)
            elif isinstance(rej, PClip):
                o = pclip_element(x, fid, rej, nframes, judge)
            elif isinstance(rej, AvSigClip):
                o = avsigclip_element(x, fid, rej, line_s[e[:-1]], judge, sv, zv)
            elif isinstance(rej, WinsorizedSigClip):
                o = winsorized_element(x, fid, rej, judge)
            elif isinstance(rej, LinearFitClip):
                o = linearfit_element(x, fid, rej, judge)
            elif isinstance(rej, GESDClip):
                o = gesd_element(x, fid, rej, judge)
            elif isinstance(rej, VarClip):
                if nvar is None:
                    raise ValueError("VarClip needs a variance")
                o = varclip_element(x, fid, nvar[sl], rej, judge)
            else:
                raise TypeError(f"unknown rejector {rej!r}")
            stage[(fid[o.rejected],) + e] = True
            if o.restored is not None:
                flags[(fid,) + e] |= o.restored.astype(np.uint8)
            if not isinstance(rej, LinearClip):
                kept = x[~o.rejected]
                o.low, o.upp = (float(kept.min()), float(kept.max())) if len(kept) else (math.nan, math.nan)
            std[e], low[e], upp[e], nit[e] = o.std, o.low, o.upp, o.nit
            clip_low[e], clip_upp[e] = o.clip_low, o.clip_upp
            out_flags[e] |= o.flags
            fragile[e] |= judge.fragile
        flags[stage] |= F_ALGORITHM
        excluded |= stage
        radius = getattr(rej, "grow", None)
        if radius is not None and radius >= 1:
            grown = grow_mask(stage, radius) & ~excluded
            flags[grown] |= F_GROW
            excluded |= grown
            out_flags[grown.any(axis=0)] |= O_GROW
            # a fragile element's rejections may differ, and so may what they grow into
            fragile |= grow_mask(fragile[None], radius)[0]

    data = np.empty(spatial, dtype=np.float64)
    nused = np.zeros(spatial, dtype=np.int64)
    propagate = nvar is not None and method in ("mean", "wavg", "sum", "median", "lmedian")
    out_var = np.full(spatial, np.nan) if propagate else None
    out_w = np.zeros(spatial)
    out_exp = np.zeros(spatial) if exptime is not None else None
    tv = None if exptime is None else np.asarray(exptime, dtype=np.float64).reshape(nframes)
    odt = dq_dtype(dq)
    nodata = (1 << (8 * odt.itemsize - 1)) if nodata_bit is None else int(nodata_bit)
    out_dq = np.zeros(spatial, dtype=odt)
    dq_words = None if dq is None else np.asarray(dq).astype(np.int64) & ((1 << (8 * odt.itemsize)) - 1)
    for e in np.ndindex(*spatial):
        sl = (slice(None),) + e
        ok = ~excluded[sl]
        x = values[sl][ok]
        nused[e] = len(x)
        w = wplane[sl][ok] if wplane is not None else (None if wv is None else wv[ok])
        if len(x) == 0:
            data[e] = blank if blank is not None else (0.0 if method == "sum" else math.nan)
            out_dq[e] = nodata
        else:
            if w is not None and method == "sum":
                data[e] = math.fsum(float(a) * float(b) for a, b in zip(w, x))
            else:
                data[e] = final_value(x, w, method, ddof, q)
            if propagate:
                out_var[e] = propagated_variance(nvar[sl][ok], w, method, ivar)
            acc = 0
            if dq_words is not None:
                for word in dq_words[sl][ok]:
                    acc |= int(word)
            out_dq[e] = acc
        out_w[e] = len(x) if w is None else math.fsum(w)
        if out_exp is not None:
            out_exp[e] = math.fsum(tv[ok])

    return TwinResult(data=data, mask=excluded, sample_flags=flags, std=std, low=low, upp=upp,
                      nit=nit, output_flags=out_flags, nused=nused, fragile=fragile,
                      magnitude=magnitude, workspace=ws, clip_low=clip_low, clip_upp=clip_upp,
                      variance=out_var, weight=out_w, dq=out_dq, exposure=out_exp)
