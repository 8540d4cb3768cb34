//! Borrowing NumPy arrays as Rust slices (shared by every binding).

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::{dtype_err, layout_err};

/// One 1-D array of element type `T` held (not borrowed through rust-numpy's borrow
/// tracker) for the duration of one call.
///
/// Why not `PyReadonlyArray1`: each readonly borrow scans every other borrow of the same
/// base object for a conflict, so N frames that are views of one stack cost O(N²): 0.8 ms
/// per call at N = 1000, more than the combine of a 32 Ki-pixel frame set itself. The
/// kernels only read these arrays, and nothing in this extension writes into an input
/// while a call runs; what the tracker does not cover either way (Python code writing into
/// a frame while the GIL is released) is unchanged.
pub(crate) struct Held<'py, T>(Bound<'py, PyArray1<T>>);

impl<'py, T: numpy::Element> Held<'py, T> {
    /// `a` as a 1-D array of `T`, or None (another dtype or dimensionality).
    pub(crate) fn of(a: &Bound<'py, PyAny>) -> Option<Self> {
        a.extract::<Bound<'py, PyArray1<T>>>().ok().map(Held)
    }

    /// The elements, when the array is contiguous.
    fn slice(&self) -> Option<&[T]> {
        // Safety: the array stays alive (held) while the slice is used, and nothing in
        // this extension writes into an input array (see the type's documentation).
        unsafe { self.0.as_slice() }.ok()
    }
}

/// Every frame as a 1-D array of element type `T`; `None` when frames[0] is not `T`
/// (the caller tries the next dtype), an error when a later frame disagrees.
pub(crate) fn borrow_all<'py, T: numpy::Element>(frames: &Bound<'py, PyList>) -> PyResult<Option<Vec<Held<'py, T>>>> {
    if Held::<T>::of(&frames.get_item(0)?).is_none() {
        return Ok(None);
    }
    let mut v = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        v.push(Held::of(&f).ok_or_else(|| {
            dtype_err(format!("frames[{i}]: every frame must be a 1-D array of the same dtype as frames[0]"))
        })?);
    }
    Ok(Some(v))
}

/// Optional per-frame bool masks.
pub(crate) fn borrow_masks<'py>(masks: Option<&Bound<'py, PyList>>) -> PyResult<Option<Vec<Held<'py, bool>>>> {
    masks
        .map(|m| {
            m.iter()
                .enumerate()
                .map(|(i, a)| Held::of(&a).ok_or_else(|| dtype_err(format!("masks[{i}] must be a 1-D bool array"))))
                .collect::<PyResult<Vec<_>>>()
        })
        .transpose()
}

/// The held arrays as contiguous slices (`what` names them in errors).
pub(crate) fn slices<'a, T: numpy::Element>(arrays: &'a [Held<'_, T>], what: &str) -> PyResult<Vec<&'a [T]>> {
    arrays
        .iter()
        .enumerate()
        .map(|(i, a)| a.slice().ok_or_else(|| layout_err(format!("{what}[{i}] must be C-contiguous"))))
        .collect()
}

/// `d[name] = ndarray(v)` when the output was computed (the Vec moves, no copy).
pub(crate) fn put_opt<E: numpy::Element>(d: &Bound<'_, PyDict>, name: &str, v: Option<Vec<E>>) -> PyResult<()> {
    if let Some(v) = v {
        d.set_item(name, PyArray1::from_vec(d.py(), v))?;
    }
    Ok(())
}
