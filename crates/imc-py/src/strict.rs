//! Typed, strict dicts at the boundary.
//!
//! Python sends every parameter; the bindings give none a default. [`strict_dict!`]
//! declares a dict's keys once, as a struct extracted item by item
//! (`#[derive(FromPyObject)]`): required keys are plain fields, optional keys are `Option`s
//! whose absence means "not used" (never a default value). Missing and unknown keys are
//! refused with the dict's name and the accepted keys.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::call_err;

/// Declare a strict dict: `strict_dict!(Name "what" { required: T, ... } { optional: T, ... })`.
macro_rules! strict_dict {
    ($(#[$m:meta])* $name:ident $what:literal { $($r:ident: $rt:ty),* $(,)? } { $($o:ident: $ot:ty),* $(,)? }) => {
        $(#[$m])*
        // Every field is a key the dict must (or may) hold, read or not (`kind` is read
        // before the dispatch to the right struct).
        #[allow(dead_code)]
        #[derive(pyo3::FromPyObject)]
        #[pyo3(from_item_all)]
        pub(crate) struct $name {
            $(pub $r: $rt,)*
            $(#[pyo3(default)] pub $o: Option<$ot>,)*
        }

        impl $name {
            /// Extract from a dict with exactly the declared keys.
            pub fn from_dict(d: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<Self> {
                $crate::strict::check_keys(d, $what, &[$(stringify!($r)),*], &[$(stringify!($o)),*])?;
                d.extract::<Self>().map_err(|e| $crate::strict::extract_err($what, d.py(), e))
            }
        }
    };
}
pub(crate) use strict_dict;

/// `d` is a dict holding every key of `required` and no key outside `required` and `optional`.
pub(crate) fn check_keys(d: &Bound<'_, PyAny>, what: &str, required: &[&str], optional: &[&str]) -> PyResult<()> {
    let d = d.cast::<PyDict>().map_err(|_| call_err(format!("{what}: must be a dict; got {}", type_name(d))))?;
    let expected = || required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ");
    for key in required {
        if !d.contains(*key)? {
            return Err(call_err(format!("{what}: missing key {key:?} (keys: {})", expected())));
        }
    }
    for key in d.keys() {
        let known = key.extract::<&str>().is_ok_and(|k| required.contains(&k) || optional.contains(&k));
        if !known {
            return Err(call_err(format!("{what}: unknown key {} (keys: {})", key.repr()?, expected())));
        }
    }
    Ok(())
}

/// A failed extraction of a declared key (a value of the wrong type) as a
/// `KernelCallError` naming the dict, the key and the cause.
pub(crate) fn extract_err(what: &str, py: Python<'_>, e: PyErr) -> PyErr {
    // pyo3 says "failed to extract field Struct.key"; the cause says why.
    let msg = e.value(py).to_string();
    let key = msg.rsplit_once('.').map(|(_, k)| k).filter(|_| msg.starts_with("failed to extract field"));
    let cause = e.cause(py).map(|c| format!(": {c}")).unwrap_or_default();
    match key {
        Some(key) => call_err(format!("{what}: key {key:?} has the wrong type{cause}")),
        None => call_err(format!("{what}: {msg}{cause}")),
    }
}

/// The Python type name of `v` (for messages).
pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}
