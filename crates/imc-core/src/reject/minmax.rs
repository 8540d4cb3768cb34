//! Min/max clipping with IRAF's arithmetic: fractions of the valid samples,
//! k = trunc(f * n + 0.001) lowest and highest values removed.

use super::{Diag, Work};

pub(super) fn apply(w: &mut Work, frac_lo: f64, frac_hi: f64) -> Diag {
    let n = w.n();
    let mut d = Diag { nit: 1, ..Diag::default() };
    if n == 0 {
        return d;
    }
    let k_lo = ((frac_lo * n as f64 + 0.001).trunc() as usize).min(n);
    let k_hi = ((frac_hi * n as f64 + 0.001).trunc() as usize).min(n - k_lo);
    // Order by value; among equal values the lower frame index is "lower", and for the
    // high side the lower frame index is taken first (IRAF keeps the first maximum found).
    w.pairs.clear();
    w.pairs.extend(w.xs.iter().copied().zip(w.ids.iter().copied()));
    w.pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    w.reject.clear();
    w.reject.resize(n, false);
    // Positions in `xs` by frame id: ids are increasing in frame order, so binary search.
    let pos = |ids: &[u32], id: u32| ids.binary_search(&id).unwrap_or(0);
    for &(_, id) in &w.pairs[..k_lo] {
        let j = pos(&w.ids, id);
        w.reject[j] = true;
    }
    // High side: walk the remaining values from the top; within a run of equal values
    // take the lowest frame ids first.
    let rest = &w.pairs[k_lo..];
    let mut taken = 0;
    let mut end = rest.len();
    while taken < k_hi && end > 0 {
        let v = rest[end - 1].0;
        let mut start = end - 1;
        while start > 0 && rest[start - 1].0 == v {
            start -= 1;
        }
        for &(_, id) in &rest[start..end] {
            if taken == k_hi {
                break;
            }
            let j = pos(&w.ids, id);
            w.reject[j] = true;
            taken += 1;
        }
        end = start;
    }
    w.compact();
    if w.n() > 0 {
        let (lo, hi) = w.xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        d.low = lo;
        d.upp = hi;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(v: &[f64]) -> Work {
        let mut w = Work::with_capacity(v.len());
        w.xs.extend_from_slice(v);
        w.ids.extend(0..v.len() as u32);
        w
    }

    #[test]
    fn removes_one_each() {
        let mut w = work(&[5.0, 1.0, 9.0, 3.0, 7.0]);
        apply(&mut w, 0.2, 0.2);
        assert_eq!(w.xs, vec![5.0, 3.0, 7.0]);
        assert_eq!(w.rejected.len(), 2);
    }

    #[test]
    fn ties_take_first_frames() {
        let mut w = work(&[2.0, 2.0, 2.0, 2.0]);
        apply(&mut w, 0.25, 0.25);
        let mut r = w.rejected.clone();
        r.sort();
        assert_eq!(r, vec![0, 1]);
    }

    #[test]
    fn counts_shrink_with_masked_samples() {
        // N = 5 with n_min = 2 -> f = 0.4; with 4 valid samples trunc(1.6 + 0.001) = 1.
        let mut w = work(&[4.0, 3.0, 2.0, 1.0]);
        apply(&mut w, 0.4, 0.0);
        assert_eq!(w.rejected, vec![3]);
    }
}
