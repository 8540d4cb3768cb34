//! IRAF's sliding-bin mode, shared by both engines' per-frame statistics.
//!
//! The scan is the same in both; the arithmetic around it is each engine's own (the
//! library computes in f64, the IRAF engine in float32 with IRAF's index rounding and its
//! `fp_equalr` test), so each computes the window and the bin sizes and calls
//! [`sliding_bin`].

use std::ops::Add;

/// The mode of the sorted sample `a` over its central window `a[first..=last]`: a bin of
/// `width` slides up from `lo0` in steps of `step`; the middle value of the fullest bin
/// (the first such bin) is the mode. `a[first]` when no bin holds a value.
pub fn sliding_bin<F: Copy + PartialOrd + Add<Output = F>>(a: &[F], first: usize, last: usize, lo0: F, step: F, width: F) -> F {
    let (mut i, mut k) = (first, first);
    let mut best = 0usize;
    let mut mode = a[first];
    let mut lo = lo0;
    loop {
        let hi = lo + width;
        while i < last && a[i] < lo {
            i += 1;
        }
        while k < last && a[k] < hi {
            k += 1;
        }
        if k - i > best {
            best = k - i;
            mode = a[(i + k) / 2];
        }
        if k >= last {
            break;
        }
        lo = lo + step;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_densest_bin() {
        let mut a: Vec<f64> = (0..100).map(|i| i as f64).collect();
        a.extend(std::iter::repeat_n(42.5, 30));
        a.sort_by(|x, y| x.total_cmp(y));
        assert_eq!(sliding_bin(&a, 10, 120, 10.0, 1.0, 5.0), 42.5);
        // No value in any bin: the first value of the window.
        assert_eq!(sliding_bin(&[1.0f32, 2.0, 3.0], 0, 2, 10.0, 1.0, 1.0), 1.0);
    }

    /// The scan restated from its definition: bins [lo, lo + width) at lo = lo0 + k step
    /// (added up in order); a bin counts the window values a[first..last] inside it; the
    /// mode is the middle value of the first fullest bin; the scan ends with the first bin
    /// reaching the window's last value.
    fn by_definition(a: &[f64], first: usize, last: usize, lo0: f64, step: f64, width: f64) -> f64 {
        let first_not_below = |x: f64| (first..last).find(|&j| !(a[j] < x)).unwrap_or(last);
        let (mut best, mut mode, mut lo) = (0, a[first], lo0);
        loop {
            let (i, k) = (first_not_below(lo), first_not_below(lo + width));
            if k - i > best {
                (best, mode) = (k - i, a[(i + k) / 2]);
            }
            if k >= last {
                return mode;
            }
            lo = lo + step;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn scan_follows_its_definition(
            mut a in prop::collection::vec(prop_oneof![(0i32..40).prop_map(|k| k as f64 * 0.25), -1e3f64..1e3], 2..300),
            (f, l) in (0.0f64..0.5, 0.5f64..1.0),
            (start, frac, width) in (-2.0f64..2.0, 0.005f64..0.5, 0.0f64..3.0),
        ) {
            a.sort_by(|x, y| x.total_cmp(y));
            let n = a.len();
            let (first, last) = ((f * n as f64) as usize, ((l * n as f64) as usize).clamp(1, n - 1));
            let first = first.min(last - 1);
            // Bins of a fraction of the window's range, as both engines step them.
            let step = ((a[last] - a[first]) * frac).max(0.01);
            let lo0 = a[first] + start;
            prop_assert_eq!(sliding_bin(&a, first, last, lo0, step, width).to_bits(), by_definition(&a, first, last, lo0, step, width).to_bits());
        }
    }
}
