//! Whole-line fast paths without rejection (see `fastline`): the average or sum over
//! the frame-ordered slot-major rows, with the sigma image in the same pass when it is
//! wanted, and the median of the network-sorted rows.

use super::ctx::{Combine, Ctx};
use super::line::LineBuf;
use super::work::Work;

#[inline(always)]
pub(super) fn none_sum<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = c.nimg;
    let w = b.w;
    let doavg = c.combine == Combine::Average;
    // the sigma image (`Ctx::fast_sigma`) of each block while its rows are in L1, with
    // IRAF ic_sigma's 1 / (n - 1) (1 for a single value)
    let sigma = c.fast_sigma.then(|| T::from_f32(if nimg > 1 { 1.0 / (nimg - 1) as f32 } else { 1.0 }));
    if sigma.is_some() {
        b.sig_line.resize(w, T::ZERO);
        b.sig_ready = true;
    }
    let mut x0 = 0;
    while x0 + RS <= w {
        none_sum_block::<T, RS>(b, x0, nimg, doavg, sigma);
        x0 += RS;
    }
    for x in x0..w {
        none_sum_block::<T, 1>(b, x, nimg, doavg, sigma);
    }
    b.n.iter_mut().for_each(|k| *k = nimg);
}

/// Pixels per block of [`none_sum_block`].
const RS: usize = 16;

/// Row `j` of the slot-major line, pixels `x0..x0 + S`.
#[inline(always)]
fn row_block<T: Work, const S: usize>(sm: &[T], w: usize, j: usize, x0: usize) -> &[T; S] {
    sm[j * w + x0..j * w + x0 + S].try_into().unwrap()
}

/// The average (or sum) of `S` pixels from `x0` over the frame-ordered rows, and with
/// `sigma` (its 1 / (n - 1)) their sigma about it: IRAF's order and arithmetic per pixel
/// (`ic_average`, `ic_sigma`: sums left to right over the slots). A constant block
/// length keeps the block's sums in vector registers across the N rows.
#[inline(always)]
fn none_sum_block<T: Work, const S: usize>(b: &mut LineBuf<T>, x0: usize, nimg: usize, doavg: bool, sigma: Option<T>) {
    let w = b.w;
    let sm = &b.sm;
    let mut s = *row_block::<T, S>(sm, w, 0, x0);
    for j in 1..nimg {
        let r = row_block::<T, S>(sm, w, j, x0);
        for k in 0..S {
            s[k] = s[k] + r[k];
        }
    }
    let nf = T::from_usize(nimg);
    let mut a = [T::ZERO; S];
    for k in 0..S {
        a[k] = if doavg { s[k] / nf } else { s[k] };
    }
    b.avg[x0..x0 + S].copy_from_slice(&a);
    if let Some(sigcor) = sigma {
        let r = row_block::<T, S>(sm, w, 0, x0);
        let mut q = [T::ZERO; S];
        for k in 0..S {
            let d = r[k] - a[k];
            q[k] = d * d;
        }
        for j in 1..nimg {
            let r = row_block::<T, S>(sm, w, j, x0);
            for k in 0..S {
                let d = r[k] - a[k];
                q[k] = q[k] + d * d;
            }
        }
        for (o, &q) in b.sig_line[x0..x0 + S].iter_mut().zip(&q) {
            *o = (q * sigcor).sqrt();
        }
    }
}

/// IRAF's median without rejection depends only on the values (its selection picks the
/// k-th smallest), so it is read from the sorted slots.
#[inline(always)]
pub(super) fn none_median<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
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
