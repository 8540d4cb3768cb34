//! AvSigClip on whole blocks of complete sorted lanes (the store's blocks, `avsig_store`).
//!
//! Pixel by pixel, AvSigClip copied each pixel's sorted column out of the block twice (for
//! its line-sigma terms, then for its clip) and summed the terms with one scalar division
//! per sample. Here, for a block whose 64 lanes all hold n valid samples:
//!
//! * the line-sigma terms of every lane are summed at once, eight lanes per vector loop,
//!   with the expressions and the addition order of `reject::avsigclip::line_terms` (its
//!   `sum_map`: accumulator j takes ranks j, j + 4, ... below n / 4 * 4, then the rest in
//!   rank order), so the same bits;
//! * the clip (`reject::avsigclip::apply`, i.e. `reject::iterate` with the line sigma)
//!   runs per lane straight on the sorted rows: a pass reads the window's median and
//!   walks in from both ends, touching only the samples it rejects. A lane whose pass
//!   would break nkeep (add-back) or empty the window is left to the per-element path
//!   (`pass_ok` false), as the SigClip shortcut does.

use super::scratch::Scratch;
use super::{Ctx, LoneRejector};
use crate::input::Input;
use crate::job::Centre;
use crate::network::LANES;
use crate::real::Real;
use crate::reject::{keep_count, median_at, side};

/// Lanes per vector loop (their accumulators stay in registers).
const GROUP: usize = 8;

#[cfg(test)]
thread_local! {
    /// Tests count the blocks whose terms / clip ran here (on the thread calling `run`
    /// with one thread).
    pub(super) static TEST_BLOCKS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// Whether every lane `..len` of sorted rows holds n valid samples (invalid sort as +inf).
#[inline(always)]
pub(super) fn complete<L: Real>(rows: &[L], n: usize, len: usize) -> bool {
    let inf = L::from_f64(f64::INFINITY);
    // A fold, not `all`: no early exit, so it vectorises.
    rows[(n - 1) * LANES..(n - 1) * LANES + len].iter().fold(true, |ok, &x| ok & (x < inf))
}

/// `reject::sum_map`'s order over `n` values read through `at(k)`.
#[inline(always)]
fn sum_at(n: usize, at: impl Fn(usize) -> f64) -> f64 {
    let full = n / 4 * 4;
    let mut acc = [0.0f64; 4];
    for k in (0..full).step_by(4) {
        for j in 0..4 {
            acc[j] += at(k + j);
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in full..n {
        s += at(k);
    }
    s
}

/// `reject::centre` of the `n` sorted values read through `at(k)`.
#[inline(always)]
fn centre_at(n: usize, cen: Centre, at: impl Fn(usize) -> f64) -> f64 {
    match (n, cen) {
        (0, _) => f64::NAN,
        (_, Centre::Mean) => sum_at(n, &at) / n as f64,
        (_, Centre::Median) => median_at(n, at),
        (_, Centre::LMedian) => at((n - 1) / 2),
    }
}

/// AvSigClip's line terms (`reject::avsigclip::line_terms` with no rejector before it and
/// no frame ids) of every lane `..len` of a block of complete sorted lanes, n >= 3:
/// (Σ (x - c)² / max(1, c), n) with c the lane's centre. Lanes `len..` up to the next
/// multiple of eight are computed too (on the +inf padding) and dropped.
#[inline(always)]
pub(super) fn block_terms<L: Real>(rows: &[L], n: usize, len: usize, cen: Centre, terms: &mut [(f64, usize)]) {
    debug_assert!(n >= 3);
    #[cfg(test)]
    TEST_BLOCKS.with(|c| c.set((c.get().0 + 1, c.get().1)));
    let full = n / 4 * 4;
    // Rows as groups of eight lanes: group g of row k is groups[k * LANES / GROUP + g].
    let (groups, _) = rows.as_chunks::<GROUP>();
    for g in 0..len.div_ceil(GROUP) {
        let o = g * GROUP;
        let r = |k: usize| -> [f64; GROUP] { groups[k * (LANES / GROUP) + g].map(|x| x.to_f64()) };
        let c: [f64; GROUP] = match cen {
            Centre::Median if n % 2 == 1 => r(n / 2),
            Centre::Median => {
                let (x, y) = (r(n / 2 - 1), r(n / 2));
                std::array::from_fn(|b| 0.5 * (x[b] + y[b]))
            }
            Centre::LMedian => r((n - 1) / 2),
            Centre::Mean => {
                let s = sum_rows(&r, n, full, |x, _| x);
                std::array::from_fn(|b| s[b] / n as f64)
            }
        };
        let norm: [f64; GROUP] = std::array::from_fn(|b| c[b].max(1.0));
        let t = sum_rows(&r, n, full, |x, b| (x - c[b]) * (x - c[b]) / norm[b]);
        for b in 0..GROUP.min(len - o) {
            terms[o + b] = (t[b], n);
        }
    }
}

/// Per lane of a group, `reject::sum_map`'s sum of f(x, lane) over the n rows: accumulator
/// j takes the rows j, j + 4, ... below `full` (one accumulator at a time, so one vector
/// of sums is live), then the rest in row order.
#[inline(always)]
fn sum_rows(r: &impl Fn(usize) -> [f64; GROUP], n: usize, full: usize, f: impl Fn(f64, usize) -> f64) -> [f64; GROUP] {
    let mut a = [[0.0f64; GROUP]; 4];
    for j in 0..4 {
        let mut aj = [0.0f64; GROUP];
        for k in (j..full).step_by(4) {
            let x = r(k);
            for b in 0..GROUP {
                aj[b] += f(x[b], b);
            }
        }
        a[j] = aj;
    }
    let mut s: [f64; GROUP] = std::array::from_fn(|b| (a[0][b] + a[1][b]) + (a[2][b] + a[3][b]));
    for k in full..n {
        let x = r(k);
        for b in 0..GROUP {
            s[b] += f(x[b], b);
        }
    }
    s
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// A lone AvSigClip over a block of complete lanes (the clip pass of the store, the
    /// line sigmas known): `reject::avsigclip::apply` for each lane on its sorted rows,
    /// into `pass_ok` / `pass_lo` / `pass_hi` and the diagnostics. Returns false when the
    /// shortcut does not apply.
    #[inline(always)]
    pub(super) fn avsig_lanes(&self, s: &mut Scratch, p0: usize, len: usize) -> bool {
        let Some(LoneRejector::AvSigClip { sigma_lo, sigma_hi, cen, nkeep }) = self.lone else { return false };
        let Some(Some(table)) = self.line_sigma.first() else { return false };
        let n = self.n;
        let full = if self.lane32 { complete(&s.rows32, n, len) } else { complete(&s.rows, n, len) };
        if !full {
            return false;
        }
        #[cfg(test)]
        TEST_BLOCKS.with(|c| c.set((c.get().0, c.get().1 + 1)));
        let keep = keep_count(nkeep, n);
        let allowed = n - keep;
        for b in 0..len {
            let at = |k: usize| if self.lane32 { s.rows32[k * LANES + b] as f64 } else { s.rows[k * LANES + b] };
            let sg = table[(p0 + b) / self.line];
            let (mut lo, mut hi) = (0, n);
            let (mut nit, mut std, mut clip_low, mut clip_upp) = (0u8, f64::NAN, f64::NAN, f64::NAN);
            let mut ok = true;
            // `apply`'s early return: no line sigma, or too few samples to clip.
            if sg > 0.0 && n >= 3.max(keep + 1) {
                // `reject::iterate` (Passes::Evaluated, no iteration limit).
                loop {
                    let nw = hi - lo;
                    if nw == 0 {
                        break;
                    }
                    let c = centre_at(nw, cen, |k| at(lo + k));
                    if !c.is_finite() || nw < 3 {
                        break;
                    }
                    nit = nit.saturating_add(1);
                    let sd = sg * c.max(1.0).sqrt();
                    (std, clip_low, clip_upp) = (sd, c - sigma_lo * sd, c + sigma_hi * sd);
                    let (mut l, mut h) = (lo, hi);
                    while l < h && side(at(l), clip_low, clip_upp) < 0 {
                        l += 1;
                    }
                    while h > l && side(at(h - 1), clip_low, clip_upp) > 0 {
                        h -= 1;
                    }
                    let k = (l - lo) + (hi - h);
                    if k == 0 {
                        break;
                    }
                    if (n - nw) + k > allowed {
                        // Add-back (nkeep): the per-element path.
                        ok = false;
                        break;
                    }
                    (lo, hi) = (l, h);
                }
            }
            s.pass_ok[b] = ok && hi > lo;
            (s.pass_lo[b], s.pass_hi[b]) = (lo, hi);
            (s.pass_std[b], s.pass_low[b], s.pass_upp[b]) = (std, clip_low, clip_upp);
            (s.pass_nit[b], s.pass_flags[b]) = (nit, 0);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Rejector;
    use crate::reject::{avsigclip, Prepared, Win};

    /// Sorted complete lanes from a seed: ties, a spread, outliers, values below 1 (where
    /// the Poisson level is 1) and lanes of one value.
    fn block<L: Real>(n: usize, seed: u64) -> (Vec<L>, Vec<Vec<f64>>) {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let cols: Vec<Vec<f64>> = (0..LANES)
            .map(|b| {
                let mut v: Vec<f64> = (0..n)
                    .map(|_| {
                        let r = next();
                        let y = match (b % 4, r % 10) {
                            (3, _) => 7.0,
                            (2, _) => ((r >> 16) % 1000) as f64 * 1e-3,
                            (_, 0) => ((r >> 16) % 100000) as f64 - 5e4,
                            (_, 1..=5) => 1000.0 + 3.0 * ((r >> 16) % 9) as f64,
                            _ => 900.0 + ((r >> 16) % 20000) as f64 * 0.01,
                        };
                        L::from_f64(y).to_f64()
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            })
            .collect();
        let mut rows = vec![L::default(); n * LANES];
        for (b, c) in cols.iter().enumerate() {
            for (k, &y) in c.iter().enumerate() {
                rows[k * LANES + b] = L::from_f64(y);
            }
        }
        (rows, cols)
    }

    /// Every lane's terms are `line_terms`' bits (its sum order: a reordered sum differs).
    #[test]
    fn block_terms_are_line_terms() {
        for (case, n) in [3, 4, 5, 7, 8, 33, 100, 301, 1000].into_iter().enumerate() {
            for cen in [Centre::Median, Centre::Mean, Centre::LMedian] {
                let r = Rejector::AvSigClip { sigma_lo: 3.0, sigma_hi: 3.0, cen, nkeep: 1, sigscale: 0.1 };
                let prep = Prepared::new(&r, n, None, None);
                for len in [LANES, 37] {
                    let seed = 1 + case as u64 * 7 + len as u64;
                    let check = |cols: &[Vec<f64>], terms: &[(f64, usize)]| {
                        for b in 0..len {
                            let (a, c) = avsigclip::line_terms(&Win::new(&cols[b], None), &prep, cen);
                            assert_eq!((terms[b].0.to_bits(), terms[b].1), (a.to_bits(), c), "n {n} {cen:?} lane {b}");
                        }
                    };
                    let mut terms = vec![(f64::NAN, 0); LANES];
                    let (rows, cols) = block::<f32>(n, seed);
                    block_terms(&rows, n, len, cen, &mut terms);
                    check(&cols, &terms);
                    let (rows, cols) = block::<f64>(n, seed);
                    block_terms(&rows, n, len, cen, &mut terms);
                    check(&cols, &terms);
                }
            }
        }
    }
}
