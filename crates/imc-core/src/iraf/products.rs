//! One line's rejection and exposure masks, from whatever the line's rejection left.
//!
//! Three forms of "which images did pixel x use" reach here:
//! * ids (IRAF's own): the image ids in the pixel's first `n[x]` slots;
//! * value ranges (`LineBuf::ranges`, lazy sorted lines): the images whose frame-ordered
//!   value `fo` lies in `[lo[x], hi[x]]`, except the pixels listed in `exact`, whose
//!   first `n[x]` ids are exact;
//! * ready rows (`LineBuf::rows_ready`, the minmax fast line): `rejline` already holds
//!   the mask, image-major with rows [`REJ_PAD`] apart.
//!
//! The loops over whole rows are written without short-circuit tests so that they compile
//! to vector compares and selects.

use super::ctx::Ctx;
use super::line::LineBuf;
use super::work::Work;

/// Padding between the image rows of the line's rejection-mask scratch (bytes): the
/// images' rows of the output lie a plane apart, often a power of two, and rows of the
/// scratch a multiple of it apart would fight over the same cache sets.
pub const REJ_PAD: usize = 64;

/// Fortran NINT (round half away from zero), as `x.round() as i32` (saturating, NaN to
/// 0) without the libm call, so that the exposure-code loops vectorise. Below 2^23 the
/// truncation and `x - trunc` are exact; from 2^23 on every float is an integer.
#[inline(always)]
pub(super) fn nint(x: f32) -> i32 {
    let t = x as i32;
    if x.abs() < 8_388_608.0 {
        let f = x - t as f32;
        t + (f >= 0.5) as i32 - (f <= -0.5) as i32
    } else {
        t
    }
}

/// Exposure sum of the images pixel `x` uses (slot order, IRAF's float32 sum).
#[inline]
pub fn id_exposure<T: Work>(b: &LineBuf<T>, c: &Ctx, x: usize) -> f32 {
    let mut exp = 0.0f32;
    for &k in &b.id[x * b.nimg..x * b.nimg + b.n[x]] {
        let k = k as usize - 1;
        if c.wts[k] > 0.0 {
            exp += c.exps[k];
        }
    }
    exp
}

/// The exposure of image `k` when used (0 when its weight is not positive: IRAF skips it,
/// and adding +0.0 to a non-negative float32 sum changes no bit).
#[inline]
fn used_exposure(c: &Ctx, k: usize) -> f32 {
    if c.wts[k] > 0.0 {
        c.exps[k]
    } else {
        0.0
    }
}

/// Write this line's rejection mask rows (`rows`, one per image, true = not used) and
/// exposure codes (`exp`). `negative`: some pixel of the line has IRAF's negative n
/// (masktype = novalue); `all_kept`: every pixel kept all its values (and none is
/// negative).
#[inline(always)]
pub fn write_masks<T: Work>(
    b: &mut LineBuf<T>,
    c: &Ctx,
    rows: Option<Vec<&mut [bool]>>,
    exp: Option<&mut [i32]>,
    negative: bool,
    all_kept: bool,
) {
    if b.ranges {
        from_ranges(b, c, rows, exp);
    } else if b.rows_ready {
        from_rows(b, c, rows, exp);
    } else {
        if let Some(rows) = rows {
            rows_from_ids(b, c, rows);
        }
        if let Some(e) = exp {
            exp_from_ids(b, c, e, negative, all_kept);
        }
    }
}

#[inline(always)]
fn from_ranges<T: Work>(b: &mut LineBuf<T>, c: &Ctx, rows: Option<Vec<&mut [bool]>>, exp: Option<&mut [i32]>) {
    let nimg = b.nimg;
    let w = b.w;
    let ws = w + REJ_PAD;
    let mut acc = std::mem::take(&mut b.expacc);
    let want_exp = exp.is_some();
    if want_exp {
        acc.clear();
        acc.resize(w, 0.0);
    }
    // the mask is built in the line scratch and streamed to the output (see REJ_PAD and
    // crate::alloc::stream_copy)
    let mut r = std::mem::take(&mut b.rejline);
    if rows.is_some() {
        r.resize(nimg * ws, false);
    }
    // blocks of pixels, the images inside: each block's bounds and exposure sums stay
    // in registers while its frame-ordered values are compared (the sums keep the
    // image order)
    let want_rows = rows.is_some();
    let mut x0 = 0;
    while x0 + RB <= w {
        // (a constant block length: the block's loops unroll into registers)
        range_block(b, c, &mut r, &mut acc, x0, RB, want_rows, want_exp);
        x0 += RB;
    }
    if x0 < w {
        range_block(b, c, &mut r, &mut acc, x0, w - x0, want_rows, want_exp);
    }
    if let Some(mut rows) = rows {
        // the pixels whose ids are exact (frame ids in their first n slots)
        for &x in &b.exact {
            for k in 0..nimg {
                r[k * ws + x] = true;
            }
            for j in 0..b.n[x] {
                let k = b.id[x * nimg + j] as usize;
                if k > 0 {
                    r[(k - 1) * ws + x] = false;
                }
            }
        }
        for (k, row) in rows.iter_mut().enumerate() {
            crate::alloc::stream_copy(row, &r[k * ws..k * ws + w]);
        }
    }
    b.rejline = r;
    if let Some(e) = exp {
        // Ctx::exp_all is set on these lines: the order of the terms is free
        for (q, &a) in e.iter_mut().zip(&acc) {
            *q = nint((a - c.ezero) / c.escale);
        }
        for &x in &b.exact {
            e[x] = nint((id_exposure(b, c, x) - c.ezero) / c.escale);
        }
    }
    b.expacc = acc;
}

/// Pixels per block of [`range_block`].
const RB: usize = 32;

/// The rejection-mask rows (`r`, into the line scratch) and exposure sums (`acc`) of the
/// `len <= RB` pixels from `x0` of a line of value ranges: a block's bounds and sums stay
/// in registers while each image's frame-ordered values are compared (the sums add the
/// images in order).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn range_block<T: Work>(b: &LineBuf<T>, c: &Ctx, r: &mut [bool], acc: &mut [f32], x0: usize, len: usize, want_rows: bool, want_exp: bool) {
    let w = b.w;
    let ws = w + REJ_PAD;
    let (lo, hi) = (&b.lo[x0..x0 + len], &b.hi[x0..x0 + len]);
    let mut a = [0.0f32; RB];
    let a = &mut a[..len];
    for k in 0..b.nimg {
        let f = &b.fo[k * w + x0..k * w + x0 + len];
        let ek = used_exposure(c, k);
        if want_rows {
            let row = &mut r[k * ws + x0..k * ws + x0 + len];
            for x in 0..len {
                row[x] = !((f[x] >= lo[x]) & (f[x] <= hi[x]));
            }
        }
        if want_exp {
            for x in 0..len {
                let keep = (f[x] >= lo[x]) & (f[x] <= hi[x]);
                a[x] += if keep { ek } else { 0.0 };
            }
        }
    }
    if want_exp {
        acc[x0..x0 + len].copy_from_slice(a);
    }
}

#[inline(always)]
fn from_rows<T: Work>(b: &mut LineBuf<T>, c: &Ctx, rows: Option<Vec<&mut [bool]>>, exp: Option<&mut [i32]>) {
    let nimg = b.nimg;
    let w = b.w;
    let ws = w + REJ_PAD;
    let r = &b.rejline;
    if let Some(mut rows) = rows {
        for (k, row) in rows.iter_mut().enumerate() {
            crate::alloc::stream_copy(row, &r[k * ws..k * ws + w]);
        }
    }
    if let Some(e) = exp {
        let mut acc = std::mem::take(&mut b.expacc);
        acc.clear();
        acc.resize(w, 0.0);
        for k in 0..nimg {
            let ek = used_exposure(c, k);
            for (a, &q) in acc.iter_mut().zip(&r[k * ws..k * ws + w]) {
                *a += if q { 0.0 } else { ek };
            }
        }
        // Ctx::exp_all is set on these lines: the order of the terms is free
        for (q, &a) in e.iter_mut().zip(&acc) {
            *q = nint((a - c.ezero) / c.escale);
        }
        b.expacc = acc;
    }
}

#[inline(always)]
fn rows_from_ids<T: Work>(b: &mut LineBuf<T>, c: &Ctx, mut rows: Vec<&mut [bool]>) {
    let nimg = b.nimg;
    let w = b.w;
    // Built in a line scratch first (see REJ_PAD).
    let ws = w + REJ_PAD;
    let mut r = std::mem::take(&mut b.rejline);
    r.resize(nimg * ws, false);
    // pixels that kept all N values use every image; the others are set from their ids
    for k in 0..nimg {
        for (q, &n) in r[k * ws..k * ws + w].iter_mut().zip(&b.n) {
            *q = n != nimg;
        }
    }
    for x in 0..w {
        if b.n[x] == nimg && !(c.novalue && b.neg[x] > 0) {
            continue;
        }
        for k in 0..nimg {
            r[k * ws + x] = true;
        }
        if c.novalue && b.neg[x] > 0 {
            continue; // IRAF's negative n: no image counts as used
        }
        for j in 0..b.n[x] {
            let k = b.id[x * nimg + j] as usize;
            if k > 0 {
                r[(k - 1) * ws + x] = false;
            }
        }
    }
    for (k, row) in rows.iter_mut().enumerate() {
        crate::alloc::stream_copy(row, &r[k * ws..k * ws + w]);
    }
    b.rejline = r;
}

#[inline(always)]
fn exp_from_ids<T: Work>(b: &LineBuf<T>, c: &Ctx, e: &mut [i32], negative: bool, all_kept: bool) {
    let nimg = b.nimg;
    let code = |exp: f32| nint((exp - c.ezero) / c.escale);
    let all = code(c.exp_all);
    if b.sm_only && !negative {
        // a lazy line: every image used where all N values were kept (the sum does not
        // depend on the slot order there: Ctx::exp_all is only set when the exposures
        // make it so); the other pixels from their ids
        e.fill(all);
        if !all_kept {
            for x in 0..b.w {
                if b.n[x] != nimg {
                    e[x] = code(id_exposure(b, c, x));
                }
            }
        }
        return;
    }
    for x in 0..b.w {
        e[x] = if negative && b.neg[x] > 0 {
            code(0.0)
        } else if b.sm_only && b.n[x] == nimg {
            all
        } else {
            code(id_exposure(b, c, x))
        };
    }
}

/// After a rejection routine ran on a network-sorted line whose ids were the sorted
/// positions (`Ctx::pos_ids`): turn each pixel's kept positions into a value range (see
/// [`super::fastline::slot_range`]), or, where the kept values split a run of equal
/// values, into frame ids: IRAF's quicksort of the frame-ordered values with their ids
/// says which image sits at each position. The routines read no ids here, so their data
/// movement depends on the values alone and is the same as on IRAF's sorted line.
#[inline(always)]
pub fn ranges_from_positions<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = b.nimg;
    let w = b.w;
    let inf = T::from_f32(f32::INFINITY);
    b.ranges = true;
    b.exact.clear();
    b.lo.clear();
    b.lo.resize(w, -inf);
    b.hi.clear();
    b.hi.resize(w, inf);
    let mut ord_v = std::mem::take(&mut b.wbuf_t);
    let mut ord_id = std::mem::take(&mut b.id_scratch);
    if ord_v.len() < nimg {
        ord_v.resize(nimg, T::ZERO);
    }
    if ord_id.len() < nimg {
        ord_id.resize(nimg, 0);
    }
    if !c.compact {
        // without compaction the rejection moves no slot: pixel x keeps its sorted
        // positions 1..n (see `combine::slots_are_sorted_rows`), the values in
        // [sorted(1), sorted(n)] unless sorted(n + 1) equals sorted(n) (then the pixel's
        // ids are found below); no branch per pixel
        let row = |j: usize, x: usize| b.sm[j * w + x];
        b.exact.resize(w, 0);
        let mut ties = 0;
        for x in 0..w {
            let n = b.n[x];
            debug_assert!(b.id[x * nimg..x * nimg + n].iter().enumerate().all(|(j, &q)| q as usize == j + 1));
            let (first, last, next) = (row(0, x), row(n.max(1) - 1, x), row(n.min(nimg - 1), x));
            let (all, none) = (n == nimg, n == 0);
            b.lo[x] = if all { -inf } else if none { inf } else { first };
            b.hi[x] = if all { inf } else if none { -inf } else { last };
            b.exact[ties] = x;
            ties += (!all && !none && next == last) as usize;
        }
        b.exact.truncate(ties);
        for i in 0..ties {
            let x = b.exact[i];
            frame_ids_of_kept(b, x, &mut ord_v, &mut ord_id);
        }
        b.wbuf_t = ord_v;
        b.id_scratch = ord_id;
        return;
    }
    for x in 0..w {
        let n = b.n[x];
        if n == nimg {
            continue;
        }
        if let Some((lo, hi)) = super::fastline::slot_range(b, x, n) {
            (b.lo[x], b.hi[x]) = (lo, hi);
            continue;
        }
        frame_ids_of_kept(b, x, &mut ord_v, &mut ord_id);
        b.exact.push(x);
    }
    b.wbuf_t = ord_v;
    b.id_scratch = ord_id;
}

/// Pixel `x`'s kept sorted positions (its first `n[x]` ids) turned into image ids: IRAF's
/// quicksort of the frame-ordered values with their ids says which image sits at each
/// position. `ord_v`, `ord_id`: scratch of N.
#[inline(always)]
fn frame_ids_of_kept<T: Work>(b: &mut LineBuf<T>, x: usize, ord_v: &mut [T], ord_id: &mut [u16]) {
    let (nimg, w) = (b.nimg, b.w);
    for j in 0..nimg {
        ord_v[j] = b.fo[j * w + x];
        ord_id[j] = (j + 1) as u16;
    }
    super::sort::sort2(&mut ord_v[..nimg], &mut ord_id[..nimg]);
    let s = x * nimg;
    for q in &mut b.id[s..s + b.n[x]] {
        *q = ord_id[*q as usize - 1];
    }
}
