//! Image statistics for scale / zero / weight (IRAF `ic_stat`): float32, on a subsampled
//! grid, median = sorted[n/2 - 1], IRAF's sliding-bin mode, sequential mean.

use crate::input::Input;
use crate::{Error, Result};

/// The sample limit of IRAF's statistics grid (fewer than this many pixels).
const MAX_SAMPLE: usize = 100_000;

/// `(first, last, step)` per axis in IRAF order (x = last numpy axis first), 0-based.
///
/// `section`: per IRAF axis `(a, b)` 1-based inclusive (IRAF `[a:b,...]`); `None` = whole
/// image. Limits are clipped to the image as IRAF does: a section lying wholly before the
/// image start samples its first pixel (IRAF reads one pixel there); one lying wholly
/// beyond its end is an error (IRAF would read outside the image).
pub fn sample_grid(shape: &[usize], section: Option<&[(i64, i64)]>) -> Result<Vec<(usize, usize, usize)>> {
    let nd = shape.len();
    let mut lims = Vec::with_capacity(nd);
    for d in 0..nd {
        let len = shape[nd - 1 - d] as i64;
        let (a, b) = match section {
            Some(s) if d < s.len() => s[d],
            _ => (1, len),
        };
        let v1 = a.min(b).max(1);
        let v2 = a.max(b).min(len);
        if v1 > len || len == 0 {
            return Err(Error::param("statsec", format!(
                "section [{a}:{b}] on axis {} does not overlap the image (length {len})", d + 1)));
        }
        lims.push((v1, v2));
    }
    let mut out = Vec::new();
    for step in 1..=10i64 {
        out.clear();
        let mut tot: usize = 1;
        for &(v1, v2) in &lims {
            // IRAF: nv = max(1, (v2 - v1) / step + 1), Fortran division (toward zero)
            let nv = ((v2 - v1) / step + 1).max(1);
            out.push(((v1 - 1) as usize, (v1 - 1 + (nv - 1) * step) as usize, step as usize));
            tot = tot.saturating_mul(nv as usize);
        }
        if tot < MAX_SAMPLE {
            break;
        }
    }
    Ok(out)
}

/// IRAF `fp_equalr`: equal to about 32 units of float32 precision after normalising both
/// numbers to a decimal mantissa in [1, 10).
pub fn fp_equalr(x: f32, y: f32) -> bool {
    if x == y {
        return true;
    }
    if x == 0.0 || y == 0.0 {
        return false;
    }
    fn norm(v: f32) -> (f32, i32) {
        let tol: f32 = 1.192e-7f32 * 10.0f32;
        let mut a = v.abs();
        let mut e = 0;
        while a < 1.0f32 - tol {
            a *= 10.0;
            e -= 1;
        }
        while a >= 10.0f32 + tol {
            a /= 10.0;
            e += 1;
        }
        (if v < 0.0 { -a } else { a }, e)
    }
    let (nx, ex) = norm(x);
    let (ny, ey) = norm(y);
    if ex != ey {
        return false;
    }
    let tol: f32 = 1.192e-7f32 * 32.0f32;
    1.0f32 + (nx - ny).abs() <= 1.0f32 + tol
}

/// IRAF's mode of a sorted float32 sample (sliding bin over the central 70 %).
pub fn iraf_mode(a: &[f32]) -> f32 {
    let n = a.len();
    if n == 0 {
        return 0.0;
    }
    if n < 10 {
        return a[(n / 2).max(1) - 1];
    }
    let nf = n as f32;
    let i = (1.0f32 + nf * (1.0f32 - 0.7f32) / 2.0f32) as usize;
    let j = (1.0f32 + nf * (1.0f32 + 0.7f32) / 2.0f32) as usize;
    let j = j.min(n);
    let (z1, z2) = (a[i - 1], a[j - 1]);
    if fp_equalr(z1, z2) {
        return z1;
    }
    let zstep = 0.01f32 * (z2 - z1);
    let zbin = 0.1f32 * (z2 - z1);
    // IRAF steps back one bin and forward again before its first bin (float32 rounding).
    crate::mode::sliding_bin(a, i - 1, j - 1, (z1 - zstep) + zstep, zstep, zbin)
}

/// Which statistics a run needs from every image.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatNeed {
    /// Mode or median is used by one of scale/zero/weight (the sample is then sorted, and
    /// the mean sums the *sorted* sample, as IRAF does).
    pub sorted: bool,
}

/// `(mode, median, mean)` of one frame the way imcombine computes them.
///
/// `shape` is the frame's numpy shape; masked (mask code with bit 0 or 1 set: bad, see
/// [`super::place`]), non-finite and out-of-threshold pixels (raw values, inclusive
/// limits) are dropped from the sample.
pub fn image_stats<P: Input>(
    frame: &[P],
    mask: Option<&[u8]>,
    shape: &[usize],
    section: Option<&[(i64, i64)]>,
    lthresh: Option<f32>,
    hthresh: Option<f32>,
    need: StatNeed,
) -> Result<(f32, f32, f32)> {
    let total: usize = shape.iter().product();
    if frame.len() != total || mask.is_some_and(|m| m.len() != total) {
        return Err(Error::Shape(format!("frame of {} pixels does not match shape {shape:?}", frame.len())));
    }
    let grid = sample_grid(shape, section)?;
    let nd = shape.len();
    // numpy strides (C order)
    let mut strides = vec![1usize; nd];
    for d in (0..nd.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let lo = lthresh.unwrap_or(f32::NEG_INFINITY);
    let hi = hthresh.unwrap_or(f32::INFINITY);
    let mut sample: Vec<f32> = Vec::new();
    // Iterate the grid in storage order: numpy axis 0 outermost.
    let mut idx = vec![0usize; nd]; // per numpy axis, position index along the grid
    let counts: Vec<usize> = (0..nd).map(|ax| {
        let (f, l, s) = grid[nd - 1 - ax];
        (l - f) / s + 1
    }).collect();
    if nd == 0 {
        return Err(Error::Shape("statistics need at least one spatial axis".into()));
    }
    'outer: loop {
        let mut off = 0usize;
        for ax in 0..nd {
            let (f, _, s) = grid[nd - 1 - ax];
            off += (f + idx[ax] * s) * strides[ax];
        }
        let p = frame[off];
        let bad = mask.is_some_and(|m| m[off] & 3 != 0) || !p.finite();
        if !bad {
            let v = p.to_f64() as f32;
            if v >= lo && v <= hi {
                sample.push(v);
            }
        }
        // advance the odometer
        let mut ax = nd;
        loop {
            if ax == 0 {
                break 'outer;
            }
            ax -= 1;
            idx[ax] += 1;
            if idx[ax] < counts[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    let n = sample.len();
    if n == 0 {
        return Err(Error::param("statsec", "no valid pixel in the statistics region of an image"));
    }
    if n == 1 && need.sorted {
        // IRAF's mode and median of a one-pixel sample read outside the sample
        return Err(Error::param("statsec", "the statistics region of an image holds a single valid pixel: \
             IRAF's mode and median are undefined there (they read outside the sample)"));
    }
    let mut mean_acc = 0.0f32;
    if need.sorted {
        sample.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for &v in &sample {
            mean_acc += v;
        }
    } else {
        for &v in &sample {
            mean_acc += v;
        }
        sample.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    let mean = mean_acc / n as f32;
    let median = sample[(n / 2).max(1) - 1];
    let mode = iraf_mode(&sample);
    Ok((mode, median, mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_steps() {
        let g = sample_grid(&[300, 300], None).unwrap();
        assert_eq!(g[0].2, 1);
        let g = sample_grid(&[400, 400], None).unwrap();
        assert_eq!(g[0].2, 2);
        let g = sample_grid(&[2048, 2048], None).unwrap();
        assert_eq!(g[0], (0, 2044, 7));
        let g = sample_grid(&[4096, 4096], None).unwrap();
        assert_eq!(g[0].2, 10);
        let g = sample_grid(&[10, 20], Some(&[(3, 5), (2, 4)])).unwrap();
        assert_eq!(g, vec![(2, 4, 1), (1, 3, 1)]);
        assert!(sample_grid(&[10, 20], Some(&[(30, 40), (2, 4)])).is_err());
        // wholly before the start: IRAF samples the first pixel
        assert_eq!(sample_grid(&[10, 20], Some(&[(-7, 0), (2, 4)])).unwrap(), vec![(0, 0, 1), (1, 3, 1)]);
    }

    #[test]
    fn median_is_one_below_centre_for_odd_n() {
        let v: Vec<f32> = (1..=9).map(|x| x as f32).collect();
        let (_, med, mean) = image_stats(&v, None, &[9], None, None, None, StatNeed { sorted: true }).unwrap();
        assert_eq!(med, 4.0);
        assert_eq!(mean, 5.0);
        let v: Vec<f32> = vec![4.0, 1.0, 3.0, 2.0];
        let (mode, med, _) = image_stats(&v, None, &[4], None, None, None, StatNeed { sorted: true }).unwrap();
        assert_eq!(med, 2.0);
        assert_eq!(mode, 2.0);
    }

    #[test]
    fn mode_finds_the_peak() {
        let mut v: Vec<f32> = (0..100).map(|i| i as f32).collect();
        v.extend(std::iter::repeat_n(42.5f32, 50));
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(iraf_mode(&v), 42.5);
    }

    #[test]
    fn fp_equal() {
        assert!(fp_equalr(1.0, 1.0000001));
        assert!(!fp_equalr(1.0, 1.001));
        assert!(!fp_equalr(0.0, 1e-30));
    }

    #[test]
    fn thresholds_and_masks_drop_pixels() {
        let v = vec![1.0f32, 2.0, 100.0, 3.0, f32::NAN];
        let m = vec![0u8, 1, 0, 0, 0];
        let (_, _, mean) = image_stats(&v, Some(&m), &[5], None, None, Some(50.0), StatNeed::default()).unwrap();
        assert_eq!(mean, 2.0);
    }
}
