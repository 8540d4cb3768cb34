//! The SIMD level of the kernels (`imc_core::simd`): what the CPU has, which level runs,
//! and a process-wide override for tests and benchmarks.

use pyo3::exceptions::PyRuntimeWarning;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use imc_core::simd::{self, Level};

fn names(levels: &[Level]) -> Vec<&'static str> {
    levels.iter().map(|l| l.name()).collect()
}

/// The kernels' SIMD configuration: `level` (in use now), `startup_level` (chosen at
/// import from the CPU and IMCOMBINERS_SIMD), `best` (the highest the CPU runs),
/// `available`, `compiled` (every level this build holds), `requested` (the environment
/// variable, or None), `note` (why the request was not followed, or None), `arch` and
/// `features` (CPU feature -> present).
#[pyfunction]
fn simd_config(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let start = simd::startup();
    d.set_item("level", simd::active().level().name())?;
    d.set_item("startup_level", start.level.name())?;
    d.set_item("best", Level::best().name())?;
    d.set_item("available", names(&Level::available()))?;
    d.set_item("compiled", names(&simd::compiled()))?;
    d.set_item("requested", start.requested.clone())?;
    d.set_item("note", start.note.clone())?;
    d.set_item("env_var", simd::ENV_VAR)?;
    d.set_item("arch", std::env::consts::ARCH)?;
    let feats = PyDict::new(py);
    for (name, present) in simd::cpu_features() {
        feats.set_item(name, present)?;
    }
    d.set_item("features", feats)?;
    Ok(d)
}

/// Run every later combine of the process at `level` ("baseline", "avx2", "avx512"), or
/// at the start-up level with None. ValueError when the CPU lacks the level.
#[pyfunction]
#[pyo3(signature = (level))]
fn _set_simd_level(level: Option<&str>) -> PyResult<()> {
    let parsed = match level {
        None => None,
        Some(name) => Some(Level::parse(name).ok_or_else(|| {
            crate::error::param_err(format!("level: {name:?} is not a SIMD level; use baseline, avx2 or avx512"))
        })?),
    };
    simd::set_global(parsed).map_err(|e| crate::error::param_err(e.to_string()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simd_config, m)?)?;
    m.add_function(wrap_pyfunction!(_set_simd_level, m)?)?;
    // An IMCOMBINERS_SIMD the kernels cannot follow is said once, when they load.
    if let Some(note) = &simd::startup().note {
        let py = m.py();
        let category = py.get_type::<PyRuntimeWarning>();
        PyErr::warn(py, &category, &std::ffi::CString::new(note.as_str()).unwrap_or_default(), 1)?;
    }
    Ok(())
}
