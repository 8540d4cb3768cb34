//! Library rejection algorithms, applied per output element to its sorted valid samples.
//!
//! Each algorithm narrows a window `[lo, hi)` of the element's samples sorted by
//! (value, frame index): survivors are always a contiguous run of the sorted samples.
//! The sorted value sequence of an element is unique, so every path (per-element with
//! frame ids, vectorised sorting networks without ids, out-of-core tiles) computes the
//! same centres, spreads and windows, bit for bit. Among equal values at a window edge,
//! the (value, frame index) order decides which frames are rejected.

pub mod avsigclip;
mod ccdclip;
mod linearclip;
pub(crate) mod minmax;
pub(crate) mod pclip;
pub(crate) mod sigclip;
pub(crate) mod gesd;
pub(crate) mod lanes;
pub(crate) mod linfit;
pub(crate) mod tdist;
mod varclip;
pub(crate) mod winsorized;

use crate::job::{Centre, Limits, Rejector, Spread};

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
    /// Rejected by a pass that was then undone (or added back) to respect nkeep.
    pub const RESTORED_NKEEP: u8 = 64;
    /// Rejected by a pass that was then undone (or added back) to respect maxrej.
    pub const RESTORED_MAXREJ: u8 = 128;
    /// Bits that mark a sample that was *kept* (not excluded).
    pub const RESTORED: u8 = RESTORED_NKEEP | RESTORED_MAXREJ;
}

/// Per-element diagnostics of one rejector.
///
/// `low`/`upp` are the smallest and largest retained samples (imcombiners 0.1.1), except
/// for LinearClip, whose `low`/`upp` are the bounds of its last accepted pass (0.1.1 too).
/// `clip_low`/`clip_upp` are the clipping bounds of the last evaluated pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diag {
    pub std: f64,
    pub low: f64,
    pub upp: f64,
    pub clip_low: f64,
    pub clip_upp: f64,
    pub nit: u8,
    pub flags: u8,
}

impl Default for Diag {
    fn default() -> Self {
        Diag { std: f64::NAN, low: f64::NAN, upp: f64::NAN, clip_low: f64::NAN, clip_upp: f64::NAN, nit: 0, flags: 0 }
    }
}

impl Diag {
    /// Set `low`/`upp` to the extremes of the survivor window (NaN when it is empty).
    #[inline]
    pub fn retained_extremes(&mut self, w: &Win<'_>) {
        (self.low, self.upp) = if w.n() > 0 { (w.a[w.lo], w.a[w.hi - 1]) } else { (f64::NAN, f64::NAN) };
    }
}

/// The sorted samples of one element and the current survivor window.
pub struct Win<'a> {
    /// Values sorted ascending (all finite).
    pub a: &'a [f64],
    /// Frame index of each sorted value, when known (needed by per-image noise models).
    pub ids: Option<&'a [u32]>,
    pub lo: usize,
    pub hi: usize,
    /// AvSigClip: the sigma of this element's image line (NaN when not computed).
    pub line_sigma: f64,
    /// VarClip: the normalised variance of each frame's sample of this element, indexed
    /// by frame id (None without a variance plane).
    pub var: Option<&'a [f64]>,
}

impl<'a> Win<'a> {
    /// The full window over sorted samples.
    pub fn new(a: &'a [f64], ids: Option<&'a [u32]>) -> Self {
        Win { a, ids, lo: 0, hi: a.len(), line_sigma: f64::NAN, var: None }
    }

    #[inline]
    pub fn n(&self) -> usize {
        self.hi - self.lo
    }
    #[inline]
    pub fn vals(&self) -> &[f64] {
        &self.a[self.lo..self.hi]
    }
}

/// Scratch reused across elements.
#[derive(Default)]
pub struct Scratch {
    pub(crate) s1: Vec<f64>,
    /// When true, rejectors record the samples a limited pass restored.
    pub record_restored: bool,
    /// Sorted-sample ranges `[a, b)` restored by nkeep/maxrej with their sample-flag bits
    /// (only while `record_restored`; the caller clears it per element).
    pub restored: Vec<(usize, usize, u8)>,
    /// Set by the vertical path for an element whose whole-block first pass
    /// (`reject::lanes`) decided nothing: a lone WinsorizedSigClip then skips, on its first
    /// pass, the lower bound that block computed with the same arithmetic. Taken (reset)
    /// by the rejector that reads it.
    pub(crate) first_pass_undecided: bool,
}

/// Per-rejector data derived once per job (not per element).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub rejector: Rejector,
    /// Per-frame scale and zero in raw units (raw = scale * value' + zero).
    pub scales: Vec<f64>,
    pub zeros: Vec<f64>,
    /// CcdClip: evaluate the noise at each frame's own raw level (IRAF "doscale1").
    pub per_image_noise: bool,
    /// PClip: rank offset computed from N.
    pub pclip_offset: i64,
    /// MinMax: fractions of the valid samples.
    pub frac_lo: f64,
    pub frac_hi: f64,
    /// GESD: Rosner's critical value for every window size 0..=N (shared, cached).
    pub esd_table: Option<std::sync::Arc<Vec<f64>>>,
    /// Whether this rejector's spread and clip bounds are outputs (the driver clears it for
    /// a data-only combine and for every rejector but the last of a chain): WinsorizedSigClip
    /// then decides most passes from a cheap lower bound of its sigma.
    pub spread_wanted: bool,
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
            esd_table: None,
            spread_wanted: true,
        };
        match rejector {
            // Per-image levels come from the job's scales, never from level_scale.
            Rejector::CcdClip { noise, .. } => p.per_image_noise = p.scales_differ(noise.sigscale),
            Rejector::AvSigClip { sigscale, .. } => p.per_image_noise = p.scales_differ(*sigscale),
            Rejector::PClip { frac, .. } => p.pclip_offset = pclip::rank_offset(*frac, n),
            Rejector::MinMax { n_min, n_max } => {
                let f = |v: f64| if v >= 1.0 { v.trunc() / n as f64 } else { v };
                p.frac_lo = f(*n_min);
                p.frac_hi = f(*n_max);
            }
            Rejector::Gesd { significance, .. } => p.esd_table = Some(tdist::esd_table(n, *significance)),
            _ => {}
        }
        p
    }

    /// IRAF's "doscale1": only a scale spread beyond `sigscale` (> 0) switches the noise
    /// model to each image's own level.
    fn scales_differ(&self, sigscale: f64) -> bool {
        sigscale > 0.0 && self.scales.iter().any(|s| (s - 1.0).abs() > sigscale)
    }

    /// Poisson level of frame `f` at normalised centre `c`, in normalised units squared
    /// per unit variance: raw level / scale² (IRAF's (c + Z) / S), at least 1.
    #[inline]
    pub(crate) fn poisson_level(&self, f: usize, c: f64) -> f64 {
        let sc = self.scales[f];
        ((sc * c + self.zeros[f]) / (sc * sc)).max(1.0)
    }

    /// Whether this rejector needs the frame index of every sorted sample.
    pub fn needs_ids(&self) -> bool {
        self.per_image_noise || matches!(self.rejector, Rejector::VarClip { .. })
    }

    /// Narrow the window of one element.
    pub fn apply(&self, w: &mut Win<'_>, s: &mut Scratch) -> Diag {
        let mut d = match &self.rejector {
            Rejector::SigClip { sigma_lo, sigma_hi, maxiters, cen, spread, spread_cen, ddof, limits } => {
                let shape = SigClipShape { cen: *cen, spread: *spread, spread_cen: *spread_cen, ddof: *ddof };
                sigclip::apply(w, s, *sigma_lo, *sigma_hi, *maxiters, shape, limits)
            }
            Rejector::CcdClip { sigma_lo, sigma_hi, maxiters, cen, noise, limits } => {
                ccdclip::apply(w, s, self, *sigma_lo, *sigma_hi, *maxiters, *cen, noise, limits)
            }
            Rejector::VarClip { sigma_lo, sigma_hi, maxiters, cen, limits } => {
                varclip::apply(w, s, *sigma_lo, *sigma_hi, *maxiters, *cen, limits)
            }
            Rejector::LinearClip { low_scale, low, upp_scale, upp, maxiters, cen, limits } => {
                // LinearClip reports its bounds as low/upp (0.1.1): nothing to replace.
                return linearclip::apply(w, s, *low_scale, *low, *upp_scale, *upp, *maxiters, *cen, limits);
            }
            Rejector::AvSigClip { sigma_lo, sigma_hi, cen, nkeep, .. } => {
                avsigclip::apply(w, s, self, *sigma_lo, *sigma_hi, *cen, *nkeep)
            }
            Rejector::MinMax { .. } => minmax::apply(w, self.frac_lo, self.frac_hi),
            Rejector::PClip { sigma_lo, sigma_hi, nkeep, .. } => {
                pclip::apply(w, s, self.pclip_offset, *sigma_lo, *sigma_hi, *nkeep)
            }
            Rejector::Winsorized { sigma_lo, sigma_hi, maxiters, cutoff, limits } => {
                winsorized::apply(w, s, *sigma_lo, *sigma_hi, *maxiters, *cutoff, limits, self.spread_wanted)
            }
            Rejector::Gesd { max_outliers, limits, .. } => {
                let table = self.esd_table.as_deref().map(|t| t.as_slice()).unwrap_or(&[]);
                gesd::apply(w, table, *max_outliers, limits)
            }
            Rejector::LinearFit { sigma_lo, sigma_hi, maxiters, limits } => {
                linfit::apply(w, s, *sigma_lo, *sigma_hi, *maxiters, limits)
            }
        };
        d.retained_extremes(w);
        d
    }
}

/// The shape of a SigClip: centre, spread estimator, spread centre and ddof.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SigClipShape {
    pub cen: Centre,
    pub spread: Spread,
    pub spread_cen: Option<Centre>,
    pub ddof: u32,
}

/// Centre of the sorted survivors.
#[inline]
pub(crate) fn centre(v: &[f64], cen: Centre) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    match cen {
        Centre::Mean => sum(v) / n as f64,
        Centre::Median => median_sorted(v),
        Centre::LMedian => v[(n - 1) / 2],
    }
}

/// Median of sorted values (mean of the middle pair for even n).
#[inline]
pub fn median_sorted(v: &[f64]) -> f64 {
    median_at(v.len(), |k| v[k])
}

/// Median of `n` sorted values read through `at(k)`, k in 0..n: the one definition the
/// per-element paths evaluate (whole blocks of lanes use the same expressions, see
/// `driver::lane_shortcuts::pick_rows`). NaN when n = 0.
#[inline(always)]
pub fn median_at(n: usize, at: impl Fn(usize) -> f64) -> f64 {
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => at(n / 2),
        _ => 0.5 * (at(n / 2 - 1) + at(n / 2)),
    }
}

/// Sum with four interleaved accumulators (a fixed order, so deterministic; about four
/// times faster than one dependent chain). Used for window statistics, never for the
/// final combine, which sums in frame order.
#[inline]
pub(crate) fn sum(v: &[f64]) -> f64 {
    sum_map(v, |x| x)
}

/// Sum of f(x) over `v` with the same fixed four-accumulator order as [`sum`].
#[inline(always)]
pub(crate) fn sum_map(v: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        acc[0] += f(c[0]);
        acc[1] += f(c[1]);
        acc[2] += f(c[2]);
        acc[3] += f(c[3]);
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for &x in rest {
        s += f(x);
    }
    s
}

/// Which side of the inclusive keep range [low, upp] x falls on: -1 below, +1 above, 0
/// inside. Below wins when the range is empty (low > upp), so every sample is rejected.
#[inline]
pub(crate) fn side(x: f64, low: f64, upp: f64) -> i8 {
    if x < low {
        -1
    } else if x > upp {
        1
    } else {
        0
    }
}

/// Smallest number of survivors a rejector must leave, from the count at its start
/// (IRAF's `maxkeep`: both engines use this rule).
#[inline]
pub fn keep_count(nkeep: i64, n0: usize) -> usize {
    if nkeep >= 0 {
        (nkeep as usize).min(n0)
    } else {
        (n0 as i64 + nkeep).max(0) as usize
    }
}

/// IRAF's tolerance (in sigma) under which add-back residuals count as tied.
pub(crate) const ADDBACK_TOL: f64 = 0.001;

/// What one pass of an iterative clip proposes.
pub(crate) struct Pass {
    pub centre: f64,
    /// Level of per-sample noise models (CcdClip; the centre elsewhere).
    pub level: f64,
    pub std: f64,
    pub low: f64,
    pub upp: f64,
}

/// How an iterative clip counts its passes in `nit` and when it sets MAXITERS
/// (the two conventions of imcombiners 0.1.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Passes {
    /// SigClip, CcdClip: nit = 1 + the passes that rejected something and were kept;
    /// MAXITERS when `maxiters` is 0 or the last allowed pass rejected and was kept.
    Accepted,
    /// LinearClip, AvSigClip: nit = passes evaluated; MAXITERS when `maxiters` > 1 and the
    /// last allowed pass rejected and was kept.
    Evaluated,
    /// WinsorizedSigClip, LinearFitClip: nit = passes evaluated; MAXITERS whenever the last
    /// allowed pass rejected and was kept.
    EvaluatedAll,
}

/// Record the sorted-sample ranges a limited pass gave back (`[a, b)` pairs) with `bits`.
#[inline]
fn record_restored(s: &mut Scratch, ranges: [(usize, usize); 2], bits: u8) {
    if s.record_restored && bits != 0 {
        for (a, b) in ranges {
            if b > a {
                s.restored.push((a, b, bits));
            }
        }
    }
}

/// The iterative clipping loop shared by SigClip, CcdClip, LinearClip and AvSigClip.
///
/// `pass` computes the centre and limits from the current window, or `None` when they
/// are undefined (the loop stops). `sigma_of(k)` gives the residual scale of sorted
/// sample k (for per-sample noise models), and `side(k, pass)` whether sample k is below
/// (-1), inside (0) or above (+1) its keep range. Rejection walks inward from both ends and stops at the first
/// kept sample of each side, so survivors stay contiguous.
///
/// Diagnostics: `clip_low`/`clip_upp`/`std` describe the last evaluated pass, `low`/`upp`
/// the bounds of the last kept pass (NaN when none was kept).
#[allow(clippy::too_many_arguments)]
pub(crate) fn iterate<P, R, S>(
    w: &mut Win<'_>,
    s: &mut Scratch,
    maxiters: u32,
    limits: &Limits,
    passes: Passes,
    pass: P,
    side: R,
    sigma_of: S,
) -> Diag
where
    P: FnMut(&Win<'_>, &mut Scratch) -> Option<Pass>,
    R: Fn(usize, &Pass) -> i8,
    S: Fn(usize, &Pass) -> f64,
{
    let a = w.a;
    iterate_dev(w, s, maxiters, limits, passes, pass, side, sigma_of, |k, p| (a[k] - p.centre).abs())
}

/// [`iterate`] with the distance of sorted sample k from its expected value given by
/// `dev(k, pass)` (the add-back orders by dev / sigma): LinearFitClip measures it from
/// the fitted line instead of a single centre.
#[allow(clippy::too_many_arguments)]
pub(crate) fn iterate_dev<P, R, S, D>(
    w: &mut Win<'_>,
    s: &mut Scratch,
    maxiters: u32,
    limits: &Limits,
    passes: Passes,
    mut pass: P,
    side: R,
    sigma_of: S,
    dev: D,
) -> Diag
where
    P: FnMut(&Win<'_>, &mut Scratch) -> Option<Pass>,
    R: Fn(usize, &Pass) -> i8,
    S: Fn(usize, &Pass) -> f64,
    D: Fn(usize, &Pass) -> f64,
{
    let mut d = Diag::default();
    if passes == Passes::Accepted {
        d.nit = 1;
        if maxiters == 0 {
            d.flags |= oflag::MAXITERS;
        }
    }
    let n0 = w.n();
    let keep = keep_count(limits.nkeep, n0);
    let allowed = match limits.maxrej {
        Some(m) => (n0 - keep).min(m.min(n0 as u64) as usize),
        None => n0 - keep,
    };
    let count_kept_pass = |d: &mut Diag, rejected: bool| match passes {
        Passes::Accepted if rejected => d.nit = d.nit.saturating_add(1),
        _ => {}
    };
    for it in 1..=maxiters {
        if w.n() == 0 {
            break;
        }
        let Some(p) = pass(w, s) else { break };
        debug_assert!(w.lo <= w.hi && w.hi <= w.a.len());
        if passes != Passes::Accepted {
            d.nit = d.nit.saturating_add(1);
        }
        d.std = p.std;
        d.clip_low = p.low;
        d.clip_upp = p.upp;
        let (mut lo, mut hi) = (w.lo, w.hi);
        while lo < hi && side(lo, &p) < 0 {
            lo += 1;
        }
        while hi > lo && side(hi - 1, &p) > 0 {
            hi -= 1;
        }
        let k = (lo - w.lo) + (w.hi - hi);
        if k == 0 {
            (d.low, d.upp) = (p.low, p.upp);
            break;
        }
        let done = n0 - w.n();
        if done + k > allowed {
            let mut bits = 0;
            if w.n() - k < keep {
                d.flags |= oflag::NKEEP;
                bits |= sflag::RESTORED_NKEEP;
            }
            if let Some(m) = limits.maxrej {
                if (done + k) as u64 > m {
                    d.flags |= oflag::MAXREJ;
                    bits |= sflag::RESTORED_MAXREJ;
                }
            }
            if limits.revert {
                // The whole pass is undone: every sample it proposed is restored.
                record_restored(s, [(w.lo, lo), (hi, w.hi)], bits);
            } else {
                // Residuals in units of sigma (IRAF's 0.001 sigma tolerance for ties); with a
                // zero or undefined spread, plain distances from the centre with exact ties.
                let scaled = (w.lo..w.hi).all(|j| sigma_of(j, &p) > 0.0) && p.std.is_finite();
                let tol = if scaled { ADDBACK_TOL } else { 0.0 };
                let resid = |j: usize| {
                    let d = dev(j, &p);
                    if scaled { d / sigma_of(j, &p) } else { d }
                };
                let (l2, h2) = add_back(w.lo, w.hi, lo, hi, allowed - done, tol, resid);
                record_restored(s, [(l2, lo), (hi, h2)], bits);
                if l2 > w.lo || h2 < w.hi {
                    (d.low, d.upp) = (p.low, p.upp);
                    count_kept_pass(&mut d, true);
                }
                w.lo = l2;
                w.hi = h2;
            }
            break;
        }
        w.lo = lo;
        w.hi = hi;
        (d.low, d.upp) = (p.low, p.upp);
        count_kept_pass(&mut d, true);
        let flag_maxiters = match passes {
            Passes::Accepted | Passes::EvaluatedAll => true,
            Passes::Evaluated => maxiters > 1,
        };
        if it == maxiters && flag_maxiters {
            d.flags |= oflag::MAXITERS;
        }
    }
    d
}

/// IRAF-style add-back on a sorted window: of the samples just rejected at both ends
/// (window was [lo0, hi0), proposed [lo, hi)), reject at most `budget`; restore the least
/// deviant first, plus any whose residual ties the last restored one within `tol`.
pub(crate) fn add_back(lo0: usize, hi0: usize, mut lo: usize, mut hi: usize, budget: usize, tol: f64, resid: impl Fn(usize) -> f64) -> (usize, usize) {
    let proposed = (lo - lo0) + (hi0 - hi);
    let mut restore = proposed.saturating_sub(budget);
    let mut last = f64::NEG_INFINITY;
    // A sample exactly at the centre of a zero spread has residual 0/0: treat it as 0.
    let resid = |j: usize| {
        let r = resid(j);
        if r.is_nan() { 0.0 } else { r }
    };
    while restore > 0 && (lo > lo0 || hi < hi0) {
        let rl = if lo > lo0 { resid(lo - 1) } else { f64::INFINITY };
        let rh = if hi < hi0 { resid(hi) } else { f64::INFINITY };
        // Ties go to the high side, as IRAF does.
        if hi < hi0 && (lo == lo0 || rh <= rl) {
            hi += 1;
            last = rh;
        } else {
            lo -= 1;
            last = rl;
        }
        restore -= 1;
    }
    // Values tied with the last restored one come back too.
    while lo > lo0 && (resid(lo - 1) - last).abs() <= tol {
        lo -= 1;
    }
    while hi < hi0 && (resid(hi) - last).abs() <= tol {
        hi += 1;
    }
    debug_assert!(lo0 <= lo && lo <= hi && hi <= hi0);
    (lo, hi)
}
