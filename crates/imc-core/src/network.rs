//! Sorting networks applied "vertically": one network sorts many pixels at once, each
//! comparator being an element-wise min/max of two frame rows (vectorised by the compiler).

/// Comparators of Batcher's odd-even merge sort for `n` inputs (any n).
pub fn batcher(n: usize) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        out.push(((i + j) as u16, (i + j + k) as u16));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    out
}

/// A value type the network sorts: f32 (twice the lanes per vector) or f64.
pub trait Lane: Copy + PartialOrd + Send + Sync + 'static {
    const INF: Self;
    const NEG_INF: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn is_finite(self) -> bool;
}

impl Lane for f32 {
    const INF: Self = f32::INFINITY;
    const NEG_INF: Self = f32::NEG_INFINITY;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Lane for f64 {
    const INF: Self = f64::INFINITY;
    const NEG_INF: Self = f64::NEG_INFINITY;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// Sort every lane of `rows` (n rows of `lanes` values, row-major) ascending.
/// Values must not be NaN (invalid samples are +inf and sort to the end).
#[inline]
pub fn sort_lanes<L: Lane>(rows: &mut [L], lanes: usize, net: &[(u16, u16)]) {
    for &(i, j) in net {
        let (i, j) = (i as usize, j as usize);
        let (head, tail) = rows.split_at_mut(j * lanes);
        let ri = &mut head[i * lanes..i * lanes + lanes];
        let rj = &mut tail[..lanes];
        for (x, y) in ri.iter_mut().zip(rj.iter_mut()) {
            let (a, b) = (*x, *y);
            // Plain comparisons compile to vector min/max (no NaN handling needed).
            *x = if a < b { a } else { b };
            *y = if a < b { b } else { a };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_every_size() {
        let mut s = 7u64;
        for n in 1..=70 {
            let net = batcher(n);
            let lanes = 5;
            let mut rows: Vec<f64> = (0..n * lanes)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((s >> 40) % 17) as f64
                })
                .collect();
            let mut expect: Vec<Vec<f64>> = (0..lanes).map(|b| (0..n).map(|i| rows[i * lanes + b]).collect()).collect();
            for e in &mut expect {
                e.sort_by(|a, b| a.total_cmp(b));
            }
            sort_lanes(&mut rows, lanes, &net);
            for b in 0..lanes {
                let got: Vec<f64> = (0..n).map(|i| rows[i * lanes + b]).collect();
                assert_eq!(got, expect[b], "n={n}");
            }
        }
    }
}
