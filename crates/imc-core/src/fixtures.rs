//! Deterministic stacks and parameter sets shared by the crate's tests, its examples and
//! the profiling targets. Not part of the API (hidden from the docs); the values are
//! fixtures, not defaults: every default of the Python API lives in Python.

use crate::iraf::{normalise, Combine, Params, Reject, Source};
use crate::job::{Centre, Limits, Rejector, Spread};

/// N frames of M samples: N(1000, 30) read noise with 0.5 % cosmic rays (+5000), as in
/// the benchmarks (a fixed LCG stream through Box-Muller).
pub fn noisy_stack(n: usize, m: usize) -> Vec<Vec<f32>> {
    let mut s = 1u64;
    let mut uni = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (0..m)
                .map(|_| {
                    let (u1, u2) = (uni(), uni());
                    let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    let v = 1000.0 + 30.0 * g;
                    (if uni() < 0.005 { v + 5000.0 } else { v }) as f32
                })
                .collect()
        })
        .collect()
}

/// A 3-sigma median-centred SigClip with the std spread, 5 passes, nkeep 1 (revert).
pub fn sigclip_median() -> Rejector {
    Rejector::SigClip {
        sigma_lo: 3.0,
        sigma_hi: 3.0,
        maxiters: 5,
        cen: Centre::Median,
        spread: Spread::Std,
        spread_cen: None,
        ddof: 0,
        limits: Limits { nkeep: 1, maxrej: None, revert: true },
    }
}

/// IRAF parameters for N images with no scaling: 3-sigma limits, nlow = nhigh = 1,
/// nkeep 1, mclip, pclip -0.5, no noise, no grow, no thresholds, blank 0.
pub fn iraf_params(n: usize, combine: Combine, reject: Reject) -> Params {
    let none = (Source::None, &[][..]);
    Params {
        combine,
        reject,
        nlow: 1.0,
        nhigh: 1.0,
        nkeep: 1,
        mclip: true,
        lsigma: Some(3.0),
        hsigma: Some(3.0),
        rdnoise: vec![0.0],
        gain: vec![1.0],
        snoise: vec![0.0],
        sigscale: 0.1,
        pclip: -0.5,
        grow: 0.0,
        lthreshold: None,
        hthreshold: None,
        blank: 0.0,
        factors: normalise(none, none, none, &vec![1.0; n]).expect("no factors to normalise"),
        exposures: vec![1.0],
        int_path: crate::iraf::IntPath::Real,
        novalue: false,
    }
}

/// CPU time of this process in nanoseconds (all threads): robust on a busy machine.
pub fn process_cpu_ns() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // Safety: a valid timespec to write into.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
        t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
    }
    #[cfg(not(target_os = "linux"))]
    0.0
}
