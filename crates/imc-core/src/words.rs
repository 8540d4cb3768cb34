//! Stored FITS words turned into native values where they were read.
//!
//! A FITS image stores big-endian numbers; an unsigned image (BITPIX 16/32/64 with
//! BZERO = 2^(bits-1)) stores each value with its top bit flipped. Readers that read the
//! stored words straight into the destination array convert them there: one byte swap and,
//! for the unsigned convention, one XOR per word. NumPy's in-place `byteswap` is a scalar
//! loop over any stride (~4 instructions per 2-byte word); this one is a contiguous loop the
//! compiler vectorises at every level (a shuffle per register above the baseline), which
//! matters for the command line on small sets, where the swap was a tenth of the process.
//!
//! Floats are swapped through their bit patterns (the caller views them as unsigned words),
//! so every NaN payload survives.

use crate::simd::{self, Isa, Kernel};

/// An unsigned word of 2, 4 or 8 bytes.
pub trait Word: Copy + Send + Sync + std::ops::BitXor<Output = Self> + 'static {
    /// The value with only the top bit set (the unsigned convention's offset).
    const TOP: Self;
    const ZERO: Self;
    /// The native word of stored big-endian bytes.
    fn from_stored(self) -> Self;
}

macro_rules! word {
    ($($t:ty),*) => {$(
        impl Word for $t {
            const TOP: Self = 1 << (<$t>::BITS - 1);
            const ZERO: Self = 0;
            #[inline(always)]
            fn from_stored(self) -> Self {
                <$t>::from_be(self)
            }
        }
    )*};
}
word!(u16, u32, u64);

struct Convert<'a, W: Word> {
    words: &'a mut [W],
    flip: W,
}

impl<W: Word> Kernel for Convert<'_, W> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let flip = self.flip;
        for w in self.words.iter_mut() {
            *w = w.from_stored() ^ flip;
        }
    }
}

/// Convert stored big-endian words to native values in place; with `unsigned`, also flip
/// the top bit (FITS's BZERO = 2^(bits-1) convention: the physical unsigned value).
pub fn stored_to_native<W: Word>(words: &mut [W], unsigned: bool) {
    let flip = if unsigned { W::TOP } else { W::ZERO };
    let isa: Isa = simd::active();
    simd::dispatch(isa, Convert { words, flip });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{with_level, Level};

    #[test]
    fn swaps_and_flips_like_the_definition_at_every_level() {
        let raw16: Vec<u16> = (0..1037u32).map(|i| (i.wrapping_mul(40503) ^ 0x8001) as u16).collect();
        let raw32: Vec<u32> = (0..1037u32).map(|i| i.wrapping_mul(2654435761) ^ 0x7fc0_0001).collect();
        let raw64: Vec<u64> = (0..1037u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        for level in Level::available() {
            for unsigned in [false, true] {
                for start in 0..3 {
                    let mut w = raw16.clone();
                    with_level(level, || stored_to_native(&mut w[start..], unsigned)).unwrap();
                    for (i, (&got, &r)) in w.iter().zip(&raw16).enumerate() {
                        let want = if i < start { r } else { u16::from_be_bytes(r.to_ne_bytes()) ^ if unsigned { 0x8000 } else { 0 } };
                        assert_eq!(got, want, "u16 {level:?} {unsigned} {i}");
                    }
                    let mut w = raw32.clone();
                    with_level(level, || stored_to_native(&mut w[start..], unsigned)).unwrap();
                    for (i, (&got, &r)) in w.iter().zip(&raw32).enumerate() {
                        let want = if i < start { r } else { u32::from_be_bytes(r.to_ne_bytes()) ^ if unsigned { 1 << 31 } else { 0 } };
                        assert_eq!(got, want, "u32 {level:?} {unsigned} {i}");
                    }
                    let mut w = raw64.clone();
                    with_level(level, || stored_to_native(&mut w[start..], unsigned)).unwrap();
                    for (i, (&got, &r)) in w.iter().zip(&raw64).enumerate() {
                        let want = if i < start { r } else { u64::from_be_bytes(r.to_ne_bytes()) ^ if unsigned { 1 << 63 } else { 0 } };
                        assert_eq!(got, want, "u64 {level:?} {unsigned} {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn float_bits_survive_including_nan_payloads() {
        let vals = [1.5f32, -0.0, f32::INFINITY, f32::from_bits(0x7fc0_1234), f32::from_bits(0xff80_0001)];
        let mut w: Vec<u32> = vals.iter().map(|v| u32::from_ne_bytes(v.to_be_bytes())).collect();
        stored_to_native(&mut w, false);
        for (got, v) in w.iter().zip(vals) {
            assert_eq!(*got, v.to_bits());
        }
    }
}
