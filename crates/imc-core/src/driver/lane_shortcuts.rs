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
use crate::reject::{keep_count, median_at, median_sorted, oflag};
use crate::reject::lanes::{self, LanePass};
use crate::reject::pclip::spread_slot;
use crate::reject::sigclip::{sum_dev, sum_sq_about, SpreadAbout};

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Sorted value `k` of lane `b`.
    #[inline(always)]
    fn lane_at(&self, s: &Scratch, k: usize, b: usize) -> f64 {
        if self.lane32 { s.rows32[k * LANES + b] as f64 } else { s.rows[k * LANES + b] }
    }

    /// The number of leading sorted rows of lane b for which `pred` holds, for a `pred`
    /// that holds on a prefix of the sorted values (a binary search).
    #[inline(always)]
    fn lane_partition(&self, s: &Scratch, b: usize, pred: impl Fn(f64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.lane_at(s, mid, b)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
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
        // A fold over the last row, not `all`: no early exit, so it vectorises.
        if self.lane32 {
            lanes::row(&s.rows32, n - 1, len).iter().fold(true, |ok, &x| ok & (x < f32::INFINITY))
        } else {
            lanes::row(&s.rows, n - 1, len).iter().fold(true, |ok, &x| ok & (x < f64::INFINITY))
        }
    }

    /// A lone median-centred, std-spread SigClip (spread about the median or the mean)
    /// over a block whose lanes are all complete, every pass for all 64 lanes at once:
    /// the same f64 operations, in the same order, as the per-element loop
    /// (`reject::iterate` with `reject::sigclip::centre_spread`). Each pass sums the
    /// deviations of every lane's window with masked adds into accumulators indexed by
    /// the absolute row mod 4; a window starting at row `lo` reads them rotated by
    /// `lo % 4`, which gives each of `sum_dev`'s four accumulators exactly its own adds
    /// in its own order. Lanes whose pass would break nkeep / maxrej (or empty the
    /// window) are left to the per-element path (`pass_ok` false). Returns false when the
    /// shortcut does not apply.
    #[inline(always)]
    pub(super) fn sigclip_lanes(&self, s: &mut Scratch, len: usize) -> bool {
        let Some(LoneRejector::SigClip { sigma_lo, sigma_hi, ddof, about, maxiters, limits }) = self.lone else { return false };
        let (n, lanes) = (self.n, LANES);
        let ddof = ddof as usize;
        if n < 2 || n <= ddof || !self.lanes_complete(s, len) {
            return false;
        }
        let at = |s: &Scratch, k: usize, b: usize| self.lane_at(s, k, b);
        // The reject budget of `reject::iterate_dev` (all n samples valid).
        let keep = keep_count(limits.nkeep, n);
        let allowed = match limits.maxrej {
            Some(m) => (n - keep).min(m.min(n as u64) as usize),
            None => n - keep,
        };
        // Pass 1 for every lane at once: each window is all n rows.
        self.sigclip_first_pass(s, len, sigma_lo, sigma_hi, ddof, about);
        s.pass_lo[..len].fill(0);
        s.pass_hi[..len].fill(n);
        s.pass_ok[..len].fill(true);
        s.pass_active[..len].fill(false);
        s.pass_nit[..len].fill(1);
        s.pass_flags[..len].fill(0);
        // Lanes whose first pass rejected (`reject::iterate` from there): few, one by one,
        // found from a bit mask (no branch per lane).
        let mut rejecting = self.first_pass_rejects(s, len);
        while rejecting != 0 {
            let b = rejecting.trailing_zeros() as usize;
            rejecting &= rejecting - 1;
            let (low, upp) = (s.pass_low[b], s.pass_upp[b]);
            // The inward `while` loops of `reject::side`.
            let mut l = 0;
            while l < n && at(s, l, b) < low {
                l += 1;
            }
            let mut h = n;
            while h > l && at(s, h - 1, b) > upp {
                h -= 1;
            }
            let k = l + (n - h);
            if k > allowed || h == l {
                // nkeep / maxrej (or an empty window): the per-element path.
                s.pass_ok[b] = false;
                continue;
            }
            s.pass_lo[b] = l;
            s.pass_hi[b] = h;
            s.pass_nit[b] = 2;
            if maxiters == 1 {
                s.pass_flags[b] |= oflag::MAXITERS;
            }
            s.pass_active[b] = true;
        }
        // Small N and few lanes left: each one's later passes on its own column.
        if n <= COLUMN_PASSES_MAX_N && s.pass_active[..len].iter().filter(|&&a| a).count() * 4 <= len {
            let p = LanePasses { n, sigma_lo, sigma_hi, ddof, about, maxiters, allowed };
            for b in 0..len {
                if s.pass_active[b] {
                    self.sigclip_column_passes(s, b, &p);
                }
            }
            return true;
        }
        // Taken out of the scratch for the loop so the rows can be read alongside.
        let mut acc = std::mem::take(&mut s.pass_acc);
        for it in 2..=maxiters {
            // Window medians and the rows of each window's whole groups of four.
            let (mut k0, mut k1) = (n, 0);
            let active = s.pass_active[..len].iter().filter(|&&a| a).count();
            if active == 0 {
                break;
            }
            // Few lanes left (late passes): sum each one's column alone rather than every
            // row of the block.
            let by_lane = active * 4 <= len;
            for b in 0..len {
                if !s.pass_active[b] {
                    (s.pass_wlo[b], s.pass_wend[b]) = (0.0, 0.0);
                    continue;
                }
                let (lo, hi) = (s.pass_lo[b], s.pass_hi[b]);
                let end = lo + (hi - lo) / 4 * 4;
                s.pass_med[b] = median_at(hi - lo, |k| at(s, lo + k, b));
                (s.pass_wlo[b], s.pass_wend[b]) = (lo as f64, end as f64);
                k0 = k0.min(lo);
                k1 = k1.max(end);
            }
            if by_lane {
                (k0, k1) = (0, 0);
            }
            // Lanes past the end of the image: empty windows.
            s.pass_wlo[len..].fill(0.0);
            s.pass_wend[len..].fill(0.0);
            if self.lane32 {
                window_sums(&s.rows32, n, k0, k1, len, &s.pass_med, &s.pass_wlo, &s.pass_wend, &mut acc);
            } else {
                window_sums(&s.rows, n, k0, k1, len, &s.pass_med, &s.pass_wlo, &s.pass_wend, &mut acc);
            }
            for b in 0..len {
                if !s.pass_active[b] {
                    continue;
                }
                let (lo, hi) = (s.pass_lo[b], s.pass_hi[b]);
                let nw = hi - lo;
                // `centre_spread` gives no pass for a window of at most ddof samples.
                if nw <= ddof {
                    s.pass_active[b] = false;
                    continue;
                }
                let c = s.pass_med[b];
                let (mut sa, mut sb) = if by_lane {
                    // `sum_dev` itself on lane b's column.
                    let (mut a, mut a2) = ([0.0f64; 4], [0.0f64; 4]);
                    for k in lo..lo + nw / 4 * 4 {
                        let d = at(s, k, b) - c;
                        a[(k - lo) % 4] += d;
                        a2[(k - lo) % 4] += d * d;
                    }
                    ((a[0] + a[1]) + (a[2] + a[3]), (a2[0] + a2[1]) + (a2[2] + a2[3]))
                } else {
                    let a = |j: usize| acc[(j + lo) % 4 * lanes + b];
                    let a2 = |j: usize| acc[(4 + (j + lo) % 4) * lanes + b];
                    ((a(0) + a(1)) + (a(2) + a(3)), (a2(0) + a2(1)) + (a2(2) + a2(3)))
                };
                for k in lo + nw / 4 * 4..hi {
                    let d = at(s, k, b) - c;
                    sa += d;
                    sb += d * d;
                }
                let sd = (sum_sq_about(sa, sb, nw as f64, about) / (nw - ddof) as f64).sqrt();
                if !(sd.is_finite() && c.is_finite()) {
                    s.pass_active[b] = false;
                    continue;
                }
                let (low, upp) = (c - sigma_lo * sd, c + sigma_hi * sd);
                s.pass_std[b] = sd;
                s.pass_low[b] = low;
                s.pass_upp[b] = upp;
                // Reject inward from both ends (`reject::side`).
                let (mut l, mut h) = (lo, hi);
                while l < h && at(s, l, b) < low {
                    l += 1;
                }
                while h > l && at(s, h - 1, b) > upp {
                    h -= 1;
                }
                let k = (l - lo) + (hi - h);
                if k == 0 {
                    s.pass_active[b] = false;
                    continue;
                }
                if (n - nw) + k > allowed || h == l {
                    // nkeep / maxrej (or an empty window): the per-element path.
                    s.pass_ok[b] = false;
                    s.pass_active[b] = false;
                    continue;
                }
                s.pass_lo[b] = l;
                s.pass_hi[b] = h;
                s.pass_nit[b] = s.pass_nit[b].saturating_add(1);
                if it == maxiters {
                    s.pass_flags[b] |= oflag::MAXITERS;
                }
            }
        }
        s.pass_acc = acc;
        true
    }

    /// Bit b set when the first SigClip pass (bounds `pass_low` / `pass_upp`) rejects a
    /// sample of lane b. Sorted lanes: a pass rejects nothing when both extremes lie
    /// within its bounds (NaN bounds, where the pass gives none, reject nothing either).
    #[inline(always)]
    fn first_pass_rejects(&self, s: &Scratch, len: usize) -> u64 {
        let n = self.n;
        let (low, upp) = (&s.pass_low[..len], &s.pass_upp[..len]);
        let mut hit = [0u8; LANES];
        // The comparisons of the f64 values, for all lanes at once (vectorised).
        if self.lane32 {
            let (first, last) = (lanes::row(&s.rows32, 0, len), lanes::row(&s.rows32, n - 1, len));
            for b in 0..len {
                hit[b] = ((first[b] as f64) < low[b]) as u8 | ((last[b] as f64) > upp[b]) as u8;
            }
        } else {
            let (first, last) = (lanes::row(&s.rows, 0, len), lanes::row(&s.rows, n - 1, len));
            for b in 0..len {
                hit[b] = (first[b] < low[b]) as u8 | (last[b] > upp[b]) as u8;
            }
        }
        lane_bits(&hit)
    }

    /// SigClip passes 2.. of lane b (active after pass 1) on a copy of its sorted column:
    /// `reject::iterate` with `reject::sigclip::centre_spread` on the window [pass_lo,
    /// pass_hi) (the same functions on the same values, so the same bits); updates the
    /// lane's window, nit, flags, spread and bounds, or clears `pass_ok` where the per-element
    /// path must decide (nkeep / maxrej, an empty window).
    #[inline(always)]
    fn sigclip_column_passes(&self, s: &mut Scratch, b: usize, p: &LanePasses) {
        let n = p.n;
        let mut col = std::mem::take(&mut s.sorted);
        col.clear();
        if self.lane32 {
            col.extend(s.rows32[b..].iter().step_by(LANES).take(n).map(|&x| x as f64));
        } else {
            col.extend(s.rows[b..].iter().step_by(LANES).take(n).copied());
        }
        let (mut lo, mut hi) = (s.pass_lo[b], s.pass_hi[b]);
        for it in 2..=p.maxiters {
            let nw = hi - lo;
            if nw <= p.ddof {
                break;
            }
            let w = &col[lo..hi];
            let c = median_sorted(w);
            let (sa, sb) = sum_dev(w, c);
            let sd = (sum_sq_about(sa, sb, nw as f64, p.about) / (nw - p.ddof) as f64).sqrt();
            if !(sd.is_finite() && c.is_finite()) {
                break;
            }
            let (low, upp) = (c - p.sigma_lo * sd, c + p.sigma_hi * sd);
            (s.pass_std[b], s.pass_low[b], s.pass_upp[b]) = (sd, low, upp);
            // Reject inward from both ends (`reject::side`).
            let (mut l, mut h) = (lo, hi);
            while l < h && col[l] < low {
                l += 1;
            }
            while h > l && col[h - 1] > upp {
                h -= 1;
            }
            let k = (l - lo) + (hi - h);
            if k == 0 {
                break;
            }
            if (n - nw) + k > p.allowed || h == l {
                s.pass_ok[b] = false;
                break;
            }
            (lo, hi) = (l, h);
            s.pass_nit[b] = s.pass_nit[b].saturating_add(1);
            if it == p.maxiters {
                s.pass_flags[b] |= oflag::MAXITERS;
            }
        }
        (s.pass_lo[b], s.pass_hi[b]) = (lo, hi);
        s.pass_active[b] = false;
        s.sorted = col;
    }

    /// The first SigClip pass of every lane of a block of complete lanes (window: all n
    /// sorted rows): the spread and bounds into `pass_std` / `pass_low` / `pass_upp` (NaN
    /// where the pass gives none).
    #[inline(always)]
    fn sigclip_first_pass(&self, s: &mut Scratch, len: usize, sigma_lo: f64, sigma_hi: f64, ddof: usize, about: SpreadAbout) {
        let p = FirstPass { n: self.n, sigma_lo, sigma_hi, ddof, about };
        let out = (&mut s.pass_std[..], &mut s.pass_low[..], &mut s.pass_upp[..]);
        if self.lane32 {
            sigclip_first_pass(&s.rows32, len, &p, out);
        } else {
            sigclip_first_pass(&s.rows, len, &p, out);
        }
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
        // One pass that rejected nothing: nit 1, no flags.
        s.pass_nit[..len].fill(1);
        s.pass_flags[..len].fill(0);
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
            s.pass_nit[b] = 1;
            s.pass_flags[b] = 0;
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
        for b in 0..len {
            let (med, sigma) = (s.pass_med[b], s.pass_std[b]);
            if !(sigma > 0.0) {
                continue; // nothing is rejected (below)
            }
            // The lane is sorted, and IEEE subtraction and division by a positive number are
            // monotone: (med - x) / sigma falls and (x - med) / sigma rises with x, so the
            // samples each test rejects are a prefix and a suffix. Two binary searches give
            // the counts the per-sample tests give, without a division per sample.
            s.pass_lo[b] = self.lane_partition(s, b, |x| (med - x) / sigma >= sigma_lo);
            s.pass_hi[b] = n - self.lane_partition(s, b, |x| !((x - med) / sigma >= sigma_hi));
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
            s.pass_nit[b] = 1;
            s.pass_flags[b] = 0;
        }
        true
    }
}

/// Flags of 0 / 1 per lane packed into bits (lane b -> bit b), eight lanes per multiply:
/// with byte j of `x` holding b_j, the top byte of `x * 0x0102_0408_1020_4080` is
/// Σ b_j 2^j (every partial product lands on its own bit, so nothing carries into it).
#[inline(always)]
fn lane_bits(flags: &[u8; LANES]) -> u64 {
    const _: () = assert!(LANES == 64);
    let mut bits = 0u64;
    for (g, chunk) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap());
        bits |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * g);
    }
    bits
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

/// The four interleaved accumulators of `reject::sigclip::sum_dev`, per lane over the
/// sorted rows `wlo[b] <= k < wend[b]` (a window's whole groups of four): Σd into
/// `acc[k % 4]` and Σd² into `acc[4 + k % 4]` (d = x - med), rows `k0..k1` visited.
/// Rows outside a lane's window add +0.0, which leaves its sums bit-identical (they start
/// at +0.0 and d is never -0.0, so no accumulator ever holds -0.0). Eight lanes at a time
/// with their accumulators in registers; lanes `>= len` must have an empty window.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn window_sums<L: Real>(rows: &[L], n: usize, k0: usize, k1: usize, len: usize, med: &[f64], wlo: &[f64], wend: &[f64], acc: &mut [f64]) {
    for o in (0..len.div_ceil(8) * 8).step_by(8) {
        let m: &[f64; 8] = med[o..o + 8].try_into().unwrap();
        let lo: &[f64; 8] = wlo[o..o + 8].try_into().unwrap();
        let end: &[f64; 8] = wend[o..o + 8].try_into().unwrap();
        let mut a = [[0.0f64; 8]; 4];
        let mut a2 = [[0.0f64; 8]; 4];
        let mut c = k0 / 4 * 4;
        while c < k1 {
            for j in 0..4 {
                let k = c + j;
                // Rows past the last (k >= n) lie outside every window: read any row.
                let row: &[L; 8] = rows[k.min(n - 1) * LANES + o..][..8].try_into().unwrap();
                let kf = k as f64;
                for b in 0..8 {
                    // d, or +0.0 outside the window (a bitwise select: no branches).
                    let inside = ((kf >= lo[b]) & (kf < end[b])) as u64;
                    let d = f64::from_bits((row[b].to_f64() - m[b]).to_bits() & inside.wrapping_neg());
                    a[j][b] += d;
                    a2[j][b] += d * d;
                }
            }
            c += 4;
        }
        for j in 0..4 {
            acc[j * LANES + o..][..8].copy_from_slice(&a[j]);
            acc[(4 + j) * LANES + o..][..8].copy_from_slice(&a2[j]);
        }
    }
}

/// Largest N whose SigClip passes after the first run lane by lane on a copy of the
/// column when few lanes are left (above it, as sums over the block's rows).
const COLUMN_PASSES_MAX_N: usize = 64;

/// The parameters of a SigClip's passes after the first on one lane.
struct LanePasses {
    n: usize,
    sigma_lo: f64,
    sigma_hi: f64,
    ddof: usize,
    about: SpreadAbout,
    maxiters: u32,
    /// How many samples the rejector may remove (nkeep / maxrej).
    allowed: usize,
}

/// The parameters of a SigClip's first pass over whole lanes.
struct FirstPass {
    n: usize,
    sigma_lo: f64,
    sigma_hi: f64,
    ddof: usize,
    about: SpreadAbout,
}

/// Lanes handled together by [`sigclip_first_pass`], their sums in registers.
const GROUP: usize = 8;

/// The first pass of a median-centred std SigClip over the n sorted rows of every lane,
/// eight lanes at a time with their sums in registers: the same f64 operations, in the
/// same order, as `reject::sigclip::centre_spread` on the whole column (`median_at`'s
/// median m; Σd and Σd² of d = x - m in `sum_dev`'s order: ranks below n/4*4 into four
/// interleaved accumulators added as (a0 + a1) + (a2 + a3), then the other ranks in
/// order), then the spread and the bounds (NaN when the pass gives none: no finite
/// centre and spread). Lanes `len..` up to the next multiple of eight are computed too
/// (on the +inf padding) and never read.
#[inline(always)]
fn sigclip_first_pass<L: Real>(rows: &[L], len: usize, p: &FirstPass, out: (&mut [f64], &mut [f64], &mut [f64])) {
    let (std, low, upp) = out;
    let n = p.n;
    let (nf, denom) = (n as f64, (n - p.ddof) as f64);
    let full = n / 4 * 4;
    // Rows as groups of eight lanes: group g of row k is groups[k * LANES / GROUP + g].
    let (groups, _) = rows.as_chunks::<GROUP>();
    for g in 0..len.div_ceil(GROUP) {
        let o = g * GROUP;
        let r = |k: usize| -> [f64; GROUP] { groups[k * (LANES / GROUP) + g].map(|x| x.to_f64()) };
        let m: [f64; GROUP] = if n % 2 == 1 {
            r(n / 2)
        } else {
            let (x, y) = (r(n / 2 - 1), r(n / 2));
            std::array::from_fn(|b| 0.5 * (x[b] + y[b]))
        };
        // `sum_dev`'s accumulator j takes the ranks j, j + 4, ... below `full`: summed one
        // accumulator at a time (each gets its own adds in its own order), so that one
        // pair of them, not four, is held in registers (16 at SSE2 would spill).
        let mut a = [[0.0f64; GROUP]; 4];
        let mut q = [[0.0f64; GROUP]; 4];
        for j in 0..4 {
            let (mut aj, mut qj) = ([0.0f64; GROUP], [0.0f64; GROUP]);
            for k in (j..full).step_by(4) {
                let x = r(k);
                for b in 0..GROUP {
                    let d = x[b] - m[b];
                    aj[b] += d;
                    qj[b] += d * d;
                }
            }
            (a[j], q[j]) = (aj, qj);
        }
        let mut s1: [f64; GROUP] = std::array::from_fn(|b| (a[0][b] + a[1][b]) + (a[2][b] + a[3][b]));
        let mut s2: [f64; GROUP] = std::array::from_fn(|b| (q[0][b] + q[1][b]) + (q[2][b] + q[3][b]));
        for k in full..n {
            let x = r(k);
            for b in 0..GROUP {
                let d = x[b] - m[b];
                s1[b] += d;
                s2[b] += d * d;
            }
        }
        // Σ(x - a)² per lane, the spread centre's match outside the loop (so it vectorises).
        let ssq: [f64; GROUP] = match p.about {
            SpreadAbout::Median => s2,
            SpreadAbout::Mean => std::array::from_fn(|b| sum_sq_about(s1[b], s2[b], nf, SpreadAbout::Mean)),
            about => std::array::from_fn(|b| sum_sq_about(s1[b], s2[b], nf, about)),
        };
        let (mut sds, mut lo, mut hi) = ([0.0f64; GROUP], [0.0f64; GROUP], [0.0f64; GROUP]);
        for b in 0..GROUP {
            let sd = (ssq[b] / denom).sqrt();
            let c = m[b];
            // `f64::is_finite` as a comparison (NaN fails it), which vectorises.
            let ok = (sd.abs() < f64::INFINITY) & (c.abs() < f64::INFINITY);
            sds[b] = if ok { sd } else { f64::NAN };
            lo[b] = if ok { c - p.sigma_lo * sd } else { f64::NAN };
            hi[b] = if ok { c + p.sigma_hi * sd } else { f64::NAN };
        }
        std[o..o + GROUP].copy_from_slice(&sds);
        low[o..o + GROUP].copy_from_slice(&lo);
        upp[o..o + GROUP].copy_from_slice(&hi);
    }
}

#[cfg(test)]
mod tests {
    use super::lane_bits;
    use crate::network::LANES;

    #[test]
    fn lane_bits_packs_each_flag_into_its_bit() {
        let mut seed = 7u64;
        for case in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let want = match case {
                0 => 0,
                1 => u64::MAX,
                2..=65 => 1u64 << (case - 2),
                _ => seed,
            };
            let flags: [u8; LANES] = std::array::from_fn(|b| ((want >> b) & 1) as u8);
            assert_eq!(lane_bits(&flags), want);
        }
    }
}
