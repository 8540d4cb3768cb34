//! The row passes of `lane_select`: per-lane counts, minima and maxima over a block's
//! frame-major keys (`keys[i * LANES + b]`).
//!
//! A plain loop over a row's 64 lanes keeps 64 lanes of each accumulator and threshold
//! live: 32-48 SSE2 registers of the 16 there are, so with SSE2 every row reloads and
//! restores them (the x86-64 baseline selected at three times AVX-512's cost per sample,
//! issue 20). Splitting the row into chunks of lanes, all rows for one chunk and then the
//! next, would keep them in registers, but LLVM then vectorises across rows instead
//! (gathers of one lane from many rows: slower still). The baseline therefore runs these
//! passes with explicit SSE2 (part of x86-64, always there) over chunks of 16 or 8 lanes;
//! AVX2 and AVX-512 keep the plain loops, which their registers hold. Every form gives
//! the same results.
//!
//! The plain loops have no select whose other arm is the accumulator itself (see `masked
//! stores` in `lane_select`): only plain min / max / add of every lane.

use crate::network::LANES;

/// Whether this thread runs the SSE2 forms (the baseline level on x86-64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sse2_here() -> bool {
    crate::simd::running() == crate::simd::Level::Baseline
}

/// Per lane: the valid keys (not `absent`), their minimum, and their maximum + 1 with
/// wrapping (`absent` + 1 wraps to i32::MIN, below every valid key + 1).
#[inline(always)]
pub(super) fn stats(keys: &[i32], absent: i32) -> ([u32; LANES], [i32; LANES], [i32; LANES]) {
    #[cfg(target_arch = "x86_64")]
    if sse2_here() {
        return sse2::stats(keys, absent);
    }
    stats_plain(keys, absent)
}

#[inline(always)]
fn stats_plain(keys: &[i32], absent: i32) -> ([u32; LANES], [i32; LANES], [i32; LANES]) {
    let (mut count, mut lo, mut top) = ([0u32; LANES], [absent; LANES], [i32::MIN; LANES]);
    for row in keys.chunks_exact(LANES) {
        for b in 0..LANES {
            let k = row[b];
            count[b] += (k != absent) as u32;
            lo[b] = lo[b].min(k);
            top[b] = top[b].max(k.wrapping_add(1));
        }
    }
    (count, lo, top)
}

/// Per lane, #(keys <= t).
#[inline(always)]
pub(super) fn count_le(keys: &[i32], t: &[i32; LANES]) -> [u32; LANES] {
    #[cfg(target_arch = "x86_64")]
    if sse2_here() {
        return sse2::count_le(keys, t);
    }
    count_le_plain(keys, t)
}

#[inline(always)]
fn count_le_plain(keys: &[i32], t: &[i32; LANES]) -> [u32; LANES] {
    let mut le = [0u32; LANES];
    for row in keys.chunks_exact(LANES) {
        for b in 0..LANES {
            le[b] += (row[b] <= t[b]) as u32;
        }
    }
    le
}

/// Per lane, the unsigned minima of k - lo and of hi - k over the keys k (keys below lo,
/// or above hi, wrap above every key inside).
#[inline(always)]
pub(super) fn min_offsets(keys: &[i32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
    #[cfg(target_arch = "x86_64")]
    if sse2_here() {
        return sse2::min_offsets(keys, lo, hi);
    }
    min_offsets_plain(keys, lo, hi)
}

#[inline(always)]
fn min_offsets_plain(keys: &[i32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
    let (mut from_lo, mut to_hi) = ([u32::MAX; LANES], [u32::MAX; LANES]);
    for row in keys.chunks_exact(LANES) {
        for b in 0..LANES {
            let k = row[b];
            from_lo[b] = from_lo[b].min(k.wrapping_sub(lo[b]) as u32);
            to_hi[b] = to_hi[b].min(hi[b].wrapping_sub(k) as u32);
        }
    }
    (from_lo, to_hi)
}

/// Per lane, #(keys <= v) and the unsigned minimum of k - base over the keys k.
#[inline(always)]
pub(super) fn le_and_gap(keys: &[i32], v: &[i32; LANES], base: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
    #[cfg(target_arch = "x86_64")]
    if sse2_here() {
        return sse2::le_and_gap(keys, v, base);
    }
    le_and_gap_plain(keys, v, base)
}

#[inline(always)]
fn le_and_gap_plain(keys: &[i32], v: &[i32; LANES], base: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
    let (mut le, mut gap) = ([0u32; LANES], [u32::MAX; LANES]);
    for row in keys.chunks_exact(LANES) {
        for b in 0..LANES {
            let k = row[b];
            le[b] += (k <= v[b]) as u32;
            gap[b] = gap[b].min(k.wrapping_sub(base[b]) as u32);
        }
    }
    (le, gap)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! Each pass takes the lanes in chunks of V vectors of 4 (accumulators and thresholds
    //! in registers: V = 4 for one accumulator, 2 for two or three), all rows per chunk.
    //! SSE2 has no 32-bit min / max, signed or not: a compare and a blend; an unsigned
    //! minimum is the signed minimum of the values with their sign bits flipped.
    //!
    //! Safety (every `unsafe` below): SSE2 is part of x86-64; each load or store reads or
    //! writes 4 i32 inside `keys` or a 64-lane array (chunk c + 4 V <= LANES; row r <
    //! rows reads keys[r * LANES + c .. r * LANES + c + 4 V]).
    use super::LANES;
    use std::arch::x86_64::*;

    const SIGN: i32 = i32::MIN;

    #[inline(always)]
    unsafe fn ld(p: *const i32) -> __m128i {
        _mm_loadu_si128(p as *const __m128i)
    }

    #[inline(always)]
    unsafe fn st(p: *mut i32, v: __m128i) {
        _mm_storeu_si128(p as *mut __m128i, v)
    }

    #[inline(always)]
    unsafe fn min(a: __m128i, b: __m128i) -> __m128i {
        let m = _mm_cmpgt_epi32(a, b);
        _mm_or_si128(_mm_and_si128(m, b), _mm_andnot_si128(m, a))
    }

    #[inline(always)]
    unsafe fn max(a: __m128i, b: __m128i) -> __m128i {
        let m = _mm_cmpgt_epi32(a, b);
        _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b))
    }

    /// Lanes [c, c + 4 V) of a 64-lane array as V vectors.
    #[inline(always)]
    unsafe fn get<const V: usize>(a: &[i32; LANES], c: usize) -> [__m128i; V] {
        std::array::from_fn(|j| ld(a.as_ptr().add(c + 4 * j)))
    }

    #[inline(always)]
    unsafe fn put<const V: usize>(a: &mut [i32; LANES], c: usize, v: [__m128i; V]) {
        for (j, v) in v.into_iter().enumerate() {
            st(a.as_mut_ptr().add(c + 4 * j), v);
        }
    }

    /// Run `row(acc, keys of the row's chunk)` over every row for each chunk of 4 V lanes;
    /// `init(c)` gives a chunk's accumulators, `done(c, acc)` takes them.
    #[inline(always)]
    unsafe fn chunks<const V: usize, A>(keys: &[i32], init: impl Fn(usize) -> A, mut row: impl FnMut(&mut A, [__m128i; V]), mut done: impl FnMut(usize, A)) {
        let rows = keys.len() / LANES;
        assert!(keys.len() == rows * LANES);
        for c in (0..LANES).step_by(4 * V) {
            let mut acc = init(c);
            let mut p = keys.as_ptr().add(c);
            for _ in 0..rows {
                row(&mut acc, std::array::from_fn(|j| ld(p.add(4 * j))));
                p = p.add(LANES);
            }
            done(c, acc);
        }
    }

    fn counts(rows: usize, below: [i32; LANES]) -> [u32; LANES] {
        below.map(|x| rows as u32 - x as u32)
    }

    fn unflip(x: [i32; LANES]) -> [u32; LANES] {
        x.map(|x| (x ^ SIGN) as u32)
    }

    #[inline(always)]
    pub(super) fn stats(keys: &[i32], absent: i32) -> ([u32; LANES], [i32; LANES], [i32; LANES]) {
        const V: usize = 2;
        let (mut nabs, mut lo, mut top) = ([0i32; LANES], [0i32; LANES], [0i32; LANES]);
        unsafe {
            let (a, ones) = (_mm_set1_epi32(absent), _mm_set1_epi32(-1));
            chunks::<V, _>(
                keys,
                |_| ([_mm_setzero_si128(); V], [a; V], [_mm_set1_epi32(i32::MIN); V]),
                |(n, l, t), k| {
                    for j in 0..V {
                        // Absent keys counted (a compare gives -1), valid = rows - that.
                        n[j] = _mm_sub_epi32(n[j], _mm_cmpeq_epi32(k[j], a));
                        l[j] = min(l[j], k[j]);
                        t[j] = max(t[j], _mm_sub_epi32(k[j], ones));
                    }
                },
                |c, (n, l, t)| {
                    put(&mut nabs, c, n);
                    put(&mut lo, c, l);
                    put(&mut top, c, t);
                },
            );
        }
        (counts(keys.len() / LANES, nabs), lo, top)
    }

    #[inline(always)]
    pub(super) fn count_le(keys: &[i32], t: &[i32; LANES]) -> [u32; LANES] {
        const V: usize = 4;
        let mut above = [0i32; LANES];
        unsafe {
            chunks::<V, _>(
                keys,
                |c| (get::<V>(t, c), [_mm_setzero_si128(); V]),
                |(t, n), k| {
                    for j in 0..V {
                        n[j] = _mm_sub_epi32(n[j], _mm_cmpgt_epi32(k[j], t[j]));
                    }
                },
                |c, (_, n)| put(&mut above, c, n),
            );
        }
        counts(keys.len() / LANES, above)
    }

    #[inline(always)]
    pub(super) fn min_offsets(keys: &[i32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
        const V: usize = 2;
        // Flipped: (k - lo) ^ SIGN = k - (lo ^ SIGN), (hi - k) ^ SIGN = (hi ^ SIGN) - k.
        let (lo, hi) = (lo.map(|x| x ^ SIGN), hi.map(|x| x ^ SIGN));
        let (mut up, mut down) = ([0i32; LANES], [0i32; LANES]);
        unsafe {
            chunks::<V, _>(
                keys,
                |c| (get::<V>(&lo, c), get::<V>(&hi, c), [_mm_set1_epi32(i32::MAX); V], [_mm_set1_epi32(i32::MAX); V]),
                |(l, h, u, d), k| {
                    for j in 0..V {
                        u[j] = min(u[j], _mm_sub_epi32(k[j], l[j]));
                        d[j] = min(d[j], _mm_sub_epi32(h[j], k[j]));
                    }
                },
                |c, (_, _, u, d)| {
                    put(&mut up, c, u);
                    put(&mut down, c, d);
                },
            );
        }
        (unflip(up), unflip(down))
    }

    #[inline(always)]
    pub(super) fn le_and_gap(keys: &[i32], v: &[i32; LANES], base: &[i32; LANES]) -> ([u32; LANES], [u32; LANES]) {
        const V: usize = 2;
        let base = base.map(|x| x ^ SIGN);
        let (mut above, mut gap) = ([0i32; LANES], [0i32; LANES]);
        unsafe {
            chunks::<V, _>(
                keys,
                |c| (get::<V>(v, c), get::<V>(&base, c), [_mm_setzero_si128(); V], [_mm_set1_epi32(i32::MAX); V]),
                |(v, b, n, g), k| {
                    for j in 0..V {
                        n[j] = _mm_sub_epi32(n[j], _mm_cmpgt_epi32(k[j], v[j]));
                        g[j] = min(g[j], _mm_sub_epi32(k[j], b[j]));
                    }
                },
                |c, (_, _, n, g)| {
                    put(&mut above, c, n);
                    put(&mut gap, c, g);
                },
            );
        }
        (counts(keys.len() / LANES, above), unflip(gap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pass of a key block by every form.
    #[derive(Debug, PartialEq)]
    struct All {
        stats: ([u32; LANES], [i32; LANES], [i32; LANES]),
        le: [u32; LANES],
        offsets: ([u32; LANES], [u32; LANES]),
        le_gap: ([u32; LANES], [u32; LANES]),
    }

    struct Passes<'a>(&'a [i32], &'a [i32; LANES], &'a [i32; LANES]);

    impl crate::simd::Kernel for Passes<'_> {
        type Output = All;
        #[inline(always)]
        fn run(self) -> All {
            let Passes(keys, a, b) = self;
            All { stats: stats(keys, i32::MAX), le: count_le(keys, a), offsets: min_offsets(keys, a, b), le_gap: le_and_gap(keys, a, b) }
        }
    }

    #[test]
    fn every_form_gives_the_same_passes() {
        // Keys at both ends of i32 (the absent key is i32::MAX), ties with the thresholds,
        // and row counts that are not multiples of anything.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 32) as u32
        };
        let pick = |r: u32| match r % 9 {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => i32::MIN + 1,
            3 => i32::MAX - 1,
            4 => 0,
            5 => -1,
            _ => (r as i32) >> (r % 5),
        };
        for rows in [0usize, 1, 7, 301] {
            let keys: Vec<i32> = (0..rows * LANES).map(|_| pick(next())).collect();
            for _ in 0..8 {
                let a: [i32; LANES] = std::array::from_fn(|_| pick(next()));
                let b: [i32; LANES] = std::array::from_fn(|_| pick(next()));
                // Brute force, lane by lane.
                let kr: &[i32] = &keys;
                let lane = |l: usize| (0..rows).map(move |i| kr[i * LANES + l]);
                let umin = |f: &dyn Fn(i32) -> u32, l: usize| lane(l).map(f).min().unwrap_or(u32::MAX);
                let want = All {
                    stats: (
                        std::array::from_fn(|l| lane(l).filter(|&k| k != i32::MAX).count() as u32),
                        std::array::from_fn(|l| lane(l).min().unwrap_or(i32::MAX)),
                        std::array::from_fn(|l| lane(l).map(|k| k.wrapping_add(1)).max().unwrap_or(i32::MIN)),
                    ),
                    le: std::array::from_fn(|l| lane(l).filter(|&k| k <= a[l]).count() as u32),
                    offsets: (
                        std::array::from_fn(|l| umin(&|k| k.wrapping_sub(a[l]) as u32, l)),
                        std::array::from_fn(|l| umin(&|k| b[l].wrapping_sub(k) as u32, l)),
                    ),
                    le_gap: (
                        std::array::from_fn(|l| lane(l).filter(|&k| k <= a[l]).count() as u32),
                        std::array::from_fn(|l| umin(&|k| k.wrapping_sub(b[l]) as u32, l)),
                    ),
                };
                let plain = All {
                    stats: stats_plain(&keys, i32::MAX),
                    le: count_le_plain(&keys, &a),
                    offsets: min_offsets_plain(&keys, &a, &b),
                    le_gap: le_and_gap_plain(&keys, &a, &b),
                };
                assert_eq!(plain, want, "plain, rows {rows}");
                #[cfg(target_arch = "x86_64")]
                {
                    let sse2 = All {
                        stats: sse2::stats(&keys, i32::MAX),
                        le: sse2::count_le(&keys, &a),
                        offsets: sse2::min_offsets(&keys, &a, &b),
                        le_gap: sse2::le_and_gap(&keys, &a, &b),
                    };
                    assert_eq!(sse2, want, "sse2, rows {rows}");
                }
                for level in crate::simd::Level::available() {
                    let isa = level.verified().unwrap();
                    assert_eq!(crate::simd::dispatch(isa, Passes(&keys, &a, &b)), want, "{level}, rows {rows}");
                }
            }
        }
    }
}
