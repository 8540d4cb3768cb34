//! IRAF `ic_aavsigclip` / `ic_mavsigclip`: sigma clipping with one Poisson-scaled sigma
//! per line, about the mean without the extremes (mclip = no) or the median.

use super::common::{addback_sorted_ends, addback_unsorted_traced, block_median, clip_ends, compact_sorted, minmax_mean, poisson_ssq, reject_unsorted, seq_mean, Block, MeanSum};
use crate::iraf::ctx::{Combine, Ctx};
use crate::iraf::line::LineBuf;
use crate::iraf::work::{fmax, Work};

pub(super) fn aavsigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let docombine = c.dowts || c.combine != Combine::Average;
    b.docombine = docombine;
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    let nimg = b.nimg;
    let nin = b.n[0];
    // Line sigma under the Poisson model.
    let mut s = T::ZERO;
    let mut ncount = 0usize;
    for x in 0..b.w {
        let n1 = b.n[x];
        if n1 < 3 {
            continue;
        }
        let s0 = x * nimg;
        let v = &b.v[s0..s0 + nimg];
        let id = &b.id[s0..s0 + nimg];
        let MeanSum { mean: a, sum: ssum } = minmax_mean(v, n1);
        s = poisson_ssq(v, id, n1, a, c, s);
        ncount += n1;
        b.line_a[x] = a;
        b.line_s[x] = ssum;
    }
    if ncount > 1 {
        s = (s / T::from_usize(ncount - 1)).sqrt();
    }
    for x in 0..b.w {
        let mut n1 = b.n[x];
        let maxkeep = c.maxkeep(n1);
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let resid = &mut b.resid;
        if n1 <= 2.max(maxkeep) {
            if !docombine {
                b.avg[x] = seq_mean(v, n1, blank);
            }
            continue;
        }
        let mut a = b.line_a[x];
        let mut ssum = b.line_s[x];
        let mut n2;
        loop {
            n2 = n1;
            if s > T::ZERO {
                let s1c = s * fmax(one, a).sqrt();
                let sigma = |image: u16| {
                    if c.doscale1 {
                        let l = image as usize - 1;
                        s * fmax(one, (a + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l])).sqrt()
                    } else {
                        s1c
                    }
                };
                n1 = reject_unsorted(v, id, resid, n1, a, (lsig, hsig), &mut ssum, sigma);
            }
            if n1 > 1 {
                a = ssum / T::from_usize(n1);
            }
            if n1 == n2 || n1 <= 2.max(maxkeep) {
                break;
            }
        }
        if n1 < maxkeep {
            let back = addback_unsorted_traced(v, id, resid, n1, n2, maxkeep, &mut ssum);
            n1 = back.n1;
            // IRAF reuses the line-sigma variable as scratch in this add-back, so every
            // later pixel of the line is clipped with the clobbered value (quirk 12).
            if let Some(last) = back.last {
                s = match last.swapped_image {
                    Some(image) if c.doscale1 || c.keepids => T::from_usize(image as usize),
                    _ => T::from_f32(last.resid),
                };
            }
            if n1 > 1 {
                a = ssum / T::from_usize(n1);
            }
        }
        b.n[x] = n1;
        if !docombine {
            b.avg[x] = if n1 > 0 { a } else { blank };
        }
    }
    b.finish_flag(nin);
}

pub(super) fn mavsigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let two = T::from_f32(2.0);
    let nimg = b.nimg;
    let nin = b.n[0];
    // on a network-sorted line, record where each pixel's survivors sit in the sorted
    // rows (pixels left alone keep rows 0..n)
    b.first_set = b.sm_sorted;
    if b.first_set {
        b.first.clear();
        b.first.resize(b.w, 0);
    }
    let mut s = T::ZERO;
    let mut ncount = 0usize;
    for x in 0..b.w {
        let n1 = b.n[x];
        let s0 = x * nimg;
        let v = &b.v[s0..s0 + nimg];
        let id = &b.id[s0..s0 + nimg];
        if n1 < 3 {
            b.line_a[x] = match n1 {
                0 => blank,
                1 => v[0],
                _ => (v[0] + v[1]) / two,
            };
            continue;
        }
        let med = block_median(v, 1, n1, blank);
        s = poisson_ssq(v, id, n1, med, c, s);
        ncount += n1;
        b.line_a[x] = med;
    }
    if c.comb_median {
        b.avg.copy_from_slice(&b.line_a);
    }
    if ncount <= 1 {
        // IRAF returns here leaving the combine flag as it was; the median output is set.
        b.docombine = !c.comb_median;
        return;
    }
    let sig = (s / T::from_usize(ncount - 1)).sqrt();
    for x in 0..b.w {
        let n1 = b.n[x];
        let ntot = n1;
        let maxkeep = c.maxkeep(n1);
        if n1 < 3.max(maxkeep + 1) {
            continue;
        }
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let resid = &mut b.resid;
        let mut blk = Block::all(n1);
        let mut med = b.line_a[x];
        let mut n2;
        let sig1 = |med: T, l: usize| -> T {
            sig * fmax(one, (med + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l])).sqrt()
        };
        loop {
            n2 = blk.n1;
            if blk.n1 >= 3.max(maxkeep + 1) && sig > T::ZERO {
                let s1c = sig * fmax(one, med).sqrt();
                let s1 = |j: usize| if c.doscale1 { sig1(med, id[j - 1] as usize - 1) } else { s1c };
                let (lsig, hsig) = (T::from_f32(c.lsig), T::from_f32(c.hsig));
                clip_ends(&mut blk, resid, lsig, hsig, |j| (med - v[j - 1]) / s1(j), |j| (v[j - 1] - med) / s1(j));
                if blk.n1 < n2 {
                    med = block_median(v, blk.nl, blk.n1, blank);
                }
            }
            if blk.n1 == n2 || blk.n1 < 3.max(maxkeep + 1) {
                break;
            }
        }
        // IRAF restores one value at a time here, recomputing the median after each.
        while blk.n1 < maxkeep {
            blk = addback_sorted_ends(resid, blk, blk.n1 + 1, ntot, n2);
            if blk.n1 < n2 {
                med = block_median(v, blk.nl, blk.n1, blank);
            }
        }
        b.n[x] = blk.n1;
        if b.first_set {
            b.first[x] = (blk.nl - 1) as u32;
        }
        if c.compact {
            compact_sorted(v, id, blk.nl, blk.n1, c.grow >= 1.0);
        }
        if c.comb_median {
            b.avg[x] = med;
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}
