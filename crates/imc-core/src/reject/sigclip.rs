//! Sigma clipping about a centre (mean, median or lower median) with a data spread.

use super::{side, iterate, Diag, Pass, Scratch, Win};
use crate::job::{Centre, Limits, Spread};
use crate::select;

/// astropy's `mad_std` factor: 1 / Phi^-1(3/4).
pub const MAD_TO_STD: f64 = 1.482602218505602;

/// Centre and spread of sorted values `v` from one fused pass.
///
/// Deviations are taken from the window median m: with d = x - m, Σd and Σd² give the mean
/// (m + Σd/n) and every second moment needed. Because |mean - median| <= std, the
/// subtraction Σd² - (Σd)²/n loses at most a factor 2 in precision.
pub(crate) fn centre_spread(v: &[f64], cen: Centre, spread: Spread, ddof: u32, s: &mut Scratch) -> Option<(f64, f64)> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let med = super::median_sorted(v);
    let nf = n as f64;
    let (sd, sdd) = sum_dev(v, med);
    let c = match cen {
        Centre::Mean => med + sd / nf,
        Centre::Median => med,
        Centre::LMedian => v[(n - 1) / 2],
    };
    let out = match spread {
        Spread::Std => {
            if n <= ddof as usize {
                return None;
            }
            ((sdd - sd * sd / nf).max(0.0) / (n - ddof as usize) as f64).sqrt()
        }
        Spread::Iraf => {
            if n < 2 {
                return None;
            }
            // Σ(x - c)² with e = c - m: Σd² - 2eΣd + ne².
            let e = c - med;
            ((sdd - 2.0 * e * sd + nf * e * e).max(0.0) / (n - 1) as f64).sqrt()
        }
        Spread::Mad => {
            s.s1.clear();
            s.s1.extend(v.iter().map(|&x| (x - med).abs()));
            MAD_TO_STD * select::median(&mut s.s1)
        }
    };
    Some((c, out))
}

/// (Σ(x - m), Σ(x - m)²) with four interleaved accumulators (fixed order).
#[inline]
fn sum_dev(v: &[f64], m: f64) -> (f64, f64) {
    let (mut a, mut b) = ([0.0f64; 4], [0.0f64; 4]);
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for ch in chunks {
        for k in 0..4 {
            let d = ch[k] - m;
            a[k] += d;
            b[k] += d * d;
        }
    }
    let (mut sa, mut sb) = ((a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]));
    for &x in rest {
        let d = x - m;
        sa += d;
        sb += d * d;
    }
    (sa, sb)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Win<'_>,
    s: &mut Scratch,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    cen: Centre,
    spread: Spread,
    ddof: u32,
    limits: &Limits,
) -> Diag {
    let a = w.a;
    iterate(
        w,
        maxiters,
        limits,
        |w| {
            // A single sample cannot be an outlier.
            if w.n() < 2 {
                return None;
            }
            let (c, sd) = centre_spread(w.vals(), cen, spread, ddof, s)?;
            if !(sd.is_finite() && c.is_finite()) {
                return None;
            }
            Some(Pass { centre: c, std: sd, low: c - sigma_lo * sd, upp: c + sigma_hi * sd })
        },
        |k, p| side(a[k], p.low, p.upp),
        |_, p| p.std,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::oflag;

    fn run(v: &[f64], lim: Limits, sig: f64, it: u32, cen: Centre) -> (Vec<f64>, Diag) {
        let mut a = v.to_vec();
        select::sort(&mut a);
        let mut w = Win { a: &a, ids: None, lo: 0, hi: a.len(), line_sigma: f64::NAN, var: None };
        let mut s = Scratch::default();
        let d = apply(&mut w, &mut s, sig, sig, it, cen, Spread::Std, 0, &lim);
        (w.vals().to_vec(), d)
    }

    const FREE: Limits = Limits { nkeep: 0, maxrej: None, revert: true };

    #[test]
    fn rejects_outlier_median_std() {
        let (kept, d) = run(&[10.0, 10.5, 9.5, 10.2, 9.8, 100.0, 10.1, 9.9], FREE, 3.0, 5, Centre::Median);
        assert_eq!(kept.len(), 7);
        assert!(!kept.contains(&100.0));
        assert!(d.nit >= 2);
        assert_eq!(d.flags, 0);
    }

    #[test]
    fn nkeep_revert_undoes_pass() {
        let lim = Limits { nkeep: 3, maxrej: None, revert: true };
        let (kept, d) = run(&[1.0, 2.0, 3.0, 4.0], lim, 0.0, 5, Centre::Mean);
        assert_eq!(kept.len(), 4);
        assert_eq!(d.flags & oflag::NKEEP, oflag::NKEEP);
    }

    #[test]
    fn nkeep_addback_restores_least_deviant() {
        let lim = Limits { nkeep: 2, maxrej: None, revert: false };
        // Mean 4: residuals 3, 2, 1, 6 -> keep 3 then 2.
        let (kept, _) = run(&[1.0, 2.0, 3.0, 10.0], lim, 0.0, 1, Centre::Mean);
        assert_eq!(kept, vec![2.0, 3.0]);
    }

    #[test]
    fn maxrej_limits() {
        let lim = Limits { nkeep: 0, maxrej: Some(1), revert: false };
        let (kept, d) = run(&[0.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 25.0], lim, 1.0, 5, Centre::Median);
        assert_eq!(kept.len(), 9);
        assert!(!kept.contains(&25.0));
        assert_eq!(d.flags & oflag::MAXREJ, oflag::MAXREJ);
    }

    #[test]
    fn maxiters_flag() {
        let (_, d) = run(&[0.0, 50.0, 99.0, 100.0, 100.0, 101.0, 150.0, 1000.0], FREE, 1.0, 1, Centre::Median);
        assert_eq!(d.flags & oflag::MAXITERS, oflag::MAXITERS);
        assert_eq!(d.nit, 1);
    }
}
