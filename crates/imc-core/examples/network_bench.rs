//! Micro-benchmark of the vertical sorting network (cargo run --release --example network_bench).
use std::time::Instant;

fn main() {
    let n = 20;
    let lanes = 64;
    let net = imc_core::network::batcher(n);
    println!("n={n}: {} comparators", net.len());
    let mut rows: Vec<f64> = (0..n * lanes).map(|i| ((i * 7919) % 1000) as f64).collect();
    let orig = rows.clone();
    let blocks = 16384; // 1M pixels
    let t = Instant::now();
    for _ in 0..blocks {
        rows.copy_from_slice(&orig);
        imc_core::network::sort_columns(&mut rows, lanes, &net);
    }
    let dt = t.elapsed().as_secs_f64();
    println!("{:.1} ns/pixel ({:.3} s for {} pixels)", dt * 1e9 / (blocks * lanes) as f64, dt, blocks * lanes);
    std::hint::black_box(&rows);
}
