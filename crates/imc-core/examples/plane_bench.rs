//! Profile target for the plane stream (issue 13): the plain mean against the
//! inverse-variance mean with its variance on an f32 stack with an f32 variance plane
//! (cargo run --release --example plane_bench -- [plain|ivar|ivar-novar|mean-var]...;
//! environment: N frames, M pixels, REPS repeats, THREADS (default 1); BW=1 instead
//! times a plain read of every frame and variance plane, the memory bandwidth floor).
//! A small M (a few blocks) keeps everything in cache and shows the loop's own cost; the
//! issue's shape (M = 4M pixels) shows the memory-bound cost.
use imc_core::driver::{run, Outputs};
use imc_core::fixtures::process_cpu_ns;
use imc_core::frames::Frames;
use imc_core::job::{Job, Method, Want, Weighting};
use imc_core::planes::{FloatPlane, Planes};
use std::time::Instant;

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (n, m, reps, threads) = (env("N", 20), env("M", 1 << 22), env("REPS", 5), env("THREADS", 1));
    // Cheap pseudo-random values (a fast set-up keeps `perf stat` of the whole run about
    // the combines): samples near 1000, variances in [20, 30).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uni = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let data: Vec<Vec<f32>> = (0..n).map(|_| (0..m).map(|_| 990.0 + 20.0 * uni()).collect()).collect();
    let var: Vec<Vec<f32>> = (0..n).map(|_| (0..m).map(|_| 20.0 + 10.0 * uni()).collect()).collect();
    let planes = || Planes { variance: Some(FloatPlane::F32(var.iter().map(|v| v.as_slice()).collect())), ..Planes::default() };
    let whats: Vec<String> = std::env::args().skip(1).collect();
    let whats = if whats.is_empty() { vec!["plain".to_string(), "ivar".to_string()] } else { whats };
    if std::env::var("BW").is_ok() {
        // Raw read bandwidth: every frame and variance plane summed, THREADS threads.
        let all: Vec<&[f32]> = data.iter().chain(var.iter()).map(|v| v.as_slice()).collect();
        let chunk = 1 << 16;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for _ in 0..reps {
            let t = Instant::now();
            let total: f32 = pool.install(|| {
                use rayon::prelude::*;
                (0..m.div_ceil(chunk)).into_par_iter().map(|c| {
                    let mut acc = [0f32; 16];
                    for f in &all {
                        let s = &f[c * chunk..((c + 1) * chunk).min(m)];
                        for c16 in s.chunks_exact(16) { for k in 0..16 { acc[k] += c16[k]; } }
                    }
                    acc.iter().sum::<f32>()
                }).sum()
            });
            let dt = t.elapsed().as_secs_f64();
            println!("read {:.0} MB in {:.2} ms: {:.1} GB/s ({total})", (all.len() * m * 4) as f64 / 1e6, dt * 1e3, (all.len() * m * 4) as f64 / dt / 1e9);
        }
        return;
    }
    for what in whats {
        let mut job = Job::simple(Method::Mean);
        let with_planes = what != "plain";
        match what.as_str() {
            "ivar" | "ivar-novar" => {
                job.method = Method::WAvg;
                job.weighting = Weighting::InverseVariance;
                job.want = Want { variance: what == "ivar", ..Want::default() };
            }
            "mean-var" => job.want = Want { variance: true, ..Want::default() },
            _ => {}
        }
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        let fr = if with_planes { fr.with_planes(planes()).unwrap() } else { fr };
        let o: Outputs<f32> = run(&fr, &job, threads).unwrap(); // warm-up
        std::hint::black_box(o.data);
        let (c0, t) = (process_cpu_ns(), Instant::now());
        for _ in 0..reps {
            let o: Outputs<f32> = run(&fr, &job, threads).unwrap();
            std::hint::black_box(o.data);
        }
        let samples = (reps * m * n) as f64;
        println!(
            "{what:>10}: {:.3} ns/sample wall, {:.3} ns/sample cpu ({:.2} ms a run)",
            t.elapsed().as_secs_f64() * 1e9 / samples,
            (process_cpu_ns() - c0) / samples,
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    }
}
