//! Whole-line fast paths on the slot-major layout, one pixel per vector lane.
//!
//! They apply to lines where every pixel has all N values (no mask, threshold or
//! non-finite value in the line), no grow, weights or Poisson correction. When nothing
//! reads the pixel-major slots afterwards (no image ids, no sigma image) the line is
//! never laid out pixel-major except for the pixels handed to a per-pixel routine.
//!
//! * Median-centred clipping (sigclip, ccdclip/crreject with one noise model): most
//!   pixels need exactly one pass that rejects nothing. That pass is evaluated for all
//!   pixels at once, with the same operations in the same order as the per-pixel code
//!   (so the same bits); only pixels where it would reject something go to the per-pixel
//!   IRAF routine, which starts from scratch on that pixel's values.
//! * No rejection (`fastnone`): the average / sum over the frame-ordered slots, or the median of the
//!   network-sorted values, per lane.
//! * Mean-centred sigclip (`mclip = no`) with an average: IRAF's first centre (the mean
//!   without the extremes), spread and the test of the two extremes for all pixels at
//!   once; pixels whose first pass rejects nothing are finished there.
//! * minmax dropping at most one low and one high value, with an average or sum: IRAF's
//!   scans and swaps decide, per pixel, which two slots change; the sum over the kept
//!   slots, in slot order, is then taken for all pixels at once.

use super::ctx::{Combine, Ctx, Fast, MinMaxCounts, Reject};
use super::engine::Want;
use super::line::{DFlag, LineBuf};
use super::sort::sort2;
use super::reject::{asigclip_pixel, ccd_sigma, mccdclip_pixel, msigclip_pixel};
use super::work::{fmax, Work};

use crate::network::LANES as L;

/// The fast path for this run, if any (`c.needids` must already be set), and whether
/// lines may stay slot-major only (`lazy`: nothing reads ids or the sigma image).
///
/// The clipping paths also run when ids or the sigma image are wanted: the gather then
/// lays out the sorted values (and ids) pixel-major as usual and keeps the same sorted
/// values slot-major; survivors stay in their sorted slots, as the per-pixel routine
/// leaves them. Without rejection the median's selection would permute the slots that
/// the sigma image sums over, so those paths run only lazily.
pub fn choose(c: &Ctx, want: Want, algo_ids: bool) -> (Option<Fast>, bool) {
    if c.grow >= 1.0 || c.dowts || c.doscale1 || matches!(c.combine, Combine::Quadrature | Combine::NModel) {
        return (None, false);
    }
    // Lines may stay slot-major when the algorithm reads no ids: the products are then
    // derived per pixel (all images used where nothing was rejected; the other pixels go
    // through the per-pixel routine with their ids, see `Ctx::lazy_ids`). The exceptions
    // need the pixel-major slots of every pixel: the median's selection permutes the slots
    // the sigma image sums over, and minmax rejects in every pixel.
    let lazy = !algo_ids;
    let noise_same = c.noise.iter().all(|q| *q == c.noise[0]);
    let mk = c.maxkeep(c.nimg);
    let f = match c.reject {
        Reject::SigClip if c.mclip && c.nimg >= 3.max(mk + 1) => Some(Fast::MSigClip),
        Reject::CcdClip | Reject::CrReject if c.mclip && noise_same && c.nimg >= 2.max(mk + 1) => {
            Some(Fast::MCcdClip)
        }
        Reject::SigClip if lazy && !c.mclip && c.combine == Combine::Average && c.nimg >= 3.max(mk + 1) => {
            Some(Fast::ASigClip)
        }
        Reject::MinMax if lazy && matches!(c.combine, Combine::Average | Combine::Sum) && minmax_plan(c).is_some() => {
            Some(Fast::MinMax)
        }
        Reject::None if lazy && c.comb_median && !want.sigma => Some(Fast::NoneMedian),
        Reject::None if lazy && !c.comb_median => Some(Fast::NoneSum),
        _ => None,
    };
    (f, lazy && f.is_some())
}

/// Run the fast path `c.fast` on a line held (sorted when [`Fast::sorted`]) in `b.sm`.
/// Sets `b.avg`, `b.n` and the flags; the combine step is done (`b.docombine = false`).
#[inline(always)]
pub fn run<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    debug_assert!(b.dflag == DFlag::All && b.sm.len() == c.nimg * b.w);
    match c.fast {
        Some(Fast::MSigClip) => mclip(b, c, false),
        Some(Fast::MCcdClip) => mclip(b, c, true),
        Some(Fast::NoneSum) => super::fastnone::none_sum(b, c),
        Some(Fast::NoneMedian) => super::fastnone::none_median(b, c),
        Some(Fast::ASigClip) => asigclip(b, c),
        Some(Fast::MinMax) => minmax(b, c),
        None => unreachable!("fastline::run without a fast path"),
    }
    b.docombine = false;
}

/// Sequential sum of `rows(j)[k]` over j, per lane (IRAF's left-to-right order).
#[inline(always)]
fn lane_sums<T: Work>(sm: &[T], w: usize, x0: usize, len: usize, n: usize, out: &mut [T; L]) {
    out[..len].copy_from_slice(&sm[x0..x0 + len]);
    for j in 1..n {
        for (s, &v) in out.iter_mut().zip(&sm[j * w + x0..j * w + x0 + len]) {
            *s = *s + v;
        }
    }
}

/// IRAF `ic_average` of one pixel's first `n1` slots, unweighted (blank when empty).
#[inline]
fn pixel_average<T: Work>(v: &[T], n1: usize, c: &Ctx) -> T {
    if n1 == 0 {
        return T::from_f32(c.blank);
    }
    let mut sum = v[0];
    for &q in &v[1..n1] {
        sum = sum + q;
    }
    if c.combine == Combine::Average {
        sum / T::from_usize(n1)
    } else {
        sum
    }
}

#[inline(always)]
fn mclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx, ccd: bool) {
    let nimg = c.nimg;
    let w = b.w;
    let two = T::from_f32(2.0);
    let denom = (nimg - 1) as f32;
    let half = nimg / 2;
    let even = nimg % 2 == 0;
    let doavg = c.combine == Combine::Average;
    let mut med = [T::ZERO; L];
    let mut ssq = [0.0f32; L];
    let mut sum = [T::ZERO; L];
    let mut simple = [false; L];
    if c.lazy_ids {
        // every image used unless the pixel's clip says otherwise
        b.ranges = true;
        b.exact.clear();
        b.lo.clear();
        b.lo.resize(w, T::from_f32(f32::NEG_INFINITY));
        b.hi.clear();
        b.hi.resize(w, T::from_f32(f32::INFINITY));
    }
    let mut x0 = 0;
    while x0 < w {
        let len = L.min(w - x0);
        let sm = &b.sm;
        let row = |j: usize| &sm[j * w + x0..j * w + x0 + len];
        // IRAF's block median of all N sorted values
        if even {
            for ((m, &a), &bb) in med.iter_mut().zip(row(half - 1)).zip(row(half)) {
                *m = (a + bb) / two;
            }
        } else {
            med[..len].copy_from_slice(row(half));
        }
        if ccd {
            // one noise model: the same sigma for every value of the pixel
            let q = c.noise[0];
            let (rn2, g, sn) = (T::from_f32(q.var0), T::from_f32(q.gain), T::from_f32(q.snoise));
            for k in 0..len {
                let q = fmax(T::ZERO, med[k]);
                let p = q * sn;
                let s = ((rn2 + q / g) + p * p).sqrt().to_f32();
                debug_assert_eq!(s, ccd_sigma(c, med[k], 0).to_f32());
                let rlo = (med[k] - row(0)[k]).to_f32() / s;
                let rhi = (row(nimg - 1)[k] - med[k]).to_f32() / s;
                simple[k] = rlo <= c.lsig && rhi <= c.hsig;
            }
        } else {
            // sum of squared deviations, slots in order (float32 as IRAF)
            ssq.iter_mut().for_each(|s| *s = 0.0);
            for j in 0..nimg {
                for ((s, &v), &m) in ssq.iter_mut().zip(row(j)).zip(med.iter()) {
                    let q = (v - m).to_f32();
                    *s += q * q;
                }
            }
            // the pass rejects nothing iff sigma is not > 0 or both extremes are within the
            // limits (NaN residuals reject, as in the per-pixel loop)
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            for k in 0..len {
                let s = (ssq[k] / denom).sqrt();
                let rlo = (med[k] - row(0)[k]).to_f32() / s;
                let rhi = (row(nimg - 1)[k] - med[k]).to_f32() / s;
                simple[k] = !(s > 0.0) || (rlo <= c.lsig && rhi <= c.hsig);
            }
        }
        if !c.comb_median {
            lane_sums(sm, w, x0, len, nimg, &mut sum);
        }
        for k in 0..len {
            let x = x0 + k;
            if simple[k] {
                b.n[x] = nimg;
                b.avg[x] = if c.comb_median {
                    med[k]
                } else if doavg {
                    sum[k] / T::from_usize(nimg)
                } else {
                    sum[k]
                };
                continue;
            }
            let s0 = x * nimg;
            for j in 0..nimg {
                b.v[s0 + j] = b.sm[j * w + x];
            }
            if c.lazy_ids {
                // slot numbers as ids: the survivors' slots then give their value range
                // (see `slot_range`)
                for j in 0..nimg {
                    b.id[s0 + j] = (j + 1) as u16;
                }
            }
            let clip = |b: &mut LineBuf<T>| {
                let v = &mut b.v[s0..s0 + nimg];
                let id = &mut b.id[s0..s0 + nimg];
                if ccd {
                    mccdclip_pixel(v, id, &mut b.resid, nimg, c)
                } else {
                    msigclip_pixel(v, id, &mut b.resid, &mut b.wbuf, nimg, c)
                }
            };
            let mut kept = clip(b);
            if c.lazy_ids {
                if let Some((lo, hi)) = slot_range(b, x, kept.n) {
                    (b.lo[x], b.hi[x]) = (lo, hi);
                } else {
                    // the survivors split a run of equal values: which images those are
                    // depends on IRAF's sort, so sort the frame-ordered values with their ids
                    for j in 0..nimg {
                        b.v[s0 + j] = b.fo[j * w + x];
                        b.id[s0 + j] = (j + 1) as u16;
                    }
                    sort2(&mut b.v[s0..s0 + nimg], &mut b.id[s0..s0 + nimg]);
                    kept = clip(b);
                    b.exact.push(x);
                }
            }
            b.n[x] = kept.n;
            let v = &b.v[s0..s0 + nimg];
            b.avg[x] = if c.comb_median { kept.value } else { pixel_average(v, kept.n, c) };
        }
        x0 += len;
    }
    b.finish_flag(nimg);
}

/// Pixel `x` of a lazy line clipped with slot numbers (1-based positions in the sorted
/// column `b.sm`) as ids, `n` values kept: when the survivors are a run of slots
/// [lo, hi] with no equal value just outside it, they are exactly the images whose values
/// lie in [sorted(lo), sorted(hi)], whatever order IRAF's sort gave equal values: that
/// range (empty when nothing is kept). None otherwise.
#[inline(always)]
pub(super) fn slot_range<T: Work>(b: &LineBuf<T>, x: usize, n: usize) -> Option<(T, T)> {
    let nimg = b.nimg;
    let w = b.w;
    if n == 0 {
        return Some((T::from_f32(f32::INFINITY), T::from_f32(f32::NEG_INFINITY)));
    }
    if n == nimg {
        return Some((T::from_f32(f32::NEG_INFINITY), T::from_f32(f32::INFINITY)));
    }
    // (a plain fold, which vectorises)
    let (mut lo, mut hi) = (u16::MAX, 0u16);
    for &q in &b.id[x * nimg..x * nimg + n] {
        lo = lo.min(q);
        hi = hi.max(q);
    }
    let (lo, hi) = (lo as usize, hi as usize);
    let col = |r: usize| b.sm[(r - 1) * w + x];
    if hi - lo + 1 != n || (lo > 1 && col(lo - 1) == col(lo)) || (hi < nimg && col(hi + 1) == col(hi)) {
        return None;
    }
    Some((col(lo), col(hi)))
}

/// Mean-centred sigclip with an average on a complete, frame-ordered line. For each pixel
/// IRAF first takes the mean without the lowest and highest value (`minmax_mean`, scan
/// order), the spread about it, and rejects the values whose residual leaves
/// [-lsigma, hsigma]. Residuals grow with the value, so the pass rejects nothing exactly
/// when the two extremes stay inside (or the spread is not > 0); the result is then the
/// sum of all values (IRAF's order: the scan sum plus low plus high) over N.
#[inline(always)]
fn asigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = c.nimg;
    let w = b.w;
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    let (nm2, nm1, nn) = (T::from_usize(nimg - 2), T::from_usize(nimg - 1), T::from_usize(nimg));
    let mut low = [T::ZERO; L];
    let mut high = [T::ZERO; L];
    let mut sum = [T::ZERO; L];
    let mut mean = [T::ZERO; L];
    let mut ssq = [T::ZERO; L];
    let mut x0 = 0;
    while x0 < w {
        let len = L.min(w - x0);
        let sm = &b.sm;
        let row = |j: usize| &sm[j * w + x0..j * w + x0 + len];
        // minmax_mean: low/high start from the first two values, then one scan
        for k in 0..len {
            let (a, bb) = (row(0)[k], row(1)[k]);
            (low[k], high[k]) = if a > bb { (bb, a) } else { (a, bb) };
            sum[k] = T::ZERO;
        }
        for j in 2..nimg {
            for (k, &x) in row(j).iter().enumerate() {
                let lt = x < low[k];
                let gt = !lt && x > high[k];
                sum[k] = sum[k] + if lt { low[k] } else if gt { high[k] } else { x };
                low[k] = if lt { x } else { low[k] };
                high[k] = if gt { x } else { high[k] };
            }
        }
        for k in 0..len {
            mean[k] = sum[k] / nm2;
            ssq[k] = T::ZERO;
        }
        for j in 0..nimg {
            for (k, &x) in row(j).iter().enumerate() {
                let q = x - mean[k];
                ssq[k] = ssq[k] + q * q;
            }
        }
        for k in 0..len {
            let x = x0 + k;
            let s = (ssq[k] / nm1).sqrt();
            let inside = (low[k] - mean[k]) / s >= lsig && (high[k] - mean[k]) / s <= hsig;
            if !(s > T::ZERO) || inside {
                b.n[x] = nimg;
                b.avg[x] = ((sum[k] + low[k]) + high[k]) / nn;
                continue;
            }
            let s0 = x * nimg;
            for j in 0..nimg {
                b.v[s0 + j] = b.sm[j * w + x];
                // frame order (an earlier line's clip may have left them permuted)
                b.id[s0 + j] = (j + 1) as u16;
            }
            let kept = asigclip_pixel(&mut b.v[s0..s0 + nimg], &mut b.id[s0..s0 + nimg], &mut b.resid, &mut b.wbuf_t, nimg, c);
            b.n[x] = kept.n;
            b.avg[x] = kept.value;
            if kept.n == nimg {
                // every rejected value was added back, but IRAF's swaps left the slots
                // permuted: the sigma image (which reads `sm` for pixels that kept all N)
                // sums them in that order
                for j in 0..nimg {
                    b.sm[j * w + x] = b.v[s0 + j];
                }
            }
        }
        x0 += len;
    }
    b.finish_flag(nimg);
}

/// (pairs, low, high) dropped by IRAF minmax from N values when the fast path applies:
/// at most one pair, or one low or one high value, and at least one value left.
fn minmax_plan(c: &Ctx) -> Option<MinMaxCounts> {
    let n = c.nimg;
    let k = c.minmax_counts(n);
    let ok = k.pairs + k.low + k.high == 1 && n > 2 * k.pairs + k.low + k.high;
    ok.then_some(k)
}

/// The slots (1-based) IRAF's swaps rewrite in one pixel, in order (the latest wins),
/// each with the slot of the frame-ordered line its value came from (on these complete,
/// frame-ordered lines that is the image id).
struct Writes {
    w: [(usize, usize); 4],
    n: usize,
}

impl Writes {
    fn new() -> Self {
        Writes { w: [(0, 0); 4], n: 0 }
    }
    fn put(&mut self, j: usize, src: usize) {
        self.w[self.n] = (j, src);
        self.n += 1;
    }
    /// Where slot `j`'s value now comes from: its latest write, else itself.
    fn src(&self, j: usize) -> usize {
        self.w[..self.n].iter().rev().find(|w| w.0 == j).map_or(j, |w| w.1)
    }
}

/// minmax with an average or sum on a complete, frame-ordered line (see [`minmax_plan`]).
/// Per pixel, IRAF's scan finds the extreme slots and its swaps rewrite at most four
/// slots; the writes below mirror `reject::minmax` step by step. The kept slots are then
/// the first n1 with at most two of them rewritten, summed in slot order for all pixels
/// (and, when asked, the sigma image about that average, in the same order). The dropped
/// slots name the images not used: with `c.fast_masks` they are marked in `b.rejline`.
#[inline(always)]
fn minmax<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let Some(MinMaxCounts { pairs: np, low: nlo, .. }) = minmax_plan(c) else {
        unreachable!("Fast::MinMax is only chosen with a plan")
    };
    let (scan_max, scan_min) = (np == 1 || nlo == 0, np == 1 || nlo == 1);
    let nimg = c.nimg;
    let n1 = nimg - if np == 1 { 2 } else { 1 };
    let w = b.w;
    let doavg = c.combine == Combine::Average;
    let mut dmax = [T::ZERO; L];
    let mut dmin = [T::ZERO; L];
    let mut jmax = [1usize; L];
    let mut jmin = [1usize; L];
    // Up to two kept slots (1-based; 0 = none) with their new values.
    let mut p1 = [0usize; L];
    let mut p2 = [0usize; L];
    let mut r1 = [T::ZERO; L];
    let mut r2 = [T::ZERO; L];
    // The images dropped (1-based; 0 = none).
    let mut d1 = [0usize; L];
    let mut d2 = [0usize; L];
    let mut sum = [T::ZERO; L];
    let mut ssq = [T::ZERO; L];
    let ws = w + super::products::REJ_PAD;
    if c.fast_masks {
        b.rejline.clear();
        b.rejline.resize(nimg * ws, false);
        b.rows_ready = true;
    }
    if c.fast_sigma {
        b.sig_line.resize(w, T::ZERO);
        b.sig_ready = true;
    }
    let sigcor = T::from_f32(if n1 > 1 { 1.0 / (n1 - 1) as f32 } else { 1.0 });
    let mut kept_blk = vec![T::ZERO; n1 * L];
    let mut x0 = 0;
    while x0 < w {
        let len = L.min(w - x0);
        let sm = &b.sm;
        let row = |j: usize| &sm[j * w + x0..j * w + x0 + len];
        for k in 0..len {
            (dmax[k], dmin[k], jmax[k], jmin[k]) = (row(0)[k], row(0)[k], 1, 1);
        }
        // IRAF's scans: the pair scan tests the minimum only when the value is not a new
        // maximum; the single scans test one side.
        for j in 2..=nimg {
            for (k, &x) in row(j - 1).iter().enumerate() {
                let gt = scan_max && x > dmax[k];
                let lt = scan_min && !gt && x < dmin[k];
                dmax[k] = if gt { x } else { dmax[k] };
                jmax[k] = if gt { j } else { jmax[k] };
                dmin[k] = if lt { x } else { dmin[k] };
                jmin[k] = if lt { j } else { jmin[k] };
            }
        }
        for k in 0..len {
            let orig = |j: usize| row(j - 1)[k];
            let mut wr = Writes::new();
            let n = nimg;
            if np == 1 {
                let (jx, jn) = (jmax[k], jmin[k]);
                // IRAF reads the last two slots before its swaps
                let (a2, a1) = (n - 1, n);
                let jj = n - 1;
                if jx < jj {
                    let vmax = wr.src(jx);
                    if jn != jj {
                        wr.put(jj, vmax);
                        wr.put(jx, a2);
                    } else {
                        wr.put(n, vmax);
                        wr.put(jx, a1);
                    }
                }
                if jn < jj {
                    let cv = wr.src(jn);
                    if jx != n {
                        wr.put(jn, a1);
                        wr.put(n, cv);
                    } else {
                        wr.put(jn, a2);
                        wr.put(jj, cv);
                    }
                }
                (d1[k], d2[k]) = (wr.src(n - 1), wr.src(n));
            } else {
                // one low (or one high) value: swapped with the last slot
                let j = if nlo == 1 { jmin[k] } else { jmax[k] };
                if j < n {
                    wr.put(j, n);
                    wr.put(n, j);
                }
                (d1[k], d2[k]) = (wr.src(n), 0);
            }
            // the rewritten slots among the kept ones 1..=n1, latest value of each
            (p1[k], p2[k]) = (0, 0);
            for i in 0..wr.n {
                let j = wr.w[i].0;
                if j > n1 || j == p1[k] || j == p2[k] {
                    continue;
                }
                let v = orig(wr.src(j));
                if p1[k] == 0 {
                    (p1[k], r1[k]) = (j, v);
                } else {
                    (p2[k], r2[k]) = (j, v);
                }
            }
        }
        // the kept slots of every lane after the swaps, slot-major in a block scratch
        // (plain lane loops below)
        let kept = &mut kept_blk[..n1 * L];
        for j in 1..=n1 {
            kept[(j - 1) * L..(j - 1) * L + len].copy_from_slice(row(j - 1));
        }
        for k in 0..len {
            if p1[k] > 0 {
                kept[(p1[k] - 1) * L + k] = r1[k];
            }
            if p2[k] > 0 {
                kept[(p2[k] - 1) * L + k] = r2[k];
            }
        }
        // sum of the kept slots in order (IRAF ic_average: sum = v[1]; sum += v[j])
        sum[..len].copy_from_slice(&kept[..len]);
        for j in 2..=n1 {
            for (s, &x) in sum[..len].iter_mut().zip(&kept[(j - 1) * L..(j - 1) * L + len]) {
                *s = *s + x;
            }
        }
        for k in 0..len {
            b.n[x0 + k] = n1;
            b.avg[x0 + k] = if doavg { sum[k] / T::from_usize(n1) } else { sum[k] };
        }
        if c.fast_sigma {
            // IRAF ic_sigma about the output, kept slots in order (no weights here)
            let avg = &b.avg[x0..x0 + len];
            for ((q, &x), &a) in ssq[..len].iter_mut().zip(&kept[..len]).zip(avg) {
                let d = x - a;
                *q = d * d;
            }
            for j in 2..=n1 {
                for ((q, &x), &a) in ssq[..len].iter_mut().zip(&kept[(j - 1) * L..(j - 1) * L + len]).zip(avg) {
                    let d = x - a;
                    *q = *q + d * d;
                }
            }
            for (o, &q) in b.sig_line[x0..x0 + len].iter_mut().zip(&ssq) {
                *o = (q * sigcor).sqrt();
            }
        }
        if c.fast_masks {
            for k in 0..len {
                b.rejline[(d1[k] - 1) * ws + x0 + k] = true;
                if d2[k] > 0 {
                    b.rejline[(d2[k] - 1) * ws + x0 + k] = true;
                }
            }
        }
        x0 += len;
    }
    b.finish_flag(nimg);
}
