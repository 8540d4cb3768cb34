//! Min/max clipping with IRAF's arithmetic: fractions of the valid samples,
//! k = trunc(f * n + 0.001) lowest and highest values removed.

use super::{Diag, Win};

/// How many of the sorted samples MinMaxClip drops at each end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DropCounts {
    pub low: usize,
    pub high: usize,
}

/// The counts for `n` valid samples: trunc(f * n + 0.001) at each end, the high end
/// limited to what the low end leaves (every path evaluates this one rule).
#[inline]
pub(crate) fn drop_counts(frac_lo: f64, frac_hi: f64, n: usize) -> DropCounts {
    let low = ((frac_lo * n as f64 + 0.001).trunc() as usize).min(n);
    let high = ((frac_hi * n as f64 + 0.001).trunc() as usize).min(n - low);
    DropCounts { low, high }
}

pub(super) fn apply(w: &mut Win<'_>, frac_lo: f64, frac_hi: f64) -> Diag {
    let n = w.n();
    // A single pass: nit is 1 at every element (0.1.1).
    let mut d = Diag { nit: 1, ..Diag::default() };
    if n == 0 {
        return d;
    }
    let k = drop_counts(frac_lo, frac_hi, n);
    w.lo += k.low;
    w.hi -= k.high;
    // No bounds: the clipping limits are the retained extremes.
    if w.n() > 0 {
        d.clip_low = w.a[w.lo];
        d.clip_upp = w.a[w.hi - 1];
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_one_each() {
        let a = [1.0, 3.0, 5.0, 7.0, 9.0];
        let mut w = Win { a: &a, ids: None, lo: 0, hi: 5, line_sigma: f64::NAN, var: None };
        apply(&mut w, 0.2, 0.2);
        assert_eq!(w.vals(), &[3.0, 5.0, 7.0]);
    }

    #[test]
    fn counts_shrink_with_masked_samples() {
        // N = 5 with n_min = 2 -> f = 0.4; with 4 valid samples trunc(1.6 + 0.001) = 1.
        let a = [1.0, 2.0, 3.0, 4.0];
        let mut w = Win { a: &a, ids: None, lo: 0, hi: 4, line_sigma: f64::NAN, var: None };
        apply(&mut w, 0.4, 0.0);
        assert_eq!(w.vals(), &[2.0, 3.0, 4.0]);
    }
}
