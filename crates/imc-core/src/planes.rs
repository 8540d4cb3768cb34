//! Planes read next to the frames: per-sample variance, per-sample weights, DQ words.
//!
//! Like the frames, a plane is N borrowed slices of M values (views of the caller's
//! arrays). Variances and weights arrive as f32 or f64 and are read as f64; DQ words as
//! u8, u16 or u32 and read as u32. The rules they implement are in docs/design.md,
//! "Survey planes".

use crate::error::{Error, Result};

/// N frames of f32 or f64 values.
pub enum FloatPlane<'a> {
    F32(Vec<&'a [f32]>),
    F64(Vec<&'a [f64]>),
}

impl FloatPlane<'_> {
    /// Value of frame `i` at pixel `p`, as f64 (exact).
    #[inline(always)]
    pub fn get(&self, i: usize, p: usize) -> f64 {
        match self {
            FloatPlane::F32(f) => f[i][p] as f64,
            FloatPlane::F64(f) => f[i][p],
        }
    }

    fn lens(&self) -> Vec<usize> {
        match self {
            FloatPlane::F32(f) => f.iter().map(|x| x.len()).collect(),
            FloatPlane::F64(f) => f.iter().map(|x| x.len()).collect(),
        }
    }
}

/// N frames of unsigned DQ words.
pub enum DqPlane<'a> {
    U8(Vec<&'a [u8]>),
    U16(Vec<&'a [u16]>),
    U32(Vec<&'a [u32]>),
}

impl DqPlane<'_> {
    /// DQ word of frame `i` at pixel `p`.
    #[inline(always)]
    pub fn get(&self, i: usize, p: usize) -> u32 {
        match self {
            DqPlane::U8(f) => f[i][p] as u32,
            DqPlane::U16(f) => f[i][p] as u32,
            DqPlane::U32(f) => f[i][p],
        }
    }

    /// Bits of one word.
    pub fn bits(&self) -> u32 {
        match self {
            DqPlane::U8(_) => 8,
            DqPlane::U16(_) => 16,
            DqPlane::U32(_) => 32,
        }
    }

    fn lens(&self) -> Vec<usize> {
        match self {
            DqPlane::U8(f) => f.iter().map(|x| x.len()).collect(),
            DqPlane::U16(f) => f.iter().map(|x| x.len()).collect(),
            DqPlane::U32(f) => f.iter().map(|x| x.len()).collect(),
        }
    }
}

/// The planes of a stack (each optional).
#[derive(Default)]
pub struct Planes<'a> {
    /// Variance of every sample in raw units.
    pub variance: Option<FloatPlane<'a>>,
    /// Weight of every sample (per-pixel weighting).
    pub weights: Option<FloatPlane<'a>>,
    /// DQ word of every sample.
    pub dq: Option<DqPlane<'a>>,
}

impl Planes<'_> {
    /// No plane given.
    pub fn is_empty(&self) -> bool {
        self.variance.is_none() && self.weights.is_none() && self.dq.is_none()
    }

    /// Check that every plane has `n` frames of `len` values.
    pub fn check(&self, n: usize, len: usize) -> Result<()> {
        let one = |name: &str, lens: Vec<usize>| -> Result<()> {
            if lens.len() != n {
                return Err(Error::Shape(format!("{name}: {} frames given for {n} frames", lens.len())));
            }
            if lens.iter().any(|&l| l != len) {
                return Err(Error::Shape(format!("{name}: every frame must match the frame size")));
            }
            Ok(())
        };
        if let Some(v) = &self.variance {
            one("variance", v.lens())?;
        }
        if let Some(w) = &self.weights {
            one("weights", w.lens())?;
        }
        if let Some(d) = &self.dq {
            one("dq", d.lens())?;
        }
        Ok(())
    }

    /// Width of the output DQ words (the DQ plane's; 8 without one).
    pub fn dq_bits(&self) -> u32 {
        self.dq.as_ref().map_or(8, |d| d.bits())
    }
}
