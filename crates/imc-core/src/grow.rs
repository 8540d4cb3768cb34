//! Spatial grow: mark every sample within a radius of a marked sample, in the same frame.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Offsets (in flat index units and per-axis steps) of the disc/ball of `radius`.
fn ball(shape: &[usize], radius: f64) -> Vec<Vec<i64>> {
    let r = radius.floor() as i64;
    let r2 = radius * radius;
    let mut out = vec![vec![]];
    for _ in shape {
        let mut next = vec![];
        for prefix in &out {
            for d in -r..=r {
                let mut v = prefix.clone();
                v.push(d);
                let s: f64 = v.iter().map(|&x| (x * x) as f64).sum();
                if s <= r2 {
                    next.push(v);
                }
            }
        }
        out = next;
    }
    out
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
    let offs = ball(shape, radius);
    let nd = shape.len();
    let mut strides = vec![1usize; nd];
    for k in (0..nd.saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    let mut out = mask.to_vec();
    out.par_chunks_mut(m).zip(mask.par_chunks(m)).for_each(|(dst, src)| {
        let mut coord = vec![0i64; nd];
        for (p, &on) in src.iter().enumerate() {
            if !on {
                continue;
            }
            let mut rem = p;
            for k in 0..nd {
                coord[k] = (rem / strides[k]) as i64;
                rem %= strides[k];
            }
            'o: for off in &offs {
                let mut idx = 0usize;
                for k in 0..nd {
                    let c = coord[k] + off[k];
                    if c < 0 || c >= shape[k] as i64 {
                        continue 'o;
                    }
                    idx += c as usize * strides[k];
                }
                dst[idx] = true;
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
