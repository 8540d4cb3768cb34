//! Percentile clipping with IRAF's rank-offset convention: the spread is the distance
//! between the median and the sample `p` ranks away from it; a single pass with
//! non-strict (>=) comparisons.

use super::{add_back, keep_count, oflag, sflag, Diag, Scratch, Win, ADDBACK_TOL};

/// IRAF's conversion of `pclip` to a rank offset, fixed from the stack size N.
pub(super) fn rank_offset(frac: f64, n: usize) -> i64 {
    let h = (n / 2) as i64;
    let p = if frac.abs() < 1.0 { frac * h as f64 } else { frac };
    let p = p.trunc() as i64;
    if frac < 0.0 {
        (-1_i64).min((-h).max(p))
    } else {
        1_i64.max(h.min(p))
    }
}

/// 1-based rank (among n sorted samples) of the sample whose distance from the median is
/// the spread, for IRAF rank offset `p`.
pub(crate) fn spread_slot(p: i64, n: usize) -> usize {
    let m = 1 + n / 2;
    if p < 0 {
        let base = if n % 2 == 0 { m as i64 - 1 } else { m as i64 };
        (base + p).max(1) as usize
    } else {
        ((m as i64 + p) as usize).min(n)
    }
}

pub(super) fn apply(w: &mut Win<'_>, s: &mut Scratch, p: i64, sigma_lo: f64, sigma_hi: f64, nkeep: i64) -> Diag {
    let n = w.n();
    // A single pass: nit is 1 at every element (0.1.1).
    let mut d = Diag { nit: 1, ..Diag::default() };
    let keep = keep_count(nkeep, n);
    if n < 3.max(keep + 1) {
        return d;
    }
    let (lo0, hi0) = (w.lo, w.hi);
    let a = w.a;
    let at = |k1: usize| a[lo0 + k1 - 1]; // 1-based within the window
    let m = 1 + n / 2;
    let med = if n % 2 == 1 { at(m) } else { 0.5 * (at(m - 1) + at(m)) };
    let slot = spread_slot(p, n);
    let sigma = p.signum() as f64 * (at(slot) - med);
    d.clip_low = med - sigma_lo * sigma;
    d.clip_upp = med + sigma_hi * sigma;
    if !(sigma > 0.0) {
        return d;
    }
    let (mut lo, mut hi) = (lo0, hi0);
    while lo < hi && (med - a[lo]) / sigma >= sigma_lo {
        lo += 1;
    }
    while hi > lo && (a[hi - 1] - med) / sigma >= sigma_hi {
        hi -= 1;
    }
    if hi - lo < keep {
        d.flags |= oflag::NKEEP;
        let (l2, h2) = add_back(lo0, hi0, lo, hi, n - keep, ADDBACK_TOL, |j| (a[j] - med).abs() / sigma);
        if s.record_restored {
            for (x, y) in [(l2, lo), (hi, h2)] {
                if y > x {
                    s.restored.push((x, y, sflag::RESTORED_NKEEP));
                }
            }
        }
        lo = l2;
        hi = h2;
    }
    w.lo = lo;
    w.hi = hi;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_iraf() {
        assert_eq!(rank_offset(-0.5, 10), -2);
        assert_eq!(rank_offset(-0.5, 7), -1);
        assert_eq!(rank_offset(-0.5, 15), -3);
        assert_eq!(rank_offset(2.0, 10), 2);
        assert_eq!(rank_offset(0.1, 10), 1);
    }

    #[test]
    fn clips_both_ends() {
        let a = [970.0, 1002.0, 1003.0, 1004.0, 1005.0, 1006.0, 1012.0];
        let mut w = Win { a: &a, ids: None, lo: 0, hi: 7, line_sigma: f64::NAN, var: None };
        apply(&mut w, &mut Scratch::default(), rank_offset(0.25, 7), 3.0, 3.0, 1);
        assert_eq!((w.lo, w.hi), (1, 6));
    }
}
