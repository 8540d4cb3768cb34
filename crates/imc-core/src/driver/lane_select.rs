//! Order statistics without rejection (median, lower median, quantile) for a whole block
//! of lanes at once, by bisection on order-preserving integer keys: no sort at all.
//!
//! Every sample of an f32-exact block has an i32 key whose order is the value order
//! (-0.0 is first made +0.0; integer inputs are their own keys; invalid samples are
//! absent); a block is loaded as keys, or at the x86-64 baseline as f32 values (see
//! `lane_passes`), and the passes answer in keys either way.
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

use super::lane_passes::{value, KeyRows, RowFormat};
use super::scratch::Scratch;
use super::{Ctx, Elem};
use crate::input::Input;
use crate::job::Method;
use crate::network::LANES;
use crate::real::Real;
use crate::reject::{median_at, oflag, Diag};
use crate::select;

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
    /// A block's rows in format F, frame-major (`rows[i * LANES + b]`); lanes past the
    /// image end are absent.
    #[inline(always)]
    fn load_rows<F: RowFormat>(&self, rows: &mut [u32], p0: usize, p1: usize) {
        let len = p1 - p0;
        for i in 0..self.n {
            // The next block's piece of this frame: one piece of each of N frames is more
            // streams than the hardware prefetchers follow, and a block's bisection is long
            // enough for the reads to land (one block ahead: N = 1000 median 13-23 % faster
            // at every level; two or four blocks ahead were no better).
            super::prefetch::range(self.frames.data[i], p1, LANES);
            let f = &self.frames.data[i][p0..p1];
            let row = &mut rows[i * LANES..(i + 1) * LANES];
            if self.plain {
                // Branch-free so it vectorises.
                for (w, &raw) in row.iter_mut().zip(f) {
                    let x = raw.to_f64();
                    let ok = !T::IS_FLOAT || x.is_finite();
                    *w = if ok { F::word::<T>(x) } else { F::ABSENT_WORD };
                }
            } else {
                let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
                for (b, &raw) in f.iter().enumerate() {
                    let (x, st) = self.sample(i, raw, mk.is_some_and(|mk| mk[b]));
                    row[b] = if st == 0 { F::word::<T>(x) } else { F::ABSENT_WORD };
                }
            }
            row[len..].fill(F::ABSENT_WORD);
        }
    }

    /// Median / lower median / quantile of every pixel of [p0, p1) by bisection (inlined
    /// into the SIMD level's dispatch, as every block kernel).
    #[inline(always)]
    pub(super) fn select_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        #[cfg(target_arch = "x86_64")]
        if super::lane_passes::values_here() {
            return self.select_rows::<super::lane_passes::ValueRows>(s, p0, p1);
        }
        self.select_rows::<KeyRows>(s, p0, p1)
    }

    /// `select_block` with the block's rows in format F.
    #[inline(always)]
    fn select_rows<F: RowFormat>(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        let len = p1 - p0;
        let method = self.job.method;
        let rows = &mut s.select_rows[..n * LANES];
        self.load_rows::<F>(rows, p0, p1);
        let rows = &s.select_rows[..n * LANES];
        // Per lane: valid count and the range of valid keys (any keys for a lane without
        // valid samples, which the next loop empties).
        let (count, mut lo, mut hi) = F::stats::<T>(rows);
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
        let v0 = bisect::<F, T>(rows, &rank, &count, lo, hi);
        // The next rank: the same key while it repeats, else the smallest key above it.
        // Read only when fewer than `second` + 1 keys lie at or below v0, i.e. when a
        // valid key above v0 exists.
        let (at_or_below, above) = if (0..len).any(|b| second[b] != rank[b]) {
            F::le_and_next::<T>(rows, &v0)
        } else {
            ([0; LANES], [0; LANES])
        };
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
fn bisect<F: RowFormat, T: Input>(rows: &[u32], rank: &[u32; LANES], count: &[u32; LANES], mut lo: [i32; LANES], mut hi: [i32; LANES]) -> [i32; LANES] {
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
        let le = F::count_le::<T>(rows, &mid);
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
    // The interval's end keys: the smallest >= lo and the largest <= hi. An open interval
    // [lo, hi] holds a key (cl <= rank < ch).
    let (first, last) = F::ends::<T>(rows, &lo, &hi);
    std::array::from_fn(|b| if lo[b] >= hi[b] { lo[b] } else if rank[b] == cl[b] { first[b] } else { last[b] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::lane_passes::key;

    /// One lane of 37 samples with ties, zeros and negative values; the other lanes empty;
    /// every rank, in format F for input type T.
    fn every_rank<F: RowFormat, T: Input>() {
        let xs: Vec<f64> = (0..37i32).map(|i| ((i * 7919) % 23 - 5) as f64).collect();
        let mut rows = vec![F::ABSENT_WORD; 37 * LANES];
        for (i, &x) in xs.iter().enumerate() {
            rows[i * LANES] = F::word::<T>(x);
        }
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        for r in 0..37u32 {
            let mut rank = [0u32; LANES];
            rank[0] = r;
            let mut count = [0u32; LANES];
            count[0] = 37;
            let (mut lo, mut hi) = ([0i32; LANES], [0i32; LANES]);
            (lo[0], hi[0]) = (key::<T>(sorted[0]), key::<T>(sorted[36]));
            assert_eq!(bisect::<F, T>(&rows, &rank, &count, lo, hi)[0], key::<T>(sorted[r as usize]), "rank {r}");
        }
    }

    #[test]
    fn bisection_finds_every_rank() {
        every_rank::<KeyRows, f32>();
        every_rank::<KeyRows, i16>();
        #[cfg(target_arch = "x86_64")]
        {
            every_rank::<crate::driver::lane_passes::ValueRows, f32>();
            every_rank::<crate::driver::lane_passes::ValueRows, i16>();
        }
    }
}
