//! Final combine of one output element's survivors.
//!
//! Order statistics come from the sorted survivors; sums (mean, sum, weighted mean,
//! variance) run over the survivors in frame order with f64 accumulators, so every path
//! that selects the same survivors produces the same bits.

use crate::job::Method;
use crate::reject::{median_at, median_sorted};
use crate::select;

impl Method {
    /// Whether the value is a sum over survivors in frame order (else: an order statistic).
    #[inline]
    pub fn uses_frame_order(self) -> bool {
        matches!(self, Method::Mean | Method::Sum | Method::WAvg | Method::Variance { .. })
    }
}

/// Combine one element. `sorted`: survivors ascending; `xs`/`ids`: survivors in frame
/// order with their frame indices (only read for frame-order methods). Returns NaN when
/// nothing is left (0 for sum); the caller substitutes `blank`.
#[inline]
pub fn finish(method: Method, sorted: &[f64], xs: &[f64], ids: &[u32], weights: Option<&[f64]>) -> f64 {
    match method {
        Method::Sum => xs.iter().fold(0.0, |s, &x| s + x),
        Method::Mean => {
            if xs.is_empty() {
                f64::NAN
            } else {
                xs.iter().fold(0.0, |s, &x| s + x) / xs.len() as f64
            }
        }
        Method::WAvg => {
            let w = weights.unwrap_or(&[]);
            let (mut sw, mut swx) = (0.0, 0.0);
            for (&x, &i) in xs.iter().zip(ids) {
                let wi = w.get(i as usize).copied().unwrap_or(1.0);
                sw += wi;
                swx += wi * x;
            }
            // Weights that sum to zero leave the element undefined.
            if sw == 0.0 { f64::NAN } else { swx / sw }
        }
        Method::Variance { ddof } => variance(xs, ddof),
        Method::Median => median_sorted(sorted),
        Method::LMedian => {
            if sorted.is_empty() { f64::NAN } else { sorted[(sorted.len() - 1) / 2] }
        }
        Method::Quantile { q } => select::quantile_sorted(sorted, q),
        Method::Min => sorted.first().copied().unwrap_or(f64::NAN),
        Method::Max => sorted.last().copied().unwrap_or(f64::NAN),
    }
}

/// The value of an order-statistic method (median, lmedian, min, max) from `c` sorted
/// survivors read through `at(k)`, k in 0..c, with the same expressions as [`finish`];
/// None for the other methods (which need the whole buffer).
#[inline(always)]
pub fn order_stat_at(method: Method, c: usize, at: impl Fn(usize) -> f64) -> Option<f64> {
    let picks = matches!(method, Method::Median | Method::LMedian | Method::Min | Method::Max);
    if !picks {
        return None;
    }
    if c == 0 {
        return Some(f64::NAN);
    }
    Some(match method {
        Method::Median => median_at(c, at),
        Method::LMedian => at((c - 1) / 2),
        Method::Min => at(0),
        _ => at(c - 1),
    })
}

/// Two-pass variance with `ddof`; NaN when n <= ddof.
pub fn variance(xs: &[f64], ddof: u32) -> f64 {
    let n = xs.len();
    if n <= ddof as usize {
        return f64::NAN;
    }
    let m = xs.iter().fold(0.0, |s, &x| s + x) / n as f64;
    let ss = xs.iter().fold(0.0, |s, &x| s + (x - m) * (x - m));
    ss / (n - ddof as usize) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_methods() {
        let xs = [4.0, 1.0, 9.0, 2.0];
        let ids = [0, 1, 2, 3];
        let sorted = [1.0, 2.0, 4.0, 9.0];
        let f = |m| finish(m, &sorted, &xs, &ids, None);
        assert_eq!(f(Method::Mean), 4.0);
        assert_eq!(f(Method::Median), 3.0);
        assert_eq!(f(Method::LMedian), 2.0);
        assert_eq!(f(Method::Sum), 16.0);
        assert_eq!(f(Method::Min), 1.0);
        assert_eq!(f(Method::Max), 9.0);
        assert_eq!(f(Method::Variance { ddof: 0 }), 9.5);
        let w = [1.0, 1.0, 0.0, 2.0];
        assert_eq!(finish(Method::WAvg, &sorted, &xs, &ids, Some(&w)), 9.0 / 4.0);
    }

    #[test]
    fn empty() {
        assert_eq!(finish(Method::Sum, &[], &[], &[], None), 0.0);
        assert!(finish(Method::Mean, &[], &[], &[], None).is_nan());
        assert!(finish(Method::Median, &[], &[], &[], None).is_nan());
        assert!(variance(&[1.0], 1).is_nan());
    }
}
