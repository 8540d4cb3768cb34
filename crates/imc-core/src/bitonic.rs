//! A bitonic sorting network for many columns at once, run in register tiles: the
//! vertical path's sort for large N (see `driver::BITONIC_MIN_N`).
//!
//! Batcher's odd-even merge sort ([`crate::network`]) runs one comparator at a time as a
//! pass over a row pair: two loads, a compare-exchange and two stores per vector of lanes,
//! plus the comparator's own bookkeeping. Its comparators per value grow like log² N (11
//! at N = 100, 23.5 at N = 1000), and so did the cost per sample of every network-sorted
//! rejector. The bitonic network (all comparators ascending, each merge starting with a
//! "flip" step) has a regular structure: three consecutive steps of a merge only ever mix
//! the rows of fixed groups of eight, so each group is loaded once into registers, run
//! through twelve comparators and stored once. That cuts loads, stores and bookkeeping
//! about threefold (at N = 1000 20 passes over the rows instead of 23 521 row pairs).
//!
//! Any sorting network leaves the same values on every row (values only move, and the
//! callers sort values without NaN and with -0.0 made +0.0), so this sort gives the bits
//! of [`crate::network::sort_columns`]. The rows are padded to a power of two with +inf
//! (`padded_rows`), which sorts to the end like the invalid samples already there.

use crate::network::NetValue;

/// Rows the tiled sort of `n` values works on: the next power of two, at least 8. Rows
/// `n..` must hold +inf.
pub fn padded_rows(n: usize) -> usize {
    n.next_power_of_two().max(8)
}

/// Sort every column of `rows` (row-major, `rows.len() / stride` rows, a power of two
/// and at least 8, of `stride` values; see [`padded_rows`]) ascending, where rows `n..`
/// hold +inf. `stride` must be a multiple of 32 bytes of values; values must not be NaN.
#[inline(always)]
pub fn sort_columns<T: NetValue>(rows: &mut [T], stride: usize, n: usize) {
    // 32 bytes of lanes per row of a tile: one AVX2 register, two SSE2 ones (eight rows and
    // a few temporaries fit in the 16 registers; SSE2 tiles of one register per row were
    // no faster than Batcher's network: LLVM vectorised them across tiles with shuffles).
    match std::mem::size_of::<T>() {
        4 => sort_tiled::<T, 8>(rows, stride, n),
        _ => sort_tiled::<T, 4>(rows, stride, n),
    }
}

/// The comparator kinds of an eight-row tile (a const parameter of [`tile8`], so that every index
/// is a constant and the tile lives in registers).
const SORT8: u8 = 0;
const FLIP3: u8 = 1;
const HALF3: u8 = 2;

#[inline(always)]
fn sort_tiled<T: NetValue, const W: usize>(rows: &mut [T], stride: usize, n: usize) {
    let p = rows.len() / stride;
    // A comparator puts the larger value on the higher row, so rows n.. keep their +inf
    // through every step: tiles of padding rows only are skipped.
    debug_assert!(p.is_power_of_two() && p >= 8 && rows.len() == p * stride && stride % W == 0);
    // Phases 1-3 (merges of blocks of 2, 4 and 8): every aligned group of eight sorted.
    for g in (0..n).step_by(8) {
        tile8::<T, W, SORT8>(rows, stride, spaced(g, 1));
    }
    // Phase of blocks of b = 16, 32, ..: flip + two half-cleaners, then the rest by three.
    let mut b = 16;
    while b <= p {
        let (h, q) = (b / 2, b / 8);
        for s in (0..n).step_by(b) {
            for o in 0..q.min(n - s) {
                // Rows s + o + tq below and their flip partners s + h + (q - 1 - o) + tq.
                let (lo, hi): ([usize; 4], [usize; 4]) = (spaced(s + o, q), spaced(s + h + (q - 1 - o), q));
                let at = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
                tile8::<T, W, FLIP3>(rows, stride, at);
            }
        }
        // Half-cleaners of distances b/16 .. 1 by three, the last four by two and two (a
        // lone step costs nearly as much as a tile of three).
        let mut k = b / 16;
        while k >= 1 {
            if k >= 4 && k != 8 {
                half::<T, W, 8>(rows, stride, n, k / 4);
                k /= 8;
            } else if k >= 2 {
                half::<T, W, 4>(rows, stride, n, k / 2);
                k /= 4;
            } else {
                half::<T, W, 2>(rows, stride, n, 1);
                k = 0;
            }
        }
        b *= 2;
    }
}

/// Half-cleaner steps of distances R/2 q, .., q over rows that hold values below `n`
/// (R = 8, 4 or 2): tiles of R rows spaced q apart, R q consecutive rows per aligned block.
#[inline(always)]
fn half<T: NetValue, const W: usize, const R: usize>(rows: &mut [T], stride: usize, n: usize, q: usize) {
    for s in (0..n).step_by(R * q) {
        // Tiles whose first row is n or above hold padding only.
        for o in 0..q.min(n - s) {
            match R {
                8 => tile8::<T, W, HALF3>(rows, stride, spaced(s + o, q)),
                4 => tile4::<T, W>(rows, stride, spaced(s + o, q)),
                _ => tile2::<T, W>(rows, stride, [s + o, s + o + q]),
            }
        }
    }
}

// No closures below (nor `array::from_fn`, `map` or iterator adaptors): in the large
// per-level block functions LLVM kept such closures out of line, compiled for the
// baseline and called per row (a sort ten times slower).

/// Rows first, first + q, .., first + (R - 1) q.
#[inline(always)]
fn spaced<const R: usize>(first: usize, q: usize) -> [usize; R] {
    let mut at = [first; R];
    for t in 1..R {
        at[t] = first + t * q;
    }
    at
}

/// W values from `rows[i..]`.
#[inline(always)]
fn load<T: Copy, const W: usize>(rows: &[T], i: usize) -> [T; W] {
    let mut v = [rows[i]; W];
    v.copy_from_slice(&rows[i..i + W]);
    v
}

/// Compare-exchange of two rows of W lanes: (lane-wise smaller, lane-wise larger), as
/// fresh values (a lane-wise update in place of a loaded row became a masked store).
#[inline(always)]
fn mm<T: NetValue, const W: usize>(x: [T; W], y: [T; W]) -> ([T; W], [T; W]) {
    let (mut lo, mut hi) = (x, y);
    for l in 0..W {
        lo[l] = if x[l] < y[l] { x[l] } else { y[l] };
        hi[l] = if x[l] < y[l] { y[l] } else { x[l] };
    }
    (lo, hi)
}

/// Compare-exchange named rows of a tile: every row a value of its own, so the tile stays
/// in registers (a tile array indexed in loops stayed in memory, updated with masked
/// stores).
macro_rules! net {
    ($(($a:ident, $b:ident)),* $(,)?) => {{
        $( ($a, $b) = mm($a, $b); )*
    }};
}

/// Store named rows of a tile to rows `at[..]`, lanes from x0.
macro_rules! store {
    ($rows:ident, $at:ident, $x0:ident; $($v:ident),*) => {{
        let mut t = 0;
        $( $rows[$at[t] + $x0..$at[t] + $x0 + $v.len()].copy_from_slice(&$v); t += 1; )*
        let _ = t;
    }};
}

/// Row offsets (row * stride) of a tile's rows.
#[inline(always)]
fn offsets<const R: usize>(mut at: [usize; R], stride: usize) -> [usize; R] {
    for r in at.iter_mut() {
        *r *= stride;
    }
    at
}

/// Load rows `at[0..8]` of every group of W lanes into a tile, run the comparators of
/// kind K on it and store it back.
#[inline(always)]
fn tile8<T: NetValue, const W: usize, const K: u8>(rows: &mut [T], stride: usize, at: [usize; 8]) {
    let at = offsets(at, stride);
    let mut x0 = 0;
    while x0 < stride {
        let (mut a, mut b, mut c, mut d): ([T; W], [T; W], [T; W], [T; W]) =
            (load(rows, at[0] + x0), load(rows, at[1] + x0), load(rows, at[2] + x0), load(rows, at[3] + x0));
        let (mut e, mut f, mut g, mut h): ([T; W], [T; W], [T; W], [T; W]) =
            (load(rows, at[4] + x0), load(rows, at[5] + x0), load(rows, at[6] + x0), load(rows, at[7] + x0));
        match K {
            // 19 comparators, depth 6.
            SORT8 => net!((a, c), (b, d), (e, g), (f, h), (a, e), (b, f), (c, g), (d, h), (a, b), (c, d),
                          (e, f), (g, h), (c, e), (d, f), (b, e), (d, g), (b, c), (d, e), (f, g)),
            // The flip (row t against row 7 - t), then distances 2 and 1 within each four.
            FLIP3 => net!((a, h), (b, g), (c, f), (d, e), (a, c), (b, d), (e, g), (f, h), (a, b), (c, d), (e, f), (g, h)),
            // Distances 4, 2, 1.
            _ => net!((a, e), (b, f), (c, g), (d, h), (a, c), (b, d), (e, g), (f, h), (a, b), (c, d), (e, f), (g, h)),
        }
        store!(rows, at, x0; a, b, c, d, e, f, g, h);
        x0 += W;
    }
}

/// [`tile8`] for four rows: distances 2 and 1.
#[inline(always)]
fn tile4<T: NetValue, const W: usize>(rows: &mut [T], stride: usize, at: [usize; 4]) {
    let at = offsets(at, stride);
    let mut x0 = 0;
    while x0 < stride {
        let (mut a, mut b, mut c, mut d): ([T; W], [T; W], [T; W], [T; W]) =
            (load(rows, at[0] + x0), load(rows, at[1] + x0), load(rows, at[2] + x0), load(rows, at[3] + x0));
        net!((a, c), (b, d), (a, b), (c, d));
        store!(rows, at, x0; a, b, c, d);
        x0 += W;
    }
}

/// [`tile8`] for two rows: distance 1. A lone comparator stores a select of a loaded
/// value, which LLVM turns into a masked store at AVX2 (microcoded on AMD Zen): there it
/// is [`NetValue::order`]'s bitwise merge, as in [`crate::network::sort_columns`].
#[inline(always)]
fn tile2<T: NetValue, const W: usize>(rows: &mut [T], stride: usize, at: [usize; 2]) {
    let at = offsets(at, stride);
    let bitwise = crate::simd::running() == crate::simd::Level::Avx2;
    let mut x0 = 0;
    while x0 < stride {
        let (mut a, mut b): ([T; W], [T; W]) = (load(rows, at[0] + x0), load(rows, at[1] + x0));
        if bitwise {
            for l in 0..W {
                (a[l], b[l]) = T::order(a[l], b[l]);
            }
        } else {
            net!((a, b));
        }
        store!(rows, at, x0; a, b);
        x0 += W;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every 0-1 input of n rows (padded with ones, the +inf of 0-1 inputs) comes out
    /// sorted: by the 0-1 principle the network sorts every input.
    fn sorts_all_zero_one_inputs(n: usize) -> bool {
        let p = padded_rows(n);
        // Columns of one 64-lane block hold 64 inputs at a time.
        let total = 1u64 << n;
        let mut base = 0u64;
        while base < total {
            let mut rows = vec![1.0f32; p * 64];
            for x in 0..64u64 {
                let input = (base + x) % total;
                for r in 0..n {
                    rows[r * 64 + x as usize] = ((input >> r) & 1) as f32;
                }
            }
            sort_columns(&mut rows, 64, n);
            for x in 0..64 {
                if (1..p).any(|r| rows[(r - 1) * 64 + x] > rows[r * 64 + x]) {
                    return false;
                }
            }
            base += 64;
        }
        true
    }

    #[test]
    fn sorts_every_zero_one_input() {
        // Up to 20 rows: padded to 8, 16 and 32 rows, every phase kind (sort8, flip,
        // pairs, fours) with real and padding rows.
        for n in 1..=20 {
            assert!(sorts_all_zero_one_inputs(n), "n = {n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every column comes out as a plain sort of it, for sizes up to 2048 rows (every
        /// number of phases), f32 and f64, with ties and infinities.
        #[test]
        fn equals_a_plain_sort(n in 1usize..2048, seed in any::<u64>(), ties in 0u32..3) {
            let p = padded_rows(n);
            let mut s = seed | 1;
            let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
            let cols: Vec<Vec<f64>> = (0..64).map(|_| (0..n).map(|_| {
                let r = next();
                match (r % 97, ties) {
                    (0, _) => f64::INFINITY,
                    (1, _) => f64::NEG_INFINITY,
                    (_, 0) => (r >> 11) as f64 / 1e6 - 4e3,
                    (_, 1) => ((r >> 40) % 7) as f64,
                    _ => ((r >> 40) % 300) as f64 * 0.5,
                }
            }).collect()).collect();
            let mut r32 = vec![f32::INFINITY; p * 64];
            let mut r64 = vec![f64::INFINITY; p * 64];
            for (x, c) in cols.iter().enumerate() {
                for (k, &v) in c.iter().enumerate() {
                    r32[k * 64 + x] = v as f32;
                    r64[k * 64 + x] = v;
                }
            }
            sort_columns(&mut r32, 64, n);
            sort_columns(&mut r64, 64, n);
            for (x, c) in cols.iter().enumerate() {
                let mut want = c.clone();
                want.sort_by(|a, b| a.partial_cmp(b).unwrap());
                for (k, &v) in want.iter().enumerate() {
                    prop_assert_eq!(r64[k * 64 + x].to_bits(), v.to_bits());
                    prop_assert_eq!(r32[k * 64 + x].to_bits(), (v as f32).to_bits());
                }
                for k in n..p {
                    prop_assert_eq!(r64[k * 64 + x], f64::INFINITY);
                }
            }
        }
    }
}
