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

/// Largest N sorted with [`merged`]'s networks (above it, Batcher's): every size up to it is
/// checked on all 2^N inputs of zeros and ones by the tests (0-1 principle).
pub const MERGED_MAX_N: usize = 24;

/// The comparators the engines sort `n` values with: the smallest of Batcher's network and
/// the [`merged`] ones for `n <= MERGED_MAX_N`, Batcher's above. Any sorting network puts
/// the same values on every slot (see the module documentation), so the choice changes
/// speed only: each comparator costs a pass over a row of lanes, and for 20 inputs this is
/// 97 comparators against Batcher's 103 (17 inputs: 74 against 85).
pub fn sorting_network(n: usize) -> Vec<(u16, u16)> {
    if n > MERGED_MAX_N {
        return batcher(n);
    }
    merged(n)
}

/// For every n up to `n`, the smaller of Batcher's network and the best of the networks
/// that sort slots [0, s) and [s, n) with the smallest ones found for s and n - s, then
/// join the two runs with [`odd_even_merge`] (a table built from the bottom up); returns
/// the one for `n`. Batcher's networks are built for a power of two and truncated, which
/// wastes comparators in between (20 = 16 + 4); splits such as 10 + 10 waste fewer.
pub fn merged(n: usize) -> Vec<(u16, u16)> {
    let mut best: Vec<Vec<(u16, u16)>> = vec![Vec::new(); n + 1];
    for k in 2..=n {
        let mut pick = batcher(k);
        for split in 1..k {
            let (lo, hi) = (&best[split], &best[k - split]);
            let mut net: Vec<(u16, u16)> = lo.clone();
            net.extend(hi.iter().map(|&(a, b)| (a + split as u16, b + split as u16)));
            let a: Vec<Option<u16>> = (0..split as u16).map(Some).collect();
            let b: Vec<Option<u16>> = (split as u16..k as u16).map(Some).collect();
            odd_even_merge(&a, &b, &mut net);
            if net.len() < pick.len() {
                pick = net;
            }
        }
        best[k] = pick;
    }
    std::mem::take(&mut best[n])
}

/// Batcher's odd-even merge of two sorted runs on the slots `a` then `b` (each ascending
/// along its list), for any two lengths: afterwards the values ascend along `a` then `b`.
/// Comparators go into `out`, lower slot first. `None` stands for a virtual slot holding
/// -inf, put at the front of `a` to make its length even.
///
/// Why it merges (0-1 principle; z(x) = zeros in x): with |a| even, the even positions of
/// the concatenation c = a ++ b are a's even positions then b's, so merging the evens (V)
/// and the odds (W) of a and b leaves z(V) - z(W) in {0, 1, 2} (a sorted run of length L
/// with z zeros has ceil(z/2) of them at even positions); c then reads V0 W0 V1 W1 ... and
/// one layer of comparators (W_i, V_{i+1}), i.e. (c[2i+1], c[2i+2]), sorts it. A virtual
/// slot sits in front of every real one of its lists, so it is always a comparator's lower
/// slot and keeps its -inf: its comparators change nothing and are left out.
pub fn odd_even_merge(a: &[Option<u16>], b: &[Option<u16>], out: &mut Vec<(u16, u16)>) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    if a.len() == 1 && b.len() == 1 {
        if let (Some(x), Some(y)) = (a[0], b[0]) {
            out.push((x, y));
        }
        return;
    }
    if a.len() % 2 == 1 {
        let padded: Vec<Option<u16>> = std::iter::once(None).chain(a.iter().copied()).collect();
        return odd_even_merge(&padded, b, out);
    }
    let every_other = |v: &[Option<u16>], first: usize| v.iter().skip(first).step_by(2).copied().collect::<Vec<_>>();
    odd_even_merge(&every_other(a, 0), &every_other(b, 0), out);
    odd_even_merge(&every_other(a, 1), &every_other(b, 1), out);
    let c: Vec<Option<u16>> = a.iter().chain(b).copied().collect();
    for i in (1..c.len() - 1).step_by(2) {
        if let (Some(x), Some(y)) = (c[i], c[i + 1]) {
            out.push((x, y));
        }
    }
}

/// Columns sorted together: a block of every row stays in L1 (the library engine's blocks
/// of 64 pixels are one such block).
const COLUMN_BLOCK: usize = 128;

/// A value a network sorts: one comparator is [`NetValue::order`].
pub trait NetValue: Copy + PartialOrd {
    /// `if a < b { (a, b) } else { (b, a) }`, bit for bit.
    fn order(a: Self, b: Self) -> (Self, Self);
}

// `order` as a bitwise merge of the two values under the mask `a < b`, not as two `if`s.
// From `x = if a < b { a } else { b }` with `a` loaded from x, LLVM stores only the lanes
// that change: with AVX2 a masked store (VMASKMOVPS), which AMD cores (Zen 2/3/4) run
// microcoded, so the AVX2 build sorted 3-6x slower than the SSE2 one. The merge stores
// every lane (compare, and, three xors per vector) and picks exactly the same bits. With
// SSE2 (no masked store: min/max) and AVX-512 (masked stores are native) the `if`s are as
// fast or faster, so [`sort_columns`] uses `order` only at the AVX2 level.
macro_rules! bitwise_order {
    ($($t:ty => $bits:ty),*) => {$(
        impl NetValue for $t {
            #[inline(always)]
            fn order(a: Self, b: Self) -> (Self, Self) {
                let keep = ((a < b) as $bits).wrapping_neg(); // all ones where a < b
                let (x, y) = (a.to_bits(), b.to_bits());
                let d = (x ^ y) & keep;
                (<$t>::from_bits(y ^ d), <$t>::from_bits(x ^ d))
            }
        }
    )*};
}
bitwise_order!(f32 => u32, f64 => u64);

impl NetValue for u64 {
    #[inline(always)]
    fn order(a: Self, b: Self) -> (Self, Self) {
        let d = (a ^ b) & ((a < b) as u64).wrapping_neg();
        (b ^ d, a ^ d)
    }
}

/// Sort every column of `rows` (row-major, rows of `stride` values; column x holds one
/// pixel's values) ascending with the comparators `net`. Values must not be NaN (invalid
/// samples are +inf and sort to the end).
#[inline(always)]
pub fn sort_columns<T: NetValue>(rows: &mut [T], stride: usize, net: &[(u16, u16)]) {
    if crate::simd::running() == crate::simd::Level::Avx2 {
        sort_columns_with(rows, stride, net, T::order);
    } else {
        sort_columns_with(rows, stride, net, |a, b| (if a < b { a } else { b }, if a < b { b } else { a }));
    }
}

#[inline(always)]
fn sort_columns_with<T: Copy>(rows: &mut [T], stride: usize, net: &[(u16, u16)], order: impl Fn(T, T) -> (T, T)) {
    let mut x0 = 0;
    while x0 < stride {
        let len = COLUMN_BLOCK.min(stride - x0);
        for &(a, b) in net {
            let (a, b) = (a as usize, b as usize);
            let (head, tail) = rows.split_at_mut(b * stride);
            let lo = &mut head[a * stride + x0..a * stride + x0 + len];
            // One comparator on a run of columns: lo[x], hi[x] = min, max.
            for (x, y) in lo.iter_mut().zip(tail[x0..x0 + len].iter_mut()) {
                (*x, *y) = order(*x, *y);
            }
        }
        x0 += len;
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
            let net = if n % 2 == 0 { batcher(n) } else { sorting_network(n) };
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
    fn order_is_the_two_ifs_bit_for_bit() {
        fn reference<T: Copy + PartialOrd>(a: T, b: T) -> (T, T) {
            (if a < b { a } else { b }, if a < b { b } else { a })
        }
        let f64s = [0.0, -0.0, 1.0, -1.0, 1.5, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN,
                    f64::from_bits(0x7ff0_0000_0000_0001), f64::MIN_POSITIVE / 4.0, f64::MAX, 3.0e38, 1e-40];
        for &a in &f64s {
            for &b in &f64s {
                let (got, want) = (f64::order(a, b), reference(a, b));
                assert_eq!((got.0.to_bits(), got.1.to_bits()), (want.0.to_bits(), want.1.to_bits()), "{a} {b}");
                let (a, b) = (a as f32, b as f32);
                let (got, want) = (f32::order(a, b), reference(a, b));
                assert_eq!((got.0.to_bits(), got.1.to_bits()), (want.0.to_bits(), want.1.to_bits()), "{a} {b}");
                let (a, b) = (a.to_bits() as u64 | (1 << 63), b.to_bits() as u64);
                assert_eq!(u64::order(a, b), reference(a, b));
                assert_eq!(u64::order(b, a), reference(b, a));
            }
        }
    }

    #[test]
    fn every_level_sorts_to_the_same_bits() {
        // Both comparator forms (the `if`s and `order`), as each level's dispatch picks.
        struct Sort<'a>(&'a mut [f32], usize, &'a [(u16, u16)]);
        impl crate::simd::Kernel for Sort<'_> {
            type Output = ();
            #[inline(always)]
            fn run(self) {
                sort_columns(self.0, self.1, self.2)
            }
        }
        let specials = [0.0f32, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, 1e-40, 3.0e38, 2.5];
        for n in [2, 5, 20, 33] {
            let net = sorting_network(n);
            let stride = 131;
            let rows: Vec<f32> = (0..n * stride).map(|i| specials[(i * 7 + i / 5) % specials.len()]).collect();
            let mut base = rows.clone();
            sort_columns(&mut base, stride, &net);
            for level in crate::simd::Level::available() {
                let mut got = rows.clone();
                crate::simd::dispatch(level.verified().unwrap(), Sort(&mut got, stride, &net));
                assert_eq!(got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), base.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "n={n} {level}");
            }
        }
    }

    /// Whether `net` sorts all 2^n inputs of zeros and ones, 64 inputs per word: bit j of
    /// slot k's word is bit k of input 64w + j; a comparator is an AND (min) and an OR (max).
    fn sorts_all_zero_one_inputs(n: usize, net: &[(u16, u16)]) -> bool {
        // Slots 0..6 take the same pattern in every word (bit k of j), the others a constant.
        let low: [u64; 6] = std::array::from_fn(|k| (0..64).fold(0u64, |w, j| w | (((j >> k) & 1) << j)));
        let mut slot = vec![0u64; n];
        for word in 0..(1u64 << n.saturating_sub(6)) {
            for (k, v) in slot.iter_mut().enumerate() {
                *v = if k < 6 { low[k] } else if (word >> (k - 6)) & 1 == 1 { u64::MAX } else { 0 };
            }
            for &(a, b) in net {
                let (x, y) = (slot[a as usize], slot[b as usize]);
                (slot[a as usize], slot[b as usize]) = (x & y, x | y);
            }
            // Sorted: no input has a 1 on a slot below a 0.
            if slot.windows(2).any(|q| q[0] & !q[1] != 0) {
                return false;
            }
        }
        true
    }

    #[test]
    fn merged_networks_sort_every_zero_one_input() {
        // 0-1 principle, every size the engines use them for; fewer comparators than
        // Batcher's where the merge pays (20 inputs: 97 against 103).
        for n in 1..=MERGED_MAX_N {
            let net = sorting_network(n);
            assert!(net.iter().all(|&(a, b)| a < b && (b as usize) < n), "n={n}");
            assert!(sorts_all_zero_one_inputs(n, &net), "n={n}");
            assert!(net.len() <= batcher(n).len(), "n={n}");
        }
        assert_eq!((sorting_network(20).len(), batcher(20).len()), (97, 103));
        assert_eq!((sorting_network(17).len(), batcher(17).len()), (74, 85));
        assert_eq!(sorting_network(MERGED_MAX_N + 1), batcher(MERGED_MAX_N + 1));
    }

    #[test]
    fn zero_one_check_rejects_a_broken_network() {
        // The checker above can fail: drop any one comparator of a network and it must.
        for n in [5, 9, 20] {
            let net = sorting_network(n);
            for k in 0..net.len() {
                let mut broken = net.clone();
                broken.remove(k);
                if sorts_all_zero_one_inputs(n, &broken) {
                    // A comparator whose removal keeps the network sorting is redundant;
                    // the merged networks have none.
                    panic!("n={n}: comparator {k} {:?} is redundant", net[k]);
                }
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
            let net = sorting_network(n);
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
