//! Final combine of one output element's surviving samples (frame order, f64 maths).

use crate::job::Method;
use crate::select;

/// Combine `xs` (survivors in frame order, with frame ids `ids`).
///
/// `weights` are per frame (indexed by id). Returns NaN when nothing is left (0 for sum);
/// the driver substitutes `blank` where asked.
pub fn combine(method: Method, xs: &[f64], ids: &[u32], weights: Option<&[f64]>, scratch: &mut Vec<f64>) -> f64 {
    let n = xs.len();
    match method {
        Method::Sum => xs.iter().fold(0.0, |s, &x| s + x),
        _ if n == 0 => f64::NAN,
        Method::Mean => xs.iter().fold(0.0, |s, &x| s + x) / n as f64,
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
        Method::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
        Method::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Method::Variance { ddof } => variance(xs, ddof),
        Method::Median | Method::LMedian | Method::Quantile { .. } => {
            scratch.clear();
            scratch.extend_from_slice(xs);
            match method {
                Method::Median => select::median(scratch),
                Method::LMedian => select::lmedian(scratch),
                Method::Quantile { q } => select::quantile(scratch, q),
                _ => unreachable!(),
            }
        }
    }
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
        let xs = [1.0, 2.0, 4.0, 9.0];
        let ids = [0, 1, 2, 3];
        let mut s = vec![];
        assert_eq!(combine(Method::Mean, &xs, &ids, None, &mut s), 4.0);
        assert_eq!(combine(Method::Median, &xs, &ids, None, &mut s), 3.0);
        assert_eq!(combine(Method::LMedian, &xs, &ids, None, &mut s), 2.0);
        assert_eq!(combine(Method::Sum, &xs, &ids, None, &mut s), 16.0);
        assert_eq!(combine(Method::Min, &xs, &ids, None, &mut s), 1.0);
        assert_eq!(combine(Method::Max, &xs, &ids, None, &mut s), 9.0);
        assert_eq!(combine(Method::Variance { ddof: 0 }, &xs, &ids, None, &mut s), 9.5);
        let w = [1.0, 1.0, 0.0, 2.0];
        assert_eq!(combine(Method::WAvg, &xs, &ids, Some(&w), &mut s), 21.0 / 4.0);
    }

    #[test]
    fn empty() {
        let mut s = vec![];
        assert_eq!(combine(Method::Sum, &[], &[], None, &mut s), 0.0);
        assert!(combine(Method::Mean, &[], &[], None, &mut s).is_nan());
        assert!(variance(&[1.0], 1).is_nan());
    }
}
