//! CCD-noise clipping (IRAF ccdclip / crreject): the spread comes from a noise model.
//!
//! sigma(I) = sqrt((rdnoise/gain)^2 + I/gain + (snoise*I)^2) with I the expected level in
//! raw units (ADU), clipped at 0. When per-image scales differ beyond `sigscale`, each
//! sample's sigma is evaluated at its own frame's raw level and brought to normalised
//! units: I_i = max(0, scale_i * c + zero_i), sigma_i = sigma(I_i) / scale_i. The level c is
//! the clipping centre unless the rejector names another centre (0.1.1's `clip_cen`).

use super::{side, centre, iterate, Diag, Pass, Passes, Prepared, Scratch, Win};
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
    s: &mut Scratch,
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
    let level_cen = noise.level_cen.unwrap_or(cen);
    // Sigma at normalised level v for the whole element (no per-image scales).
    let (ls, lz) = (noise.level_scale, noise.level_zero);
    let sigma_ref = move |v: f64| if ls == 1.0 && lz == 0.0 { sigma_at(noise, var0, v) } else { sigma_at(noise, var0, ls * v + lz) / ls };
    let sigma_k = move |k: usize, p: &Pass| -> f64 {
        if per_image {
            let f = ids.map(|ids| ids[k] as usize).unwrap_or(0);
            let sc = prep.scales[f];
            sigma_at(noise, var0, sc * p.level + prep.zeros[f]) / sc.abs()
        } else {
            p.std
        }
    };
    iterate(
        w,
        s,
        maxiters,
        limits,
        Passes::Accepted,
        |w, _| {
            // A pass runs from one sample up (0.1.1: a lone sample is its own centre and is
            // never rejected, but the model sigma is reported).
            let c = centre(w.vals(), cen);
            let level = if level_cen == cen { c } else { centre(w.vals(), level_cen) };
            if !(c.is_finite() && level.is_finite()) {
                return None;
            }
            let s = sigma_ref(level);
            Some(Pass { centre: c, level, std: s, low: c - sigma_lo * s, upp: c + sigma_hi * s })
        },
        |k, p| {
            let s = sigma_k(k, p);
            side(a[k], p.centre - sigma_lo * s, p.centre + sigma_hi * s)
        },
        sigma_k,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Rejector;

    fn run(v: &[f64], noise: Noise, sigma: f64) -> (Vec<f64>, Diag) {
        let mut a = v.to_vec();
        crate::select::sort(&mut a);
        let mut w = Win::new(&a, None);
        let mut s = Scratch::default();
        let lim = Limits { nkeep: 1, maxrej: None, revert: true };
        let r = Rejector::CcdClip { sigma_lo: sigma, sigma_hi: sigma, maxiters: 5, cen: Centre::Median, noise: noise.clone(), limits: lim };
        let prep = Prepared::new(&r, a.len(), None, None);
        let d = apply(&mut w, &mut s, &prep, sigma, sigma, 5, Centre::Median, &noise, &lim);
        (w.vals().to_vec(), d)
    }

    #[test]
    fn iraf_gain_model() {
        // Median 1000, rdnoise 5 e-, gain 2 e-/ADU: sigma = sqrt(6.25 + 500) ADU = 22.5.
        let v = [998.0, 999.0, 1000.0, 1000.0, 1001.0, 1002.0, 1060.0];
        let (kept, d) = run(&v, Noise::new(5.0, 2.0, 0.0, 0.1), 2.0);
        assert!(!kept.contains(&1060.0));
        assert!((d.std - (6.25f64 + 500.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn level_reference_scales_the_noise() {
        // raw = 2 * v + 10: sigma(2 * 1000 + 10) / 2.
        let v = [990.0, 1000.0, 1000.0, 1010.0];
        let noise = Noise { level_scale: 2.0, level_zero: 10.0, ..Noise::new(0.0, 1.0, 0.0, 0.1) };
        let (_, d) = run(&v, noise, 100.0);
        assert!((d.std - 2010.0f64.sqrt() / 2.0).abs() < 1e-12);
        // The level may sit at another centre than the clipping centre.
        let noise = Noise { level_cen: Some(Centre::Mean), ..Noise::new(0.0, 1.0, 0.0, 0.1) };
        let (_, d) = run(&[0.0, 10.0, 11.0, 99.0], noise, 100.0);
        assert!((d.std - 30.0f64.sqrt()).abs() < 1e-12);
    }
}
