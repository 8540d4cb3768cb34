//! The IRAF working real type: `f32` ("real path") or `f64` ("double path").
//!
//! Every operation is one IEEE operation in the working precision, written left to right
//! (no fused multiply-add, no reassociation), which is how IRAF's f2c-translated code runs.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Arithmetic of the IRAF working type.
pub trait Work:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// 0 in the working type.
    const ZERO: Self;
    /// 1 in the working type.
    const ONE: Self;
    /// Round an `f32` into the working type (exact for both).
    fn from_f32(x: f32) -> Self;
    /// Round an `f64` into the working type.
    fn from_f64(x: f64) -> Self;
    /// An integer count as a working value.
    fn from_usize(n: usize) -> Self;
    /// Round to `f32` (IRAF assigning to a `real` variable).
    fn to_f32(self) -> f32;
    /// Widen to `f64`.
    fn to_f64(self) -> f64;
    /// Correctly rounded square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
}

impl Work for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
}

impl Work for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
}

/// IRAF's `max(a, b)` (Fortran MAX: `a` unless `b` is larger).
#[inline(always)]
pub fn fmax<T: PartialOrd>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

/// Input pixel types accepted by the IRAF engine.
pub trait Pixel: Copy + Send + Sync + 'static {
    /// The value as `f64` (exact for every supported type).
    fn to_f64(self) -> f64;
    /// Whether the value is finite (integers always are).
    fn finite(self) -> bool;
}

macro_rules! int_pixel {
    ($($t:ty),*) => {$(
        impl Pixel for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn finite(self) -> bool { true }
        }
    )*};
}
int_pixel!(u8, u16, i16, i32);

impl Pixel for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Pixel for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}
