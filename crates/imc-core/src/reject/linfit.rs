//! Linear fit clipping (PixInsight's method, as in Siril).
//!
//! Each pass fits a straight line by least squares to the sorted window against the rank
//! k = 0..n-1 of each sample within it, y_k ~ alpha + beta (k - (n - 1)/2), and measures
//! the scatter as the mean absolute residual s = sum |r_k| / n. Walking in from both ends
//! of the window, samples with r_k < -lo*s (low end) or r_k > hi*s (high end) are
//! rejected, each walk stopping at the first sample it keeps; the survivors are ranked
//! again and the passes repeat.

use std::cell::Cell;

use super::lanes::{self, LanePass};
use super::{iterate_dev, median_sorted, Diag, Pass, Passes, Scratch, Win};
use crate::job::Limits;
use crate::network::LANES;
use crate::real::Real;

/// The fit of one window: residual r_k = v_k - centre - slope (k - (n - 1)/2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fit {
    /// Mean of the window (the fitted value at the middle rank).
    pub centre: f64,
    pub slope: f64,
    /// Mean absolute residual.
    pub scatter: f64,
}

impl Fit {
    #[inline]
    pub fn residual(&self, v: f64, k: usize, n: usize) -> f64 {
        (v - self.centre) - self.slope * (k as f64 - 0.5 * (n - 1) as f64)
    }
}

/// Least-squares line through sorted `v` (n >= 3) against the ranks, and its scatter.
///
/// Deviations are taken from the window median (like the other spreads), the rank is
/// centred, so slope = sum (k - kbar) d_k / Sxx with Sxx = n (n^2 - 1) / 12 exactly.
pub(crate) fn fit(v: &[f64]) -> Option<Fit> {
    let n = v.len();
    if n < 3 {
        return None;
    }
    let m = median_sorted(v);
    let kbar = 0.5 * (n - 1) as f64;
    // Four interleaved accumulators in a fixed order (as `reject::sum`): deterministic, and
    // no single chain of n dependent additions.
    let (mut sd, mut skd) = ([0.0f64; 4], [0.0f64; 4]);
    let chunks = n / 4 * 4;
    for (c, ch) in v[..chunks].chunks_exact(4).enumerate() {
        for j in 0..4 {
            let d = ch[j] - m;
            sd[j] += d;
            skd[j] += ((4 * c + j) as f64 - kbar) * d;
        }
    }
    let (mut sd, mut skd) = ((sd[0] + sd[1]) + (sd[2] + sd[3]), (skd[0] + skd[1]) + (skd[2] + skd[3]));
    for (k, &x) in v.iter().enumerate().skip(chunks) {
        let d = x - m;
        sd += d;
        skd += (k as f64 - kbar) * d;
    }
    let nf = n as f64;
    let sxx = nf * (nf * nf - 1.0) / 12.0;
    let f = Fit { centre: m + sd / nf, slope: skd / sxx, scatter: 0.0 };
    let mut sabs = [0.0f64; 4];
    for (c, ch) in v[..chunks].chunks_exact(4).enumerate() {
        for j in 0..4 {
            sabs[j] += f.residual(ch[j], 4 * c + j, n).abs();
        }
    }
    let mut sabs = (sabs[0] + sabs[1]) + (sabs[2] + sabs[3]);
    for (k, &x) in v.iter().enumerate().skip(chunks) {
        sabs += f.residual(x, k, n).abs();
    }
    let f = Fit { scatter: sabs / nf, ..f };
    (f.centre.is_finite() && f.slope.is_finite() && f.scatter.is_finite()).then_some(f)
}

/// [`fit`] and the first pass of [`apply`] for `len` complete lanes of `n` (>= 3) sorted
/// samples at once (see `reject::lanes`): a lane is decided when its pass keeps both end
/// samples (the walks stop at once).
#[inline(always)]
pub(crate) fn first_pass_lanes<L: Real>(rows: &[L], n: usize, len: usize, sigma_lo: f64, sigma_hi: f64, out: LanePass<'_>) {
    let mut m = [0.0; LANES];
    lanes::medians(rows, n, len, &mut m);
    let kbar = 0.5 * (n - 1) as f64;
    let full = n / 4 * 4;
    // Σd and Σ(k - kbar) d (d = x - median) in `fit`'s order.
    let (mut a, mut q) = ([[0.0f64; LANES]; 4], [[0.0f64; LANES]; 4]);
    for k in 0..full {
        let (x, w) = (lanes::row(rows, k, len), k as f64 - kbar);
        let (a, q) = (&mut a[k % 4][..len], &mut q[k % 4][..len]);
        for b in 0..len {
            let d = x[b].to_f64() - m[b];
            a[b] += d;
            q[b] += w * d;
        }
    }
    let (mut sd, mut skd) = ([0.0; LANES], [0.0; LANES]);
    for b in 0..len {
        sd[b] = (a[0][b] + a[1][b]) + (a[2][b] + a[3][b]);
        skd[b] = (q[0][b] + q[1][b]) + (q[2][b] + q[3][b]);
    }
    for k in full..n {
        let (x, w) = (lanes::row(rows, k, len), k as f64 - kbar);
        for b in 0..len {
            let d = x[b].to_f64() - m[b];
            sd[b] += d;
            skd[b] += w * d;
        }
    }
    let nf = n as f64;
    let sxx = nf * (nf * nf - 1.0) / 12.0;
    let (mut centre, mut slope) = ([0.0; LANES], [0.0; LANES]);
    for b in 0..len {
        centre[b] = m[b] + sd[b] / nf;
        slope[b] = skd[b] / sxx;
    }
    // Σ|r_k| in the same order (`Fit::residual`).
    let residual = |x: f64, k: usize, b: usize| (x - centre[b]) - slope[b] * (k as f64 - 0.5 * (n - 1) as f64);
    let mut acc = [[0.0f64; LANES]; 4];
    for k in 0..full {
        let x = lanes::row(rows, k, len);
        let acc = &mut acc[k % 4][..len];
        for b in 0..len {
            acc[b] += residual(x[b].to_f64(), k, b).abs();
        }
    }
    let mut sabs = [0.0; LANES];
    for b in 0..len {
        sabs[b] = (acc[0][b] + acc[1][b]) + (acc[2][b] + acc[3][b]);
    }
    for k in full..n {
        let x = lanes::row(rows, k, len);
        for b in 0..len {
            sabs[b] += residual(x[b].to_f64(), k, b).abs();
        }
    }
    let (first, last) = (lanes::row(rows, 0, len), lanes::row(rows, n - 1, len));
    for b in 0..len {
        let scatter = sabs[b] / nf;
        let valid = centre[b].is_finite() && slope[b].is_finite() && scatter.is_finite() && scatter > 0.0;
        let (c, sl) = (centre[b], slope[b]);
        let (lo_fit, hi_fit) = (c - sl * 0.5 * (n - 1) as f64, c + sl * 0.5 * (n - 1) as f64);
        out.std[b] = scatter;
        out.low[b] = lo_fit - sigma_lo * scatter;
        out.upp[b] = hi_fit + sigma_hi * scatter;
        // `apply`'s walks: the low one stops at rank 0 unless r_0 < -lo s, the high one at
        // rank n - 1 unless r_{n-1} is above (and not below) its band.
        let (r0, r1) = (residual(first[b].to_f64(), 0, b), residual(last[b].to_f64(), n - 1, b));
        let low_walks = r0 < -sigma_lo * scatter;
        let high_walks = !(r1 < -sigma_lo * scatter) && r1 > sigma_hi * scatter;
        out.ok[b] = valid && !low_walks && !high_walks;
    }
}

pub(super) fn apply(w: &mut Win<'_>, s: &mut Scratch, sigma_lo: f64, sigma_hi: f64, maxiters: u32, limits: &Limits) -> Diag {
    let a = w.a;
    // The fit of the current pass and the window it was made on (ranks are relative to it).
    let cur: Cell<(Fit, usize, usize)> = Cell::new((Fit { centre: 0.0, slope: 0.0, scatter: 0.0 }, 0, 0));
    let resid = |k: usize| {
        let (f, lo, n) = cur.get();
        f.residual(a[k], k - lo, n)
    };
    iterate_dev(
        w,
        s,
        maxiters,
        limits,
        Passes::EvaluatedAll,
        |w, _| {
            let f = fit(w.vals())?;
            if !(f.scatter > 0.0) {
                return None;
            }
            let n = w.n();
            cur.set((f, w.lo, n));
            let (first, last) = (f.centre - f.slope * 0.5 * (n - 1) as f64, f.centre + f.slope * 0.5 * (n - 1) as f64);
            Some(Pass { centre: f.centre, level: f.centre, std: f.scatter, low: first - sigma_lo * f.scatter, upp: last + sigma_hi * f.scatter })
        },
        |k, p| {
            let r = resid(k);
            if r < -sigma_lo * p.std {
                -1
            } else if r > sigma_hi * p.std {
                1
            } else {
                0
            }
        },
        |_, p| p.std,
        |k, _| resid(k).abs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_line_and_its_scatter() {
        let v: Vec<f64> = (0..9).map(|k| 3.0 + 2.0 * k as f64).collect();
        let f = fit(&v).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12 && (f.centre - 11.0).abs() < 1e-12 && f.scatter < 1e-12);
        // Alternating +-1 around the line: scatter 1 (n even, so the residuals balance).
        let v: Vec<f64> = (0..8).map(|k| 10.0 * k as f64 + if k % 2 == 0 { -1.0 } else { 1.0 }).collect();
        let f = fit(&v).unwrap();
        let r: Vec<f64> = (0..8).map(|k| f.residual(v[k], k, 8)).collect();
        assert!((f.scatter - r.iter().map(|x| x.abs()).sum::<f64>() / 8.0).abs() < 1e-12);
    }

    #[test]
    fn a_trail_at_the_top_is_rejected() {
        let mut v: Vec<f64> = vec![100.0, 101.0, 101.5, 102.0, 102.5, 103.0, 103.5, 104.0, 105.0, 400.0];
        v.sort_by(|a, b| a.total_cmp(b));
        let mut w = Win::new(&v, None);
        let mut s = Scratch::default();
        let lim = Limits { nkeep: 1, maxrej: None, revert: true };
        let d = apply(&mut w, &mut s, 3.0, 3.0, 10, &lim);
        assert_eq!((w.lo, w.hi), (0, 9));
        assert!(d.nit >= 2);
    }
}
