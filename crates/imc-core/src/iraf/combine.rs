//! Combining a line (icaverage, icmedian) and the sigma image (icsigma).

use super::ctx::{Combine, Ctx};
use super::line::{DFlag, LineBuf};
use super::work::Work;

/// Average or sum of slots 1..n (IRAF `ic_average`). `doblank = false` leaves pixels
/// without values untouched (IRAF's grow pass).
pub fn average<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool) {
    let doavg = c.combine == Combine::Average;
    let blank = T::from_f32(c.blank);
    let nimg = b.nimg;
    match b.dflag {
        DFlag::None => {
            if doblank {
                b.avg.iter_mut().for_each(|a| *a = blank);
            }
        }
        DFlag::All => {
            for x in 0..b.w {
                let n1 = b.n[x];
                let v = &b.v[x * nimg..x * nimg + n1];
                let id = &b.id[x * nimg..x * nimg + n1];
                if c.dowts && doavg {
                    // weights sum to one on lines without exclusions: no division
                    let mut sum = v[0] * T::from_f32(c.wts[id[0] as usize - 1]);
                    for j in 1..n1 {
                        sum = sum + v[j] * T::from_f32(c.wts[id[j] as usize - 1]);
                    }
                    b.avg[x] = sum;
                } else {
                    let mut sum = v[0];
                    for &q in &v[1..n1] {
                        sum = sum + q;
                    }
                    b.avg[x] = if doavg { sum / T::from_usize(n1) } else { sum };
                }
            }
        }
        DFlag::Mix => {
            for x in 0..b.w {
                let n1 = b.n[x];
                if n1 == 0 {
                    if doblank {
                        b.avg[x] = blank;
                    }
                    continue;
                }
                let v = &b.v[x * nimg..x * nimg + n1];
                let id = &b.id[x * nimg..x * nimg + n1];
                if c.dowts && doavg {
                    let mut wt = c.wts[id[0] as usize - 1];
                    let mut sum = v[0] * T::from_f32(wt);
                    let mut sumwt = wt;
                    for j in 1..n1 {
                        wt = c.wts[id[j] as usize - 1];
                        sum = sum + v[j] * T::from_f32(wt);
                        sumwt += wt;
                    }
                    if sumwt > 0.0 {
                        b.avg[x] = sum / T::from_f32(sumwt);
                    } else {
                        let mut sum = v[0];
                        for &q in &v[1..n1] {
                            sum = sum + q;
                        }
                        b.avg[x] = sum / T::from_usize(n1);
                    }
                } else {
                    let mut sum = v[0];
                    for &q in &v[1..n1] {
                        sum = sum + q;
                    }
                    b.avg[x] = if doavg { sum / T::from_usize(n1) } else { sum };
                }
            }
        }
    }
}

/// IRAF's in-place Wirth selection of the `j`-th smallest (1-based) of `d`.
fn wirth<T: Work>(d: &mut [T], j: usize) -> T {
    let (mut lo, mut up) = (1usize, d.len());
    while lo < up {
        let temp = d[j - 1];
        let (mut lo1, mut up1) = (lo, up);
        loop {
            while d[lo1 - 1] < temp {
                lo1 += 1;
            }
            while temp < d[up1 - 1] {
                up1 -= 1;
            }
            if lo1 <= up1 {
                d.swap(lo1 - 1, up1 - 1);
                lo1 += 1;
                up1 -= 1;
            }
            if lo1 > up1 {
                break;
            }
        }
        if up1 < j {
            lo = lo1;
        }
        if j < lo1 {
            up = up1;
        }
    }
    d[j - 1]
}

/// Median of slots 1..n (IRAF `ic_median`). `sorted`: the data were sorted at gather time
/// (mclip), so the middle slots are read directly.
pub fn median<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool, sorted: bool) {
    let blank = T::from_f32(c.blank);
    let two = T::from_f32(2.0);
    let nimg = b.nimg;
    if b.dflag == DFlag::None {
        if doblank {
            b.avg.iter_mut().for_each(|a| *a = blank);
        }
        return;
    }
    let medavg = !c.lmedian;
    for x in 0..b.w {
        let n1 = b.n[x];
        let d = &mut b.v[x * nimg..x * nimg + n1];
        // novalue pixels combining their bad values: those are in frame order
        if sorted && !(c.novalue && b.neg[x] > 0) {
            if n1 == 0 {
                if doblank {
                    b.avg[x] = blank;
                }
                continue;
            }
            let j1 = n1 / 2 + 1;
            // lmedian only changes the even case when more than two remain; with two
            // sorted values IRAF then reads slot 2 (the larger one).
            if n1 % 2 == 0 && (medavg || n1 > 2) {
                b.avg[x] = (d[j1 - 1] + d[n1 / 2 - 1]) / two;
            } else {
                b.avg[x] = d[j1 - 1];
            }
            continue;
        }
        if n1 > 3 {
            let j = ((n1 + 1) / 2).clamp(1, n1);
            let mut m = wirth(d, j);
            if n1 % 2 == 0 && (medavg || n1 > 2) {
                let j2 = (((n1 + 1) / 2).min(n1) + 1).max(1);
                let m2 = wirth(d, j2);
                m = (m + m2) / two;
            }
            b.avg[x] = m;
        } else if n1 == 3 {
            let (v1, v2, v3) = (d[0], d[1], d[2]);
            b.avg[x] = if v1 < v2 {
                if v2 < v3 {
                    v2
                } else if v1 < v3 {
                    v3
                } else {
                    v1
                }
            } else if v2 > v3 {
                v2
            } else if v1 > v3 {
                v3
            } else {
                v1
            };
        } else if n1 == 2 {
            b.avg[x] = if medavg {
                (d[0] + d[1]) / two
            } else if d[1] < d[0] {
                d[1]
            } else {
                d[0]
            };
        } else if n1 == 1 {
            b.avg[x] = d[0];
        } else if doblank {
            b.avg[x] = blank;
        }
    }
}

/// Sigma of slots 1..n about the output value (IRAF `ic_sigma`).
#[inline(always)]
pub fn sigma<T: Work>(b: &LineBuf<T>, c: &Ctx, out: &mut [T]) {
    let nimg = b.nimg;
    let w = b.w;
    let dowts = c.dowts && c.combine != Combine::Median && c.combine != Combine::LMedian;
    // a lazy fast line (slot-major only): blocks of pixels are summed a row of `sm` at a
    // time as if they kept every value (the others are redone), in the same order and
    // arithmetic as `sigma_pixel`
    const L: usize = 64;
    const _: () = assert!(L % RS == 0);
    if !dowts && slots_are_sorted_rows(b, c) {
        sigma_sorted_rows(b, c, out);
        return;
    }
    if !dowts && c.compact && b.first_set && !c.novalue && b.dflag != DFlag::None && nimg > 1 {
        sigma_first_rows(b, c, out);
        return;
    }
    let lanes = b.sm_only && !dowts && nimg > 1 && !c.novalue;
    let sigcor = T::from_f32(1.0 / (nimg.max(2) - 1) as f32);
    let mut x0 = 0;
    while x0 < w {
        let len = L.min(w - x0);
        if lanes && len == L {
            let mut x = x0;
            while x < x0 + L {
                lanes_block::<T, RS>(b, sigcor, x, &mut out[x..x + RS]);
                x += RS;
            }
            // the pixels that lost values: their own survivors (a block that kept every
            // value, told by a vector compare, has none)
            if !b.n[x0..x0 + L].iter().fold(true, |a, &k| a & (k == nimg)) {
                for x in x0..x0 + L {
                    if b.n[x] != nimg {
                        sigma_pixel(b, c, dowts, x, &mut out[x]);
                    }
                }
            }
        } else if !b.sm_only && !dowts && !c.novalue && b.dflag != DFlag::None {
            // pixel-major slots: a few pixels at a time, so that their sums (each a
            // chain of dependent adds) overlap
            let mut x = x0;
            while x + SB <= x0 + len {
                sigma_block(b, c, x, &mut out[x..x + SB]);
                x += SB;
            }
            for x in x..x0 + len {
                sigma_pixel(b, c, dowts, x, &mut out[x]);
            }
        } else {
            for x in x0..x0 + len {
                sigma_pixel(b, c, dowts, x, &mut out[x]);
            }
        }
        x0 += len;
    }
}

/// Whether every pixel's first `n[x]` slots are the first `n[x]` rows of the sorted
/// slot-major line `sm` (`v[x*N + j] == sm[j*w + x]` for j < n[x]): a network-sorted line
/// (`sm_sorted`, or a lazy sorted fast line) whose median-centred rejection kept the
/// survivors in their sorted slots (no compaction: median combine without grow; these
/// routines move no value then, and the median of sorted slots reads them in place).
#[inline(always)]
fn slots_are_sorted_rows<T: Work>(b: &LineBuf<T>, c: &Ctx) -> bool {
    use super::ctx::Reject as R;
    let median_clip = c.mclip && matches!(c.reject, R::SigClip | R::CcdClip | R::CrReject | R::AvSigClip | R::PClip);
    let sorted = b.sm_sorted || (b.sm_only && c.fast.is_some_and(|f| f.sorted()));
    b.nimg > 1 && !c.compact && !c.novalue && b.dflag != DFlag::None && median_clip && sorted
}

/// [`sigma_pixel`] (unweighted) of every pixel of a line for which
/// [`slots_are_sorted_rows`] holds: the rows of `sm` summed a block of pixels at a time,
/// each pixel's terms in its own slot order with the same arithmetic, the rows past a
/// pixel's count left out.
#[inline(always)]
fn sigma_sorted_rows<T: Work>(b: &LineBuf<T>, c: &Ctx, out: &mut [T]) {
    let nimg = b.nimg;
    let w = b.w;
    debug_assert!((0..w).all(|x| {
        // (lazy lines leave the pixel-major slots of pixels that kept every value stale)
        (b.sm_only && b.n[x] == nimg)
            || (0..b.n[x]).all(|j| b.v[x * nimg + j].to_f64().to_bits() == b.sm[j * w + x].to_f64().to_bits())
    }));
    sigma_by_blocks(b, c, out, sorted_rows_block::<T, RS>, sorted_rows_block::<T, 1>);
}

/// The driver of the sorted-row sigma forms: IRAF's 1 / (n - 1) per count (1 for a
/// single value) and the blank, then the line's pixels in register blocks of [`RS`]
/// (`wide`) and the rest one by one (`single`), both called as (line, corrections,
/// blank, first pixel, output).
#[inline(always)]
fn sigma_by_blocks<T: Work>(
    b: &LineBuf<T>,
    c: &Ctx,
    out: &mut [T],
    wide: impl Fn(&LineBuf<T>, &[T], T, usize, &mut [T]),
    single: impl Fn(&LineBuf<T>, &[T], T, usize, &mut [T]),
) {
    let blank = T::from_f32(c.blank);
    let mut cor = vec![T::ONE; b.nimg + 1];
    for (n, q) in cor.iter_mut().enumerate().skip(2) {
        *q = T::from_f32(1.0 / (n - 1) as f32);
    }
    let w = b.w;
    let mut x0 = 0;
    while x0 + RS <= w {
        wide(b, &cor, blank, x0, &mut out[x0..x0 + RS]);
        x0 += RS;
    }
    for x in x0..w {
        single(b, &cor, blank, x, &mut out[x..x + 1]);
    }
}

/// Pixels per register block of [`lanes_block`] and [`sorted_rows_block`]: a constant
/// length keeps the block's sums in vector registers across the N rows.
const RS: usize = 16;

/// Row `j` of the slot-major line, pixels `x0..x0 + S`.
#[inline(always)]
fn row_block<T: Work, const S: usize>(b: &LineBuf<T>, j: usize, x0: usize) -> &[T; S] {
    b.sm[j * b.w + x0..j * b.w + x0 + S].try_into().unwrap()
}

/// `sigma_pixel` of `S` pixels from `x0` of a lazy line as if each kept every value (the
/// rows of `sm` in order, `sigcor` = 1 / (N - 1)).
#[inline(always)]
fn lanes_block<T: Work, const S: usize>(b: &LineBuf<T>, sigcor: T, x0: usize, out: &mut [T]) {
    let a: &[T; S] = b.avg[x0..x0 + S].try_into().unwrap();
    let r = row_block::<T, S>(b, 0, x0);
    let mut q = [T::ZERO; S];
    for k in 0..S {
        let d = r[k] - a[k];
        q[k] = d * d;
    }
    for j in 1..b.nimg {
        let r = row_block::<T, S>(b, j, x0);
        for k in 0..S {
            let d = r[k] - a[k];
            q[k] = q[k] + d * d;
        }
    }
    for (o, &q) in out.iter_mut().zip(&q) {
        *o = (q * sigcor).sqrt();
    }
}

/// [`sigma_sorted_rows`] of `S` pixels from `x0`: the rows past a pixel's count left
/// out, `cor[n]` = IRAF's 1 / (n - 1).
#[inline(always)]
fn sorted_rows_block<T: Work, const S: usize>(b: &LineBuf<T>, cor: &[T], blank: T, x0: usize, out: &mut [T]) {
    let a: &[T; S] = b.avg[x0..x0 + S].try_into().unwrap();
    // the counts as 32-bit lanes and the corrections, for plain lane loops
    let mut n = [0u32; S];
    let mut cr = [T::ZERO; S];
    for k in 0..S {
        n[k] = b.n[x0 + k] as u32;
        cr[k] = cor[b.n[x0 + k]];
    }
    let r = row_block::<T, S>(b, 0, x0);
    let mut q = [T::ZERO; S];
    for k in 0..S {
        let d = r[k] - a[k];
        q[k] = d * d;
    }
    for j in 1..b.nimg {
        let r = row_block::<T, S>(b, j, x0);
        let j = j as u32;
        for k in 0..S {
            let d = r[k] - a[k];
            let t = q[k] + d * d;
            q[k] = if j < n[k] { t } else { q[k] };
        }
    }
    for k in 0..S {
        let sd = (q[k] * cr[k]).sqrt();
        out[k] = if n[k] == 0 { blank } else { sd };
    }
}

/// [`sigma_pixel`] (unweighted) of every pixel of a line whose clip recorded where each
/// pixel's survivors sit in the sorted rows (`LineBuf::first`) before compacting them.
/// IRAF's compaction (`compact_sorted`) of the survivors, sorted rows f..f+n (0-based),
/// leaves them in slot order f..f+n when n <= f, else n..n+f (moved to the front) then
/// f..n: each pixel's sum takes those two runs of rows, in that order, with the same
/// arithmetic as `sigma_pixel` (a sum from 0 adds the first term exactly).
#[inline(always)]
fn sigma_first_rows<T: Work>(b: &LineBuf<T>, c: &Ctx, out: &mut [T]) {
    let nimg = b.nimg;
    let w = b.w;
    debug_assert!((0..w).all(|x| {
        let (f, n) = (b.first[x] as usize, b.n[x]);
        let rows: Vec<usize> = if n <= f { (f..f + n).collect() } else { (n..n + f).chain(f..n).collect() };
        rows.iter().enumerate().all(|(j, &r)| b.v[x * nimg + j].to_f64().to_bits() == b.sm[r * w + x].to_f64().to_bits())
    }));
    sigma_by_blocks(b, c, out, first_rows_block::<T, RS>, first_rows_block::<T, 1>);
}

/// [`sigma_first_rows`] of `S` pixels from `x0`: two masked passes over the rows (the
/// run moved to the front first).
#[inline(always)]
fn first_rows_block<T: Work, const S: usize>(b: &LineBuf<T>, cor: &[T], blank: T, x0: usize, out: &mut [T]) {
    let a: &[T; S] = b.avg[x0..x0 + S].try_into().unwrap();
    // each lane's two runs [lo1, hi1) then [lo2, hi2), as 32-bit lanes
    let (mut lo1, mut hi1, mut lo2, mut hi2) = ([0u32; S], [0u32; S], [0u32; S], [0u32; S]);
    let mut cr = [T::ZERO; S];
    let mut n = [0u32; S];
    for k in 0..S {
        let (f, m) = (b.first[x0 + k], b.n[x0 + k] as u32);
        n[k] = m;
        cr[k] = cor[m as usize];
        let split = m > f;
        lo1[k] = if split { m } else { f };
        hi1[k] = m + f; // (the first run ends at m + f either way)
        lo2[k] = if split { f } else { 0 };
        hi2[k] = if split { m } else { 0 };
    }
    let mut q = [T::ZERO; S];
    for (lo, hi) in [(&lo1, &hi1), (&lo2, &hi2)] {
        let (rmin, rmax) = (lo.iter().copied().min().unwrap_or(0), hi.iter().copied().max().unwrap_or(0));
        for j in rmin..rmax {
            let r = row_block::<T, S>(b, j as usize, x0);
            for k in 0..S {
                let d = r[k] - a[k];
                let t = q[k] + d * d;
                q[k] = if (j >= lo[k]) & (j < hi[k]) { t } else { q[k] };
            }
        }
    }
    for k in 0..S {
        let sd = (q[k] * cr[k]).sqrt();
        out[k] = if n[k] == 0 { blank } else { sd };
    }
}

/// Pixels per block of [`sigma_block`].
const SB: usize = 8;

/// [`sigma_pixel`] of the `SB` pixels from `x0` (unweighted, pixel-major slots, no
/// novalue): the same operations in the same order per pixel, interleaved across pixels.
#[inline(always)]
fn sigma_block<T: Work>(b: &LineBuf<T>, c: &Ctx, x0: usize, out: &mut [T]) {
    let nimg = b.nimg;
    let blank = T::from_f32(c.blank);
    let mut s = [T::ZERO; SB];
    let mut a = [T::ZERO; SB];
    let mut n = [0usize; SB];
    let mut nmax = 0;
    for k in 0..SB {
        n[k] = b.n[x0 + k];
        a[k] = b.avg[x0 + k];
        nmax = nmax.max(n[k]);
        if n[k] > 0 {
            let q = b.v[(x0 + k) * nimg] - a[k];
            s[k] = q * q;
        }
    }
    for j in 1..nmax {
        for k in 0..SB {
            if j < n[k] {
                let q = b.v[(x0 + k) * nimg + j] - a[k];
                s[k] = s[k] + q * q;
            }
        }
    }
    for k in 0..SB {
        out[k] = if n[k] == 0 {
            blank
        } else {
            let sigcor: f32 = if n[k] > 1 { 1.0 / (n[k] - 1) as f32 } else { 1.0 };
            (s[k] * T::from_f32(sigcor)).sqrt()
        };
    }
}

#[inline]
fn sigma_pixel<T: Work>(b: &LineBuf<T>, c: &Ctx, dowts: bool, x: usize, out: &mut T) {
    let blank = T::from_f32(c.blank);
    let nimg = b.nimg;
    let w = b.w;
    let n1 = b.n[x];
    // IRAF's negative n (novalue) also gives blank
    if b.dflag == DFlag::None || n1 == 0 || (c.novalue && b.neg[x] > 0) {
        *out = blank;
        return;
    }
    // a lazy fast line (slot-major only) where every value was kept: the slots are
    // the columns of `sm` (fast paths have no weights)
    let lazy = b.sm_only && n1 == nimg;
    let val = |j: usize| if lazy { b.sm[j * w + x] } else { b.v[x * nimg + j] };
    let id = &b.id[x * nimg..x * nimg + n1];
    let a = b.avg[x];
    if dowts {
        let sigcor: f32 = if n1 > 1 { n1 as f32 / (n1 - 1) as f32 } else { 1.0 };
        let mut wt = c.wts[id[0] as usize - 1];
        let q = val(0) - a;
        let mut s = q * q * T::from_f32(wt);
        let mut sw = wt;
        for j in 1..n1 {
            wt = c.wts[id[j] as usize - 1];
            let q = val(j) - a;
            s = s + q * q * T::from_f32(wt);
            sw += wt;
        }
        *out = if b.dflag == DFlag::All {
            (s * T::from_f32(sigcor)).sqrt()
        } else if sw > 0.0 {
            (s / T::from_f32(sw) * T::from_f32(sigcor)).sqrt()
        } else {
            // no positive weight among the survivors: IRAF's unweighted fallback
            let q = val(0) - a;
            let mut s = q * q;
            for j in 1..n1 {
                let q = val(j) - a;
                s = s + q * q;
            }
            (s / T::from_usize(n1) * T::from_f32(sigcor)).sqrt()
        };
    } else {
        let sigcor: f32 = if n1 > 1 { 1.0 / (n1 - 1) as f32 } else { 1.0 };
        let q = val(0) - a;
        let mut s = q * q;
        for j in 1..n1 {
            let q = val(j) - a;
            s = s + q * q;
        }
        *out = (s * T::from_f32(sigcor)).sqrt();
    }
}
