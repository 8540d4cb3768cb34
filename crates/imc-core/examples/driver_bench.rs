//! Profile target: one combine of a 20 x 1M-pixel f32 stack on one thread
//! (cargo run --release --example driver_bench -- median|mean|sigclip-mean|sigclip-median|ccdclip-mean|avsigclip-mean|
//!  minmax-mean|pclip-median|winsorized-mean|gesd-mean|linearfit-mean;
//! environment: N frames, M pixels, REPS repeats, GESD_PCT the GESD outlier fraction in %,
//! RAW a file of N x M f32 to combine instead of the generated stack).
use imc_core::driver::{run, Outputs};
use imc_core::fixtures::{noisy_stack, process_cpu_ns, sigclip_median};
use imc_core::frames::Frames;
use imc_core::job::{Job, Method, Rejector};
use std::time::Instant;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "median".into());
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, m) = (env("N", 20), env("M", 1 << 20));
    // RAW: a file of N x M native f32 (e.g. a benchmark stack's `tofile`) instead of the
    // generated stack.
    let data = match std::env::var("RAW") {
        Ok(path) => {
            let bytes = std::fs::read(path).expect("RAW file");
            assert_eq!(bytes.len(), n * m * 4, "RAW must hold N x M f32");
            let all: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect();
            all.chunks(m).map(|f| f.to_vec()).collect()
        }
        Err(_) => noisy_stack(n, m),
    };
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    let sig = sigclip_median();
    let lim = imc_core::job::Limits { nkeep: 1, maxrej: None, revert: true };
    let job = match what.as_str() {
        "mean" => Job::simple(Method::Mean),
        "sigclip-mean" => Job { rejectors: vec![sig], ..Job::simple(Method::Mean) },
        "sigclip-median" => Job { rejectors: vec![sig], ..Job::simple(Method::Median) },
        "pclip-median" => Job { rejectors: vec![Rejector::PClip { frac: -0.5, sigma_lo: 3.0, sigma_hi: 3.0, nkeep: 1 }], ..Job::simple(Method::Median) },
        "ccdclip-mean" => {
            let noise = imc_core::job::Noise { rdnoise: 5.0, gain: 1.0, snoise: 0.0, sigscale: 0.1, level_cen: None, level_scale: 1.0, level_zero: 0.0 };
            let limits = imc_core::job::Limits { nkeep: 1, maxrej: None, revert: true };
            let r = Rejector::CcdClip { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 5, cen: imc_core::job::Centre::Median, noise, limits };
            Job { rejectors: vec![r], ..Job::simple(Method::Mean) }
        }
        "avsigclip-mean" => {
            let r = Rejector::AvSigClip { sigma_lo: 3.0, sigma_hi: 3.0, cen: imc_core::job::Centre::Median, nkeep: 1, sigscale: 0.1 };
            Job { rejectors: vec![r], line: 1024, ..Job::simple(Method::Mean) }
        }
        "minmax-mean" => Job { rejectors: vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }], ..Job::simple(Method::Mean) },
        "winsorized-mean" => Job { rejectors: vec![Rejector::Winsorized { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 255, cutoff: 1.5, limits: lim }], ..Job::simple(Method::Mean) },
        "gesd-mean" => Job { rejectors: vec![Rejector::Gesd { max_outliers: env("GESD_PCT", 30) as f64 / 100.0, significance: 0.05, limits: lim }], ..Job::simple(Method::Mean) },
        "linearfit-mean" => Job { rejectors: vec![Rejector::LinearFit { sigma_lo: 5.0, sigma_hi: 5.0, maxiters: 255, limits: lim }], ..Job::simple(Method::Mean) },
        _ => Job::simple(Method::Median),
    };
    let (c0, t) = (process_cpu_ns(), Instant::now());
    let reps = env("REPS", 5);
    for _ in 0..reps {
        let o: Outputs<f32> = run(&fr, &job, 1).unwrap();
        std::hint::black_box(o.data);
    }
    println!(
        "{what}: {:.1} ns/pixel wall, {:.1} ns/pixel cpu",
        t.elapsed().as_secs_f64() * 1e9 / (reps * m) as f64,
        (process_cpu_ns() - c0) / (reps * m) as f64
    );
}
