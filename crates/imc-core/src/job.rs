//! The kernel-side description of one combine: method, rejectors, normalisation, outputs.

use crate::error::{Error, Result};

/// The final combine method applied to the surviving samples of each output element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Mean,
    Median,
    LMedian,
    Sum,
    Min,
    Max,
    /// Variance with `ddof` delta degrees of freedom (NaN when n <= ddof).
    Variance { ddof: u32 },
    /// Weighted mean with the job's weights.
    WAvg,
    /// Quantile q in [0, 1] with linear interpolation.
    Quantile { q: f64 },
}

impl Method {
    /// Parse a canonical method name (aliases are resolved in Python).
    pub fn parse(name: &str, ddof: u32, q: Option<f64>) -> Result<Self> {
        Ok(match name {
            "mean" => Method::Mean,
            "median" => Method::Median,
            "lmedian" => Method::LMedian,
            "sum" => Method::Sum,
            "min" => Method::Min,
            "max" => Method::Max,
            "variance" => Method::Variance { ddof },
            "wavg" => Method::WAvg,
            "quantile" => {
                let q = q.ok_or_else(|| Error::param("q", "quantile needs q in [0, 1]"))?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(Error::param("q", format!("must be in [0, 1]; got {q}")));
                }
                Method::Quantile { q }
            }
            other => {
                return Err(Error::param(
                    "method",
                    format!("unknown combine method {other:?}; expected mean, median, lmedian, sum, min, max, variance, wavg or quantile"),
                ))
            }
        })
    }
}

/// Clipping centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Centre {
    Mean,
    Median,
    LMedian,
}

impl Centre {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "mean" => Ok(Centre::Mean),
            "median" => Ok(Centre::Median),
            "lmedian" => Ok(Centre::LMedian),
            other => Err(Error::param("cenfunc", format!("unknown centre {other:?}; expected mean, median or lmedian"))),
        }
    }
}

/// Spread estimator for sigma clipping. Deviations are taken about the spread centre `a`:
/// the clipping centre unless the rejector names another one (`spread_cen`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// sqrt(sum (x - a)^2 / (n - ddof)): about the clipping centre by default (imcombiners
    /// 0.1.1; IRAF with ddof = 1), about the mean with `spread_cen` = mean (NumPy std).
    Std,
    /// 1.482602218505602 * median |x - a|, times sqrt(n / (n - ddof)) when ddof > 0
    /// (astropy mad_std about the median; 0.1.1's ddof correction).
    Mad,
    /// sqrt(sum (x - c)^2 / (n - 1)) about the clipping centre c (IRAF), whatever ddof.
    Iraf,
}

impl Spread {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "std" => Ok(Spread::Std),
            "mad" => Ok(Spread::Mad),
            "iraf" => Ok(Spread::Iraf),
            other => Err(Error::param("stdfunc", format!("unknown spread {other:?}; expected std, mad or iraf"))),
        }
    }
}

/// What to do when a pass would reject more than nkeep/maxrej allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// >= 0: keep at least this many; < 0: reject at most -nkeep (IRAF).
    pub nkeep: i64,
    /// Reject at most this many (None = no limit).
    pub maxrej: Option<u64>,
    /// true: undo the whole offending pass; false: IRAF least-deviant add-back.
    pub revert: bool,
}

/// Noise model of CCD clipping (IRAF ccdclip/crreject).
#[derive(Debug, Clone, PartialEq)]
pub struct Noise {
    pub rdnoise: f64,
    /// e-/ADU
    pub gain: f64,
    pub snoise: f64,
    pub sigscale: f64,
    /// Centre at which the noise is evaluated (None: the clipping centre).
    pub level_cen: Option<Centre>,
    /// Raw level of a normalised value v when no per-image scales apply:
    /// I = level_scale * v + level_zero, sigma = sigma(I) / level_scale (1 and 0 by
    /// default; 0.1.1's deprecated scale_ref/zero_ref set them).
    pub level_scale: f64,
    pub level_zero: f64,
}

impl Noise {
    /// IRAF's model with the given parameters, evaluated at the clipping centre.
    pub fn new(rdnoise: f64, gain: f64, snoise: f64, sigscale: f64) -> Self {
        Noise { rdnoise, gain, snoise, sigscale, level_cen: None, level_scale: 1.0, level_zero: 0.0 }
    }
}

/// One rejection algorithm with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejector {
    /// `spread_cen`: centre the spread is measured about (None: the clipping centre `cen`).
    SigClip { sigma_lo: f64, sigma_hi: f64, maxiters: u32, cen: Centre, spread: Spread, spread_cen: Option<Centre>, ddof: u32, limits: Limits },
    CcdClip { sigma_lo: f64, sigma_hi: f64, maxiters: u32, cen: Centre, noise: Noise, limits: Limits },
    /// Each sample's own sigma sqrt(v') from the variance plane (DRAGONS "varclip"-like).
    VarClip { sigma_lo: f64, sigma_hi: f64, maxiters: u32, cen: Centre, limits: Limits },
    LinearClip { low_scale: f64, low: f64, upp_scale: f64, upp: f64, maxiters: u32, cen: Centre, limits: Limits },
    /// IRAF avsigclip: one Poisson-scaled sigma per image line, sigma(c) = s * sqrt(max(1, c)).
    AvSigClip { sigma_lo: f64, sigma_hi: f64, cen: Centre, nkeep: i64, sigscale: f64 },
    MinMax { n_min: f64, n_max: f64 },
    PClip { frac: f64, sigma_lo: f64, sigma_hi: f64, nkeep: i64 },
    /// Winsorized sigma clipping: clip at median -/+ sigma * winsorized sigma (Huber's
    /// winsorization at `cutoff` sigma, its exact limit).
    Winsorized { sigma_lo: f64, sigma_hi: f64, maxiters: u32, cutoff: f64, limits: Limits },
    /// Rosner's generalized ESD test: up to trunc(max_outliers * n + 0.001) tests at
    /// significance `significance` (limits.revert is not used).
    Gesd { max_outliers: f64, significance: f64, limits: Limits },
    /// Linear fit clipping: least-squares line against the rank, mean absolute residual.
    LinearFit { sigma_lo: f64, sigma_hi: f64, maxiters: u32, limits: Limits },
}

/// Which optional outputs to produce.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Want {
    pub mask: bool,
    pub sample_flags: bool,
    pub std: bool,
    pub low: bool,
    pub upp: bool,
    pub nit: bool,
    pub output_flags: bool,
    pub nused: bool,
    /// Propagated variance of the combined value (survey planes).
    pub variance: bool,
    /// Sum of the weights of the samples used.
    pub weight: bool,
    /// Sum of the exposure times of the samples used.
    pub exposure: bool,
    /// OR of the DQ words of the samples used (+ the no-data bit).
    pub dq: bool,
    /// Clipping bounds of the last evaluated pass (`low`/`upp` are the retained extremes).
    pub clip_low: bool,
    pub clip_upp: bool,
}

impl Want {
    pub fn set(&mut self, name: &str) -> Result<()> {
        match name {
            "mask" => self.mask = true,
            "sample_flags" => self.sample_flags = true,
            "std" => self.std = true,
            "low" => self.low = true,
            "upp" => self.upp = true,
            "nit" => self.nit = true,
            "output_flags" => self.output_flags = true,
            "nused" => self.nused = true,
            "variance" => self.variance = true,
            "weight" => self.weight = true,
            "exposure" => self.exposure = true,
            "dq" => self.dq = true,
            "clip_low" => self.clip_low = true,
            "clip_upp" => self.clip_upp = true,
            "data" => {}
            other => return Err(Error::param("want", format!("unknown output {other:?}"))),
        }
        Ok(())
    }

    /// Whether any per-element rejection diagnostic is wanted.
    pub fn any_diag(&self) -> bool {
        self.std || self.low || self.upp || self.nit || self.output_flags || self.clip_low || self.clip_upp
    }

    /// Whether a survey product (variance, weight, exposure, dq) is wanted.
    pub fn any_product(&self) -> bool {
        self.variance || self.weight || self.exposure || self.dq
    }
}

/// How the samples of an element are weighted in a weighted mean or sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Weighting {
    /// Unweighted (w = 1).
    #[default]
    None,
    /// One weight per frame (`Job::weights`).
    Frame,
    /// One weight per sample (the weights plane).
    Pixel,
    /// w = 1 / v' (the normalised variance).
    InverseVariance,
}

impl Weighting {
    pub fn parse(name: Option<&str>) -> Result<Self> {
        Ok(match name {
            None => Weighting::None,
            Some("frame") => Weighting::Frame,
            Some("pixel") => Weighting::Pixel,
            Some("inverse_variance") => Weighting::InverseVariance,
            Some(other) => {
                return Err(Error::param("weighting", format!("unknown weighting {other:?}; expected frame, pixel or inverse_variance")))
            }
        })
    }
}

/// A validated combine job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub method: Method,
    pub rejectors: Vec<Rejector>,
    /// Inclusive keep range on raw values.
    pub thresholds: Option<(f64, f64)>,
    /// value' = (value - zero[i]) / scale[i]
    pub zero: Option<Vec<f64>>,
    pub scale: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
    /// Fill for elements without samples; None = NaN (sum: 0).
    pub blank: Option<f64>,
    pub want: Want,
    /// Pixels per image line (last spatial axis) for line-based algorithms; 0 = one line.
    pub line: usize,
    /// How weighted methods weight the samples (`weights` goes with `Frame`).
    pub weighting: Weighting,
    /// DQ bits that exclude a sample (`dq & bad_bits != 0`).
    pub bad_bits: u32,
    /// Bit of the output DQ where no sample is left (0 = none).
    pub nodata_bit: u32,
    /// Per-frame exposure times for the `exposure` product.
    pub exptime: Option<Vec<f64>>,
}

impl Job {
    /// A job with only a method (no rejection, no normalisation).
    pub fn simple(method: Method) -> Self {
        Job {
            method,
            rejectors: vec![],
            thresholds: None,
            zero: None,
            scale: None,
            weights: None,
            blank: None,
            want: Want::default(),
            line: 0,
            weighting: Weighting::None,
            bad_bits: u32::MAX,
            nodata_bit: 0,
            exptime: None,
        }
    }

    /// Whether the job reads a variance plane.
    pub fn needs_variance(&self) -> bool {
        self.want.variance
            || self.weighting == Weighting::InverseVariance
            || self.rejectors.iter().any(|r| matches!(r, Rejector::VarClip { .. }))
    }

    /// Check vector lengths and values against the number of frames.
    pub fn validate(&self, n: usize) -> Result<()> {
        let check = |name: &'static str, v: &Option<Vec<f64>>| -> Result<()> {
            if let Some(v) = v {
                if v.len() != n {
                    return Err(Error::param(name, format!("needs {n} values (one per frame); got {}", v.len())));
                }
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(Error::param(name, "values must be finite"));
                }
            }
            Ok(())
        };
        check("zero", &self.zero)?;
        check("scale", &self.scale)?;
        check("weights", &self.weights)?;
        check("exptime", &self.exptime)?;
        if let Some(s) = &self.scale {
            if s.contains(&0.0) {
                return Err(Error::param("scale", "values must be non-zero"));
            }
        }
        if let Some((lo, hi)) = self.thresholds {
            if lo.is_nan() || hi.is_nan() {
                return Err(Error::param("thresholds", "must not be NaN"));
            }
            if lo > hi {
                return Err(Error::param("thresholds", format!("lower bound {lo} is above upper bound {hi}")));
            }
        }
        if (self.weighting == Weighting::Frame) != self.weights.is_some() {
            return Err(Error::param("weights", "per-frame weighting needs weights, and weights need weighting 'frame'"));
        }
        if self.method == Method::WAvg && self.weighting == Weighting::None {
            return Err(Error::param("weights", "method 'wavg' needs weights"));
        }
        if self.weighting != Weighting::None && !matches!(self.method, Method::WAvg | Method::Sum) {
            return Err(Error::param("weights", "weights only go with the weighted mean (wavg) and sum"));
        }
        if self.want.variance && !matches!(self.method, Method::Mean | Method::WAvg | Method::Sum | Method::Median | Method::LMedian) {
            return Err(Error::param("variance", "no propagated variance for this method (only mean, wavg, sum, median, lmedian)"));
        }
        if self.want.exposure && self.exptime.is_none() {
            return Err(Error::param("exposure", "the exposure map needs exptime (one per frame)"));
        }
        if self.nodata_bit & self.nodata_bit.wrapping_sub(1) != 0 {
            return Err(Error::param("nodata_bit", format!("must be 0 or a single bit; got {}", self.nodata_bit)));
        }
        for r in &self.rejectors {
            r.validate()?;
        }
        Ok(())
    }
}

impl Rejector {
    /// Parameter checks shared by every entry point.
    pub fn validate(&self) -> Result<()> {
        let sig = |lo: f64, hi: f64| -> Result<()> {
            if lo.is_nan() || hi.is_nan() || lo < 0.0 || hi < 0.0 {
                return Err(Error::param("sigma", format!("must be non-negative numbers; got ({lo}, {hi})")));
            }
            Ok(())
        };
        match self {
            Rejector::SigClip { sigma_lo, sigma_hi, .. } => sig(*sigma_lo, *sigma_hi),
            Rejector::VarClip { sigma_lo, sigma_hi, .. } => sig(*sigma_lo, *sigma_hi),
            Rejector::AvSigClip { sigma_lo, sigma_hi, sigscale, .. } => {
                if !(sigscale.is_finite() && *sigscale >= 0.0) {
                    return Err(Error::param("sigscale", format!("must be finite and >= 0; got {sigscale}")));
                }
                sig(*sigma_lo, *sigma_hi)
            }
            Rejector::CcdClip { sigma_lo, sigma_hi, noise, .. } => {
                sig(*sigma_lo, *sigma_hi)?;
                if !(noise.gain.is_finite() && noise.gain > 0.0) {
                    return Err(Error::param("gain", format!("must be finite and > 0; got {}", noise.gain)));
                }
                if !(noise.rdnoise.is_finite() && noise.rdnoise >= 0.0) {
                    return Err(Error::param("rdnoise", format!("must be finite and >= 0; got {}", noise.rdnoise)));
                }
                if !(noise.snoise.is_finite() && noise.snoise >= 0.0) {
                    return Err(Error::param("snoise", format!("must be finite and >= 0; got {}", noise.snoise)));
                }
                if !(noise.sigscale.is_finite() && noise.sigscale >= 0.0) {
                    return Err(Error::param("sigscale", format!("must be finite and >= 0; got {}", noise.sigscale)));
                }
                if !(noise.level_scale.is_finite() && noise.level_scale > 0.0) {
                    return Err(Error::param("scale_ref", format!("must be finite and > 0; got {}", noise.level_scale)));
                }
                if !noise.level_zero.is_finite() {
                    return Err(Error::param("zero_ref", format!("must be finite; got {}", noise.level_zero)));
                }
                Ok(())
            }
            Rejector::LinearClip { low_scale, low, upp_scale, upp, .. } => {
                for (name, v) in [("low_scale", low_scale), ("low", low), ("upp_scale", upp_scale), ("upp", upp)] {
                    if !v.is_finite() || *v < 0.0 {
                        return Err(Error::param(name, format!("must be finite and >= 0; got {v}")));
                    }
                }
                Ok(())
            }
            Rejector::MinMax { n_min, n_max } => {
                for (name, v) in [("n_min", n_min), ("n_max", n_max)] {
                    if !v.is_finite() || *v < 0.0 {
                        return Err(Error::param(name, format!("must be finite and >= 0; got {v}")));
                    }
                }
                Ok(())
            }
            Rejector::PClip { frac, sigma_lo, sigma_hi, .. } => {
                if !frac.is_finite() || *frac == 0.0 {
                    return Err(Error::param("frac", format!("must be finite and non-zero; got {frac}")));
                }
                sig(*sigma_lo, *sigma_hi)
            }
            Rejector::Winsorized { sigma_lo, sigma_hi, cutoff, .. } => {
                if !(cutoff.is_finite() && *cutoff > 0.0) {
                    return Err(Error::param("cutoff", format!("must be finite and > 0; got {cutoff}")));
                }
                sig(*sigma_lo, *sigma_hi)
            }
            Rejector::Gesd { max_outliers, significance, .. } => {
                if !(*max_outliers >= 0.0 && *max_outliers < 1.0) {
                    return Err(Error::param("max_outliers", format!("must be a fraction in [0, 1); got {max_outliers}")));
                }
                if !(*significance > 0.0 && *significance < 1.0) {
                    return Err(Error::param("significance", format!("must be in (0, 1); got {significance}")));
                }
                Ok(())
            }
            Rejector::LinearFit { sigma_lo, sigma_hi, .. } => sig(*sigma_lo, *sigma_hi),
        }
    }
}
