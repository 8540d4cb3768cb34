//! Sigma clipping about a centre (mean, median or lower median) with a data spread.

use super::{side, centre, iterate, sum, Diag, Pass, Scratch, Win};
use crate::job::{Centre, Limits, Spread};
use crate::select;

/// astropy's `mad_std` factor: 1 / Phi^-1(3/4).
pub const MAD_TO_STD: f64 = 1.482602218505602;

/// Spread of sorted values `v` about their own statistics.
pub(crate) fn spread_of(v: &[f64], c: f64, spread: Spread, ddof: u32, s: &mut Scratch) -> Option<f64> {
    let n = v.len();
    let out = match spread {
        Spread::Std => {
            if n <= ddof as usize {
                return None;
            }
            let m = sum(v) / n as f64;
            let ss = v.iter().fold(0.0, |acc, &x| acc + (x - m) * (x - m));
            (ss / (n - ddof as usize) as f64).sqrt()
        }
        Spread::Iraf => {
            if n < 2 {
                return None;
            }
            let ss = v.iter().fold(0.0, |acc, &x| acc + (x - c) * (x - c));
            (ss / (n - 1) as f64).sqrt()
        }
        Spread::Mad => {
            if n == 0 {
                return None;
            }
            let med = super::median_sorted(v);
            s.s1.clear();
            s.s1.extend(v.iter().map(|&x| (x - med).abs()));
            MAD_TO_STD * select::median(&mut s.s1)
        }
    };
    Some(out)
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
            let v = w.vals();
            let c = centre(v, cen);
            let sd = spread_of(v, c, spread, ddof, s)?;
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
        let mut w = Win { a: &a, ids: None, lo: 0, hi: a.len(), line_sigma: f64::NAN };
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
