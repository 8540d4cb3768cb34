//! Every path of the driver against the element path, thread counts, masks and errors.

use super::*;
use crate::job::{Centre, Limits, Rejector, Spread, Want};
use crate::reject::oflag;

pub(super) fn stack(n: usize, m: usize) -> Vec<Vec<f32>> {
    // Deterministic pseudo-random values with a few outliers.
    let mut s = 12345u64;
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let u = (s >> 33) as f32 / (1u64 << 31) as f32;
                    if u > 0.995 { 1e4 } else { 1000.0 + 10.0 * u }
                })
                .collect()
        })
        .collect()
}

fn sig() -> Rejector {
    crate::fixtures::sigclip_median()
}

#[test]
fn thread_count_does_not_change_bits() {
    let data = stack(15, 5000);
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    let mut job = Job::simple(Method::Mean);
    job.rejectors.push(sig());
    job.want = Want { mask: true, std: true, ..Want::default() };
    let a: Outputs<f32> = run(&fr, &job, 1).unwrap();
    let b: Outputs<f32> = run(&fr, &job, 2).unwrap();
    let c: Outputs<f32> = run(&fr, &job, 0).unwrap();
    assert_eq!(a.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    assert_eq!(a.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), c.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    assert_eq!(a.mask, b.mask);
}

#[test]
fn streaming_equals_general_path() {
    let data = stack(7, 3000);
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    for method in [Method::Mean, Method::Sum, Method::Min, Method::Max] {
        let job = Job::simple(method);
        let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
        let mut slow_job = Job::simple(method);
        slow_job.want.mask = true; // forces the per-element path
        let slow: Outputs<f64> = run(&fr, &slow_job, 1).unwrap();
        assert_eq!(fast.data, slow.data, "{method:?}");
    }
}

fn all_rejectors() -> Vec<Rejector> {
    use crate::job::Noise;
    let lim = |nkeep, revert| Limits { nkeep, maxrej: None, revert };
    vec![
        sig(),
        Rejector::SigClip { sigma_lo: 1.0, sigma_hi: 1.5, maxiters: 3, cen: Centre::Mean, spread: Spread::Mad, spread_cen: None, ddof: 1, limits: lim(3, false) },
        Rejector::SigClip { sigma_lo: 2.5, sigma_hi: 2.0, maxiters: 4, cen: Centre::Median, spread: Spread::Std, spread_cen: Some(Centre::Mean), ddof: 1, limits: lim(2, true) },
        Rejector::SigClip { sigma_lo: 2.0, sigma_hi: 2.0, maxiters: 5, cen: Centre::LMedian, spread: Spread::Iraf, spread_cen: None, ddof: 0, limits: Limits { nkeep: -2, maxrej: Some(3), revert: false } },
        Rejector::CcdClip { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 5, cen: Centre::Median, noise: Noise::new(5.0, 1.5, 0.01, 0.1), limits: lim(1, true) },
        Rejector::CcdClip { sigma_lo: 2.0, sigma_hi: 2.5, maxiters: 3, cen: Centre::Mean, noise: Noise { level_cen: Some(Centre::Median), level_scale: 1.5, level_zero: 20.0, ..Noise::new(3.0, 2.0, 0.0, 0.1) }, limits: lim(2, false) },
        Rejector::LinearClip { low_scale: 0.99, low: 1.0, upp_scale: 1.0, upp: 3.0, maxiters: 2, cen: Centre::Median, limits: lim(1, true) },
        Rejector::MinMax { n_min: 1.0, n_max: 2.0 },
        Rejector::PClip { frac: -0.5, sigma_lo: 1.0, sigma_hi: 1.0, nkeep: 2 },
        Rejector::AvSigClip { sigma_lo: 2.0, sigma_hi: 2.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 },
        Rejector::Winsorized { sigma_lo: 2.0, sigma_hi: 2.5, maxiters: 255, cutoff: 1.5, limits: lim(2, false) },
        Rejector::Winsorized { sigma_lo: 1.0, sigma_hi: 1.0, maxiters: 2, cutoff: 1.0, limits: Limits { nkeep: 1, maxrej: Some(2), revert: true } },
        Rejector::LinearFit { sigma_lo: 2.0, sigma_hi: 1.5, maxiters: 255, limits: lim(3, false) },
        Rejector::Gesd { max_outliers: 0.3, significance: 0.05, limits: lim(1, true) },
        Rejector::Gesd { max_outliers: 0.5, significance: 0.3, limits: Limits { nkeep: 0, maxrej: Some(2), revert: true } },
    ]
}

#[test]
fn vertical_path_equals_element_path() {
    paths_agree(9, 700);
}

#[test]
fn complete_lanes_fast_order_statistics() {
    for n in [1, 2, 5, 6] {
        let data = stack(n, 300);
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for method in [Method::Median, Method::LMedian, Method::Min, Method::Max] {
            let fast: Outputs<f32> = run(&fr, &Job::simple(method), 2).unwrap();
            let mut job = Job::simple(method);
            job.want.mask = true;
            let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
            assert_eq!(fast.data, slow.data, "n={n} {method:?}");
        }
    }
}

#[test]
fn sigclip_first_pass_shortcut_matches_element_path() {
    let bits = |v: &Option<Vec<f32>>| v.as_ref().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for n in [2, 3, 8, 20] {
        let data = stack(n, 1000); // complete lanes with 0.5 % outliers
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for method in [Method::Mean, Method::Median, Method::Sum, Method::Max] {
            let mut job = Job::simple(method);
            job.rejectors = vec![sig()];
            job.want = Want { std: true, low: true, upp: true, nit: true, output_flags: true, nused: true, clip_low: true, clip_upp: true, ..Want::default() };
            let fast: Outputs<f32> = run(&fr, &job, 2).unwrap();
            job.want.mask = true;
            let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
            assert_eq!(bits(&fast.clip_low), bits(&slow.clip_low));
            assert_eq!(bits(&fast.clip_upp), bits(&slow.clip_upp));
            assert_eq!(fast.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), slow.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "n={n} {method:?}");
            assert_eq!(bits(&fast.std), bits(&slow.std));
            assert_eq!(bits(&fast.low), bits(&slow.low));
            assert_eq!(bits(&fast.upp), bits(&slow.upp));
            assert_eq!(fast.nit, slow.nit);
            assert_eq!(fast.output_flags, slow.output_flags);
            assert_eq!(fast.nused, slow.nused);
        }
    }
}

/// Values with wide tails and ties (a sum of uniforms, quantised) plus 0.5 % outliers:
/// clipping takes several passes and windows start anywhere.
fn tailed_stack(n: usize, m: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed;
    let mut u = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    let x = (u() + u() + u() - 1.5) * 40.0 + 1000.0;
                    let x = if u() > 0.7 { (x * 0.25).round() * 4.0 } else { x };
                    if u() > 0.995 { x + 300.0 + 3000.0 * u() } else { x }
                })
                .collect()
        })
        .collect()
}

#[test]
fn sigclip_whole_blocks_match_element_path_with_many_passes() {
    // The vertical path (network sort, whole-block passes, windows starting at any row)
    // against the per-element path, with limits, ddof, a spread about the mean,
    // asymmetric sigmas, several passes and up to 1000 frames.
    let lim = |nkeep, maxrej, revert| Limits { nkeep, maxrej, revert };
    let sig = |lo: f64, hi: f64, maxiters, spread_cen, ddof, limits| Rejector::SigClip {
        sigma_lo: lo, sigma_hi: hi, maxiters, cen: Centre::Median, spread: Spread::Std, spread_cen, ddof, limits,
    };
    let rejectors = [
        sig(3.0, 3.0, 5, None, 0, lim(1, None, true)),
        sig(1.5, 2.0, 10, None, 1, lim(1, None, true)),
        sig(1.2, 1.2, 3, Some(Centre::Mean), 0, lim(-3, None, false)),
        sig(1.0, 1.5, 6, Some(Centre::Median), 2, lim(4, Some(5), true)),
        sig(2.0, 1.0, 1, None, 0, lim(0, None, false)),
        sig(1.0, 1.0, 8, None, 0, lim(2, Some(40), false)),
        // Spread about the mean (Σd matters) over many passes that stay within the limits.
        sig(1.5, 1.3, 7, Some(Centre::Mean), 1, lim(1, None, true)),
    ];
    for (n, m) in [(2, 300), (3, 300), (8, 300), (21, 300), (130, 200), (300, 130), (1000, 70)] {
        // f64 samples: full-precision sums, so the summation order shows in the bits;
        // f32 samples: the f32 lanes of the network.
        let data = tailed_stack(n, m, n as u64);
        let data32: Vec<Vec<f32>> = data.iter().map(|f| f.iter().map(|&x| x as f32).collect()).collect();
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        let fr32 = Frames::new(data32.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for r in &rejectors {
            for method in [Method::Mean, Method::Median, Method::Sum] {
                block_sigclip_agrees(&fr, r, method);
                block_sigclip_agrees(&fr32, r, method);
            }
        }
    }
}

#[test]
fn modern_rejectors_whole_blocks_match_element_path() {
    // The whole-block first passes of WinsorizedSigClip, GESDClip and LinearFitClip
    // (`reject::lanes`) and the per-lane passes after them, against the element path: with
    // every diagnostic (Winsorized then computes its exact sigma: no block pass) and with
    // counts only (Winsorized decides from its lower bound of sigma, in blocks too).
    let lim = |nkeep, maxrej, revert| Limits { nkeep, maxrej, revert };
    let rejectors = [
        Rejector::Winsorized { sigma_lo: 3.0, sigma_hi: 3.0, maxiters: 255, cutoff: 1.5, limits: lim(1, None, true) },
        Rejector::Winsorized { sigma_lo: 1.5, sigma_hi: 2.5, maxiters: 2, cutoff: 1.2, limits: lim(3, Some(2), false) },
        Rejector::Gesd { max_outliers: 0.3, significance: 0.05, limits: lim(1, None, true) },
        Rejector::Gesd { max_outliers: 0.45, significance: 0.2, limits: lim(2, Some(3), false) },
        Rejector::LinearFit { sigma_lo: 5.0, sigma_hi: 5.0, maxiters: 255, limits: lim(1, None, true) },
        Rejector::LinearFit { sigma_lo: 1.0, sigma_hi: 1.5, maxiters: 3, limits: lim(-2, Some(4), false) },
    ];
    for (n, m) in [(2, 300), (3, 300), (4, 300), (5, 300), (8, 300), (13, 300), (20, 700), (64, 200)] {
        let data = tailed_stack(n, m, 7 + n as u64);
        let data32: Vec<Vec<f32>> = data.iter().map(|f| f.iter().map(|&x| x as f32).collect()).collect();
        let noisy = crate::fixtures::noisy_stack(n, m);
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        let fr32 = Frames::new(data32.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        let noisy = Frames::new(noisy.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for r in &rejectors {
            for method in [Method::Mean, Method::Median] {
                block_sigclip_agrees(&fr, r, method);
                block_sigclip_agrees(&fr32, r, method);
                counts_agree(&fr, r, method);
                counts_agree(&fr32, r, method);
                counts_agree(&noisy, r, method);
            }
        }
    }
}

/// Data, counts and flags (no spread output) of the fast path against the element path.
fn counts_agree<T: Input>(fr: &Frames<T>, r: &Rejector, method: Method) {
    let mut job = Job::simple(method);
    job.rejectors = vec![r.clone()];
    job.want = Want { nit: true, output_flags: true, nused: true, ..Want::default() };
    let fast: Outputs<f32> = run(fr, &job, 2).unwrap();
    let data_only: Outputs<f32> = run(fr, &Job { want: Want::default(), ..job.clone() }, 1).unwrap();
    job.want.mask = true;
    let slow: Outputs<f32> = run(fr, &job, 1).unwrap();
    let what = format!("n={} {} {r:?} {method:?}", fr.n(), std::any::type_name::<T>());
    let b = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(b(&fast.data), b(&slow.data), "{what}");
    assert_eq!(b(&data_only.data), b(&slow.data), "{what}");
    assert_eq!(fast.nused, slow.nused, "{what}");
    assert_eq!(fast.nit, slow.nit, "{what}");
    assert_eq!(fast.output_flags, slow.output_flags, "{what}");
}

fn block_sigclip_agrees<T: Input>(fr: &Frames<T>, r: &Rejector, method: Method) {
    let bits = |v: &Option<Vec<f64>>| v.as_ref().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut job = Job::simple(method);
    job.rejectors = vec![r.clone()];
    job.want = Want { std: true, low: true, upp: true, nit: true, output_flags: true, nused: true, clip_low: true, clip_upp: true, ..Want::default() };
    let fast: Outputs<f64> = run(fr, &job, 2).unwrap();
    let data_only: Outputs<f64> = run(fr, &Job { want: Want::default(), ..job.clone() }, 1).unwrap();
    job.want.mask = true;
    let slow: Outputs<f64> = run(fr, &job, 1).unwrap();
    let what = format!("n={} {} {r:?} {method:?}", fr.n(), std::any::type_name::<T>());
    assert_eq!(fast.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), slow.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "{what}");
    assert_eq!(data_only.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), slow.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "{what} data only");
    assert_eq!(fast.nused, slow.nused, "{what}");
    assert_eq!(fast.nit, slow.nit, "{what}");
    assert_eq!(fast.output_flags, slow.output_flags, "{what}");
    assert_eq!(bits(&fast.std), bits(&slow.std), "{what}");
    assert_eq!(bits(&fast.low), bits(&slow.low), "{what}");
    assert_eq!(bits(&fast.upp), bits(&slow.upp), "{what}");
    assert_eq!(bits(&fast.clip_low), bits(&slow.clip_low), "{what}");
    assert_eq!(bits(&fast.clip_upp), bits(&slow.clip_upp), "{what}");
}

#[test]
fn minmax_complete_lanes_shortcut_matches_element_path() {
    for n in [3, 7, 20] {
        // Rounded values: ties at the window edges are common.
        let data: Vec<Vec<f32>> = stack(n, 900).into_iter().map(|f| f.into_iter().map(|x| (x * 0.3).round()).collect()).collect();
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for (lo, hi) in [(1.0, 1.0), (0.0, 2.0), (2.0, 0.0)] {
            for method in [Method::Mean, Method::Median, Method::Sum, Method::Variance { ddof: 1 }, Method::Max] {
                let mut job = Job::simple(method);
                job.rejectors = vec![Rejector::MinMax { n_min: lo, n_max: hi }];
                job.want = Want { low: true, upp: true, nit: true, nused: true, ..Want::default() };
                let fast: Outputs<f32> = run(&fr, &job, 2).unwrap();
                job.want.mask = true;
                let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
                let b = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(b(&fast.data), b(&slow.data), "n={n} {lo} {hi} {method:?}");
                assert_eq!(b(fast.low.as_ref().unwrap()), b(slow.low.as_ref().unwrap()));
                assert_eq!(b(fast.upp.as_ref().unwrap()), b(slow.upp.as_ref().unwrap()));
                assert_eq!(fast.nit, slow.nit);
                assert_eq!(fast.nused, slow.nused);
            }
        }
    }
}

#[test]
fn pclip_complete_lanes_shortcut_matches_element_path() {
    let b = |v: &Option<Vec<f32>>| v.as_ref().unwrap().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for n in [3, 4, 5, 8, 20] {
        // Rounded values: ties and zero spreads are common.
        for scale in [0.3f32, 3.0] {
            let data: Vec<Vec<f32>> = stack(n, 700).into_iter().map(|f| f.into_iter().map(|x| (x * scale).round()).collect()).collect();
            let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
            for (frac, lo, hi, nkeep) in [(-0.5, 3.0, 3.0, 1), (0.3, 1.0, 0.5, 0), (-2.0, 0.5, 2.0, 3), (2.0, 1.0, 1.0, -2)] {
                for method in [Method::Mean, Method::Median, Method::Sum, Method::LMedian, Method::Max, Method::Quantile { q: 0.2 }] {
                    let mut job = Job::simple(method);
                    job.rejectors = vec![Rejector::PClip { frac, sigma_lo: lo, sigma_hi: hi, nkeep }];
                    job.want = Want { low: true, upp: true, std: true, nit: true, output_flags: true, nused: true, clip_low: true, clip_upp: true, ..Want::default() };
                    let fast: Outputs<f32> = run(&fr, &job, 2).unwrap();
                    job.want.mask = true;
                    let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
                    let what = format!("n={n} x{scale} frac={frac} ({lo}, {hi}) nkeep={nkeep} {method:?}");
                    assert_eq!(b(&fast.clip_low), b(&slow.clip_low), "{what}");
                    assert_eq!(b(&fast.clip_upp), b(&slow.clip_upp), "{what}");
                    assert_eq!(b(&Some(fast.data.clone())), b(&Some(slow.data.clone())), "{what}");
                    assert_eq!(b(&fast.low), b(&slow.low), "{what}");
                    assert_eq!(b(&fast.upp), b(&slow.upp), "{what}");
                    assert_eq!(b(&fast.std), b(&slow.std), "{what}");
                    assert_eq!(fast.nit, slow.nit, "{what}");
                    assert_eq!(fast.output_flags, slow.output_flags, "{what}");
                    assert_eq!(fast.nused, slow.nused, "{what}");
                }
            }
        }
    }
}

#[test]
fn column_path_equals_element_path() {
    // N above the network limit takes the column path.
    paths_agree(NETWORK_MAX_N + 7, 40);
}

#[test]
fn large_network_equals_element_path() {
    // Hundreds of frames: one network of N rows (not a power of two).
    paths_agree(700, 90);
}

/// Order statistics of the selection path (`lane_select`) against the element path.
fn selection_agrees<T: Input + Copy>(data: &[Vec<T>], masks: Option<&[Vec<bool>]>, thresholds: Option<(f64, f64)>) {
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), masks.map(|mk| mk.iter().map(|v| v.as_slice()).collect())).unwrap();
    for method in [Method::Median, Method::LMedian, Method::Quantile { q: 0.0 }, Method::Quantile { q: 0.3 }, Method::Quantile { q: 1.0 }] {
        let mut job = Job::simple(method);
        job.thresholds = thresholds;
        job.want = Want { nused: true, output_flags: true, ..Want::default() };
        assert_eq!(Path::choose(&job, data.len(), &[], None, true, false), Path::Select);
        let mut slow_job = job.clone();
        slow_job.want.mask = true;
        let slow: Outputs<f32> = run(&fr, &slow_job, 1).unwrap();
        let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // Every SIMD level (the baseline counts with its own SSE2 loop, `lane_passes`).
        for level in crate::simd::Level::available() {
            let fast: Outputs<f32> = crate::simd::with_level(level, || run(&fr, &job, 2)).unwrap().unwrap();
            assert_eq!(bits(&fast.data), bits(&slow.data), "{method:?} n={} {level}", data.len());
            assert_eq!(fast.nused, slow.nused);
            assert_eq!(fast.output_flags, slow.output_flags);
        }
    }
}

#[test]
fn selection_path_equals_element_path() {
    // f32 with ties, signed zeros, negatives, huge values, infinities and NaN; partial
    // last block; lanes that lose every sample to the mask.
    for n in [SELECT_MIN_N, 301] {
        let m = 150;
        let data: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                (0..m)
                    .map(|p| match (p * 31 + i * 17) % 97 {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        2 => -0.0,
                        3 => 0.0,
                        4 => -3.0e38,
                        5 => 1.0e-40,
                        // The ends of the key range (the wrapping offsets of lane_select).
                        6 => f32::MAX,
                        7 => -f32::MAX,
                        k => (k as f32 - 50.0) * if p % 3 == 0 { 0.5 } else { 1.37 },
                    })
                    .collect()
            })
            .collect();
        let masks: Vec<Vec<bool>> = (0..n).map(|i| (0..m).map(|p| p == 7 || (p * 5 + i) % 29 == 0).collect()).collect();
        selection_agrees(&data, None, None);
        selection_agrees(&data, Some(&masks), Some((-100.0, 40.0)));
    }
    // Integer inputs select on their own values.
    let n = 200;
    let u: Vec<Vec<u16>> = (0..n).map(|i| (0..130).map(|p| ((p * 7919 + i * 104729) % 65536) as u16 / if p % 2 == 0 { 1 } else { 4096 }).collect()).collect();
    selection_agrees(&u, None, Some((3.0, 60000.0)));
    let v: Vec<Vec<i16>> = u.iter().map(|f| f.iter().map(|&x| x as i16).collect()).collect();
    selection_agrees(&v, None, None);
    let b: Vec<Vec<u8>> = u.iter().map(|f| f.iter().map(|&x| x as u8).collect()).collect();
    selection_agrees(&b, None, None);
}

fn paths_agree(n: usize, m: usize) {
    // Quantised values make ties common; a mask and NaNs make counts vary.
    let raw = stack(n, m);
    let data: Vec<Vec<f64>> = raw
        .iter()
        .enumerate()
        .map(|(i, f)| f.iter().enumerate().map(|(p, &x)| if (p + i) % 37 == 0 { f64::NAN } else { (x as f64 * 0.5).round() }).collect())
        .collect();
    let masks: Vec<Vec<bool>> = (0..n).map(|i| (0..m).map(|p| (p * 7 + i) % 23 == 0).collect()).collect();
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), Some(masks.iter().map(|v| v.as_slice()).collect())).unwrap();
    let chains = all_rejectors().into_iter().map(|r| vec![r, Rejector::MinMax { n_min: 0.0, n_max: 1.0 }]).chain([vec![]]);
    for chain in chains {
        for method in [Method::Mean, Method::Median, Method::Sum, Method::Variance { ddof: 1 }, Method::Min, Method::LMedian, Method::Quantile { q: 0.7 }] {
            let r = &chain;
            let mut job = Job::simple(method);
            job.line = if m % 70 == 0 { 70 } else { m };
            job.rejectors = chain.clone();
            job.want = Want { std: true, nit: true, output_flags: true, nused: true, ..Want::default() };
            let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
            job.want.mask = true;
            let slow: Outputs<f64> = run(&fr, &job, 2).unwrap();
            let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast.data), bits(&slow.data), "{r:?} {method:?}");
            assert_eq!(fast.nused, slow.nused);
            assert_eq!(fast.output_flags, slow.output_flags);
            assert_eq!(bits(fast.std.as_ref().unwrap()), bits(slow.std.as_ref().unwrap()));
            let mask = slow.mask.unwrap();
            let excluded: Vec<i32> = (0..m).map(|p| (0..n).filter(|&i| mask[i * m + p]).count() as i32).collect();
            let used: Vec<i32> = slow.nused.unwrap().iter().map(|&u| n as i32 - u).collect();
            assert_eq!(excluded, used);
        }
    }
}

#[test]
fn f32_lanes_and_direct_order_statistics_match_element_path() {
    let (n, m) = (13, 500);
    let raw = stack(n, m);
    let data: Vec<Vec<f32>> = raw
        .iter()
        .enumerate()
        .map(|(i, f)| f.iter().enumerate().map(|(p, &x)| if (p * 3 + i) % 41 == 0 { f32::NAN } else { (x * 0.25).round() }).collect())
        .collect();
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for rejectors in [vec![], vec![sig()], vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }]] {
        for method in [Method::Median, Method::LMedian, Method::Min, Method::Max, Method::Quantile { q: 0.3 }, Method::Mean, Method::Sum] {
            let mut job = Job::simple(method);
            job.rejectors = rejectors.clone();
            job.want.nused = true;
            let fast: Outputs<f32> = run(&fr, &job, 1).unwrap();
            job.want.mask = true;
            let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
            assert_eq!(bits(&fast.data), bits(&slow.data), "{method:?} {rejectors:?}");
            assert_eq!(fast.nused, slow.nused);
        }
    }
}

#[test]
fn avsigclip_uses_one_sigma_per_line() {
    // Two lines: a quiet one and a noisy one; the same +40 excursion is rejected only in
    // the quiet line, whose Poisson-scaled sigma is small.
    let n = 8;
    let line = 50;
    let data: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..2 * line)
                .map(|p| {
                    let noise = if p < line { 1.0 } else { 30.0 };
                    let v = 100.0 + noise * (((i * 7 + p * 3) % 5) as f64 - 2.0);
                    if i == 0 && (p == 10 || p == line + 10) { 140.0 } else { v }
                })
                .collect()
        })
        .collect();
    let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
    let mut job = Job::simple(Method::Mean);
    job.line = line;
    job.rejectors = vec![Rejector::AvSigClip { sigma_lo: 3.0, sigma_hi: 3.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 }];
    job.want = Want { mask: true, std: true, ..Want::default() };
    let o: Outputs<f64> = run(&fr, &job, 1).unwrap();
    let mask = o.mask.unwrap();
    assert!(mask[10], "quiet line: the excursion is rejected");
    assert!(!mask[line + 10], "noisy line: the same excursion is kept");
    let std = o.std.unwrap();
    assert!(std[line + 10] > 5.0 * std[10]);
}

#[test]
fn restored_samples_are_flagged_but_kept() {
    // [1, 2, 3, 4, 100]: the second pass would leave 2 < nkeep = 3 samples and is undone.
    let frames: Vec<[f64; 1]> = [1.0, 2.0, 3.0, 4.0, 100.0].iter().map(|&x| [x]).collect();
    let fr = Frames::new(frames.iter().map(|f| &f[..]).collect(), None).unwrap();
    let mut job = Job::simple(Method::Mean);
    let mut r = sig();
    if let Rejector::SigClip { sigma_lo, sigma_hi, limits, .. } = &mut r {
        (*sigma_lo, *sigma_hi, limits.nkeep) = (0.5, 0.5, 3);
    }
    job.rejectors = vec![r];
    job.want = Want { mask: true, sample_flags: true, nit: true, output_flags: true, low: true, upp: true, ..Want::default() };
    let o: Outputs<f64> = run(&fr, &job, 1).unwrap();
    assert_eq!(o.mask.unwrap(), vec![false, false, false, false, true]);
    let nk = sflag::RESTORED_NKEEP;
    assert_eq!(o.sample_flags.unwrap(), vec![nk, 0, 0, nk, sflag::ALGORITHM]);
    assert_eq!((o.nit.unwrap()[0], o.output_flags.unwrap()[0]), (2, oflag::NKEEP));
    assert_eq!((o.low.unwrap()[0], o.upp.unwrap()[0]), (1.0, 4.0));
    assert_eq!(o.data, vec![2.5]);
}

#[test]
fn masks_thresholds_and_blank() {
    let f0 = [1.0f64, f64::NAN, 5.0];
    let f1 = [3.0f64, f64::NAN, 100.0];
    let m0 = [false, false, true];
    let m1 = [false, false, false];
    let fr = Frames::new(vec![&f0[..], &f1[..]], Some(vec![&m0[..], &m1[..]])).unwrap();
    let mut job = Job::simple(Method::Mean);
    job.thresholds = Some((0.0, 50.0));
    job.blank = Some(-1.0);
    job.want = Want { sample_flags: true, nused: true, ..Want::default() };
    let o: Outputs<f64> = run(&fr, &job, 1).unwrap();
    assert_eq!(o.data, vec![2.0, -1.0, -1.0]);
    assert_eq!(o.nused.unwrap(), vec![2, 0, 0]);
    assert_eq!(o.sample_flags.unwrap(), vec![0, 2, 1, 0, 2, 4]);
}

#[test]
fn zero_scale_on_gather() {
    let f0 = [10.0f32, 20.0];
    let f1 = [21.0f32, 41.0];
    let fr = Frames::new(vec![&f0[..], &f1[..]], None).unwrap();
    let mut job = Job::simple(Method::Mean);
    job.zero = Some(vec![0.0, 1.0]);
    job.scale = Some(vec![1.0, 2.0]);
    let o: Outputs<f32> = run(&fr, &job, 1).unwrap();
    assert_eq!(o.data, vec![10.0, 20.0]);
}

#[test]
fn bad_parameters_are_errors() {
    let f0 = [1.0f32];
    let fr = Frames::new(vec![&f0[..]], None).unwrap();
    let mut job = Job::simple(Method::Mean);
    job.zero = Some(vec![0.0, 1.0]);
    assert!(run::<f32, f32>(&fr, &job, 1).is_err());
    let mut job = Job::simple(Method::WAvg);
    assert!(run::<f32, f32>(&fr, &job, 1).is_err());
    job.weights = Some(vec![f64::NAN]);
    assert!(run::<f32, f32>(&fr, &job, 1).is_err());
}
