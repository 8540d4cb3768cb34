//! The `job` dict of `_core.run` (imcombiners/_job.py `Job.kernel_dict`, rejectors from
//! `Rejector.to_kernel_dict`) as typed structs, then an `imc_core::job::Job`.
//!
//! No key has a default here: `method` is required; every other job key may be absent
//! only where absence means "not used" (no thresholds, no normalisation, no rejectors, no
//! optional outputs), and `ddof` / `line` are required by the method / rejector that reads
//! them. A rejector dict has every parameter of its kind (`maxrej` and `spread_centre`
//! absent = none). Unknown keys are refused.

use pyo3::prelude::*;

use imc_core::job::{Centre, Job, Limits, Method, Noise, Rejector, Spread, Want, Weighting};
use imc_core::Error;

use crate::error::{call_err, core_err};
use crate::strict::{strict_dict, type_name};

/// Rejector kinds the kernel implements (exported as `_core.REJECTORS`).
pub(crate) const REJECTORS: [&str; 10] = [
    "sigclip", "ccdclip", "avsigclip", "linearclip", "minmax", "pclip", "varclip", "winsorized", "gesd", "linearfit",
];

strict_dict!(
    /// `_core.run(frames, masks, job, threads)`'s job.
    JobDict "job" { method: String } {
        ddof: u32,
        q: f64,
        thresholds: (f64, f64),
        zero: Vec<f64>,
        scale: Vec<f64>,
        weights: Vec<f64>,
        blank: f64,
        rejectors: Vec<Py<PyAny>>,
        want: Vec<String>,
        line: usize,
        // survey planes (docs/design.md "Kernel boundary additions"): absent = none
        weighting: String,
        bad_bits: u64,
        nodata_bit: u64,
        exptime: Vec<f64>,
    }
);

strict_dict!(SigClipDict "sigclip rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, maxiters: u32, cenfunc: String, stdfunc: String, ddof: u32,
    nkeep: i64, revert_on_nkeep: bool,
} { maxrej: i64, spread_centre: String });

strict_dict!(CcdClipDict "ccdclip rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, maxiters: u32, cenfunc: String, rdnoise: f64, gain: f64,
    snoise: f64, sigscale: f64, nkeep: i64, revert_on_nkeep: bool, high_only: bool, scale_ref: f64, zero_ref: f64,
} { maxrej: i64, spread_centre: String });

strict_dict!(LinearClipDict "linearclip rejector" {
    kind: String, low_scale: f64, low: f64, upp_scale: f64, upp: f64, maxiters: u32, cenfunc: String, nkeep: i64,
    revert_on_nkeep: bool,
} { maxrej: i64 });

strict_dict!(AvSigClipDict "avsigclip rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, cenfunc: String, nkeep: i64, sigscale: f64,
} {});

strict_dict!(VarClipDict "varclip rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, maxiters: u32, cenfunc: String, nkeep: i64, revert_on_nkeep: bool,
} { maxrej: i64 });

strict_dict!(MinMaxDict "minmax rejector" { kind: String, n_min: f64, n_max: f64 } {});

strict_dict!(PClipDict "pclip rejector" { kind: String, frac: f64, sigma_lo: f64, sigma_hi: f64, nkeep: i64 } {});

strict_dict!(WinsorizedDict "winsorized rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, maxiters: u32, cutoff: f64, nkeep: i64, revert_on_nkeep: bool,
} { maxrej: i64 });

strict_dict!(GesdDict "gesd rejector" { kind: String, max_outliers: f64, significance: f64, nkeep: i64 } { maxrej: i64 });

strict_dict!(LinearFitDict "linearfit rejector" {
    kind: String, sigma_lo: f64, sigma_hi: f64, maxiters: u32, nkeep: i64, revert_on_nkeep: bool,
} { maxrej: i64 });

fn centre(name: &str) -> PyResult<Centre> {
    Centre::parse(name).map_err(core_err)
}

/// The centre a spread (or CCD noise level) is taken about; absent = the clipping centre.
fn spread_centre(name: Option<String>) -> PyResult<Option<Centre>> {
    name.map(|c| centre(&c)).transpose()
}

fn limits(nkeep: i64, maxrej: Option<i64>, revert: bool) -> PyResult<Limits> {
    if let Some(m) = maxrej {
        if m < 0 {
            return Err(core_err(Error::param("maxrej", format!("must be >= 0; got {m}"))));
        }
    }
    Ok(Limits { nkeep, maxrej: maxrej.map(|m| m as u64), revert })
}

/// One rejector dict (`{"kind": ..., parameters}`) as a core `Rejector`.
fn rejector(d: &Bound<'_, PyAny>) -> PyResult<Rejector> {
    let kind = d
        .get_item("kind")
        .and_then(|k| k.extract::<String>())
        .map_err(|_| call_err(format!("rejector: needs a \"kind\" string (one of {REJECTORS:?}); got {}", d.repr().map(|r| r.to_string()).unwrap_or_else(|_| type_name(d)))))?;
    Ok(match kind.as_str() {
        "sigclip" => {
            let r = SigClipDict::from_dict(d)?;
            Rejector::SigClip {
                sigma_lo: r.sigma_lo,
                sigma_hi: r.sigma_hi,
                maxiters: r.maxiters,
                cen: centre(&r.cenfunc)?,
                spread: Spread::parse(&r.stdfunc).map_err(core_err)?,
                spread_cen: spread_centre(r.spread_centre)?,
                ddof: r.ddof,
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        "ccdclip" => {
            let r = CcdClipDict::from_dict(d)?;
            Rejector::CcdClip {
                // crreject: nothing is rejected on the low side.
                sigma_lo: if r.high_only { f64::INFINITY } else { r.sigma_lo },
                sigma_hi: r.sigma_hi,
                maxiters: r.maxiters,
                cen: centre(&r.cenfunc)?,
                noise: Noise {
                    level_cen: spread_centre(r.spread_centre)?,
                    // 0.1.1's scale_ref/zero_ref: raw level = scale_ref * (v + zero_ref).
                    level_scale: r.scale_ref,
                    level_zero: r.scale_ref * r.zero_ref,
                    ..Noise::new(r.rdnoise, r.gain, r.snoise, r.sigscale)
                },
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        "linearclip" => {
            let r = LinearClipDict::from_dict(d)?;
            Rejector::LinearClip {
                low_scale: r.low_scale,
                low: r.low,
                upp_scale: r.upp_scale,
                upp: r.upp,
                maxiters: r.maxiters,
                cen: centre(&r.cenfunc)?,
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        "varclip" => {
            let r = VarClipDict::from_dict(d)?;
            Rejector::VarClip {
                sigma_lo: r.sigma_lo,
                sigma_hi: r.sigma_hi,
                maxiters: r.maxiters,
                cen: centre(&r.cenfunc)?,
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        "avsigclip" => {
            let r = AvSigClipDict::from_dict(d)?;
            Rejector::AvSigClip { sigma_lo: r.sigma_lo, sigma_hi: r.sigma_hi, cen: centre(&r.cenfunc)?, nkeep: r.nkeep, sigscale: r.sigscale }
        }
        "minmax" => {
            let r = MinMaxDict::from_dict(d)?;
            Rejector::MinMax { n_min: r.n_min, n_max: r.n_max }
        }
        "pclip" => {
            let r = PClipDict::from_dict(d)?;
            Rejector::PClip { frac: r.frac, sigma_lo: r.sigma_lo, sigma_hi: r.sigma_hi, nkeep: r.nkeep }
        }
        "winsorized" => {
            let r = WinsorizedDict::from_dict(d)?;
            Rejector::Winsorized {
                sigma_lo: r.sigma_lo,
                sigma_hi: r.sigma_hi,
                maxiters: r.maxiters,
                cutoff: r.cutoff,
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        "gesd" => {
            let r = GesdDict::from_dict(d)?;
            // One pass and no add-back: nothing to revert.
            Rejector::Gesd { max_outliers: r.max_outliers, significance: r.significance, limits: limits(r.nkeep, r.maxrej, true)? }
        }
        "linearfit" => {
            let r = LinearFitDict::from_dict(d)?;
            Rejector::LinearFit {
                sigma_lo: r.sigma_lo,
                sigma_hi: r.sigma_hi,
                maxiters: r.maxiters,
                limits: limits(r.nkeep, r.maxrej, r.revert_on_nkeep)?,
            }
        }
        other => return Err(call_err(format!("rejector kind {other:?} is not known; expected one of {REJECTORS:?}"))),
    })
}

/// Build and validate a Job from the dict Python sends.
pub(crate) fn job_from_dict(d: &Bound<'_, PyAny>) -> PyResult<Job> {
    let py = d.py();
    let j = JobDict::from_dict(d)?;
    // ddof is read by the variance only (Method ignores it otherwise).
    let ddof = match (j.ddof, j.method.as_str()) {
        (Some(v), _) => v,
        (None, "variance") => return Err(call_err("job: method 'variance' needs the key \"ddof\"")),
        (None, _) => 0,
    };
    let mut job = Job::simple(Method::parse(&j.method, ddof, j.q).map_err(core_err)?);
    job.thresholds = j.thresholds;
    job.zero = j.zero;
    job.scale = j.scale;
    job.weights = j.weights;
    job.blank = j.blank;
    for r in j.rejectors.unwrap_or_default() {
        job.rejectors.push(rejector(r.bind(py))?);
    }
    // The line length is read by AvSigClip only.
    job.line = match j.line {
        Some(line) => line,
        None if job.rejectors.iter().any(|r| matches!(r, Rejector::AvSigClip { .. })) => {
            return Err(call_err("job: an avsigclip rejector needs the key \"line\""));
        }
        None => 0,
    };
    let mut want = Want::default();
    for name in j.want.unwrap_or_default() {
        want.set(&name).map_err(core_err)?;
    }
    job.want = want;
    // Survey planes: per-frame weights say so (weighting "frame"); the DQ words are
    // checked against the DQ plane's width by the core.
    job.weighting = Weighting::parse(j.weighting.as_deref()).map_err(core_err)?;
    job.bad_bits = match j.bad_bits {
        Some(b) => u32::try_from(b).map_err(|_| call_err(format!("job: bad_bits must fit 32 bits; got {b}")))?,
        None => u32::MAX, // absent: no DQ plane to select bits of
    };
    job.nodata_bit = match j.nodata_bit {
        Some(b) => u32::try_from(b).map_err(|_| call_err(format!("job: nodata_bit must fit 32 bits; got {b}")))?,
        None if job.want.dq => return Err(call_err("job: the dq output needs the key \"nodata_bit\"")),
        None => 0,
    };
    job.exptime = j.exptime;
    Ok(job)
}
