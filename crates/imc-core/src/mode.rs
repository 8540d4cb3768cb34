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

    #[test]
    fn finds_the_densest_bin() {
        let mut a: Vec<f64> = (0..100).map(|i| i as f64).collect();
        a.extend(std::iter::repeat_n(42.5, 30));
        a.sort_by(|x, y| x.total_cmp(y));
        assert_eq!(sliding_bin(&a, 10, 120, 10.0, 1.0, 5.0), 42.5);
        // No value in any bin: the first value of the window.
        assert_eq!(sliding_bin(&[1.0f32, 2.0, 3.0], 0, 2, 10.0, 1.0, 1.0), 1.0);
    }
}
