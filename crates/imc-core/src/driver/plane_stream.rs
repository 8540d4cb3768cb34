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
use crate::job::Weighting;
use crate::planes::FloatPlane;
use crate::propagate::{value_of, variance_of, Acc};
use crate::real::Real;
use crate::reject::{oflag, Diag};

/// Pixels per block: the accumulators of a block stay in L2.
pub(super) const PLANE_BLOCK: usize = 2048;

/// Per-pixel sums of the fast loop (structure of arrays).
#[derive(Default)]
pub(super) struct PlaneSums {
    cnt: Vec<u32>,
    sx: Vec<f64>,
    sw: Vec<f64>,
    swx: Vec<f64>,
    sv: Vec<f64>,
    swwv: Vec<f64>,
    sexp: Vec<f64>,
}

impl PlaneSums {
    pub(super) fn new(len: usize) -> Self {
        PlaneSums {
            cnt: vec![0; len],
            sx: vec![0.0; len],
            sw: vec![0.0; len],
            swx: vec![0.0; len],
            sv: vec![0.0; len],
            swwv: vec![0.0; len],
            sexp: vec![0.0; len],
        }
    }

    fn clear(&mut self, len: usize) {
        self.cnt[..len].fill(0);
        for v in [&mut self.sx, &mut self.sw, &mut self.swx, &mut self.sv, &mut self.swwv, &mut self.sexp] {
            v[..len].fill(0.0);
        }
    }
}

/// A plane value type read as f64.
trait PlaneValue: Copy {
    fn f64(self) -> f64;
}
impl PlaneValue for f32 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}
impl PlaneValue for f64 {
    #[inline(always)]
    fn f64(self) -> f64 {
        self
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

    /// The general loop: every sample classified by `sample` and the plane context.
    fn plane_stream_general(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let len = p1 - p0;
        let job = self.job;
        let Some(pc) = &self.pctx else { unreachable!("the plane stream needs planes") };
        let want_var = job.want.variance;
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
        let sums = &mut s.psums;
        sums.clear(len);
        let weighted = job.weighting != Weighting::None;
        let want_var = job.want.variance;
        let ivar = job.weighting == Weighting::InverseVariance;
        let fw = |i: usize| match job.weighting {
            Weighting::Frame => job.weights.as_ref().map_or(1.0, |w| w[i]),
            _ => 1.0,
        };
        let frames = &self.frames.data;
        let mut i = 0;
        while i < self.n {
            let k = if i + FRAME_GROUP <= self.n { FRAME_GROUP } else { 1 };
            macro_rules! go {
                ($v:expr) => {{
                    let v = $v;
                    if k == FRAME_GROUP {
                        let g = Group::<FRAME_GROUP> { ivar, w: std::array::from_fn(|j| fw(i + j)), t: std::array::from_fn(|j| pc.exptime(i + j)) };
                        let f: [&[T]; FRAME_GROUP] = std::array::from_fn(|j| &frames[i + j][p0..p1]);
                        let vv = std::array::from_fn(|j| &v[i + j][p0..p1]);
                        group_dispatch::<T, _, FRAME_GROUP>(f, vv, &g, weighted, want_var, job.want.exposure, sums);
                    } else {
                        let g = Group::<1> { ivar, w: [fw(i)], t: [pc.exptime(i)] };
                        group_dispatch::<T, _, 1>([&frames[i][p0..p1]], [&v[i][p0..p1]], &g, weighted, want_var, job.want.exposure, sums);
                    }
                }};
            }
            match var {
                FloatPlane::F32(v) => go!(v),
                FloatPlane::F64(v) => go!(v),
            }
            i += k;
        }
        self.write_plane_sums(&s.psums, p0, len, weighted);
    }

    /// The outputs of a block from its sums, one vectorisable loop per output (the same
    /// expressions as [`Acc::finish`]: `value_of`, `variance_of`). Rejection diagnostics
    /// keep their initial values (there is no rejection on this path).
    #[inline(always)]
    fn write_plane_sums(&self, s: &PlaneSums, p0: usize, len: usize, weighted: bool) {
        // Safety (every slice below): block-owned pixels [p0, p0 + len), see output.rs.
        let (job, p) = (self.job, self.ptrs);
        let (method, weighting) = (job.method, job.weighting);
        let blank = job.blank;
        let data = unsafe { p.data.slice(p0, len) };
        for b in 0..len {
            let n = s.cnt[b] as usize;
            let v = value_of(method, weighting, n, s.sx[b], s.sw[b], s.swx[b]);
            data[b] = O::from_f64(match blank {
                Some(x) if n == 0 => x,
                _ => v,
            });
        }
        if let Some(o) = p.variance {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = O::from_f64(variance_of(method, weighting, s.cnt[b] as usize, s.sv[b], s.sw[b], s.swwv[b], 0.0));
            }
        }
        if let Some(o) = p.weight {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                // unweighted: the sum of n ones, which is n exactly
                out[b] = O::from_f64(if weighted { s.sw[b] } else { s.cnt[b] as f64 });
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
                out[b] = s.cnt[b] as i32;
            }
        }
        if let Some(o) = p.oflags {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = if (s.cnt[b] as usize) < self.n { oflag::PREMASKED } else { 0 };
            }
        }
        if let Some(o) = p.dq {
            let out = unsafe { o.slice(p0, len) };
            for b in 0..len {
                out[b] = if s.cnt[b] == 0 { job.nodata_bit } else { 0 };
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

/// Per-frame constants of a group of frames.
struct Group<const K: usize> {
    ivar: bool,
    /// Per-frame weights (1 without per-frame weighting).
    w: [f64; K],
    t: [f64; K],
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn group_dispatch<T: Input, V: PlaneValue, const K: usize>(
    f: [&[T]; K],
    v: [&[V]; K],
    g: &Group<K>,
    weighted: bool,
    want_var: bool,
    want_exp: bool,
    s: &mut PlaneSums,
) {
    match (weighted, want_var) {
        (false, false) => group::<T, V, K, false, false>(f, v, g, want_exp, s),
        (false, true) => group::<T, V, K, false, true>(f, v, g, want_exp, s),
        (true, false) => group::<T, V, K, true, false>(f, v, g, want_exp, s),
        (true, true) => group::<T, V, K, true, true>(f, v, g, want_exp, s),
    }
}

/// K frames into the sums, in frame order: x valid when finite, v when finite and > 0.
/// Unweighted sums need Σx (and Σv); weighted ones Σw, Σwx (and Σw²v).
#[inline(always)]
fn group<T: Input, V: PlaneValue, const K: usize, const WEIGHTED: bool, const VAR: bool>(
    f: [&[T]; K],
    v: [&[V]; K],
    g: &Group<K>,
    want_exp: bool,
    s: &mut PlaneSums,
) {
    let len = s.cnt.len().min(f[0].len());
    let f: [&[T]; K] = std::array::from_fn(|j| &f[j][..len]);
    let v: [&[V]; K] = std::array::from_fn(|j| &v[j][..len]);
    let (cnt, sx, sw, swx) = (&mut s.cnt[..len], &mut s.sx[..len], &mut s.sw[..len], &mut s.swx[..len]);
    let (sv, swwv) = (&mut s.sv[..len], &mut s.swwv[..len]);
    for b in 0..len {
        let (mut c, mut ax, mut aw, mut awx, mut av, mut awwv) = (cnt[b], sx[b], sw[b], swx[b], sv[b], swwv[b]);
        for j in 0..K {
            let x = f[j][b].to_f64() + 0.0; // -0.0 -> +0.0, as `sample` does
            let var = v[j][b].f64();
            let ok = (!T::IS_FLOAT || x.is_finite()) & var.is_finite() & (var > 0.0);
            c += ok as u32;
            if WEIGHTED {
                let w = if g.ivar { 1.0 / var } else { g.w[j] };
                aw += if ok { w } else { 0.0 };
                awx += if ok { w * x } else { 0.0 };
                if VAR {
                    awwv += if ok { w * w * var } else { 0.0 };
                }
            } else {
                ax += if ok { x } else { 0.0 };
                if VAR {
                    av += if ok { var } else { 0.0 };
                }
            }
        }
        cnt[b] = c;
        if WEIGHTED {
            sw[b] = aw;
            swx[b] = awx;
            if VAR {
                swwv[b] = awwv;
            }
        } else {
            sx[b] = ax;
            if VAR {
                sv[b] = av;
            }
        }
    }
    if want_exp {
        // exposure times: one more pass (rarely asked, never on the hot path)
        let sexp = &mut s.sexp[..len];
        for j in 0..K {
            for b in 0..len {
                let x = f[j][b].to_f64();
                let var = v[j][b].f64();
                let ok = (!T::IS_FLOAT || x.is_finite()) & var.is_finite() & (var > 0.0);
                sexp[b] += if ok { g.t[j] } else { 0.0 };
            }
        }
    }
}
