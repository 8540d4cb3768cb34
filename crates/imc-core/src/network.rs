//! Sorting networks applied "vertically", shared by both engines: one network sorts many
//! pixels at once, each comparator an element-wise min/max of two rows (one row per slot
//! or frame, one column per pixel), which the compiler vectorises.
//!
//! A network moves values only, never ids, and the order it leaves *equal* values in is
//! not a stable one. Callers use it where that cannot matter: the library engine sorts
//! values only (its rules read the sorted values, and -0.0 is made +0.0 first); the IRAF
//! engine sorts lines without -0.0 next to +0.0 when no image id is read, or (value, id)
//! keys whose order is total.

/// Pixels per block of the vertical paths (the library's network-sorted blocks, the IRAF
/// engine's line fast paths and slot-major gathers): one block of all N rows stays in
/// L1, and the per-block scratch arrays fit on the stack.
pub const LANES: usize = 64;

/// Comparators (lower slot, upper slot) of Batcher's odd-even merge sort for `n` inputs.
pub fn batcher(n: usize) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        out.push(((i + j) as u16, (i + j + k) as u16));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    out
}

/// Columns sorted together: a block of every row stays in L1 (the library engine's blocks
/// of 64 pixels are one such block).
const COLUMN_BLOCK: usize = 128;

/// Sort every column of `rows` (row-major, rows of `stride` values; column x holds one
/// pixel's values) ascending with the comparators `net`. Values must not be NaN (invalid
/// samples are +inf and sort to the end).
#[inline(always)]
pub fn sort_columns<T: Copy + PartialOrd>(rows: &mut [T], stride: usize, net: &[(u16, u16)]) {
    let mut x0 = 0;
    while x0 < stride {
        let len = COLUMN_BLOCK.min(stride - x0);
        for &(a, b) in net {
            let (a, b) = (a as usize, b as usize);
            let (head, tail) = rows.split_at_mut(b * stride);
            compare_swap(&mut head[a * stride + x0..a * stride + x0 + len], &mut tail[x0..x0 + len]);
        }
        x0 += len;
    }
}

/// One comparator on a run of columns: `lo[x], hi[x] = min, max`.
#[inline(always)]
fn compare_swap<T: Copy + PartialOrd>(lo: &mut [T], hi: &mut [T]) {
    for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
        let (a, b) = (*x, *y);
        // Plain comparisons compile to vector min/max (no NaN handling needed).
        *x = if a < b { a } else { b };
        *y = if a < b { b } else { a };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Every column comes out as a plain sort of it (f32 and f64, with infinities).
        #[test]
        fn network_sort_equals_a_plain_sort(
            (n, stride, vals) in (1usize..80, 1usize..200).prop_flat_map(|(n, s)| {
                let v = prop_oneof![4 => (0i32..6).prop_map(f64::from), 4 => -1e6f64..1e6, 1 => Just(f64::INFINITY), 1 => Just(f64::NEG_INFINITY)];
                (Just(n), Just(s), prop::collection::vec(v, n * s))
            }),
        ) {
            let net = batcher(n);
            let column = |rows: &[f64], b: usize| (0..n).map(|i| rows[i * stride + b]).collect::<Vec<_>>();
            let mut rows = vals.clone();
            sort_columns(&mut rows, stride, &net);
            let mut rows32: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
            sort_columns(&mut rows32, stride, &net);
            for b in 0..stride {
                let mut want = column(&vals, b);
                want.sort_by(|x, y| x.total_cmp(y));
                prop_assert_eq!(&column(&rows, b), &want);
                let got32: Vec<f32> = (0..n).map(|i| rows32[i * stride + b]).collect();
                let want32: Vec<f32> = want.iter().map(|&x| x as f32).collect();
                prop_assert_eq!(got32, want32);
            }
        }
    }

    #[test]
    fn networks_sort_every_zero_one_input() {
        // 0-1 principle: a comparator network sorts everything iff it sorts all 0/1 inputs.
        for n in 2..=18usize {
            let comps = batcher(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<f32> = (0..n).map(|k| ((bits >> k) & 1) as f32).collect();
                sort_columns(&mut v, 1, &comps);
                assert!(v.windows(2).all(|q| q[0] <= q[1]), "n={n} bits={bits:b}");
            }
        }
    }

    #[test]
    fn sorts_every_size_and_width() {
        // Widths below, at and across the column block; many ties.
        let mut s = 7u64;
        for n in 1..=70 {
            let net = batcher(n);
            for stride in [1, 5, 64, 300] {
                let mut rows: Vec<f64> = (0..n * stride)
                    .map(|_| {
                        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((s >> 40) % 17) as f64
                    })
                    .collect();
                let mut expect: Vec<Vec<f64>> = (0..stride).map(|b| (0..n).map(|i| rows[i * stride + b]).collect()).collect();
                for e in &mut expect {
                    e.sort_by(|a, b| a.total_cmp(b));
                }
                sort_columns(&mut rows, stride, &net);
                for (b, e) in expect.iter().enumerate() {
                    let got: Vec<f64> = (0..n).map(|i| rows[i * stride + b]).collect();
                    assert_eq!(&got, e, "n={n} stride={stride}");
                }
            }
        }
    }
}
