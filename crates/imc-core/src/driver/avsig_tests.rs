//! Property tests of AvSigClip's sorted-block store (`avsig_store`): the lines grouped
//! however the store size allows, lines that end inside a block, rejectors before and after
//! the AvSigClip, masks, NaN and inf, f32 and f64 lanes, 1 or 2 threads and every SIMD
//! level give the bits of the element path (which sorts each pixel again after the
//! line-sigma pre-pass).

use proptest::prelude::*;

use super::avsig_store::TEST_STORE_BYTES;
use super::{run, Outputs};
use crate::frames::Frames;
use crate::job::{Centre, Job, Limits, Method, Rejector, Spread, Want};

/// Mostly ties around 1000, some spread, outliers, NaN and infinities.
fn sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => (0i32..12).prop_map(|k| 1000.0 + 3.0 * k as f32),
        3 => 900.0f32..1100.0,
        1 => -1e5f32..1e5,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
    ]
}

fn centre() -> impl Strategy<Value = Centre> {
    prop_oneof![Just(Centre::Median), Just(Centre::Mean), Just(Centre::LMedian)]
}

/// A rejector to run before or after the AvSigClip.
fn other() -> impl Strategy<Value = Rejector> {
    let limits = Limits { nkeep: 1, maxrej: None, revert: false };
    prop_oneof![
        (0.5f64..4.0, 1u32..4).prop_map(move |(s, maxiters)| Rejector::SigClip {
            sigma_lo: s, sigma_hi: s, maxiters, cen: Centre::Median, spread: Spread::Std, spread_cen: None, ddof: 0, limits
        }),
        (0.0f64..2.0, 0.0f64..2.0).prop_map(|(a, b)| Rejector::MinMax { n_min: a.floor(), n_max: b.floor() }),
        (prop_oneof![Just(-0.5), Just(0.3)], 0.5f64..4.0).prop_map(|(frac, s)| Rejector::PClip { frac, sigma_lo: s, sigma_hi: s, nkeep: 1 }),
    ]
}

fn avsig() -> impl Strategy<Value = Rejector> {
    (0.5f64..4.0, 0.5f64..4.0, centre(), -1i64..3)
        .prop_map(|(lo, hi, cen, nkeep)| Rejector::AvSigClip { sigma_lo: lo, sigma_hi: hi, cen, nkeep, sigscale: 0.1 })
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Run `job` on `data` (n frames of m pixels) as `T`, with an optional mask.
fn run_as<T: crate::input::Input>(data: &[f32], n: usize, m: usize, conv: impl Fn(f32) -> T, mask: Option<&[bool]>, job: &Job,
                                  threads: usize, level: crate::simd::Level) -> Outputs<f64> {
    let typed: Vec<T> = data.iter().map(|&x| conv(x)).collect();
    let masks = mask.map(|mk| (0..n).map(|i| &mk[i * m..(i + 1) * m]).collect());
    let fr = Frames::new((0..n).map(|i| &typed[i * m..(i + 1) * m]).collect(), masks).unwrap();
    crate::simd::with_level(level, || run(&fr, job, threads)).unwrap().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn stored_blocks_equal_the_element_path(
        (n, rows, w, data) in (1usize..=40, 1usize..12, 1usize..150)
            .prop_flat_map(|(n, rows, w)| (Just(n), Just(rows), Just(w), prop::collection::vec(sample(), n * rows * w))),
        before in prop::option::of(other()),
        av in avsig(),
        after in prop::option::of(other()),
        method in prop_oneof![Just(Method::Mean), Just(Method::Sum), Just(Method::Median), Just(Method::Min), Just(Method::Variance { ddof: 1 })],
        store_lines in prop_oneof![Just(0usize), Just(1), Just(2), Just(1000)],
        dtype in 0usize..4,
        masked in any::<bool>(),
        threads in 1usize..3,
    ) {
        let m = rows * w;
        let mask: Vec<bool> = (0..n * m).map(|k| masked && k % 5 == 2).collect();
        let mut job = Job::simple(method);
        job.rejectors = before.into_iter().chain([av]).chain(after).collect();
        job.line = w;
        job.want = Want { nused: true, output_flags: true, std: true, clip_low: true, clip_upp: true, nit: true, ..Want::default() };
        if dtype == 3 {
            // Normalised samples: f64 lanes.
            job.scale = Some((0..n).map(|i| 1.0 + 0.01 * i as f64).collect());
        }
        let mut slow_job = job.clone();
        slow_job.want.mask = true; // per-sample outputs: the element path
        let mk = masked.then_some(&mask[..]);
        // Groups of `store_lines` lines (0: one line per group, the smallest store).
        let lane_bytes = if dtype == 1 || dtype == 3 { 8 } else { 4 };
        let store = store_lines * w * n * lane_bytes;
        for level in crate::simd::Level::available() {
            let go = |j: &Job| match dtype {
                0 | 3 => run_as(&data, n, m, |x| x, mk, j, threads, level),
                1 => run_as(&data, n, m, |x| x as f64 * 1.0000001, mk, j, threads, level),
                _ => run_as(&data, n, m, |x| if x.is_finite() { x.clamp(0.0, 65535.0) as u16 } else { 7 }, mk, j, threads, level),
            };
            TEST_STORE_BYTES.with(|c| c.set(Some(store)));
            let fast = go(&job);
            TEST_STORE_BYTES.with(|c| c.set(None));
            let slow = go(&slow_job);
            prop_assert_eq!(bits(&fast.data), bits(&slow.data), "{}", level);
            prop_assert_eq!(&fast.nused, &slow.nused);
            prop_assert_eq!(&fast.nit, &slow.nit);
            prop_assert_eq!(&fast.output_flags, &slow.output_flags);
            for (a, b) in [(&fast.std, &slow.std), (&fast.clip_low, &slow.clip_low), (&fast.clip_upp, &slow.clip_upp)] {
                prop_assert_eq!(bits(a.as_deref().unwrap()), bits(b.as_deref().unwrap()));
            }
        }
    }
}

/// The store really is used for a lone AvSigClip on the vertical path (and only there):
/// a wide image at a tiny store runs as many groups and still matches the element path.
#[test]
fn many_groups_match_the_element_path() {
    let (n, rows, w) = (37, 9, 131);
    let m = rows * w;
    let data: Vec<f32> = (0..n * m)
        .map(|k| {
            let (i, p) = (k / m, k % m);
            let line = (p / w) as f32;
            let v = 500.0 + 10.0 * line + ((i * 31 + p * 17) % 23) as f32 * (1.0 + line);
            if (i * 7 + p) % 97 == 0 { v + 400.0 } else if (i + p) % 211 == 0 { f32::NAN } else { v }
        })
        .collect();
    let mut job = Job::simple(Method::Mean);
    job.line = w;
    job.rejectors = vec![Rejector::AvSigClip { sigma_lo: 3.0, sigma_hi: 3.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 }];
    job.want = Want { nused: true, ..Want::default() };
    assert_eq!(super::avsig_store::applies(super::Path::Vertical, &[crate::reject::Prepared::new(&job.rejectors[0], n, None, None)]).map(|x| x.0), Some(0));
    let mut slow_job = job.clone();
    slow_job.want.mask = true;
    let slow = run_as(&data, n, m, |x| x, None, &slow_job, 1, crate::simd::Level::Baseline);
    // Two threads: whole chunks of lines per worker (9 lines >= 4 per worker), each
    // worker's buffers reused from chunk to chunk; three: groups shared by the workers.
    for (store, threads) in [(1, 1), (1, 2), (1, 3), (2 * w * n * 4, 2), (2 * w * n * 4, 3), (usize::MAX / 2, 2)] {
        TEST_STORE_BYTES.with(|c| c.set(Some(store)));
        let fast = run_as(&data, n, m, |x| x, None, &job, threads, crate::simd::active().level());
        TEST_STORE_BYTES.with(|c| c.set(None));
        assert_eq!(bits(&fast.data), bits(&slow.data), "store {store}");
        assert_eq!(fast.nused, slow.nused);
    }
    // Some samples were rejected (the test exercises the clip, not only the mean).
    let nused = slow.nused.unwrap();
    assert!(nused.iter().any(|&k| (k as usize) < n - 1));
}

/// A stack from a seed: values around 1000 with ties (a few levels), a spread, outliers
/// and, at the given rates, NaN / +-inf samples and masked samples (so that some blocks
/// are complete and some are not).
fn seeded(n: usize, m: usize, seed: u64, bad_per_mille: u64, mask_per_mille: u64) -> (Vec<f32>, Vec<bool>) {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let data = (0..n * m)
        .map(|_| {
            let r = next();
            match r % 1000 {
                k if k < bad_per_mille => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][(r >> 20) as usize % 3],
                k if k < 600 => 1000.0 + 3.0 * ((r >> 20) % 12) as f32,
                k if k < 970 => 900.0 + ((r >> 20) % 20000) as f32 * 0.01,
                _ => ((r >> 20) % 200000) as f32 - 1e5,
            }
        })
        .collect();
    let mask = (0..n * m).map(|_| next() % 1000 < mask_per_mille).collect();
    (data, mask)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A lone AvSigClip at N up to 1000: the store's whole-block terms and clip
    /// (`avsig_lanes`) give the bits of the element path, with every output or only the
    /// image (the dense frame-order sums), at every SIMD level, on one thread or two (up
    /// to 9 lines: workers then run whole chunks of lines, `run_avsig_store`).
    #[test]
    fn block_lanes_equal_the_element_path(
        n in prop_oneof![3usize..40, 100usize..=1000],
        (rows, w) in (1usize..10, 1usize..200),
        seed in any::<u64>(),
        bad in prop_oneof![Just(0u64), Just(1), Just(20)],
        mask_rate in prop_oneof![Just(0u64), Just(1)],
        sig in (0.3f64..4.0, 0.3f64..4.0),
        cen in centre(),
        nkeep in prop_oneof![-2i64..3, Just(990)],
        method in prop_oneof![Just(Method::Mean), Just(Method::Sum), Just(Method::Median), Just(Method::Variance { ddof: 1 })],
        dtype in 0usize..4,
        all_outputs in any::<bool>(),
        threads in 1usize..3,
    ) {
        let m = rows * w;
        let (data, mask) = seeded(n, m, seed, bad, mask_rate);
        let mut job = Job::simple(method);
        job.rejectors = vec![Rejector::AvSigClip { sigma_lo: sig.0, sigma_hi: sig.1, cen, nkeep, sigscale: 0.1 }];
        job.line = w;
        if all_outputs {
            job.want = Want { nused: true, output_flags: true, std: true, low: true, upp: true, clip_low: true, clip_upp: true, nit: true, ..Want::default() };
        }
        if dtype == 3 {
            // Normalised samples (f64 lanes), scales too close to 1 for per-image noise.
            job.scale = Some((0..n).map(|i| 1.0 + 0.001 * (i % 5) as f64).collect());
            job.zero = Some((0..n).map(|i| 0.5 * (i % 3) as f64).collect());
        }
        let mut slow_job = job.clone();
        slow_job.want = Want { mask: true, ..job.want };
        let mk = (mask_rate > 0).then_some(&mask[..]);
        let mut used = (0, 0);
        for level in crate::simd::Level::available() {
            let go = |j: &Job| match dtype {
                0 | 3 => run_as(&data, n, m, |x| x, mk, j, threads, level),
                1 => run_as(&data, n, m, |x| x as f64 * 1.0000001, mk, j, threads, level),
                _ => run_as(&data, n, m, |x| if x.is_finite() { x.clamp(0.0, 65535.0) as u16 } else { 7 }, mk, j, threads, level),
            };
            super::avsig_lanes::TEST_BLOCKS.with(|c| c.set((0, 0)));
            let fast = go(&job);
            let (t, c) = super::avsig_lanes::TEST_BLOCKS.with(|c| c.get());
            used = (used.0 + t, used.1 + c);
            let slow = go(&slow_job);
            prop_assert_eq!(bits(&fast.data), bits(&slow.data), "{}", level);
            prop_assert_eq!(&fast.nused, &slow.nused);
            prop_assert_eq!(&fast.nit, &slow.nit);
            prop_assert_eq!(&fast.output_flags, &slow.output_flags);
            if all_outputs {
                for (a, b) in [(&fast.std, &slow.std), (&fast.low, &slow.low), (&fast.upp, &slow.upp),
                               (&fast.clip_low, &slow.clip_low), (&fast.clip_upp, &slow.clip_upp)] {
                    prop_assert_eq!(bits(a.as_deref().unwrap()), bits(b.as_deref().unwrap()));
                }
            }
        }
        // Without invalid samples every block is complete: both fast parts ran (counted
        // on the calling thread: one thread).
        if bad == 0 && mask_rate == 0 && threads == 1 {
            prop_assert!(used.0 > 0 && used.1 > 0, "{:?}", used);
        }
    }
}
