//! Same bits at every SIMD level: both engines run at every level this CPU has (forced
//! with `simd::with_level`) and every output is compared bit for bit with the baseline's.
//!
//! The cases reach every path of the library driver (stream, streaming MinMaxClip,
//! network-sorted blocks with their whole-block shortcuts, element, column) and the IRAF
//! engine's whole-line fast paths and per-pixel routines, for every input type, with NaN,
//! +-inf, -0.0, subnormals, huge values, ties, masks, thresholds, normalisation and block
//! tails (pixel counts that are not a multiple of any vector width).

use imc_core::driver::{run, Outputs};
use imc_core::fixtures::iraf_params;
use imc_core::frames::Frames;
use imc_core::input::{as_be, BeF32, BeU16, Input};
use imc_core::iraf::{imcombine, normalise, Combine, Output, Params, Reject, Source, Want as IrafWant};
use imc_core::job::{Centre, Job, Limits, Method, Noise, Rejector, Spread, Want, Weighting};
use imc_core::real::Real;
use imc_core::simd::{with_level, Level};

/// The levels above the baseline that this CPU runs (nothing to compare on a CPU without).
fn higher_levels() -> Vec<Level> {
    let up: Vec<Level> = Level::available().into_iter().filter(|&l| l != Level::Baseline).collect();
    if up.is_empty() {
        eprintln!("this CPU runs only the baseline SIMD level: nothing to compare");
    }
    up
}

/// Deterministic values: N(1000, 30)-like noise quantised to 1/8 (ties), 1 % outliers,
/// and, for floats, NaN, +-inf, -0.0/+0.0, subnormals and values near f32::MAX.
fn stack(n: usize, m: usize, specials: bool, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (0..m)
                .map(|p| {
                    let u = next();
                    let base = 1000.0 + ((next() + next() + next() - 1.5) * 60.0 * 8.0).round() / 8.0;
                    let k = (u * 1000.0) as u32;
                    match k {
                        0..=9 => base + 5000.0,
                        10..=14 => base - 900.0,
                        15..=17 if specials => f64::NAN,
                        18 if specials => f64::INFINITY,
                        19 if specials => f64::NEG_INFINITY,
                        20 | 21 if specials => -0.0,
                        22 | 23 if specials => 0.0,
                        24 if specials => 1e-40, // subnormal in f32
                        25 if specials => 3.0e38,
                        26 if specials => -3.0e38,
                        // a whole pixel of specials now and then
                        _ if specials && p % 397 == 5 => f64::NAN,
                        _ => base,
                    }
                })
                .collect()
        })
        .collect()
}

fn cast<T>(data: &[Vec<f64>], f: impl Fn(f64) -> T) -> Vec<Vec<T>> {
    data.iter().map(|v| v.iter().map(|&x| f(x)).collect()).collect()
}

fn masks(n: usize, m: usize) -> Vec<Vec<bool>> {
    (0..n).map(|i| (0..m).map(|p| (p * 7 + i * 3) % 29 == 0 || p % 211 == 3).collect()).collect()
}

fn bits<O: Real>(v: &Option<Vec<O>>) -> Option<Vec<u64>> {
    v.as_ref().map(|v| v.iter().map(|x| x.to_f64().to_bits()).collect())
}

fn same<O: Real>(a: &Outputs<O>, b: &Outputs<O>, what: &str) {
    assert_eq!(bits(&Some(a.data.clone())), bits(&Some(b.data.clone())), "data: {what}");
    for (name, x, y) in [("std", &a.std, &b.std), ("low", &a.low, &b.low), ("upp", &a.upp, &b.upp), ("clip_low", &a.clip_low, &b.clip_low), ("clip_upp", &a.clip_upp, &b.clip_upp)] {
        assert_eq!(bits(x), bits(y), "{name}: {what}");
    }
    assert_eq!(a.mask, b.mask, "mask: {what}");
    assert_eq!(a.sample_flags, b.sample_flags, "sample_flags: {what}");
    assert_eq!(a.nit, b.nit, "nit: {what}");
    assert_eq!(a.output_flags, b.output_flags, "output_flags: {what}");
    assert_eq!(a.nused, b.nused, "nused: {what}");
}

fn all_rejectors() -> Vec<Vec<Rejector>> {
    let lim = |nkeep, revert| Limits { nkeep, maxrej: None, revert };
    let sig = imc_core::fixtures::sigclip_median();
    vec![
        vec![],
        vec![sig.clone()],
        vec![Rejector::SigClip { sigma_lo: 2.5, sigma_hi: 2.0, maxiters: 4, cen: Centre::Median, spread: Spread::Std, spread_cen: Some(Centre::Mean), ddof: 1, limits: lim(2, true) }],
        vec![Rejector::SigClip { sigma_lo: 1.0, sigma_hi: 1.5, maxiters: 3, cen: Centre::Mean, spread: Spread::Mad, spread_cen: None, ddof: 1, limits: lim(3, false) }],
        vec![Rejector::SigClip { sigma_lo: 2.0, sigma_hi: 2.0, maxiters: 5, cen: Centre::LMedian, spread: Spread::Iraf, spread_cen: None, ddof: 0, limits: Limits { nkeep: -2, maxrej: Some(3), revert: false } }],
        vec![Rejector::CcdClip { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 5, cen: Centre::Median, noise: Noise::new(5.0, 1.5, 0.01, 0.1), limits: lim(1, true) }],
        vec![Rejector::LinearClip { low_scale: 0.99, low: 1.0, upp_scale: 1.0, upp: 3.0, maxiters: 2, cen: Centre::Median, limits: lim(1, true) }],
        vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }],
        vec![Rejector::MinMax { n_min: 0.1, n_max: 2.0 }],
        vec![Rejector::PClip { frac: -0.5, sigma_lo: 1.0, sigma_hi: 1.0, nkeep: 2 }],
        vec![Rejector::AvSigClip { sigma_lo: 2.0, sigma_hi: 2.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 }],
        vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }, sig],
    ]
}

const METHODS: [Method; 9] = [
    Method::Mean,
    Method::Median,
    Method::LMedian,
    Method::Sum,
    Method::Min,
    Method::Max,
    Method::Variance { ddof: 1 },
    Method::WAvg,
    Method::Quantile { q: 0.3 },
];

/// Every method and rejector chain on `frames`, data only and with every output, plain
/// and with thresholds / normalisation: each level against the baseline.
fn library_cases<T: Input, O: Real>(frames: &Frames<'_, T>, label: &str) {
    let n = frames.n();
    let up = higher_levels();
    for chain in all_rejectors() {
        for method in METHODS {
            for variant in 0..4 {
                let mut job = Job::simple(method);
                job.rejectors = chain.clone();
                job.line = 37;
                if method == Method::WAvg {
                    job.weights = Some((0..n).map(|i| 1.0 + (i % 3) as f64 * 0.25).collect());
                    job.weighting = Weighting::Frame;
                }
                match variant {
                    1 => job.want = Want { mask: true, sample_flags: true, std: true, low: true, upp: true, nit: true, output_flags: true, nused: true, clip_low: true, clip_upp: true, ..Want::default() },
                    2 => {
                        job.thresholds = Some((100.0, 4000.0));
                        job.want = Want { nused: true, output_flags: true, ..Want::default() };
                    }
                    3 => {
                        job.zero = Some((0..n).map(|i| i as f64 * 0.75).collect());
                        job.scale = Some((0..n).map(|i| 1.0 + i as f64 * 0.01).collect());
                        job.blank = Some(-7.0);
                    }
                    _ => {}
                }
                let base: Outputs<O> = run(frames, &job, 1).unwrap();
                for &level in &up {
                    let got: Outputs<O> = with_level(level, || run(frames, &job, 2)).unwrap().unwrap();
                    same(&base, &got, &format!("{label} n={n} {method:?} {chain:?} variant {variant} at {level}"));
                }
            }
        }
    }
}

fn frames_of<T: Clone + 'static>(data: &[Vec<T>], mk: Option<&[Vec<bool>]>) -> Frames<'static, T> {
    // The test data lives for the whole test; leak it to keep the signatures simple.
    let data: &'static [Vec<T>] = Box::leak(data.to_vec().into_boxed_slice());
    let mk: Option<&'static [Vec<bool>]> = mk.map(|m| &*Box::leak(m.to_vec().into_boxed_slice()));
    Frames::new(data.iter().map(|v| v.as_slice()).collect(), mk.map(|m| m.iter().map(|v| v.as_slice()).collect())).unwrap()
}

#[test]
fn library_engine_same_bits_at_every_level_f32_f64() {
    // 64 * 21 + 37 pixels: full network blocks and a tail; N across the small-N networks.
    for (n, seed) in [(1, 1), (2, 2), (3, 3), (5, 4), (20, 5), (21, 6)] {
        let m = 64 * 21 + 37;
        let raw = stack(n, m, true, seed);
        let mk = masks(n, m);
        let f32s = cast(&raw, |x| x as f32);
        library_cases::<f32, f32>(&frames_of(&f32s, None), "f32");
        library_cases::<f32, f32>(&frames_of(&f32s, Some(&mk)), "f32 masked");
        let f64s = cast(&raw, |x| x);
        library_cases::<f64, f64>(&frames_of(&f64s, None), "f64");
    }
}

#[test]
fn library_engine_same_bits_at_every_level_integers() {
    for (n, seed) in [(3, 7), (20, 8)] {
        let m = 64 * 9 + 13;
        let raw = stack(n, m, false, seed);
        library_cases::<u8, f32>(&frames_of(&cast(&raw, |x| (x / 25.0) as u8), None), "u8");
        library_cases::<u16, f32>(&frames_of(&cast(&raw, |x| x as u16), None), "u16");
        library_cases::<i16, f32>(&frames_of(&cast(&raw, |x| (x - 1500.0) as i16), None), "i16");
        library_cases::<i32, f64>(&frames_of(&cast(&raw, |x| (x * 1000.0) as i32), None), "i32");
    }
}

#[test]
fn library_engine_same_bits_at_every_level_large_n_and_long_rows() {
    // N above the network limit (column path) and rows longer than the streaming blocks.
    let raw = stack(300, 200, true, 9);
    library_cases::<f32, f32>(&frames_of(&cast(&raw, |x| x as f32), None), "f32 N=300");
    let raw = stack(6, 40_000 + 3, true, 10);
    let f32s = cast(&raw, |x| x as f32);
    let fr = frames_of(&f32s, None);
    let up = higher_levels();
    for method in [Method::Mean, Method::Sum, Method::Min, Method::Max, Method::Median] {
        for chain in [vec![], vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }]] {
            let mut job = Job::simple(method);
            job.rejectors = chain;
            let base: Outputs<f32> = run(&fr, &job, 1).unwrap();
            for &level in &up {
                let got: Outputs<f32> = with_level(level, || run(&fr, &job, 2)).unwrap().unwrap();
                same(&base, &got, &format!("long rows {method:?} at {level}"));
            }
        }
    }
}

fn iraf_same<T: Real>(a: &Output<T>, b: &Output<T>, what: &str) {
    assert_eq!(bits(&Some(a.output.clone())), bits(&Some(b.output.clone())), "output: {what}");
    assert_eq!(bits(&a.sigma), bits(&b.sigma), "sigma: {what}");
    assert_eq!(a.rejmask, b.rejmask, "rejmask: {what}");
    assert_eq!(a.nrej, b.nrej, "nrej: {what}");
    assert_eq!(a.expmask, b.expmask, "expmask: {what}");
    assert_eq!(a.bpmask, b.bpmask, "bpmask: {what}");
}

/// Every combine x reject (and mclip, grow, thresholds, scaling) of the IRAF engine.
fn iraf_cases<P: Input>(frames: &[&[P]], masks: Option<&[&[bool]]>, shape: &[usize], label: &str) {
    let n = frames.len();
    let up = higher_levels();
    let rejects = [Reject::None, Reject::MinMax, Reject::SigClip, Reject::AvSigClip, Reject::CcdClip, Reject::CrReject, Reject::PClip];
    let combines = [Combine::Average, Combine::Median, Combine::LMedian, Combine::Sum];
    let wants = [IrafWant::default(), IrafWant { sigma: true, rejmask: true, nrej: true, expmask: true, bpmask: true }];
    for reject in rejects {
        for combine in combines {
            for variant in 0..4 {
                let mut p: Params = iraf_params(n, combine, reject);
                p.rdnoise = vec![5.0];
                p.gain = vec![1.5];
                p.snoise = vec![0.01];
                match variant {
                    1 => p.mclip = false,
                    2 => {
                        p.grow = 1.0;
                        p.lthreshold = Some(200.0);
                        p.hthreshold = Some(5000.0);
                        p.nlow = 0.0;
                        p.nhigh = 2.0;
                    }
                    3 => {
                        let scales: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 * 0.02).collect();
                        let zeros: Vec<f32> = (0..n).map(|i| i as f32 * 1.5).collect();
                        p.factors = normalise((Source::File, &scales), (Source::File, &zeros), (Source::None, &[]), &vec![1.0; n]).unwrap();
                        p.nkeep = -1;
                    }
                    _ => {}
                }
                for want in wants {
                    let what = format!("{label} n={n} {combine:?} {reject:?} variant {variant} {want:?}");
                    let base32: Output<f32> = imcombine(frames, masks, shape, &p, want, 1).unwrap();
                    let base64: Output<f64> = imcombine(frames, masks, shape, &p, want, 1).unwrap();
                    for &level in &up {
                        let got: Output<f32> = with_level(level, || imcombine(frames, masks, shape, &p, want, 2)).unwrap().unwrap();
                        iraf_same(&base32, &got, &format!("{what} real at {level}"));
                        let got: Output<f64> = with_level(level, || imcombine(frames, masks, shape, &p, want, 2)).unwrap().unwrap();
                        iraf_same(&base64, &got, &format!("{what} double at {level}"));
                    }
                }
            }
        }
    }
}

#[test]
fn iraf_engine_same_bits_at_every_level() {
    // Lines of 101 pixels (a full block of 64 and a tail); complete lines (the whole-line
    // fast paths) and lines with specials (the per-pixel routines).
    let shape = [7, 101];
    let m = 7 * 101;
    for (n, seed, specials) in [(3, 11, false), (8, 12, false), (20, 13, false), (5, 14, true), (20, 15, true)] {
        let raw = stack(n, m, specials, seed);
        let f32s = cast(&raw, |x| x as f32);
        let refs: Vec<&[f32]> = f32s.iter().map(|v| v.as_slice()).collect();
        iraf_cases(&refs, None, &shape, "f32");
        if specials {
            let mk = masks(n, m);
            let mrefs: Vec<&[bool]> = mk.iter().map(|v| v.as_slice()).collect();
            iraf_cases(&refs, Some(&mrefs), &shape, "f32 masked");
        } else {
            let u16s = cast(&raw, |x| x as u16);
            let refs: Vec<&[u16]> = u16s.iter().map(|v| v.as_slice()).collect();
            iraf_cases(&refs, None, &shape, "u16");
            let i32s = cast(&raw, |x| (x * 100.0) as i32);
            let refs: Vec<&[i32]> = i32s.iter().map(|v| v.as_slice()).collect();
            iraf_cases(&refs, None, &shape, "i32");
        }
        // FITS words used in place (big-endian float32 and BZERO = 32768 int16).
        let be32: Vec<Vec<u32>> = cast(&raw, |x| (x as f32).to_bits().swap_bytes());
        let refs: Vec<&[BeF32]> = be32.iter().map(|v| as_be::<BeF32>(v)).collect();
        iraf_cases(&refs, None, &shape, "big-endian f32");
        if !specials {
            let be16: Vec<Vec<u16>> = cast(&raw, |x| ((x as i64 - 32768) as i16 as u16).swap_bytes());
            let refs: Vec<&[BeU16]> = be16.iter().map(|v| as_be::<BeU16>(v)).collect();
            iraf_cases(&refs, None, &shape, "big-endian u16");
        }
    }
}
