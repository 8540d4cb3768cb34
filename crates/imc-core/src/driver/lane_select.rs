//! Order statistics without rejection (median, lower median, quantile) for a whole block
//! of lanes at once, by bisection on order-preserving integer keys: no sort at all.
//!
//! Every sample of an f32-exact block becomes an i32 key whose order is the value order
//! (-0.0 is first made +0.0; integer inputs are their own keys; invalid samples get
//! `i32::MAX` and count as absent).
//! The k-th smallest key of a lane is the smallest key t with #(keys <= t) > k: each
//! bisection step counts, for every lane at once, the keys at or below its midpoint (a
//! vectorised compare-and-add over the block's rows). The answer is always a key of the
//! lane, so the value is exactly the one a sort would put at rank k. The cost per sample
//! is the number of steps (at most 32, the bits in which a lane's keys differ) times one
//! compare-and-add, whatever N: a sorting network costs O(log² N) per sample.
//!
//! Masked stores: a row loop that updates a per-lane array with a select whose other arm
//! is the array itself (`hi[b] = hi[b].max(if valid { k } else { MIN })` is one, once
//! LLVM folds the max into the select) stores only the lanes that change, which with AVX2
//! is VPMASKMOVD, microcoded on AMD Zen: the AVX2 level selected no faster than the SSE2
//! baseline (issue 14). The loops below are therefore plain min / max / add of every lane
//! (wrapping offsets put the keys to ignore beyond the others), or write fresh arrays.

use super::lane_passes;
use super::scratch::Scratch;
use super::{Ctx, Elem};
use crate::input::Input;
use crate::job::Method;
use crate::network::LANES;
use crate::real::Real;
use crate::reject::{median_at, oflag, Diag};
use crate::select;

/// The key of an invalid sample: above every finite value's key.
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
fn value_of(key: i32) -> f64 {
    let bits = if key >= 0 { key as u32 } else { key as u32 ^ 0x7fff_ffff };
    f32::from_bits(bits) as f64
}

/// Order-preserving key of an integer sample (u8, u16, i16: far from i32's ends, so never
/// `ABSENT`). Consecutive integers get consecutive keys: bisection then takes about
/// log2(the lane's value range) steps, not log2 of the float keys between them.
#[inline(always)]
fn int_key_of(x: f64) -> i32 {
    x as i32
}

/// The value of a key made by [`int_key_of`].
#[inline(always)]
fn int_value_of(key: i32) -> f64 {
    key as f64
}

/// The key of a valid sample x of input type T.
#[inline(always)]
fn key<T: Input>(x: f64) -> i32 {
    if T::IS_FLOAT { key_of(x as f32) } else { int_key_of(x) }
}

/// The value of a key of input type T.
#[inline(always)]
fn value<T: Input>(k: i32) -> f64 {
    if T::IS_FLOAT { value_of(k) } else { int_value_of(k) }
}

/// Whether the bisection selection computes `method` for this job (lanes that hold f32
/// samples exactly, no rejector, an order statistic).
pub(super) fn applies(method: Method, lane32: bool, rejectors: usize) -> bool {
    lane32 && rejectors == 0 && matches!(method, Method::Median | Method::LMedian | Method::Quantile { .. })
}

/// The ranks (0-based, `k0 <= k1 < c`) a method reads from `c` sorted samples; `None` for
/// an empty lane.
#[inline]
fn ranks(method: Method, c: usize) -> Option<(usize, usize)> {
    if c == 0 {
        return None;
    }
    Some(match method {
        Method::Median => ((c - 1) / 2, c / 2),
        Method::LMedian => ((c - 1) / 2, (c - 1) / 2),
        Method::Quantile { q } => select::quantile_ranks(c, q),
        _ => unreachable!("lane_select::applies admits order statistics only"),
    })
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Keys of a block, frame-major (`keys[i * LANES + b]`); lanes past the image end are
    /// absent.
    #[inline(always)]
    fn load_keys(&self, keys: &mut [i32], p0: usize, p1: usize) {
        let len = p1 - p0;
        for i in 0..self.n {
            let f = &self.frames.data[i][p0..p1];
            let row = &mut keys[i * LANES..(i + 1) * LANES];
            if self.plain {
                // Branch-free so it vectorises.
                for (k, &raw) in row.iter_mut().zip(f) {
                    let x = raw.to_f64();
                    let ok = !T::IS_FLOAT || x.is_finite();
                    *k = if ok { key::<T>(x) } else { ABSENT };
                }
            } else {
                let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
                for (b, &raw) in f.iter().enumerate() {
                    let (x, st) = self.sample(i, raw, mk.is_some_and(|mk| mk[b]));
                    row[b] = if st == 0 { key::<T>(x) } else { ABSENT };
                }
            }
            row[len..].fill(ABSENT);
        }
    }

    /// Median / lower median / quantile of every pixel of [p0, p1) by bisection (inlined
    /// into the SIMD level's dispatch, as every block kernel).
    #[inline(always)]
    pub(super) fn select_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        let len = p1 - p0;
        let method = self.job.method;
        let keys = &mut s.keys[..n * LANES];
        self.load_keys(keys, p0, p1);
        let keys = &s.keys[..n * LANES];
        // Per lane: valid count and the range of valid keys. The largest valid key is the
        // largest k + 1, minus 1: ABSENT + 1 wraps to i32::MIN, below every valid key + 1.
        // (The row passes are in `lane_passes`: explicit SSE2 at the baseline.)
        let (count, mut lo, top) = lane_passes::stats(keys, ABSENT);
        // (i32::MAX for a lane without valid keys, which the next loop empties.)
        let mut hi = top.map(|t| t.wrapping_sub(1));
        let mut rank = [0u32; LANES];
        let mut second = [0u32; LANES];
        for b in 0..LANES {
            match ranks(method, count[b] as usize) {
                Some((k0, k1)) => {
                    rank[b] = k0 as u32;
                    second[b] = k1 as u32;
                }
                // Nothing to find: an empty interval stops the bisection at once.
                None => (lo[b], hi[b]) = (0, 0),
            }
        }
        let v0 = bisect(keys, &rank, &count, lo, hi);
        // The next rank: the same key while it repeats, else the smallest key above it,
        // base + the unsigned minimum of k - base (base = v0 + 1: keys at or below v0 wrap
        // above every key above it). Read only when fewer than `second` + 1 keys lie at or
        // below v0, i.e. when a valid key above v0 exists.
        let base = v0.map(|v| v.wrapping_add(1));
        let (at_or_below, gap) = if (0..len).any(|b| second[b] != rank[b]) {
            lane_passes::le_and_gap(keys, &v0, &base)
        } else {
            ([0; LANES], [u32::MAX; LANES])
        };
        let above: [i32; LANES] = std::array::from_fn(|b| base[b].wrapping_add(gap[b] as i32));
        for b in 0..len {
            let c = count[b] as usize;
            let x0 = value::<T>(v0[b]);
            let x1 = if second[b] == rank[b] || at_or_below[b] > second[b] { x0 } else { value::<T>(above[b]) };
            let (k0, k1) = (rank[b] as usize, second[b] as usize);
            let at = |k: usize| if k == k1 && k1 != k0 { x1 } else { x0 };
            let v = match (c, method) {
                (0, _) => f64::NAN,
                (_, Method::Median) => median_at(c, at),
                (_, Method::Quantile { q }) => select::quantile_at(c, q, at),
                _ => x0,
            };
            let flags = if c < n { oflag::PREMASKED } else { 0 };
            self.write(p0 + b, &Elem { value: self.finish_value(v, c), nused: c, flags, diag: Diag::default() });
        }
    }
}

/// Per lane, the key of rank `rank` (0-based), known to lie in [lo, hi] (the lane's valid
/// key range; `count` valid keys).
///
/// Bisection keeps cl = #(keys < lo) <= rank < ch = #(keys <= hi). A lane stops as soon as
/// its answer is an end of the interval's keys (rank = cl: the smallest key >= lo; rank =
/// ch - 1: the largest key <= hi), which happens once the interval holds few samples, long
/// before it shrinks to one key; one last pass reads those ends.
#[inline(always)]
fn bisect(keys: &[i32], rank: &[u32; LANES], count: &[u32; LANES], mut lo: [i32; LANES], mut hi: [i32; LANES]) -> [i32; LANES] {
    let mut cl = [0u32; LANES];
    let mut ch = *count;
    let open = |b: usize, lo: &[i32; LANES], hi: &[i32; LANES], cl: &[u32; LANES], ch: &[u32; LANES]| {
        lo[b] < hi[b] && rank[b] != cl[b] && rank[b] + 1 != ch[b]
    };
    while (0..LANES).any(|b| open(b, &lo, &hi, &cl, &ch)) {
        let mut mid = [0i32; LANES];
        for b in 0..LANES {
            // Floor of the mean without overflow (lo <= mid < hi).
            mid[b] = ((lo[b] as i64 + hi[b] as i64) >> 1) as i32;
        }
        let le = lane_passes::count_le(keys, &mid);
        // The new interval into fresh arrays: every lane is stored (see `masked stores`).
        let (mut lo2, mut hi2, mut cl2, mut ch2) = ([0i32; LANES], [0i32; LANES], [0u32; LANES], [0u32; LANES]);
        for b in 0..LANES {
            // Finished lanes keep their interval whatever the count says.
            let go = open(b, &lo, &hi, &cl, &ch);
            let more = le[b] > rank[b];
            (hi2[b], ch2[b]) = if go && more { (mid[b], le[b]) } else { (hi[b], ch[b]) };
            (lo2[b], cl2[b]) = if go && !more { (mid[b] + 1, le[b]) } else { (lo[b], cl[b]) };
        }
        (lo, hi, cl, ch) = (lo2, hi2, cl2, ch2);
    }
    // The interval's end keys: the smallest >= lo and the largest <= hi, as lo + the
    // unsigned minimum of k - lo and hi - the unsigned minimum of hi - k (keys outside
    // wrap above every key inside). An open interval [lo, hi] holds a key (cl <= rank < ch).
    let (from_lo, to_hi) = lane_passes::min_offsets(keys, &lo, &hi);
    let mut out = [0i32; LANES];
    for b in 0..LANES {
        let first = lo[b].wrapping_add(from_lo[b] as i32);
        let last = hi[b].wrapping_sub(to_hi[b] as i32);
        out[b] = if lo[b] >= hi[b] { lo[b] } else if rank[b] == cl[b] { first } else { last };
    }
    out
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
            assert_eq!(value_of(key_of(x)), (x + 0.0) as f64);
        }
        assert!(key_of(f32::INFINITY) < ABSENT);
    }

    #[test]
    fn integer_keys_order_like_values() {
        let xs = [-32768.0, -1.0, 0.0, 1.0, 255.0, 65535.0];
        for w in xs.windows(2) {
            assert!(int_key_of(w[0]) < int_key_of(w[1]) && int_key_of(w[1]) < ABSENT);
        }
        for &x in &xs {
            assert_eq!(int_value_of(int_key_of(x)), x);
        }
    }

    #[test]
    fn bisection_finds_every_rank() {
        // One lane of 37 keys with ties; the other lanes empty.
        let vals: Vec<i32> = (0..37i32).map(|i| (i * 7919) % 23 - 5).collect();
        let mut keys = vec![ABSENT; 37 * LANES];
        for (i, &v) in vals.iter().enumerate() {
            keys[i * LANES] = v;
        }
        let mut sorted = vals.clone();
        sorted.sort();
        for r in 0..37u32 {
            let mut rank = [0u32; LANES];
            rank[0] = r;
            let mut count = [0u32; LANES];
            count[0] = 37;
            let (mut lo, mut hi) = ([0i32; LANES], [0i32; LANES]);
            (lo[0], hi[0]) = (sorted[0], sorted[36]);
            assert_eq!(bisect(&keys, &rank, &count, lo, hi)[0], sorted[r as usize], "rank {r}");
        }
    }
}
