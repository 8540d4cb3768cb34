//! CCD-noise clipping (IRAF ccdclip / crreject): the spread comes from a noise model.
//!
//! sigma(I) = sqrt((rdnoise/gain)^2 + I/gain + (snoise*I)^2) with I the expected level in
//! raw units (ADU), clipped at 0. When per-image scales differ beyond `sigscale`, each
//! sample's sigma is evaluated at its own frame's raw level and brought to normalised
//! units: I_i = max(0, scale_i * c + zero_i), sigma_i = sigma(I_i) / scale_i.

use super::{centre, iterate, Diag, Prepared, Work};
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
    w: &mut Work,
    prep: &Prepared,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    cen: Centre,
    noise: &Noise,
    limits: &Limits,
) -> Diag {
    let var0 = ((noise.rdnoise / noise.gain).powi(2)).max(VAR_FLOOR);
    iterate(w, maxiters, limits, |w| {
        let c = centre(&w.xs, cen, &mut w.s1);
        if !c.is_finite() {
            return None;
        }
        let s_ref = sigma_at(noise, var0, c);
        let n = w.n();
        w.lo.clear();
        w.hi.clear();
        w.resid.clear();
        for j in 0..n {
            let s = if prep.per_image_noise {
                let f = w.ids[j] as usize;
                let sc = prep.scales[f];
                sigma_at(noise, var0, sc * c + prep.zeros[f]) / sc.abs()
            } else {
                s_ref
            };
            w.lo.push(c - sigma_lo * s);
            w.hi.push(c + sigma_hi * s);
            w.resid.push((w.xs[j] - c).abs() / s);
        }
        Some((s_ref, c - sigma_lo * s_ref, c + sigma_hi * s_ref))
    })
}
