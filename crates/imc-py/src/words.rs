//! Stored FITS words to native values in place (`imc_core::words`), for the FITS readers.

use numpy::{PyReadwriteArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::error::{dtype_err, guarded, layout_err};

/// Turn the stored big-endian words held in `words` (a writeable C-contiguous array of
/// uint16, uint32 or uint64: float and signed images are passed as unsigned views) into
/// native words, flipping the top bit too when `unsigned` (the BZERO = 2^(bits-1)
/// convention). In place; the GIL is released.
#[pyfunction]
fn stored_to_native(py: Python<'_>, words: &Bound<'_, PyAny>, unsigned: bool) -> PyResult<()> {
    macro_rules! dispatch {
        ($t:ty) => {
            if let Ok(mut a) = words.extract::<PyReadwriteArrayDyn<'_, $t>>() {
                if !a.is_c_contiguous() {
                    return Err(layout_err("words must be C-contiguous"));
                }
                let s = a.as_slice_mut().map_err(|_| layout_err("words must be C-contiguous"))?;
                return py.detach(|| {
                    guarded(|| {
                        imc_core::words::stored_to_native(s, unsigned);
                        Ok(())
                    })
                });
            }
        };
    }
    dispatch!(u16);
    dispatch!(u32);
    dispatch!(u64);
    Err(dtype_err("words: must be a writeable array of uint16, uint32 or uint64"))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stored_to_native, m)?)
}
