//! imc-core: kernels that combine a stack of N frames along axis 0 with pixel rejection.
//!
//! Two engines share one layer. The library engine ([`driver::run`], used by Combiner,
//! ndcombine, kernels and the Dask engine) has its own documented semantics in f64; the
//! IRAF engine ([`iraf`], used by `imcombine`) reproduces IRAF IMCOMBINE's float32/float64
//! sequential arithmetic bit for bit. They share code, not arithmetic: the input types
//! ([`input`]), the float trait ([`real`]), the sorting network ([`network`]), the mode
//! scan ([`mode`]), grow stamping ([`grow`]), the nkeep rule and large-output allocation.
//!
//! No Python types live here; `cargo test` runs on this crate alone. The Python bindings
//! (`crates/imc-py`) convert arrays into [`frames::Frames`] and a [`job::Job`] (or
//! [`iraf::Params`]), call an engine, and pack results.

// `!(s > 0.0)` and friends are deliberate throughout: a NaN spread or limit must take the
// same branch as IRAF's and the documented semantics give it.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

// Shared layer.
pub mod alloc;
pub mod bitonic;
pub mod error;
pub mod grow;
pub mod input;
pub mod mode;
pub mod network;
pub mod real;
pub mod simd;
pub mod words;

// Library engine.
pub mod driver;
pub mod frames;
pub mod job;
pub mod planes;
pub mod propagate;
pub mod reduce;
pub mod reject;
pub mod select;
pub mod stats;

// IRAF-exact engine.
pub mod iraf;

#[doc(hidden)]
pub mod fixtures;

pub use error::{Error, Result};
