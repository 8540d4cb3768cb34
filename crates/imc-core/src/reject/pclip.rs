//! Percentile clipping with IRAF's rank-offset convention: the spread is the distance
//! between the median and the sample `p` ranks away from it; a single pass with
//! non-strict (>=) comparisons.

use super::{add_back, keep_count, oflag, Diag, Work};

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

pub(super) fn apply(w: &mut Work, p: i64, sigma_lo: f64, sigma_hi: f64, nkeep: i64) -> Diag {
    let n = w.n();
    let mut d = Diag::default();
    let keep = keep_count(nkeep, n);
    if n < 3.max(keep + 1) {
        return d;
    }
    d.nit = 1;
    w.pairs.clear();
    w.pairs.extend(w.xs.iter().copied().zip(w.ids.iter().copied()));
    w.pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let a = |k1: usize| w.pairs[k1 - 1].0; // 1-based access
    let m = 1 + n / 2;
    let med = if n % 2 == 1 { a(m) } else { 0.5 * (a(m - 1) + a(m)) };
    let slot = if p < 0 {
        let base = if n % 2 == 0 { m as i64 - 1 } else { m as i64 };
        (base + p).max(1) as usize
    } else {
        ((m as i64 + p) as usize).min(n)
    };
    let sigma = p.signum() as f64 * (a(slot) - med);
    d.low = med - sigma_lo * sigma;
    d.upp = med + sigma_hi * sigma;
    if !(sigma > 0.0) {
        return d;
    }
    // Residuals in sorted order; reject from each end while the residual reaches the limit.
    let mut nl = 0;
    while nl < n && (med - a(nl + 1)) / sigma >= sigma_lo {
        nl += 1;
    }
    let mut nh = 0;
    while nl + nh < n && (a(n - nh) - med) / sigma >= sigma_hi {
        nh += 1;
    }
    if nl + nh == 0 {
        return d;
    }
    // Map sorted positions back to positions in xs (ids are increasing in xs).
    w.reject.clear();
    w.reject.resize(n, false);
    w.resid.clear();
    w.resid.resize(n, 0.0);
    w.cand.clear();
    for k in (0..nl).chain(n - nh..n) {
        let (v, id) = w.pairs[k];
        let j = w.ids.binary_search(&id).unwrap_or(0);
        w.reject[j] = true;
        w.resid[j] = (v - med).abs() / sigma;
        w.cand.push(j);
    }
    if n - (nl + nh) < keep {
        d.flags |= oflag::NKEEP;
        add_back(w, n - keep);
    }
    w.compact();
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
        let v = [970.0, 1002.0, 1003.0, 1004.0, 1005.0, 1006.0, 1012.0];
        let mut w = Work::with_capacity(7);
        w.xs.extend_from_slice(&v);
        w.ids.extend(0..7);
        let p = rank_offset(0.25, 7);
        apply(&mut w, p, 3.0, 3.0, 1);
        let mut r = w.rejected.clone();
        r.sort();
        assert_eq!(r, vec![0, 6]);
    }
}
