//! A borrowed view of N frames, each M pixels long, with optional bad-pixel masks.
//!
//! Frames are separate slices so a stacked array (views of one buffer), a Python list of
//! arrays, or memory-mapped files all reach the kernels without an `np.stack` copy.

use crate::error::{Error, Result};
use crate::planes::Planes;

/// N frames of `len` pixels each; `masks[i][p] == true` marks a bad sample; `planes`
/// holds the samples' variances, weights and DQ words when given.
pub struct Frames<'a, T> {
    pub data: Vec<&'a [T]>,
    pub masks: Option<Vec<&'a [bool]>>,
    pub len: usize,
    pub planes: Planes<'a>,
}

impl<'a, T> Frames<'a, T> {
    /// Check that every frame and mask has the same length.
    pub fn new(data: Vec<&'a [T]>, masks: Option<Vec<&'a [bool]>>) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::param("frames", "at least one frame is required"));
        }
        let len = data[0].len();
        if data.iter().any(|f| f.len() != len) {
            return Err(Error::Shape("frames: all frames must have the same number of pixels".into()));
        }
        if let Some(m) = &masks {
            if m.len() != data.len() {
                return Err(Error::Shape(format!(
                    "mask: {} mask frames given for {} frames",
                    m.len(),
                    data.len()
                )));
            }
            if m.iter().any(|f| f.len() != len) {
                return Err(Error::Shape("mask: every mask frame must match the frame size".into()));
            }
        }
        Ok(Frames { data, masks, len, planes: Planes::default() })
    }

    /// The same frames with planes (checked against N and the frame size).
    pub fn with_planes(mut self, planes: Planes<'a>) -> Result<Self> {
        planes.check(self.data.len(), self.len)?;
        self.planes = planes;
        Ok(self)
    }

    /// Number of frames N.
    pub fn n(&self) -> usize {
        self.data.len()
    }
}
