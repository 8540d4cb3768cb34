//! Student's t upper-tail quantiles and Rosner's (1983) generalized ESD critical values.
//!
//! The critical value of the test on a window of m samples (Rosner's lambda_i with
//! m = n - i + 1) is
//!
//! ```text
//! lambda(m) = (m - 1) t / sqrt((m - 2 + t^2) m),   t = t_{1 - alpha / (2m), m - 2}
//! ```
//!
//! so one table indexed by the window size serves every element of a job, whatever its
//! number of valid samples. The t quantile is found by a bracketed Newton iteration on
//! the upper tail P(T > t) = I_x(nu/2, 1/2) / 2 with x = nu / (nu + t^2), the regularized
//! incomplete beta function evaluated by its continued fraction. Everything is plain f64
//! arithmetic in a fixed order, so the table has the same bits on every machine.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

/// Stirling-series tail of ln Gamma(z) (Bernoulli terms up to z^-13; error below 1e-17
/// for z >= 10).
fn stirling_tail(z: f64) -> f64 {
    let r = 1.0 / z;
    let r2 = r * r;
    let terms = [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360_360.0, 1.0 / 156.0];
    // Horner in r^2, innermost (highest order) first.
    let mut acc = 0.0;
    for c in terms.iter().rev() {
        acc = acc * r2 + c;
    }
    acc * r
}

/// ln(Gamma(a + 1/2) / Gamma(a)) for a = nu / 2 with nu a positive integer.
///
/// Small a: the exact recurrence r(a + 1) = r(a) (a + 1/2) / a from r(1/2) = 1/sqrt(pi)
/// and r(1) = sqrt(pi)/2. Large a: the difference of two Stirling series written so that
/// the large terms cancel analytically (a ln(1 + 1/(2a)) via ln_1p).
pub(crate) fn ln_gamma_half_ratio(a: f64) -> f64 {
    debug_assert!(a > 0.0 && (2.0 * a).fract() == 0.0);
    if a < 10.0 {
        let (mut r, mut x) = if a.fract() == 0.0 { (PI.sqrt() / 2.0, 1.0) } else { (1.0 / PI.sqrt(), 0.5) };
        while x < a {
            r *= (x + 0.5) / x;
            x += 1.0;
        }
        return r.ln();
    }
    a * (0.5 / a).ln_1p() + 0.5 * a.ln() - 0.5 + stirling_tail(a + 0.5) - stirling_tail(a)
}

/// Continued fraction of the regularized incomplete beta function (modified Lentz):
/// returns f with I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * f, accurate for
/// x < (a + 1) / (a + b + 2).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let fix = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / fix(1.0 - (a + b) * x / (a + 1.0));
    let mut f = d;
    for m in 1..10_000 {
        let m = m as f64;
        // Even coefficient m (b - m) x / ((a + 2m - 1)(a + 2m)).
        let e = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / fix(1.0 + e * d);
        c = fix(1.0 + e / c);
        f *= d * c;
        // Odd coefficient -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
        let o = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / fix(1.0 + o * d);
        c = fix(1.0 + o / c);
        let step = d * c;
        f *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    f
}

/// Upper tail P(T > t) of Student's t with `nu` degrees of freedom, for t >= 0.
pub(crate) fn t_upper_tail(t: f64, nu: f64) -> f64 {
    let a = 0.5 * nu;
    let t2 = t * t;
    // x = nu / (nu + t^2) and y = 1 - x = t^2 / (nu + t^2), both without cancellation.
    let (x, y) = (nu / (nu + t2), t2 / (nu + t2));
    // ln B(a, 1/2) = ln Gamma(1/2) - ln(Gamma(a + 1/2) / Gamma(a)).
    let ln_beta = 0.5 * PI.ln() - ln_gamma_half_ratio(a);
    let front = (a * x.ln() + 0.5 * y.ln() - ln_beta).exp();
    if x < (a + 1.0) / (a + 2.5) {
        0.5 * front * beta_cf(a, 0.5, x) / a
    } else {
        // I_x(a, 1/2) = 1 - I_y(1/2, a).
        0.5 * (1.0 - front * beta_cf(0.5, a, y) / 0.5)
    }
}

/// Density of Student's t with `nu` degrees of freedom.
fn t_density(t: f64, nu: f64) -> f64 {
    let a = 0.5 * nu;
    (ln_gamma_half_ratio(a) - 0.5 * (nu * PI).ln() - (a + 0.5) * (t * t / nu).ln_1p()).exp()
}

/// The t with P(T > t) = q, for 0 < q < 1/2 and nu >= 1.
pub(crate) fn t_upper_quantile(q: f64, nu: f64) -> f64 {
    debug_assert!(q > 0.0 && q < 0.5 && nu >= 1.0);
    // Bracket: the tail falls from 1/2 at t = 0.
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_upper_tail(hi, nu) > q {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return f64::INFINITY;
        }
    }
    let lnq = q.ln();
    let mut t = 0.5 * (lo + hi);
    for _ in 0..200 {
        let tail = t_upper_tail(t, nu);
        if tail > q {
            lo = t;
        } else {
            hi = t;
        }
        // Newton on ln P(T > t) - ln q (nearly linear in t in the far tail).
        let step = (tail.ln() - lnq) * tail / t_density(t, nu);
        let mut next = t + step;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - t).abs() <= 1e-15 * t || hi - lo <= 4.0 * f64::EPSILON * hi {
            return next;
        }
        t = next;
    }
    t
}

/// Rosner's critical value for a window of `m` >= 3 samples at significance `alpha`.
pub(crate) fn esd_critical(m: usize, alpha: f64) -> f64 {
    debug_assert!(m >= 3);
    let mf = m as f64;
    let nu = mf - 2.0;
    let t = t_upper_quantile(alpha / (2.0 * mf), nu);
    (mf - 1.0) * t / ((nu + t * t) * mf).sqrt()
}

/// Critical values for every window size 0..=n (NaN below 3), computed once per
/// (n, alpha) in the process and shared: a Dask run builds many jobs with the same table.
pub(crate) fn esd_table(n: usize, alpha: f64) -> Arc<Vec<f64>> {
    static CACHE: OnceLock<Mutex<HashMap<(usize, u64), Arc<Vec<f64>>>>> = OnceLock::new();
    let key = (n, alpha.to_bits());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return t.clone();
    }
    let table: Arc<Vec<f64>> = Arc::new((0..=n).map(|m| if m >= 3 { esd_critical(m, alpha) } else { f64::NAN }).collect());
    let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
    // A small bounded cache: a long session with many different N must not grow it forever.
    if guard.len() >= 64 {
        guard.clear();
    }
    guard.insert(key, table.clone());
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn gamma_ratio_matches_closed_forms_and_switch_point() {
        // Gamma(3/2)/Gamma(1) = sqrt(pi)/2; Gamma(1)/Gamma(1/2) = 1/sqrt(pi).
        assert!(close(ln_gamma_half_ratio(1.0), (PI.sqrt() / 2.0).ln(), 1e-15));
        assert!(close(ln_gamma_half_ratio(0.5), -(PI.sqrt()).ln(), 1e-15));
        // Both branches agree across the switch at a = 10 (recurrence vs Stirling).
        for a in [10.0f64, 10.5, 11.0, 12.5] {
            let (mut r, mut x) = if a.fract() == 0.0 { (PI.sqrt() / 2.0, 1.0) } else { (1.0 / PI.sqrt(), 0.5) };
            while x < a {
                r *= (x + 0.5) / x;
                x += 1.0;
            }
            assert!(close(ln_gamma_half_ratio(a), r.ln(), 2e-15), "a = {a}");
        }
    }

    #[test]
    fn t_quantiles_match_closed_forms() {
        // nu = 1 (Cauchy): t = cot(pi q); nu = 2: t = (1 - 2q) / sqrt(2 q (1 - q)).
        for q in [0.25, 0.025, 0.005, 1e-4, 1e-7] {
            let t1 = 1.0 / (PI * q).tan();
            assert!(close(t_upper_quantile(q, 1.0), t1, 1e-13), "nu=1 q={q}");
            let t2 = (1.0 - 2.0 * q) / (2.0 * q * (1.0 - q)).sqrt();
            assert!(close(t_upper_quantile(q, 2.0), t2, 1e-13), "nu=2 q={q}");
        }
    }

    #[test]
    fn t_quantiles_match_published_tables() {
        // Standard two-sided table values (5 % and 1 %).
        assert!(close(t_upper_quantile(0.025, 10.0), 2.228_138_851_986_273, 1e-13));
        assert!(close(t_upper_quantile(0.005, 30.0), 2.749_995_653_567_44, 1e-12));
        assert!(close(t_upper_quantile(0.025, 120.0), 1.979_930_405_082_2, 1e-12));
        // Values of scipy.stats.t.isf (Boost) in the range GESD uses, up to N = 60000.
        for (q, nu, want) in [
            (2.5e-05, 998.0, 4.073422055284903),
            (0.01 / 120_000.0, 59_998.0, 5.233745441545074),
            (0.01, 3.0, 4.5407028585681335),
            (0.001, 23.0, 3.484964374939813),
            (1e-9, 7.0, 38.70598064323161),
        ] {
            assert!(close(t_upper_quantile(q, nu), want, 1e-12), "q={q} nu={nu}");
        }
        // Large nu tends to the normal quantile 1.959963984540054.
        assert!(close(t_upper_quantile(0.025, 1e6), 1.959_963_984_540_054, 1e-5));
    }

    #[test]
    fn rosner_example_critical_values() {
        // Rosner (1983) / NIST handbook 1.3.5.17.3: n = 54, alpha = 0.05, lambda_1..lambda_10
        // as published (three decimals, truncated).
        let published = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085];
        for (i, want) in published.iter().enumerate() {
            let got = esd_critical(54 - i, 0.05);
            assert!(got >= *want && got < want + 1e-3, "i = {}: {got} vs {want}", i + 1);
        }
    }

    #[test]
    fn table_is_cached_and_nan_below_three() {
        let a = esd_table(40, 0.05);
        let b = esd_table(40, 0.05);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a[2].is_nan() && a[3].is_finite());
        assert_eq!(a[17].to_bits(), esd_critical(17, 0.05).to_bits());
    }
}
