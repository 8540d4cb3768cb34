//! Min/max clipping with IRAF's arithmetic: fractions of the valid samples,
//! k = trunc(f * n + 0.001) lowest and highest values removed.

use super::{Diag, Win};

pub(super) fn apply(w: &mut Win<'_>, frac_lo: f64, frac_hi: f64) -> Diag {
    let n = w.n();
    // A single pass: nit is 1 at every element (0.1.1).
    let mut d = Diag { nit: 1, ..Diag::default() };
    if n == 0 {
        return d;
    }
    let k_lo = ((frac_lo * n as f64 + 0.001).trunc() as usize).min(n);
    let k_hi = ((frac_hi * n as f64 + 0.001).trunc() as usize).min(n - k_lo);
    w.lo += k_lo;
    w.hi -= k_hi;
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
        let mut w = Win { a: &a, ids: None, lo: 0, hi: 5, line_sigma: f64::NAN };
        apply(&mut w, 0.2, 0.2);
        assert_eq!(w.vals(), &[3.0, 5.0, 7.0]);
    }

    #[test]
    fn counts_shrink_with_masked_samples() {
        // N = 5 with n_min = 2 -> f = 0.4; with 4 valid samples trunc(1.6 + 0.001) = 1.
        let a = [1.0, 2.0, 3.0, 4.0];
        let mut w = Win { a: &a, ids: None, lo: 0, hi: 4, line_sigma: f64::NAN };
        apply(&mut w, 0.4, 0.0);
        assert_eq!(w.vals(), &[2.0, 3.0, 4.0]);
    }
}
