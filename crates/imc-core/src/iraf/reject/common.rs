//! Steps shared by IRAF's rejection routines: swaps, the unsorted rejection scan, the
//! min/max-excluded mean, the two add-backs, compaction of sorted survivors, medians.

use crate::iraf::ctx::{Combine, Ctx, TOL};
use crate::iraf::line::LineBuf;
use crate::iraf::work::{fmax, Work};

/// IRAF's line loop of the mean-centred clips (`ic_asigclip`, `ic_accdclip`): every
/// pixel's first n[x] slots go through `pixel(v, id, resid, weights, n)`, which returns
/// the survivors and their mean; that mean is the output when the combine step is
/// skipped (an unweighted average).
#[inline(always)]
pub(super) fn mean_clip_line<T: Work>(b: &mut LineBuf<T>, c: &Ctx, pixel: impl Fn(&mut [T], &mut [u16], &mut [f32], &mut [T], usize) -> Kept<T>) {
    let docombine = c.dowts || c.combine != Combine::Average;
    b.docombine = docombine;
    let nin = b.n[0];
    let nimg = b.nimg;
    for x in 0..b.w {
        let s0 = x * nimg;
        let kept = pixel(&mut b.v[s0..s0 + nimg], &mut b.id[s0..s0 + nimg], &mut b.resid, &mut b.wbuf_t, b.n[x]);
        b.n[x] = kept.n;
        if !docombine {
            b.avg[x] = kept.value;
        }
    }
    b.finish_flag(nin);
}

/// IRAF's line loop of the median-centred clips (`ic_msigclip`, `ic_mccdclip`): every
/// pixel's sorted slots go through `pixel(v, id, resid, weights, n)`; the median it
/// reports is the output when combining by median (the combine step is then skipped).
#[inline(always)]
pub(super) fn median_clip_line<T: Work>(b: &mut LineBuf<T>, c: &Ctx, pixel: impl Fn(&mut [T], &mut [u16], &mut [f32], &mut [f32], usize) -> Kept<T>) {
    let nin = b.n[0];
    let nimg = b.nimg;
    for x in 0..b.w {
        let s0 = x * nimg;
        let kept = pixel(&mut b.v[s0..s0 + nimg], &mut b.id[s0..s0 + nimg], &mut b.resid, &mut b.wbuf, b.n[x]);
        b.n[x] = kept.n;
        if c.comb_median {
            b.avg[x] = kept.value;
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}

#[inline(always)]
pub(super) fn swap2<T: Work>(v: &mut [T], id: &mut [u16], a: usize, b: usize) {
    v.swap(a, b);
    id.swap(a, b);
}

/// IRAF's rejection scan of an unsorted pixel (the `mclip = no` clippers): slots 1..=n1
/// in order; a value whose residual `(value - a) / sigma(image id)` leaves [lsig, hsig] is
/// swapped with the last kept slot, its |residual| stored in `resid[n1]` and its value
/// taken off `ssum`, and the slot is examined again. Returns the new n1.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn reject_unsorted<T: Work>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    mut n1: usize,
    a: T,
    (lsig, hsig): (T, T),
    ssum: &mut T,
    sigma: impl Fn(u16) -> T,
) -> usize {
    let mut j = 1usize;
    while j <= n1 {
        let val = v[j - 1];
        let r = (val - a) / sigma(id[j - 1]);
        if r < lsig || r > hsig {
            resid[n1] = r.abs().to_f32();
            if j < n1 {
                swap2(v, id, j - 1, n1 - 1);
                j -= 1;
            }
            *ssum = *ssum - val;
            n1 -= 1;
        }
        j += 1;
    }
    n1
}

/// What a per-pixel routine leaves: the values kept (slots 1..=n) and the pixel's value
/// IRAF reports (its median for the median-centred clips, its mean for the others).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kept<T> {
    pub n: usize,
    pub value: T,
}

/// The mean of the first n1 slots without one minimum and one maximum, and the sum of all
/// of them, in IRAF's scan order.
#[derive(Clone, Copy, Debug)]
pub(super) struct MeanSum<T> {
    pub mean: T,
    pub sum: T,
}

/// Mean excluding one minimum and one maximum, and the total sum (IRAF's scan order).
#[inline]
pub(super) fn minmax_mean<T: Work>(v: &[T], n1: usize) -> MeanSum<T> {
    let (mut low, mut high) = (v[0], v[1]);
    if low > high {
        std::mem::swap(&mut low, &mut high);
    }
    let mut s = T::ZERO;
    for &x in &v[2..n1] {
        if x < low {
            s = s + low;
            low = x;
        } else if x > high {
            s = s + high;
            high = x;
        } else {
            s = s + x;
        }
    }
    let mean = s / T::from_usize(n1 - 2);
    MeanSum { mean, sum: s + low + high }
}

/// Sequential mean of the first `n1` slots (blank when empty).
#[inline]
pub(super) fn seq_mean<T: Work>(v: &[T], n1: usize, blank: T) -> T {
    if n1 == 0 {
        return blank;
    }
    let mut s = v[0];
    for &x in &v[1..n1] {
        s = s + x;
    }
    s / T::from_usize(n1)
}

/// Add-back for the mean-centred algorithms: restore values rejected in the last pass by
/// increasing residual (ties within TOL restored together). Returns the new count.
#[inline]
pub(super) fn addback_unsorted<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], n1: usize, n2: usize, maxkeep: usize, sum: &mut T) -> usize {
    addback_scan::<T, false>(v, id, resid, n1, n2, maxkeep, sum).n1
}

/// The last step of IRAF's add-back scan: the residual it read and, when that step
/// swapped two slots, the image then in the later slot. `ic_aavsigclip` reuses its line
/// sigma variable as that scratch (quirk 12).
#[derive(Clone, Copy, Debug)]
pub(super) struct LastScan {
    pub resid: f32,
    pub swapped_image: Option<u16>,
}

/// [`addback_unsorted`] that also reports its last scan step (None when it made none).
pub(super) struct AddBack {
    pub n1: usize,
    pub last: Option<LastScan>,
}

/// [`addback_unsorted`] that also reports its last scan step.
#[inline]
pub(super) fn addback_unsorted_traced<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], n1: usize, n2: usize, maxkeep: usize, sum: &mut T) -> AddBack {
    addback_scan::<T, true>(v, id, resid, n1, n2, maxkeep, sum)
}

/// The add-back scan; `TRACE` keeps its last step (compiled out when false).
#[inline(always)]
fn addback_scan<T: Work, const TRACE: bool>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    mut n1: usize,
    n2: usize,
    maxkeep: usize,
    sum: &mut T,
) -> AddBack {
    let mut last = None;
    let mut nk = maxkeep;
    let mut j = n1 + 1;
    while j <= nk {
        let mut r = resid[j];
        let mut jj = 0usize;
        for l in (j + 1)..=n2 {
            let s = resid[l];
            let mut swapped_image = None;
            if s < r + TOL {
                if s > r - TOL {
                    jj += 1;
                } else {
                    jj = 0;
                    resid[l] = r;
                    r = s;
                    swap2(v, id, j - 1, l - 1);
                    swapped_image = Some(id[l - 1]);
                }
            }
            if TRACE {
                last = Some(LastScan { resid: s, swapped_image });
            }
        }
        *sum = *sum + v[j - 1];
        n1 += 1;
        nk = nk.max(j + jj);
        j += 1;
    }
    AddBack { n1, last }
}

/// Σ (v - centre)² / max(1, level) over the first n1 slots, added to `s` in slot order:
/// the Poisson-scaled spread of avsigclip, with each image's own level (c + Z) / S when
/// the scales differ (IRAF's doscale1), else the centre itself.
#[inline(always)]
pub(super) fn poisson_ssq<T: Work>(v: &[T], id: &[u16], n1: usize, centre: T, c: &Ctx, mut s: T) -> T {
    let one = T::ONE;
    if c.doscale1 {
        for j in 1..=n1 {
            let l = id[j - 1] as usize - 1;
            let s1 = fmax(one, (centre + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l]));
            let q = v[j - 1] - centre;
            s = s + q * q / s1;
        }
    } else {
        let s1 = fmax(one, centre);
        for &val in &v[..n1] {
            let q = val - centre;
            s = s + q * q / s1;
        }
    }
    s
}

/// The survivors of a median-centred clip: the sorted slots nl..=nh (1-based), n1 of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Block {
    pub nl: usize,
    pub nh: usize,
    pub n1: usize,
}

impl Block {
    /// All n sorted slots.
    pub fn all(n: usize) -> Self {
        Block { nl: 1, nh: n, n1: n }
    }
}

/// IRAF's rejection walk of a median-centred clip: reject from the low end of the block
/// while the residual `low(j)` of slot j is above `lsig`, then from the high end while
/// `high(j)` is above `hsig`. Each rejected slot's residual is kept in `resid[j]`.
#[inline(always)]
pub(super) fn clip_ends<R: Work>(blk: &mut Block, resid: &mut [f32], lsig: R, hsig: R, low: impl Fn(usize) -> R, high: impl Fn(usize) -> R) {
    while blk.nl <= blk.nh {
        let r = low(blk.nl);
        if r <= lsig {
            break;
        }
        resid[blk.nl] = r.to_f32();
        blk.n1 -= 1;
        blk.nl += 1;
    }
    while blk.nh >= blk.nl {
        let r = high(blk.nh);
        if r <= hsig {
            break;
        }
        resid[blk.nh] = r.to_f32();
        blk.n1 -= 1;
        blk.nh -= 1;
    }
}

/// IRAF's median-centred clip of one pixel's sorted values `v[..n1]` (the loop of
/// `ic_msigclip` and `ic_mccdclip`): each pass takes the block's median and, while at
/// least min_n = max(`least`, maxkeep + 1) values remain, lets `pass` walk in from the
/// ends (see [`clip_ends`]); it stops when a pass rejects nothing or fewer than min_n
/// remain. Then the add-back
/// for nkeep and, when `c.compact`, the compaction. The value is the median of the last
/// pass's start, as IRAF reports it.
#[inline(always)]
pub(super) fn median_clip<T: Work>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    n1: usize,
    least: usize,
    c: &Ctx,
    mut pass: impl FnMut(&[T], &[u16], &mut [f32], &mut Block, T),
) -> Kept<T> {
    let blank = T::from_f32(c.blank);
    let ntot = n1;
    let maxkeep = c.maxkeep(n1);
    let min_n = least.max(maxkeep + 1);
    let mut blk = Block::all(n1);
    let mut med;
    let mut n2;
    loop {
        n2 = blk.n1;
        med = block_median(v, blk.nl, blk.n1, blank);
        if blk.n1 >= min_n {
            pass(v, id, resid, &mut blk, med);
        }
        if blk.n1 == n2 || blk.n1 < min_n {
            break;
        }
    }
    let kept = addback_sorted_ends(resid, blk, maxkeep, ntot, n2);
    if c.compact {
        compact_sorted(v, id, kept.nl, kept.n1, c.grow >= 1.0);
    }
    Kept { n: kept.n1, value: med }
}

/// Add-back for the median-centred algorithms: grow the sorted survivor block [nl, nh]
/// (ntot values in all, n2 at the start of the last pass) until `maxkeep` remain.
#[inline]
pub(super) fn addback_sorted_ends(resid: &[f32], blk: Block, maxkeep: usize, ntot: usize, n2: usize) -> Block {
    addback_crossed(resid, blk.nl as i64, blk.nh as i64, blk.n1 as i64, maxkeep, ntot, n2)
}

/// [`addback_sorted_ends`] from a block that may be empty or crossed (pclip's walks can
/// pass each other: nh < nl - 1, a negative count), in IRAF's signed integer arithmetic.
#[inline]
pub(super) fn addback_crossed(resid: &[f32], mut nl: i64, mut nh: i64, mut n1: i64, maxkeep: usize, ntot: usize, n2: usize) -> Block {
    while n1 < maxkeep as i64 {
        if nl == 1 {
            nh += 1;
        } else if nh == ntot as i64 {
            nl -= 1;
        } else {
            let mut r = resid[(nl - 1) as usize];
            let mut s = resid[(nh + 1) as usize];
            if r < s {
                nl -= 1;
                r += TOL;
                if s <= r {
                    nh += 1;
                }
                if nl > 1 && resid[(nl - 1) as usize] <= r {
                    nl -= 1;
                }
            } else {
                nh += 1;
                s += TOL;
                if r <= s {
                    nl -= 1;
                }
                if nh < n2 as i64 && resid[(nh + 1) as usize] <= s {
                    nh += 1;
                }
            }
        }
        n1 = nh - nl + 1;
    }
    Block { nl: nl as usize, nh: nh.max(0) as usize, n1: n1.max(0) as usize }
}

/// Move the survivors of a median-centred clip to slots 1..n1 the way IRAF does (copying
/// from slot max(nl, n1+1) onward into the first min(n1, nl-1) slots).
/// With grow the ids are swapped instead of copied, so the rejected images stay in the
/// slots after n1 where the grow step looks for them.
#[inline]
pub(super) fn compact_sorted<T: Work>(v: &mut [T], id: &mut [u16], nl: usize, n1: usize, grow: bool) {
    if n1 > 0 && nl > 1 {
        let j0 = nl.max(n1 + 1);
        for (k, l) in (1..=n1.min(nl - 1)).enumerate() {
            let j = j0 + k;
            v[l - 1] = v[j - 1];
            if grow {
                id.swap(l - 1, j - 1);
            } else {
                id[l - 1] = id[j - 1];
            }
        }
    }
}

/// Median of the sorted block starting at slot `nl` with `n1` values.
#[inline]
pub(super) fn block_median<T: Work>(v: &[T], nl: usize, n1: usize, blank: T) -> T {
    if n1 == 0 {
        return blank;
    }
    let n3 = nl + n1 / 2;
    if n1 % 2 == 0 {
        (v[n3 - 2] + v[n3 - 1]) / T::from_f32(2.0)
    } else {
        v[n3 - 1]
    }
}
