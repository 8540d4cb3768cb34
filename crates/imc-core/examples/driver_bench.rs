//! Profile target: one combine of a 20 x 1M-pixel f32 stack on one thread
//! (cargo run --release --example driver_bench -- median|mean|sigclip-mean|sigclip-median|minmax-mean;
//! environment: N frames, M pixels, REPS repeats).
use imc_core::driver::{run, Outputs};
use imc_core::frames::Frames;
use imc_core::job::{Centre, Job, Limits, Method, Rejector, Spread};
use std::time::Instant;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "median".into());
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, m) = (env("N", 20), env("M", 1 << 20));
    let mut s = 1u64;
    // N(1000, 30) read noise with 0.5 % cosmic rays (+5000), as in the benchmarks.
    let mut uni = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let data: Vec<Vec<f32>> = (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    let (u1, u2) = (uni(), uni());
                    let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    let v = 1000.0 + 30.0 * g;
                    (if uni() < 0.005 { v + 5000.0 } else { v }) as f32
                })
                .collect()
        })
        .collect();
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    let sig = Rejector::SigClip {
        sigma_lo: 3.0,
        sigma_hi: 3.0,
        maxiters: 5,
        cen: Centre::Median,
        spread: Spread::Std,
        spread_cen: None,
        ddof: 0,
        limits: Limits { nkeep: 1, maxrej: None, revert: true },
    };
    let job = match what.as_str() {
        "mean" => Job::simple(Method::Mean),
        "sigclip-mean" => Job { rejectors: vec![sig], ..Job::simple(Method::Mean) },
        "sigclip-median" => Job { rejectors: vec![sig], ..Job::simple(Method::Median) },
        "pclip-median" => Job { rejectors: vec![Rejector::PClip { frac: -0.5, sigma_lo: 3.0, sigma_hi: 3.0, nkeep: 1 }], ..Job::simple(Method::Median) },
        "minmax-mean" => Job { rejectors: vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }], ..Job::simple(Method::Mean) },
        _ => Job::simple(Method::Median),
    };
    // CPU time of this thread (not wall time): robust on a busy machine.
    let cpu = || -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    let c0 = cpu();
    let t = Instant::now();
    let reps: usize = std::env::var("REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    for _ in 0..reps {
        let o: Outputs<f32> = run(&fr, &job, 1).unwrap();
        std::hint::black_box(o.data);
    }
    println!(
        "{what}: {:.1} ns/pixel wall, {:.1} ns/pixel cpu",
        t.elapsed().as_secs_f64() * 1e9 / (reps * m) as f64,
        (cpu() - c0) / (reps * m) as f64
    );
}
