//! Conversions at the boundary: Python dict -> Job, core errors -> Python exceptions,
//! and the panic guard.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use imc_core::job::{Centre, Job, Limits, Method, Noise, Rejector, Spread, Want};

/// Rejector kinds the kernel implements (exported as `_core.REJECTORS`).
pub(crate) const REJECTORS: [&str; 7] = ["sigclip", "ccdclip", "avsigclip", "linearclip", "minmax", "pclip", "varclip"];

/// A core error as a Python ValueError (its message names the parameter).
pub(crate) fn core_err(e: imc_core::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Run a kernel; a panic becomes RuntimeError instead of unwinding into Python.
pub(crate) fn guarded<T>(f: impl FnOnce() -> imc_core::Result<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(core_err(e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in imcombiners kernel (please report): {msg}"
            )))
        }
    }
}

fn bad_value(key: &str, v: &Bound<'_, PyAny>) -> PyErr {
    let shown = v.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    PyValueError::new_err(format!("{key}: invalid value {shown}"))
}

pub(crate) fn get<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str, default: T) -> PyResult<T> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map_err(|_| bad_value(key, &v)),
        _ => Ok(default),
    }
}

pub(crate) fn get_opt<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => Ok(Some(v.extract::<T>().map_err(|_| bad_value(key, &v))?)),
        _ => Ok(None),
    }
}

fn limits(d: &Bound<'_, PyDict>) -> PyResult<Limits> {
    let maxrej: Option<i64> = get_opt(d, "maxrej")?;
    if let Some(m) = maxrej {
        if m < 0 {
            return Err(PyValueError::new_err(format!("maxrej: must be >= 0; got {m}")));
        }
    }
    Ok(Limits {
        nkeep: get(d, "nkeep", 1i64)?,
        maxrej: maxrej.map(|m| m as u64),
        revert: get(d, "revert_on_nkeep", true)?,
    })
}

/// The centre a spread (or CCD noise level) is taken about; absent = the clipping centre.
fn spread_cen(d: &Bound<'_, PyDict>) -> PyResult<Option<Centre>> {
    get_opt::<String>(d, "spread_centre")?.map(|c| Centre::parse(&c).map_err(core_err)).transpose()
}

fn rejector(d: &Bound<'_, PyDict>) -> PyResult<Rejector> {
    let kind: String = get(d, "kind", String::new())?;
    let cen = || -> PyResult<Centre> { Centre::parse(&get(d, "cenfunc", "median".to_string())?).map_err(core_err) };
    let maxiters = |default: u32| -> PyResult<u32> { get(d, "maxiters", default) };
    let sig = |k: &str| -> PyResult<f64> { get(d, k, 3.0f64) };
    Ok(match kind.as_str() {
        "sigclip" => Rejector::SigClip {
            sigma_lo: sig("sigma_lo")?,
            sigma_hi: sig("sigma_hi")?,
            maxiters: maxiters(5)?,
            cen: cen()?,
            spread: Spread::parse(&get(d, "stdfunc", "std".to_string())?).map_err(core_err)?,
            spread_cen: spread_cen(d)?,
            ddof: get(d, "ddof", 0u32)?,
            limits: limits(d)?,
        },
        "ccdclip" => {
            let high_only: bool = get(d, "high_only", false)?;
            Rejector::CcdClip {
                sigma_lo: if high_only { f64::INFINITY } else { sig("sigma_lo")? },
                sigma_hi: sig("sigma_hi")?,
                maxiters: maxiters(5)?,
                cen: cen()?,
                noise: Noise {
                    level_cen: spread_cen(d)?,
                    // 0.1.1's scale_ref/zero_ref: raw level = scale_ref * (v + zero_ref).
                    level_scale: get(d, "scale_ref", 1.0)?,
                    level_zero: get(d, "scale_ref", 1.0)? * get(d, "zero_ref", 0.0)?,
                    ..Noise::new(get(d, "rdnoise", 0.0)?, get(d, "gain", 1.0)?, get(d, "snoise", 0.0)?, get(d, "sigscale", 0.1)?)
                },
                limits: limits(d)?,
            }
        }
        "varclip" => Rejector::VarClip {
            sigma_lo: sig("sigma_lo")?,
            sigma_hi: sig("sigma_hi")?,
            maxiters: maxiters(5)?,
            cen: cen()?,
            limits: limits(d)?,
        },
        "linearclip" => Rejector::LinearClip {
            low_scale: get(d, "low_scale", 1.0)?,
            low: get(d, "low", 0.0)?,
            upp_scale: get(d, "upp_scale", 1.0)?,
            upp: get(d, "upp", 0.0)?,
            maxiters: maxiters(1)?,
            cen: cen()?,
            limits: limits(d)?,
        },
        "avsigclip" => Rejector::AvSigClip {
            sigma_lo: sig("sigma_lo")?,
            sigma_hi: sig("sigma_hi")?,
            cen: cen()?,
            nkeep: get(d, "nkeep", 1i64)?,
            sigscale: get(d, "sigscale", 0.1)?,
        },
        "minmax" => Rejector::MinMax { n_min: get(d, "n_min", 1.0)?, n_max: get(d, "n_max", 1.0)? },
        "pclip" => Rejector::PClip {
            frac: get(d, "frac", -0.5)?,
            sigma_lo: sig("sigma_lo")?,
            sigma_hi: sig("sigma_hi")?,
            nkeep: get(d, "nkeep", 1i64)?,
        },
        other => {
            return Err(PyValueError::new_err(format!(
                "rejector kind {other:?} is not known; expected one of {REJECTORS:?}"
            )))
        }
    })
}

/// Build and validate a Job from the dict Python sends.
pub(crate) fn job_from_dict(d: &Bound<'_, PyDict>) -> PyResult<Job> {
    let method: String = get(d, "method", "mean".to_string())?;
    let ddof: u32 = get(d, "ddof", 0u32)?;
    let q: Option<f64> = get_opt(d, "q")?;
    let mut job = Job::simple(Method::parse(&method, ddof, q).map_err(core_err)?);
    job.thresholds = get_opt(d, "thresholds")?;
    job.zero = get_opt(d, "zero")?;
    job.scale = get_opt(d, "scale")?;
    job.weights = get_opt(d, "weights")?;
    job.blank = get_opt(d, "blank")?;
    job.line = get(d, "line", 0usize)?;
    if let Some(list) = d.get_item("rejectors")? {
        if !list.is_none() {
            let list = list.cast_into::<PyList>().map_err(|_| PyValueError::new_err("rejectors: must be a list of dicts"))?;
            for item in list.iter() {
                let rd = item.cast_into::<PyDict>().map_err(|_| PyValueError::new_err("rejectors: each must be a dict"))?;
                job.rejectors.push(rejector(&rd)?);
            }
        }
    }
    let mut want = Want::default();
    if let Some(list) = d.get_item("want")? {
        if !list.is_none() {
            for name in list.try_iter()? {
                let name: String = name?.extract()?;
                want.set(&name).map_err(core_err)?;
            }
        }
    }
    job.want = want;
    crate::planes::job_keys(d, &mut job)?;
    Ok(job)
}
