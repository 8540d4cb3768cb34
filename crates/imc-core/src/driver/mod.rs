//! The tile driver: blocks of output elements -> gather -> reject chain -> combine -> outputs.
//!
//! A block is a run of consecutive pixels. Its samples are gathered frame by frame
//! (contiguous reads from every frame) into a pixel-major scratch buffer, so each output
//! element then works on its N samples in cache. Blocks run in parallel with rayon; the
//! result of an element depends only on its own samples, never on the block size or the
//! number of threads.
//!
//! Paths (chosen by `Path::choose`, all giving the same bits; `tests` checks each
//! against the element path):
//! * `stream`: running reductions without rejection, frame by frame;
//! * `minmax_stream`: a lone MinMaxClip dropping at most one value per end, then a sum;
//! * `vertical`: blocks of [`LANES`] pixels sorted by one network, then rejected per lane
//!   (`lane_shortcuts` decides a lone SigClip / MinMaxClip / PClip for whole blocks);
//! * `element`: one element at a time, with frame ids (per-sample outputs) or values
//!   only for large N (the column path);
//! * `plane_stream`: a running mean / weighted mean / sum with planes (variance,
//!   weights, DQ) and their products, no rejection. Any other job with planes or
//!   products takes the element path, which reads the planes in its gather.
//!
//! `output` holds the raw-pointer writers and `scratch` the per-thread buffers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::alloc::output_vec;
use crate::error::{Error, Result};
use crate::frames::Frames;
use crate::input::Input;
use crate::job::{Centre, Job, Limits, Method, Rejector, Spread, Weighting};
use crate::network::{self, LANES};
use crate::propagate::PlaneCtx;
use crate::real::Real;
use crate::reject::sigclip::SpreadAbout;
use crate::reject::{sflag, Prepared};
use crate::simd::{self, Kernel};

mod avsig_lanes;
mod avsig_store;
mod element;
mod lane_passes;
mod lane_select;
mod lane_shortcuts;
mod minmax_stream;
mod output;
mod plane_stream;
mod prefetch;
mod scratch;
mod stream;
mod vertical;
#[cfg(test)]
mod avsig_tests;
#[cfg(test)]
mod bitonic_tests;
#[cfg(test)]
mod pclip_tests;
#[cfg(test)]
mod plane_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use minmax_stream::MINMAX_BLOCK;
use output::{Elem, Out, Ptrs};
use scratch::{Lent, Scratch, ScratchPool};

/// Everything one run produces; optional outputs are `Some` when the job asked for them.
pub struct Outputs<O> {
    pub data: Vec<O>,
    /// (N * M) frame-major: every excluded sample.
    pub mask: Option<Vec<bool>>,
    pub sample_flags: Option<Vec<u8>>,
    pub std: Option<Vec<O>>,
    pub low: Option<Vec<O>>,
    pub upp: Option<Vec<O>>,
    pub nit: Option<Vec<u8>>,
    pub output_flags: Option<Vec<u8>>,
    pub nused: Option<Vec<i32>>,
    pub clip_low: Option<Vec<O>>,
    pub clip_upp: Option<Vec<O>>,
    /// Survey products (docs/design.md "Survey planes").
    pub variance: Option<Vec<O>>,
    pub weight: Option<Vec<O>>,
    pub exposure: Option<Vec<O>>,
    /// OR of the DQ words used (+ the no-data bit), in the DQ plane's width.
    pub dq: Option<Vec<u32>>,
}

/// Pixels per block for the element path: keep the gathered samples near 64 KiB.
fn block_len(n: usize) -> usize {
    (8192 / n.max(1)).clamp(16, 2048)
}

/// Pixels per block of the streaming (no rejection) path.
const STREAM_BLOCK: usize = 16384;
/// Frames read together by the streaming loops: one load/store of the accumulators per
/// group and several read streams at once (the memory system, not the adds, is the limit).
const FRAME_GROUP: usize = 4;
// The fixed-size inner loops (`add_valid`, `minmax_stream::find_extremes`) match groups of
// exactly four frames.
const _: () = assert!(FRAME_GROUP == 4);
/// Largest N sorted with networks (their cost per sample grows like log² N, but with a
/// small constant: at N = 1000 still a third of one element-wise sort); above it one
/// element at a time, whose scratch does not grow with the block's lanes.
const NETWORK_MAX_N: usize = 2048;
/// Smallest N whose network-sorted blocks are sorted by the tiled bitonic network
/// (`bitonic`) rather than Batcher's: from here on its fewer loads, stores and
/// bookkeeping per comparator outweigh its extra comparators.
const BITONIC_MIN_N: usize = 128;

/// Whether N values are sorted by the tiled bitonic network (on the vertical path).
fn bitonic_for(n: usize) -> bool {
    (BITONIC_MIN_N..=NETWORK_MAX_N).contains(&n)
}

/// Rows of a block's sorted lanes in the scratch: N, or the bitonic sort's padded rows.
fn sorted_rows(n: usize) -> usize {
    if bitonic_for(n) { crate::bitonic::padded_rows(n) } else { n }
}

/// Smallest N whose order statistics without rejection are selected by bisection (see
/// `lane_select`) rather than read from network-sorted lanes.
const SELECT_MIN_N: usize = 128;

/// The workers `with_threads(threads, ..)` runs on: `threads`, or for 0 the current
/// rayon pool's.
fn workers(threads: usize) -> usize {
    if threads == 0 { rayon::current_num_threads() } else { threads }
}

/// Run `f` on a rayon pool with `threads` threads (0 = the global pool).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads == 0 {
        return f();
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pool = {
        let mut pools = POOLS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(threads)
            .or_insert_with(|| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(|i| format!("imc-{i}"))
                        .build()
                        .expect("rayon pool"),
                )
            })
            .clone()
    };
    pool.install(f)
}

/// How a job's blocks are processed.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Path {
    /// No rejection, a running reduction: accumulate frame by frame.
    Stream,
    /// A lone MinMaxClip removing at most one value at each end, then a mean or sum:
    /// extremes and sums in one streaming pass (see `minmax_stream`).
    MinMaxStream,
    /// Sort many pixels at once with a sorting network (no per-sample outputs).
    Vertical,
    /// Order statistics without rejection of many pixels at once by bisection on f32
    /// keys (see `lane_select`).
    Select,
    /// Large N without per-sample outputs: one element at a time, values only (selection
    /// for order statistics, one unstable sort otherwise).
    Column,
    /// One element at a time with frame ids (per-sample outputs, id-aware noise).
    Element,
    /// A running mean / weighted mean / sum reading planes (no rejection).
    PlaneStream,
}

impl Path {
    /// The fastest path that gives the job's outputs (each gives the same bits).
    fn choose(job: &Job, n: usize, prepared: &[Prepared], lone: Option<LoneRejector>, lane32: bool, planes: bool) -> Path {
        let w = job.want;
        if planes {
            // Planes (or their products): the element path reads them per sample; a plain
            // running reduction streams them.
            let stream = job.rejectors.is_empty() && !(w.mask || w.sample_flags)
                && matches!(job.method, Method::Mean | Method::Sum | Method::WAvg);
            return if stream { Path::PlaneStream } else { Path::Element };
        }
        // trunc(f * N + 0.001) <= 1 at N bounds the count for every smaller valid count.
        let at_most_one = |f: f64| (f * n as f64 + 0.001).trunc() <= 1.0;
        let minmax_stream = matches!(lone, Some(LoneRejector::MinMax { frac_lo, frac_hi }) if at_most_one(frac_lo) && at_most_one(frac_hi));
        let per_sample = w.mask || w.sample_flags;
        if minmax_stream && !(w.any_diag() || per_sample) && matches!(job.method, Method::Mean | Method::Sum) {
            Path::MinMaxStream
        } else if job.rejectors.is_empty()
            && !per_sample
            && matches!(job.method, Method::Mean | Method::Sum | Method::WAvg | Method::Min | Method::Max)
        {
            Path::Stream
        } else if !per_sample && n >= SELECT_MIN_N && lane_select::applies(job.method, lane32, prepared.len()) {
            Path::Select
        } else if !per_sample && !prepared.iter().any(|p| p.needs_ids()) {
            if n <= NETWORK_MAX_N { Path::Vertical } else { Path::Column }
        } else {
            Path::Element
        }
    }

    /// Pixels per block of this path.
    fn block(self, n: usize) -> usize {
        match self {
            Path::Element | Path::Column => block_len(n),
            // Running reductions: long rows per task (vectorised loops, few tasks).
            Path::Stream => STREAM_BLOCK,
            Path::PlaneStream => plane_stream::PLANE_BLOCK,
            Path::MinMaxStream => MINMAX_BLOCK,
            Path::Vertical | Path::Select => LANES,
        }
    }
}

/// A lone rejector that whole blocks of complete, network-sorted lanes can decide at once
/// (see `lane_shortcuts`; a lone MinMaxClip also streams, see `minmax_stream`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum LoneRejector {
    /// SigClip with a median centre and the std spread about the median or the mean (at
    /// least one pass).
    SigClip { sigma_lo: f64, sigma_hi: f64, ddof: u32, about: SpreadAbout, maxiters: u32, limits: Limits },
    /// MinMaxClip: the fractions of the valid samples dropped at each end.
    MinMax { frac_lo: f64, frac_hi: f64 },
    /// PClip: IRAF's rank offset (from N) and the clipping limits.
    PClip { offset: i64, sigma_lo: f64, sigma_hi: f64, nkeep: i64 },
    /// WinsorizedSigClip, GESDClip or LinearFitClip: their first pass (`reject::lanes`).
    Modern,
    /// AvSigClip without per-image noise: its clip on the store's blocks (`avsig_lanes`).
    AvSigClip { sigma_lo: f64, sigma_hi: f64, cen: Centre, nkeep: i64 },
}

impl LoneRejector {
    /// The chain's rejector when it is alone and of a kind with a whole-block shortcut.
    fn of(prepared: &[Prepared]) -> Option<Self> {
        let [p] = prepared else { return None };
        match p.rejector {
            Rejector::SigClip { sigma_lo, sigma_hi, maxiters, cen: Centre::Median, spread: Spread::Std, spread_cen, ddof, limits }
                if maxiters >= 1 && matches!(spread_cen, None | Some(Centre::Median | Centre::Mean)) =>
            {
                let about = if spread_cen == Some(Centre::Mean) { SpreadAbout::Mean } else { SpreadAbout::Median };
                Some(LoneRejector::SigClip { sigma_lo, sigma_hi, ddof, about, maxiters, limits })
            }
            Rejector::MinMax { .. } => Some(LoneRejector::MinMax { frac_lo: p.frac_lo, frac_hi: p.frac_hi }),
            Rejector::PClip { sigma_lo, sigma_hi, nkeep, .. } => {
                Some(LoneRejector::PClip { offset: p.pclip_offset, sigma_lo, sigma_hi, nkeep })
            }
            Rejector::Winsorized { .. } | Rejector::Gesd { .. } | Rejector::LinearFit { .. } => Some(LoneRejector::Modern),
            Rejector::AvSigClip { sigma_lo, sigma_hi, cen, nkeep, .. } if !p.per_image_noise => {
                Some(LoneRejector::AvSigClip { sigma_lo, sigma_hi, cen, nkeep })
            }
            _ => None,
        }
    }
}

/// Combine `frames` as `job` says. `threads`: 0 = all cores (rayon's global pool),
/// 1 = run on the calling thread (what a Dask task wants), k = a pool of k threads.
pub fn run<T: Input, O: Real>(frames: &Frames<'_, T>, job: &Job, threads: usize) -> Result<Outputs<O>> {
    let n = frames.n();
    let m = frames.len;
    job.validate(n)?;
    if n > u16::MAX as usize {
        return Err(Error::param("frames", format!("at most {} frames per combine; got {n}", u16::MAX)));
    }
    check_planes(frames, job)?;
    let w = job.want;
    let mut prepared: Vec<Prepared> =
        job.rejectors.iter().map(|r| Prepared::new(r, n, job.zero.as_deref(), job.scale.as_deref())).collect();
    // Only the last rejector's diagnostics reach the outputs.
    let spread_out = w.std || w.clip_low || w.clip_upp || w.low || w.upp;
    let last = prepared.len().saturating_sub(1);
    for (k, p) in prepared.iter_mut().enumerate() {
        p.spread_wanted = spread_out && k == last;
    }
    let per_sample = n.checked_mul(m).ok_or_else(|| Error::Shape("stack too large".into()))?;
    let mut out = Outputs {
        data: output_vec(m, O::default()),
        mask: w.mask.then(|| output_vec(per_sample, false)),
        sample_flags: w.sample_flags.then(|| output_vec(per_sample, 0u8)),
        std: w.std.then(|| output_vec(m, O::NAN)),
        low: w.low.then(|| output_vec(m, O::NAN)),
        upp: w.upp.then(|| output_vec(m, O::NAN)),
        nit: w.nit.then(|| output_vec(m, 0u8)),
        output_flags: w.output_flags.then(|| output_vec(m, 0u8)),
        nused: w.nused.then(|| output_vec(m, 0i32)),
        clip_low: w.clip_low.then(|| output_vec(m, O::NAN)),
        clip_upp: w.clip_upp.then(|| output_vec(m, O::NAN)),
        // Zero-filled (untouched pages, faulted in by the workers): the paths that give
        // the survey products (plane stream, element) write every element of them.
        variance: w.variance.then(|| output_vec(m, O::default())),
        weight: w.weight.then(|| output_vec(m, O::default())),
        exposure: w.exposure.then(|| output_vec(m, O::default())),
        dq: w.dq.then(|| output_vec(m, 0u32)),
    };
    let ptrs = Ptrs {
        data: Out(out.data.as_mut_ptr()),
        mask: Out::of(&mut out.mask),
        sflags: Out::of(&mut out.sample_flags),
        std: Out::of(&mut out.std),
        low: Out::of(&mut out.low),
        upp: Out::of(&mut out.upp),
        nit: Out::of(&mut out.nit),
        oflags: Out::of(&mut out.output_flags),
        nused: Out::of(&mut out.nused),
        clip_low: Out::of(&mut out.clip_low),
        clip_upp: Out::of(&mut out.clip_upp),
        variance: Out::of(&mut out.variance),
        weight: Out::of(&mut out.weight),
        exposure: Out::of(&mut out.exposure),
        dq: Out::of(&mut out.dq),
    };
    let lone = LoneRejector::of(&prepared);
    // f32 lanes hold u8/u16/i16/f32 samples exactly; normalised values need f64.
    let lane32 = T::FITS_F32 && job.zero.is_none() && job.scale.is_none();
    let with_planes = !frames.planes.is_empty() || w.any_product();
    let path = Path::choose(job, n, &prepared, lone, lane32, with_planes);
    let block = path.block(n);
    // The AvSigClip line pre-pass sorts with the network too (see `line_sigmas`).
    let avsig = prepared.iter().any(|p| matches!(p.rejector, Rejector::AvSigClip { .. }));
    // AvSigClip's store holds padded rows too: with f32 lanes at most 8 bytes a sample,
    // what `imcombiners/_memory_model.py` plans for it (f64 lanes keep Batcher's network).
    let bitonic = path == Path::Vertical && (!avsig || lane32) && bitonic_for(n);
    let network = if !bitonic && (path == Path::Vertical || (avsig && n <= NETWORK_MAX_N)) {
        cache_local(network::sorting_network(n), if lane32 { 64 } else { 32 })
    } else {
        vec![]
    };
    let plain = frames.masks.is_none() && job.thresholds.is_none() && job.zero.is_none() && job.scale.is_none();
    let nblocks = m.div_ceil(block);
    let line = if job.line == 0 || m % job.line != 0 { m.max(1) } else { job.line };
    let data_only = !w.any_diag() && !w.nused && !w.mask && !w.sample_flags;
    let pctx = with_planes.then(|| PlaneCtx::new(&frames.planes, job));
    // The SIMD level, read once per call; every block of the call runs at it. The vertical
    // path runs 256-bit code at the avx512 level: its loops work on rows of 64 lanes and
    // comparators that are load/store bound, where 512-bit vectors gained nothing and lost
    // 5-20 % on Zen 4 (issue 14: the N = 5 median was slower at avx512 than at avx2).
    let isa = if path == Path::Vertical { simd::active().at_most(simd::Level::Avx2) } else { simd::active() };
    let mut ctx = Ctx { frames, job, prepared: &prepared, ptrs: &ptrs, n, m, network: &network, line, line_sigma: vec![], plain, lane32, data_only, lone, pctx, bitonic };
    // A lone AvSigClip (in any chain) on the vertical path sorts every pixel once.
    if let Some((k, cen)) = avsig_store::applies(path, &prepared) {
        ctx.run_avsig_store(k, cen, threads, isa);
        return Ok(out);
    }
    // Line sigmas in chain order: an AvSigClip sees the survivors of the rejectors before
    // it, exactly as when the chain runs as separate steps.
    for (k, p) in prepared.iter().enumerate() {
        let table = match p.rejector {
            Rejector::AvSigClip { cen, .. } => Some(ctx.line_sigmas(k, cen, threads)),
            _ => None,
        };
        ctx.line_sigma.push(table);
    }
    let ctx = ctx;
    let body = |s: &mut Lent, b: usize| {
        let p0 = b * block;
        let p1 = (p0 + block).min(m);
        simd::dispatch(isa, BlockWork { ctx: &ctx, path, s: s.get(), p0, p1, presorted: false });
    };
    let pool = ScratchPool::new(n, block, path, with_planes, threads);
    if threads == 1 || nblocks <= 1 {
        let mut s = pool.lend();
        for b in 0..nblocks {
            body(&mut s, b);
        }
    } else {
        with_threads(threads, || {
            (0..nblocks).into_par_iter().for_each_init(|| pool.lend(), |s, b| body(s, b));
        });
    }
    Ok(out)
}

struct Ctx<'a, 'f, T, O> {
    frames: &'a Frames<'f, T>,
    job: &'a Job,
    prepared: &'a [Prepared],
    ptrs: &'a Ptrs<O>,
    n: usize,
    m: usize,
    network: &'a [(u16, u16)],
    /// Pixels per image line, and per rejector the sigma of every line (AvSigClip only).
    line: usize,
    line_sigma: Vec<Option<Vec<f64>>>,
    /// No masks, thresholds or normalisation: only non-finite values can be invalid.
    plain: bool,
    /// The network may sort in f32 (exact for the input type and no normalisation).
    lane32: bool,
    /// Only the combined image is wanted (no per-element diagnostics).
    data_only: bool,
    /// The chain's lone rejector when whole blocks can decide it at once.
    lone: Option<LoneRejector>,
    /// Reads the planes (variance, weights, DQ) when the job has planes or products.
    pctx: Option<PlaneCtx<'a>>,
    /// The vertical path sorts with the tiled bitonic network (rows padded, see `bitonic`).
    bitonic: bool,
}

/// The comparators of a sorting network reordered for the cache: within every maximal run
/// of comparators that each join two rows of one aligned chunk of `chunk` rows, those of
/// chunk 0 come first, then those of chunk 1, ... (each chunk's own order kept). Comparators
/// of different chunks touch different rows, so the network sorts exactly as before, but a
/// block of 64 lanes runs Batcher's small merges chunk by chunk in L1 instead of sweeping
/// all N rows (256 KiB at N = 1000) once per merge step.
fn cache_local(mut net: Vec<(u16, u16)>, chunk: usize) -> Vec<(u16, u16)> {
    let within = |&(a, b): &(u16, u16)| a as usize / chunk == b as usize / chunk;
    let mut i = 0;
    while i < net.len() {
        let run = net[i..].iter().take_while(|c| within(c)).count();
        // A stable sort: the order within each chunk is kept.
        net[i..i + run].sort_by_key(|&(a, _)| a as usize / chunk);
        i += run.max(1);
    }
    net
}

/// The planes a job reads are there, and its DQ bits fit them.
fn check_planes<T>(frames: &Frames<'_, T>, job: &Job) -> Result<()> {
    let pl = &frames.planes;
    if job.needs_variance() && pl.variance.is_none() {
        return Err(Error::param("variance", "this job (inverse-variance weights, VarClip or the variance output) needs a variance plane"));
    }
    if job.weighting == Weighting::Pixel && pl.weights.is_none() {
        return Err(Error::param("weights", "per-pixel weighting needs a weights plane"));
    }
    let bits = pl.dq_bits();
    if bits < 32 && job.nodata_bit >> bits != 0 {
        return Err(Error::param("nodata_bit", format!("{} does not fit {bits}-bit DQ words", job.nodata_bit)));
    }
    Ok(())
}

/// One block of pixels [p0, p1) on `path`: the unit of work compiled once per SIMD level
/// (the block functions and their vector loops are `#[inline(always)]` into
/// [`simd::dispatch`]'s per-level functions).
struct BlockWork<'c, 'a, 'f, T, O> {
    ctx: &'c Ctx<'a, 'f, T, O>,
    path: Path,
    s: &'c mut Scratch,
    p0: usize,
    p1: usize,
    /// Vertical path: the block's sorted rows are already in `s` (see `avsig_store`).
    presorted: bool,
}

impl<T: Input, O: Real> Kernel for BlockWork<'_, '_, '_, T, O> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let BlockWork { ctx, path, s, p0, p1, presorted } = self;
        match path {
            Path::Stream => ctx.stream_block(s, p0, p1),
            Path::MinMaxStream => ctx.minmax_stream_block(s, p0, p1),
            Path::Vertical => ctx.vertical_block(s, p0, p1, presorted),
            Path::Select => ctx.select_block(s, p0, p1),
            Path::Element => ctx.element_block(s, p0, p1),
            Path::Column => ctx.column_block(s, p0, p1),
            Path::PlaneStream => ctx.plane_stream_block(s, p0, p1),
        }
    }
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Read one raw sample, classify it, and normalise it. An excluded sample carries every
    /// cause that applies (input mask, non-finite, outside the thresholds: NaN never is, an
    /// infinity beyond a finite bound is), as imcombiners 0.1.1 reported them.
    #[inline(always)]
    fn sample(&self, i: usize, raw: T, masked: bool) -> (f64, u8) {
        let v = raw.to_f64();
        let nonfinite = T::IS_FLOAT && !v.is_finite();
        let outside = match self.job.thresholds {
            Some((lo, hi)) => v < lo || v > hi,
            None => false,
        };
        if masked || nonfinite || outside {
            let st = (masked as u8 * sflag::INPUT_MASK) | (nonfinite as u8 * sflag::NONFINITE) | (outside as u8 * sflag::THRESHOLD);
            return (if masked { f64::NAN } else { v }, st);
        }
        let mut x = v;
        if let Some(z) = &self.job.zero {
            x -= z[i];
        }
        if let Some(s) = &self.job.scale {
            x /= s[i];
        }
        if !x.is_finite() {
            return (x, sflag::NONFINITE);
        }
        // -0.0 -> +0.0 so that equal values are bit-identical whatever sorted them.
        (x + 0.0, 0)
    }

    fn finish_value(&self, value: f64, nused: usize) -> f64 {
        if nused == 0 {
            if let Some(b) = self.job.blank {
                return b;
            }
        }
        value
    }
}
