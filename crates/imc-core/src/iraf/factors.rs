//! Normalisation of scale / zero / weight factors (IRAF `ic_scale`, research notes §4.3).
//!
//! All arithmetic is float32, in IRAF's order: scales relative to the first image, zeros
//! in scaled units and relative to the first image, weights times NCOMBINE (and the sky
//! ratio Z_1/Z_i when the zeros come from statistics), normalised to sum 1.

use crate::{Error, Result};

/// Where raw per-image values came from (decides IRAF's normalisation rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Not requested (`"none"`).
    None,
    /// Image statistic (mode / median / mean) or `exposure`.
    Stat,
    /// Listed numbers (IRAF `@file`) or a header keyword (`!KEY`).
    File,
}

/// Final factors and the flags derived from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Factors {
    /// Pixel transform `v / scales[i] + (-zeros[i])`.
    pub scales: Vec<f32>,
    /// See `scales`.
    pub zeros: Vec<f32>,
    /// Normalised weights (sum 1).
    pub wts: Vec<f32>,
    /// Some scale differs from the first (or scales came from a file/keyword).
    pub doscale: bool,
    /// Some zero differs from the first (or zeros came from a file/keyword).
    pub dozero: bool,
    /// Some weight differs from the first (weights matter for average).
    pub dowts: bool,
    /// Non-fatal conditions IRAF warns about.
    pub warnings: Vec<String>,
}

/// Compute the factors exactly as IRAF does from raw values.
///
/// `scale`, `zero`, `weight`: source and raw per-image values (ignored for `Source::None`).
/// `ncombine`: header NCOMBINE of every image (1 when absent).
pub fn normalise(
    scale: (Source, &[f32]),
    zero: (Source, &[f32]),
    weight: (Source, &[f32]),
    ncombine: &[f32],
) -> Result<Factors> {
    let n = ncombine.len();
    if n == 0 {
        return Err(Error::Shape("no images".into()));
    }
    for (name, (src, vals)) in [("scale", scale), ("zero", zero), ("weight", weight)] {
        if src != Source::None && vals.len() != n {
            return Err(Error::param(name, format!("{} values given for {n} images", vals.len())));
        }
        if src != Source::None && vals.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(name, "values must be finite"));
        }
    }
    let mut warnings = Vec::new();
    let mut scales: Vec<f32> = if scale.0 == Source::None { vec![1.0; n] } else { scale.1.to_vec() };
    let mut zeros: Vec<f32> = if zero.0 == Source::None { vec![0.0; n] } else { zero.1.to_vec() };
    let mut wts: Vec<f32> = if weight.0 == Source::None { vec![1.0; n] } else { weight.1.to_vec() };

    if scales.iter().any(|&s| s <= 0.0) {
        warnings.push("some scale factor is <= 0: no scaling applied".to_string());
        scales.iter_mut().for_each(|s| *s = 1.0);
    }
    let snorm = scale.0 == Source::File;
    let znorm = zero.0 == Source::File;
    let wflag = weight.0 == Source::File;
    if snorm {
        scales.iter_mut().for_each(|s| *s = 1.0f32 / *s);
    }
    let s1 = scales[0];
    scales.iter_mut().for_each(|s| *s /= s1);
    for i in 0..n {
        zeros[i] /= scales[i];
    }
    if weight.0 != Source::None {
        if wts.iter().any(|&w| w < 0.0) {
            warnings.push("some weight is negative: weights set to NCOMBINE".to_string());
            wts.copy_from_slice(ncombine);
        } else {
            for i in 0..n {
                if zero.0 == Source::None || znorm || wflag {
                    wts[i] = ncombine[i] * wts[i];
                } else {
                    if zeros[i] <= 0.0 {
                        warnings.push("some zero level is <= 0: no sky weighting".to_string());
                        for j in 0..n {
                            wts[j] = ncombine[j] * wts[j];
                        }
                        break;
                    }
                    wts[i] = ncombine[i] * wts[i] * zeros[0] / zeros[i];
                }
            }
        }
    }
    if znorm {
        zeros.iter_mut().for_each(|z| *z = -*z);
    } else {
        let z1 = zeros[0];
        zeros.iter_mut().for_each(|z| *z -= z1);
        let z0 = zeros[0];
        if zeros.iter().all(|&z| z == z0) {
            zeros.iter_mut().for_each(|z| *z = 0.0);
        }
    }
    let mut tot = 0.0f32;
    for &w in &wts {
        tot += w;
    }
    if tot > 0.0 {
        wts.iter_mut().for_each(|w| *w /= tot);
    } else {
        warnings.push("sum of weights is <= 0: equal weights used".to_string());
        wts.iter_mut().for_each(|w| *w = 1.0);
    }
    let doscale = snorm || scales.iter().any(|&s| s != scales[0]);
    let dozero = znorm || zeros.iter().any(|&z| z != zeros[0]);
    let dowts = wts.iter().any(|&w| w != wts[0]);
    Ok(Factors { scales, zeros, wts, doscale, dozero, dowts, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_scales_multiply() {
        // IRAF: scales [1, 2] listed on two frames of 100 -> frame 2 becomes 200 -> mean 150
        let f = normalise((Source::File, &[1.0, 2.0]), (Source::None, &[]), (Source::None, &[]), &[1.0, 1.0]).unwrap();
        assert_eq!(f.scales, vec![1.0, 0.5]);
        assert_eq!(100.0f32 / f.scales[1], 200.0);
    }

    #[test]
    fn file_zeros_are_added_not_relative() {
        let f = normalise((Source::None, &[]), (Source::File, &[5.0, 7.0]), (Source::None, &[]), &[1.0, 1.0]).unwrap();
        assert_eq!(f.zeros, vec![-5.0, -7.0]);
        assert!(f.dozero);
    }

    #[test]
    fn stat_zeros_relative_and_sky_weights() {
        let f = normalise((Source::None, &[]), (Source::Stat, &[100.0, 200.0]), (Source::Stat, &[1.0, 1.0]), &[1.0, 1.0]).unwrap();
        assert_eq!(f.zeros, vec![0.0, 100.0]);
        // W = Z1/Zi -> [1, 0.5] -> normalised [2/3, 1/3]
        assert_eq!(f.wts, vec![1.0f32 / 1.5f32, 0.5f32 / 1.5f32]);
    }

    #[test]
    fn stat_scales_relative_to_first() {
        let f = normalise((Source::Stat, &[2.0, 4.0]), (Source::None, &[]), (Source::None, &[]), &[1.0, 1.0]).unwrap();
        assert_eq!(f.scales, vec![1.0, 2.0]);
        assert_eq!(f.wts, vec![0.5, 0.5]);
        assert!(f.doscale && !f.dowts);
    }

    #[test]
    fn nonpositive_scale_disables_scaling() {
        let f = normalise((Source::Stat, &[2.0, -4.0]), (Source::None, &[]), (Source::None, &[]), &[1.0, 1.0]).unwrap();
        assert_eq!(f.scales, vec![1.0, 1.0]);
        assert_eq!(f.warnings.len(), 1);
    }
}
