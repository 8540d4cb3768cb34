//! Profile target of the IRAF-exact engine: one imcombine of a 20 x 512 x 512 f32 stack on
//! one thread (cargo run --release --example iraf_bench -- CASE; environment: N frames,
//! H x W pixels, REPS repeats, WANT products). Cases follow benchmarks/iraf_speed.py: median-sigclip,
//! average-ccdclip, average-none, average-minmax, median-pclip, average-sigclip-mean,
//! average-avsigclip, median-none.
use imc_core::fixtures::{iraf_params, noisy_stack, process_cpu_ns};
use imc_core::iraf::{imcombine, Combine, Reject, Want};
use std::time::Instant;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "median-sigclip".into());
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, h, w) = (env("N", 20), env("H", 512), env("W", 512));
    let m = h * w;
    let data = noisy_stack(n, m);
    let frames: Vec<&[f32]> = data.iter().map(|f| f.as_slice()).collect();
    let (combine, reject) = match what.as_str() {
        "median-sigclip" => (Combine::Median, Reject::SigClip),
        "average-ccdclip" => (Combine::Average, Reject::CcdClip),
        "average-minmax" => (Combine::Average, Reject::MinMax),
        "median-pclip" => (Combine::Median, Reject::PClip),
        "average-sigclip-mean" => (Combine::Average, Reject::SigClip),
        "average-avsigclip" => (Combine::Average, Reject::AvSigClip),
        "median-none" => (Combine::Median, Reject::None),
        _ => (Combine::Average, Reject::None),
    };
    let mut p = iraf_params(n, combine, reject);
    p.rdnoise = vec![5.0];
    p.mclip = what != "average-sigclip-mean";
    // WANT: comma-separated products (sigma, rejmask, nrej, expmask, bpmask)
    let names = std::env::var("WANT").unwrap_or_default();
    let has = |k: &str| names.split(',').any(|n| n == k);
    let want = Want {
        sigma: has("sigma"),
        rejmask: has("rejmask"),
        nrej: has("nrej"),
        expmask: has("expmask"),
        bpmask: has("bpmask"),
    };
    let reps = env("REPS", 3);
    let (c0, t) = (process_cpu_ns(), Instant::now());
    for _ in 0..reps {
        let o = imcombine::<f32, f32>(&frames, None, &[h, w], &p, want, 1).unwrap();
        std::hint::black_box(o);
    }
    println!(
        "{what} [{names}]: {:.1} ns/pixel wall, {:.1} ns/pixel cpu",
        t.elapsed().as_secs_f64() * 1e9 / (reps * m) as f64,
        (process_cpu_ns() - c0) / (reps * m) as f64
    );
}
