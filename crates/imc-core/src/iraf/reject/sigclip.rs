//! IRAF `ic_asigclip` / `ic_msigclip`: sigma clipping with the sample sigma about the
//! mean without the extremes (mclip = no) or the median.

use super::common::{addback_unsorted, clip_ends, mean_clip_line, median_clip, median_clip_line, minmax_mean, reject_unsorted, seq_mean, swap2, Kept, MeanSum};
use crate::iraf::ctx::Ctx;
use crate::iraf::line::LineBuf;
use crate::iraf::work::{fmax, Work};

pub(super) fn asigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    if c.nimg < 3.max(c.maxkeep(c.nimg) + 1) {
        return;
    }
    mean_clip_line(b, c, |v, id, resid, w, n1| asigclip_pixel(v, id, resid, w, n1, c));
}

/// Mean-centred sigclip (IRAF `ic_asigclip`) of one pixel's first `n1` slots, in place.
/// Returns the survivors' count and their mean (blank when none are left). `w`: scratch
/// of N + 2 weights.
pub(crate) fn asigclip_pixel<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], w: &mut [T], n1: usize, c: &Ctx) -> Kept<T> {
    let mut n1 = n1;
    let maxkeep = c.maxkeep(n1);
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    if n1 < 3.max(maxkeep) {
        return Kept { n: n1, value: seq_mean(v, n1, blank) };
    }
    let MeanSum { mean: mut a, sum: mut ssum } = minmax_mean(v, n1);
    let mut n2;
    loop {
        n2 = n1;
        if c.doscale1 {
            let mut s = T::ZERO;
            for j in 1..=n1 {
                let l = id[j - 1] as usize - 1;
                let r = fmax(one, (a + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l])).sqrt();
                let q = (v[j - 1] - a) / r;
                s = s + q * q;
                w[j] = r;
            }
            s = (s / T::from_usize(n1 - 1)).sqrt();
            if s > T::ZERO {
                // IRAF steps the weight pointer every iteration but not back when a
                // slot is re-examined, so after k rejections slot j uses w[j + k].
                let mut j = 1usize;
                let mut wp = 0usize;
                while j <= n1 {
                    wp += 1;
                    let val = v[j - 1];
                    let r = (val - a) / (s * w[wp]);
                    if r < lsig || r > hsig {
                        resid[n1] = r.abs().to_f32();
                        if j < n1 {
                            swap2(v, id, j - 1, n1 - 1);
                            w[wp] = w[n1];
                            j -= 1;
                        }
                        ssum = ssum - val;
                        n1 -= 1;
                    }
                    j += 1;
                }
            }
        } else {
            let mut s = T::ZERO;
            for &val in &v[..n1] {
                let q = val - a;
                s = s + q * q;
            }
            s = (s / T::from_usize(n1 - 1)).sqrt();
            if s > T::ZERO {
                n1 = reject_unsorted(v, id, resid, n1, a, (lsig, hsig), &mut ssum, |_| s);
            }
        }
        if n1 > 1 {
            a = ssum / T::from_usize(n1);
        }
        if n1 == n2 || n1 <= 2.max(maxkeep) {
            break;
        }
    }
    if n1 < maxkeep {
        n1 = addback_unsorted(v, id, resid, n1, n2, maxkeep, &mut ssum);
        if n1 > 1 {
            a = ssum / T::from_usize(n1);
        }
    }
    Kept { n: n1, value: if n1 > 0 { a } else { blank } }
}

pub(super) fn msigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    if c.nimg < 3.max(c.maxkeep(c.nimg) + 1) {
        return;
    }
    median_clip_line(b, c, |v, id, resid, w, n1| msigclip_pixel(v, id, resid, w, n1, c));
}

/// Median-centred sigclip of one pixel's sorted values `v[..n1]` (IRAF `ic_msigclip`
/// body): the number kept and the median IRAF reports; compacts the survivors when
/// `c.compact`. `w`: scratch of N + 2 weights.
#[inline]
pub(crate) fn msigclip_pixel<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], w: &mut [f32], n1: usize, c: &Ctx) -> Kept<T> {
    let one = T::ONE;
    median_clip(v, id, resid, n1, 3, c, #[inline(always)] |v, id, resid, blk, med| {
        let (nl, nh, n1) = (blk.nl, blk.nh, blk.n1);
        // sigma and residuals are float32 variables in IRAF, even on the double path
        if c.doscale1 {
            let mut s = 0.0f32;
            for j in nl..=nh {
                let l = id[j - 1] as usize - 1;
                let r = fmax(one, (med + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l])).sqrt().to_f32();
                let q = (v[j - 1] - med).to_f32() / r;
                s += q * q;
                w[j] = r;
            }
            s = (s / (n1 - 1) as f32).sqrt();
            if s > 0.0 {
                let w = &*w;
                clip_ends(blk, resid, c.lsig, c.hsig, |j| (med - v[j - 1]).to_f32() / (s * w[j]), |j| (v[j - 1] - med).to_f32() / (s * w[j]));
            }
        } else {
            let mut s = 0.0f32;
            for j in nl..=nh {
                let q = (v[j - 1] - med).to_f32();
                s += q * q;
            }
            s = (s / (n1 - 1) as f32).sqrt();
            if s > 0.0 {
                clip_ends(blk, resid, c.lsig, c.hsig, |j| (med - v[j - 1]).to_f32() / s, |j| (v[j - 1] - med).to_f32() / s);
            }
        }
    })
}
