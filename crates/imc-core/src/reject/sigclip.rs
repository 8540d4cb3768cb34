//! Sigma clipping about a centre (mean, median or lower median) with a data spread.
//!
//! The spread is measured about the clipping centre unless another spread centre is
//! given (imcombiners 0.1.1 semantics; IRAF's sigclip is the std about the centre with
//! ddof = 1).

use super::{side, iterate, Diag, Pass, Passes, Scratch, SigClipShape, Win};
use crate::job::{Centre, Limits, Spread};
use crate::select;

/// astropy's `mad_std` factor: 1 / Phi^-1(3/4).
pub const MAD_TO_STD: f64 = 1.482602218505602;

/// Σ(x - a)² of the values from their sums about the median m (sd = Σ(x - m),
/// sdd = Σ(x - m)²), for a spread centre a = m + e. Shared with the vectorised first
/// pass of the driver so both give the same bits.
#[inline]
pub(crate) fn sum_sq_about(sd: f64, sdd: f64, nf: f64, about: SpreadAbout) -> f64 {
    match about {
        // About the median itself: no correction term (exact).
        SpreadAbout::Median => sdd,
        // About the mean: Σd² - (Σd)²/n (one subtraction; |mean - median| <= std, so at
        // most a factor 2 of precision is lost).
        SpreadAbout::Mean => (sdd - sd * sd / nf).max(0.0),
        // Any other centre: Σd² - 2eΣd + ne².
        SpreadAbout::Offset(e) => (sdd - 2.0 * e * sd + nf * e * e).max(0.0),
    }
}

/// The centre a spread is taken about, relative to the window median.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SpreadAbout {
    Median,
    Mean,
    /// a = median + e.
    Offset(f64),
}

/// Centre and spread of sorted values `v` from one fused pass.
///
/// Deviations are taken from the window median m: with d = x - m, Σd and Σd² give the mean
/// (m + Σd/n) and the second moment about any centre.
pub(crate) fn centre_spread(v: &[f64], shape: SigClipShape, s: &mut Scratch) -> Option<(f64, f64)> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let med = super::median_sorted(v);
    let nf = n as f64;
    let (sd, sdd) = sum_dev(v, med);
    let at = |cen: Centre| match cen {
        Centre::Mean => med + sd / nf,
        Centre::Median => med,
        Centre::LMedian => v[(n - 1) / 2],
    };
    let c = at(shape.cen);
    let about_cen = shape.spread_cen.unwrap_or(shape.cen);
    let ddof = shape.ddof as usize;
    let out = match shape.spread {
        Spread::Std => {
            if n <= ddof {
                return None;
            }
            (sum_sq_about(sd, sdd, nf, about(about_cen, at(about_cen), med)) / (n - ddof) as f64).sqrt()
        }
        Spread::Iraf => {
            if n < 2 {
                return None;
            }
            (sum_sq_about(sd, sdd, nf, about(shape.cen, c, med)) / (n - 1) as f64).sqrt()
        }
        Spread::Mad => {
            if n <= ddof {
                return None;
            }
            let a = at(about_cen);
            s.s1.clear();
            s.s1.extend(v.iter().map(|&x| (x - a).abs()));
            let mad = MAD_TO_STD * select::median(&mut s.s1);
            // 0.1.1's small-sample correction of the MAD (only with ddof > 0).
            if ddof > 0 { mad * (nf / (n - ddof) as f64).sqrt() } else { mad }
        }
    };
    Some((c, out))
}

/// How centre `cen` (value `a`) sits relative to the median `med`.
#[inline]
fn about(cen: Centre, a: f64, med: f64) -> SpreadAbout {
    match cen {
        Centre::Median => SpreadAbout::Median,
        Centre::Mean => SpreadAbout::Mean,
        Centre::LMedian => SpreadAbout::Offset(a - med),
    }
}

/// (Σ(x - m), Σ(x - m)²) with four interleaved accumulators (fixed order).
#[inline]
pub(crate) fn sum_dev(v: &[f64], m: f64) -> (f64, f64) {
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

pub(super) fn apply(
    w: &mut Win<'_>,
    s: &mut Scratch,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    shape: SigClipShape,
    limits: &Limits,
) -> Diag {
    let a = w.a;
    iterate(
        w,
        s,
        maxiters,
        limits,
        Passes::Accepted,
        |w, s| {
            // A pass runs from one sample up (0.1.1: it reports the spread, 0, and rejects
            // nothing, since the sample is its own centre).
            let (c, sd) = centre_spread(w.vals(), shape, s)?;
            if !(sd.is_finite() && c.is_finite()) {
                return None;
            }
            Some(Pass { centre: c, level: c, std: sd, low: c - sigma_lo * sd, upp: c + sigma_hi * sd })
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
        let shape = SigClipShape { cen, spread: Spread::Std, spread_cen: None, ddof: 0 };
        let d = apply(&mut w, &mut s, sig, sig, it, shape, &lim);
        (w.vals().to_vec(), d)
    }

    const FREE: Limits = Limits { nkeep: 0, maxrej: None, revert: true };

    #[test]
    fn rejects_outlier_median_std() {
        // Twelve samples: the spread about the median (~26) puts 100 beyond 3 sigma.
        let v = [10.0, 10.5, 9.5, 10.2, 9.8, 100.0, 10.1, 9.9, 10.0, 10.3, 9.7, 10.4];
        let (kept, d) = run(&v, FREE, 3.0, 5, Centre::Median);
        assert_eq!(kept.len(), 11);
        assert!(!kept.contains(&100.0));
        assert!(d.nit >= 2);
        assert_eq!(d.flags, 0);
        assert!(d.clip_low < 9.5 && d.clip_upp > 10.5 && d.clip_upp < 100.0);
    }

    #[test]
    fn prepared_reports_retained_extremes() {
        use crate::job::Rejector;
        use crate::reject::Prepared;
        let mut a = vec![10.0, 10.5, 9.5, 10.2, 9.8, 100.0, 10.1, 9.9, 10.0, 10.3, 9.7, 10.4];
        select::sort(&mut a);
        let r = Rejector::SigClip { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 5, cen: Centre::Median, spread: Spread::Std, spread_cen: None, ddof: 0, limits: FREE };
        let mut w = Win::new(&a, None);
        let d = Prepared::new(&r, a.len(), None, None).apply(&mut w, &mut Scratch::default());
        assert_eq!((d.low, d.upp), (9.5, 10.5));
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
        // 0.1.1 counting: 1 + the passes that rejected and were kept.
        assert_eq!(d.nit, 2);
    }

    #[test]
    fn spread_is_about_the_clipping_centre() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 30.0];
        let mut s = Scratch::default();
        let med = 4.5;
        let about_med = (v.iter().map(|x| (x - med) * (x - med)).sum::<f64>() / 10.0).sqrt();
        let shape = SigClipShape { cen: Centre::Median, spread: Spread::Std, spread_cen: None, ddof: 0 };
        let (c, sd) = centre_spread(&v, shape, &mut s).unwrap();
        assert_eq!(c, med);
        assert!((sd - about_med).abs() < 1e-12 * about_med);
        let mean = v.iter().sum::<f64>() / 10.0;
        let about_mean = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 9.0).sqrt();
        let shape = SigClipShape { spread_cen: Some(Centre::Mean), ddof: 1, ..shape };
        let (c, sd) = centre_spread(&v, shape, &mut s).unwrap();
        assert_eq!(c, med);
        assert!((sd - about_mean).abs() < 1e-12 * about_mean);
        // IRAF's spread is the std about the centre with ddof = 1.
        let lm = SigClipShape { cen: Centre::LMedian, spread: Spread::Std, spread_cen: None, ddof: 1 };
        let iraf = SigClipShape { spread: Spread::Iraf, ddof: 0, ..lm };
        let (a, b) = (centre_spread(&v, lm, &mut s).unwrap(), centre_spread(&v, iraf, &mut s).unwrap());
        assert_eq!(a.0, 4.0);
        assert!((a.1 - b.1).abs() < 1e-15 * a.1);
    }

    #[test]
    fn mad_is_about_the_spread_centre_with_ddof_correction() {
        let v = [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 10.0, 10.0, 10.0, 10.0, 50.0];
        let mut s = Scratch::default();
        let mean = v.iter().sum::<f64>() / 11.0;
        let mut dev: Vec<f64> = v.iter().map(|x| (x - mean).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let shape = SigClipShape { cen: Centre::Mean, spread: Spread::Mad, spread_cen: None, ddof: 0 };
        let (_, sd) = centre_spread(&v, shape, &mut s).unwrap();
        assert!((sd - MAD_TO_STD * dev[5]).abs() < 1e-12 * sd);
        let (_, sd1) = centre_spread(&v, SigClipShape { ddof: 1, ..shape }, &mut s).unwrap();
        assert!((sd1 - sd * (11.0f64 / 10.0).sqrt()).abs() < 1e-12 * sd1);
    }

    #[test]
    fn nkeep_revert_records_restored_samples() {
        let mut a = vec![1.0, 2.0, 3.0, 4.0, 100.0];
        select::sort(&mut a);
        let mut w = Win::new(&a, None);
        let mut s = Scratch { record_restored: true, ..Scratch::default() };
        let lim = Limits { nkeep: 3, maxrej: None, revert: true };
        let shape = SigClipShape { cen: Centre::Median, spread: Spread::Std, spread_cen: None, ddof: 0 };
        let d = apply(&mut w, &mut s, 0.5, 0.5, 5, shape, &lim);
        assert_eq!(w.vals(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.restored, vec![(0, 1, crate::reject::sflag::RESTORED_NKEEP), (3, 4, crate::reject::sflag::RESTORED_NKEEP)]);
        assert_eq!((d.nit, d.flags), (2, oflag::NKEEP));
    }
}
