//! Errors returned by the kernels. Every fallible entry point returns [`Result`]; user input
//! never reaches a panic (the bindings still catch panics as a last line of defence).

use std::fmt;

/// What went wrong, with the name of the offending parameter where there is one.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A parameter has a value outside its accepted range.
    Param { name: &'static str, msg: String },
    /// Array shapes or lengths disagree.
    Shape(String),
}

impl Error {
    /// Shorthand for a parameter error.
    pub fn param(name: &'static str, msg: impl Into<String>) -> Self {
        Error::Param { name, msg: msg.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Param { name, msg } => write!(f, "{name}: {msg}"),
            Error::Shape(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
