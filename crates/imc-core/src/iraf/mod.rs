//! IRAF IMCOMBINE-exact engine (see docs/iraf.md and docs/iraf-differences.md).
//!
//! Reproduces IRAF 2.17 `imcombine` bit for bit on its real-valued code paths: float32
//! ("real") or float64 ("double") working type, sequential left-to-right arithmetic, the
//! line-oriented data flow (masks, thresholds on raw values, scaling, compaction, IRAF's
//! quicksort), every rejection algorithm with its documented quirks, IRAF's add-back,
//! the grow second pass, and the optional outputs (sigma, rejection mask, nrej, exposure).
//!
//! Entry points: [`image_stats`] (per-image statistics for scale/zero/weight),
//! [`factors::normalise`] (IRAF's normalisation of those factors) and [`imcombine`].

// The code mirrors IRAF's 1-based slot loops and its exact operation order on purpose.
#![allow(clippy::needless_range_loop, clippy::manual_div_ceil, clippy::assign_op_pattern)]

pub mod combine;
pub mod ctx;
pub mod engine;
pub mod factors;
pub mod fastline;
mod fastnone;
pub mod gather;
pub mod line;
pub mod place;
pub mod products;
pub mod quad;
pub mod reject;
pub mod sort;
pub mod stats;
pub mod work;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use engine::Want;
pub use factors::{normalise, Factors, Source};
pub use ctx::{Combine, IntPath, Reject, MAX_REAL};
pub use place::Placement;
pub use stats::{image_stats, StatNeed};
pub use work::Work;

use crate::input::Input;
use crate::{Error, Result};
use ctx::{Ctx, Fast, NoiseModel};

/// IRAF imcombine parameters (after INDEF handling and factor normalisation).
#[derive(Clone, Debug)]
pub struct Params {
    pub combine: Combine,
    pub reject: Reject,
    /// minmax: counts (>= 1) or fractions (< 1) of the images.
    pub nlow: f32,
    pub nhigh: f32,
    pub nkeep: i32,
    pub mclip: bool,
    /// `None` = INDEF (no limit, IRAF's MAX_REAL).
    pub lsigma: Option<f32>,
    pub hsigma: Option<f32>,
    /// CCD noise model per image (length N, or 1 = same for all).
    pub rdnoise: Vec<f32>,
    pub gain: Vec<f32>,
    pub snoise: Vec<f32>,
    pub sigscale: f32,
    pub pclip: f32,
    pub grow: f32,
    pub lthreshold: Option<f32>,
    pub hthreshold: Option<f32>,
    pub blank: f32,
    /// Normalised factors (see [`normalise`]).
    pub factors: Factors,
    /// Exposure time per image for the exposure mask (1 when unknown).
    pub exposures: Vec<f32>,
    /// IRAF's integer working path (integer inputs with an integer outtype), or real.
    pub int_path: IntPath,
    /// masktype = novalue (mask code 2 marks bad pixels that still hold a value).
    pub novalue: bool,
}

/// Results of [`imcombine`].
#[derive(Clone, Debug)]
pub struct Output<T> {
    pub output: Vec<T>,
    pub sigma: Option<Vec<T>>,
    /// `(N, M)` frame-major, true = the sample was not used.
    pub rejmask: Option<Vec<bool>>,
    pub nrej: Option<Vec<i32>>,
    pub expmask: Option<Vec<i32>>,
    /// IRAF's output bad pixel mask (0 combined, 1 no value, 2 only bad values).
    pub bpmask: Option<Vec<i32>>,
    /// Exposure-mask encoding: exposure = value * maskscal + maskzero.
    pub maskscal: f32,
    pub maskzero: f32,
}

fn per_image(name: &'static str, v: &[f32], n: usize) -> Result<Vec<f32>> {
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        k if k == n => Ok(v.to_vec()),
        k => Err(Error::param(name, format!("{k} values given for {n} images (give 1 or {n})"))),
    }
}

/// IRAF `ic_einit`: scaling of the integer exposure mask.
fn exposure_encoding(exps: &mut [f32]) -> (f32, f32) {
    let maxval = (1i64 << 27) as f32 - 1.0;
    let mut emax = 0.0f32;
    let mut emin = MAX_REAL;
    let mut efrac = 0.0f32;
    for e in exps.iter_mut() {
        *e = if *e > 0.0 { *e } else { 0.0 };
        emax += *e;
        if *e > 0.0 {
            emin = emin.min(*e);
        }
        efrac = efrac.max((*e - e.round()).abs());
    }
    let ezero = 0.0f32;
    let mut escale = 1.0f32;
    if emin < 1.0 {
        escale = emin;
        emin /= escale;
        emax /= escale;
    } else if emin == MAX_REAL {
        emin = 0.0;
    }
    if efrac > 0.001 && emax - emin < 1000.0 {
        escale /= 1000.0;
        emin *= 1000.0;
        emax *= 1000.0;
    }
    while emax > maxval {
        escale *= 10.0;
        emin /= 10.0;
        emax /= 10.0;
    }
    let _ = emin;
    (ezero, escale)
}

/// The summed exposure of every image with a positive weight, when it does not depend on
/// the order of the sum (all equal, or integers with an exact float32 total); else NaN.
fn order_free_exposure(exps: &[f32], wts: &[f32]) -> f32 {
    let used: Vec<f32> = exps.iter().zip(wts).filter(|(_, &w)| w > 0.0).map(|(&e, _)| e).collect();
    let equal = used.iter().all(|&e| e == used[0]);
    let integral = used.iter().all(|&e| e == e.trunc()) && used.iter().map(|&e| e as f64).sum::<f64>() < 16_777_216.0;
    if used.is_empty() || !(equal || integral) {
        return f32::NAN;
    }
    used.iter().fold(0.0f32, |s, &e| s + e)
}

/// Whether the algorithm itself reads the image ids of the values (see [`Ctx::needids`]);
/// the rejection and exposure masks read them too.
fn algorithm_needs_ids(c: &Ctx) -> bool {
    let noise_differs = c.noise.iter().any(|q| *q != c.noise[0]);
    c.grow >= 1.0 || c.doscale1 || c.dowts || noise_differs || (c.reject == Reject::AvSigClip && !c.mclip)
}

/// Validate parameters and derive the run constants.
fn make_ctx(p: &Params, nimg: usize) -> Result<Ctx> {
    let chk = |name: &'static str, v: f32| -> Result<()> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(Error::param(name, format!("must be finite, got {v}")))
        }
    };
    for (name, v) in [("lsigma", p.lsigma), ("hsigma", p.hsigma)] {
        if let Some(v) = v {
            chk(name, v)?;
            if v < 0.0 {
                return Err(Error::param(name, format!("must be >= 0, got {v}")));
            }
        }
    }
    chk("sigscale", p.sigscale)?;
    if p.sigscale < 0.0 {
        return Err(Error::param("sigscale", format!("must be >= 0, got {}", p.sigscale)));
    }
    chk("grow", p.grow)?;
    if p.grow < 0.0 {
        return Err(Error::param("grow", format!("must be >= 0, got {}", p.grow)));
    }
    chk("pclip", p.pclip)?;
    for (name, v) in [("nlow", p.nlow), ("nhigh", p.nhigh)] {
        chk(name, v)?;
        if v < 0.0 {
            return Err(Error::param(name, format!("must be >= 0, got {v}")));
        }
    }
    let (lth, hth) = (p.lthreshold, p.hthreshold);
    if let Some(v) = lth {
        if v.is_nan() {
            return Err(Error::param("lthreshold", "must not be NaN"));
        }
    }
    if let Some(v) = hth {
        if v.is_nan() {
            return Err(Error::param("hthreshold", "must not be NaN"));
        }
    }
    if let (Some(l), Some(h)) = (lth, hth) {
        if l > h {
            return Err(Error::param("lthreshold", format!("lthreshold ({l}) > hthreshold ({h})")));
        }
    }
    let thresh = if lth.is_none() && hth.is_none() {
        None
    } else {
        Some((lth.unwrap_or(-MAX_REAL), hth.unwrap_or(MAX_REAL)))
    };
    let f = &p.factors;
    if f.scales.len() != nimg || f.zeros.len() != nimg || f.wts.len() != nimg {
        return Err(Error::Shape(format!("factors given for {} images, stack has {nimg}", f.scales.len())));
    }
    let exps0 = per_image("exposures", &p.exposures, nimg)?;
    let mut reject = p.reject;
    let mut mclip = p.mclip;
    let mut lsig = p.lsigma.unwrap_or(MAX_REAL);
    let hsig = p.hsigma.unwrap_or(MAX_REAL);
    let mut flow = p.nlow;
    let mut fhigh = p.nhigh;
    let mut pc = 0.0f32;
    let mut noise = Vec::new();
    match reject {
        Reject::MinMax => {
            let nf = nimg as f32;
            if flow >= 1.0 {
                flow /= nf;
            }
            if fhigh >= 1.0 {
                fhigh /= nf;
            }
            let i = (flow * nf) as usize;
            let j = (fhigh * nf) as usize;
            if i + j == 0 {
                reject = Reject::None;
            } else if i + j >= nimg {
                return Err(Error::param("nlow", format!(
                    "bad minmax rejection parameters: nlow + nhigh ({i} + {j}) must be < the number of images ({nimg})")));
            }
        }
        Reject::PClip => {
            if p.pclip == 0.0 {
                return Err(Error::param("pclip", "must be nonzero"));
            }
            let half = (nimg / 2) as i64;
            let mut q = p.pclip;
            if q.abs() < 1.0 {
                q *= half as f32;
            }
            pc = if q < 0.0 {
                (q as i64).max(-half).min(-1) as f32
            } else {
                (q as i64).min(half).max(1) as f32
            };
        }
        Reject::CcdClip | Reject::CrReject => {
            let rn = per_image("rdnoise", &p.rdnoise, nimg)?;
            let g = per_image("gain", &p.gain, nimg)?;
            let sn = per_image("snoise", &p.snoise, nimg)?;
            let floor = (1e4f64 / MAX_REAL as f64) as f32;
            for i in 0..nimg {
                chk("rdnoise", rn[i])?;
                chk("gain", g[i])?;
                chk("snoise", sn[i])?;
                if g[i] <= 0.0 {
                    return Err(Error::param("gain", format!("must be > 0, got {}", g[i])));
                }
                if rn[i] < 0.0 {
                    return Err(Error::param("rdnoise", format!("must be >= 0, got {}", rn[i])));
                }
                if sn[i] < 0.0 {
                    return Err(Error::param("snoise", format!("must be >= 0, got {}", sn[i])));
                }
                let q = rn[i] / g[i];
                noise.push(NoiseModel { var0: (q * q).max(floor), gain: g[i], snoise: sn[i] });
            }
            if reject == Reject::CrReject {
                lsig = MAX_REAL;
            }
        }
        _ => {}
    }
    let mut nmodel = Vec::new();
    if p.combine == Combine::NModel {
        let rn = per_image("rdnoise", &p.rdnoise, nimg)?;
        let g = per_image("gain", &p.gain, nimg)?;
        let sn = per_image("snoise", &p.snoise, nimg)?;
        let floor = (1e4f64 / MAX_REAL as f64) as f32;
        for i in 0..nimg {
            chk("rdnoise", rn[i])?;
            chk("gain", g[i])?;
            chk("snoise", sn[i])?;
            if g[i] <= 0.0 {
                return Err(Error::param("gain", format!("must be > 0, got {}", g[i])));
            }
            // IRAF folds the image's scale into the gain of the nmodel table
            let gs = g[i] * f.scales[i];
            let q = rn[i] / gs;
            nmodel.push(((q * q).max(floor), gs, sn[i]));
        }
    }
    if p.novalue && p.grow >= 1.0 {
        return Err(Error::param("grow", "masktype='novalue' with grow is not supported (IRAF 2.17 crashes on it)"));
    }
    match reject {
        Reject::MinMax | Reject::None => mclip = false,
        Reject::PClip => mclip = true,
        _ => {}
    }
    let comb_median = matches!(p.combine, Combine::Median | Combine::LMedian);
    let scale_differs = f.scales.iter().any(|&s| s != f.scales[0]);
    let doscale1 = scale_differs
        && p.sigscale != 0.0
        && f.scales.iter().any(|&s| (s - 1.0f32).abs() > p.sigscale);
    let mut exps = exps0;
    let (ezero, escale) = exposure_encoding(&mut exps);
    Ok(Ctx {
        nimg,
        combine: p.combine,
        comb_median,
        lmedian: p.combine == Combine::LMedian,
        comb_sum: p.combine == Combine::Sum,
        reject,
        mclip,
        nkeep: p.nkeep,
        lsig,
        hsig,
        flow,
        fhigh,
        pc,
        noise,
        scales: f.scales.clone(),
        zeros: f.zeros.clone(),
        wts: f.wts.clone(),
        doscale: f.doscale || f.dozero,
        doscale1,
        dowts: f.dowts && !comb_median,
        thresh,
        blank: p.blank,
        grow: p.grow,
        compact: !comb_median || p.grow >= 1.0,
        keepids: true,
        needids: true,
        network: if mclip { crate::network::sorting_network(nimg) } else { Vec::new() },
        fast: None,
        fast_lazy: false,
        lazy_ids: false,
        fast_masks: false,
        fast_sigma: false,
        pos_ids: false,
        exp_all: order_free_exposure(&exps, &f.wts),
        int_path: p.int_path,
        novalue: p.novalue,
        nmodel,
        exps,
        ezero,
        escale,
    })
}

/// Combine `frames` (N frames of M pixels, spatial `shape`, C order) as IRAF imcombine.
///
/// `T` is the working type: `f32` for IRAF's real path, `f64` for the double path.
/// `masks`: per frame, true = bad. Non-finite input values are treated as masked.
/// `threads`: 0 = rayon's global pool, k = exactly k threads.
pub fn imcombine<P: Input, T: Work>(
    frames: &[&[P]],
    masks: Option<&[&[bool]]>,
    shape: &[usize],
    p: &Params,
    want: Want,
    threads: usize,
) -> Result<Output<T>> {
    let codes: Option<Vec<Option<&[u8]>>> = masks.map(|ms| ms.iter().map(|m| Some(bool_codes(m))).collect());
    imcombine_placed(frames, codes.as_deref(), None, shape, p, want, threads)
}

/// A bool mask (true = bad) as mask codes ([`place::BAD`] = 1, [`place::GOOD`] = 0).
pub fn bool_codes(m: &[bool]) -> &[u8] {
    // SAFETY: bool is one byte holding 0 or 1, a valid u8.
    unsafe { std::slice::from_raw_parts(m.as_ptr() as *const u8, m.len()) }
}

/// Combine frames placed on an output canvas of spatial shape `shape` (IRAF offsets).
///
/// `masks`: per frame, mask codes laid out as the frame (see [`place`]) or None.
/// `place`: per frame, where its pixels lie on the canvas (frame `i` then holds
/// [`Placement::pixels`] pixels); None: every frame has the canvas's shape and position.
pub fn imcombine_placed<P: Input, T: Work>(
    frames: &[&[P]],
    masks: Option<&[Option<&[u8]>]>,
    place: Option<&[Placement]>,
    shape: &[usize],
    p: &Params,
    want: Want,
    threads: usize,
) -> Result<Output<T>> {
    let nimg = frames.len();
    if nimg == 0 {
        return Err(Error::Shape("no images to combine".into()));
    }
    if nimg > u16::MAX as usize - 1 {
        return Err(Error::Shape(format!("too many images ({nimg}); at most {}", u16::MAX - 1)));
    }
    if shape.is_empty() {
        return Err(Error::Shape("images need at least one spatial axis".into()));
    }
    let m: usize = shape.iter().product();
    match place {
        None => {
            if frames.iter().any(|f| f.len() != m) {
                return Err(Error::Shape(format!("every frame must have {m} pixels (shape {shape:?})")));
            }
        }
        Some(pl) => {
            if shape.len() > 2 + place::MAX_OUTER {
                return Err(Error::Shape(format!(
                    "frames placed at offsets may have at most {} axes",
                    2 + place::MAX_OUTER
                )));
            }
            if pl.len() != nimg || pl.iter().zip(frames).any(|(q, f)| f.len() != q.pixels()) {
                return Err(Error::Shape("every frame must hold the pixels of its placement".into()));
            }
        }
    }
    if let Some(ms) = masks {
        if ms.len() != nimg || ms.iter().zip(frames).any(|(q, f)| q.is_some_and(|q| q.len() != f.len())) {
            return Err(Error::Shape("masks must match the frames (one code per pixel)".into()));
        }
    }
    let mut c = make_ctx(p, nimg)?;
    // (an exposure mask whose sums depend on the slot order needs the sorted ids everywhere)
    let algo_ids = algorithm_needs_ids(&c) || (want.expmask && c.exp_all.is_nan());
    (c.fast, c.fast_lazy) = fastline::choose(&c, want, algo_ids);
    // Lazy fast lines derive the masks without ids where nothing was rejected, and sort
    // the other pixels again from frame order with their ids (see fastline).
    let mask_ids = want.rejmask || want.expmask;
    c.pos_ids = mask_ids && !algo_ids && !c.fast_lazy && c.mclip && nimg > 1 && !c.network.is_empty();
    c.needids = algo_ids || (mask_ids && !c.fast_lazy && !c.pos_ids);
    c.lazy_ids = c.fast_lazy && mask_ids && c.fast.is_some_and(|f| f.sorted());
    // the minmax line knows which images each pixel dropped and sums its kept slots
    c.fast_masks = c.fast == Some(Fast::MinMax) && mask_ids;
    c.fast_sigma = want.sigma && (c.fast == Some(Fast::MinMax) || (c.fast == Some(Fast::NoneSum) && !c.novalue));
    if c.fast == Some(Fast::NoneMedian) {
        c.network = crate::network::sorting_network(nimg);
    }
    let w = *shape.last().unwrap();
    let h = if shape.len() >= 2 { shape[shape.len() - 2] } else { 1 };
    if m == 0 || w == 0 {
        return Ok(Output {
            output: Vec::new(),
            sigma: want.sigma.then(Vec::new),
            rejmask: want.rejmask.then(Vec::new),
            nrej: want.nrej.then(Vec::new),
            expmask: want.expmask.then(Vec::new),
            bpmask: want.bpmask.then(Vec::new),
            maskscal: c.escale,
            maskzero: c.ezero,
        });
    }
    let outer = &shape[..shape.len().saturating_sub(2)];
    let st = gather::Stack { frames, masks, place, w, h, outer, lines: m / w };
    // The SIMD level, read once per call on the calling thread.
    let isa = crate::simd::active();
    let run = || engine::run::<P, T>(&st, &c, want, isa);
    let r = if threads == 0 {
        run()
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::param("threads", e.to_string()))?;
        pool.install(run)
    };
    Ok(Output {
        output: r.output,
        sigma: r.sigma,
        rejmask: r.rejmask,
        nrej: r.nrej,
        expmask: r.expmask,
        bpmask: r.bpmask,
        maskscal: c.escale,
        maskzero: c.ezero,
    })
}
