//! Bindings of the IRAF-exact engine (placeholder until the IRAF work lands).

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
