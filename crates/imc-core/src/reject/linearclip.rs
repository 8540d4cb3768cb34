//! Linear clipping: keep low_scale*c - low <= x <= upp_scale*c + upp around the centre c.

use super::{side, centre, iterate, Diag, Pass, Win};
use crate::job::{Centre, Limits};

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Win<'_>,
    low_scale: f64,
    low: f64,
    upp_scale: f64,
    upp: f64,
    maxiters: u32,
    cen: Centre,
    limits: &Limits,
) -> Diag {
    let a = w.a;
    iterate(
        w,
        maxiters,
        limits,
        |w| {
            let c = centre(w.vals(), cen);
            if !c.is_finite() {
                return None;
            }
            Some(Pass { centre: c, std: f64::NAN, low: low_scale * c - low, upp: upp_scale * c + upp })
        },
        |k, p| side(a[k], p.low, p.upp),
        // No spread: add-back orders by plain distance from the centre.
        |_, _| 1.0,
    )
}
