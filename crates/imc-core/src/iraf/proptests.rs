//! Property tests of the IRAF engine: the whole-line fast paths and the network sorts give
//! the per-pixel IRAF routines' bits (output only vs every product; no thresholds vs
//! thresholds that exclude nothing, which takes the general gather and IRAF's quicksort);
//! the thread count changes nothing; `sort2` equals IRAF's quicksort as transcribed.

use proptest::prelude::*;

use super::sort::sort2;
use super::*;
use crate::fixtures::iraf_params;

const ALL: Want = Want { sigma: true, rejmask: true, nrej: true, expmask: true, bpmask: true };

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        5 => (0i32..10).prop_map(|k| 100.0 + 4.0 * k as f32),
        3 => 60.0f32..140.0,
        1 => 1000.0f32..5000.0,
        1 => Just(0.0f32),
    ]
}

/// (n images, lines, width, samples).
fn stack() -> impl Strategy<Value = (usize, usize, usize, Vec<f32>)> {
    (1usize..22, 1usize..4, 1usize..70)
        .prop_flat_map(|(n, h, w)| (Just(n), Just(h), Just(w), prop::collection::vec(value(), n * h * w)))
}

fn kind() -> impl Strategy<Value = (Combine, Reject, bool)> {
    let combine = prop_oneof![Just(Combine::Average), Just(Combine::Median), Just(Combine::LMedian), Just(Combine::Sum)];
    let reject = prop_oneof![
        Just(Reject::None),
        Just(Reject::MinMax),
        Just(Reject::SigClip),
        Just(Reject::AvSigClip),
        Just(Reject::CcdClip),
        Just(Reject::CrReject),
        Just(Reject::PClip),
    ];
    (combine, reject, any::<bool>())
}

fn params_for(n: usize, (combine, reject, mclip): (Combine, Reject, bool), nkeep: i32, (nlow, nhigh): (f32, f32)) -> Params {
    let mut p = iraf_params(n, combine, reject);
    p.mclip = mclip;
    p.nkeep = nkeep;
    p.lsigma = Some(2.0);
    p.hsigma = Some(2.5);
    p.rdnoise = vec![5.0];
    p.gain = vec![1.5];
    (p.nlow, p.nhigh) = (nlow, nhigh);
    p
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// IRAF's quicksort with ids exactly as `ic_2sort` runs it (no shortcut for small inputs
/// without ties), written independently of `sort2` from the same description.
fn reference_quicksort(v: &mut [f32], id: &mut [u16]) {
    fn part(v: &mut [f32], id: &mut [u16], lo: usize, hi: usize) {
        // 1-based lo..=hi, pivot from the middle swapped to the end.
        if lo >= hi {
            return;
        }
        let k = (lo + hi) / 2;
        v.swap(hi - 1, k - 1);
        id.swap(hi - 1, k - 1);
        let pivot = v[hi - 1];
        let (mut i, mut j) = (lo - 1, hi);
        while i < j {
            i += 1;
            while v[i - 1] < pivot {
                i += 1;
            }
            j -= 1;
            while j > i && v[j - 1] > pivot {
                j -= 1;
            }
            if i < j {
                v.swap(i - 1, j - 1);
                id.swap(i - 1, j - 1);
            }
        }
        v.swap(i - 1, hi - 1);
        id.swap(i - 1, hi - 1);
        // The smaller side is sorted first, as IRAF's explicit stack does.
        if i - lo < hi - i {
            part(v, id, lo, i - 1);
            part(v, id, i + 1, hi);
        } else {
            part(v, id, i + 1, hi);
            part(v, id, lo, i - 1);
        }
    }
    let n = v.len();
    part(v, id, 1, n);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Output-only runs (whole-line fast paths, network sorts without ids) give the bits of
    /// runs with every product (per-pixel IRAF routines, ids kept), on 1 or 2 threads.
    #[test]
    fn fast_paths_and_threads_do_not_change_bits(
        (n, h, w, data) in stack(),
        kind in kind(),
        nkeep in -2i32..4,
        counts in prop_oneof![Just((1.0f32, 1.0f32)), Just((0.0, 1.0)), Just((1.0, 0.0)), Just((0.2, 0.3))],
    ) {
        let m = h * w;
        let frames: Vec<&[f32]> = (0..n).map(|i| &data[i * m..(i + 1) * m]).collect();
        let p = params_for(n, kind, nkeep, counts);
        let Ok(full) = imcombine::<f32, f32>(&frames, None, &[h, w], &p, ALL, 1) else { return Ok(()) };
        let fast = imcombine::<f32, f32>(&frames, None, &[h, w], &p, Want::default(), 2).unwrap();
        prop_assert_eq!(bits(&full.output), bits(&fast.output));
        let full2 = imcombine::<f32, f32>(&frames, None, &[h, w], &p, ALL, 2).unwrap();
        prop_assert_eq!(bits(full.sigma.as_deref().unwrap()), bits(full2.sigma.as_deref().unwrap()));
        prop_assert_eq!(full.rejmask, full2.rejmask);
        prop_assert_eq!(full.nrej, full2.nrej);
        prop_assert_eq!(full.expmask, full2.expmask);
        prop_assert_eq!(full.bpmask, full2.bpmask);
    }

    /// Thresholds that exclude nothing take the general gather (compaction, IRAF's
    /// quicksort with ids) instead of the network and key sorts: same bits.
    #[test]
    fn network_gathers_equal_the_quicksort_gather(
        (n, h, w, data) in stack(),
        kind in kind(),
        nkeep in -2i32..4,
        wanted in prop::array::uniform5(any::<bool>()),
        counts in prop_oneof![Just((1.0f32, 1.0f32)), Just((0.0, 1.0)), Just((1.0, 0.0))],
        exps in prop_oneof![Just(0u8), Just(1), Just(2)],
    ) {
        let m = h * w;
        let frames: Vec<&[f32]> = (0..n).map(|i| &data[i * m..(i + 1) * m]).collect();
        // any subset of the products (each subset picks its own fast paths)
        let want = Want { sigma: wanted[0], rejmask: wanted[1], nrej: wanted[2], expmask: wanted[3], bpmask: wanted[4] };
        let mut p = params_for(n, kind, nkeep, counts);
        // exposures: all 1, integers (order-free sums), fractions (sums in IRAF's slot order)
        p.exposures = match exps {
            0 => vec![1.0],
            1 => (0..n).map(|i| (1 + i % 4) as f32).collect(),
            _ => (0..n).map(|i| 0.1 + 0.37 * i as f32).collect(),
        };
        let Ok(plain) = imcombine::<f32, f32>(&frames, None, &[h, w], &p, want, 1) else { return Ok(()) };
        let mut pt = p.clone();
        (pt.lthreshold, pt.hthreshold) = (Some(-MAX_REAL), Some(MAX_REAL));
        let general = imcombine::<f32, f32>(&frames, None, &[h, w], &pt, want, 1).unwrap();
        prop_assert_eq!(bits(&plain.output), bits(&general.output));
        prop_assert_eq!(plain.sigma.as_deref().map(bits), general.sigma.as_deref().map(bits));
        prop_assert_eq!(plain.rejmask, general.rejmask);
        prop_assert_eq!(plain.nrej, general.nrej);
        prop_assert_eq!(plain.expmask, general.expmask);
        prop_assert_eq!(plain.bpmask, general.bpmask);
    }

    /// `sort2` (with its tie-free shortcut) leaves values and ids exactly where IRAF's
    /// quicksort leaves them (from 4 values on; IRAF orders 2 or 3 by explicit cases).
    #[test]
    fn sort2_equals_irafs_quicksort(v in prop::collection::vec((0i32..8).prop_map(|k| k as f32), 4..60)) {
        let id: Vec<u16> = (1..=v.len() as u16).collect();
        let (mut v1, mut id1) = (v.clone(), id.clone());
        let (mut v2, mut id2) = (v, id);
        sort2(&mut v1, &mut id1);
        reference_quicksort(&mut v2, &mut id2);
        prop_assert!(v1.windows(2).all(|q| q[0] <= q[1]));
        prop_assert_eq!(v1, v2);
        prop_assert_eq!(id1, id2);
    }
}
