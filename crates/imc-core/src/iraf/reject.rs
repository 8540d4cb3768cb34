//! IRAF's rejection algorithms on one line (icmm, icsclip, icaclip, iccclip, icpclip).
//!
//! Index conventions follow IRAF: slot numbers `j`, `nl`, `nh` are 1-based (slot `j` is
//! `v[j-1]`), `resid` is indexed by slot number. Data movement (swaps, compaction) is
//! reproduced exactly because it fixes the summation order of everything that follows.

use super::ctx::{Combine, Ctx, TOL};
use super::line::{DFlag, LineBuf};
use super::work::{fmax, Work};

#[inline(always)]
fn swap2<T: Work>(v: &mut [T], id: &mut [u16], a: usize, b: usize) {
    v.swap(a, b);
    id.swap(a, b);
}

/// IRAF's rejection scan of an unsorted pixel (the `mclip = no` clippers): slots 1..=n1
/// in order; a value whose residual `(value - a) / sigma(image id)` leaves [lsig, hsig] is
/// swapped with the last kept slot, its |residual| stored in `resid[n1]` and its value
/// taken off `ssum`, and the slot is examined again. Returns the new n1.
#[allow(clippy::too_many_arguments)]
#[inline]
fn reject_unsorted<T: Work>(
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

/// Mean excluding one minimum and one maximum, and the total sum (IRAF's scan order).
#[inline]
fn minmax_mean<T: Work>(v: &[T], n1: usize) -> (T, T) {
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
    let a = s / T::from_usize(n1 - 2);
    let s = s + low + high;
    (a, s)
}

/// Sequential mean of the first `n1` slots (blank when empty).
#[inline]
fn seq_mean<T: Work>(v: &[T], n1: usize, blank: T) -> T {
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
#[allow(clippy::too_many_arguments)]
fn addback_unsorted<T: Work>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    mut n1: usize,
    n2: usize,
    maxkeep: usize,
    sum: &mut T,
) -> usize {
    let mut nk = maxkeep;
    let mut j = n1 + 1;
    while j <= nk {
        let mut r = resid[j];
        let mut jj = 0usize;
        for l in (j + 1)..=n2 {
            let s = resid[l];
            if s < r + TOL {
                if s > r - TOL {
                    jj += 1;
                } else {
                    jj = 0;
                    resid[l] = r;
                    r = s;
                    swap2(v, id, j - 1, l - 1);
                }
            }
        }
        *sum = *sum + v[j - 1];
        n1 += 1;
        nk = nk.max(j + jj);
        j += 1;
    }
    n1
}

/// Add-back for the median-centred algorithms: grow the sorted survivor block [nl, nh].
fn addback_sorted_ends(
    resid: &[f32],
    mut nl: usize,
    mut nh: usize,
    mut n1: usize,
    maxkeep: usize,
    ntot: usize,
    n2: usize,
) -> (usize, usize, usize) {
    while n1 < maxkeep {
        if nl == 1 {
            nh += 1;
        } else if nh == ntot {
            nl -= 1;
        } else {
            let mut r = resid[nl - 1];
            let mut s = resid[nh + 1];
            if r < s {
                nl -= 1;
                r += TOL;
                if s <= r {
                    nh += 1;
                }
                if nl > 1 && resid[nl - 1] <= r {
                    nl -= 1;
                }
            } else {
                nh += 1;
                s += TOL;
                if r <= s {
                    nl -= 1;
                }
                if nh < n2 && resid[nh + 1] <= s {
                    nh += 1;
                }
            }
        }
        n1 = nh + 1 - nl;
    }
    (nl, nh, n1)
}

/// Move the survivors of a median-centred clip to slots 1..n1 the way IRAF does (copying
/// from slot max(nl, n1+1) onward into the first min(n1, nl-1) slots).
/// With grow the ids are swapped instead of copied, so the rejected images stay in the
/// slots after n1 where the grow step looks for them.
#[inline]
fn compact_sorted<T: Work>(v: &mut [T], id: &mut [u16], nl: usize, n1: usize, grow: bool) {
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
fn block_median<T: Work>(v: &[T], nl: usize, n1: usize, blank: T) -> T {
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

/// Run the configured rejection on one gathered line.
pub fn reject_line<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    use super::ctx::Reject as R;
    b.docombine = true;
    if b.dflag == DFlag::None {
        return;
    }
    match c.reject {
        R::None => {}
        R::MinMax => minmax(b, c),
        R::SigClip => {
            if c.mclip {
                msigclip(b, c)
            } else {
                asigclip(b, c)
            }
        }
        R::AvSigClip => {
            if c.mclip {
                mavsigclip(b, c)
            } else {
                aavsigclip(b, c)
            }
        }
        R::CcdClip | R::CrReject => {
            if c.mclip {
                mccdclip(b, c)
            } else {
                accdclip(b, c)
            }
        }
        R::PClip => pclip(b, c),
    }
}

// ---------------------------------------------------------------------------------------
// minmax

fn minmax<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let counts = |n1: usize| -> (usize, usize, usize) {
        let nlo = (c.flow * n1 as f32 + 0.001f32) as usize;
        let nhi = (c.fhigh * n1 as f32 + 0.001f32) as usize;
        let np = nlo.min(nhi);
        (nlo - np, nhi - np, np)
    };
    let all = b.dflag == DFlag::All;
    let fixed = counts(b.n[0]);
    let mut tot = 0usize;
    for x in 0..b.w {
        let mut n1 = b.n[x];
        let (nlo, nhi, np) = if all { fixed } else { counts(n1) };
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

// ---------------------------------------------------------------------------------------
// sigclip

fn asigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let docombine = c.dowts || c.combine != Combine::Average;
    b.docombine = docombine;
    let nin = b.n[0];
    let nimg = b.nimg;
    for x in 0..b.w {
        let s0 = x * nimg;
        let (n1, a) = asigclip_pixel(&mut b.v[s0..s0 + nimg], &mut b.id[s0..s0 + nimg], &mut b.resid, &mut b.wbuf_t, b.n[x], c);
        b.n[x] = n1;
        if !docombine {
            b.avg[x] = a;
        }
    }
    b.finish_flag(nin);
}

/// Mean-centred sigclip (IRAF `ic_asigclip`) of one pixel's first `n1` slots, in place.
/// Returns the survivors' count and their mean (blank when none are left).
pub(super) fn asigclip_pixel<T: Work>(v: &mut [T], id: &mut [u16], resid: &mut [f32], w: &mut [T], n1: usize, c: &Ctx) -> (usize, T) {
    let mut n1 = n1;
    let maxkeep = c.maxkeep(n1);
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    if n1 < 3.max(maxkeep) {
        return (n1, seq_mean(v, n1, blank));
    }
    let (mut a, mut ssum) = minmax_mean(v, n1);
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
    (n1, if n1 > 0 { a } else { blank })
}

fn msigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let nin = b.n[0];
    let nimg = b.nimg;
    for x in 0..b.w {
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let (n1b, med) = msigclip_pixel(v, id, &mut b.resid, &mut b.wbuf, b.n[x], c);
        b.n[x] = n1b;
        if c.comb_median {
            b.avg[x] = med;
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}

/// Median-centred sigclip of one pixel's sorted values `v[..n1]` (IRAF `ic_msigclip`
/// body): returns the number kept and the median IRAF reports; compacts the survivors
/// when `c.compact`.
#[inline]
pub(crate) fn msigclip_pixel<T: Work>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    w: &mut [f32],
    n1: usize,
    c: &Ctx,
) -> (usize, T) {
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let mut n1 = n1;
    let ntot = n1;
    let maxkeep = c.maxkeep(n1);
    let (mut nl, mut nh) = (1usize, n1);
    let mut med;
    let mut n2;
    loop {
        n2 = n1;
        med = block_median(v, nl, n1, blank);
        if n1 >= 3.max(maxkeep + 1) {
            // sigma and residuals are float32 variables in IRAF, even on the double path
            if c.doscale1 {
                let mut s = 0.0f32;
                for j in nl..=nh {
                    let l = id[j - 1] as usize - 1;
                    let r = fmax(one, (med + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l]))
                        .sqrt()
                        .to_f32();
                    let q = (v[j - 1] - med).to_f32() / r;
                    s += q * q;
                    w[j] = r;
                }
                s = (s / (n1 - 1) as f32).sqrt();
                if s > 0.0 {
                    while nl <= nh {
                        let r = (med - v[nl - 1]).to_f32() / (s * w[nl]);
                        if r <= c.lsig {
                            break;
                        }
                        resid[nl] = r;
                        n1 -= 1;
                        nl += 1;
                    }
                    while nh >= nl {
                        let r = (v[nh - 1] - med).to_f32() / (s * w[nh]);
                        if r <= c.hsig {
                            break;
                        }
                        resid[nh] = r;
                        n1 -= 1;
                        nh -= 1;
                    }
                }
            } else {
                let mut s = 0.0f32;
                for j in nl..=nh {
                    let q = (v[j - 1] - med).to_f32();
                    s += q * q;
                }
                s = (s / (n1 - 1) as f32).sqrt();
                if s > 0.0 {
                    while nl <= nh {
                        let r = (med - v[nl - 1]).to_f32() / s;
                        if r <= c.lsig {
                            break;
                        }
                        resid[nl] = r;
                        n1 -= 1;
                        nl += 1;
                    }
                    while nh >= nl {
                        let r = (v[nh - 1] - med).to_f32() / s;
                        if r <= c.hsig {
                            break;
                        }
                        resid[nh] = r;
                        n1 -= 1;
                        nh -= 1;
                    }
                }
            }
        }
        if n1 == n2 || n1 < 3.max(maxkeep + 1) {
            break;
        }
    }
    let (nl2, _nh2, n1b) = addback_sorted_ends(resid, nl, nh, n1, maxkeep, ntot, n2);
    if c.compact {
        compact_sorted(v, id, nl2, n1b, c.grow >= 1.0);
    }
    (n1b, med)
}

// ---------------------------------------------------------------------------------------
// avsigclip

fn aavsigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
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
        let (a, ssum) = minmax_mean(v, n1);
        if c.doscale1 {
            for j in 1..=n1 {
                let l = id[j - 1] as usize - 1;
                let s1 = fmax(one, (a + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l]));
                let q = v[j - 1] - a;
                s = s + q * q / s1;
            }
        } else {
            let s1 = fmax(one, a);
            for &val in &v[..n1] {
                let q = val - a;
                s = s + q * q / s1;
            }
        }
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
            // IRAF reuses the line-sigma variable as scratch in this add-back, so every
            // later pixel of the line is clipped with the clobbered value (quirk 12).
            let mut nk = maxkeep;
            let mut j = n1 + 1;
            while j <= nk {
                let mut r = resid[j];
                let mut jj = 0usize;
                for l in (j + 1)..=n2 {
                    s = T::from_f32(resid[l]);
                    if s < T::from_f32(r + TOL) {
                        if s > T::from_f32(r - TOL) {
                            jj += 1;
                        } else {
                            jj = 0;
                            resid[l] = r;
                            r = s.to_f32();
                            swap2(v, id, j - 1, l - 1);
                            if c.doscale1 || c.keepids {
                                s = T::from_usize(id[l - 1] as usize);
                            }
                        }
                    }
                }
                ssum = ssum + v[j - 1];
                n1 += 1;
                nk = nk.max(j + jj);
                j += 1;
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

fn mavsigclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 3.max(mk_line + 1) {
        return;
    }
    let one = T::ONE;
    let blank = T::from_f32(c.blank);
    let two = T::from_f32(2.0);
    let nimg = b.nimg;
    let nin = b.n[0];
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
        if c.doscale1 {
            for j in 1..=n1 {
                let l = id[j - 1] as usize - 1;
                let s1 = fmax(one, (med + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l]));
                let q = v[j - 1] - med;
                s = s + q * q / s1;
            }
        } else {
            let s1 = fmax(one, med);
            for &val in &v[..n1] {
                let q = val - med;
                s = s + q * q / s1;
            }
        }
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
        let mut n1 = b.n[x];
        let ntot = n1;
        let maxkeep = c.maxkeep(n1);
        if n1 < 3.max(maxkeep + 1) {
            continue;
        }
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let resid = &mut b.resid;
        let (mut nl, mut nh) = (1usize, n1);
        let mut med = b.line_a[x];
        let mut n2;
        let sig1 = |med: T, l: usize| -> T {
            sig * fmax(one, (med + T::from_f32(c.zeros[l])) / T::from_f32(c.scales[l])).sqrt()
        };
        loop {
            n2 = n1;
            if n1 >= 3.max(maxkeep + 1) && sig > T::ZERO {
                let s1c = sig * fmax(one, med).sqrt();
                let lsig = T::from_f32(c.lsig);
                let hsig = T::from_f32(c.hsig);
                while nl <= nh {
                    let s1 = if c.doscale1 { sig1(med, id[nl - 1] as usize - 1) } else { s1c };
                    let r = (med - v[nl - 1]) / s1;
                    if r <= lsig {
                        break;
                    }
                    resid[nl] = r.to_f32();
                    n1 -= 1;
                    nl += 1;
                }
                while nh >= nl {
                    let s1 = if c.doscale1 { sig1(med, id[nh - 1] as usize - 1) } else { s1c };
                    let r = (v[nh - 1] - med) / s1;
                    if r <= hsig {
                        break;
                    }
                    resid[nh] = r.to_f32();
                    n1 -= 1;
                    nh -= 1;
                }
                if n1 < n2 {
                    med = block_median(v, nl, n1, blank);
                }
            }
            if n1 == n2 || n1 < 3.max(maxkeep + 1) {
                break;
            }
        }
        while n1 < maxkeep {
            let r = addback_sorted_ends(resid, nl, nh, n1, n1 + 1, ntot, n2);
            nl = r.0;
            nh = r.1;
            n1 = r.2;
            if n1 < n2 {
                med = block_median(v, nl, n1, blank);
            }
        }
        b.n[x] = n1;
        if c.compact {
            compact_sorted(v, id, nl, n1, c.grow >= 1.0);
        }
        if c.comb_median {
            b.avg[x] = med;
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}

// ---------------------------------------------------------------------------------------
// ccdclip / crreject

#[inline]
pub(crate) fn ccd_sigma<T: Work>(c: &Ctx, a: T, l: usize) -> T {
    let (rn2, g, sn) = c.noise[l];
    let (rn2, g, sn) = (T::from_f32(rn2), T::from_f32(g), T::from_f32(sn));
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

fn accdclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 2.max(mk_line + 1) {
        return;
    }
    let docombine = c.dowts || c.combine != Combine::Average;
    b.docombine = docombine;
    let blank = T::from_f32(c.blank);
    let (lsig, hsig) = (T::from_f32(-c.lsig), T::from_f32(c.hsig));
    let nimg = b.nimg;
    let nin = b.n[0];
    for x in 0..b.w {
        let mut n1 = b.n[x];
        let maxkeep = c.maxkeep(n1);
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let resid = &mut b.resid;
        if n1 <= 1.max(maxkeep) {
            if !docombine {
                b.avg[x] = seq_mean(v, n1, blank);
            }
            continue;
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
                a = r.0;
                ssum = r.1;
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
        b.n[x] = n1;
        if !docombine {
            b.avg[x] = if n1 > 0 { ssum / T::from_usize(n1) } else { blank };
        }
    }
    b.finish_flag(nin);
}

fn mccdclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let mk_line = c.maxkeep(c.nimg);
    if c.nimg < 2.max(mk_line + 1) {
        return;
    }
    let nimg = b.nimg;
    let nin = b.n[0];
    for x in 0..b.w {
        let s0 = x * nimg;
        let v = &mut b.v[s0..s0 + nimg];
        let id = &mut b.id[s0..s0 + nimg];
        let (n1b, med) = mccdclip_pixel(v, id, &mut b.resid, b.n[x], c);
        b.n[x] = n1b;
        if c.comb_median {
            b.avg[x] = med;
        }
    }
    b.docombine = !c.comb_median;
    b.finish_flag(nin);
}

/// Median-centred ccdclip / crreject of one pixel's sorted values `v[..n1]` (IRAF
/// `ic_mccdclip` body): returns the number kept and the median IRAF reports; compacts
/// the survivors when `c.compact`.
#[inline]
pub(crate) fn mccdclip_pixel<T: Work>(
    v: &mut [T],
    id: &mut [u16],
    resid: &mut [f32],
    n1: usize,
    c: &Ctx,
) -> (usize, T) {
    let blank = T::from_f32(c.blank);
    let mut n1 = n1;
    let ntot = n1;
    let maxkeep = c.maxkeep(n1);
    let (mut nl, mut nh) = (1usize, n1);
    let mut med;
    let mut n2;
    loop {
        n2 = n1;
        med = block_median(v, nl, n1, blank);
        if n1 >= 2.max(maxkeep + 1) {
            while nl <= nh {
                let s = ccd_sigma(c, med, id[nl - 1] as usize - 1).to_f32();
                let r = (med - v[nl - 1]).to_f32() / s;
                if r <= c.lsig {
                    break;
                }
                resid[nl] = r;
                n1 -= 1;
                nl += 1;
            }
            while nh >= nl {
                let s = ccd_sigma(c, med, id[nh - 1] as usize - 1).to_f32();
                let r = (v[nh - 1] - med).to_f32() / s;
                if r <= c.hsig {
                    break;
                }
                resid[nh] = r;
                n1 -= 1;
                nh -= 1;
            }
        }
        if n1 == n2 || n1 < 2.max(maxkeep + 1) {
            break;
        }
    }
    let (nl2, _, n1b) = addback_sorted_ends(resid, nl, nh, n1, maxkeep, ntot, n2);
    if c.compact {
        compact_sorted(v, id, nl2, n1b, c.grow >= 1.0);
    }
    (n1b, med)
}

// ---------------------------------------------------------------------------------------
// pclip

fn pclip<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
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
            addback_sorted_signed(resid, nl, nh, n4, maxkeep, ntot, n2)
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

/// `addback_sorted_ends` for pclip, where the block may start empty (nh = nl - 1 or less).
fn addback_sorted_signed(
    resid: &[f32],
    nl: usize,
    nh: usize,
    n4: i64,
    maxkeep: usize,
    ntot: usize,
    n2: usize,
) -> (usize, usize, usize) {
    if n4 >= 0 {
        return addback_sorted_ends(resid, nl, nh, n4 as usize, maxkeep, ntot, n2);
    }
    // Rare: the low and high walks crossed. Mirror IRAF's integer arithmetic.
    let (mut nl, mut nh) = (nl as i64, nh as i64);
    let mut n1 = n4;
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
    (nl as usize, nh.max(0) as usize, n1.max(0) as usize)
}
