//! The plane stream's fast loop against the general loops, bit for bit, at every SIMD
//! level: the same job runs three ways, on the fast loop (variance plane only), on the
//! plane stream's general loop (the same job with an all-false mask, which is not
//! "plain") and on the element path (a per-sample output forces it), each at every level
//! the CPU has and on one and two threads, and every output must have the same bits as
//! the element path's at the baseline.
//!
//! The shapes have vector and block tails (1, 7 and 37 pixels, one block and 13 more),
//! N = 1, 2, 3, 4, 5, 17 and 20 (frame groups and the frames left over), and the values
//! the classification must get right: NaN, +-inf, -0.0 and f64 subnormal samples;
//! NaN, zero, -0.0, negative, +-inf, subnormal and near-overflow variances (f32 and f64
//! planes; a subnormal f64 variance gives an infinite inverse-variance weight).

use super::plane_stream::{IVAR_RUN, PLANE_BLOCK, RUN_COUNTS};
use super::*;
use crate::job::Want;
use crate::planes::{FloatPlane, Planes};
use crate::simd::{with_level, Level};

struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples around 1000 with specials (~1 in 10 when `specials`).
fn samples(n: usize, m: usize, seed: u64, specials: bool) -> Vec<Vec<f64>> {
    let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    let x = 1000.0 + (r.uniform() - 0.5) * 200.0;
                    match (specials, (r.uniform() * 100.0) as u32) {
                        (true, 0) => f64::NAN,
                        (true, 1) => f64::INFINITY,
                        (true, 2) => f64::NEG_INFINITY,
                        (true, 3) => -0.0,
                        (true, 4) => 0.0,
                        (true, 5) => -1e-310,
                        (true, 6) => -x,
                        _ => x,
                    }
                })
                .collect()
        })
        .collect()
}

/// Variances in [0.5, 30] with specials (~1 in 7); `wide`: also the ones only f64 holds.
fn variances(n: usize, m: usize, seed: u64, wide: bool) -> Vec<Vec<f64>> {
    let mut r = Lcg(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    let v = 0.5 + r.uniform() * 29.5;
                    match (r.uniform() * 200.0) as u32 {
                        0 => f64::NAN,
                        1 => 0.0,
                        2 => -0.0,
                        3 => -v,
                        4 => f64::INFINITY,
                        5 => f64::NEG_INFINITY,
                        6 => 1e-45,  // f32 subnormal
                        7 => 1e-40,  // f32 subnormal
                        8 => f32::MAX as f64,
                        9 => f32::MIN_POSITIVE as f64,
                        10 => 3e-39,
                        11 if wide => 5e-324, // 1/v = inf
                        12 if wide => 1e300,
                        13..=30 => v * 1e-6,
                        _ => v,
                    }
                })
                .collect()
        })
        .collect()
}

fn bits<O: Real>(v: &Option<Vec<O>>) -> Option<Vec<u64>> {
    v.as_ref().map(|v| v.iter().map(|x| x.to_f64().to_bits()).collect())
}

/// Every output but the mask (which only the element run asks for).
fn outputs_bits<O: Real>(o: &Outputs<O>) -> Vec<(&'static str, Option<Vec<u64>>)> {
    let ints = |v: &Option<Vec<i32>>| v.as_ref().map(|v| v.iter().map(|&x| x as u64).collect());
    vec![
        ("data", bits(&Some(o.data.clone()))),
        ("variance", bits(&o.variance)),
        ("weight", bits(&o.weight)),
        ("exposure", bits(&o.exposure)),
        ("nused", ints(&o.nused)),
        ("output_flags", o.output_flags.as_ref().map(|v| v.iter().map(|&x| x as u64).collect())),
        ("dq", o.dq.as_ref().map(|v| v.iter().map(|&x| x as u64).collect())),
    ]
}

/// The jobs of the fast loop: every weighting with its methods, data only and with every
/// product, with and without `blank`.
fn jobs(n: usize) -> Vec<Job> {
    let mut out = vec![];
    let frame_w: Vec<f64> = (0..n).map(|i| [0.5, 2.0, 0.0, 1.25, 3.0][i % 5]).collect();
    for (weighting, methods) in [
        (Weighting::None, [Method::Mean, Method::Sum]),
        (Weighting::Frame, [Method::WAvg, Method::Sum]),
        (Weighting::InverseVariance, [Method::WAvg, Method::Sum]),
    ] {
        for method in methods {
            for (k, want) in [
                Want::default(),
                Want { variance: true, ..Want::default() },
                Want { variance: true, weight: true, exposure: true, nused: true, output_flags: true, dq: true, ..Want::default() },
            ]
            .into_iter()
            .enumerate()
            {
                let mut job = Job::simple(method);
                job.weighting = weighting;
                job.weights = (weighting == Weighting::Frame).then(|| frame_w.clone());
                job.want = want;
                job.blank = (k == 2).then_some(-7.5);
                job.nodata_bit = 4;
                job.exptime = want.exposure.then(|| (0..n).map(|i| 10.0 + i as f64).collect());
                out.push(job);
            }
        }
    }
    out
}

/// Run `job` on `data` with the variance plane `var`: (fast, general, element) at each
/// level and thread count, each compared with the element path at the baseline.
fn check_case<T: Input, O: Real>(data: &[Vec<T>], var: &VarPlane, what: &str) {
    check_jobs::<T, O>(data, var, what, jobs(data.len()));
}

/// `check_case` for the given jobs.
fn check_jobs<T: Input, O: Real>(data: &[Vec<T>], var: &VarPlane, what: &str, jobs: Vec<Job>) {
    let n = data.len();
    let m = data[0].len();
    let falses = vec![false; m];
    let frames = |masked: bool| {
        let masks = masked.then(|| vec![falses.as_slice(); n]);
        Frames::new(data.iter().map(|v| v.as_slice()).collect(), masks).unwrap().with_planes(var.planes()).unwrap()
    };
    let (plain, masked) = (frames(false), frames(true));
    for job in jobs {
        let mut slow_job = job.clone();
        slow_job.want.mask = true; // a per-sample output: the element path
        let reference: Outputs<O> = with_level(Level::Baseline, || run(&plain, &slow_job, 1).unwrap()).unwrap();
        let want = outputs_bits(&reference);
        for level in Level::available() {
            for threads in [1, 2] {
                let runs: [(&str, &Frames<'_, T>, &Job); 3] =
                    [("fast", &plain, &job), ("general", &masked, &job), ("element", &plain, &slow_job)];
                for (path, fr, jb) in runs {
                    let got: Outputs<O> = with_level(level, || run(fr, jb, threads).unwrap()).unwrap();
                    for ((name, a), (_, b)) in outputs_bits(&got).iter().zip(&want) {
                        assert!(a == b, "{name} of the {path} run differs from the element path: {what}, {:?} {:?} want {:?} blank {:?}, {level}, {threads} threads",
                            jb.method, jb.weighting, jb.want, jb.blank);
                    }
                }
            }
        }
    }
}

/// A variance plane as f32 or f64 values.
enum VarPlane {
    F32(Vec<Vec<f32>>),
    F64(Vec<Vec<f64>>),
}

impl VarPlane {
    fn planes(&self) -> Planes<'_> {
        let variance = match self {
            VarPlane::F32(v) => FloatPlane::F32(v.iter().map(|f| f.as_slice()).collect()),
            VarPlane::F64(v) => FloatPlane::F64(v.iter().map(|f| f.as_slice()).collect()),
        };
        Planes { variance: Some(variance), ..Planes::default() }
    }
}

fn cast<T>(data: &[Vec<f64>], f: impl Fn(f64) -> T) -> Vec<Vec<T>> {
    data.iter().map(|v| v.iter().map(|&x| f(x)).collect()).collect()
}

#[test]
fn fast_loop_equals_the_general_loops_at_every_level() {
    let shapes: &[(usize, usize)] = &[(1, 7), (2, 37), (3, 1), (4, 37), (5, 7), (17, 37), (20, 37), (3, PLANE_BLOCK + 13), (17, PLANE_BLOCK + 13)];
    for (k, &(n, m)) in shapes.iter().enumerate() {
        let seed = k as u64 + 1;
        let x = samples(n, m, seed, true);
        let v32 = VarPlane::F32(cast(&variances(n, m, seed, false), |v| v as f32));
        let v64 = VarPlane::F64(variances(n, m, seed + 100, true));
        for (vn, var) in [("f32 variance", &v32), ("f64 variance", &v64)] {
            let what = format!("N={n} M={m} {vn}");
            check_case::<f32, f32>(&cast(&x, |x| x as f32), var, &format!("f32 data, {what}"));
            check_case::<f64, f64>(&x, var, &format!("f64 data, {what}"));
            if m < PLANE_BLOCK {
                let ints = samples(n, m, seed, false);
                check_case::<u16, f32>(&cast(&ints, |x| x as u16), var, &format!("u16 data, {what}"));
                check_case::<f32, f64>(&cast(&x, |x| x as f32), var, &format!("f32 data into f64, {what}"));
            }
        }
    }
}

/// The inverse-variance weights of the fast loop are 1/v exactly: a pixel whose samples
/// all have variance v gets weight N/v computed as the sum of N copies of 1/v, and the
/// variance of the mean 1/(sum of the weights), exactly as written here.
#[test]
fn inverse_variance_weights_are_exact_reciprocals() {
    let (n, m) = (5, 29);
    let x = samples(n, m, 7, false);
    let v: Vec<Vec<f32>> = (0..n).map(|_| (0..m).map(|p| 0.75 + p as f32 * 1.37).collect()).collect();
    let xs = cast(&x, |x| x as f32);
    let fr = Frames::new(xs.iter().map(|f| f.as_slice()).collect(), None).unwrap();
    let fr = fr.with_planes(Planes { variance: Some(FloatPlane::F32(v.iter().map(|f| f.as_slice()).collect())), ..Planes::default() }).unwrap();
    let mut job = Job::simple(Method::WAvg);
    job.weighting = Weighting::InverseVariance;
    job.want = Want { variance: true, weight: true, ..Want::default() };
    for level in Level::available() {
        let got: Outputs<f64> = with_level(level, || run(&fr, &job, 1).unwrap()).unwrap();
        for p in 0..m {
            let w = 1.0 / v[0][p] as f64;
            let (mut sw, mut swx) = (0.0, 0.0);
            for xi in &xs {
                sw += w;
                swx += w * xi[p] as f64;
            }
            assert_eq!(got.weight.as_ref().unwrap()[p].to_bits(), sw.to_bits(), "{level} pixel {p}");
            assert_eq!(got.data[p].to_bits(), (swx / sw).to_bits(), "{level} pixel {p}");
            assert_eq!(got.variance.as_ref().unwrap()[p].to_bits(), (1.0 / sw).to_bits(), "{level} pixel {p}");
        }
    }
}

/// The inverse-variance runs added without a per-sample test (`ivar_run_unchecked`, at the
/// avx2 and baseline levels) against the element path: clean runs (which take it) next to
/// runs with one special sample each, which must send their run to the selecting loop
/// whether the sample is unusable (NaN or infinite value; NaN, zero, -0.0, negative or
/// infinite variance) or usable but outside the test (an f64 variance whose weight
/// overflows or falls below `f64::MIN_POSITIVE`), or is a usable extreme that passes (f32
/// subnormal and largest variances). N covers one frame, frame groups with and without
/// leftover frames, and 100 frames; the widths a tail run shorter than `IVAR_RUN`.
#[test]
fn unchecked_ivar_runs_equal_the_element_path() {
    let r = IVAR_RUN;
    let value_specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    let var_specials = [f64::NAN, 0.0, -0.0, -3.0, f64::INFINITY, f64::NEG_INFINITY, 1e-45f32 as f64, f32::MAX as f64, 5e-324, 1e308, 1e-320];
    let shapes: &[(usize, usize)] = &[(1, 2 * r + 5), (2, r), (3, r + 1), (4, 2 * r), (5, 3 * r + 7), (20, r + 3), (100, r + 1)];
    for (k, &(n, m)) in shapes.iter().enumerate() {
        let seed = 40 + k as u64;
        let mut x = samples(n, m, seed, false);
        let mut r_ = Lcg(seed | 1);
        let mut v: Vec<Vec<f64>> = (0..n).map(|_| (0..m).map(|_| 0.5 + r_.uniform() * 29.5).collect()).collect();
        // Odd runs get specials (the first, and every even run, stay clean); the
        // variance specials that f32 cannot hold become 1.0 in the f32 plane below.
        for q in (1..m.div_ceil(r)).step_by(2) {
            let (i, p) = ((q * 7 + 3) % n, (q * r + (q * 131) % r).min(m - 1));
            match q % 4 {
                1 => v[i][p] = var_specials[(q / 2 + k) % var_specials.len()],
                _ => x[i][p] = value_specials[(q / 2 + k) % value_specials.len()],
            }
            if q % 8 == 7 {
                // a value and a variance special in one sample, and a second bad sample
                v[i][p] = f64::INFINITY;
                v[(i + 1) % n][(p + 1).min(m - 1)] = 0.0;
            }
        }
        // and one in the last (tail) pixel of some shapes
        if k % 2 == 1 {
            v[n - 1][m - 1] = var_specials[k % var_specials.len()];
        }
        let ivar_jobs = || jobs(n).into_iter().filter(|j| j.weighting == Weighting::InverseVariance).collect::<Vec<_>>();
        let f32_var = |v: f64| if (v as f32 as f64 == v) || v.is_nan() { v as f32 } else { 1.0 };
        for (vn, var) in [("f32 variance", VarPlane::F32(cast(&v, f32_var))), ("f64 variance", VarPlane::F64(v.clone()))] {
            let what = format!("N={n} M={m} {vn}");
            check_jobs::<f32, f32>(&cast(&x, |x| x as f32), &var, &format!("f32 data, {what}"), ivar_jobs());
            check_jobs::<f64, f64>(&x, &var, &format!("f64 data, {what}"), ivar_jobs());
            if n <= 5 {
                let ints = samples(n, m, seed, false);
                check_jobs::<u16, f32>(&cast(&ints, |x| x as u16), &var, &format!("u16 data, {what}"), ivar_jobs());
            }
        }
    }
}

/// Clean stacks take the unchecked runs, and each special kind alone in one run sends
/// that run back to the selecting loop: the outputs must equal the element path's with
/// the special in every position of a frame group (each frame of four, and a leftover).
#[test]
fn one_special_sample_in_an_unchecked_run() {
    let r = IVAR_RUN;
    let (n, m) = (5, 2 * r);
    let base_x = samples(n, m, 77, false);
    let mut r_ = Lcg(77);
    let base_v: Vec<Vec<f64>> = (0..n).map(|_| (0..m).map(|_| 0.5 + r_.uniform() * 29.5).collect()).collect();
    let mut job = Job::simple(Method::WAvg);
    job.weighting = Weighting::InverseVariance;
    job.want = Want { variance: true, weight: true, nused: true, ..Want::default() };
    let mut cases: Vec<(Vec<Vec<f64>>, Vec<Vec<f64>>, String)> = vec![(base_x.clone(), base_v.clone(), "clean".into())];
    for i in 0..n {
        for (what, xs, vs) in [("NaN value", f64::NAN, 2.0), ("-inf value", f64::NEG_INFINITY, 2.0), ("zero variance", 5.0, 0.0),
            ("negative variance", 5.0, -1.0), ("+inf variance", 5.0, f64::INFINITY), ("NaN variance", 5.0, f64::NAN)]
        {
            let (mut x, mut v) = (base_x.clone(), base_v.clone());
            let p = r + 17 * i;
            x[i][p] = xs;
            v[i][p] = vs;
            cases.push((x, v, format!("{what} in frame {i}")));
        }
    }
    for (x, v, what) in cases {
        let var = VarPlane::F32(cast(&v, |v| v as f32));
        check_jobs::<f32, f32>(&cast(&x, |x| x as f32), &var, &what, vec![job.clone()]);
    }
}

/// The unchecked runs are taken on clean data at the levels below avx512, and a run with
/// an unusable sample is handed to the selecting loop (the tests above compare outputs
/// only, which would pass with either loop alone).
#[test]
fn unchecked_runs_are_taken_and_redone() {
    let r = IVAR_RUN;
    let (n, m) = (6, 3 * r + 5); // one frame group and two leftover frames; a tail run
    let x = cast(&samples(n, m, 5, false), |x| x as f32);
    let mut v: Vec<Vec<f32>> = (0..n).map(|i| (0..m).map(|p| 1.0 + ((p + i) % 50) as f32).collect()).collect();
    let mut job = Job::simple(Method::WAvg);
    job.weighting = Weighting::InverseVariance;
    job.want = Want { variance: true, ..Want::default() };
    let counts = |v: &Vec<Vec<f32>>| {
        let fr = Frames::new(x.iter().map(|f| f.as_slice()).collect(), None).unwrap();
        let fr = fr.with_planes(Planes { variance: Some(FloatPlane::F32(v.iter().map(|f| f.as_slice()).collect())), ..Planes::default() }).unwrap();
        RUN_COUNTS.with(|c| c.set((0, 0)));
        let _: Outputs<f32> = with_level(Level::Baseline, || run(&fr, &job, 1).unwrap()).unwrap();
        RUN_COUNTS.with(|c| c.get())
    };
    // 3 whole runs in each of 3 frame groups (4 frames, then two single frames)
    assert_eq!(counts(&v), (9, 0));
    v[1][r + 3] = 0.0; // the second run of the first group
    v[5][2 * r] = f32::NAN; // the third run of the last group
    assert_eq!(counts(&v), (7, 2));
}
