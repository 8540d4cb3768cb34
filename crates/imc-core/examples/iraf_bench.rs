//! Profile target of the IRAF-exact engine: one imcombine of a 20 x 512 x 512 f32 stack on
//! one thread (cargo run --release --example iraf_bench -- CASE; environment: N frames,
//! H x W pixels, REPS repeats). Cases follow benchmarks/iraf_speed.py: median-sigclip,
//! average-ccdclip, average-none, average-minmax, median-pclip, average-sigclip-mean,
//! average-avsigclip, median-none.
use imc_core::iraf::{imcombine, normalise, Combine, Params, Reject, Source, Want};
use std::time::Instant;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "median-sigclip".into());
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, h, w) = (env("N", 20), env("H", 512), env("W", 512));
    let m = h * w;
    let mut s = 1u64;
    let mut uni = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    // N(1000, 30) read noise with 0.5 % cosmic rays (+5000), as in the benchmarks.
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
    let frames: Vec<&[f32]> = data.iter().map(|f| f.as_slice()).collect();
    let none = (Source::None, &[][..]);
    let mut p = Params {
        combine: Combine::Average,
        reject: Reject::None,
        nlow: 1.0,
        nhigh: 1.0,
        nkeep: 1,
        mclip: true,
        lsigma: Some(3.0),
        hsigma: Some(3.0),
        rdnoise: vec![0.0],
        gain: vec![1.0],
        snoise: vec![0.0],
        sigscale: 0.1,
        pclip: -0.5,
        grow: 0.0,
        lthreshold: None,
        hthreshold: None,
        blank: 0.0,
        factors: normalise(none, none, none, &vec![1.0; n]).unwrap(),
        exposures: vec![1.0],
        int_path: imc_core::iraf::IntPath::Real,
        novalue: false,
    };
    match what.as_str() {
        "median-sigclip" => (p.combine, p.reject) = (Combine::Median, Reject::SigClip),
        "average-ccdclip" => (p.reject, p.rdnoise) = (Reject::CcdClip, vec![5.0]),
        "average-minmax" => p.reject = Reject::MinMax,
        "median-pclip" => (p.combine, p.reject) = (Combine::Median, Reject::PClip),
        "average-sigclip-mean" => (p.reject, p.mclip) = (Reject::SigClip, false),
        "average-avsigclip" => p.reject = Reject::AvSigClip,
        "median-none" => p.combine = Combine::Median,
        _ => {}
    }
    // CPU time of the process (the engine runs on a pool thread): robust on a busy machine.
    let cpu = || -> f64 {
        #[cfg(target_os = "linux")]
        {
            let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // Safety: a valid timespec to write into.
            unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
            t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
        }
        #[cfg(not(target_os = "linux"))]
        0.0
    };
    let reps = env("REPS", 3);
    let (c0, t) = (cpu(), Instant::now());
    for _ in 0..reps {
        let o = imcombine::<f32, f32>(&frames, None, &[h, w], &p, Want::default(), 1).unwrap();
        std::hint::black_box(o.output);
    }
    println!(
        "{what}: {:.1} ns/pixel wall, {:.1} ns/pixel cpu",
        t.elapsed().as_secs_f64() * 1e9 / (reps * m) as f64,
        (cpu() - c0) / (reps * m) as f64
    );
}
