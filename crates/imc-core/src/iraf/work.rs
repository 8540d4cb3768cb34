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

/// Big-endian (FITS) pixels used in place: the raw bytes of the file as a native unsigned
/// integer, byte-swapped when read. Lets the engine read memory-mapped FITS data without
/// a converted copy.
macro_rules! be_pixel {
    ($(#[$doc:meta] $name:ident($raw:ty) => |$b:ident| $conv:expr, $fin:expr;)*) => {$(
        #[$doc]
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name(pub $raw);

        // SAFETY: repr(transparent) over the raw word; every bit pattern is valid.
        unsafe impl BePixel for $name {
            type Raw = $raw;
        }

        impl Pixel for $name {
            #[inline(always)]
            fn to_f64(self) -> f64 {
                let $b = self.0.swap_bytes();
                $conv
            }
            #[inline(always)]
            fn finite(self) -> bool {
                let $b = self.0.swap_bytes();
                let _ = $b;
                $fin
            }
        }
    )*};
}

be_pixel! {
    /// Big-endian float32 (FITS BITPIX = -32).
    BeF32(u32) => |b| f32::from_bits(b) as f64, f32::from_bits(b).is_finite();
    /// Big-endian float64 (FITS BITPIX = -64).
    BeF64(u64) => |b| f64::from_bits(b), f64::from_bits(b).is_finite();
    /// Big-endian int16 (FITS BITPIX = 16).
    BeI16(u16) => |b| b as i16 as f64, true;
    /// Big-endian int16 with BZERO = 32768, i.e. uint16 (FITS BITPIX = 16).
    BeU16(u16) => |b| (b as i16 as f64) + 32768.0, true;
    /// Big-endian int32 (FITS BITPIX = 32).
    BeI32(u32) => |b| b as i32 as f64, true;
}

/// A big-endian pixel type laid out exactly as its raw word.
///
/// # Safety
/// Implementors must be `repr(transparent)` wrappers of `Raw` valid for every bit pattern.
pub unsafe trait BePixel: Pixel {
    type Raw: Copy;
}

/// View raw native-order words (the file's bytes) as big-endian pixels.
pub fn as_be<P: BePixel>(raw: &[P::Raw]) -> &[P] {
    // SAFETY: guaranteed by the `BePixel` contract (same size, alignment, validity).
    unsafe { std::slice::from_raw_parts(raw.as_ptr() as *const P, raw.len()) }
}
