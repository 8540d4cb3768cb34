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
    """Result of one rejector on one output element."""

    rejected: np.ndarray  # bool, aligned with the element's input survivors
    std: float = math.nan
    low: float = math.nan
    upp: float = math.nan
    nit: int = 0
    flags: int = 0


# --------------------------------------------------------------------------------------
# nkeep / maxrej and the IRAF add-back
# --------------------------------------------------------------------------------------


def allowed_rejections(n0: int, nkeep: int, maxrej: int | None) -> tuple[int, int]:
    """(limit from nkeep, limit from maxrej) on the number rejected by one rejector.

    keep = nkeep if nkeep >= 0 else n0 + nkeep, clamped to [0, n0] (IRAF maxkeep).
    """
    keep = nkeep if nkeep >= 0 else n0 + nkeep
    keep = min(max(keep, 0), n0)
    return n0 - keep, (n0 if maxrej is None else int(maxrej))


def add_back(keys: list[float], tols: list[float], need: int, judge: Judge) -> list[int]:
    """Indices (into ``keys``) restored by the IRAF least-deviant add-back.

    ``keys`` are the |residual|s of the candidates; the ``need`` smallest are restored,
    then further candidates while the next one is within its tolerance of the last
    restored one (ties restored together, chained).

    CHOICE: ties are ``next - last <= tol`` (inclusive), chained in sorted order.
    """
    if need <= 0:
        return []
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    chosen = order[:need]
    last = keys[chosen[-1]]
    for i in order[need:]:
        gap = keys[i] - last
        if math.isfinite(gap):  # a key right at the tie limit is fragile
            judge._near(keys[i], last + tols[i], keys[i])
        if gap <= tols[i]:
            chosen.append(i)
            last = keys[i]
        else:
            break
    return chosen


# --------------------------------------------------------------------------------------
# Iterative clippers (SigClip, CcdClip, LinearClip) share one driver
# --------------------------------------------------------------------------------------


@dataclass
class PassBounds:
    """What one pass of an iterative clipper computed from the current survivors."""

    lo: np.ndarray  # per-sample lower keep bound
    hi: np.ndarray  # per-sample upper keep bound
    inclusive: bool  # True: keep lo <= x <= hi (LinearClip); False: keep unless x < lo / x > hi
    std: float
    low: float
    upp: float
    keys: np.ndarray  # |residual| used by the add-back ordering
    tols: np.ndarray  # add-back tie tolerance per sample
    scale: float  # magnitude for fragility checks


def _iterate(x, fid, *, maxiters, nkeep, maxrej, revert, min_n, bounds_of, judge) -> Outcome:
    """Generic "clip, accumulate, repeat" driver (design.md: SigClip + nkeep/maxrej).

    CHOICEs:
    * a pass is "evaluated" (counted in ``nit``, sets std/low/upp) once its bounds were
      computed; a pass that cannot start (n < min_n, spread not finite, n <= ddof) is
      not evaluated; with no evaluated pass std/low/upp are NaN and nit is 0;
    * std/low/upp come from the last evaluated pass, even when it was reverted;
    * when a pass exceeds a limit, bit 4 is set if the nkeep limit is exceeded and bit 8
      if the maxrej limit is exceeded (both when both are), and the loop stops (after
      the revert or the add-back);
    * bit 2 (maxiters) only when the pass number ``maxiters`` rejected and was accepted
      in full (a reverted / added-back final pass sets 4/8 instead).
    """
    n0 = len(x)
    alive = np.ones(n0, dtype=bool)
    out = Outcome(rejected=np.zeros(n0, dtype=bool))
    lim_keep, lim_max = allowed_rejections(n0, nkeep, maxrej)
    for it in range(maxiters):
        idx = np.flatnonzero(alive)
        if len(idx) < min_n:
            break
        b = bounds_of(x[idx], fid[idx])
        if b is None:
            break
        out.nit += 1
        out.std, out.low, out.upp = b.std, b.low, b.upp
        rej = np.zeros(len(idx), dtype=bool)
        for j in range(len(idx)):
            v = float(x[idx[j]])
            if b.inclusive:
                rej[j] = not (judge.le(b.lo[j], v, b.scale) and judge.le(v, b.hi[j], b.scale))
            else:
                rej[j] = judge.lt(v, b.lo[j], b.scale) or judge.gt(v, b.hi[j], b.scale)
        if not rej.any():
            break
        already = n0 - len(idx)
        total = already + int(rej.sum())
        over_keep, over_max = total > lim_keep, total > lim_max
        if over_keep or over_max:
            out.flags |= (O_NKEEP if over_keep else 0) | (O_MAXREJ if over_max else 0)
            if not revert:
                cand = np.flatnonzero(rej)
                need = total - min(lim_keep, lim_max)
                back = add_back([float(b.keys[c]) for c in cand], [float(b.tols[c]) for c in cand], need, judge)
                for k in back:
                    rej[cand[k]] = False
                alive[idx[rej]] = False
            break
        alive[idx[rej]] = False
        if it == maxiters - 1:
            out.flags |= O_MAXITERS
    out.rejected = ~alive
    return out


def spread(x: np.ndarray, c: float, stdfunc: str, ddof: int) -> float:
    """SigClip spread.

    CHOICE: ``ddof`` only enters ``stdfunc="std"`` (n <= ddof -> NaN -> stop); "mad" and
    "iraf" ignore it.
    """
    n = len(x)
    if stdfunc == "std":
        return math.sqrt(variance(x, ddof)) if n > ddof else math.nan
    if stdfunc == "mad":
        med = median(x)
        return MAD_FACTOR * median(np.abs(x - med))
    if stdfunc == "iraf":
        return math.sqrt(math.fsum((float(v) - c) ** 2 for v in x) / (n - 1))
    raise ValueError(f"stdfunc {stdfunc!r}")


def sigclip_element(x: np.ndarray, fid: np.ndarray, r: SigClip, judge: Judge) -> Outcome:
    """design.md SigClip on the valid (normalised) samples of one element.

    Rejects x < c - lo*s or x > c + hi*s (strict).  Nothing is clipped when n < 2.
    CHOICE: s == 0 is a valid spread (every x != c is rejected, as astropy does);
    add-back residuals are |x - c| / s with ties within 0.001 (s == 0: |x - c|, exact ties).
    """
    lo_s, hi_s = _pair(r.sigma)

    def bounds_of(xs, _fid):
        c = centre(xs, r.cenfunc)
        s = spread(xs, c, r.stdfunc, r.ddof)
        if not math.isfinite(s) or not math.isfinite(c):
            return None
        lo, hi = c - lo_s * s, c + hi_s * s
        dev = np.abs(xs - c)
        if s > 0:
            keys, tols = dev / s, np.full(len(xs), ADDBACK_TOL)
        else:
            keys, tols = dev, np.zeros(len(xs))
        return PassBounds(np.full(len(xs), lo), np.full(len(xs), hi), False, s, lo, hi,
                          keys, tols, max(abs(c), s))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=2, bounds_of=bounds_of, judge=judge)


#: IRAF's floor on the read-noise variance: 1e4 / MAX_REAL with MAX_REAL = 0.99e37.
CCD_VAR_FLOOR = 1e4 / 0.99e37


def ccd_sigma(level: float, r: CcdClip) -> float:
    """IRAF noise model sqrt(var0 + I/gain + (snoise*I)^2) at I = max(0, level).

    CHOICE (iraf.md 6.4): var0 = max((rdnoise/gain)^2, 1e4/0.99e37), so sigma > 0 always.
    """
    i = max(0.0, level)
    var0 = max((r.rdnoise / r.gain) ** 2, CCD_VAR_FLOOR)
    return math.sqrt(var0 + i / r.gain + (r.snoise * i) ** 2)


def doscale1(r: CcdClip, scale: np.ndarray | None) -> bool:
    """IRAF's Poisson correction: sigscale > 0 and some |S_i - 1| > sigscale."""
    if scale is None or r.sigscale <= 0:
        return False
    return bool(np.any(np.abs(np.asarray(scale, dtype=float) - 1.0) > r.sigscale))


def ccdclip_element(x, fid, r: CcdClip, scale, zero, judge: Judge) -> Outcome:
    """design.md CcdClip: SigClip with the IRAF noise model as the per-sample sigma.

    With the Poisson correction, sigma_i = model(max(0, S_i*c + Z_i)) / S_i (Z in raw
    units, i.e. value' = (value - Z_i)/S_i); otherwise sigma = model(max(0, c)) for all.
    CHOICEs: std = model(max(0, c)) (sigma at the centre, S = 1); low/upp = c -/+ sigma*std
    with that centre sigma; high_only: no low-side test and low = -inf.
    """
    lo_s, hi_s = _pair(r.sigma)
    corr = doscale1(r, scale)
    if corr:
        S = np.asarray(scale, dtype=float)
        Z = np.zeros_like(S) if zero is None else np.asarray(zero, dtype=float)

    def bounds_of(xs, fs):
        c = centre(xs, r.cenfunc)
        if not math.isfinite(c):
            return None
        sc = ccd_sigma(c, r)
        if corr:
            sig = np.array([ccd_sigma(S[f] * c + Z[f], r) / S[f] for f in fs])
        else:
            sig = np.full(len(xs), sc)
        if not np.all(np.isfinite(sig)):
            return None
        lo = np.full(len(xs), -math.inf) if r.high_only else c - lo_s * sig
        hi = c + hi_s * sig
        dev = np.abs(xs - c)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = np.where(sig > 0, dev / np.where(sig > 0, sig, 1.0), dev)
        tols = np.where(sig > 0, ADDBACK_TOL, 0.0)
        low = -math.inf if r.high_only else c - lo_s * sc
        return PassBounds(lo, hi, False, sc, low, c + hi_s * sc, keys, tols,
                          max(abs(c), float(np.max(sig))))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=2, bounds_of=bounds_of, judge=judge)


def linearclip_element(x, fid, r: LinearClip, judge: Judge) -> Outcome:
    """design.md LinearClip: keep low_scale*c - low <= x <= upp_scale*c + upp.

    CHOICEs: runs from n >= 1 (it needs no spread); std is NaN; add-back ordering by
    |x - c| with exact ties only (no sigma to scale a tolerance).
    """

    def bounds_of(xs, _fid):
        c = centre(xs, r.cenfunc)
        if not math.isfinite(c):
            return None
        lo, hi = r.low_scale * c - r.low, r.upp_scale * c + r.upp
        return PassBounds(np.full(len(xs), lo), np.full(len(xs), hi), True, math.nan, lo, hi,
                          np.abs(xs - c), np.zeros(len(xs)), max(abs(c), abs(lo), abs(hi)))

    return _iterate(x, fid, maxiters=r.maxiters, nkeep=r.nkeep, maxrej=r.maxrej,
                    revert=r.revert_on_nkeep, min_n=1, bounds_of=bounds_of, judge=judge)


# --------------------------------------------------------------------------------------
# MinMaxClip and PClip (order statistics, single pass)
# --------------------------------------------------------------------------------------


def minmax_fraction(count: float, nframes: int) -> float:
    """IRAF: counts >= 1 become fractions of N; values < 1 already are fractions.

    CHOICE: a count >= 1 is truncated to an integer first (1.5 -> 1), like IRAF's integer
    nlow/nhigh parameters.
    """
    return math.trunc(count) / nframes if count >= 1 else float(count)


def minmax_element(x, fid, r: MinMaxClip, nframes: int) -> Outcome:
    """design.md MinMaxClip: k = trunc(f*n + 0.001) lowest and highest valid samples.

    Ties: the lower frame index counts as lower on the low side; the first frame wins
    (is rejected first) on the high side.  The low side is taken first, then the high
    side from what is left.
    CHOICEs: k_lo + k_hi >= n rejects every sample; nit = 1 when n >= 1 else 0;
    low/upp = min/max of the retained samples (NaN if none); std NaN; -0.0 == 0.0
    (IEEE equality; the frame index breaks the tie).
    """
    n = len(x)
    out = Outcome(rejected=np.zeros(n, dtype=bool), nit=1 if n else 0)
    if n == 0:
        return out
    k_lo = int(minmax_fraction(r.n_min, nframes) * n + 0.001)
    k_hi = int(minmax_fraction(r.n_max, nframes) * n + 0.001)
    by_low = sorted(range(n), key=lambda j: (float(x[j]), int(fid[j])))
    for j in by_low[:k_lo]:
        out.rejected[j] = True
    rest = [j for j in range(n) if not out.rejected[j]]
    by_high = sorted(rest, key=lambda j: (-float(x[j]), int(fid[j])))
    for j in by_high[:k_hi]:
        out.rejected[j] = True
    kept = x[~out.rejected]
    if len(kept):
        out.low, out.upp = float(kept.min()), float(kept.max())
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

    Runs when n >= max(3, maxkeep + 1); sorted values v[1..n], m = 1 + n//2,
    median = v[m] (odd) or (v[m-1] + v[m]) / 2 (even); slot = m - 1 + p (even n, p < 0)
    or m + p, clamped to [1, n]; sigma = sign(p) * (v[slot] - median); sigma = 0 -> no
    rejection.  Single pass: reject (median - v)/sigma >= lsigma, (v - median)/sigma >=
    hsigma.  If fewer than maxkeep survive, rejected samples come back by increasing
    |v - median|/sigma (ties within 0.001, chained).
    CHOICEs: add-back uses the generic least-deviant rule (not IRAF's sorted-ends
    oddities) and sets output bit 4; std = sigma, low/upp = median -/+ sigma*(lo, hi)
    (the bounds of the pass); nit = 1 when the pass ran (also when sigma == 0), else 0.
    """
    n = len(x)
    out = Outcome(rejected=np.zeros(n, dtype=bool))
    lo_s, hi_s = _pair(r.sigma)
    keep = r.nkeep if r.nkeep >= 0 else n + r.nkeep
    keep = min(max(keep, 0), n)
    if n < max(3, keep + 1):
        return out
    p = pclip_offset(r.frac, nframes)
    v = sorted(float(t) for t in x)
    m = 1 + n // 2
    med = v[m - 1] if n % 2 else (v[m - 2] + v[m - 1]) / 2.0
    if p < 0:
        slot = (m - 1 + p) if n % 2 == 0 else (m + p)
        slot = max(slot, 1)
    else:
        slot = min(m + p, n)
    sig = math.copysign(1.0, p) * (v[slot - 1] - med)
    out.nit = 1
    out.std, out.low, out.upp = sig, med - lo_s * sig, med + hi_s * sig
    if sig == 0:
        return out
    for j in range(n):
        t = float(x[j])
        r_lo, r_hi = (med - t) / sig, (t - med) / sig
        out.rejected[j] = judge.ge(r_lo, lo_s, 1.0) or judge.ge(r_hi, hi_s, 1.0)
    nkept = n - int(out.rejected.sum())
    if nkept < keep:
        out.flags |= O_NKEEP
        cand = np.flatnonzero(out.rejected)
        keys = [abs(float(x[c]) - med) / sig for c in cand]
        for k in add_back(keys, [ADDBACK_TOL] * len(cand), keep - nkept, judge):
            out.rejected[cand[k]] = False
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
        return rej.cenfunc != "mean" and rej.stdfunc == "mad"
    if isinstance(rej, (CcdClip, LinearClip)):
        return rej.cenfunc != "mean"
    return False


@dataclass
class TwinResult:
    data: np.ndarray  # (*spatial) float64
    mask: np.ndarray  # (N, *spatial) bool, every excluded sample
    sample_flags: np.ndarray  # (N, *spatial) uint8
    std: np.ndarray
    low: np.ndarray
    upp: np.ndarray
    nit: np.ndarray
    output_flags: np.ndarray
    nused: np.ndarray
    fragile: np.ndarray  # (*spatial) bool
    magnitude: np.ndarray  # (*spatial) max |value| of the valid samples (for tolerances)
    workspace: np.dtype = field(default=np.dtype(np.float64))


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


def combine(stack, mask=None, *, method: str = "mean", thresholds=None, zero=None, scale=None,
            weights=None, rejectors: Sequence = (), ddof: int = 0, q: float | None = None,
            blank: float | None = None, rtol: float | None = None) -> TwinResult:
    """The full library call, element by element.

    ``stack`` is (N, *spatial) of a supported dtype or a list of equally shaped frames;
    ``zero``/``scale``/``weights`` are resolved numbers (scalar or length N).

    CHOICEs:
    * sample_flags record the first cause only: input mask (1), else non-finite (2), else
      outside thresholds (4), else algorithm (8), else grow (16);
    * output bit 1 (premasked) = some sample of the element was excluded before the
      first rejector (input mask, non-finite or threshold);
    * ``blank`` fills only elements with no sample left; variance with 0 < n <= ddof is
      NaN; sum of nothing is 0 unless ``blank`` is given;
    * with no rejector, std/low/upp are NaN and nit 0.
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
        flags[m] = F_INPUT
        excluded |= m
    nonfinite = ~np.isfinite(raw) & ~excluded
    flags[nonfinite] = F_NONFINITE
    excluded |= nonfinite
    if thresholds is not None:
        lo, hi = thresholds
        outside = ((raw < lo) | (raw > hi)) & ~excluded
        flags[outside] = F_THRESHOLD
        excluded |= outside

    zv, sv = _as_vector(zero, nframes, 0.0), _as_vector(scale, nframes, 1.0)
    wv = _as_vector(weights, nframes, 1.0)
    values = raw.copy()
    shape1 = (nframes,) + (1,) * len(spatial)
    with np.errstate(invalid="ignore"):
        if zv is not None:
            values = values - zv.reshape(shape1)
        if sv is not None:
            values = values / sv.reshape(shape1)

    out_flags = np.zeros(spatial, dtype=np.uint8)
    out_flags[excluded.any(axis=0)] |= O_PREMASKED
    magnitude = np.where(excluded, 0.0, np.abs(np.where(excluded, 0.0, values))).max(axis=0, initial=0.0)
    std = np.full(spatial, np.nan)
    low = np.full(spatial, np.nan)
    upp = np.full(spatial, np.nan)
    nit = np.zeros(spatial, dtype=np.int64)
    fragile = np.zeros(spatial, dtype=bool)
    fids = np.arange(nframes)

    for rej in rejectors:
        stage = np.zeros(stack.shape, dtype=bool)
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
            else:
                raise TypeError(f"unknown rejector {rej!r}")
            stage[(fid[o.rejected],) + e] = True
            std[e], low[e], upp[e], nit[e] = o.std, o.low, o.upp, o.nit
            out_flags[e] |= o.flags
            fragile[e] |= judge.fragile
        flags[stage] = F_ALGORITHM
        excluded |= stage
        radius = getattr(rej, "grow", None)
        if radius is not None and radius >= 1:
            grown = grow_mask(stage, radius) & ~excluded
            flags[grown] = F_GROW
            excluded |= grown
            out_flags[grown.any(axis=0)] |= O_GROW
            # a fragile element's rejections may differ, and so may what they grow into
            fragile |= grow_mask(fragile[None], radius)[0]

    data = np.empty(spatial, dtype=np.float64)
    nused = np.zeros(spatial, dtype=np.int64)
    for e in np.ndindex(*spatial):
        sl = (slice(None),) + e
        ok = ~excluded[sl]
        x = values[sl][ok]
        nused[e] = len(x)
        if len(x) == 0:
            data[e] = blank if blank is not None else (0.0 if method == "sum" else math.nan)
        else:
            data[e] = final_value(x, None if wv is None else wv[ok], method, ddof, q)

    return TwinResult(data=data, mask=excluded, sample_flags=flags, std=std, low=low, upp=upp,
                      nit=nit, output_flags=out_flags, nused=nused, fragile=fragile,
                      magnitude=magnitude, workspace=ws)
