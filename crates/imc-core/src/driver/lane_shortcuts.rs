//! Whole-block shortcuts of the vertical path for a lone rejector.
//!
//! After a block's lanes (pixels) are sorted by the network, a lone SigClip, MinMaxClip or
//! PClip can often be decided for all 64 lanes at once with the same f64 operations, in the
//! same order, as the per-element code. Each shortcut fills `pass_ok` / `pass_lo` /
//! `pass_hi` and the diagnostics; lanes it cannot decide (`pass_ok == false`) go through
//! the per-element rejector chain as before.

use super::scratch::Scratch;
use super::{Ctx, LoneRejector};
use crate::network::LANES;
use crate::input::Input;
use crate::real::Real;
use crate::reject::minmax::drop_counts;
use crate::reject::keep_count;
use crate::reject::lanes::{self, LanePass};
use crate::reject::pclip::spread_slot;
use crate::reject::sigclip::sum_sq_about;

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Sorted value `k` of lane `b`.
    #[inline(always)]
    fn lane_at(&self, s: &Scratch, k: usize, b: usize) -> f64 {
        if self.lane32 { s.rows32[k * LANES + b] as f64 } else { s.rows[k * LANES + b] }
    }

    /// Per lane of a block of complete lanes, into `s.acc`: sorted rows k0 and k1 (k1 = k0
    /// or k0 + 1) averaged when they differ -- the median (k0 = (n-1)/2, k1 = n/2), lower
    /// median, minimum or maximum with the expressions of `reject::median_of_some`.
    #[inline(always)]
    pub(super) fn pick_rows(&self, s: &mut Scratch, k0: usize, k1: usize, len: usize) {
        if self.lane32 {
            pick_rows(&s.rows32, k0, k1, &mut s.acc[..len]);
        } else {
            pick_rows(&s.rows, k0, k1, &mut s.acc[..len]);
        }
    }

    /// Whether every lane of the block holds n valid samples (invalid ones sort as +inf).
    #[inline(always)]
    fn lanes_complete(&self, s: &Scratch, len: usize) -> bool {
        let n = self.n;
        (0..len).all(|b| self.lane_at(s, n - 1, b) != f64::INFINITY)
    }

    /// Vectorised first pass of a lone median-centred, std-spread SigClip (spread about the
    /// median or the mean) over a block whose
    /// lanes are all complete: the same operations, in the same order, as the per-element
    /// pass (`reject::sigclip::centre_spread`), for 64 pixels at once. Lanes whose first
    /// pass rejects nothing (most of them) are finished here; the others start again on
    /// the per-element path. Returns false when the shortcut does not apply.
    #[inline(always)]
    pub(super) fn sigclip_first_pass(&self, s: &mut Scratch, len: usize) -> bool {
        let Some(LoneRejector::SigClip { sigma_lo, sigma_hi, ddof, about }) = self.lone else { return false };
        let (n, lanes) = (self.n, LANES);
        if n < 2 || n <= ddof as usize || !self.lanes_complete(s, len) {
            return false;
        }
        let at = |s: &Scratch, k: usize, b: usize| self.lane_at(s, k, b);
        self.pick_rows(s, (n - 1) / 2, n / 2, len);
        s.pass_med[..len].copy_from_slice(&s.acc[..len]);
        // Taken out of the scratch for the loop so the rows can be read alongside.
        let mut acc = std::mem::take(&mut s.pass_acc);
        let full = n / 4 * 4;
        if self.lane32 {
            first_pass_sums(&s.rows32, full, len, &s.pass_med, &mut acc);
        } else {
            first_pass_sums(&s.rows, full, len, &s.pass_med, &mut acc);
        }
        let nf = n as f64;
        for b in 0..len {
            let a = |j: usize| acc[j * lanes + b];
            let mut sa = (a(0) + a(1)) + (a(2) + a(3));
            let mut sb = (a(4) + a(5)) + (a(6) + a(7));
            for k in full..n {
                let d = at(s, k, b) - s.pass_med[b];
                sa += d;
                sb += d * d;
            }
            let c = s.pass_med[b];
            let sd = (sum_sq_about(sa, sb, nf, about) / (n - ddof as usize) as f64).sqrt();
            let (low, upp) = (c - sigma_lo * sd, c + sigma_hi * sd);
            s.pass_std[b] = sd;
            s.pass_low[b] = low;
            s.pass_upp[b] = upp;
            s.pass_lo[b] = 0;
            s.pass_hi[b] = n;
            s.pass_ok[b] = sd.is_finite() && c.is_finite() && at(s, 0, b) >= low && at(s, n - 1, b) <= upp;
        }
        s.pass_acc = acc;
        true
    }

    /// The first pass of a lone WinsorizedSigClip, GESDClip or LinearFitClip over a block
    /// whose lanes are all complete (`reject::lanes`): lanes it decides keep all n samples.
    /// Returns false when the shortcut does not apply.
    #[inline(always)]
    pub(super) fn modern_first_pass(&self, s: &mut Scratch, len: usize) -> bool {
        let Some(LoneRejector::Modern) = self.lone else { return false };
        let (n, p) = (self.n, &self.prepared[0]);
        if !lanes::applies(p, n) || !self.lanes_complete(s, len) {
            return false;
        }
        let out = LanePass { ok: &mut s.pass_ok, std: &mut s.pass_std, low: &mut s.pass_low, upp: &mut s.pass_upp };
        if self.lane32 {
            lanes::first_pass(p, &s.rows32, n, len, out);
        } else {
            lanes::first_pass(p, &s.rows, n, len, out);
        }
        s.pass_lo[..len].fill(0);
        s.pass_hi[..len].fill(n);
        true
    }

    /// A lone MinMaxClip over a block whose lanes are all complete: every lane keeps the
    /// same sorted window; lanes whose window edges cut no run of equal values are decided
    /// here. Returns false when the shortcut does not apply.
    #[inline(always)]
    pub(super) fn minmax_complete_lanes(&self, s: &mut Scratch, len: usize) -> bool {
        let Some(LoneRejector::MinMax { frac_lo: f_lo, frac_hi: f_hi }) = self.lone else { return false };
        let n = self.n;
        if !self.lanes_complete(s, len) {
            return false;
        }
        let at = |s: &Scratch, k: usize, b: usize| self.lane_at(s, k, b);
        let k = drop_counts(f_lo, f_hi, n);
        if k.low + k.high >= n {
            return false;
        }
        let (lo, hi) = (k.low, n - k.high);
        for b in 0..len {
            let clean_lo = lo == 0 || at(s, lo - 1, b) != at(s, lo, b);
            let clean_hi = hi == n || at(s, hi - 1, b) != at(s, hi, b);
            s.pass_ok[b] = clean_lo && clean_hi;
            s.pass_lo[b] = lo;
            s.pass_hi[b] = hi;
            s.pass_std[b] = f64::NAN;
            s.pass_low[b] = at(s, lo, b);
            s.pass_upp[b] = at(s, hi - 1, b);
        }
        true
    }

    /// A lone PClip over a block whose lanes are all complete (`reject::pclip::apply` for
    /// 64 lanes at once). Its single pass rejects a prefix and a suffix of the sorted
    /// samples: correctly rounded division by a positive spread is monotone, so the
    /// per-element `while` loops stop exactly after the samples counted here. Lanes that
    /// would need the nkeep add-back go through the per-element path.
    #[inline(always)]
    pub(super) fn pclip_complete_lanes(&self, s: &mut Scratch, len: usize) -> bool {
        let Some(LoneRejector::PClip { offset: p, sigma_lo, sigma_hi, nkeep }) = self.lone else { return false };
        let n = self.n;
        let keep = keep_count(nkeep, n);
        if n < 3.max(keep + 1) || !self.lanes_complete(s, len) {
            return false;
        }
        let slot = spread_slot(p, n) - 1;
        let sign = p.signum() as f64;
        self.pick_rows(s, (n - 1) / 2, n / 2, len);
        for b in 0..len {
            let med = s.acc[b];
            let sigma = sign * (self.lane_at(s, slot, b) - med);
            s.pass_med[b] = med;
            // Spread used for the tests below (NaN or <= 0: nothing is rejected).
            s.pass_std[b] = sigma;
            s.pass_low[b] = med - sigma_lo * sigma;
            s.pass_upp[b] = med + sigma_hi * sigma;
            s.pass_lo[b] = 0;
            s.pass_hi[b] = 0; // counts samples at the high end for now
        }
        for k in 0..n {
            for b in 0..len {
                let x = self.lane_at(s, k, b);
                let (med, sigma) = (s.pass_med[b], s.pass_std[b]);
                s.pass_lo[b] += ((med - x) / sigma >= sigma_lo) as usize;
                s.pass_hi[b] += ((x - med) / sigma >= sigma_hi) as usize;
            }
        }
        for b in 0..len {
            let sigma = s.pass_std[b];
            let (lo, hi) = if sigma > 0.0 {
                let lo = s.pass_lo[b];
                (lo, n - s.pass_hi[b].min(n - lo))
            } else {
                (0, n)
            };
            s.pass_lo[b] = lo;
            s.pass_hi[b] = hi;
            // PClip reports no std; fewer than nkeep survivors need the add-back (and the
            // shortcut never decides an empty window).
            s.pass_std[b] = f64::NAN;
            s.pass_ok[b] = hi - lo >= keep.max(1);
        }
        true
    }
}

/// Per lane: `rows[k0]`, or the mean of rows k0 and k1 when they differ (the median of an
/// even count, `0.5 * (x0 + x1)` as `reject::median_of_some` computes it).
#[inline(always)]
fn pick_rows<L: Real>(rows: &[L], k0: usize, k1: usize, out: &mut [f64]) {
    let len = out.len();
    let r0 = &rows[k0 * LANES..k0 * LANES + len];
    if k0 == k1 {
        for (o, &x) in out.iter_mut().zip(r0) {
            *o = x.to_f64();
        }
    } else {
        let r1 = &rows[k1 * LANES..k1 * LANES + len];
        for ((o, &x), &y) in out.iter_mut().zip(r0).zip(r1) {
            *o = 0.5 * (x.to_f64() + y.to_f64());
        }
    }
}

/// The four interleaved accumulators of `reject::sigclip::sum_dev` over whole windows: for
/// sorted rows k < `full`, Σd into `acc[k % 4]` and Σd² into `acc[4 + k % 4]` (d = x - med).
#[inline(always)]
fn first_pass_sums<L: Real>(rows: &[L], full: usize, len: usize, med: &[f64], acc: &mut [f64]) {
    acc.fill(0.0);
    let med = &med[..len];
    for k in 0..full {
        let row = &rows[k * LANES..k * LANES + len];
        let (sums, rest) = acc.split_at_mut(4 * LANES);
        let j = k % 4;
        let a = &mut sums[j * LANES..j * LANES + len];
        let a2 = &mut rest[j * LANES..j * LANES + len];
        for b in 0..len {
            let d = row[b].to_f64() - med[b];
            a[b] += d;
            a2[b] += d * d;
        }
    }
}
