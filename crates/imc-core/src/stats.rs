//! Per-frame statistics for zero/scale/weight (library semantics, f64).

use crate::error::{Error, Result};
use crate::input::Input;
use crate::select;

/// Collect the valid samples of a frame: not masked, finite, inside the inclusive range.
pub fn valid_samples<T: Input>(frame: &[T], mask: Option<&[bool]>, lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::with_capacity(frame.len());
    for (p, &x) in frame.iter().enumerate() {
        if mask.is_some_and(|m| m[p]) {
            continue;
        }
        let x = x.to_f64();
        if x.is_finite() && x >= lo && x <= hi {
            v.push(x);
        }
    }
    v
}

/// IRAF's sliding-bin mode of a sorted sample (in f64): the densest window of width
/// 10 % of the central 70 % range, stepped by 1 % of it. Always a data value.
pub fn mode_sorted(a: &[f64]) -> f64 {
    let n = a.len();
    if n == 0 {
        return f64::NAN;
    }
    if n < 10 {
        return a[(n / 2).max(1) - 1];
    }
    let i1 = (1.0 + n as f64 * 0.3 / 2.0) as usize; // 1-based
    let j1 = ((1.0 + n as f64 * 1.7 / 2.0) as usize).min(n);
    let (z1, z2) = (a[i1 - 1], a[j1 - 1]);
    if z2 - z1 <= 32.0 * f64::EPSILON * z1.abs().max(z2.abs()) {
        return z1;
    }
    crate::mode::sliding_bin(a, i1 - 1, j1 - 1, z1, 0.01 * (z2 - z1), 0.1 * (z2 - z1))
}

/// One named statistic of a frame's valid samples; NaN when there is none.
///
/// `name`: mean, median, mode, sigclip_mean, sigclip_median, min, max, sum.
/// The sigma-clipped ones iterate median-centred clipping with the standard deviation.
#[allow(clippy::too_many_arguments)]
pub fn frame_stat<T: Input>(
    frame: &[T],
    mask: Option<&[bool]>,
    name: &str,
    lo: f64,
    hi: f64,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
) -> Result<f64> {
    if let Some(m) = mask {
        if m.len() != frame.len() {
            return Err(Error::Shape("mask: must match the frame size".into()));
        }
    }
    let mut v = valid_samples(frame, mask, lo, hi);
    if v.is_empty() {
        return Ok(if name == "sum" { 0.0 } else { f64::NAN });
    }
    let mean = |v: &[f64]| v.iter().fold(0.0, |s, &x| s + x) / v.len() as f64;
    Ok(match name {
        "mean" => mean(&v),
        "median" => select::median(&mut v),
        "mode" => {
            select::sort(&mut v);
            mode_sorted(&v)
        }
        "min" => v.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "sum" => v.iter().fold(0.0, |s, &x| s + x),
        "sigclip_mean" | "sigclip_median" => {
            let mut scratch = Vec::with_capacity(v.len());
            for _ in 0..maxiters {
                scratch.clear();
                scratch.extend_from_slice(&v);
                let c = select::median(&mut scratch);
                let m = mean(&v);
                let s = (v.iter().map(|&x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt();
                let before = v.len();
                v.retain(|&x| x >= c - sigma_lo * s && x <= c + sigma_hi * s);
                if v.len() == before || v.is_empty() {
                    break;
                }
            }
            if name == "sigclip_mean" { mean(&v) } else { select::median(&mut v) }
        }
        other => {
            return Err(Error::param(
                "statistic",
                format!("unknown statistic {other:?}; expected mean, median, mode, sigclip_mean, sigclip_median, min, max or sum"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_skip_masked_and_nonfinite() {
        let f = [1.0f32, 2.0, f32::INFINITY, 100.0, 3.0];
        let m = [false, false, false, true, false];
        let inf = f64::INFINITY;
        assert_eq!(frame_stat(&f, Some(&m), "mean", -inf, inf, 3.0, 3.0, 5).unwrap(), 2.0);
        assert_eq!(frame_stat(&f, Some(&m), "median", -inf, inf, 3.0, 3.0, 5).unwrap(), 2.0);
        assert!(frame_stat(&f, Some(&m), "bogus", -inf, inf, 3.0, 3.0, 5).is_err());
    }

    #[test]
    fn mode_finds_peak() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i % 100) as f64).collect();
        v.extend(std::iter::repeat_n(42.0, 500));
        select::sort(&mut v);
        let m = mode_sorted(&v);
        assert!((m - 42.0).abs() <= 1.0, "{m}");
    }

    #[test]
    fn sigclip_median_ignores_outliers() {
        let mut f: Vec<f64> = (0..100).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        f[3] = 1e6;
        let inf = f64::INFINITY;
        let m = frame_stat(&f, None, "sigclip_mean", -inf, inf, 3.0, 3.0, 5).unwrap();
        assert!((m - 10.2).abs() < 0.01, "{m}");
    }
}
