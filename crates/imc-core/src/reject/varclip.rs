//! Variance-aware clipping: each sample's own sigma sqrt(v') about the window's centre.
//!
//! v' is the sample's variance after zero/scale (V / scale²), read from the element's
//! variance plane through its frame id. The sorted-ends walk of [`iterate`] applies: a kept
//! sample at an end of the sorted window shields the samples inside it.

use super::{centre, iterate, side, Diag, Pass, Passes, Scratch, Win};
use crate::job::{Centre, Limits};

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Win<'_>,
    s: &mut Scratch,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
    cen: Centre,
    limits: &Limits,
) -> Diag {
    let a = w.a;
    let (Some(ids), Some(var)) = (w.ids, w.var) else {
        // Without frame ids or variances there is no per-sample sigma: nothing to clip
        // (the driver always provides both; this keeps a misuse harmless).
        return Diag::default();
    };
    let sigma_k = move |k: usize| var[ids[k] as usize].sqrt();
    iterate(
        w,
        s,
        maxiters,
        limits,
        // nit counts the passes evaluated (as LinearClip and AvSigClip)
        Passes::Evaluated,
        |w, _| {
            // A single sample cannot be an outlier.
            if w.n() < 2 {
                return None;
            }
            let c = centre(w.vals(), cen);
            if !c.is_finite() {
                return None;
            }
            // Typical sigma of the window: sqrt(mean v'), summed in window order.
            let mut sv = 0.0;
            for k in w.lo..w.hi {
                sv += var[ids[k] as usize];
            }
            let sd = (sv / w.n() as f64).sqrt();
            Some(Pass { centre: c, level: c, std: sd, low: c - sigma_lo * sd, upp: c + sigma_hi * sd })
        },
        |k, p| {
            let s = sigma_k(k);
            side(a[k], p.centre - sigma_lo * s, p.centre + sigma_hi * s)
        },
        move |k, _| sigma_k(k),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sample_is_judged_by_its_own_sigma() {
        // Sorted values with their frames; frame 3 (value 14) is precise, frame 4 (16) noisy.
        let a = [9.0, 10.0, 10.5, 14.0, 16.0];
        let ids = [0u32, 1, 2, 3, 4];
        let var = [1.0, 1.0, 1.0, 0.25, 100.0];
        let mut w = Win::new(&a, Some(&ids));
        w.var = Some(&var);
        let lim = Limits { nkeep: 1, maxrej: None, revert: true };
        let d = apply(&mut w, &mut Scratch::default(), 3.0, 3.0, 5, Centre::Median, &lim);
        // median 10.5: 16 is within 3*10 of it, so it shields 14 (which alone would be
        // 7 sigma away): the sorted-ends model rejects nothing on the high side.
        assert_eq!((w.lo, w.hi), (0, 5));
        assert_eq!(d.nit, 1);
        let var2 = [1.0, 1.0, 1.0, 0.25, 0.25];
        let mut w = Win::new(&a, Some(&ids));
        w.var = Some(&var2);
        apply(&mut w, &mut Scratch::default(), 3.0, 3.0, 5, Centre::Median, &lim);
        assert_eq!((w.lo, w.hi), (0, 3));
    }
}
