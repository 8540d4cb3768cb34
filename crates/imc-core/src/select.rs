//! Order statistics on small buffers of finite f64 values.
//!
//! Inputs never contain NaN (non-finite samples are masked before they get here), but
//! every comparison uses `total_cmp` so that no input can make a kernel panic.

/// Sort ascending in place. Insertion sort below 24 elements (N is usually small), else
/// the standard unstable sort.
#[inline]
pub fn sort(buf: &mut [f64]) {
    if buf.len() < 24 {
        for i in 1..buf.len() {
            let x = buf[i];
            let mut j = i;
            while j > 0 && buf[j - 1].total_cmp(&x).is_gt() {
                buf[j] = buf[j - 1];
                j -= 1;
            }
            buf[j] = x;
        }
    } else {
        buf.sort_unstable_by(|a, b| a.total_cmp(b));
    }
}

/// The k-th smallest value (0-based); reorders `buf`.
#[inline]
pub fn kth(buf: &mut [f64], k: usize) -> f64 {
    if buf.len() < 24 {
        sort(buf);
        buf[k]
    } else {
        *buf.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
    }
}

/// Median: middle value, or the mean of the middle pair for even n. NaN when empty.
#[inline]
pub fn median(buf: &mut [f64]) -> f64 {
    let n = buf.len();
    match n {
        0 => f64::NAN,
        1 => buf[0],
        2 => 0.5 * (buf[0] + buf[1]),
        _ if n % 2 == 1 => kth(buf, n / 2),
        _ => {
            let hi = kth(buf, n / 2);
            // After selection every element left of n/2 is <= hi: the lower middle is their max.
            let lo = buf[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            0.5 * (lo + hi)
        }
    }
}

/// Lower median: the element at sorted index (n-1)/2. NaN when empty.
#[inline]
pub fn lmedian(buf: &mut [f64]) -> f64 {
    if buf.is_empty() {
        return f64::NAN;
    }
    let k = (buf.len() - 1) / 2;
    kth(buf, k)
}

/// Quantile with NumPy's default ('linear') interpolation, q in [0, 1]. NaN when empty.
pub fn quantile(buf: &mut [f64], q: f64) -> f64 {
    sort(buf);
    quantile_sorted(buf, q)
}

/// Quantile of already sorted values ('linear' interpolation), NaN when empty.
pub fn quantile_sorted(buf: &[f64], q: f64) -> f64 {
    quantile_at(buf.len(), q, |k| buf[k])
}

/// The two ranks (0-based) that the quantile q of `n >= 1` sorted values interpolates
/// between (equal at the top end).
#[inline]
pub fn quantile_ranks(n: usize, q: f64) -> (usize, usize) {
    let lo = (q * (n - 1) as f64).floor() as usize;
    (lo, (lo + 1).min(n - 1))
}

/// Quantile q of `n` sorted values read through `at(k)` ('linear' interpolation; the one
/// definition every path evaluates). NaN when n = 0.
#[inline(always)]
pub fn quantile_at(n: usize, q: f64, at: impl Fn(usize) -> f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    let pos = q * (n - 1) as f64;
    let (lo, hi) = quantile_ranks(n, q);
    let t = pos - lo as f64;
    let (a, b) = (at(lo), at(hi));
    // NumPy's lerp: symmetric form keeps exact endpoints.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let mut big: Vec<f64> = (0..101).rev().map(|x| x as f64).collect();
        assert_eq!(median(&mut big), 50.0);
        let mut big: Vec<f64> = (0..100).rev().map(|x| x as f64).collect();
        assert_eq!(median(&mut big), 49.5);
    }

    #[test]
    fn lower_median() {
        assert_eq!(lmedian(&mut [4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(lmedian(&mut [5.0]), 5.0);
    }

    #[test]
    fn quantile_linear() {
        let mut v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 1.0), 4.0);
        assert!((quantile(&mut v, 0.5) - 2.5).abs() < 1e-15);
        assert!((quantile(&mut v, 0.25) - 1.75).abs() < 1e-15);
    }
}
