//! `combine = quadrature` and `combine = nmodel` (IRAF `ic_quad`, `ic_nmodel`).
//!
//! Quadrature treats the inputs as sigmas: the result is `sqrt(sum (w v)^2) / sum w`
//! over the values kept (unweighted: `sqrt(sum v^2) / n`). nmodel replaces each value by
//! the variance of the CCD noise model at that level, `var0 + v / g + (v s)^2` with
//! `v = max(0, value)`, and combines the variances the same way (weighted: `w^2 var`).
//! As in IRAF, each value is a float32 variable (also on the double path), the sums are
//! in the working type, lines without exclusions are not divided by the weight sum
//! (weights sum to one), and nmodel looks up its noise table by *slot*, not by image.
//! The final `sqrt(sum) / divisor` is evaluated in double precision and then rounded to
//! the working type (C's `sqrt` returns a double; checked against IRAF 2.17).

use super::ctx::{Combine, Ctx};
use super::line::{DFlag, LineBuf};
use super::work::Work;

#[inline(always)]
fn sq(x: f32) -> f32 {
    x * x
}

/// `sqrt(sum) / d` as IRAF's compiled code evaluates it (in double, rounded once).
#[inline(always)]
fn root_over<T: Work>(sum: T, d: f64) -> T {
    T::from_f64(sum.to_f64().sqrt() / d)
}

/// Fortran MAX(0, v) as f2c writes it (`0 >= v ? 0 : v`), rounded to a float32 variable.
#[inline(always)]
fn clip0<T: Work>(v: T) -> f32 {
    if T::ZERO >= v {
        0.0
    } else {
        v.to_f32()
    }
}

/// The noise-model variance of a value in slot `j` (0-based).
#[inline(always)]
fn variance<T: Work>(c: &Ctx, j: usize, v: T) -> f32 {
    let (var0, g, s) = c.nmodel[j];
    let val = clip0(v);
    var0 + val / g + sq(val * s)
}

/// Quadrature average of slots 1..n (IRAF `ic_quad`, `doaverage = yes`).
pub fn quadrature<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool) {
    combine_in_quadrature(b, c, doblank, |_, _, v: T| {
        let val = v.to_f32();
        (val, sq(val))
    });
}

/// Noise-model combine of slots 1..n (IRAF `ic_nmodel`, `doaverage = yes`).
pub fn nmodel<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool) {
    combine_in_quadrature(b, c, doblank, |c, j, v: T| {
        let var = variance(c, j, v);
        (var, var)
    });
}

/// The shared loop. `term(c, slot, value)` gives `(x, unweighted term)`; the weighted
/// term is `(x w)^2` for quadrature and `x w^2` for nmodel.
fn combine_in_quadrature<T: Work>(
    b: &mut LineBuf<T>,
    c: &Ctx,
    doblank: bool,
    term: impl Fn(&Ctx, usize, T) -> (f32, f32),
) {
    let blank = T::from_f32(c.blank);
    let nimg = b.nimg;
    let nmodel = c.combine == Combine::NModel;
    let weighted = |x: f32, wt: f32| if nmodel { x * sq(wt) } else { sq(x * wt) };
    match b.dflag {
        DFlag::None => {
            if doblank {
                b.avg.iter_mut().for_each(|a| *a = blank);
            }
        }
        DFlag::All | DFlag::Mix => {
            let all = b.dflag == DFlag::All;
            for x in 0..b.w {
                let n1 = b.n[x];
                if n1 == 0 {
                    if !all && doblank {
                        b.avg[x] = blank;
                    }
                    continue;
                }
                let v = &b.v[x * nimg..x * nimg + n1];
                let id = &b.id[x * nimg..x * nimg + n1];
                if c.dowts {
                    let mut sum = T::ZERO;
                    let mut sumwt = 0.0f32;
                    for j in 0..n1 {
                        let wt = c.wts[id[j] as usize - 1];
                        let (q, _) = term(c, j, v[j]);
                        let t = T::from_f32(weighted(q, wt));
                        sum = if j == 0 { t } else { sum + t };
                        sumwt = if j == 0 { wt } else { sumwt + wt };
                    }
                    b.avg[x] = if all {
                        sum.sqrt()
                    } else if sumwt > 0.0 {
                        root_over(sum, sumwt as f64)
                    } else {
                        // IRAF's unweighted fallback (nmodel starts from the first value
                        // squared, not its variance: reproduced)
                        let mut s = if nmodel { v[0] * v[0] } else { T::from_f32(term(c, 0, v[0]).1) };
                        for j in 1..n1 {
                            s = s + T::from_f32(term(c, j, v[j]).1);
                        }
                        root_over(s, n1 as f64)
                    };
                } else {
                    let mut sum = T::from_f32(term(c, 0, v[0]).1);
                    for j in 1..n1 {
                        sum = sum + T::from_f32(term(c, j, v[j]).1);
                    }
                    b.avg[x] = root_over(sum, n1 as f64);
                }
            }
        }
    }
}
