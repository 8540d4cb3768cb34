//! Input pixel types, shared by both engines: what the kernels read.
//!
//! Native arrays (u8, u16, i16, i32, f32, f64) and the raw big-endian words of a
//! memory-mapped FITS file ([`BeF32`], [`BeU16`], ...), which are byte-swapped as they are
//! read so that no converted copy of the file is ever made. Every type converts to f64
//! exactly; each engine then applies its own arithmetic (the library engine f64, the IRAF
//! engine its float32/float64 working type).

/// A pixel type the kernels accept as input. Conversion to f64 is exact for all of them.
pub trait Input: Copy + Send + Sync + 'static {
    /// Whether the value can be non-finite (floats only).
    const IS_FLOAT: bool;
    /// Whether every value of this type is exactly representable as f32.
    const FITS_F32: bool;
    /// Exact value as f64.
    fn to_f64(self) -> f64;
    /// Whether the value is finite (integers always are).
    fn finite(self) -> bool;
}

macro_rules! int_input {
    ($($t:ty => $f32:expr),*) => {$(
        impl Input for $t {
            const IS_FLOAT: bool = false;
            const FITS_F32: bool = $f32;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn finite(self) -> bool {
                true
            }
        }
    )*};
}
int_input!(u8 => true, u16 => true, i16 => true, i32 => false);

impl Input for f32 {
    const IS_FLOAT: bool = true;
    const FITS_F32: bool = true;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Input for f64 {
    const IS_FLOAT: bool = true;
    const FITS_F32: bool = false;
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
/// integer, byte-swapped when read.
macro_rules! be_input {
    ($(#[$doc:meta] $name:ident($raw:ty) => |$b:ident| $conv:expr, $fin:expr, float: $float:expr, f32: $f32:expr;)*) => {$(
        #[$doc]
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name(pub $raw);

        // SAFETY: repr(transparent) over the raw word; every bit pattern is valid.
        unsafe impl BeInput for $name {
            type Raw = $raw;
        }

        impl Input for $name {
            const IS_FLOAT: bool = $float;
            const FITS_F32: bool = $f32;
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

be_input! {
    /// Big-endian float32 (FITS BITPIX = -32).
    BeF32(u32) => |b| f32::from_bits(b) as f64, f32::from_bits(b).is_finite(), float: true, f32: true;
    /// Big-endian float64 (FITS BITPIX = -64).
    BeF64(u64) => |b| f64::from_bits(b), f64::from_bits(b).is_finite(), float: true, f32: false;
    /// Big-endian int16 (FITS BITPIX = 16).
    BeI16(u16) => |b| b as i16 as f64, true, float: false, f32: true;
    /// Big-endian int16 with BZERO = 32768, i.e. uint16 (FITS BITPIX = 16).
    BeU16(u16) => |b| (b as i16 as f64) + 32768.0, true, float: false, f32: true;
    /// Big-endian int32 (FITS BITPIX = 32).
    BeI32(u32) => |b| b as i32 as f64, true, float: false, f32: false;
}

/// A big-endian input type laid out exactly as its raw word.
///
/// # Safety
/// Implementors must be `repr(transparent)` wrappers of `Raw` valid for every bit pattern.
pub unsafe trait BeInput: Input {
    type Raw: Copy;
}

/// View raw native-order words (the file's bytes) as big-endian pixels.
pub fn as_be<P: BeInput>(raw: &[P::Raw]) -> &[P] {
    // SAFETY: guaranteed by the `BeInput` contract (same size, alignment, validity).
    unsafe { std::slice::from_raw_parts(raw.as_ptr() as *const P, raw.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_words_read_as_their_values() {
        let w = |x: f32| BeF32(x.to_bits().swap_bytes());
        assert_eq!(w(1.5).to_f64(), 1.5);
        assert!(!w(f32::NAN).finite() && w(-2.0).finite());
        assert_eq!(BeU16(0u16.swap_bytes()).to_f64(), 32768.0);
        assert_eq!(BeU16(0x8000u16.swap_bytes()).to_f64(), 0.0);
        assert_eq!(BeI16((-3i16 as u16).swap_bytes()).to_f64(), -3.0);
        assert_eq!(BeI32((-70000i32 as u32).swap_bytes()).to_f64(), -70000.0);
        assert_eq!(BeF64(2.25f64.to_bits().swap_bytes()).to_f64(), 2.25);
        let raw = [1.0f32.to_bits().swap_bytes(), 2.0f32.to_bits().swap_bytes()];
        let v: &[BeF32] = as_be(&raw);
        assert_eq!(v[1].to_f64(), 2.0);
    }
}
