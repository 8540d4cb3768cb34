//! imc-core: kernels that combine a stack of N frames along axis 0 with pixel rejection.
//!
//! No Python types live here; `cargo test` runs on this crate alone. The Python bindings
//! (`crates/imc-py`) convert arrays into [`frames::Frames`] and a [`job::Job`], call
//! [`driver::run`] (library semantics) or [`iraf`] (IRAF-exact semantics), and pack results.

// `!(s > 0.0)` and friends are deliberate throughout: a NaN spread or limit must take the
// same branch as IRAF's and the documented semantics give it.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod alloc;
pub mod error;
pub mod real;
pub mod frames;
pub mod select;
pub mod network;
pub mod reduce;
pub mod job;
pub mod reject;
pub mod driver;
pub mod grow;
pub mod stats;
pub mod iraf;

pub use error::{Error, Result};
