//! The floating types the kernels compute in and write: f32 and f64.
//!
//! [`Real`] is what both engines need of a float: conversions, the special values, and
//! nothing about the order of arithmetic (the library engine's per-element arithmetic is
//! f64, rounded once to the output type; the IRAF engine's working type adds its own
//! operations in [`crate::iraf::work::Work`]). Sorting-network lanes are `Real` too: f32
//! lanes hold twice as many pixels per vector when the input fits f32 exactly.

/// A floating type: f32 or f64.
pub trait Real: Copy + Send + Sync + Default + PartialOrd + std::fmt::Debug + crate::network::NetValue + 'static {
    /// Not-a-number in this type.
    const NAN: Self;
    /// +inf (invalid samples sort to the end as +inf).
    const INF: Self;
    /// -inf.
    const NEG_INF: Self;
    /// Round an f64 to this type.
    fn from_f64(v: f64) -> Self;
    /// Widen to f64.
    fn to_f64(self) -> f64;
    /// Whether the value is finite.
    fn is_finite(self) -> bool;
}

/// Whether `x` is finite, by two float compares (NaN fails both). The same answer as the
/// standard `is_finite`, which tests the exponent bits with integer operations: in a loop
/// that also selects floats, that integer mask keeps the SSE2 (baseline) build scalar,
/// while compares give float-lane masks that vectorise at every SIMD level.
#[inline(always)]
pub fn finite<R: Real>(x: R) -> bool {
    (x > R::NEG_INF) & (x < R::INF)
}

macro_rules! impl_real {
    ($($t:ident),*) => {$(
        impl Real for $t {
            const NAN: Self = $t::NAN;
            const INF: Self = $t::INFINITY;
            const NEG_INF: Self = $t::NEG_INFINITY;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                finite(self)
            }
        }
    )*};
}
impl_real!(f32, f64);
