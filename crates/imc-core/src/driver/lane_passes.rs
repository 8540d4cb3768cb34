//! The row passes of `lane_select` (per-lane counts, minima and maxima over a block's
//! frame-major rows), in two row formats with the same answers in the key domain.
//!
//! Keys: every sample of an f32-exact block has an i32 key whose order is the value order
//! (-0.0 is first made +0.0; integer inputs are their own keys). [`KeyRows`] holds the
//! keys themselves (`i32::MAX` for an absent sample) and runs plain loops, which AVX2 and
//! AVX-512 vectorise with their integer min / max. [`ValueRows`], the x86-64 baseline's,
//! holds the f32 values (NaN for an absent sample) and compares them as floats: SSE2 has
//! no 32-bit integer min / max (a compare and three logic ops each), but SSE has MINPS /
//! MAXPS, which skip a NaN in their first operand, so the minima that skip values (the
//! smallest value above a threshold, ...) turn those values into NaN with one OR of the
//! compare mask (all ones is a NaN). That took the baseline's statistics and end passes
//! from 4-5x a counting pass's cost to about 2x (N = 1000 median 0.95 -> 0.75 ns per
//! sample on Zen 5). The plain loops cannot do the same with floats: a float min there
//! is either a select on the accumulator (masked stores, see `lane_select`) or
//! `f32::min`'s NaN fix-ups, and AVX-512 selected 25 % slower either way.
//!
//! A plain loop over a row's 64 lanes keeps 64 lanes of each accumulator and threshold
//! live: 32-48 SSE2 registers of the 16 there are, so with SSE2 every row reloads and
//! restores them. Splitting the row into chunks of lanes, all rows for one chunk and then
//! the next, would keep them in registers, but LLVM then vectorises across rows instead
//! (gathers of one lane from many rows: slower still). The baseline's passes are therefore
//! explicit SSE2 (part of x86-64, always there) over chunks of 16 or 8 lanes.
//!
//! The plain loops have no select whose other arm is the accumulator itself (see `masked
//! stores` in `lane_select`): only plain min / max / add of every lane.

use crate::input::Input;
use crate::network::LANES;

/// The key of an absent sample in [`KeyRows`]: above every valid key.
const ABSENT: i32 = i32::MAX;

/// Order-preserving key of a finite f32 (+0.0 for -0.0): the bits read as i32, with all
/// but the sign bit flipped for negative values.
#[inline(always)]
fn key_of(x: f32) -> i32 {
    let bits = (x + 0.0).to_bits();
    let neg = (bits >> 31).wrapping_neg();
    // Signed order (vector units compare signed integers): negative values flip all but
    // the sign bit.
    (bits ^ (neg >> 1)) as i32
}

/// The value of a key made by [`key_of`].
#[inline(always)]
fn value_of(key: i32) -> f32 {
    let bits = if key >= 0 { key as u32 } else { key as u32 ^ 0x7fff_ffff };
    f32::from_bits(bits)
}

/// The key of a valid sample x of input type T (an f32-exact value). Integer inputs (u8,
/// u16, i16) are their own keys: consecutive integers get consecutive keys, so bisection
/// takes about log2(the lane's value range) steps, not log2 of the float keys between.
#[inline(always)]
pub(super) fn key<T: Input>(x: f64) -> i32 {
    if T::IS_FLOAT { key_of(x as f32) } else { x as i32 }
}

/// The value of a key of input type T.
#[inline(always)]
pub(super) fn value<T: Input>(k: i32) -> f64 {
    if T::IS_FLOAT { value_of(k) as f64 } else { k as f64 }
}

/// The largest f32 whose key (of input type T) is at most k: the threshold that counts
/// the keys <= k by comparing values. (k lies between two finite samples' keys.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn at_most<T: Input>(k: i32) -> f32 {
    if T::IS_FLOAT {
        // Key -1 is -0.0's, which no sample has (zeros are +0.0, key 0), and -0.0 would
        // compare equal to +0.0: the keys <= -1 are the keys <= -2.
        value_of(if k == -1 { -2 } else { k })
    } else {
        k as f32
    }
}

/// How a block's rows hold its samples, and the passes over them. Every answer is in the
/// key domain (counts, and keys of samples), the same for every format.
pub(super) trait RowFormat {
    /// The row word of an absent sample.
    const ABSENT_WORD: u32;

    /// The row word of a valid sample x of input type T.
    fn word<T: Input>(x: f64) -> u32;

    /// Per lane: the valid samples, and their smallest and largest keys (for a lane without
    /// valid samples, any keys).
    fn stats<T: Input>(rows: &[u32]) -> ([u32; LANES], [i32; LANES], [i32; LANES]);

    /// Per lane, #(keys <= t).
    fn count_le<T: Input>(rows: &[u32], t: &[i32; LANES]) -> [u32; LANES];

    /// Per lane, the smallest key >= lo and the largest key <= hi (any keys when there is
    /// none).
    fn ends<T: Input>(rows: &[u32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([i32; LANES], [i32; LANES]);

    /// Per lane, #(keys <= v) and the smallest key above v (any key when there is none).
    fn le_and_next<T: Input>(rows: &[u32], v: &[i32; LANES]) -> ([u32; LANES], [i32; LANES]);
}

/// The key of a row value of input type T (the answers of [`ValueRows`]' passes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn value_key<T: Input>(x: f32) -> i32 {
    key::<T>(x as f64)
}

/// Whether this thread's blocks use [`ValueRows`] (the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn values_here() -> bool {
    crate::simd::running() == crate::simd::Level::Baseline
}

/// Rows of i32 keys, plain loops.
pub(super) struct KeyRows;

#[inline(always)]
fn as_keys(rows: &[u32]) -> &[i32] {
    // Safety: u32 and i32 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(rows.as_ptr() as *const i32, rows.len()) }
}

impl RowFormat for KeyRows {
    const ABSENT_WORD: u32 = ABSENT as u32;

    #[inline(always)]
    fn word<T: Input>(x: f64) -> u32 {
        key::<T>(x) as u32
    }

    #[inline(always)]
    fn stats<T: Input>(rows: &[u32]) -> ([u32; LANES], [i32; LANES], [i32; LANES]) {
        // The largest valid key is the largest k + 1, minus 1: ABSENT + 1 wraps to
        // i32::MIN, below every valid key + 1.
        let (mut count, mut lo, mut top) = ([0u32; LANES], [ABSENT; LANES], [i32::MIN; LANES]);
        for row in as_keys(rows).chunks_exact(LANES) {
            for b in 0..LANES {
                let k = row[b];
                count[b] += (k != ABSENT) as u32;
                lo[b] = lo[b].min(k);
                top[b] = top[b].max(k.wrapping_add(1));
            }
        }
        (count, lo, top.map(|t| t.wrapping_sub(1)))
    }

    #[inline(always)]
    fn count_le<T: Input>(rows: &[u32], t: &[i32; LANES]) -> [u32; LANES] {
        let mut le = [0u32; LANES];
        for row in as_keys(rows).chunks_exact(LANES) {
            for b in 0..LANES {
                le[b] += (row[b] <= t[b]) as u32;
            }
        }
        le
    }

    #[inline(always)]
    fn ends<T: Input>(rows: &[u32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([i32; LANES], [i32; LANES]) {
        // lo + the unsigned minimum of k - lo, and hi - the unsigned minimum of hi - k:
        // keys outside [lo, hi] wrap above every key inside.
        let (mut from_lo, mut to_hi) = ([u32::MAX; LANES], [u32::MAX; LANES]);
        for row in as_keys(rows).chunks_exact(LANES) {
            for b in 0..LANES {
                let k = row[b];
                from_lo[b] = from_lo[b].min(k.wrapping_sub(lo[b]) as u32);
                to_hi[b] = to_hi[b].min(hi[b].wrapping_sub(k) as u32);
            }
        }
        (std::array::from_fn(|b| lo[b].wrapping_add(from_lo[b] as i32)), std::array::from_fn(|b| hi[b].wrapping_sub(to_hi[b] as i32)))
    }

    #[inline(always)]
    fn le_and_next<T: Input>(rows: &[u32], v: &[i32; LANES]) -> ([u32; LANES], [i32; LANES]) {
        // base + the unsigned minimum of k - base, base = v + 1: keys at or below v wrap
        // above every key above it.
        let base = v.map(|v| v.wrapping_add(1));
        let (mut le, mut gap) = ([0u32; LANES], [u32::MAX; LANES]);
        for row in as_keys(rows).chunks_exact(LANES) {
            for b in 0..LANES {
                let k = row[b];
                le[b] += (k <= v[b]) as u32;
                gap[b] = gap[b].min(k.wrapping_sub(base[b]) as u32);
            }
        }
        (le, std::array::from_fn(|b| base[b].wrapping_add(gap[b] as i32)))
    }
}

/// Rows of f32 values, explicit SSE2 (x86-64 only: see the module notes).
#[cfg(target_arch = "x86_64")]
pub(super) struct ValueRows;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn as_values(rows: &[u32]) -> &[f32] {
    // Safety: u32 and f32 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(rows.as_ptr() as *const f32, rows.len()) }
}

#[cfg(target_arch = "x86_64")]
impl RowFormat for ValueRows {
    const ABSENT_WORD: u32 = f32::NAN.to_bits();

    #[inline(always)]
    fn word<T: Input>(x: f64) -> u32 {
        (x as f32 + 0.0).to_bits()
    }

    #[inline(always)]
    fn stats<T: Input>(rows: &[u32]) -> ([u32; LANES], [i32; LANES], [i32; LANES]) {
        let (count, lo, hi) = sse2::stats(as_values(rows));
        (count, lo.map(value_key::<T>), hi.map(value_key::<T>))
    }

    #[inline(always)]
    fn count_le<T: Input>(rows: &[u32], t: &[i32; LANES]) -> [u32; LANES] {
        sse2::count_le(as_values(rows), &t.map(at_most::<T>))
    }

    #[inline(always)]
    fn ends<T: Input>(rows: &[u32], lo: &[i32; LANES], hi: &[i32; LANES]) -> ([i32; LANES], [i32; LANES]) {
        // The smallest key >= lo is the smallest value above the largest with key <= lo - 1.
        let (first, last) = sse2::ends(as_values(rows), &lo.map(|k| at_most::<T>(k.wrapping_sub(1))), &hi.map(at_most::<T>));
        (first.map(value_key::<T>), last.map(value_key::<T>))
    }

    #[inline(always)]
    fn le_and_next<T: Input>(rows: &[u32], v: &[i32; LANES]) -> ([u32; LANES], [i32; LANES]) {
        let (le, next) = sse2::le_and_next(as_values(rows), &v.map(at_most::<T>));
        (le, next.map(value_key::<T>))
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! Each pass takes the lanes in chunks of V vectors of 4 (accumulators and thresholds
    //! in registers: V = 4 for one accumulator, 2 for two or three), all rows per chunk.
    //! A compare gives all ones (-1 as i32, a NaN as f32) where it holds: subtracting it
    //! counts, OR-ing it into a value makes the value NaN, which MINPS / MAXPS skip when
    //! it is their first operand (they return the second whenever either is NaN).
    //!
    //! Safety (every `unsafe` below): SSE2 is part of x86-64; each load or store reads or
    //! writes 4 lanes inside `vals` or a 64-lane array (chunk c + 4 V <= LANES; row r <
    //! rows reads vals[r * LANES + c .. r * LANES + c + 4 V]).
    use super::LANES;
    const INF: f32 = f32::INFINITY;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn ld(p: *const f32) -> __m128 {
        _mm_loadu_ps(p)
    }

    /// Lanes [c, c + 4 V) of a 64-lane array as V vectors.
    #[inline(always)]
    unsafe fn get<const V: usize>(a: &[f32; LANES], c: usize) -> [__m128; V] {
        std::array::from_fn(|j| ld(a.as_ptr().add(c + 4 * j)))
    }

    #[inline(always)]
    unsafe fn put<const V: usize>(a: &mut [f32; LANES], c: usize, v: [__m128; V]) {
        for (j, v) in v.into_iter().enumerate() {
            _mm_storeu_ps(a.as_mut_ptr().add(c + 4 * j), v);
        }
    }

    #[inline(always)]
    unsafe fn put_counts<const V: usize>(a: &mut [u32; LANES], c: usize, v: [__m128i; V]) {
        for (j, v) in v.into_iter().enumerate() {
            _mm_storeu_si128(a.as_mut_ptr().add(c + 4 * j) as *mut __m128i, v);
        }
    }

    /// `n` + 1 in the lanes where `mask` holds.
    #[inline(always)]
    unsafe fn count(n: __m128i, mask: __m128) -> __m128i {
        _mm_sub_epi32(n, _mm_castps_si128(mask))
    }

    /// Run `row(acc, values of the row's chunk)` over every row for each chunk of 4 V
    /// lanes; `init(c)` gives a chunk's accumulators, `done(c, acc)` takes them.
    #[inline(always)]
    unsafe fn chunks<const V: usize, A>(vals: &[f32], init: impl Fn(usize) -> A, mut row: impl FnMut(&mut A, [__m128; V]), mut done: impl FnMut(usize, A)) {
        let rows = vals.len() / LANES;
        assert!(vals.len() == rows * LANES);
        for c in (0..LANES).step_by(4 * V) {
            let mut acc = init(c);
            let mut p = vals.as_ptr().add(c);
            for _ in 0..rows {
                row(&mut acc, std::array::from_fn(|j| ld(p.add(4 * j))));
                p = p.add(LANES);
            }
            done(c, acc);
        }
    }

    #[inline(always)]
    pub(super) fn stats(vals: &[f32]) -> ([u32; LANES], [f32; LANES], [f32; LANES]) {
        const V: usize = 2;
        let (mut count_all, mut lo, mut hi) = ([0u32; LANES], [0f32; LANES], [0f32; LANES]);
        unsafe {
            chunks::<V, _>(
                vals,
                |_| ([_mm_setzero_si128(); V], [_mm_set1_ps(INF); V], [_mm_set1_ps(-INF); V]),
                |(n, l, h), x| {
                    for j in 0..V {
                        n[j] = count(n[j], _mm_cmpord_ps(x[j], x[j]));
                        l[j] = _mm_min_ps(x[j], l[j]);
                        h[j] = _mm_max_ps(x[j], h[j]);
                    }
                },
                |c, (n, l, h)| {
                    put_counts(&mut count_all, c, n);
                    put(&mut lo, c, l);
                    put(&mut hi, c, h);
                },
            );
        }
        (count_all, lo, hi)
    }

    #[inline(always)]
    pub(super) fn count_le(vals: &[f32], t: &[f32; LANES]) -> [u32; LANES] {
        const V: usize = 4;
        let mut le = [0u32; LANES];
        unsafe {
            chunks::<V, _>(
                vals,
                |c| (get::<V>(t, c), [_mm_setzero_si128(); V]),
                |(t, n), x| {
                    for j in 0..V {
                        n[j] = count(n[j], _mm_cmple_ps(x[j], t[j]));
                    }
                },
                |c, (_, n)| put_counts(&mut le, c, n),
            );
        }
        le
    }

    #[inline(always)]
    pub(super) fn ends(vals: &[f32], above: &[f32; LANES], below: &[f32; LANES]) -> ([f32; LANES], [f32; LANES]) {
        const V: usize = 2;
        let (mut first, mut last) = ([0f32; LANES], [0f32; LANES]);
        unsafe {
            chunks::<V, _>(
                vals,
                |c| (get::<V>(above, c), get::<V>(below, c), [_mm_set1_ps(INF); V], [_mm_set1_ps(-INF); V]),
                |(a, b, f, l), x| {
                    for j in 0..V {
                        // NaN where x <= a (and where x is NaN already).
                        f[j] = _mm_min_ps(_mm_or_ps(x[j], _mm_cmple_ps(x[j], a[j])), f[j]);
                        // NaN where not x <= b.
                        l[j] = _mm_max_ps(_mm_or_ps(x[j], _mm_cmpnle_ps(x[j], b[j])), l[j]);
                    }
                },
                |c, (_, _, f, l)| {
                    put(&mut first, c, f);
                    put(&mut last, c, l);
                },
            );
        }
        (first, last)
    }

    #[inline(always)]
    pub(super) fn le_and_next(vals: &[f32], t: &[f32; LANES]) -> ([u32; LANES], [f32; LANES]) {
        const V: usize = 2;
        let (mut le, mut next) = ([0u32; LANES], [0f32; LANES]);
        unsafe {
            chunks::<V, _>(
                vals,
                |c| (get::<V>(t, c), [_mm_setzero_si128(); V], [_mm_set1_ps(INF); V]),
                |(t, n, g), x| {
                    for j in 0..V {
                        let m = _mm_cmple_ps(x[j], t[j]);
                        n[j] = count(n[j], m);
                        g[j] = _mm_min_ps(_mm_or_ps(x[j], m), g[j]);
                    }
                },
                |c, (_, n, g)| {
                    put_counts(&mut le, c, n);
                    put(&mut next, c, g);
                },
            );
        }
        (le, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_values() {
        let xs = [f32::NEG_INFINITY, -3.5, -1e-40, -0.0, 0.0, 1e-40, 2.0, 7.25e30, f32::INFINITY];
        for w in xs.windows(2) {
            assert!(key_of(w[0]) <= key_of(w[1]), "{w:?}");
        }
        assert_eq!(key_of(-0.0), key_of(0.0));
        for &x in &xs {
            assert_eq!(value_of(key_of(x)).to_bits(), (x + 0.0).to_bits());
        }
        assert!(key_of(f32::INFINITY) < ABSENT);
        let ints = [-32768.0, -1.0, 0.0, 1.0, 255.0, 65535.0];
        for w in ints.windows(2) {
            assert!(key::<u16>(w[0]) < key::<u16>(w[1]) && key::<u16>(w[1]) < ABSENT);
        }
        for &x in &ints {
            assert_eq!(value::<u16>(key::<u16>(x)), x);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn thresholds_count_the_keys_at_most_k() {
        // For every key k near the zeros, the subnormals, +-1 and +-f32::MAX, and every
        // sample x there: x <= at_most(k) exactly when key(x) <= k. (Midpoints lie between
        // two finite samples' keys: no key of +-inf or NaN.)
        let near = |k0: i32| (k0 - 3..=k0 + 3).collect::<Vec<_>>();
        let ks: Vec<i32> = [0, key_of(1.0), key_of(-1.0), key_of(f32::MAX), key_of(-f32::MAX)]
            .into_iter()
            .flat_map(near)
            .filter(|&k| (key_of(-f32::MAX)..=key_of(f32::MAX)).contains(&k))
            .collect();
        let xs: Vec<f32> = ks.iter().map(|&k| value_of(k) + 0.0).collect();
        for &k in &ks {
            let t = at_most::<f32>(k);
            for &x in &xs {
                assert_eq!(x <= t, key_of(x) <= k, "key {k}, x {x:e}");
            }
        }
        for k in [-32768, -1, 0, 1, 65535] {
            assert_eq!(at_most::<u16>(k), k as f32);
        }
    }

    /// Every pass of one block in one format.
    #[derive(Debug, PartialEq)]
    struct All {
        stats: ([u32; LANES], [i32; LANES], [i32; LANES]),
        le: [u32; LANES],
        ends: ([i32; LANES], [i32; LANES]),
        le_next: ([u32; LANES], [i32; LANES]),
    }

    struct Passes<'a, F, T>(&'a [u32], &'a [i32; LANES], &'a [i32; LANES], std::marker::PhantomData<(F, T)>);

    impl<F: RowFormat, T: Input> crate::simd::Kernel for Passes<'_, F, T> {
        type Output = All;
        #[inline(always)]
        fn run(self) -> All {
            let Passes(rows, a, b, _) = self;
            All {
                stats: F::stats::<T>(rows),
                le: F::count_le::<T>(rows, a),
                ends: F::ends::<T>(rows, a, b),
                le_next: F::le_and_next::<T>(rows, a),
            }
        }
    }

    /// The passes of `samples` (frame-major, None absent) in format F at every level,
    /// checked against brute force in the key domain where the answer is defined.
    fn check<F: RowFormat, T: Input>(samples: &[Option<f64>], a: &[i32; LANES], b: &[i32; LANES], what: &str) {
        let rows: Vec<u32> = samples.iter().map(|x| x.map_or(F::ABSENT_WORD, F::word::<T>)).collect();
        let n = samples.len() / LANES;
        let lane = |l: usize| (0..n).filter_map(move |i| samples[i * LANES + l]).map(key::<T>);
        for level in crate::simd::Level::available() {
            let isa = level.verified().unwrap();
            let got = crate::simd::dispatch(isa, Passes::<F, T>(&rows, a, b, std::marker::PhantomData));
            for l in 0..LANES {
                let at = format!("{what}, {level}, {n} rows, lane {l}");
                let count = lane(l).count() as u32;
                assert_eq!(got.stats.0[l], count, "{at}");
                if count > 0 {
                    assert_eq!((got.stats.1[l], got.stats.2[l]), (lane(l).min().unwrap(), lane(l).max().unwrap()), "{at}");
                }
                let le = lane(l).filter(|&k| k <= a[l]).count() as u32;
                assert_eq!((got.le[l], got.le_next.0[l]), (le, le), "{at}");
                if let Some(first) = lane(l).filter(|&k| k >= a[l]).min() {
                    assert_eq!(got.ends.0[l], first, "{at}");
                }
                if let Some(last) = lane(l).filter(|&k| k <= b[l]).max() {
                    assert_eq!(got.ends.1[l], last, "{at}");
                }
                if let Some(next) = lane(l).filter(|&k| k > a[l]).min() {
                    assert_eq!(got.le_next.1[l], next, "{at}");
                }
            }
        }
    }

    #[test]
    fn every_format_gives_the_key_answers() {
        // Absent samples, the largest finite values, zeros, subnormals, ties with the
        // thresholds (thresholds are sample keys, or one off), and row counts that are not
        // multiples of anything; floats and integers.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 32) as u32
        };
        let float = |r: u32| match r % 10 {
            0 => None,
            1 => Some(f32::MAX as f64),
            2 => Some(-f32::MAX as f64),
            3 => Some(f32::from_bits(1) as f64),
            4 => Some(0.0),
            5 => Some(-(f32::from_bits(1) as f64)),
            6 => Some(-0.0),
            _ => Some((r % 23) as f64 - 11.0),
        };
        let int = |r: u32| if r % 10 == 0 { None } else { Some((r % 37) as f64 - 18.0) };
        for rows in [0usize, 1, 7, 301] {
            for _ in 0..4 {
                let fs: Vec<Option<f64>> = (0..rows * LANES).map(|_| float(next())).collect();
                let is: Vec<Option<f64>> = (0..rows * LANES).map(|_| int(next())).collect();
                let thr = |x: Option<f64>, r: u32, key: fn(f64) -> i32| key(x.unwrap_or(3.0)) + (r % 3) as i32 - 1;
                let fa: [i32; LANES] = std::array::from_fn(|_| thr(float(next()), next(), key::<f32>));
                let fb: [i32; LANES] = std::array::from_fn(|_| thr(float(next()), next(), key::<f32>));
                let ia: [i32; LANES] = std::array::from_fn(|_| thr(int(next()), next(), key::<i16>));
                let ib: [i32; LANES] = std::array::from_fn(|_| thr(int(next()), next(), key::<i16>));
                check::<KeyRows, f32>(&fs, &fa, &fb, "keys, f32");
                check::<KeyRows, i16>(&is, &ia, &ib, "keys, i16");
                #[cfg(target_arch = "x86_64")]
                {
                    check::<ValueRows, f32>(&fs, &fa, &fb, "values, f32");
                    check::<ValueRows, i16>(&is, &ia, &ib, "values, i16");
                }
            }
        }
    }
}
