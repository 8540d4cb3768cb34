//! IRAF `ic_mm`: drop the `nlow` lowest and `nhigh` highest values (pairs first).

use super::common::swap2;
use crate::iraf::ctx::Ctx;
use crate::iraf::line::{DFlag, LineBuf};
use crate::iraf::work::Work;

pub(super) fn minmax<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let all = b.dflag == DFlag::All;
    let fixed = c.minmax_counts(b.n[0]);
    let mut tot = 0usize;
    for x in 0..b.w {
        let mut n1 = b.n[x];
        let k = if all { fixed } else { c.minmax_counts(n1) };
        let (nlo, nhi, np) = (k.low, k.high, k.pairs);
        let (v, id) = b.pix(x);
        for _ in 0..np {
            let (mut jmax, mut jmin) = (1usize, 1usize);
            let (mut dmax, mut dmin) = (v[0], v[0]);
            for j in 2..=n1 {
                let x = v[j - 1];
                if x > dmax {
                    dmax = x;
                    jmax = j;
                } else if x < dmin {
                    dmin = x;
                    jmin = j;
                }
            }
            let (a2, i2) = (v[n1 - 2], id[n1 - 2]);
            let (a1, i1) = (v[n1 - 1], id[n1 - 1]);
            let jj = n1 - 1;
            if jmax < jj {
                if jmin != jj {
                    // slot jmax <- last2, slot jj <- old max
                    v[jj - 1] = v[jmax - 1];
                    id[jj - 1] = id[jmax - 1];
                    v[jmax - 1] = a2;
                    id[jmax - 1] = i2;
                } else {
                    v[n1 - 1] = v[jmax - 1];
                    id[n1 - 1] = id[jmax - 1];
                    v[jmax - 1] = a1;
                    id[jmax - 1] = i1;
                }
            }
            if jmin < jj {
                if jmax != n1 {
                    let (cv, ci) = (v[jmin - 1], id[jmin - 1]);
                    v[jmin - 1] = a1;
                    id[jmin - 1] = i1;
                    v[n1 - 1] = cv;
                    id[n1 - 1] = ci;
                } else {
                    let (cv, ci) = (v[jmin - 1], id[jmin - 1]);
                    v[jmin - 1] = a2;
                    id[jmin - 1] = i2;
                    v[jj - 1] = cv;
                    id[jj - 1] = ci;
                }
            }
            n1 -= 2;
        }
        for _ in 0..nlo {
            let mut jmin = 1usize;
            let mut dmin = v[0];
            for j in 2..=n1 {
                if v[j - 1] < dmin {
                    dmin = v[j - 1];
                    jmin = j;
                }
            }
            if jmin < n1 {
                swap2(v, id, jmin - 1, n1 - 1);
            }
            n1 -= 1;
        }
        for _ in 0..nhi {
            let mut jmax = 1usize;
            let mut dmax = v[0];
            for j in 2..=n1 {
                if v[j - 1] > dmax {
                    dmax = v[j - 1];
                    jmax = j;
                }
            }
            if jmax < n1 {
                swap2(v, id, jmax - 1, n1 - 1);
            }
            n1 -= 1;
        }
        b.n[x] = n1;
        tot += np + nlo + nhi;
    }
    if b.dflag == DFlag::All && tot > 0 {
        b.dflag = DFlag::Mix;
    }
}
