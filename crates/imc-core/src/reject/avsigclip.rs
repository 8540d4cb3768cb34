//! IRAF avsigclip: sigma clipping where the spread is one Poisson-scaled sigma per image
//! line, sigma(c) = s * sqrt(max(1, c)), with s estimated from every pixel of the line.
//! When the per-image scales differ beyond `sigscale`, each sample's Poisson level is its
//! own frame's (raw level / scale², IRAF's (c + Z) / S).

use super::{side, centre, iterate, Diag, Pass, Passes, Prepared, Scratch, Win};
use crate::job::{Centre, Limits};

/// One pixel's contribution to its line's sigma: (sum of (v - c)^2 / level, count).
/// Pixels with fewer than 3 samples contribute nothing (IRAF).
pub fn line_terms(w: &Win<'_>, prep: &Prepared, cen: Centre) -> (f64, usize) {
    let v = w.vals();
    if v.len() < 3 {
        return (0.0, 0);
    }
    let c = centre(v, cen);
    let acc = match (prep.per_image_noise, w.ids) {
        (true, Some(ids)) => v
            .iter()
            .zip(&ids[w.lo..w.hi])
            .fold(0.0, |s, (&x, &f)| s + (x - c) * (x - c) / prep.poisson_level(f as usize, c)),
        _ => {
            let norm = c.max(1.0);
            super::sum_map(v, |x| (x - c) * (x - c) / norm)
        }
    };
    (acc, v.len())
}

/// The line sigma from accumulated terms (NaN when undefined: no clipping).
pub fn line_sigma(acc: f64, count: usize) -> f64 {
    if count > 1 { (acc / (count - 1) as f64).sqrt() } else { f64::NAN }
}

pub(super) fn apply(w: &mut Win<'_>, s_: &mut Scratch, prep: &Prepared, sigma_lo: f64, sigma_hi: f64, cen: Centre, nkeep: i64) -> Diag {
    let s = w.line_sigma;
    let keep = super::keep_count(nkeep, w.n());
    if !(s > 0.0) || w.n() < 3.max(keep + 1) {
        return Diag::default();
    }
    let a = w.a;
    let ids = w.ids;
    let per_image = prep.per_image_noise && ids.is_some();
    let sigma_k = move |k: usize, p: &Pass| -> f64 {
        match ids {
            Some(ids) if per_image => s * prep.poisson_level(ids[k] as usize, p.centre).sqrt(),
            _ => p.std,
        }
    };
    // IRAF iterates until nothing changes and restores the least deviant (add-back).
    let limits = Limits { nkeep, maxrej: None, revert: false };
    iterate(
        w,
        s_,
        u32::MAX,
        &limits,
        Passes::Evaluated,
        |w, _| {
            let c = centre(w.vals(), cen);
            if !c.is_finite() || w.n() < 3 {
                return None;
            }
            let sd = s * c.max(1.0).sqrt();
            Some(Pass { centre: c, level: c, std: sd, low: c - sigma_lo * sd, upp: c + sigma_hi * sd })
        },
        |k, p| {
            let sd = sigma_k(k, p);
            side(a[k], p.centre - sigma_lo * sd, p.centre + sigma_hi * sd)
        },
        sigma_k,
    )
}
