//! Spatial grow: mark every sample within a radius of a marked sample, in the same frame.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// One run of a ball along the last axis: at offset `lead` of the leading axes, the
/// samples within `half` of the centre along the last axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub lead: Vec<i64>,
    pub half: i64,
}

/// A neighbourhood as runs along the last axis, stamped around marked samples. Shared by
/// both engines; each builds its ball with its own arithmetic ([`Ball::euclidean`] for the
/// library, IRAF's float32 disc in the IRAF engine).
#[derive(Clone, Debug)]
pub struct Ball {
    spans: Vec<Span>,
}

impl Ball {
    /// A ball from its runs.
    pub fn from_spans(spans: Vec<Span>) -> Self {
        Ball { spans }
    }

    /// The Euclidean ball of `radius` in `ndim` dimensions (f64 arithmetic): every offset
    /// with squared length <= radius².
    pub fn euclidean(ndim: usize, radius: f64) -> Self {
        let r = radius.floor() as i64;
        let r2 = radius * radius;
        let mut prefixes: Vec<(Vec<i64>, f64)> = vec![(vec![], 0.0)];
        for _ in 0..ndim.saturating_sub(1) {
            let mut next = vec![];
            for (p, used) in &prefixes {
                for d in -r..=r {
                    let u = used + (d * d) as f64;
                    if u <= r2 {
                        let mut v = p.clone();
                        v.push(d);
                        next.push((v, u));
                    }
                }
            }
            prefixes = next;
        }
        let spans = prefixes
            .into_iter()
            .map(|(lead, used)| {
                // Largest h with used + h^2 <= r^2 (exact integer check after the float guess).
                let mut h = (r2 - used).max(0.0).sqrt().floor() as i64;
                while used + ((h + 1) * (h + 1)) as f64 <= r2 {
                    h += 1;
                }
                while h > 0 && used + (h * h) as f64 > r2 {
                    h -= 1;
                }
                Span { lead, half: h }
            })
            .collect();
        Ball { spans }
    }

    /// Mark every sample of `frame` (C order, `grid`) inside the ball centred at `centre`
    /// (one coordinate per axis); the parts outside the frame are clipped.
    #[inline]
    pub fn stamp(&self, frame: &mut [bool], grid: &Grid, centre: &[i64]) {
        let nd = grid.shape.len();
        let last = grid.shape[nd - 1] as i64;
        'spans: for Span { lead, half } in &self.spans {
            let mut base = 0usize;
            for k in 0..nd - 1 {
                let c = centre[k] + lead[k];
                if c < 0 || c >= grid.shape[k] as i64 {
                    continue 'spans;
                }
                base += c as usize * grid.strides[k];
            }
            let x0 = (centre[nd - 1] - half).max(0) as usize;
            let x1 = (centre[nd - 1] + half).min(last - 1) as usize;
            frame[base + x0..=base + x1].fill(true);
        }
    }
}

/// A C-ordered grid: shape and strides (in samples).
#[derive(Clone, Debug)]
pub struct Grid {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl Grid {
    pub fn new(shape: &[usize]) -> Self {
        let nd = shape.len();
        let mut strides = vec![1usize; nd];
        for k in (0..nd.saturating_sub(1)).rev() {
            strides[k] = strides[k + 1] * shape[k + 1];
        }
        Grid { shape: shape.to_vec(), strides }
    }

    /// The coordinates of flat index `p`.
    #[inline]
    pub fn coords(&self, mut p: usize, out: &mut [i64]) {
        for (c, &s) in out.iter_mut().zip(&self.strides) {
            *c = (p / s) as i64;
            p %= s;
        }
    }
}

/// Grow `mask` (N frames of `shape`, frame-major, C order) by `radius` pixels.
///
/// A sample is marked when some marked sample of the same frame lies at Euclidean
/// distance <= radius. radius < 1 returns the mask unchanged.
pub fn grow_mask(mask: &[bool], n: usize, shape: &[usize], radius: f64) -> Result<Vec<bool>> {
    if !radius.is_finite() || radius < 0.0 {
        return Err(Error::param("grow", format!("must be a finite radius >= 0; got {radius}")));
    }
    let m: usize = shape.iter().product();
    if m * n != mask.len() {
        return Err(Error::Shape(format!("grow: mask has {} samples, expected {}", mask.len(), m * n)));
    }
    if radius < 1.0 || m == 0 {
        return Ok(mask.to_vec());
    }
    // A radius reaching every corner marks whole frames: skip building a huge ball.
    let diag2: f64 = shape.iter().map(|&d| ((d - 1) * (d - 1)) as f64).sum();
    if radius * radius >= diag2 {
        let mut out = mask.to_vec();
        out.par_chunks_mut(m).zip(mask.par_chunks(m)).for_each(|(dst, src)| {
            if src.iter().any(|&x| x) {
                dst.fill(true);
            }
        });
        return Ok(out);
    }
    let ball = Ball::euclidean(shape.len(), radius);
    let grid = Grid::new(shape);
    let mut out = mask.to_vec();
    out.par_chunks_mut(m).zip(mask.par_chunks(m)).for_each(|(dst, src)| {
        let mut coord = vec![0i64; shape.len()];
        for (p, &on) in src.iter().enumerate() {
            if on {
                grid.coords(p, &mut coord);
                ball.stamp(dst, &grid, &coord);
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The stamped ball marks exactly the samples within the radius of a marked one.
        #[test]
        fn grow_equals_brute_force_distance(
            shape in prop::collection::vec(1usize..9, 1..4),
            radius in 0.0f64..4.0,
            seeds in prop::collection::vec(any::<u16>(), 1..4),
        ) {
            let m: usize = shape.iter().product();
            let grid = Grid::new(&shape);
            let mut mask = vec![false; m];
            for s in &seeds {
                mask[*s as usize % m] = true;
            }
            let got = grow_mask(&mask, 1, &shape, radius).unwrap();
            let (mut a, mut b) = (vec![0i64; shape.len()], vec![0i64; shape.len()]);
            for (p, &marked) in got.iter().enumerate() {
                grid.coords(p, &mut a);
                let near = (0..m).filter(|&q| mask[q]).any(|q| {
                    grid.coords(q, &mut b);
                    let d2: i64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
                    if radius < 1.0 { d2 == 0 } else { (d2 as f64) <= radius * radius }
                });
                prop_assert_eq!(marked, near, "p={} shape={:?} r={}", p, &shape, radius);
            }
        }
    }

    #[test]
    fn disc_sizes_match_iraf() {
        for (r, count) in [(1.0, 5), (1.5, 9), (2.0, 13), (2.5, 21)] {
            let shape = [9, 9];
            let mut m = vec![false; 81];
            m[4 * 9 + 4] = true;
            let g = grow_mask(&m, 1, &shape, r).unwrap();
            assert_eq!(g.iter().filter(|&&x| x).count(), count, "r={r}");
        }
    }

    #[test]
    fn spans_equal_brute_force_distance_in_3d() {
        let shape = [5, 6, 7];
        let m: usize = shape.iter().product();
        let mut mask = vec![false; m];
        mask[2 * 42 + 3 * 7 + 1] = true;
        mask[4 * 42 + 5 * 7 + 6] = true;
        for r in [1.0, 1.5, 2.2, 3.0] {
            let g = grow_mask(&mask, 1, &shape, r).unwrap();
            assert_eq!(g.len(), m);
            for (p, &got) in g.iter().enumerate() {
                let (z, y, x) = ((p / 42) as f64, ((p / 7) % 6) as f64, (p % 7) as f64);
                let near = [(2.0, 3.0, 1.0), (4.0, 5.0, 6.0)]
                    .iter()
                    .any(|&(a, b, c)| (z - a).powi(2) + (y - b).powi(2) + (x - c).powi(2) <= r * r);
                assert_eq!(got, near, "r={r} p={p}");
            }
        }
    }

    #[test]
    fn radius_beyond_the_frame_fills_it() {
        let shape = [4, 4];
        let mut m = vec![false; 32];
        m[5] = true; // frame 0 only
        let g = grow_mask(&m, 2, &shape, 1e6).unwrap();
        assert!(g[..16].iter().all(|&x| x));
        assert!(g[16..].iter().all(|&x| !x));
        // Just below the diagonal: the far corner stays unmarked.
        let mut m = vec![false; 16];
        m[0] = true;
        let g = grow_mask(&m, 1, &shape, 18f64.sqrt() - 1e-9).unwrap();
        assert!(!g[15] && g[14]);
    }

    #[test]
    fn frames_are_independent_and_edges_clip() {
        let shape = [3, 3];
        let mut m = vec![false; 18];
        m[0] = true; // frame 0, corner
        let g = grow_mask(&m, 2, &shape, 1.0).unwrap();
        assert_eq!(g[..9].iter().filter(|&&x| x).count(), 3);
        assert!(g[9..].iter().all(|&x| !x));
        assert!(grow_mask(&m, 2, &shape, -1.0).is_err());
    }
}
