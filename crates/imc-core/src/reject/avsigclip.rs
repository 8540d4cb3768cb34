//! IRAF avsigclip: sigma clipping where the spread is one Poisson-scaled sigma per image
//! line, sigma(c) = s * sqrt(max(1, c)), with s estimated from every pixel of the line.

use super::{side, centre, iterate, Diag, Pass, Win};
use crate::job::{Centre, Limits};

/// One pixel's contribution to its line's sigma: (sum of (v - c)^2 / max(1, c), count).
/// Pixels with fewer than 3 samples contribute nothing (IRAF).
pub fn line_terms(sorted: &[f64], cen: Centre) -> (f64, usize) {
    if sorted.len() < 3 {
        return (0.0, 0);
    }
    let c = centre(sorted, cen);
    let norm = c.max(1.0);
    let acc = super::sum_map(sorted, |v| (v - c) * (v - c) / norm);
    (acc, sorted.len())
}

/// The line sigma from accumulated terms (NaN when undefined: no clipping).
pub fn line_sigma(acc: f64, count: usize) -> f64 {
    if count > 1 { (acc / (count - 1) as f64).sqrt() } else { f64::NAN }
}

pub(super) fn apply(w: &mut Win<'_>, sigma_lo: f64, sigma_hi: f64, cen: Centre, nkeep: i64) -> Diag {
    let s = w.line_sigma;
    let keep = super::keep_count(nkeep, w.n());
    if !(s > 0.0) || w.n() < 3.max(keep + 1) {
        return Diag::default();
    }
    let a = w.a;
    // IRAF iterates until nothing changes and restores the least deviant (add-back).
    let limits = Limits { nkeep, maxrej: None, revert: false };
    iterate(
        w,
        u32::MAX,
        &limits,
        |w| {
            let c = centre(w.vals(), cen);
            if !c.is_finite() || w.n() < 3 {
                return None;
            }
            let sd = s * c.max(1.0).sqrt();
            Some(Pass { centre: c, std: sd, low: c - sigma_lo * sd, upp: c + sigma_hi * sd })
        },
        |k, p| side(a[k], p.low, p.upp),
        |_, p| p.std,
    )
}
