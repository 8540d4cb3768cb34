//! A running mean, weighted mean or sum that reads planes (variance, weights, DQ) and
//! produces their products, without rejection: frames are accumulated in order, the same
//! sums in the same order as the element path's [`Acc`], so both give the same bits.
//!
//! Two loops: a branch-free one over structure-of-arrays sums for the common survey case
//! (a variance plane, no mask, DQ, thresholds or normalisation; unweighted, per-frame or
//! inverse-variance weights), which runs near memory speed; and a general one through
//! [`PlaneCtx`] and one [`Acc`] per pixel for everything else.

use super::scratch::Scratch;
use super::{Ctx, Elem, FRAME_GROUP};
use crate::input::Input;
use crate::job::{Method, Weighting};
use crate::planes::FloatPlane;
use crate::propagate::Acc;
use crate::real::Real;
use crate::reject::{oflag, Diag};
use crate::simd;

/// Pixels per block: the sums of a block (at most 56 bytes a pixel in the fast loop, with
/// the inverse-variance sums' second set) stay in L2, and every frame and plane is read in runs of 32-64 KiB, long enough for the
/// hardware prefetchers (runs of 8 KiB cost a third of the speed of the fast loop).
pub(super) const PLANE_BLOCK: usize = 8192;

/// Pixels per run of the general loop: its accumulators (72 bytes a pixel) stay in L2.
const GENERAL_RUN: usize = 2048;

/// How the fast loop weights a sample: a const parameter of its loops, so that each kind
/// is a branch-free loop of its own (a run-time choice inside the loop kept the inverse
/// variance loop from vectorising: one scalar f64 division per sample).
const UNWEIGHTED: u8 = 0;
const FRAME: u8 = 1;
const IVAR: u8 = 2;

/// Per-pixel sums of the fast loop (structure of arrays), grown on first use.
#[derive(Default)]
pub(super) struct PlaneSums {
    cnt: Vec<u32>,
    sx: Vec<f64>,
    sw: Vec<f64>,
    swx: Vec<f64>,
    sv: Vec<f64>,
    swwv: Vec<f64>,
    sexp: Vec<f64>,
    /// Where [`group`] writes the inverse-variance sums (count, Σw, Σwx) of a frame
    /// group; swapped with the sums above after the group.
    next: [Vec<f64>; 2],
    next_cnt: Vec<u32>,
}

impl PlaneSums {
    /// Room for `len` pixels, with the sums the job reads set to zero (the others are
    /// never read).
    fn reset(&mut self, len: usize, weighted: bool, var: bool, exposure: bool) {
        if self.cnt.len() < len {
            self.cnt.resize(len, 0);
            self.next_cnt.resize(len, 0);
            let [n0, n1] = &mut self.next;
            for v in [&mut self.sx, &mut self.sw, &mut self.swx, &mut self.sv, &mut self.swwv, &mut self.sexp, n0, n1] {
                v.resize(len, 0.0);
            }
        }
        self.cnt[..len].fill(0);
        let zero = |v: &mut Vec<f64>, on: bool| if on { v[..len].fill(0.0) };
        zero(&mut self.sx, !weighted);
        zero(&mut self.sv, !weighted && var);
        zero(&mut self.sw, weighted);
        zero(&mut self.swx, weighted);
        zero(&mut self.swwv, weighted && var);
        zero(&mut self.sexp, exposure);
    }
}

/// A plane value type read as f64.
trait PlaneValue: Copy {
    fn f64(self) -> f64;
    /// A usable variance: finite and > 0 (tested in the plane's own type, which gives
    /// the answer of the f64 value with fewer vector instructions).
    fn usable(self) -> bool;
}
impl PlaneValue for f32 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn usable(self) -> bool {
        (self > 0.0) & (self < f32::INFINITY)
    }
}
impl PlaneValue for f64 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn usable(self) -> bool {
        (self > 0.0) & (self < f64::INFINITY)
    }
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// The fast loop applies: only a variance plane, nothing else to classify.
    pub(super) fn plane_stream_is_plain(&self) -> bool {
        let pl = &self.frames.planes;
        self.plain && pl.variance.is_some() && pl.dq.is_none() && pl.weights.is_none()
            && matches!(self.job.weighting, Weighting::None | Weighting::Frame | Weighting::InverseVariance)
    }

    #[inline(always)]
    pub(super) fn plane_stream_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        if self.plane_stream_is_plain() {
            self.plane_stream_plain(s, p0, p1);
        } else {
            self.plane_stream_general(s, p0, p1);
        }
    }

    /// The general loop, in runs of [`GENERAL_RUN`] pixels.
    fn plane_stream_general(&self, s: &mut Scratch, p0: usize, p1: usize) {
        for q0 in (p0..p1).step_by(GENERAL_RUN) {
            self.plane_stream_general_run(s, q0, (q0 + GENERAL_RUN).min(p1));
        }
    }

    /// Pixels [p0, p1) of the general loop: every sample classified by `sample` and the
    /// plane context.
    fn plane_stream_general_run(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let len = p1 - p0;
        let job = self.job;
        let Some(pc) = &self.pctx else { unreachable!("the plane stream needs planes") };
        let want_var = job.want.variance;
        if s.accs.len() < len {
            s.accs.resize(len, Acc::default());
        }
        let accs = &mut s.accs[..len];
        accs.fill(Acc::default());
        for i in 0..self.n {
            let f = &self.frames.data[i][p0..p1];
            let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
            let t = pc.exptime(i);
            for (b, acc) in accs.iter_mut().enumerate() {
                let (q, bad_dq) = pc.dq(i, p0 + b);
                let (x, st) = self.sample(i, f[b], mk.is_some_and(|mk| mk[b]) || bad_dq);
                if st != 0 {
                    continue;
                }
                if let Ok(pv) = pc.values(i, p0 + b, q) {
                    acc.add(x, pv, t, want_var);
                }
            }
        }
        for (b, acc) in accs.iter().enumerate() {
            self.write_plane_element(p0 + b, acc);
        }
    }

    /// The fast loop: branch-free sums (an excluded sample adds +0.0, which leaves every
    /// sum bit-identical to skipping it), the same operations as [`Acc::add`], four frames
    /// per pass over the sums (in frame order) so the sums are loaded and stored once per
    /// group.
    #[inline(always)]
    fn plane_stream_plain(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let len = p1 - p0;
        let job = self.job;
        let Some(pc) = &self.pctx else { unreachable!("the plane stream needs planes") };
        let Some(var) = &self.frames.planes.variance else { unreachable!("checked by plane_stream_is_plain") };
        let kind = match job.weighting {
            Weighting::None => UNWEIGHTED,
            Weighting::InverseVariance => IVAR,
            _ => FRAME,
        };
        let (want_var, want_exp) = (job.want.variance, job.want.exposure);
        // Inverse-variance weights are all > 0 (1/v of a finite v > 0), so Σw = 0 exactly
        // when no sample was used: the count is needed only for the outputs that show it.
        let w = job.want;
        let count = kind != IVAR || w.nused || w.output_flags || w.dq;
        // The variance of an inverse-variance mean or sum comes from Σw (propagate::variance_of)
        let sum_var = want_var && kind != IVAR;
        let sums = &mut s.psums;
        sums.reset(len, kind != UNWEIGHTED, sum_var, want_exp);
        let fw = |i: usize| match job.weighting {
            Weighting::Frame => job.weights.as_ref().map_or(1.0, |w| w[i]),
            _ => 1.0,
        };
        let frames = &self.frames.data;
        let mut i = 0;
        while i < self.n {
            // K frames from frame i into the sums; returns K.
            macro_rules! go {
                ($v:expr, $k:expr) => {{
                    let f: [&[T]; $k] = std::array::from_fn(|j| &frames[i + j][p0..p1]);
                    let v = std::array::from_fn(|j| &$v[i + j][p0..p1]);
                    group_dispatch(kind, sum_var, count, f, v, std::array::from_fn(|j| fw(i + j)), sums, len);
                    if want_exp {
                        add_exposure(f, v, std::array::from_fn(|j| pc.exptime(i + j)), &mut sums.sexp[..len]);
                    }
                    $k
                }};
            }
            let full = i + FRAME_GROUP <= self.n;
            i += match (var, full) {
                (FloatPlane::F32(v), true) => go!(v, FRAME_GROUP),
                (FloatPlane::F32(v), false) => go!(v, 1),
                (FloatPlane::F64(v), true) => go!(v, FRAME_GROUP),
                (FloatPlane::F64(v), false) => go!(v, 1),
            };
        }
        self.write_plane_sums(&s.psums, p0, len, kind != UNWEIGHTED, count);
    }

    /// The outputs of a block from its sums: one branch-free, vectorisable loop per output
    /// and method, each the expression of `propagate::value_of` / `variance_of` for that
    /// method (the `match` on the method is outside the loops; where no sample was used
    /// `blank` or NaN, and NaN where the weights sum to zero, are selected, so the other
    /// pixels get the same division). Rejection diagnostics keep their initial values
    /// (there is no rejection on this path).
    #[inline(always)]
    fn write_plane_sums(&self, s: &PlaneSums, p0: usize, len: usize, weighted: bool, counted: bool) {
        if !counted {
            return self.write_ivar_sums(s, p0, len);
        }
        // Safety (every slice below): block-owned pixels [p0, p0 + len), see output.rs.
        let (job, p) = (self.job, self.ptrs);
        let cnt = &s.cnt[..len];
        let (sx, sw, swx, sv, swwv) = (&s.sx[..len], &s.sw[..len], &s.swx[..len], &s.sv[..len], &s.swwv[..len]);
        let data = unsafe { p.data.slice(p0, len) };
        let ivar = job.weighting == Weighting::InverseVariance;
        let none = |default: f64| job.blank.unwrap_or(default);
        match job.method {
            Method::Mean => {
                let e = none(f64::NAN);
                for b in 0..len {
                    let v = sx[b] / cnt[b] as f64;
                    data[b] = O::from_f64(if cnt[b] == 0 { e } else { v });
                }
            }
            Method::WAvg => {
                let e = none(f64::NAN);
                for b in 0..len {
                    let v = swx[b] / sw[b];
                    data[b] = O::from_f64(if cnt[b] == 0 { e } else if sw[b] == 0.0 { f64::NAN } else { v });
                }
            }
            Method::Sum => {
                let e = none(0.0);
                let sums = if weighted { swx } else { sx };
                for b in 0..len {
                    data[b] = O::from_f64(if cnt[b] == 0 { e } else { sums[b] });
                }
            }
            _ => unreachable!("the plane stream runs mean, wavg and sum"),
        }
        if let Some(o) = p.variance {
            let out = unsafe { o.slice(p0, len) };
            match job.method {
                Method::Mean => {
                    for b in 0..len {
                        let nf = cnt[b] as f64;
                        let v = sv[b] / (nf * nf);
                        out[b] = O::from_f64(if cnt[b] == 0 { f64::NAN } else { v });
                    }
                }
                Method::WAvg if ivar => {
                    for b in 0..len {
                        let v = 1.0 / sw[b];
                        out[b] = O::from_f64(if cnt[b] == 0 || sw[b] == 0.0 { f64::NAN } else { v });
                    }
                }
                Method::WAvg => {
                    for b in 0..len {
                        let v = swwv[b] / (sw[b] * sw[b]);
                        out[b] = O::from_f64(if cnt[b] == 0 || sw[b] == 0.0 { f64::NAN } else { v });
                    }
                }
                _ => {
                    let sums = if ivar { sw } else if weighted { swwv } else { sv };
                    for b in 0..len {
                        out[b] = O::from_f64(if cnt[b] == 0 { f64::NAN } else { sums[b] });
                    }
                }
            }
        }
        if let Some(o) = p.weight {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                // unweighted: the sum of n ones, which is n exactly
                out[b] = O::from_f64(if weighted { sw[b] } else { cnt[b] as f64 });
            }
        }
        if let Some(o) = p.exposure {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = O::from_f64(s.sexp[b]);
            }
        }
        if let Some(o) = p.nused {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = cnt[b] as i32;
            }
        }
        if let Some(o) = p.oflags {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = if (cnt[b] as usize) < self.n { oflag::PREMASKED } else { 0 };
            }
        }
        if let Some(o) = p.dq {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = if cnt[b] == 0 { job.nodata_bit } else { 0 };
            }
        }
    }

    /// `write_plane_sums` for inverse-variance weights without a count: "no sample used"
    /// is Σw = 0 (every weight is > 0), the same pixels as a count of 0. Only the data,
    /// variance, weight and exposure outputs come here (the others need the count).
    #[inline(always)]
    fn write_ivar_sums(&self, s: &PlaneSums, p0: usize, len: usize) {
        // Safety (every slice below): block-owned pixels [p0, p0 + len), see output.rs.
        let (job, p) = (self.job, self.ptrs);
        let (sw, swx) = (&s.sw[..len], &s.swx[..len]);
        let data = unsafe { p.data.slice(p0, len) };
        let wavg = job.method == Method::WAvg;
        let e = job.blank.unwrap_or(if wavg { f64::NAN } else { 0.0 });
        if wavg {
            for b in 0..len {
                let v = swx[b] / sw[b];
                data[b] = O::from_f64(if sw[b] == 0.0 { e } else { v });
            }
        } else {
            for b in 0..len {
                data[b] = O::from_f64(if sw[b] == 0.0 { e } else { swx[b] });
            }
        }
        if let Some(o) = p.variance {
            let out = unsafe { o.slice(p0, len) };
            // propagate::variance_of: 1/Σw (mean), Σw (sum)
            if wavg {
                for b in 0..len {
                    let v = 1.0 / sw[b];
                    out[b] = O::from_f64(if sw[b] == 0.0 { f64::NAN } else { v });
                }
            } else {
                for b in 0..len {
                    out[b] = O::from_f64(if sw[b] == 0.0 { f64::NAN } else { sw[b] });
                }
            }
        }
        if let Some(o) = p.weight {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = O::from_f64(sw[b]);
            }
        }
        if let Some(o) = p.exposure {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = O::from_f64(s.sexp[b]);
            }
        }
    }

    #[inline(always)]
    fn write_plane_element(&self, px: usize, acc: &Acc) {
        let job = self.job;
        let pr = acc.finish(job.method, job.weighting, job.nodata_bit);
        let flags = if acc.n < self.n { oflag::PREMASKED } else { 0 };
        self.write(px, &Elem { value: self.finish_value(pr.value, acc.n), nused: acc.n, flags, diag: Diag::default() });
        self.write_products(px, &pr);
    }
}

/// `group` for the job's weighting, variance sum and count (six branch-free loops; only
/// inverse-variance weights go without the count, see `write_plane_sums`, and they never
/// sum Σw²v: their variance comes from Σw).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn group_dispatch<T: Input, V: PlaneValue, const K: usize>(
    kind: u8,
    want_var: bool,
    count: bool,
    f: [&[T]; K],
    v: [&[V]; K],
    fw: [f64; K],
    s: &mut PlaneSums,
    len: usize,
) {
    match (kind, want_var, count) {
        (UNWEIGHTED, false, _) => group::<T, V, K, UNWEIGHTED, false, true>(f, v, fw, s, len),
        (UNWEIGHTED, true, _) => group::<T, V, K, UNWEIGHTED, true, true>(f, v, fw, s, len),
        (FRAME, false, _) => group::<T, V, K, FRAME, false, true>(f, v, fw, s, len),
        (FRAME, true, _) => group::<T, V, K, FRAME, true, true>(f, v, fw, s, len),
        (_, _, true) => group::<T, V, K, IVAR, false, true>(f, v, fw, s, len),
        (_, _, false) => group::<T, V, K, IVAR, false, false>(f, v, fw, s, len),
    }
}

/// A sample of the fast loop: its value, its variance and whether both are usable (value
/// finite, variance finite and > 0: what `sample` and [`PlaneCtx::values`] accept).
///
/// The value is not turned from -0.0 into +0.0 as `sample` does: that cannot change a
/// sum here. Every sum starts at +0.0 and an IEEE sum is -0.0 only when both terms are,
/// so no sum is ever -0.0, and adding -0.0 or +0.0 to a sum that is not -0.0 gives the
/// same bits (x itself, or +0.0 when the sum is zero).
///
/// [`PlaneCtx::values`]: crate::propagate::PlaneCtx::values
#[inline(always)]
fn usable<T: Input, V: PlaneValue>(raw: T, rv: V) -> (f64, f64, bool) {
    let ok = (!T::IS_FLOAT || raw.finite()) & rv.usable();
    (raw.to_f64(), rv.f64(), ok)
}

/// K frames into the sums of `len` pixels, in frame order. Unweighted sums: count, Σx
/// (and Σv); weighted: count (unless `!COUNT`), Σw, Σwx (and Σw²v) with w = 1/v
/// (`W == IVAR`, never with Σw²v) or the frame's weight. The same operations, in the same
/// order, as [`Acc::add`].
///
/// Below the avx512 level, inverse-variance weights go in runs of [`IVAR_RUN`] pixels
/// through [`ivar_run_unchecked`], which adds every sample without testing it (the common
/// case: all usable) and writes the second set of sums (`PlaneSums::next`, which then
/// trades places with the first); a run where it meets an unusable sample is redone from
/// the untouched first set by the selecting loop. Without the per-sample selects the sums
/// took ~25 % less time at avx2 and ~37 % less at the baseline (one thread, 20 frames):
/// widening an f32 validity mask to the f64 lanes costs shuffles there.
#[inline(always)]
fn group<T: Input, V: PlaneValue, const K: usize, const W: u8, const VAR: bool, const COUNT: bool>(
    f: [&[T]; K],
    v: [&[V]; K],
    fw: [f64; K],
    s: &mut PlaneSums,
    len: usize,
) {
    const { assert!(W != IVAR || !VAR, "inverse-variance variances come from Σw") };
    if W != IVAR || !unchecked_runs() {
        group_run::<T, V, K, W, VAR, COUNT>(f, v, fw, SumsRun::of(s, 0, len));
        return;
    }
    let mut b0 = 0;
    while b0 < len {
        let b1 = (b0 + IVAR_RUN).min(len);
        let (fr, vr): ([&[T]; K], [&[V]; K]) = (std::array::from_fn(|j| &f[j][b0..b1]), std::array::from_fn(|j| &v[j][b0..b1]));
        let PlaneSums { cnt, sw, swx, next: [nw, nwx], next_cnt, .. } = &mut *s;
        let cur = IvarRun { cnt: &mut cnt[b0..b1], sw: &mut sw[b0..b1], swx: &mut swx[b0..b1] };
        let mut nxt = IvarRun { cnt: &mut next_cnt[b0..b1], sw: &mut nw[b0..b1], swx: &mut nwx[b0..b1] };
        // Whole runs only: a fixed length lets the loop vectorise without bounds checks
        // or a scalar remainder.
        let unchecked = b1 - b0 == IVAR_RUN && {
            let fx: [&[T; IVAR_RUN]; K] = std::array::from_fn(|j| fr[j].try_into().expect("a whole run"));
            let vx: [&[V; IVAR_RUN]; K] = std::array::from_fn(|j| vr[j].try_into().expect("a whole run"));
            ivar_run_unchecked::<T, V, K, COUNT>(fx, vx, &cur, &mut nxt)
        };
        #[cfg(test)]
        RUN_COUNTS.with(|c| {
            let (taken, redone) = c.get();
            c.set((taken + unchecked as usize, redone + (!unchecked && b1 - b0 == IVAR_RUN) as usize));
        });
        if !unchecked {
            nxt.copy_from::<COUNT>(&cur);
            let sums = SumsRun { cnt: nxt.cnt, sx: &mut [], sv: &mut [], sw: nxt.sw, swx: nxt.swx, swwv: &mut [] };
            group_run::<T, V, K, IVAR, false, COUNT>(fr, vr, fw, sums);
        }
        b0 = b1;
    }
    // The new sums become the current ones (the unused vectors may trade places too:
    // nothing reads them).
    let [nw, nwx] = &mut s.next;
    std::mem::swap(&mut s.cnt, &mut s.next_cnt);
    std::mem::swap(&mut s.sw, nw);
    std::mem::swap(&mut s.swx, nwx);
}

#[cfg(test)]
thread_local! {
    /// Whole runs of this thread that [`ivar_run_unchecked`] summed, and that it handed
    /// to the selecting loop (tests check that both paths run).
    pub(super) static RUN_COUNTS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// Whether inverse-variance sums go through [`ivar_run_unchecked`]: not at the avx512
/// level, where the selecting loop's selects are masked instructions that cost nothing
/// and the test made the loop 0-10 % slower (both give the same bits).
#[inline(always)]
fn unchecked_runs() -> bool {
    simd::running() < simd::Level::Avx512
}

/// Pixels per run of [`ivar_run_unchecked`] (a quarter of [`PLANE_BLOCK`]): runs of 256
/// and 1024 pixels were 5-15 % slower (per-run costs), whole blocks slower at avx2; a rare
/// unusable sample (a NaN, a zero variance) sends one run to the selecting loop.
pub(super) const IVAR_RUN: usize = 2048;
const _: () = assert!(PLANE_BLOCK % IVAR_RUN == 0);

/// The sums of pixels [b0, b1) of a block.
struct SumsRun<'s> {
    cnt: &'s mut [u32],
    sx: &'s mut [f64],
    sv: &'s mut [f64],
    sw: &'s mut [f64],
    swx: &'s mut [f64],
    swwv: &'s mut [f64],
}

impl<'s> SumsRun<'s> {
    #[inline(always)]
    fn of(s: &'s mut PlaneSums, b0: usize, b1: usize) -> Self {
        SumsRun {
            cnt: &mut s.cnt[b0..b1],
            sx: &mut s.sx[b0..b1],
            sv: &mut s.sv[b0..b1],
            sw: &mut s.sw[b0..b1],
            swx: &mut s.swx[b0..b1],
            swwv: &mut s.swwv[b0..b1],
        }
    }
}

/// The inverse-variance sums of a run.
struct IvarRun<'s> {
    cnt: &'s mut [u32],
    sw: &'s mut [f64],
    swx: &'s mut [f64],
}

impl IvarRun<'_> {
    /// The sums the job uses, copied from `src`.
    #[inline(always)]
    fn copy_from<const COUNT: bool>(&mut self, src: &IvarRun<'_>) {
        if COUNT {
            self.cnt.copy_from_slice(src.cnt);
        }
        self.sw.copy_from_slice(src.sw);
        self.swx.copy_from_slice(src.swx);
    }
}

/// Inverse-variance sums of K frames over a run, every sample added without a test; true
/// when every sample was usable, and then the sums are exactly those of the selecting
/// loop ([`group_run`] adds the same terms in the same order). False when a sample may
/// have been unusable (rarely also for usable ones, see below): the caller redoes the run.
///
/// The test costs two instructions a sample instead of the validity mask: with w = 1/v,
///
/// * a variance that is NaN, +0.0 (w = +inf) or so small that w overflows makes Σw
///   non-finite; a non-finite value with a finite w > 0 makes Σwx non-finite (an IEEE sum
///   with a non-finite term stays non-finite), so every pixel's Σw + Σwx is checked;
/// * a variance that is negative, -0.0 or ±inf gives w <= 0, and so does one so large
///   that w < `f64::MIN_POSITIVE` (only f64 variances): the sign bit of w - MIN_POSITIVE.
///
/// Usable samples can fail the test too (Σw + Σwx overflowing, f64 variances beyond
/// 4.5e307 or subnormal); they only take the slower loop.
#[inline(always)]
fn ivar_run_unchecked<T: Input, V: PlaneValue, const K: usize, const COUNT: bool>(
    f: [&[T; IVAR_RUN]; K],
    v: [&[V; IVAR_RUN]; K],
    cur: &IvarRun<'_>,
    next: &mut IvarRun<'_>,
) -> bool {
    let len = IVAR_RUN;
    let (cnt, sw, swx): (&[u32; IVAR_RUN], &[f64; IVAR_RUN], &[f64; IVAR_RUN]) = (
        (&*cur.cnt).try_into().expect("a whole run"),
        (&*cur.sw).try_into().expect("a whole run"),
        (&*cur.swx).try_into().expect("a whole run"),
    );
    let (ncnt, nsw, nswx): (&mut [u32; IVAR_RUN], &mut [f64; IVAR_RUN], &mut [f64; IVAR_RUN]) = (
        (&mut *next.cnt).try_into().expect("a whole run"),
        (&mut *next.sw).try_into().expect("a whole run"),
        (&mut *next.swx).try_into().expect("a whole run"),
    );
    // OR of the bits of every w - MIN_POSITIVE, and of every pixel's (Σw + Σwx) * 0 (+-0
    // when finite, NaN otherwise): integer reductions, which vectorise.
    let (mut small, mut nonfinite) = (0u64, 0u64);
    for b in 0..len {
        let (mut c, mut aw, mut awx) = (if COUNT { cnt[b] } else { 0 }, sw[b], swx[b]);
        for j in 0..K {
            let (x, var) = (f[j][b].to_f64(), v[j][b].f64());
            let w = 1.0 / var;
            c += 1;
            aw += w;
            awx += w * x;
            small |= (w - f64::MIN_POSITIVE).to_bits();
        }
        nonfinite |= ((aw + awx) * 0.0).to_bits();
        if COUNT {
            ncnt[b] = c;
        }
        nsw[b] = aw;
        nswx[b] = awx;
    }
    small >> 63 == 0 && nonfinite << 1 == 0
}

/// K frames into the sums of a run, each sample's terms selected by its validity (an
/// excluded sample adds +0.0, which leaves every sum bit-identical to skipping it).
#[inline(always)]
fn group_run<T: Input, V: PlaneValue, const K: usize, const W: u8, const VAR: bool, const COUNT: bool>(
    f: [&[T]; K],
    v: [&[V]; K],
    fw: [f64; K],
    s: SumsRun<'_>,
) {
    let len = s.cnt.len();
    let f: [&[T]; K] = std::array::from_fn(|j| &f[j][..len]);
    let v: [&[V]; K] = std::array::from_fn(|j| &v[j][..len]);
    let cnt = s.cnt;
    if W == UNWEIGHTED {
        let (sx, sv) = (&mut s.sx[..len], &mut s.sv[..len]);
        for b in 0..len {
            let (mut c, mut ax, mut av) = (cnt[b], sx[b], if VAR { sv[b] } else { 0.0 });
            for j in 0..K {
                let (x, var, ok) = usable(f[j][b], v[j][b]);
                c += ok as u32;
                ax += if ok { x } else { 0.0 };
                if VAR {
                    av += if ok { var } else { 0.0 };
                }
            }
            cnt[b] = c;
            sx[b] = ax;
            if VAR {
                sv[b] = av;
            }
        }
    } else {
        let (sw, swx) = (&mut s.sw[..len], &mut s.swx[..len]);
        // no Σw²v sum for inverse-variance weights (their runs pass an empty one)
        let swwv: &mut [f64] = if VAR { &mut s.swwv[..len] } else { &mut [] };
        for b in 0..len {
            let (mut c, mut aw, mut awx) = (cnt[b], sw[b], swx[b]);
            let mut awwv = if VAR { swwv[b] } else { 0.0 };
            for j in 0..K {
                let (x, var, ok) = usable(f[j][b], v[j][b]);
                let w = if W == IVAR { 1.0 / var } else { fw[j] };
                if COUNT {
                    c += ok as u32;
                }
                aw += if ok { w } else { 0.0 };
                awx += if ok { w * x } else { 0.0 };
                if VAR {
                    awwv += if ok { w * w * var } else { 0.0 };
                }
            }
            if COUNT {
                cnt[b] = c;
            }
            sw[b] = aw;
            swx[b] = awx;
            if VAR {
                swwv[b] = awwv;
            }
        }
    }
}

/// Exposure times of K frames into `sexp` (one more pass; rarely asked, never on the
/// hot path).
#[inline(always)]
fn add_exposure<T: Input, V: PlaneValue, const K: usize>(f: [&[T]; K], v: [&[V]; K], t: [f64; K], sexp: &mut [f64]) {
    for j in 0..K {
        for (b, e) in sexp.iter_mut().enumerate() {
            let (_, _, ok) = usable(f[j][b], v[j][b]);
            *e += if ok { t[j] } else { 0.0 };
        }
    }
}
