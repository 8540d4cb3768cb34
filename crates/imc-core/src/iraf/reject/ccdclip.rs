//! IRAF `ic_accdclip` / `ic_mccdclip`: sigma clipping with the CCD noise model (crreject:
//! high side only), about the mean without the extremes (mclip = no) or the median.

use super::common::{addback_unsorted, clip_ends, mean_clip_line, median_clip, median_clip_line, minmax_mean, reject_unsorted, seq_mean, Kept};
use crate::iraf::ctx::Ctx;
use crate::iraf::line::LineBuf;
use crate::iraf::work::{fmax, Work};

#[inline]
pub(crate) fn ccd_sigma<T: Work>(c: &Ctx, a: T, l: usize) -> T {
    let q = c.noise[l];
    let (rn2, g, sn) = (T::from_f32(q.var0), T::from_f32(q.gain), T::from_f32(q.snoise));
    if c.doscale1 {
        let sc = T::from_f32(c.scales[l]);
        let d1 = fmax(T::ZERO, sc * (a + T::from_f32(c.zeros[l])));
        let q = d1 * sn;
        ((rn2 + d1 / g) + q * q).sqrt() / sc
    } else {
        let s = fmax(T::ZERO, a);
        let q = s * sn;
        ((rn2 + s / g) + q * q).sqrt()
    }
}

pub(super) fn accdclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    if c.nimg < 2.max(c.maxkeep(c.nimg) + 1) {
        return;
    }
    mean_clip_line(b, c, |v, id, resid, _, n1| accdclip_pixel(v, id, resid, n1, c));
}

/// Mean-centred ccdclip / crreject (IRAF `ic_accdclip`) of one pixel's first `n1` slots,
/// in place: the survivors' count and their mean (blank when none are left).
fn accdclip_pixel<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], n1: usize, c: &Ctx) -> Kept<T> {
    let blank = T::from_f32(c.blank);
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    let mut n1 = n1;
    let maxkeep = c.maxkeep(n1);
    if n1 <= 1.max(maxkeep) {
        return Kept { n: n1, value: seq_mean(v, n1, blank) };
    }
    let mut ssum;
    let mut n2;
    loop {
        // IRAF recomputes the min/max-excluded mean in every pass (quirk 7).
        let a;
        if n1 == 2 {
            ssum = v[0] + v[1];
            a = ssum / T::from_f32(2.0);
        } else {
            let r = minmax_mean(v, n1);
            a = r.mean;
            ssum = r.sum;
        }
        n2 = n1;
        n1 = reject_unsorted(v, id, resid, n1, a, (lsig, hsig), &mut ssum, |image| ccd_sigma(c, a, image as usize - 1));
        if n1 == n2 || n1 < 2.max(maxkeep + 1) {
            break;
        }
    }
    if n1 < maxkeep {
        n1 = addback_unsorted(v, id, resid, n1, n2, maxkeep, &mut ssum);
    }
    Kept { n: n1, value: if n1 > 0 { ssum / T::from_usize(n1) } else { blank } }
}

pub(super) fn mccdclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    if c.nimg < 2.max(c.maxkeep(c.nimg) + 1) {
        return;
    }
    median_clip_line(b, c, |v, id, resid, _, n1| mccdclip_pixel(v, id, resid, n1, c));
}

/// Median-centred ccdclip / crreject of one pixel's sorted values `v[..n1]` (IRAF
/// `ic_mccdclip` body): the number kept and the median IRAF reports; compacts the
/// survivors when `c.compact`.
#[inline]
pub(crate) fn mccdclip_pixel<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], n1: usize, c: &Ctx) -> Kept<T> {
    median_clip(v, id, resid, n1, 2, c, #[inline(always)] |v, id, resid, blk, med| {
        let sigma = |j: usize| ccd_sigma(c, med, id[j - 1] as usize - 1).to_f32();
        clip_ends(blk, resid, c.lsig, c.hsig, |j| (med - v[j - 1]).to_f32() / sigma(j), |j| (v[j - 1] - med).to_f32() / sigma(j));
    })
}
