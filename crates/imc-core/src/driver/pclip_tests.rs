//! The lone PClip's whole-block shortcut counts the samples each side rejects by binary
//! search in the sorted lanes (`lane_shortcuts::pclip_complete_lanes`): with N up to a few
//! hundred (deep searches), ties at the limits and every rank offset it gives the element
//! path's bits.

use proptest::prelude::*;

use super::{run, Outputs};
use crate::frames::Frames;
use crate::job::{Job, Method, Rejector, Want};

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pclip_blocks_equal_the_element_path(
        (n, m, data) in (3usize..=400, 1usize..140).prop_flat_map(|(n, m)| {
            // Few distinct values (ties at the limits) and wide outliers.
            let x = prop_oneof![6 => (0i32..9).prop_map(|k| 1000.0 + 2.0 * k as f32), 2 => 980.0f32..1020.0, 1 => -1e4f32..1e4];
            (Just(n), Just(m), prop::collection::vec(x, n * m))
        }),
        frac in prop_oneof![Just(-0.5), Just(0.3), Just(-2.0), Just(2.0), Just(-0.1)],
        lo in 0.0f64..4.0,
        hi in 0.0f64..4.0,
        nkeep in -2i64..4,
        method in prop_oneof![Just(Method::Mean), Just(Method::Median), Just(Method::Sum)],
        diag in any::<bool>(),
    ) {
        let fr = Frames::new((0..n).map(|i| &data[i * m..(i + 1) * m]).collect(), None).unwrap();
        let mut job = Job::simple(method);
        job.rejectors = vec![Rejector::PClip { frac, sigma_lo: lo, sigma_hi: hi, nkeep }];
        if diag {
            job.want = Want { nused: true, output_flags: true, clip_low: true, clip_upp: true, ..Want::default() };
        }
        let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
        job.want.mask = true; // per-sample outputs: the element path
        let slow: Outputs<f64> = run(&fr, &job, 1).unwrap();
        prop_assert_eq!(bits(&fast.data), bits(&slow.data));
        if diag {
            prop_assert_eq!(&fast.nused, &slow.nused);
            prop_assert_eq!(&fast.output_flags, &slow.output_flags);
            prop_assert_eq!(bits(fast.clip_low.as_deref().unwrap()), bits(slow.clip_low.as_deref().unwrap()));
            prop_assert_eq!(bits(fast.clip_upp.as_deref().unwrap()), bits(slow.clip_upp.as_deref().unwrap()));
        }
    }
}
