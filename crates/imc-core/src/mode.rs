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

    // The two engines' mode functions as they were before they shared `sliding_bin`
    // (each with its own scan), kept as references.
    fn iraf_mode_before(a: &[f32]) -> f32 {
        let n = a.len();
        if n == 0 {
            return 0.0;
        }
        if n < 10 {
            return a[(n / 2).max(1) - 1];
        }
        let nf = n as f32;
        let mut i = (1.0f32 + nf * (1.0f32 - 0.7f32) / 2.0f32) as usize;
        let j = (1.0f32 + nf * (1.0f32 + 0.7f32) / 2.0f32) as usize;
        let j = j.min(n);
        let mut z1 = a[i - 1];
        let z2 = a[j - 1];
        if crate::iraf::stats::fp_equalr(z1, z2) {
            return z1;
        }
        let zstep = 0.01f32 * (z2 - z1);
        let zbin = 0.1f32 * (z2 - z1);
        let mut mode = z1;
        z1 -= zstep;
        let mut k = i;
        let mut nmax = 0usize;
        loop {
            z1 += zstep;
            let z2 = z1 + zbin;
            while i < j && a[i - 1] < z1 {
                i += 1;
            }
            while k < j && a[k - 1] < z2 {
                k += 1;
            }
            if k - i > nmax {
                nmax = k - i;
                mode = a[(i + k) / 2 - 1];
            }
            if k >= j {
                break;
            }
        }
        mode
    }

    fn library_mode_before(a: &[f64]) -> f64 {
        let n = a.len();
        if n == 0 {
            return f64::NAN;
        }
        if n < 10 {
            return a[(n / 2).max(1) - 1];
        }
        let i1 = (1.0 + n as f64 * 0.3 / 2.0) as usize; // 1-based
        let j1 = ((1.0 + n as f64 * 1.7 / 2.0) as usize).min(n);
        let (z1, z2) = (a[i1 - 1], a[j1 - 1]);
        if z2 - z1 <= 32.0 * f64::EPSILON * z1.abs().max(z2.abs()) {
            return z1;
        }
        let width = 0.1 * (z2 - z1);
        let step = 0.01 * (z2 - z1);
        let (mut i, mut k) = (i1 - 1, i1 - 1);
        let mut best = 0usize;
        let mut mode = z1;
        let mut lo = z1;
        loop {
            let hi = lo + width;
            while i < j1 - 1 && a[i] < lo {
                i += 1;
            }
            while k < j1 - 1 && a[k] < hi {
                k += 1;
            }
            if k - i > best {
                best = k - i;
                mode = a[(i + k) / 2];
            }
            if k >= j1 - 1 {
                break;
            }
            lo += step;
        }
        mode
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn both_engines_keep_their_mode(
            mut a in prop::collection::vec(prop_oneof![(0i32..40).prop_map(|k| k as f64 * 0.25), -1e3f64..1e3], 0..400),
        ) {
            a.sort_by(|x, y| x.total_cmp(y));
            let lib = crate::stats::mode_sorted(&a);
            prop_assert_eq!(lib.to_bits(), library_mode_before(&a).to_bits());
            let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            prop_assert_eq!(crate::iraf::stats::iraf_mode(&a32).to_bits(), iraf_mode_before(&a32).to_bits());
        }
    }
}
