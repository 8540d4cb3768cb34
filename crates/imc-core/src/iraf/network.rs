//! Sorting a whole line at once with a sorting network, one pixel per vector lane.
//!
//! Used only where the order of *equal* values cannot matter (nothing reads the image
//! ids, no -0.0 next to +0.0): then every correct sort leaves the same value in every
//! slot as IRAF's quicksort, and a branch-free network over the slot-major line (slot j
//! of pixel x at `sm[j*w + x]`) runs many pixels per instruction.

/// Batcher's odd-even merge sort network for `n` inputs, as (lower, upper) slot pairs.
///
/// Built for the next power of two and pruned of comparators touching slots >= n (those
/// would only compare against +inf padding, which never moves).
pub fn batcher(n: usize) -> Vec<(u16, u16)> {
    let mut comps = Vec::new();
    if n < 2 {
        return comps;
    }
    let np = n.next_power_of_two();
    let mut p = 1;
    while p < np {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < np {
                for i in 0..k {
                    let (a, b) = (i + j, i + j + k);
                    if (a / (2 * p)) == (b / (2 * p)) && b < n {
                        comps.push((a as u16, b as u16));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    comps
}

/// Sort every pixel's `n` slots of the slot-major line `sm` (`n * w` values) ascending.
/// Values must not be NaN.
pub fn sort_line<T: Copy + PartialOrd>(sm: &mut [T], w: usize, comps: &[(u16, u16)]) {
    // Column blocks small enough that a block of all slots stays in L1.
    const B: usize = 128;
    let mut x0 = 0;
    while x0 < w {
        let len = B.min(w - x0);
        for &(a, b) in comps {
            let (a, b) = (a as usize, b as usize);
            let (lo, hi) = sm.split_at_mut(b * w);
            let ra = &mut lo[a * w + x0..a * w + x0 + len];
            let rb = &mut hi[x0..x0 + len];
            for (p, q) in ra.iter_mut().zip(rb.iter_mut()) {
                let (u, v) = (*p, *q);
                let swap = v < u;
                *p = if swap { v } else { u };
                *q = if swap { u } else { v };
            }
        }
        x0 += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_sort_every_zero_one_input() {
        // 0-1 principle: a comparator network sorts everything iff it sorts all 0/1 inputs.
        for n in 2..=18usize {
            let comps = batcher(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<f32> = (0..n).map(|k| ((bits >> k) & 1) as f32).collect();
                sort_line(&mut v, 1, &comps);
                assert!(v.windows(2).all(|q| q[0] <= q[1]), "n={n} bits={bits:b}");
            }
        }
    }

    #[test]
    fn sorts_random_lines() {
        let mut seed = 11u64;
        for n in [2usize, 3, 5, 19, 20, 33, 64, 100] {
            let w = 37;
            let comps = batcher(n);
            let mut sm = vec![0.0f32; n * w];
            for q in sm.iter_mut() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *q = ((seed >> 40) % 50) as f32; // many ties
            }
            let mut want: Vec<Vec<f32>> = (0..w).map(|x| (0..n).map(|j| sm[j * w + x]).collect()).collect();
            want.iter_mut().for_each(|c| c.sort_by(|a, b| a.partial_cmp(b).unwrap()));
            sort_line(&mut sm, w, &comps);
            for x in 0..w {
                for j in 0..n {
                    assert_eq!(sm[j * w + x], want[x][j]);
                }
            }
        }
    }
}
