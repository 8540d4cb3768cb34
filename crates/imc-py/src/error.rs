//! Every error that crosses into Python, mapped in one place.
//!
//! The exception classes are defined in Python (`imcombiners/errors.py`), each a subclass
//! of the builtin exception these failures always raised, and imported here:
//!
//! | what went wrong                                   | exception (builtin base)       |
//! |---------------------------------------------------|--------------------------------|
//! | `imc_core::Error::Param`: a value out of range    | `ParameterError` (ValueError)  |
//! | `imc_core::Error::Shape`: shapes, lengths, layout | `ShapeError` (ValueError)      |
//! | a malformed job or parameter dict                 | `KernelCallError` (ValueError) |
//! | an array dtype the kernels do not read            | `DtypeError` (TypeError)       |
//! | a Rust panic (a bug), caught by [`guarded`]       | `KernelPanic` (RuntimeError)   |

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;

pyo3::import_exception!(imcombiners.errors, ParameterError);
pyo3::import_exception!(imcombiners.errors, ShapeError);
pyo3::import_exception!(imcombiners.errors, KernelCallError);
pyo3::import_exception!(imcombiners.errors, DtypeError);
pyo3::import_exception!(imcombiners.errors, KernelPanic);

/// A core error on its way to Python (`?` converts it).
pub(crate) struct CoreError(pub imc_core::Error);

impl From<imc_core::Error> for CoreError {
    fn from(e: imc_core::Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        let msg = e.0.to_string();
        match e.0 {
            imc_core::Error::Param { .. } => ParameterError::new_err(msg),
            imc_core::Error::Shape(_) => ShapeError::new_err(msg),
        }
    }
}

/// A core error as its Python exception.
pub(crate) fn core_err(e: imc_core::Error) -> PyErr {
    CoreError(e).into()
}

/// A parameter value out of range, found by the bindings themselves (e.g. a SIMD level
/// name or a level this CPU lacks).
pub(crate) fn param_err(msg: impl Into<String>) -> PyErr {
    ParameterError::new_err(msg.into())
}

/// A malformed call of the private kernel API (missing or unknown key, wrong type).
pub(crate) fn call_err(msg: impl Into<String>) -> PyErr {
    KernelCallError::new_err(msg.into())
}

/// A dtype the kernels do not read.
pub(crate) fn dtype_err(msg: impl Into<String>) -> PyErr {
    DtypeError::new_err(msg.into())
}

/// Arrays whose shapes, lengths or memory layout do not fit.
pub(crate) fn layout_err(msg: impl Into<String>) -> PyErr {
    ShapeError::new_err(msg.into())
}

/// Run a kernel; a panic becomes `KernelPanic` instead of unwinding into Python.
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
            Err(KernelPanic::new_err(format!("internal error in imcombiners kernel (please report): {msg}")))
        }
    }
}
