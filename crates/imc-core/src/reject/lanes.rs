//! Whole-block first passes of WinsorizedSigClip, GESDClip and LinearFitClip.
//!
//! The vertical path sorts a block of [`LANES`] pixels with one network; rows are the
//! sorted ranks (`rows[k * LANES + b]`: rank k of lane b). For a lone rejector of these
//! kinds and a block whose lanes are all complete, [`first_pass`] runs the rejector's first
//! pass for every lane at once: the same f64 operations, in the same order, as the
//! per-element code (so the same bits), written as loops over lanes that the compiler
//! vectorises. A lane whose first pass provably rejects nothing is decided here (its
//! survivors are all n samples, one pass evaluated); every other lane (an outlier, a rare
//! branch of the per-element code) is left to the per-element rejector, which starts again
//! from scratch. Nothing here allocates.

use super::{gesd, linfit, winsorized, Prepared};
use crate::job::Rejector;
use crate::network::LANES;
use crate::real::Real;

/// What a whole-block first pass reports per lane (slices of at least `len` lanes).
pub(crate) struct LanePass<'a> {
    /// The lane is decided: its first pass rejects nothing.
    pub ok: &'a mut [bool],
    /// The pass's spread and clipping bounds (the rejector's `std`, `clip_low`, `clip_upp`).
    pub std: &'a mut [f64],
    pub low: &'a mut [f64],
    pub upp: &'a mut [f64],
}

/// Whether `p` (the lone rejector of a job) has a whole-block first pass for `n` samples.
pub(crate) fn applies(p: &Prepared, n: usize) -> bool {
    match p.rejector {
        // Without the spread as an output the pass decides from a lower bound of sigma.
        Rejector::Winsorized { maxiters, .. } => maxiters >= 1 && !p.spread_wanted && n >= 2,
        Rejector::Gesd { max_outliers, .. } => {
            gesd::test_count(max_outliers, n) >= 1 && p.esd_table.as_ref().is_some_and(|t| t.len() > n)
        }
        Rejector::LinearFit { maxiters, .. } => maxiters >= 1 && n >= 3,
        _ => false,
    }
}

/// The first pass of `p` over `len` complete lanes of `n` sorted samples. Call only when
/// [`applies`] holds.
#[inline(always)]
pub(crate) fn first_pass<L: Real>(p: &Prepared, rows: &[L], n: usize, len: usize, out: LanePass<'_>) {
    debug_assert!(applies(p, n) && len <= LANES && rows.len() >= n * LANES);
    match p.rejector {
        Rejector::Winsorized { sigma_lo, sigma_hi, cutoff, .. } => winsorized::first_pass_lanes(rows, n, len, sigma_lo, sigma_hi, cutoff, out),
        Rejector::Gesd { max_outliers, .. } => {
            let table = p.esd_table.as_deref().map(|t| t.as_slice()).unwrap_or(&[]);
            gesd::first_pass_lanes(rows, n, len, table, gesd::test_count(max_outliers, n), out)
        }
        Rejector::LinearFit { sigma_lo, sigma_hi, .. } => linfit::first_pass_lanes(rows, n, len, sigma_lo, sigma_hi, out),
        _ => unreachable!("lanes::applies admits these three"),
    }
}

/// Per-lane f64 values (one per lane of a block).
pub(crate) type Lanes = [f64; LANES];

/// Rank k of the first `len` lanes.
#[inline(always)]
pub(crate) fn row<L: Real>(rows: &[L], k: usize, len: usize) -> &[L] {
    &rows[k * LANES..k * LANES + len]
}

/// Per lane, the median of the n sorted samples (`reject::median_sorted`'s expressions).
#[inline(always)]
pub(crate) fn medians<L: Real>(rows: &[L], n: usize, len: usize, med: &mut Lanes) {
    let med = &mut med[..len];
    let r1 = row(rows, n / 2, len);
    if n % 2 == 1 {
        for (m, &x) in med.iter_mut().zip(r1) {
            *m = x.to_f64();
        }
    } else {
        let r0 = row(rows, n / 2 - 1, len);
        for ((m, &x), &y) in med.iter_mut().zip(r0).zip(r1) {
            *m = 0.5 * (x.to_f64() + y.to_f64());
        }
    }
}

/// Per lane, Σd and Σd² of d = clamp(x - m, lo, hi) over the n sorted samples, in the
/// order of `reject::sum_map` (ranks k < n/4*4 into four interleaved accumulators, added as
/// (a0 + a1) + (a2 + a3), then the other ranks in order). Without `clamp` d = x - m (the
/// bounds are not read). The clamp is `f64::clamp`'s two comparisons.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dev_sums<L: Real>(rows: &[L], n: usize, len: usize, m: &Lanes, clamp: Option<(&Lanes, &Lanes)>, s1: &mut Lanes, s2: &mut Lanes) {
    let mut a = [[0.0f64; LANES]; 4];
    let mut q = [[0.0f64; LANES]; 4];
    let full = n / 4 * 4;
    let m = &m[..len];
    for k in 0..n {
        let x = row(rows, k, len);
        if k < full {
            let (a, q) = (&mut a[k % 4][..len], &mut q[k % 4][..len]);
            match clamp {
                None => {
                    for b in 0..len {
                        let d = x[b].to_f64() - m[b];
                        a[b] += d;
                        q[b] += d * d;
                    }
                }
                Some((lo, hi)) => {
                    let (lo, hi) = (&lo[..len], &hi[..len]);
                    for b in 0..len {
                        let d = clamped(x[b].to_f64() - m[b], lo[b], hi[b]);
                        a[b] += d;
                        q[b] += d * d;
                    }
                }
            }
            continue;
        }
        if k == full {
            for b in 0..len {
                s1[b] = (a[0][b] + a[1][b]) + (a[2][b] + a[3][b]);
                s2[b] = (q[0][b] + q[1][b]) + (q[2][b] + q[3][b]);
            }
        }
        let (s1, s2) = (&mut s1[..len], &mut s2[..len]);
        match clamp {
            None => {
                for b in 0..len {
                    let d = x[b].to_f64() - m[b];
                    s1[b] += d;
                    s2[b] += d * d;
                }
            }
            Some((lo, hi)) => {
                let (lo, hi) = (&lo[..len], &hi[..len]);
                for b in 0..len {
                    let d = clamped(x[b].to_f64() - m[b], lo[b], hi[b]);
                    s1[b] += d;
                    s2[b] += d * d;
                }
            }
        }
    }
    if full == n {
        for b in 0..len {
            s1[b] = (a[0][b] + a[1][b]) + (a[2][b] + a[3][b]);
            s2[b] = (q[0][b] + q[1][b]) + (q[2][b] + q[3][b]);
        }
    }
}

/// `x.clamp(lo, hi)` for lo <= hi (the same two comparisons, without the assertion).
#[inline(always)]
pub(crate) fn clamped(x: f64, lo: f64, hi: f64) -> f64 {
    let x = if x < lo { lo } else { x };
    if x > hi { hi } else { x }
}
