//! The survey planes at the boundary: `planes={"variance": [...], "weights": [...],
//! "dq": [...]}` -> borrowed slices, and the DQ output (the job keys that go with them
//! are fields of `job::JobDict`).

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use imc_core::planes::{DqPlane, FloatPlane, Planes};

use crate::arrays::{borrow_all, slices, Held};
use crate::error::{call_err, dtype_err, layout_err};

/// Planes borrowed from Python for the duration of one call.
#[derive(Default)]
pub(crate) struct Borrowed<'py> {
    var32: Option<Vec<Held<'py, f32>>>,
    var64: Option<Vec<Held<'py, f64>>>,
    w32: Option<Vec<Held<'py, f32>>>,
    w64: Option<Vec<Held<'py, f64>>>,
    dq8: Option<Vec<Held<'py, u8>>>,
    dq16: Option<Vec<Held<'py, u16>>>,
    dq32: Option<Vec<Held<'py, u32>>>,
}

fn list<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyList>>> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => {
            let l = v.cast_into::<PyList>().map_err(|_| call_err(format!("planes[{key:?}] must be a list of arrays")))?;
            if l.is_empty() {
                return Err(layout_err(format!("planes[{key:?}]: at least one frame is required")));
            }
            Ok(Some(l))
        }
        _ => Ok(None),
    }
}

impl<'py> Borrowed<'py> {
    /// Borrow the arrays of a `planes` dict (unknown keys are an error).
    pub(crate) fn from_dict(planes: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        let mut b = Borrowed::default();
        let Some(d) = planes else { return Ok(b) };
        for key in d.keys() {
            let k: String = key.extract()?;
            if !matches!(k.as_str(), "variance" | "weights" | "dq") {
                return Err(call_err(format!("planes: unknown plane {k:?}; expected variance, weights or dq")));
            }
        }
        let float = |key: &str| -> PyResult<(Option<Vec<Held<'py, f32>>>, Option<Vec<Held<'py, f64>>>)> {
            let Some(l) = list(d, key)? else { return Ok((None, None)) };
            if let Some(a) = borrow_all::<f32>(&l)? {
                return Ok((Some(a), None));
            }
            if let Some(a) = borrow_all::<f64>(&l)? {
                return Ok((None, Some(a)));
            }
            Err(dtype_err(format!("planes[{key:?}]: arrays must be 1-D float32 or float64")))
        };
        (b.var32, b.var64) = float("variance")?;
        (b.w32, b.w64) = float("weights")?;
        if let Some(l) = list(d, "dq")? {
            if let Some(a) = borrow_all::<u8>(&l)? {
                b.dq8 = Some(a);
            } else if let Some(a) = borrow_all::<u16>(&l)? {
                b.dq16 = Some(a);
            } else if let Some(a) = borrow_all::<u32>(&l)? {
                b.dq32 = Some(a);
            } else {
                return Err(dtype_err("planes[\"dq\"]: arrays must be 1-D uint8, uint16 or uint32"));
            }
        }
        Ok(b)
    }

    /// The planes as slices.
    pub(crate) fn planes(&self) -> PyResult<Planes<'_>> {
        let dq = match (&self.dq8, &self.dq16, &self.dq32) {
            (Some(a), _, _) => Some(DqPlane::U8(slices(a, "dq")?)),
            (_, Some(a), _) => Some(DqPlane::U16(slices(a, "dq")?)),
            (_, _, Some(a)) => Some(DqPlane::U32(slices(a, "dq")?)),
            _ => None,
        };
        Ok(Planes {
            variance: float_plane(&self.var32, &self.var64, "variance")?,
            weights: float_plane(&self.w32, &self.w64, "weights")?,
            dq,
        })
    }
}

fn float_plane<'a>(
    a32: &'a Option<Vec<Held<'_, f32>>>,
    a64: &'a Option<Vec<Held<'_, f64>>>,
    what: &str,
) -> PyResult<Option<FloatPlane<'a>>> {
    Ok(match (a32, a64) {
        (Some(a), _) => Some(FloatPlane::F32(slices(a, what)?)),
        (_, Some(a)) => Some(FloatPlane::F64(slices(a, what)?)),
        _ => None,
    })
}

/// `d["dq"] = ndarray` in the DQ plane's width (`bits`; uint8 without a DQ plane).
pub(crate) fn put_dq(d: &Bound<'_, PyDict>, dq: Option<Vec<u32>>, bits: u32) -> PyResult<()> {
    let Some(v) = dq else { return Ok(()) };
    let py = d.py();
    // Every word fits: an OR of input words plus a no-data bit checked against the width.
    match bits {
        8 => d.set_item("dq", PyArray1::from_vec(py, v.into_iter().map(|x| x as u8).collect::<Vec<u8>>())),
        16 => d.set_item("dq", PyArray1::from_vec(py, v.into_iter().map(|x| x as u16).collect::<Vec<u16>>())),
        _ => d.set_item("dq", PyArray1::from_vec(py, v)),
    }
}
