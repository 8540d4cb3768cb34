//! Sigma clipping about a centre (mean, median or lower median) with a data spread.

use super::{centre, iterate, mean, Diag, Work};
use crate::job::{Centre, Limits, Spread};
use crate::select;

/// astropy's `mad_std` factor: 1 / Phi^-1(3/4).
const MAD_TO_STD: f64 = 1.482602218505602;

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Work,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    cen: Centre,
    spread: Spread,
    ddof: u32,
    limits: &Limits,
) -> Diag {
    iterate(w, maxiters, limits, |w| {
        let n = w.n();
        let c = centre(&w.xs, cen, &mut w.s1);
        let s = match spread {
            Spread::Std => {
                if n <= ddof as usize {
                    return None;
                }
                let m = mean(&w.xs);
                let ss: f64 = w.xs.iter().map(|&x| (x - m) * (x - m)).sum();
                (ss / (n - ddof as usize) as f64).sqrt()
            }
            Spread::Iraf => {
                if n < 2 {
                    return None;
                }
                let ss: f64 = w.xs.iter().map(|&x| (x - c) * (x - c)).sum();
                (ss / (n - 1) as f64).sqrt()
            }
            Spread::Mad => {
                w.s2.clear();
                w.s2.extend_from_slice(&w.xs);
                let med = select::median(&mut w.s2);
                for v in w.s2.iter_mut() {
                    *v = (*v - med).abs();
                }
                MAD_TO_STD * select::median(&mut w.s2)
            }
        };
        if !s.is_finite() || !c.is_finite() {
            return None;
        }
        let (low, upp) = (c - sigma_lo * s, c + sigma_hi * s);
        fill_uniform(w, c, s, low, upp);
        Some((s, low, upp))
    })
}

/// Same keep range for every sample; residuals in units of `s`.
pub(super) fn fill_uniform(w: &mut Work, c: f64, s: f64, low: f64, upp: f64) {
    let n = w.n();
    w.lo.clear();
    w.hi.clear();
    w.resid.clear();
    w.lo.resize(n, low);
    w.hi.resize(n, upp);
    let inv = if s > 0.0 { 1.0 / s } else { f64::INFINITY };
    w.resid.extend(w.xs.iter().map(|&x| {
        let d = (x - c).abs();
        if d == 0.0 { 0.0 } else { d * inv }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::Work;

    fn work(v: &[f64]) -> Work {
        let mut w = Work::with_capacity(v.len());
        w.xs.extend_from_slice(v);
        w.ids.extend(0..v.len() as u32);
        w
    }

    const FREE: Limits = Limits { nkeep: 0, maxrej: None, revert: true };

    #[test]
    fn rejects_outlier_median_std() {
        let mut w = work(&[10.0, 10.5, 9.5, 10.2, 9.8, 100.0, 10.1, 9.9]);
        let d = apply(&mut w, 3.0, 3.0, 5, Centre::Median, Spread::Std, 0, &FREE);
        assert_eq!(w.rejected, vec![5]);
        assert_eq!(w.n(), 7);
        assert!(d.nit >= 2);
        assert_eq!(d.flags, 0);
    }

    #[test]
    fn nkeep_revert_undoes_pass() {
        // sigma 0 rejects everything but values equal to the centre.
        let mut w = work(&[1.0, 2.0, 3.0, 4.0]);
        let lim = Limits { nkeep: 3, maxrej: None, revert: true };
        let d = apply(&mut w, 0.0, 0.0, 5, Centre::Mean, Spread::Std, 0, &lim);
        assert_eq!(w.n(), 4);
        assert_eq!(d.flags & super::super::oflag::NKEEP, super::super::oflag::NKEEP);
    }

    #[test]
    fn nkeep_addback_restores_least_deviant() {
        let mut w = work(&[1.0, 2.0, 3.0, 10.0]);
        let lim = Limits { nkeep: 2, maxrej: None, revert: false };
        // centre mean 4, everything deviates with sigma 0 -> keep the two closest (3, then 2 vs 1...)
        apply(&mut w, 0.0, 0.0, 1, Centre::Mean, Spread::Std, 0, &lim);
        assert_eq!(w.xs, vec![2.0, 3.0]);
    }

    #[test]
    fn maxrej_limits() {
        let mut w = work(&[0.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 25.0]);
        let lim = Limits { nkeep: 0, maxrej: Some(1), revert: false };
        let d = apply(&mut w, 1.0, 1.0, 5, Centre::Median, Spread::Std, 0, &lim);
        assert_eq!(w.n(), 9);
        assert_eq!(w.rejected, vec![9]);
        assert_eq!(d.flags & super::super::oflag::MAXREJ, super::super::oflag::MAXREJ);
    }
}
