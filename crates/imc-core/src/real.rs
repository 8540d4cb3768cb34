//! Numeric element types: what the kernels read ([`Input`]) and write ([`Real`]).
//!
//! Library kernels do their per-element arithmetic in f64 (exact for every input type,
//! including int32), then round once to the workspace type on output.

/// A pixel type the kernels accept as input. Conversion to f64 is exact for all of them.
pub trait Input: Copy + Send + Sync + 'static {
    /// Exact value as f64.
    fn to_f64(self) -> f64;
    /// Whether the value can be non-finite (floats only).
    const IS_FLOAT: bool;
    /// Whether every value of this type is exactly representable as f32.
    const FITS_F32: bool;
}

macro_rules! impl_input {
    ($t:ty, $float:expr, $f32:expr) => {
        impl Input for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            const IS_FLOAT: bool = $float;
            const FITS_F32: bool = $f32;
        }
    };
}
impl_input!(u8, false, true);
impl_input!(u16, false, true);
impl_input!(i16, false, true);
impl_input!(i32, false, false);
impl_input!(f32, true, true);
impl_input!(f64, true, false);

/// A floating output (workspace) type: f32 or f64.
pub trait Real: Copy + Send + Sync + Default + PartialOrd + std::fmt::Debug + 'static {
    /// Round an f64 to this type.
    fn from_f64(v: f64) -> Self;
    /// Widen to f64.
    fn to_f64(self) -> f64;
    /// Not-a-number in this type.
    const NAN: Self;
}

impl Real for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    const NAN: Self = f32::NAN;
}

impl Real for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    const NAN: Self = f64::NAN;
}
