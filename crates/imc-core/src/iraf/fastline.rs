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
//! * No rejection: the average / sum over the frame-ordered slots, or the median of the
//!   network-sorted values, per lane.

use super::line::{Combine, Ctx, DFlag, LineBuf, Reject};
use super::reject::{ccd_sigma, mccdclip_pixel, msigclip_pixel};
use super::work::{fmax, Work};

/// Lanes per block (the per-block scratch stays in L1).
const L: usize = 64;

/// Which fast path a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    /// Median-centred sigclip.
    MSigClip,
    /// Median-centred ccdclip / crreject, one noise model for every image.
    MCcdClip,
    /// No rejection, average or sum.
    NoneSum,
    /// No rejection, median or lmedian.
    NoneMedian,
}

impl Fast {
    /// Whether the line must be sorted (with the network) first.
    pub fn sorted(self) -> bool {
        self != Fast::NoneSum
    }
}

/// The fast path for this run, if any (`c.needids` must already be set), and whether
/// lines may stay slot-major only (`lazy`: nothing reads ids or the sigma image).
///
/// The clipping paths also run when ids or the sigma image are wanted: the gather then
/// lays out the sorted values (and ids) pixel-major as usual and keeps the same sorted
/// values slot-major; survivors stay in their sorted slots, as the per-pixel routine
/// leaves them. Without rejection the median's selection would permute the slots that
/// the sigma image sums over, so those paths run only lazily.
pub fn choose(c: &Ctx, want_sigma: bool) -> (Option<Fast>, bool) {
    let lazy = !c.needids && !want_sigma;
    if c.grow >= 1.0 || c.dowts || c.doscale1 {
        return (None, false);
    }
    let noise_same = c.noise.iter().all(|q| *q == c.noise[0]);
    let mk = c.maxkeep(c.nimg);
    let f = match c.reject {
        Reject::SigClip if c.mclip && c.nimg >= 3.max(mk + 1) => Some(Fast::MSigClip),
        Reject::CcdClip | Reject::CrReject if c.mclip && noise_same && c.nimg >= 2.max(mk + 1) => {
            Some(Fast::MCcdClip)
        }
        Reject::None if lazy && c.comb_median => Some(Fast::NoneMedian),
        Reject::None if lazy => Some(Fast::NoneSum),
        _ => None,
    };
    (f, lazy && f.is_some())
}

/// Run the fast path `c.fast` on a line held (sorted when [`Fast::sorted`]) in `b.sm`.
/// Sets `b.avg`, `b.n` and the flags; the combine step is done (`b.docombine = false`).
pub fn run<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    debug_assert!(b.dflag == DFlag::All && b.sm.len() == c.nimg * b.w);
    match c.fast {
        Some(Fast::MSigClip) => mclip(b, c, false),
        Some(Fast::MCcdClip) => mclip(b, c, true),
        Some(Fast::NoneSum) => none_sum(b, c),
        Some(Fast::NoneMedian) => none_median(b, c),
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
            let (rn2, g, sn) = c.noise[0];
            let (rn2, g, sn) = (T::from_f32(rn2), T::from_f32(g), T::from_f32(sn));
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
            let v = &mut b.v[s0..s0 + nimg];
            let id = &mut b.id[s0..s0 + nimg];
            let (n1, m) = if ccd {
                mccdclip_pixel(v, id, &mut b.resid, nimg, c)
            } else {
                msigclip_pixel(v, id, &mut b.resid, &mut b.wbuf, nimg, c)
            };
            b.n[x] = n1;
            b.avg[x] = if c.comb_median { m } else { pixel_average(v, n1, c) };
        }
        x0 += len;
    }
    b.finish_flag(nimg);
}

fn none_sum<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = c.nimg;
    let w = b.w;
    let doavg = c.combine == Combine::Average;
    let nf = T::from_usize(nimg);
    let mut sum = [T::ZERO; L];
    let mut x0 = 0;
    while x0 < w {
        let len = L.min(w - x0);
        lane_sums(&b.sm, w, x0, len, nimg, &mut sum);
        for (a, &s) in b.avg[x0..x0 + len].iter_mut().zip(&sum) {
            *a = if doavg { s / nf } else { s };
        }
        x0 += len;
    }
    b.n.iter_mut().for_each(|k| *k = nimg);
}

/// IRAF's median without rejection depends only on the values (its selection picks the
/// k-th smallest), so it is read from the sorted slots.
fn none_median<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = c.nimg;
    let w = b.w;
    let two = T::from_f32(2.0);
    let sm = &b.sm;
    let row = |j: usize| &sm[j * w..(j + 1) * w];
    if nimg == 1 || (nimg == 2 && c.lmedian) {
        b.avg.copy_from_slice(row(0));
    } else if nimg % 2 == 0 {
        for ((a, &lo), &hi) in b.avg.iter_mut().zip(row(nimg / 2 - 1)).zip(row(nimg / 2)) {
            *a = (lo + hi) / two;
        }
    } else {
        b.avg.copy_from_slice(row(nimg / 2));
    }
    b.n.iter_mut().for_each(|k| *k = nimg);
}
