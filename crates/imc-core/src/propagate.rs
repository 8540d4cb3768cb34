//! Survey products of one output element: propagated variance, weight sum, exposure, DQ.
//!
//! docs/design.md, "Survey planes", is the specification. Every path that uses planes
//! classifies a sample's planes with [`PlaneCtx`] and feeds the survivors, in frame
//! order, to one [`Acc`]; [`Acc::finish`] then gives the products. The frame-order sums
//! are the same operations in the same order as `reduce::finish`, so the combined value
//! of a mean, weighted mean or sum does not depend on whether planes were given.

use std::f64::consts::PI;

use crate::job::{Job, Method, Weighting};
use crate::planes::Planes;
use crate::reject::sflag;

/// What a job needs from the planes of one sample, with the per-frame constants.
pub struct PlaneCtx<'a> {
    planes: &'a Planes<'a>,
    /// scale_i² (v' = V / scale_i²), when there is a scale.
    scale2: Option<Vec<f64>>,
    weighting: Weighting,
    frame_weights: Option<&'a [f64]>,
    exptime: Option<&'a [f64]>,
    bad_bits: u32,
}

/// The planes of one valid sample: normalised variance (NaN without a variance plane),
/// weight (1 without weighting), DQ word (0 without a DQ plane).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneValues {
    pub var: f64,
    pub weight: f64,
    pub dq: u32,
}

impl<'a> PlaneCtx<'a> {
    pub fn new(planes: &'a Planes<'a>, job: &'a Job) -> Self {
        PlaneCtx {
            planes,
            scale2: job.scale.as_ref().map(|s| s.iter().map(|x| x * x).collect()),
            weighting: job.weighting,
            frame_weights: job.weights.as_deref(),
            exptime: job.exptime.as_deref(),
            bad_bits: job.bad_bits,
        }
    }

    /// The DQ word of frame `i` at pixel `p` and whether a bad bit excludes the sample.
    #[inline(always)]
    pub fn dq(&self, i: usize, p: usize) -> (u32, bool) {
        match &self.planes.dq {
            Some(d) => {
                let q = d.get(i, p);
                (q, q & self.bad_bits != 0)
            }
            None => (0, false),
        }
    }

    /// Variance and weight of a sample whose value is valid, or the status that excludes
    /// it (NONFINITE: variance not finite or not > 0, weight not finite or < 0).
    #[inline(always)]
    pub fn values(&self, i: usize, p: usize, q: u32) -> Result<PlaneValues, u8> {
        let mut var = f64::NAN;
        if let Some(vp) = &self.planes.variance {
            let raw = vp.get(i, p);
            var = match &self.scale2 {
                Some(s2) => raw / s2[i],
                None => raw,
            };
            if !(var.is_finite() && var > 0.0) {
                return Err(sflag::NONFINITE);
            }
        }
        let mut plane_w = 1.0;
        if let Some(wp) = &self.planes.weights {
            plane_w = wp.get(i, p);
            if !(plane_w.is_finite() && plane_w >= 0.0) {
                return Err(sflag::NONFINITE);
            }
        }
        let weight = match self.weighting {
            Weighting::None => 1.0,
            Weighting::Frame => self.frame_weights.map_or(1.0, |w| w[i]),
            Weighting::Pixel => plane_w,
            Weighting::InverseVariance => 1.0 / var,
        };
        Ok(PlaneValues { var, weight, dq: q })
    }

    /// Exposure time of frame `i` (0 without exptime).
    #[inline(always)]
    pub fn exptime(&self, i: usize) -> f64 {
        self.exptime.map_or(0.0, |t| t[i])
    }
}

/// Frame-order sums over the survivors of one element.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Acc {
    pub n: usize,
    /// Σx (unweighted value).
    pub sx: f64,
    /// Σw and Σw·x (weighted value; Σw is the `weight` product).
    pub sw: f64,
    pub swx: f64,
    /// Σv' and Σw²·v' (variances of unweighted and weighted sums).
    pub sv: f64,
    pub swwv: f64,
    /// Σ 1/√v' (the median's effective sigma).
    pub sinvsd: f64,
    pub exposure: f64,
    pub dq: u32,
}

/// The products of one element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Products {
    /// Combined value for frame-order methods (mean, wavg, sum); NaN for the others.
    pub value: f64,
    pub variance: f64,
    pub weight: f64,
    pub exposure: f64,
    pub dq: u32,
}

impl Acc {
    /// Add one survivor (call in frame order).
    #[inline(always)]
    pub fn add(&mut self, x: f64, pv: PlaneValues, exptime: f64, want_var: bool) {
        self.n += 1;
        self.sx += x;
        self.sw += pv.weight;
        self.swx += pv.weight * x;
        if want_var {
            self.sv += pv.var;
            self.swwv += pv.weight * pv.weight * pv.var;
            self.sinvsd += 1.0 / pv.var.sqrt();
        }
        self.exposure += exptime;
        self.dq |= pv.dq;
    }

    /// The products for `method` (design.md table); `nodata_bit` where nothing was used.
    pub fn finish(&self, method: Method, weighting: Weighting, nodata_bit: u32) -> Products {
        Products {
            value: value_of(method, weighting, self.n, self.sx, self.sw, self.swx),
            variance: variance_of(method, weighting, self.n, self.sv, self.sw, self.swwv, self.sinvsd),
            weight: self.sw,
            exposure: self.exposure,
            dq: if self.n == 0 { nodata_bit } else { self.dq },
        }
    }
}

/// The combined value of a frame-order method from the sums of its `n` survivors (NaN
/// for the other methods, whose value comes from the sorted survivors). Written once for
/// every path (the streaming loops call it per pixel).
#[inline(always)]
pub fn value_of(method: Method, weighting: Weighting, n: usize, sx: f64, sw: f64, swx: f64) -> f64 {
    match method {
        Method::Sum if n == 0 => 0.0,
        _ if n == 0 => f64::NAN,
        Method::Mean => sx / n as f64,
        // Weights that sum to zero leave the element undefined.
        Method::WAvg => if sw == 0.0 { f64::NAN } else { swx / sw },
        Method::Sum => if weighting != Weighting::None { swx } else { sx },
        _ => f64::NAN,
    }
}

/// The propagated variance of the combined value (design.md table); NaN when no sample
/// was used, when weights sum to zero, and for methods without one.
#[inline(always)]
pub fn variance_of(method: Method, weighting: Weighting, n: usize, sv: f64, sw: f64, swwv: f64, sinvsd: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let nf = n as f64;
    match method {
        Method::Mean => sv / (nf * nf),
        // w = 1/v': Σw²v'/(Σw)² is 1/Σw and Σw²v' is Σw in exact arithmetic; the exact
        // forms need no Σw²v' sum (the survey stream then reads one sum less per sample)
        Method::WAvg if weighting == Weighting::InverseVariance => if sw == 0.0 { f64::NAN } else { 1.0 / sw },
        Method::WAvg => if sw == 0.0 { f64::NAN } else { swwv / (sw * sw) },
        Method::Sum if weighting == Weighting::InverseVariance => sw,
        Method::Sum => if weighting != Weighting::None { swwv } else { sv },
        Method::Median => median_variance(n, sinvsd, false),
        Method::LMedian => median_variance(n, sinvsd, true),
        _ => f64::NAN,
    }
}

/// Variance of the median (`lower`: the lower median) of n normal samples whose
/// standard deviations have Σ1/σ = `sinvsd`: the π/2 large-n asymptote with finite-n
/// corrections fitted to the exact normal order-statistic variances, σ taken as the
/// harmonic mean of the standard deviations (docs/design.md).
pub fn median_variance(n: usize, sinvsd: f64, lower: bool) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let nf = n as f64;
    let s = nf / sinvsd;
    let s2 = s * s;
    match n {
        1 => s2,
        2 => {
            if lower { s2 * (1.0 - 1.0 / PI) } else { s2 / 2.0 }
        }
        _ => {
            let (a, b) = if n % 2 == 1 {
                (0.859, 0.49)
            } else if lower {
                (0.858, -0.60)
            } else {
                (2.852, -1.41)
            };
            PI * s2 / (2.0 * nf + a + b / nf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduce;

    fn pv(var: f64, weight: f64, dq: u32) -> PlaneValues {
        PlaneValues { var, weight, dq }
    }

    #[test]
    fn mean_and_sum_match_the_plain_reduction_bit_for_bit() {
        let xs = [1.1, 2.7, -0.3, 1e6 + 0.1, 3.3];
        let ids = [0u32, 1, 2, 3, 4];
        let mut acc = Acc::default();
        for &x in &xs {
            acc.add(x, pv(1.0, 1.0, 0), 0.0, true);
        }
        let mean = acc.finish(Method::Mean, Weighting::None, 0).value;
        assert_eq!(mean.to_bits(), reduce::finish(Method::Mean, &[], &xs, &ids, None).to_bits());
        let sum = acc.finish(Method::Sum, Weighting::None, 0).value;
        assert_eq!(sum.to_bits(), reduce::finish(Method::Sum, &[], &xs, &ids, None).to_bits());
        let w = [0.5, 2.0, 1.5, 0.25, 3.0];
        let mut acc = Acc::default();
        for (&x, &wi) in xs.iter().zip(&w) {
            acc.add(x, pv(1.0, wi, 0), 0.0, true);
        }
        let wavg = acc.finish(Method::WAvg, Weighting::Frame, 0).value;
        assert_eq!(wavg.to_bits(), reduce::finish(Method::WAvg, &[], &xs, &ids, Some(&w)).to_bits());
    }

    #[test]
    fn variances_of_each_method() {
        let mut acc = Acc::default();
        for (x, v) in [(1.0, 4.0), (2.0, 1.0), (3.0, 1.0), (4.0, 4.0)] {
            acc.add(x, pv(v, 1.0 / v, 5), 10.0, true);
        }
        let p = acc.finish(Method::Mean, Weighting::None, 128);
        assert_eq!(p.variance, 10.0 / 16.0);
        let p = acc.finish(Method::WAvg, Weighting::InverseVariance, 128);
        assert!((p.variance - 1.0 / 2.5).abs() < 1e-15);
        assert_eq!(p.weight, 2.5);
        assert_eq!(p.exposure, 40.0);
        assert_eq!(p.dq, 5);
        assert_eq!(acc.finish(Method::Sum, Weighting::None, 0).variance, 10.0);
        // median of 4 with sigmas 2, 1, 1, 2: s = 4 / 3
        let s2 = (4.0f64 / 3.0).powi(2);
        let m = acc.finish(Method::Median, Weighting::None, 0).variance;
        assert!((m - PI * s2 / (8.0 + 2.852 - 1.41 / 4.0)).abs() < 1e-15);
        let empty = Acc::default().finish(Method::Mean, Weighting::None, 128);
        assert!(empty.variance.is_nan() && empty.value.is_nan());
        assert_eq!((empty.weight, empty.dq), (0.0, 128));
    }

    #[test]
    fn median_variance_is_near_the_exact_normal_values() {
        // n * Var(median of n standard normals), by numerical integration.
        let exact = [(1, 1.0, 1.0), (2, 1.0, 1.3633802276), (3, 1.3460133137, 1.3460133137), (4, 1.1927984737, 1.4418213735),
            (10, 1.3832643584, 1.5105390391), (11, 1.5087867690, 1.5087867690), (20, 1.4687405541, 1.5389487107),
            (25, 1.5436564258, 1.5436564258), (40, 1.5173662769, 1.5544158822), (100, 1.5487936039, 1.5641311472)];
        for (n, med, low) in exact {
            let nf = n as f64;
            for (lower, want) in [(false, med), (true, low)] {
                let got = nf * median_variance(n, nf, lower);
                assert!((got / want - 1.0).abs() < 0.0035, "n={n} lower={lower}: {got} vs {want}");
            }
        }
    }
}
