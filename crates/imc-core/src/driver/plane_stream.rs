//! A running mean, weighted mean or sum that reads planes (variance, weights, DQ) and
//! produces their products, without rejection: frames are accumulated in order into one
//! [`Acc`] per pixel, the same accumulator the element path fills with its survivors, so
//! both give the same bits.

use super::scratch::Scratch;
use super::{Ctx, Elem};
use crate::input::Input;
use crate::propagate::Acc;
use crate::real::Real;
use crate::reject::{oflag, Diag};

/// Pixels per block: the accumulators of a block stay in L2.
pub(super) const PLANE_BLOCK: usize = 2048;

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    pub(super) fn plane_stream_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
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
            let pr = acc.finish(job.method, job.weighting, job.nodata_bit);
            let flags = if acc.n < self.n { oflag::PREMASKED } else { 0 };
            self.write(p0 + b, &Elem { value: self.finish_value(pr.value, acc.n), nused: acc.n, flags, diag: Diag::default() });
            self.write_products(p0 + b, &pr);
        }
    }
}
