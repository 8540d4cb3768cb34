//! Linear clipping: keep low_scale*c - low <= x <= upp_scale*c + upp around the centre c.

use super::{side, centre, iterate, Diag, Pass, Passes, Scratch, Win};
use crate::job::{Centre, Limits};

/// Whether the bounds are the defaults (1, 0, 1, 0), which keep only x == c: imcombiners
/// 0.1.1 treats such a LinearClip as "not configured" and rejects nothing.
fn is_default(low_scale: f64, low: f64, upp_scale: f64, upp: f64) -> bool {
    low_scale == 1.0 && low == 0.0 && upp_scale == 1.0 && upp == 0.0
}

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Win<'_>,
    s: &mut Scratch,
    low_scale: f64,
    low: f64,
    upp_scale: f64,
    upp: f64,
    maxiters: u32,
    cen: Centre,
    limits: &Limits,
) -> Diag {
    if is_default(low_scale, low, upp_scale, upp) {
        return Diag::default();
    }
    let a = w.a;
    iterate(
        w,
        s,
        maxiters,
        limits,
        Passes::Evaluated,
        |w, _| {
            let c = centre(w.vals(), cen);
            if !c.is_finite() {
                return None;
            }
            Some(Pass { centre: c, level: c, std: f64::NAN, low: low_scale * c - low, upp: upp_scale * c + upp })
        },
        |k, p| side(a[k], p.low, p.upp),
        // No spread: add-back orders by plain distance from the centre.
        |_, _| 1.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::oflag;

    fn run(v: &[f64], bounds: (f64, f64, f64, f64), maxiters: u32, nkeep: i64) -> (Vec<f64>, Diag) {
        let mut a = v.to_vec();
        crate::select::sort(&mut a);
        let mut w = Win::new(&a, None);
        let mut s = Scratch::default();
        let lim = Limits { nkeep, maxrej: None, revert: true };
        let d = apply(&mut w, &mut s, bounds.0, bounds.1, bounds.2, bounds.3, maxiters, Centre::Mean, &lim);
        (w.vals().to_vec(), d)
    }

    const Y: [f64; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];

    #[test]
    fn default_bounds_reject_nothing() {
        let (kept, d) = run(&Y, (1.0, 0.0, 1.0, 0.0), 3, 0);
        assert_eq!(kept.len(), 10);
        assert_eq!(d.nit, 0);
        assert!(d.low.is_nan() && d.upp.is_nan());
    }

    #[test]
    fn passes_and_bounds_follow_0_1_1() {
        // Mean 5.5 -> keep [4.95, 7.15]: 5, 6, 7; one pass, no MAXITERS flag.
        let (kept, d) = run(&Y, (0.9, 0.0, 1.3, 0.0), 1, 0);
        assert_eq!(kept, vec![5.0, 6.0, 7.0]);
        assert_eq!((d.nit, d.flags), (1, 0));
        assert!((d.low - 4.95).abs() < 1e-12 && (d.upp - 7.15).abs() < 1e-12);
        // Two passes, the second still rejecting: MAXITERS.
        let (kept, d) = run(&Y, (0.9, 0.0, 1.3, 0.0), 2, 0);
        assert_eq!(kept, vec![6.0, 7.0]);
        assert_eq!((d.nit, d.flags), (2, oflag::MAXITERS));
        // A first pass undone by nkeep: no bounds were kept.
        let (kept, d) = run(&Y, (0.9, 0.0, 1.3, 0.0), 5, 4);
        assert_eq!(kept.len(), 10);
        assert_eq!((d.nit, d.flags), (1, oflag::NKEEP));
        assert!(d.low.is_nan() && d.clip_low.is_finite());
    }
}
