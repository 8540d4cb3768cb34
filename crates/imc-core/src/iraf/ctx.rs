//! Run-wide constants of one IRAF combine, derived once from the parameters and read by
//! every stage (gather, rejection, fast paths, combine, outputs).

/// Combining operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// Mean (weighted when weights differ).
    Average,
    /// Median (mean of the middle pair for even counts).
    Median,
    /// Median, lower value when exactly two remain.
    LMedian,
    /// Sum (weights ignored).
    Sum,
    /// Quadrature average: sqrt(sum of (w v)^2) / sum of w (inputs are sigmas).
    Quadrature,
    /// The CCD noise model of each value, combined in quadrature.
    NModel,
}

/// Rejection algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No rejection.
    None,
    /// Drop `nlow` lowest and `nhigh` highest.
    MinMax,
    /// Sigma clipping with the sample sigma.
    SigClip,
    /// Sigma clipping with a Poisson-model sigma per line.
    AvSigClip,
    /// Sigma clipping with the CCD noise model.
    CcdClip,
    /// `CcdClip` rejecting only high values.
    CrReject,
    /// Percentile clipping.
    PClip,
}

/// IRAF's integer working paths (integer inputs with an integer `outtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IntPath {
    /// Real or double path: scaled values stay real.
    #[default]
    Real,
    /// Short path: scaled values are stored as 16-bit integers.
    Short,
    /// Int path (ushort, int, long): scaled values are stored as 32-bit integers.
    Int,
}

impl IntPath {
    /// A scaled value as IRAF stores it in the integer line buffer: truncated toward
    /// zero (values beyond 32 bits give the x86 integer indefinite) and, on the short
    /// path, wrapped to 16 bits.
    #[inline(always)]
    pub fn store(self, x: f32) -> f32 {
        match self {
            IntPath::Real => x,
            IntPath::Int => cvt_i32(x) as f32,
            IntPath::Short => (cvt_i32(x) as i16) as f32,
        }
    }

    /// The novalue marker (IRAF `max_pixel`): MAX_SHORT, MAX_INT or MAX_REAL.
    pub fn max_pixel(self) -> f64 {
        match self {
            IntPath::Real => MAX_REAL as f64,
            IntPath::Int => i32::MAX as f64,
            IntPath::Short => i16::MAX as f64,
        }
    }
}

/// C's float -> int conversion on x86 (truncation; out of range or NaN gives i32::MIN).
#[inline(always)]
fn cvt_i32(x: f32) -> i32 {
    if x.is_finite() && x > -2147483904.0 && x < 2147483648.0 {
        x as i32
    } else {
        i32::MIN
    }
}

/// IRAF's MAX_REAL (INDEF sigma limits and one-sided thresholds).
pub const MAX_REAL: f32 = 0.99e37;
/// Add-back tie tolerance (in sigma units).
pub const TOL: f32 = 0.001;

/// Run-wide constants (derived once from the parameters).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub nimg: usize,
    pub combine: Combine,
    /// `combine` folded: LMedian -> Median for the algorithms (IRAF `combine=MEDIAN`).
    pub comb_median: bool,
    pub lmedian: bool,
    pub comb_sum: bool,
    pub reject: Reject,
    pub mclip: bool,
    pub nkeep: i32,
    pub lsig: f32,
    pub hsig: f32,
    /// minmax fractions.
    pub flow: f32,
    pub fhigh: f32,
    /// pclip rank offset (integer-valued).
    pub pc: f32,
    /// ccdclip noise model per image.
    pub noise: Vec<NoiseModel>,
    pub scales: Vec<f32>,
    pub zeros: Vec<f32>,
    pub wts: Vec<f32>,
    /// Transform values (`doscale || dozero`).
    pub doscale: bool,
    pub doscale1: bool,
    pub dowts: bool,
    pub thresh: Option<(f32, f32)>,
    pub blank: f32,
    pub grow: f32,
    /// Compact median-centred survivors (combine != median or grow).
    pub compact: bool,
    /// IRAF's `keepids` (always true here: the avsigclip quirk is reproduced as IRAF
    /// behaves with a rejection mask, whatever products are requested).
    pub keepids: bool,
    /// Whether anything reads the image ids (masks/exposure requested, weights, grow,
    /// per-image noise or Poisson correction, mean avsigclip's add-back). When false the
    /// values may be sorted without their ids: equal values are the same value, so any
    /// correct sort leaves the same values in the same slots as IRAF's quicksort.
    pub needids: bool,
    /// Sorting network for N values (comparator slot pairs, lower slot first).
    pub network: Vec<(u16, u16)>,
    /// Lines without exclusions run this whole-line path (see [`super::fastline`]).
    pub fast: Option<Fast>,
    /// Lines for `fast` may stay slot-major only (`LineBuf::sm_only`).
    pub fast_lazy: bool,
    /// Lazy sorted fast lines keep a frame-ordered copy of the line so that pixels handed
    /// to the per-pixel routine are sorted with their image ids (rejection/exposure masks).
    pub lazy_ids: bool,
    /// The fast line writes the rejection mask rows itself (`LineBuf::rows_ready`).
    pub fast_masks: bool,
    /// The fast line computes the sigma image itself (`LineBuf::sig_ready`).
    pub fast_sigma: bool,
    /// Masks are wanted but nothing else reads ids, on median-centred (sorted) lines
    /// without a fast path: the gather sorts with the network, keeps a frame-ordered copy
    /// and gives sorted positions as ids; `products::ranges_from_positions` turns what
    /// the rejection kept into the masks.
    pub pos_ids: bool,
    /// IRAF's integer working path (scaled values truncated), or the real path.
    pub int_path: IntPath,
    /// masktype = novalue: pixels without good values may combine their bad values.
    pub novalue: bool,
    /// combine = nmodel: noise model per *slot* (IRAF indexes it by slot, not image):
    /// (max((rdnoise / (gain * scale))^2, floor), gain * scale, snoise).
    pub nmodel: Vec<(f32, f32, f32)>,
    /// Exposure per image for the exposure mask, and its integer encoding.
    pub exps: Vec<f32>,
    /// Total exposure of the images with a positive weight (a pixel that used them all),
    /// NaN unless that sum is the same in every order (then lazy lines may use it).
    pub exp_all: f32,
    pub ezero: f32,
    pub escale: f32,
}

/// IRAF's CCD noise model of one image: variance (rdnoise/gain)² (floored), gain (e-/ADU)
/// and the sensitivity noise fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseModel {
    pub var0: f32,
    pub gain: f32,
    pub snoise: f32,
}

/// How many values IRAF's minmax drops from a pixel: `pairs` of one low and one high
/// value first, then `low` more lowest or `high` more highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinMaxCounts {
    pub pairs: usize,
    pub low: usize,
    pub high: usize,
}

impl Ctx {
    /// IRAF minmax's counts for a pixel with `n` values (float32: trunc(f * n + 0.001)).
    #[inline]
    pub fn minmax_counts(&self, n: usize) -> MinMaxCounts {
        let nlo = (self.flow * n as f32 + 0.001f32) as usize;
        let nhi = (self.fhigh * n as f32 + 0.001f32) as usize;
        let pairs = nlo.min(nhi);
        MinMaxCounts { pairs, low: nlo - pairs, high: nhi - pairs }
    }

    /// IRAF maxkeep for a pixel with `n` values.
    #[inline]
    pub fn maxkeep(&self, n: usize) -> usize {
        crate::reject::keep_count(self.nkeep as i64, n)
    }
}

/// Which fast path a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    /// Median-centred sigclip.
    MSigClip,
    /// Median-centred ccdclip / crreject, one noise model for every image.
    MCcdClip,
    /// No rejection, average or sum.
    NoneSum,
    /// No rejection, median or lmedian.
    NoneMedian,
    /// Mean-centred sigclip, average.
    ASigClip,
    /// minmax with at most one low and one high value dropped (after the pairs), average
    /// or sum.
    MinMax,
}

impl Fast {
    /// Whether the line must be sorted (with the network) first.
    pub fn sorted(self) -> bool {
        matches!(self, Fast::MSigClip | Fast::MCcdClip | Fast::NoneMedian)
    }
}
