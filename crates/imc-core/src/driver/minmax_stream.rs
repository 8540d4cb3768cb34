//! Streaming MinMaxClip: a lone MinMaxClip that drops at most the lowest and the highest
//! valid sample of each pixel, followed by a mean or sum, without sorting anything.
//!
//! Pass 1 reads the block's frames once (several at a time) and keeps, per pixel, the valid
//! count, the minimum, the maximum and the frame-order sum of every valid sample (on plain
//! stacks it takes every sample unmasked, and redoes masked the few pixels whose sum or
//! extremes came out non-finite, i.e. that met a NaN or an infinity). The
//! samples the sorted window drops are the minimum held by the first frame and the maximum
//! held by the last frame ((value, frame) order). When every partial sum of a pixel is exact
//! in f64 (see [`exact_f32_sum`]), total - min - max *is* the frame-order sum of the
//! survivors, bit for bit. Other pixels (f64 or normalised input, mixed signs, magnitudes
//! too far apart) take pass 2: locate the two dropped frames, then add the other samples
//! in frame order, exactly as every other path does.

use super::prefetch::Ahead;
use super::scratch::Scratch;
use super::{Ctx, LoneRejector, FRAME_GROUP};
use crate::input::Input;
use crate::real::{finite, Real};
use crate::reject::minmax::drop_counts;
use crate::reject::oflag;

/// Pixels per block: pass 2 meets the block's samples again in L2.
pub(super) const MINMAX_BLOCK: usize = 4096;

/// Per-thread buffers of the streaming MinMaxClip (one block).
#[derive(Default)]
pub(super) struct MinMaxScratch {
    /// Extremes in f32 (exact input types, no normalisation) or f64.
    lo32: Vec<f32>,
    hi32: Vec<f32>,
    lo64: Vec<f64>,
    hi64: Vec<f64>,
    /// Valid samples and survivors of each pixel.
    valid: Vec<u32>,
    kept: Vec<u32>,
    /// Frame-order sums: of all valid samples (pass 1), then of the survivors.
    total: Vec<f64>,
    sums: Vec<f64>,
    /// Frames dropped at the low and high end (u32::MAX = none).
    lo_at: Vec<u32>,
    hi_at: Vec<u32>,
}

impl MinMaxScratch {
    pub(super) fn new(block: usize) -> Self {
        MinMaxScratch {
            lo32: vec![0.0; block],
            hi32: vec![0.0; block],
            lo64: vec![0.0; block],
            hi64: vec![0.0; block],
            valid: vec![0; block],
            kept: vec![0; block],
            total: vec![0.0; block],
            sums: vec![0.0; block],
            lo_at: vec![0; block],
            hi_at: vec![0; block],
        }
    }
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Combine pixels [p0, p1) (see the module documentation).
    #[inline(always)]
    pub(super) fn minmax_stream_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let Some(LoneRejector::MinMax { frac_lo: f_lo, frac_hi: f_hi }) = self.lone else {
            unreachable!("the MinMaxStream path is only chosen for a lone MinMaxClip")
        };
        let (n, len) = (self.n, p1 - p0);
        let s = &mut s.minmax;
        // f32 extremes are exact for the input type when nothing is normalised; only then
        // can the pass-1 sum be exact (and they fill twice the pixels per vector).
        let f32_exact = self.plain && self.lane32;
        let total = &mut s.total[..len];
        let valid = &mut s.valid[..len];
        if f32_exact {
            self.extremes_pass(p0, p1, &mut s.lo32[..len], &mut s.hi32[..len], valid, total);
        } else {
            self.extremes_pass(p0, p1, &mut s.lo64[..len], &mut s.hi64[..len], valid, total);
        }
        // How many to drop at each end of c valid values (reject::minmax's rule).
        let drop = |c: usize| {
            let k = drop_counts(f_lo, f_hi, c);
            (k.low, k.high)
        };
        let (lo32, hi32) = (&s.lo32[..len], &s.hi32[..len]);
        let kept = &mut s.kept[..len];
        let sums = &mut s.sums[..len];
        // Common case, vectorised: every pixel has all n samples and an exact sum.
        let all_exact = f32_exact
            && valid.iter().fold(true, |ok, &c| ok & (c as usize == n))
            && block_exact_f32_sum::<T>(lo32, hi32, n);
        let mut need_pass2 = false;
        if all_exact {
            let (k_lo, k_hi) = drop(n);
            let (dlo, dhi) = (k_lo == 1, k_hi == 1);
            for b in 0..len {
                // Every partial sum is exact, so removing the extremes from the total gives
                // the frame-order sum of the survivors bit for bit.
                sums[b] = total[b] - if dlo { lo32[b] as f64 } else { 0.0 } - if dhi { hi32[b] as f64 } else { 0.0 };
            }
            kept.fill((n - k_lo - k_hi) as u32);
        } else {
            for b in 0..len {
                let c = valid[b] as usize;
                let (k_lo, k_hi) = drop(c);
                kept[b] = (c - k_lo - k_hi) as u32;
                sums[b] = if f32_exact && exact_f32_sum::<T>(lo32[b], hi32[b], c) {
                    total[b] - if k_lo == 1 { lo32[b] as f64 } else { 0.0 } - if k_hi == 1 { hi32[b] as f64 } else { 0.0 }
                } else {
                    // Marks the pixel for pass 2 (an exact sum of finite values is never NaN).
                    need_pass2 = true;
                    f64::NAN
                };
            }
        }
        if need_pass2 {
            let (lo_at, hi_at) = (&mut s.lo_at[..len], &mut s.hi_at[..len]);
            if f32_exact {
                self.locate_pass(p0, p1, lo32, hi32, lo_at, hi_at);
            } else {
                self.locate_pass(p0, p1, &s.lo64[..len], &s.hi64[..len], lo_at, hi_at);
            }
            for b in 0..len {
                let (k_lo, k_hi) = drop(valid[b] as usize);
                if k_lo == 0 {
                    lo_at[b] = u32::MAX;
                }
                if k_hi == 0 {
                    hi_at[b] = u32::MAX;
                }
            }
            // Frame-order sums of the survivors; only the marked pixels keep them.
            total.fill(0.0);
            self.sum_except_pass(p0, p1, lo_at, hi_at, total);
            for (x, &t) in sums.iter_mut().zip(total.iter()) {
                if x.is_nan() {
                    *x = t;
                }
            }
        }
        if self.ptrs.nused.is_some() || self.ptrs.oflags.is_some() {
            for b in 0..len {
                // Safety: block [p0, p1) is written by this call only (see the driver).
                unsafe {
                    if let Some(o) = self.ptrs.nused {
                        o.put(p0 + b, kept[b] as i32);
                    }
                    if let Some(o) = self.ptrs.oflags {
                        o.put(p0 + b, if (valid[b] as usize) < n { oflag::PREMASKED } else { 0 });
                    }
                }
            }
        }
        self.write_sums(p0, sums, kept);
    }

    /// Pass 1 over pixels [p0, p1): valid count, extremes and frame-order sum of the valid
    /// samples (the sum is only used when `plain`).
    #[inline(always)]
    fn extremes_pass<L: Real>(&self, p0: usize, p1: usize, vmin: &mut [L], vmax: &mut [L], valid: &mut [u32], total: &mut [f64]) {
        vmin.fill(L::INF);
        vmax.fill(L::NEG_INF);
        valid.fill(0);
        total.fill(0.0);
        if self.plain {
            let frames = &self.frames.data;
            for (g, k, id0) in self.frame_groups(p0, p1) {
                // The next block of these frames is asked for while this one is read: a
                // block reads 16 KiB runs of N frames, more streams than the hardware
                // prefetchers follow (20 x 2048 x 2048 f32, 2 threads, Zen 5: 17.0 -> 13.4 ms
                // at the baseline, 12.7 -> 9.8 ms avx2, 11.8 -> 9.9 ms avx512).
                let id0 = id0 as usize;
                if k == FRAME_GROUP {
                    find_extremes_k(g, vmin, vmax, total, Ahead::next_block(frames, id0, p0, p1));
                } else {
                    find_extremes_k([g[0]], vmin, vmax, total, Ahead::next_block(frames, id0, p0, p1));
                }
            }
            // The pass above took every sample unmasked (see `find_extremes_k`). A pixel
            // whose sum and extremes are finite met no NaN or infinity, so all N samples
            // are valid and the results are the masked ones; the others are redone masked.
            let n = self.n as u32;
            valid.fill(n);
            // Usually every pixel is finite: one vectorised test for the block first.
            let all_finite = !T::IS_FLOAT
                || (0..p1 - p0).fold(true, |ok, b| ok & finite(total[b]) & finite(vmin[b]) & finite(vmax[b]));
            if !all_finite {
                for b in 0..p1 - p0 {
                    if !(finite(total[b]) & finite(vmin[b]) & finite(vmax[b])) {
                        (vmin[b], vmax[b], valid[b], total[b]) = self.masked_extremes(p0 + b);
                    }
                }
            }
        } else {
            for i in 0..self.n {
                for b in 0..p1 - p0 {
                    if let Some(x) = self.value(i, p0 + b) {
                        let x = L::from_f64(x);
                        vmin[b] = if x < vmin[b] { x } else { vmin[b] };
                        vmax[b] = if x > vmax[b] { x } else { vmax[b] };
                        valid[b] += 1;
                    }
                }
            }
        }
    }

    /// Pass-1 accumulators of pixel `p` of a plain float stack with invalid samples left
    /// out, in frame order as `find_extremes_k` would have them.
    #[inline(never)]
    fn masked_extremes<L: Real>(&self, p: usize) -> (L, L, u32, f64) {
        let (mut lo, mut hi, mut c, mut a) = (L::INF, L::NEG_INF, 0u32, 0.0f64);
        for f in self.frames.data.iter() {
            let v = f[p].to_f64();
            let x = L::from_f64(v);
            if finite(x) {
                lo = if x < lo { x } else { lo };
                hi = if x > hi { x } else { hi };
                c += 1;
            }
            if finite(v) {
                a += v;
            }
        }
        (lo, hi, c, a)
    }

    /// The frames (value, frame) order puts at the two ends: the first frame holding the
    /// minimum and the last holding the maximum.
    #[inline(always)]
    fn locate_pass<L: Real>(&self, p0: usize, p1: usize, vmin: &[L], vmax: &[L], lo_at: &mut [u32], hi_at: &mut [u32]) {
        lo_at.fill(u32::MAX);
        hi_at.fill(u32::MAX);
        if self.plain {
            for (g, k, id0) in self.frame_groups(p0, p1) {
                locate_extremes(&g[..k], id0, vmin, vmax, lo_at, hi_at);
            }
        } else {
            for i in 0..self.n {
                let id = i as u32;
                for b in 0..p1 - p0 {
                    if let Some(x) = self.value(i, p0 + b) {
                        let x = L::from_f64(x);
                        if x == vmin[b] && lo_at[b] == u32::MAX {
                            lo_at[b] = id;
                        }
                        if x == vmax[b] {
                            hi_at[b] = id;
                        }
                    }
                }
            }
        }
    }

    /// Pass 2: frame-order sums of the valid samples except frames `lo_at[b]`, `hi_at[b]`.
    #[inline(always)]
    fn sum_except_pass(&self, p0: usize, p1: usize, lo_at: &[u32], hi_at: &[u32], sums: &mut [f64]) {
        if self.plain {
            for (g, k, id0) in self.frame_groups(p0, p1) {
                add_valid_except(&g[..k], id0, lo_at, hi_at, sums);
            }
        } else {
            for i in 0..self.n {
                let id = i as u32;
                for b in 0..p1 - p0 {
                    if id != lo_at[b] && id != hi_at[b] {
                        if let Some(x) = self.value(i, p0 + b) {
                            sums[b] += x;
                        }
                    }
                }
            }
        }
    }

    /// Normalised value of sample `i` of pixel `p`, or None when it is invalid.
    #[inline]
    fn value(&self, i: usize, p: usize) -> Option<f64> {
        let bad = self.frames.masks.as_ref().is_some_and(|mk| mk[i][p]);
        let (x, st) = self.sample(i, self.frames.data[i][p], bad);
        (st == 0).then_some(x)
    }
}

/// Pass 1 over a few frames (`fs`, this block's pieces): minimum, maximum and frame-order
/// sum per pixel, every sample taken (the caller redoes the pixels that met an invalid
/// one); `ahead` asks for the same frames' next block meanwhile.
#[inline(always)]
fn find_extremes_k<T: Input, L: Real, const K: usize>(fs: [&[T]; K], vmin: &mut [L], vmax: &mut [L], total: &mut [f64],
                                                      ahead: Ahead<'_, T, K>) {
    // Groups of EXTREMES_GROUP pixels as fixed-size arrays: each of the min, max and
    // widening add is then a whole-vector operation on four f32 lanes even at SSE2, where
    // the plain loop below was vectorised two pixels at a time (the width of its f64 sum).
    let len = total.len();
    let whole = len / EXTREMES_GROUP * EXTREMES_GROUP;
    for b0 in (0..whole).step_by(EXTREMES_GROUP) {
        let mut lo: [L; EXTREMES_GROUP] = vmin[b0..b0 + EXTREMES_GROUP].try_into().unwrap();
        let mut hi: [L; EXTREMES_GROUP] = vmax[b0..b0 + EXTREMES_GROUP].try_into().unwrap();
        let mut a: [f64; EXTREMES_GROUP] = total[b0..b0 + EXTREMES_GROUP].try_into().unwrap();
        ahead.step(b0);
        for f in &fs {
            let f: &[T; EXTREMES_GROUP] = f[b0..b0 + EXTREMES_GROUP].try_into().unwrap();
            for j in 0..EXTREMES_GROUP {
                // The same expressions as the loop below.
                let v = f[j].to_f64();
                let x = L::from_f64(v);
                lo[j] = if x < lo[j] { x } else { lo[j] };
                hi[j] = if x > hi[j] { x } else { hi[j] };
                a[j] += v;
            }
        }
        vmin[b0..b0 + EXTREMES_GROUP].copy_from_slice(&lo);
        vmax[b0..b0 + EXTREMES_GROUP].copy_from_slice(&hi);
        total[b0..b0 + EXTREMES_GROUP].copy_from_slice(&a);
    }
    for b in whole..len {
        let (mut lo, mut hi, mut a) = (vmin[b], vmax[b], total[b]);
        for f in &fs {
            // L is f32 only for input types that f32 holds exactly. (-0.0 and +0.0 compare
            // equal, as the sorted window's ties do.)
            let v = f[b].to_f64();
            let x = L::from_f64(v);
            // No validity test: a NaN leaves the extremes alone and makes the sum NaN, an
            // infinity becomes an extreme; either way the pixel is redone masked
            // (`Ctx::masked_extremes`). Without masks, counts or blends the loop is a
            // min, a max and a widening add per sample, which matters most at SSE2.
            lo = if x < lo { x } else { lo };
            hi = if x > hi { x } else { hi };
            a += v;
        }
        (vmin[b], vmax[b], total[b]) = (lo, hi, a);
    }
}

/// First frame equal to the minimum and last frame equal to the maximum, over a few frames
/// with ids from `id0`.
#[inline(always)]
fn locate_extremes<T: Input, L: Real>(fs: &[&[T]], id0: u32, vmin: &[L], vmax: &[L], lo_at: &mut [u32], hi_at: &mut [u32]) {
    let len = lo_at.len();
    let (vmin, vmax, hi_at) = (&vmin[..len], &vmax[..len], &mut hi_at[..len]);
    for (j, f) in fs.iter().enumerate() {
        let f = &f[..len];
        let id = id0 + j as u32;
        for b in 0..len {
            let x = L::from_f64(f[b].to_f64());
            // Non-finite samples equal neither finite extreme (and NaN equals nothing).
            lo_at[b] = if x == vmin[b] && lo_at[b] == u32::MAX { id } else { lo_at[b] };
            hi_at[b] = if x == vmax[b] { id } else { hi_at[b] };
        }
    }
}

/// Pass 2 over a few frames: add the valid samples in frame order, except frame `lo_at[b]`
/// and frame `hi_at[b]` of pixel b.
#[inline(always)]
fn add_valid_except<T: Input>(fs: &[&[T]], id0: u32, lo_at: &[u32], hi_at: &[u32], sums: &mut [f64]) {
    let len = sums.len();
    let (lo_at, hi_at) = (&lo_at[..len], &hi_at[..len]);
    for (j, f) in fs.iter().enumerate() {
        let f = &f[..len];
        let id = id0 + j as u32;
        for b in 0..len {
            let x = f[b].to_f64();
            // `&`, not `&&`: no branches, so the loop vectorises.
            let ok = (!T::IS_FLOAT || finite(x)) & (id != lo_at[b]) & (id != hi_at[b]);
            sums[b] += if ok { x } else { 0.0 };
        }
    }
}

/// Pixels per group of `find_extremes_k`'s main loop.
const EXTREMES_GROUP: usize = 8;

/// Whether [`exact_f32_sum`] holds for every pixel `b` of a block, each with `c` valid
/// samples within `[lo[b], hi[b]]`. One test on the block's extremes decides most blocks:
/// when all samples have one sign, every pixel's smallest magnitude is at least the
/// block's (so its unit u is no smaller) and its largest at most the block's, so the
/// block passing implies each pixel passes. Otherwise each pixel is tested.
#[inline(always)]
pub(super) fn block_exact_f32_sum<T: Input>(lo: &[f32], hi: &[f32], c: usize) -> bool {
    if !T::IS_FLOAT {
        return true;
    }
    // Eight running extremes (folded in lanes, so the loops vectorise), then one.
    let (mut lo8, mut hi8) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
    for (l, h) in lo.chunks(8).zip(hi.chunks(8)) {
        for j in 0..l.len() {
            lo8[j] = if l[j] < lo8[j] { l[j] } else { lo8[j] };
            hi8[j] = if h[j] > hi8[j] { h[j] } else { hi8[j] };
        }
    }
    let min_lo = lo8.iter().fold(f32::INFINITY, |m, &x| if x < m { x } else { m });
    let max_hi = hi8.iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    exact_f32_sum::<T>(min_lo, max_hi, c) || lo.iter().zip(hi).fold(true, |ok, (&l, &h)| ok & exact_f32_sum::<T>(l, h, c))
}

/// Whether every partial sum of up to `c` valid samples within `[lo, hi]` is exact in f64,
/// for input types that f32 holds exactly; then any order of adding (and removing) them
/// gives the same bits.
///
/// Integer types always qualify (|x| < 2^16 and c < 2^16 keep sums below 2^32). For f32
/// samples of one sign, every sample is a multiple of u = 2^(e - 23), e the exponent of the
/// smallest magnitude; every partial sum is then a multiple of u no larger than c times the
/// largest magnitude, and f64 holds every multiple of u below 2^53 u exactly.
#[inline(always)]
pub(super) fn exact_f32_sum<T: Input>(lo: f32, hi: f32, c: usize) -> bool {
    if !T::IS_FLOAT {
        return true;
    }
    let (small, big) = if lo > 0.0 {
        (lo, hi)
    } else if hi < 0.0 {
        (-hi, -lo)
    } else {
        return false;
    };
    // 2^e of a normal f32 (0 for a subnormal, which then never qualifies).
    let pow2 = f32::from_bits(small.to_bits() & 0x7f80_0000) as f64;
    let u = pow2 * (1.0 / 8_388_608.0); // 2^-23
    (c as f64) * (big as f64) < u * 9_007_199_254_740_992.0 // 2^53
}

#[cfg(test)]
mod tests {
    use super::super::tests::stack;
    use super::{block_exact_f32_sum, exact_f32_sum};
    use crate::driver::{run, Outputs};
    use crate::frames::Frames;
    use crate::job::{Job, Method, Rejector, Want};

    #[test]
    fn minmax_stream_matches_element_path() {
        // Ties at both ends, NaN/inf, signed zeros, pixels with few or no valid samples,
        // masks, thresholds and normalisation: the two-pass stream drops exactly the
        // samples the sorted window drops and sums the rest in the same order.
        let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for n in [1, 2, 3, 4, 5, 7, 20, 21] {
            let m = 5000;
            let raw = stack(n, m);
            let data: Vec<Vec<f32>> = raw
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    f.iter()
                        .enumerate()
                        .map(|(p, &x)| match (p * 5 + i * 3) % 97 {
                            _ if p % 211 == 0 => f32::NAN, // a pixel with no valid sample
                            0 | 1 => f32::NAN,
                            2 => f32::INFINITY,
                            5 => f32::NEG_INFINITY,
                            3 => -0.0,
                            4 => 0.0,
                            _ => (x * 0.2).round(),
                        })
                        .collect()
                })
                .collect();
            let masks: Vec<Vec<bool>> = (0..n).map(|i| (0..m).map(|p| (p * 7 + i) % 23 == 0).collect()).collect();
            let as_u16: Vec<Vec<u16>> = data.iter().map(|f| f.iter().map(|&x| if x.is_finite() { x as u16 } else { 7 }).collect()).collect();
            for (lo, hi) in [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (0.25, 0.25)] {
                for method in [Method::Mean, Method::Sum] {
                    for variant in 0..5 {
                        let with_masks = variant == 1;
                        let fr = Frames::new(
                            data.iter().map(|v| v.as_slice()).collect(),
                            with_masks.then(|| masks.iter().map(|v| v.as_slice()).collect()),
                        )
                        .unwrap();
                        let mut job = Job::simple(method);
                        job.rejectors = vec![Rejector::MinMax { n_min: lo, n_max: hi }];
                        job.want = Want { nused: true, output_flags: true, ..Want::default() };
                        match variant {
                            2 => job.thresholds = Some((150.0, 220.0)),
                            3 => {
                                job.zero = Some((0..n).map(|i| i as f64 * 0.5).collect());
                                job.scale = Some((0..n).map(|i| 1.0 + i as f64 * 0.01).collect());
                            }
                            4 => job.blank = Some(-1.0),
                            _ => {}
                        }
                        let fast: Outputs<f64> = run(&fr, &job, 2).unwrap();
                        let mut slow_job = job.clone();
                        slow_job.want.mask = true;
                        let slow: Outputs<f64> = run(&fr, &slow_job, 1).unwrap();
                        let what = format!("n={n} ({lo}, {hi}) {method:?} variant {variant}");
                        assert_eq!(bits(&fast.data), bits(&slow.data), "{what}");
                        assert_eq!(fast.nused, slow.nused, "{what}");
                        assert_eq!(fast.output_flags, slow.output_flags, "{what}");
                        if variant == 0 {
                            // Integer input: the f64 extremes pass and no finiteness test.
                            let fu = Frames::new(as_u16.iter().map(|v| v.as_slice()).collect(), None).unwrap();
                            let fast: Outputs<f32> = run(&fu, &job, 2).unwrap();
                            let slow: Outputs<f32> = run(&fu, &slow_job, 1).unwrap();
                            assert_eq!(fast.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), slow.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "u16 {what}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn minmax_stream_exact_sum_shortcut_matches_element_path() {
        // Complete blocks whose pass-1 sum is exact (positive, negative, integer) and ones
        // where it is not (magnitudes too far apart, mixed signs), f32 and u16 input. The
        // outputs are f64 so that a sum rounded differently cannot hide in an f32 result.
        let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let m = 9000;
        for n in [3, 4, 20] {
            let raw = stack(n, m);
            let sets: Vec<Vec<Vec<f32>>> = vec![
                raw.iter().map(|f| f.iter().map(|&x| (x * 0.2).round()).collect()).collect(),
                raw.iter().map(|f| f.iter().map(|&x| -x * 1.37).collect()).collect(),
                raw.iter().enumerate().map(|(i, f)| f.iter().map(|&x| if i == 1 { x * 1e-9 } else { x * 3.3 }).collect()).collect(),
                raw.iter().enumerate().map(|(i, f)| f.iter().enumerate().map(|(p, &x)| if (p + i) % 5 == 0 { -x * 0.71 } else { x * 0.71 }).collect()).collect(),
                raw.iter().map(|f| f.iter().map(|&x| x * 1e-30).collect()).collect(),
            ];
            for (k, data) in sets.iter().enumerate() {
                let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
                for (lo, hi) in [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0)] {
                    let mut job = Job::simple(Method::Mean);
                    job.rejectors = vec![Rejector::MinMax { n_min: lo, n_max: hi }];
                    let fast: Outputs<f64> = run(&fr, &job, 2).unwrap();
                    job.want.mask = true;
                    let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
                    assert_eq!(bits(&fast.data), bits(&slow.data), "n={n} set {k} ({lo}, {hi})");
                }
            }
            let ints: Vec<Vec<u16>> = raw.iter().map(|f| f.iter().map(|&x| (x * 6.5) as u16).collect()).collect();
            let fr = Frames::new(ints.iter().map(|v| v.as_slice()).collect(), None).unwrap();
            let mut job = Job::simple(Method::Sum);
            job.rejectors = vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }];
            let fast: Outputs<f64> = run(&fr, &job, 2).unwrap();
            job.want.mask = true;
            let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
            assert_eq!(fast.data, slow.data, "u16 n={n}");
        }
    }

    #[test]
    fn block_exact_f32_sum_is_every_pixels_test() {
        // Blocks of one sign, mixed signs, zeros, subnormals, magnitudes far apart, and
        // lengths that are not multiples of eight: the block test is the per-pixel fold.
        let mut seed = 12345u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        let picks = [1.0f32, 3.5, 1000.0, 1e-30, 1e-44, 0.0, -0.0, 6.0e3, 2.0e9, 7.0e15, 1.2e-7];
        for case in 0..4000 {
            let len = 1 + (next() % 40) as usize;
            let c = 1 + (next() % 300) as usize;
            let flip = next() % 3; // 0: positive, 1: negative, 2: mixed
            let (mut lo, mut hi) = (vec![0f32; len], vec![0f32; len]);
            for b in 0..len {
                let x = picks[(next() as usize) % picks.len()] * (1.0 + (next() % 1000) as f32 / 997.0);
                let y = x * (1.0 + (next() % 50) as f32);
                let sign = match flip { 0 => 1.0, 1 => -1.0, _ => if next() % 2 == 0 { 1.0 } else { -1.0 } };
                (lo[b], hi[b]) = if sign > 0.0 { (x, y) } else { (-y, -x) };
            }
            let each = lo.iter().zip(&hi).all(|(&l, &h)| exact_f32_sum::<f32>(l, h, c));
            assert_eq!(block_exact_f32_sum::<f32>(&lo, &hi, c), each, "case {case}: {lo:?} {hi:?} c={c}");
            assert!(block_exact_f32_sum::<u16>(&lo, &hi, c));
        }
    }

    #[test]
    fn exact_f32_sum_bound() {
        // 2^-23 * 2^53 = 2^30: the largest c * big that qualifies for small = 1.0.
        assert!(exact_f32_sum::<f32>(1.0, 1.0, 20));
        assert!(exact_f32_sum::<f32>(1.0, (1u64 << 29) as f32 / 2.0, 2));
        assert!(!exact_f32_sum::<f32>(1.0, (1u64 << 30) as f32, 1));
        assert!(exact_f32_sum::<f32>(-8.0, -2.0, 3));
        assert!(!exact_f32_sum::<f32>(-1.0, 1.0, 2));
        assert!(!exact_f32_sum::<f32>(0.0, 1.0, 2));
        assert!(!exact_f32_sum::<f32>(1e-45, 1.0, 2)); // subnormal
        assert!(exact_f32_sum::<u16>(0.0, 65535.0, 65535));
    }
}
