//! Rosner's (1983) generalized extreme studentized deviate (ESD) many-outlier test.
//!
//! On the sorted window of n samples, r = trunc(f n + 0.001) tests are run (f the maximum
//! outlier fraction; at most n - 2, since a test on m samples needs m >= 3). Test i works
//! on the m = n - i + 1 samples left: with their mean and sample standard deviation
//! (m - 1), R_i = max(mean - lowest, highest - mean) / s, and the sample at that end is
//! set aside (the low end when the two deviations are equal). The number of outliers is
//! the largest i with R_i > lambda(m) (Rosner's critical value, see `tdist`), and those
//! first k set-aside samples are rejected. They always come off the two ends of the
//! sorted window, so survivors stay contiguous.

use super::lanes::{self, LanePass};
use super::{keep_count, oflag, Diag, Win};
use crate::job::Limits;
use crate::network::LANES;
use crate::real::Real;

/// Running sums of d = x - reference over a shrinking window. A removal that takes away
/// most of the sum of squares (an outlier) triggers a fresh sum, so the cancellation of
/// the subtraction never costs more than one bit.
#[derive(Clone, Copy)]
struct Sums {
    reference: f64,
    s1: f64,
    s2: f64,
}

impl Sums {
    fn over(v: &[f64], reference: f64) -> Self {
        let s1 = super::sum_map(v, |x| x - reference);
        let s2 = super::sum_map(v, |x| (x - reference) * (x - reference));
        Sums { reference, s1, s2 }
    }

    fn remove(&mut self, x: f64, rest: &[f64]) {
        let d = x - self.reference;
        if d * d > 0.5 * self.s2 {
            *self = Sums::over(rest, self.reference);
        } else {
            self.s1 -= d;
            self.s2 -= d * d;
        }
    }

    /// (mean, sample standard deviation) of the m values summed.
    #[inline(always)]
    fn mean_std(&self, m: usize) -> (f64, f64) {
        let mf = m as f64;
        let var = ((self.s2 - self.s1 * self.s1 / mf) / (mf - 1.0)).max(0.0);
        (self.reference + self.s1 / mf, var.sqrt())
    }
}

/// Number of tests for n valid samples and maximum outlier fraction `frac`.
#[inline]
pub(crate) fn test_count(frac: f64, n: usize) -> usize {
    let r = (frac * n as f64 + 0.001).trunc() as usize;
    r.min(n.saturating_sub(2))
}

/// [`apply`] for `len` complete lanes of `n` sorted samples at once (see `reject::lanes`),
/// `r` >= 1 tests and `table.len() > n`. A lane is decided when none of its tests is
/// significant and its running sums were never summed afresh before the last test (the
/// per-element code then keeps every sample and reports the sums of the first test); a
/// break on a zero spread is left to the per-element code too.
#[inline(always)]
pub(crate) fn first_pass_lanes<L: Real>(rows: &[L], n: usize, len: usize, table: &[f64], r: usize, out: LanePass<'_>) {
    let (mut reference, mut s1, mut s2) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    lanes::medians(rows, n, len, &mut reference);
    lanes::dev_sums(rows, n, len, &reference, None, &mut s1, &mut s2);
    let whole = (s1, s2);
    // Window [lo, hi) of every lane (each test removes one sample: hi - lo = n - i + 1).
    let (mut lo, mut hi) = ([0usize; LANES], [n; LANES]);
    let mut bad = [false; LANES];
    let (mut xl, mut xh) = ([0.0; LANES], [0.0; LANES]);
    for i in 1..=r {
        let mf = (n - i + 1) as f64;
        let lam = table[n - i + 1];
        for b in 0..len {
            xl[b] = rows[lo[b] * LANES + b].to_f64();
            xh[b] = rows[(hi[b] - 1) * LANES + b].to_f64();
        }
        let last = i == r;
        for b in 0..len {
            let q = mf * s2[b] - s1[b] * s1[b];
            let spread = q > 0.0 && q.is_finite();
            let (dl, dh) = (mf * (reference[b] - xl[b]) + s1[b], mf * (xh[b] - reference[b]) - s1[b]);
            let take_high = dh > dl;
            let dev = if take_high { dh } else { dl };
            let significant = dev * dev * (mf - 1.0) > lam * lam * mf * q;
            // `Sums::remove`, with a fresh sum left to the per-element code.
            let d = (if take_high { xh[b] } else { xl[b] }) - reference[b];
            let fresh = d * d > 0.5 * s2[b];
            bad[b] |= !spread | significant | (fresh & !last);
            s1[b] -= d;
            s2[b] -= d * d;
            hi[b] -= take_high as usize;
            lo[b] += !take_high as usize;
        }
    }
    // Nothing rejected: the survivors' statistics are those of the first test.
    let lam = table[n];
    for b in 0..len {
        let sums = Sums { reference: reference[b], s1: whole.0[b], s2: whole.1[b] };
        let (mean, sd) = sums.mean_std(n);
        out.std[b] = sd;
        out.low[b] = mean - lam * sd;
        out.upp[b] = mean + lam * sd;
        out.ok[b] = !bad[b];
    }
}

/// Apply the test to the window. `table[m]` is the critical value for m samples.
pub(super) fn apply(w: &mut Win<'_>, table: &[f64], frac: f64, limits: &Limits) -> Diag {
    let mut d = Diag::default();
    let n = w.n();
    let r = test_count(frac, n);
    if r == 0 || table.len() <= n {
        return d;
    }
    d.nit = 1;
    let a = w.a;
    let keep = keep_count(limits.nkeep, n);
    let mut allowed = n - keep;
    if let Some(m) = limits.maxrej {
        allowed = allowed.min(m.min(n as u64) as usize);
    }
    let (mut lo, mut hi) = (w.lo, w.hi);
    let mut sums = Sums::over(&a[lo..hi], super::median_sorted(&a[lo..hi]));
    let (start, whole) = ((lo, hi), sums);
    // The window after the last significant removal, and after `allowed` removals.
    let (mut k, mut at_k) = (0usize, (lo, hi));
    let mut at_allowed = (lo, hi);
    for i in 1..=r {
        let m = hi - lo;
        let mf = m as f64;
        // R_i > lambda without a division or square root: with S1, S2 the sums of d = x - ref,
        // D = m (end - mean) and Q = m S2 - S1^2 = m (m - 1) s^2, the test is
        // D^2 (m - 1) > lambda^2 m Q.
        let q = mf * sums.s2 - sums.s1 * sums.s1;
        if !(q > 0.0 && q.is_finite()) {
            break;
        }
        let (dl, dh) = (mf * (sums.reference - a[lo]) + sums.s1, mf * (a[hi - 1] - sums.reference) - sums.s1);
        let take_high = dh > dl;
        let dev = if take_high { dh } else { dl };
        let lam = table[m];
        let significant = dev * dev * (mf - 1.0) > lam * lam * mf * q;
        if take_high {
            hi -= 1;
            sums.remove(a[hi], &a[lo..hi]);
        } else {
            lo += 1;
            sums.remove(a[lo - 1], &a[lo..hi]);
        }
        if significant {
            (k, at_k) = (i, (lo, hi));
        }
        if i == allowed {
            at_allowed = (lo, hi);
        }
    }
    // nkeep / maxrej: keep only the most extreme of the significant outliers.
    let (l, h) = if k > allowed {
        if n - k < keep {
            d.flags |= oflag::NKEEP;
        }
        if limits.maxrej.is_some_and(|m| k as u64 > m) {
            d.flags |= oflag::MAXREJ;
        }
        at_allowed
    } else {
        at_k
    };
    w.lo = l;
    w.hi = h;
    // Diagnostics: the survivors' mean and spread, and the band a further test would need
    // to be exceeded (mean -/+ lambda(m) s).
    let m = h - l;
    if m >= 2 {
        // Nothing rejected: the sums of the first test are those of the survivors.
        let survivors = if (l, h) == start { whole } else { Sums::over(&a[l..h], super::median_sorted(&a[l..h])) };
        let (mean, s) = survivors.mean_std(m);
        d.std = s;
        let lam = if m < table.len() { table[m] } else { f64::NAN };
        d.clip_low = mean - lam * s;
        d.clip_upp = mean + lam * s;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::tdist::esd_table;

    /// Rosner (1983), also the NIST/SEMATECH handbook example 1.3.5.17.3: 54 values, up to
    /// 10 outliers at alpha = 0.05; the published answer is 3 outliers (6.01, 5.42, 5.34).
    const ROSNER: [f64; 54] = [
        -0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56, 1.58, 1.65, 1.69, 1.70,
        1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10, 2.14, 2.15, 2.23, 2.24, 2.26, 2.35, 2.37, 2.40,
        2.47, 2.54, 2.62, 2.64, 2.90, 2.92, 2.92, 2.93, 3.21, 3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01,
    ];

    #[test]
    fn rosner_example_finds_three_outliers() {
        let table = esd_table(54, 0.05);
        let mut w = Win::new(&ROSNER, None);
        let lim = Limits { nkeep: 0, maxrej: None, revert: true };
        // 10 tests: f = 10/54.
        let d = apply(&mut w, &table, 10.0 / 54.0, &lim);
        assert_eq!((w.lo, w.hi), (0, 51), "the three highest are the outliers");
        assert_eq!((d.nit, d.flags), (1, 0));
    }

    #[test]
    fn limits_keep_the_most_extreme() {
        let table = esd_table(54, 0.05);
        let mut w = Win::new(&ROSNER, None);
        let d = apply(&mut w, &table, 10.0 / 54.0, &Limits { nkeep: 0, maxrej: Some(2), revert: true });
        assert_eq!((w.lo, w.hi), (0, 52));
        assert_eq!(d.flags, oflag::MAXREJ);
    }

    #[test]
    fn no_outlier_in_a_clean_sample() {
        let v: Vec<f64> = (0..20).map(|i| 100.0 + ((i * 7) % 11) as f64).collect();
        let mut v = v;
        v.sort_by(|a, b| a.total_cmp(b));
        let table = esd_table(20, 0.05);
        let mut w = Win::new(&v, None);
        apply(&mut w, &table, 0.3, &Limits { nkeep: 1, maxrej: None, revert: true });
        assert_eq!((w.lo, w.hi), (0, 20));
    }

    #[test]
    fn test_count_follows_the_fraction() {
        assert_eq!(test_count(0.3, 20), 6);
        assert_eq!(test_count(0.29, 100), 29);
        assert_eq!(test_count(0.5, 3), 1);
        assert_eq!(test_count(0.9, 4), 2);
        assert_eq!(test_count(0.3, 2), 0);
    }
}
