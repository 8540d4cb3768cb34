//! The tiled bitonic sort (`BITONIC_MIN_N <= N`: vertical blocks, the AvSigClip store and
//! its line pre-pass on the vertical path) against the element path: f32 lanes with ties,
//! NaN, infinities, signed zeros and masks, every padding case.

use super::tests::stack;
use super::*;
use crate::job::{Centre, Limits, Rejector, Spread, Want};

#[test]
fn bitonic_sorted_blocks_match_element_path() {
    let lim = Limits { nkeep: 1, maxrej: None, revert: true };
    let chains: Vec<Vec<Rejector>> = vec![
        vec![crate::fixtures::sigclip_median()],
        vec![Rejector::SigClip { sigma_lo: 1.5, sigma_hi: 2.0, maxiters: 6, cen: Centre::Median, spread: Spread::Std, spread_cen: Some(Centre::Mean), ddof: 1, limits: lim }],
        vec![Rejector::PClip { frac: -0.5, sigma_lo: 1.0, sigma_hi: 1.0, nkeep: 2 }],
        vec![Rejector::MinMax { n_min: 2.0, n_max: 3.0 }],
        vec![crate::fixtures::sigclip_median(), Rejector::MinMax { n_min: 0.0, n_max: 1.0 }],
        // The AvSigClip store (alone, and after another rejector); two AvSigClips: no
        // store, the line pre-pass on the vertical path. (`slow`'s pre-pass sorts with
        // Batcher's network: a job with an AvSigClip is bitonic on the vertical path only.)
        vec![Rejector::AvSigClip { sigma_lo: 2.0, sigma_hi: 2.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 }],
        vec![Rejector::MinMax { n_min: 1.0, n_max: 1.0 }, Rejector::AvSigClip { sigma_lo: 1.5, sigma_hi: 2.0, cen: Centre::Mean, nkeep: 2, sigscale: 0.1 }],
        vec![
            Rejector::AvSigClip { sigma_lo: 3.0, sigma_hi: 3.0, cen: Centre::Median, nkeep: 1, sigscale: 0.1 },
            Rejector::AvSigClip { sigma_lo: 1.5, sigma_hi: 1.5, cen: Centre::Mean, nkeep: 1, sigscale: 0.1 },
        ],
        vec![],
    ];
    // Powers of two, one above, and padded sizes from a few rows to nearly half.
    for n in [BITONIC_MIN_N, BITONIC_MIN_N + 1, 200, 256, 300, 513, 1000] {
        assert!(bitonic_for(n));
        // Two whole blocks and a partial one.
        let m = 2 * LANES + 3;
        let data: Vec<Vec<f32>> = stack(n, m)
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.iter()
                    .enumerate()
                    .map(|(p, &x)| match (p * 5 + i * 3) % 101 {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        2 => f32::NEG_INFINITY,
                        3 => -0.0,
                        4 => 0.0,
                        // Quantised: many ties.
                        _ => (x * 0.5).round(),
                    })
                    .collect()
            })
            .collect();
        let masks: Vec<Vec<bool>> = (0..n).map(|i| (0..m).map(|p| (p * 7 + i) % 23 == 0).collect()).collect();
        for with_masks in [false, true] {
            let fr = Frames::new(
                data.iter().map(|v| v.as_slice()).collect(),
                with_masks.then(|| masks.iter().map(|v| v.as_slice()).collect()),
            )
            .unwrap();
            for chain in &chains {
                for method in [Method::Mean, Method::Median, Method::Sum, Method::Variance { ddof: 1 }] {
                    let mut job = Job::simple(method);
                    job.rejectors = chain.clone();
                    job.want = Want { nit: true, output_flags: true, nused: true, ..Want::default() };
                    let fast: Outputs<f64> = run(&fr, &job, 2).unwrap();
                    let data_only: Outputs<f64> = run(&fr, &Job { want: Want::default(), ..job.clone() }, 1).unwrap();
                    job.want.mask = true;
                    let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
                    let what = format!("n={n} masks={with_masks} {chain:?} {method:?}");
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&fast.data), bits(&slow.data), "{what}");
                    assert_eq!(bits(&data_only.data), bits(&slow.data), "{what} data only");
                    assert_eq!(fast.nused, slow.nused, "{what}");
                    assert_eq!(fast.nit, slow.nit, "{what}");
                    assert_eq!(fast.output_flags, slow.output_flags, "{what}");
                }
            }
        }
    }
}
