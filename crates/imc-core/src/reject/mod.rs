//! Library rejection algorithms, applied per output element to its valid samples.
//!
//! Every algorithm works on a [`Work`] buffer holding the surviving samples of one output
//! element in frame order (`xs`, with frame ids `ids`). Rejection compacts the survivors
//! stably, so a later mean sums them in frame order: the fused path, the mask path and
//! the out-of-core path therefore give identical bits.

mod ccdclip;
mod linearclip;
mod minmax;
mod pclip;
mod sigclip;

use crate::job::{Centre, Limits, Rejector};
use crate::select;

/// Output-flag bits (per output element).
pub mod oflag {
    pub const PREMASKED: u8 = 1;
    pub const MAXITERS: u8 = 2;
    pub const NKEEP: u8 = 4;
    pub const MAXREJ: u8 = 8;
    pub const GROW: u8 = 16;
}

/// Sample-flag bits (per input sample).
pub mod sflag {
    pub const INPUT_MASK: u8 = 1;
    pub const NONFINITE: u8 = 2;
    pub const THRESHOLD: u8 = 4;
    pub const ALGORITHM: u8 = 8;
    pub const GROW: u8 = 16;
    pub const PREVIOUS: u8 = 32;
}

/// Per-element diagnostics of one rejector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diag {
    pub std: f64,
    pub low: f64,
    pub upp: f64,
    pub nit: u8,
    pub flags: u8,
}

impl Default for Diag {
    fn default() -> Self {
        Diag { std: f64::NAN, low: f64::NAN, upp: f64::NAN, nit: 0, flags: 0 }
    }
}

/// Reusable per-thread buffers for one output element.
#[derive(Default)]
pub struct Work {
    /// Surviving values, in frame order.
    pub xs: Vec<f64>,
    /// Frame index of each surviving value.
    pub ids: Vec<u32>,
    /// Frame ids rejected by algorithms (appended; the driver turns them into flags).
    pub rejected: Vec<u32>,
    // Scratch.
    pub(crate) s1: Vec<f64>,
    pub(crate) s2: Vec<f64>,
    pub(crate) lo: Vec<f64>,
    pub(crate) hi: Vec<f64>,
    pub(crate) resid: Vec<f64>,
    pub(crate) cand: Vec<usize>,
    pub(crate) pairs: Vec<(f64, u32)>,
    pub(crate) reject: Vec<bool>,
}

impl Work {
    pub fn with_capacity(n: usize) -> Self {
        let mut w = Work::default();
        w.xs.reserve(n);
        w.ids.reserve(n);
        w.rejected.reserve(n);
        w
    }

    /// Start a new element.
    pub fn clear(&mut self) {
        self.xs.clear();
        self.ids.clear();
        self.rejected.clear();
    }

    /// Number of survivors.
    #[inline]
    pub fn n(&self) -> usize {
        self.xs.len()
    }

    /// Remove the samples flagged in `self.reject` (stable), recording their ids.
    pub(crate) fn compact(&mut self) {
        let mut k = 0;
        for j in 0..self.xs.len() {
            if self.reject[j] {
                self.rejected.push(self.ids[j]);
            } else {
                self.xs[k] = self.xs[j];
                self.ids[k] = self.ids[j];
                k += 1;
            }
        }
        self.xs.truncate(k);
        self.ids.truncate(k);
    }
}

/// Per-rejector data derived once per job (not per element).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub rejector: Rejector,
    /// Per-frame scale and zero in raw units (value = scale * value' + zero).
    pub scales: Vec<f64>,
    pub zeros: Vec<f64>,
    /// CcdClip: evaluate the noise at each frame's own raw level (IRAF "doscale1").
    pub per_image_noise: bool,
    /// PClip: rank offset computed from N.
    pub pclip_offset: i64,
    /// MinMax: fractions of the valid samples.
    pub frac_lo: f64,
    pub frac_hi: f64,
}

impl Prepared {
    /// Derive constants from the rejector, N and the job's normalisation.
    pub fn new(rejector: &Rejector, n: usize, zero: Option<&[f64]>, scale: Option<&[f64]>) -> Self {
        let scales = scale.map(|s| s.to_vec()).unwrap_or_else(|| vec![1.0; n]);
        let zeros = zero.map(|z| z.to_vec()).unwrap_or_else(|| vec![0.0; n]);
        let mut p = Prepared {
            rejector: rejector.clone(),
            scales,
            zeros,
            per_image_noise: false,
            pclip_offset: 0,
            frac_lo: 0.0,
            frac_hi: 0.0,
        };
        match rejector {
            Rejector::CcdClip { noise, .. } => {
                // IRAF: only a scale spread beyond `sigscale` switches to per-image noise.
                p.per_image_noise = noise.sigscale > 0.0
                    && p.scales.iter().any(|s| (s - 1.0).abs() > noise.sigscale);
            }
            Rejector::PClip { frac, .. } => p.pclip_offset = pclip::rank_offset(*frac, n),
            Rejector::MinMax { n_min, n_max } => {
                let f = |v: f64| if v >= 1.0 { v.trunc() / n as f64 } else { v };
                p.frac_lo = f(*n_min);
                p.frac_hi = f(*n_max);
            }
            _ => {}
        }
        p
    }

    /// Apply to one element's survivors.
    pub fn apply(&self, w: &mut Work) -> Diag {
        match &self.rejector {
            Rejector::SigClip { sigma_lo, sigma_hi, maxiters, cen, spread, ddof, limits } => {
                sigclip::apply(w, *sigma_lo, *sigma_hi, *maxiters, *cen, *spread, *ddof, limits)
            }
            Rejector::CcdClip { sigma_lo, sigma_hi, maxiters, cen, noise, limits } => {
                ccdclip::apply(w, self, *sigma_lo, *sigma_hi, *maxiters, *cen, noise, limits)
            }
            Rejector::LinearClip { low_scale, low, upp_scale, upp, maxiters, cen, limits } => {
                linearclip::apply(w, *low_scale, *low, *upp_scale, *upp, *maxiters, *cen, limits)
            }
            Rejector::MinMax { .. } => minmax::apply(w, self.frac_lo, self.frac_hi),
            Rejector::PClip { sigma_lo, sigma_hi, nkeep, .. } => {
                pclip::apply(w, self.pclip_offset, *sigma_lo, *sigma_hi, *nkeep)
            }
        }
    }
}

/// Centre of the survivors.
pub(crate) fn centre(xs: &[f64], cen: Centre, scratch: &mut Vec<f64>) -> f64 {
    match cen {
        Centre::Mean => mean(xs),
        Centre::Median | Centre::LMedian => {
            scratch.clear();
            scratch.extend_from_slice(xs);
            if cen == Centre::Median {
                select::median(scratch)
            } else {
                select::lmedian(scratch)
            }
        }
    }
}

/// Sequential mean (frame order), NaN when empty.
#[inline]
pub(crate) fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut s = 0.0;
    for &x in xs {
        s += x;
    }
    s / xs.len() as f64
}

/// Smallest number of survivors this rejector must leave, from the count at its start.
pub(crate) fn keep_count(nkeep: i64, n0: usize) -> usize {
    if nkeep >= 0 {
        (nkeep as usize).min(n0)
    } else {
        (n0 as i64 + nkeep).max(0) as usize
    }
}

/// One iterative clipping loop shared by SigClip, CcdClip and LinearClip.
///
/// `bounds` fills `w.lo`, `w.hi` (per-sample inclusive keep range) and `w.resid` scale
/// (|x - c| / scale orders add-back), returning `(std, low, upp)` for diagnostics, or
/// `None` when the spread is undefined (the loop then stops).
pub(crate) fn iterate<F>(w: &mut Work, maxiters: u32, limits: &Limits, mut bounds: F) -> Diag
where
    F: FnMut(&mut Work) -> Option<(f64, f64, f64)>,
{
    let mut d = Diag::default();
    let n0 = w.n();
    let keep = keep_count(limits.nkeep, n0);
    let allowed = match limits.maxrej {
        Some(m) => (n0 - keep).min(m.min(n0 as u64) as usize),
        None => n0 - keep,
    };
    for pass in 1..=maxiters {
        let n = w.n();
        if n == 0 {
            break;
        }
        let Some((std, low, upp)) = bounds(w) else { break };
        d.nit = d.nit.saturating_add(1);
        d.std = std;
        d.low = low;
        d.upp = upp;
        w.reject.clear();
        w.cand.clear();
        for j in 0..n {
            let x = w.xs[j];
            let r = x < w.lo[j] || x > w.hi[j];
            w.reject.push(r);
            if r {
                w.cand.push(j);
            }
        }
        let k = w.cand.len();
        if k == 0 {
            break;
        }
        let done = n0 - n;
        if done + k > allowed {
            if n - k < keep {
                d.flags |= oflag::NKEEP;
            }
            if let Some(m) = limits.maxrej {
                if (done + k) as u64 > m {
                    d.flags |= oflag::MAXREJ;
                }
            }
            if limits.revert {
                // Undo the whole pass.
                break;
            }
            add_back(w, allowed - done);
            w.compact();
            break;
        }
        w.compact();
        if pass == maxiters {
            d.flags |= oflag::MAXITERS;
        }
    }
    d
}

/// IRAF-style add-back: of this pass's candidates, reject only the `budget` most deviant;
/// the least deviant are restored, together with any whose residual ties the last
/// restored one within 0.001 (so slightly more than needed may come back).
pub(crate) fn add_back(w: &mut Work, budget: usize) {
    const TOL: f64 = 0.001;
    let k = w.cand.len();
    let restore = k - budget.min(k);
    if restore == 0 {
        return;
    }
    let resid = &w.resid;
    let mut order: Vec<usize> = w.cand.clone();
    order.sort_by(|&a, &b| resid[a].total_cmp(&resid[b]).then(a.cmp(&b)));
    let last = resid[order[restore - 1]];
    for (pos, &j) in order.iter().enumerate() {
        if pos < restore || (resid[j] - last).abs() <= TOL {
            w.reject[j] = false;
        }
    }
}
