//! Borrowing NumPy arrays as Rust slices (shared by every binding).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::{dtype_err, layout_err};

/// Borrow every frame as a 1-D array of element type `T`; `None` when frames[0] is not `T`
/// (the caller tries the next dtype), an error when a later frame disagrees.
pub(crate) fn borrow_all<'py, T: numpy::Element>(
    frames: &Bound<'py, PyList>,
) -> PyResult<Option<Vec<PyReadonlyArray1<'py, T>>>> {
    if frames.get_item(0)?.extract::<PyReadonlyArray1<'py, T>>().is_err() {
        return Ok(None);
    }
    let mut v = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        v.push(f.extract::<PyReadonlyArray1<'py, T>>().map_err(|_| {
            dtype_err(format!("frames[{i}]: every frame must be a 1-D array of the same dtype as frames[0]"))
        })?);
    }
    Ok(Some(v))
}

/// Borrow optional per-frame bool masks.
pub(crate) fn borrow_masks<'py>(masks: Option<&Bound<'py, PyList>>) -> PyResult<Option<Vec<PyReadonlyArray1<'py, bool>>>> {
    masks
        .map(|m| {
            m.iter()
                .enumerate()
                .map(|(i, a)| {
                    a.extract::<PyReadonlyArray1<'py, bool>>()
                        .map_err(|_| dtype_err(format!("masks[{i}] must be a 1-D bool array")))
                })
                .collect::<PyResult<Vec<_>>>()
        })
        .transpose()
}

/// The borrowed arrays as contiguous slices (`what` names them in errors).
pub(crate) fn slices<'a, T: numpy::Element>(arrays: &'a [PyReadonlyArray1<'_, T>], what: &str) -> PyResult<Vec<&'a [T]>> {
    arrays
        .iter()
        .enumerate()
        .map(|(i, a)| a.as_slice().map_err(|_| layout_err(format!("{what}[{i}] must be C-contiguous"))))
        .collect()
}

/// `d[name] = ndarray(v)` when the output was computed (the Vec moves, no copy).
pub(crate) fn put_opt<E: numpy::Element>(d: &Bound<'_, PyDict>, name: &str, v: Option<Vec<E>>) -> PyResult<()> {
    if let Some(v) = v {
        d.set_item(name, PyArray1::from_vec(d.py(), v))?;
    }
    Ok(())
}
