//! Property tests of the library engine's driver: every fast path (streaming, MinMax
//! stream, network-sorted lanes and their whole-block shortcuts, the column path) gives the
//! bits of the element path; a result depends neither on the thread count nor on how the
//! pixels are split into tiles.

use proptest::prelude::*;

use super::{run, Outputs};
use crate::frames::Frames;
use crate::job::{Centre, Job, Limits, Method, Noise, Rejector, Spread, Want};

/// A sample: mostly a few distinct values (ties), some spread, outliers, NaN and inf.
fn sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => (0i32..12).prop_map(|k| 1000.0 + 3.0 * k as f32),
        3 => 900.0f32..1100.0,
        1 => -1e5f32..1e5,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
    ]
}

/// (n frames, rows, width, n * rows * width samples).
fn stack(max_n: usize) -> impl Strategy<Value = (usize, usize, usize, Vec<f32>)> {
    (1..=max_n, 1usize..5, 1usize..40).prop_flat_map(|(n, rows, w)| {
        (Just(n), Just(rows), Just(w), prop::collection::vec(sample(), n * rows * w))
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Mean),
        Just(Method::Sum),
        Just(Method::Median),
        Just(Method::LMedian),
        Just(Method::Min),
        Just(Method::Max),
        Just(Method::Variance { ddof: 1 }),
        (0.0f64..=1.0).prop_map(|q| Method::Quantile { q }),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (-2i64..4, prop::option::of(0u64..4), any::<bool>()).prop_map(|(nkeep, maxrej, revert)| Limits { nkeep, maxrej, revert })
}

fn centre() -> impl Strategy<Value = Centre> {
    prop_oneof![Just(Centre::Median), Just(Centre::Mean), Just(Centre::LMedian)]
}

fn rejector() -> impl Strategy<Value = Rejector> {
    let sigma = 0.5f64..4.0;
    prop_oneof![
        // The lone SigClip the vertical path decides for whole blocks ...
        (sigma.clone(), sigma.clone(), 1u32..6, 0u32..2, limits()).prop_map(|(lo, hi, maxiters, ddof, limits)| Rejector::SigClip {
            sigma_lo: lo, sigma_hi: hi, maxiters, cen: Centre::Median, spread: Spread::Std, spread_cen: None, ddof, limits
        }),
        // ... and every other SigClip.
        (sigma.clone(), 1u32..6, centre(), prop_oneof![Just(Spread::Std), Just(Spread::Mad), Just(Spread::Iraf)], limits())
            .prop_map(|(s, maxiters, cen, spread, limits)| Rejector::SigClip {
                sigma_lo: s, sigma_hi: s, maxiters, cen, spread, spread_cen: None, ddof: 0, limits
            }),
        (0.0f64..3.0, 0.0f64..3.0).prop_map(|(n_min, n_max)| Rejector::MinMax { n_min: n_min.floor(), n_max: n_max.floor() }),
        (0.0f64..0.4, 0.0f64..0.4).prop_map(|(n_min, n_max)| Rejector::MinMax { n_min, n_max }),
        (prop_oneof![Just(-0.5), Just(0.3), Just(-2.0), Just(2.0)], sigma.clone(), sigma.clone(), -2i64..4)
            .prop_map(|(frac, lo, hi, nkeep)| Rejector::PClip { frac, sigma_lo: lo, sigma_hi: hi, nkeep }),
        (sigma.clone(), 1u32..4, centre(), limits()).prop_map(|(s, maxiters, cen, limits)| Rejector::CcdClip {
            sigma_lo: s, sigma_hi: s, maxiters, cen, noise: Noise::new(5.0, 1.5, 0.01, 0.1), limits
        }),
        (0.9f64..1.0, 0.0f64..5.0, 1u32..3, limits()).prop_map(|(sc, off, maxiters, limits)| Rejector::LinearClip {
            low_scale: sc, low: off, upp_scale: 1.0, upp: off, maxiters, cen: Centre::Median, limits
        }),
        (sigma.clone(), centre(), -1i64..3).prop_map(|(s, cen, nkeep)| Rejector::AvSigClip { sigma_lo: s, sigma_hi: s, cen, nkeep, sigscale: 0.1 }),
        // The modern rejectors (whole-block first passes on the vertical path).
        (sigma.clone(), sigma.clone(), 1u32..6, 1.0f64..2.0, limits())
            .prop_map(|(lo, hi, maxiters, cutoff, limits)| Rejector::Winsorized { sigma_lo: lo, sigma_hi: hi, maxiters, cutoff, limits }),
        (0.05f64..0.5, 0.01f64..0.3, limits()).prop_map(|(max_outliers, significance, limits)| Rejector::Gesd { max_outliers, significance, limits }),
        (sigma.clone(), sigma, 1u32..6, limits()).prop_map(|(lo, hi, maxiters, limits)| Rejector::LinearFit { sigma_lo: lo, sigma_hi: hi, maxiters, limits }),
    ]
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn frames_of(data: &[f32], n: usize, m: usize) -> Vec<&[f32]> {
    (0..n).map(|i| &data[i * m..(i + 1) * m]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The path a job takes without per-sample outputs gives the element path's bits.
    #[test]
    fn fast_paths_equal_the_element_path(
        (n, rows, w, data) in stack(24),
        method in method(),
        chain in prop::collection::vec(rejector(), 0..3),
        masked in any::<bool>(),
    ) {
        let m = rows * w;
        let mask: Vec<bool> = (0..n * m).map(|k| masked && k % 7 == 3).collect();
        let fr = Frames::new(frames_of(&data, n, m), masked.then(|| (0..n).map(|i| &mask[i * m..(i + 1) * m]).collect())).unwrap();
        let mut job = Job::simple(method);
        job.rejectors = chain;
        job.line = w;
        job.want = Want { nused: true, output_flags: true, std: true, clip_low: true, ..Want::default() };
        let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
        job.want.mask = true; // per-sample outputs: the element path
        let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
        prop_assert_eq!(bits(&fast.data), bits(&slow.data));
        prop_assert_eq!(fast.nused, slow.nused);
        prop_assert_eq!(fast.output_flags, slow.output_flags);
        prop_assert_eq!(bits(fast.std.as_deref().unwrap()), bits(slow.std.as_deref().unwrap()));
        prop_assert_eq!(bits(fast.clip_low.as_deref().unwrap()), bits(slow.clip_low.as_deref().unwrap()));
    }

    /// The data-only fast paths (whole rows of order statistics, streaming sums, the
    /// MinMax stream, the lane shortcuts) give the element path's bits in f32 too.
    #[test]
    fn data_only_paths_equal_the_element_path(
        (n, rows, w, data) in stack(24),
        method in prop_oneof![Just(Method::Mean), Just(Method::Sum), Just(Method::Median), Just(Method::Min), Just(Method::Max)],
        chain in prop::collection::vec(rejector(), 0..2),
    ) {
        let m = rows * w;
        let fr = Frames::new(frames_of(&data, n, m), None).unwrap();
        let mut job = Job::simple(method);
        job.rejectors = chain;
        job.line = w;
        let fast: Outputs<f32> = run(&fr, &job, 1).unwrap();
        job.want.mask = true;
        let slow: Outputs<f32> = run(&fr, &job, 1).unwrap();
        let b = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(b(&fast.data), b(&slow.data));
    }

    /// Above the network limit the column path gives the element path's bits.
    #[test]
    fn column_path_equals_the_element_path(
        data in prop::collection::vec(sample(), 260 * 3),
        method in method(),
        r in rejector(),
    ) {
        let (n, m) = (260, 3);
        let fr = Frames::new(frames_of(&data, n, m), None).unwrap();
        let mut job = Job::simple(method);
        job.rejectors = vec![r];
        job.line = m;
        job.want.nused = true;
        let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
        job.want.mask = true;
        let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
        prop_assert_eq!(bits(&fast.data), bits(&slow.data));
        prop_assert_eq!(fast.nused, slow.nused);
    }

    /// Same bits with 1 or 2 threads and when the image is combined as two tiles (split at
    /// a line boundary, as the Dask engine splits for line-based rejectors).
    #[test]
    fn threads_and_tiles_do_not_change_bits(
        (n, rows, w, data) in stack(16),
        split in 0usize..5,
        method in method(),
        chain in prop::collection::vec(rejector(), 0..3),
        per_sample in any::<bool>(),
    ) {
        let m = rows * w;
        let k = split.min(rows) * w;
        let mut job = Job::simple(method);
        job.rejectors = chain;
        job.line = w;
        job.want = Want { nused: true, mask: per_sample, ..Want::default() };
        let whole_fr = Frames::new(frames_of(&data, n, m), None).unwrap();
        let one: Outputs<f64> = run(&whole_fr, &job, 1).unwrap();
        let two: Outputs<f64> = run(&whole_fr, &job, 2).unwrap();
        prop_assert_eq!(bits(&one.data), bits(&two.data));
        prop_assert_eq!(&one.mask, &two.mask);
        let mut tiled = Vec::with_capacity(m);
        let mut nused = Vec::with_capacity(m);
        for (a, b) in [(0, k), (k, m)] {
            if a == b {
                continue;
            }
            let part: Vec<&[f32]> = (0..n).map(|i| &data[i * m + a..i * m + b]).collect();
            let o: Outputs<f64> = run(&Frames::new(part, None).unwrap(), &job, 1).unwrap();
            tiled.extend(o.data);
            nused.extend(o.nused.unwrap());
        }
        prop_assert_eq!(bits(&one.data), bits(&tiled));
        prop_assert_eq!(one.nused.unwrap(), nused);
    }
}

/// A lone SigClip of the kind the vertical path decides for whole blocks (median centre,
/// std spread about the median or the mean), with any limits, ddof and pass count.
fn block_sigclip() -> impl Strategy<Value = Rejector> {
    let sigma = 0.3f64..4.0;
    let about = prop_oneof![Just(None), Just(Some(Centre::Median)), Just(Some(Centre::Mean))];
    (sigma.clone(), sigma, 1u32..9, 0u32..3, about, limits()).prop_map(|(lo, hi, maxiters, ddof, spread_cen, limits)| Rejector::SigClip {
        sigma_lo: lo, sigma_hi: hi, maxiters, cen: Centre::Median, spread: Spread::Std, spread_cen, ddof, limits
    })
}

/// A finite sample: ties, a spread, outliers, now and then a signed zero.
fn finite_sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        40 => (0i32..6).prop_map(|k| 1000.0 + 4.0 * k as f32),
        40 => 950.0f32..1050.0,
        6 => 1200.0f32..9000.0,
        3 => 0.0f32..800.0,
        1 => prop_oneof![Just(0.0f32), Just(-0.0f32)],
    ]
}

/// A finite sample with rare outliers (about one pixel in ten of twenty frames has one):
/// few lanes of a block iterate after the first pass (SigClip's lane-by-lane passes).
fn rare_outlier_sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        500 => 950.0f32..1050.0,
        400 => (0i32..6).prop_map(|k| 1000.0 + 4.0 * k as f32),
        3 => 1200.0f32..9000.0,
        2 => 0.0f32..800.0,
    ]
}

/// The outputs of a combine of `data` (n frames of m) as input type `T`, at SIMD `level`.
fn run_as<T: crate::input::Input>(data: &[f32], n: usize, m: usize, conv: impl Fn(f32) -> T, mask: Option<&[bool]>, job: &Job, level: crate::simd::Level) -> Outputs<f64> {
    let typed: Vec<T> = data.iter().map(|&x| conv(x)).collect();
    let fr = Frames::new((0..n).map(|i| &typed[i * m..(i + 1) * m]).collect(), mask.map(|mk| (0..n).map(|i| &mk[i * m..(i + 1) * m]).collect())).unwrap();
    crate::simd::with_level(level, || run(&fr, job, 1)).unwrap().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The whole-block SigClip (vectorised first pass, later passes over the block's rows or
    /// lane by lane, the data-only tail) gives the element path's bits at every SIMD level:
    /// N = 1..80, blocks and their tails, frequent or rare outliers, every input type,
    /// masks, data only and with every diagnostic.
    #[test]
    fn sigclip_blocks_equal_the_element_path_at_every_level(
        (n, m, mut data) in (1usize..=80, 1usize..200).prop_flat_map(|(n, m)| (Just(n), Just(m), prop_oneof![
            prop::collection::vec(finite_sample(), n * m),
            prop::collection::vec(rare_outlier_sample(), n * m),
        ])),
        bad in prop::option::of((0usize..200, prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)])),
        r in block_sigclip(),
        method in prop_oneof![Just(Method::Mean), Just(Method::Sum), Just(Method::Median), Just(Method::LMedian), Just(Method::Max), Just(Method::Variance { ddof: 1 })],
        dtype in 0usize..5,
        masked in 0usize..3,
        diag in any::<bool>(),
    ) {
        // Complete pixels but, now and then, one with a non-finite sample (its block takes
        // the per-lane path; the others the whole-block shortcut).
        if let Some((p, x)) = bad {
            data[(p % n) * m + p % m] = x;
        }
        // No mask, an all-false mask (the general load with complete lanes), one masked sample.
        let mask: Option<Vec<bool>> = match masked {
            0 => None,
            1 => Some(vec![false; n * m]),
            _ => Some((0..n * m).map(|k| k == m / 2).collect()),
        };
        let mut job = Job::simple(method);
        job.rejectors = vec![r];
        if diag {
            job.want = Want { std: true, low: true, upp: true, nit: true, output_flags: true, nused: true, clip_low: true, clip_upp: true, ..Want::default() };
        }
        let mut slow_job = job.clone();
        slow_job.want.mask = true;
        let mk = mask.as_deref();
        for level in crate::simd::Level::available() {
            let (fast, slow) = match dtype {
                0 => (run_as(&data, n, m, |x| x, mk, &job, level), run_as(&data, n, m, |x| x, mk, &slow_job, level)),
                1 => (run_as(&data, n, m, |x| x as f64 * 1.0000001, mk, &job, level), run_as(&data, n, m, |x| x as f64 * 1.0000001, mk, &slow_job, level)),
                2 => (run_as(&data, n, m, |x| x as u16, mk, &job, level), run_as(&data, n, m, |x| x as u16, mk, &slow_job, level)),
                3 => (run_as(&data, n, m, |x| (x - 1000.0) as i16, mk, &job, level), run_as(&data, n, m, |x| (x - 1000.0) as i16, mk, &slow_job, level)),
                _ => (run_as(&data, n, m, |x| (x / 40.0) as u8, mk, &job, level), run_as(&data, n, m, |x| (x / 40.0) as u8, mk, &slow_job, level)),
            };
            prop_assert_eq!(bits(&fast.data), bits(&slow.data), "{}", level);
            if diag {
                prop_assert_eq!(&fast.nused, &slow.nused);
                prop_assert_eq!(&fast.nit, &slow.nit);
                prop_assert_eq!(&fast.output_flags, &slow.output_flags);
                for (a, b) in [(&fast.std, &slow.std), (&fast.low, &slow.low), (&fast.upp, &slow.upp), (&fast.clip_low, &slow.clip_low), (&fast.clip_upp, &slow.clip_upp)] {
                    prop_assert_eq!(bits(a.as_deref().unwrap()), bits(b.as_deref().unwrap()));
                }
            }
        }
    }
}

/// Invalid-sample densities of the stream path's regimes: none, a few pixels (summed
/// again one by one), many (the block summed again with the test), all.
fn density() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(3), Just(400), Just(10_000)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The plain mean / sum's unchecked first pass (`Ctx::sum_unchecked`) over several
    /// stream blocks whose invalid samples switch between its regimes (and the checked
    /// loop it hands the next block to) gives the element path's bits and counts, and a
    /// frame-order NumPy-style reference's values, on one and two threads.
    #[test]
    fn stream_sums_equal_the_element_path_in_every_regime(
        n in 1usize..7,
        per_block in prop::collection::vec(density(), 4),
        seed in any::<u64>(),
        sum in any::<bool>(),
        threads in 1usize..3,
    ) {
        let block = super::STREAM_BLOCK;
        let m = 4 * block - 5;
        let mut rng = seed | 1;
        let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        let data: Vec<f32> = (0..n * m).map(|k| {
            let r = next();
            let d = per_block[(k % m) / block];
            if (r % 10_000) < d as u64 {
                if r & (1 << 40) == 0 { f32::NAN } else if r & (1 << 41) == 0 { f32::INFINITY } else { f32::NEG_INFINITY }
            } else {
                1000.0 + ((r >> 20) % 4096) as f32 * 0.37 - 700.0
            }
        }).collect();
        let fr = Frames::new(frames_of(&data, n, m), None).unwrap();
        let mut job = Job::simple(if sum { Method::Sum } else { Method::Mean });
        job.want = Want { nused: true, ..Want::default() };
        let fast: Outputs<f64> = run(&fr, &job, threads).unwrap();
        job.want.mask = true;
        let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
        prop_assert_eq!(bits(&fast.data), bits(&slow.data));
        prop_assert_eq!(fast.nused.as_ref(), slow.nused.as_ref());
        for p in (0..m).step_by(97) {
            let (mut a, mut c) = (0.0f64, 0);
            for i in 0..n {
                let x = data[i * m + p] as f64;
                if x.is_finite() { a += x; c += 1; }
            }
            let want = if sum { if c == 0 { 0.0 } else { a } } else if c == 0 { f64::NAN } else { a / c as f64 };
            prop_assert!(fast.data[p] == want || (want.is_nan() && fast.data[p].is_nan()), "pixel {}: {} vs {}", p, fast.data[p], want);
            prop_assert_eq!(fast.nused.as_ref().unwrap()[p], c);
        }
    }
}
