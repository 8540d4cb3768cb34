//! The IRAF working real type: `f32` ("real path") or `f64` ("double path").
//!
//! Every operation is one IEEE operation in the working precision, written left to right
//! (no fused multiply-add, no reassociation), which is how IRAF's f2c-translated code runs.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::real::Real;

/// Arithmetic of the IRAF working type (conversions to and from f64 come from [`Real`]).
pub trait Work:
    Real
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// 0 in the working type.
    const ZERO: Self;
    /// 1 in the working type.
    const ONE: Self;
    /// Round an `f32` into the working type (exact for both).
    fn from_f32(x: f32) -> Self;
    /// An integer count as a working value.
    fn from_usize(n: usize) -> Self;
    /// Round to `f32` (IRAF assigning to a `real` variable).
    fn to_f32(self) -> f32;
    /// Correctly rounded square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Whether this is -0.0 (equal to +0.0 but a different value to copy around).
    fn is_neg_zero(self) -> bool;
    /// Whether [`Work::key32`] exists (float32 only).
    const HAS_KEY32: bool;
    /// A u32 whose unsigned order is the value's numeric order (-0.0 just below +0.0);
    /// a bijection, inverted by [`Work::from_key32`]. Only when `HAS_KEY32`.
    fn key32(self) -> u32;
    /// Inverse of [`Work::key32`].
    fn from_key32(k: u32) -> Self;
}

impl Work for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
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
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn is_neg_zero(self) -> bool {
        self.to_bits() == 0x8000_0000
    }
    const HAS_KEY32: bool = true;
    #[inline(always)]
    fn key32(self) -> u32 {
        let b = self.to_bits();
        if b & 0x8000_0000 != 0 {
            !b
        } else {
            b | 0x8000_0000
        }
    }
    #[inline(always)]
    fn from_key32(k: u32) -> Self {
        f32::from_bits(if k & 0x8000_0000 != 0 { k & 0x7fff_ffff } else { !k })
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
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn is_neg_zero(self) -> bool {
        self.to_bits() == 0x8000_0000_0000_0000
    }
    const HAS_KEY32: bool = false;
    fn key32(self) -> u32 {
        unreachable!("key32 on the double path")
    }
    fn from_key32(_: u32) -> Self {
        unreachable!("from_key32 on the double path")
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
