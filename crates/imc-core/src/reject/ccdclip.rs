//! CCD-noise clipping (IRAF ccdclip / crreject): the spread comes from a noise model.
//!
//! sigma(I) = sqrt((rdnoise/gain)^2 + I/gain + (snoise*I)^2) with I the expected level in
//! raw units (ADU), clipped at 0. When per-image scales differ beyond `sigscale`, each
//! sample's sigma is evaluated at its own frame's raw level and brought to normalised
//! units: I_i = max(0, scale_i * c + zero_i), sigma_i = sigma(I_i) / scale_i.

use super::{side, centre, iterate, Diag, Pass, Prepared, Win};
use crate::job::{Centre, Limits, Noise};

/// IRAF's floor on the read-noise variance (1e4 / MAX_REAL), keeps sigma > 0.
const VAR_FLOOR: f64 = 1e4 / 0.99e37;

#[inline]
fn sigma_at(noise: &Noise, var0: f64, level: f64) -> f64 {
    let i = level.max(0.0);
    (var0 + i / noise.gain + (noise.snoise * i) * (noise.snoise * i)).sqrt()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Win<'_>,
    prep: &Prepared,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    cen: Centre,
    noise: &Noise,
    limits: &Limits,
) -> Diag {
    let var0 = (noise.rdnoise / noise.gain).powi(2).max(VAR_FLOOR);
    let a = w.a;
    let ids = w.ids;
    let per_image = prep.per_image_noise && ids.is_some();
    let sigma_k = move |k: usize, p: &Pass| -> f64 {
        if per_image {
            let f = ids.map(|ids| ids[k] as usize).unwrap_or(0);
            let sc = prep.scales[f];
            sigma_at(noise, var0, sc * p.centre + prep.zeros[f]) / sc.abs()
        } else {
            p.std
        }
    };
    iterate(
        w,
        maxiters,
        limits,
        |w| {
            // A single sample cannot be an outlier.
            if w.n() < 2 {
                return None;
            }
            let c = centre(w.vals(), cen);
            if !c.is_finite() {
                return None;
            }
            let s = sigma_at(noise, var0, c);
            Some(Pass { centre: c, std: s, low: c - sigma_lo * s, upp: c + sigma_hi * s })
        },
        |k, p| {
            let s = sigma_k(k, p);
            side(a[k], p.centre - sigma_lo * s, p.centre + sigma_hi * s)
        },
        sigma_k,
    )
}
