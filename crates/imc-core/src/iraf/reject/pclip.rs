//! IRAF `ic_pclip`: percentile clipping about the median with a rank-offset spread.

use super::common::{addback_crossed, block_median, compact_sorted};
use crate::iraf::ctx::Ctx;
use crate::iraf::line::{DFlag, LineBuf};
use crate::iraf::work::Work;

pub(super) fn pclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let blank = T::from_f32(c.blank);
    let two = T::from_f32(2.0);
    let tsign: f32 = if c.pc < 0.0 { -1.0 } else { 1.0 };
    let pc = c.pc as i64;
    let params = |n1: usize| -> (usize, bool, usize) {
        let n2 = 1 + n1 / 2;
        let even = n1 % 2 == 0;
        let n3 = if pc < 0 {
            if even {
                (n2 as i64 - 1 + pc).max(1) as usize
            } else {
                (n2 as i64 + pc).max(1) as usize
            }
        } else {
            (n2 as i64 + pc).min(n1 as i64).max(1) as usize
        };
        (n2, even, n3)
    };
    let nimg = b.nimg;
    let nin = b.n[0];
    let all = b.dflag == DFlag::All;
    let n1c = b.n[0];
    let maxkeep_c = c.maxkeep(n1c);
    let pc_c = params(n1c);
    for x in 0..b.w {
        let (n1, maxkeep, (n2, even, n3)) = if all {
            (n1c, maxkeep_c, pc_c)
        } else {
            let n1 = b.n[x];
            if n1 == 0 {
                if c.comb_median {
                    b.avg[x] = blank;
                }
                continue;
            }
            (n1, c.maxkeep(n1), params(n1))
        };
        let ntot = b.n[x];
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let resid = &mut b.resid;
        let mut med = if even { (v[n2 - 2] + v[n2 - 1]) / two } else { v[n2 - 1] };
        if n1 < 3.max(maxkeep + 1) {
            if c.comb_median {
                b.avg[x] = med;
            }
            continue;
        }
        let sigma = tsign * (v[n3 - 1] - med).to_f32();
        if sigma == 0.0 {
            if c.comb_median {
                b.avg[x] = med;
            }
            continue;
        }
        let mut nl = 1usize;
        while nl <= n1 {
            let r = (med - v[nl - 1]).to_f32() / sigma;
            if r < c.lsig {
                break;
            }
            resid[nl] = r;
            nl += 1;
        }
        let mut nh = n1;
        while nh >= 1 {
            let r = (v[nh - 1] - med).to_f32() / sigma;
            if r < c.hsig {
                break;
            }
            resid[nh] = r;
            nh -= 1;
        }
        // Everything may be rejected (nh < nl): IRAF's count can go to zero or below.
        let n4 = nh as i64 - nl as i64 + 1;
        let (nl, nh, n4) = if n4 < maxkeep as i64 {
            let k = addback_crossed(resid, nl as i64, nh as i64, n4, maxkeep, ntot, n2);
            (k.nl, k.nh, k.n1)
        } else {
            (nl, nh, n4.max(0) as usize)
        };
        if nl > 1 || nh < n1 {
            med = block_median(v, nl, n4, blank);
            b.n[x] = n4;
        }
        if c.comb_median {
            b.avg[x] = med;
        }
        if nl > 1 && c.compact {
            compact_sorted(v, id, nl, n4, c.grow >= 1.0);
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}
