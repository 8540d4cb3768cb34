//! Linear clipping: keep low_scale*c - low <= x <= upp_scale*c + upp around the centre c.

use super::{centre, iterate, Diag, Work};
use crate::job::{Centre, Limits};

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    w: &mut Work,
    low_scale: f64,
    low: f64,
    upp_scale: f64,
    upp: f64,
    maxiters: u32,
    cen: Centre,
    limits: &Limits,
) -> Diag {
    let mut d = iterate(w, maxiters, limits, |w| {
        let c = centre(&w.xs, cen, &mut w.s1);
        if !c.is_finite() {
            return None;
        }
        let (lo, hi) = (low_scale * c - low, upp_scale * c + upp);
        // No spread: residuals are plain distances from the centre.
        super::sigclip::fill_uniform(w, c, 1.0, lo, hi);
        Some((f64::NAN, lo, hi))
    });
    d.std = f64::NAN;
    d
}
