//! Running reductions without rejection (mean, sum, weighted mean, min, max): frames are
//! accumulated in order, several at a time, with no per-element buffer.

use super::scratch::Scratch;
use super::{Ctx, Elem, FRAME_GROUP};
use crate::input::Input;
use crate::job::Method;
use crate::real::{finite, Real};
use crate::reject::{oflag, Diag};

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Reductions that need no per-element buffer (no rejection): accumulate frame by frame.
    /// Same f64 operations in the same (frame) order as the other paths, so same bits.
    #[inline(always)]
    pub(super) fn stream_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let len = p1 - p0;
        let job = self.job;
        let method = job.method;
        let init = match method {
            Method::Min => f64::INFINITY,
            Method::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        let acc = &mut s.acc[..len];
        let cnt = &mut s.cnt[..len];
        let wsum = &mut s.wsum[..len];
        acc.fill(init);
        cnt.fill(0);
        wsum.fill(0.0);
        if self.plain && matches!(method, Method::Mean | Method::Sum) {
            // The hot loop of a plain mean: frames in groups, branch-free so it vectorises.
            if T::IS_FLOAT && !s.stream_checked {
                s.stream_checked = self.sum_unchecked(acc, cnt, p0, p1);
            } else {
                for (g, k, _) in self.frame_groups(p0, p1) {
                    add_valid(&g[..k], acc, cnt);
                }
                // the next block goes unchecked again once a block had no invalid sample
                s.stream_checked = T::IS_FLOAT && cnt.iter().any(|&c| c as usize != self.n);
            }
            if self.data_only {
                self.write_sums(p0, acc, cnt);
                return;
            }
        } else {
            // Everything else: one sample at a time.
            for i in 0..self.n {
                let f = &self.frames.data[i][p0..p1];
                let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
                let wi = job.weights.as_ref().map(|w| w[i]).unwrap_or(1.0);
                for b in 0..len {
                    let bad = mk.is_some_and(|mk| mk[b]);
                    let (x, st) = self.sample(i, f[b], bad);
                    if st != 0 {
                        continue;
                    }
                    cnt[b] += 1;
                    match method {
                        Method::Mean | Method::Sum => acc[b] += x,
                        Method::WAvg => {
                            acc[b] += wi * x;
                            wsum[b] += wi;
                        }
                        Method::Min => acc[b] = if x < acc[b] { x } else { acc[b] },
                        Method::Max => acc[b] = if x > acc[b] { x } else { acc[b] },
                        _ => {}
                    }
                }
            }
        }
        for b in 0..len {
            let c = cnt[b] as usize;
            let value = match method {
                // 0/0 would give a NaN with the sign bit set; keep NaNs canonical.
                Method::Mean => if c == 0 { f64::NAN } else { acc[b] / c as f64 },
                Method::WAvg => {
                    if wsum[b] == 0.0 { f64::NAN } else { acc[b] / wsum[b] }
                }
                Method::Sum => acc[b],
                _ => {
                    if c == 0 { f64::NAN } else { acc[b] }
                }
            };
            let flags = if c < self.n { oflag::PREMASKED } else { 0 };
            self.write(p0 + b, &Elem { value: self.finish_value(value, c), nused: c, flags, diag: Diag::default() });
        }
    }

    /// Plain float sums of pixels [p0, p1) without a validity test per sample: every frame
    /// is added (the same f64 additions in the same frame order as [`add_valid`] when all
    /// are finite), and a pixel whose sum comes out non-finite, which happens exactly when
    /// one of its samples is NaN or infinite (finite f32 sums cannot overflow f64; a
    /// finite f64 sum that overflows is recomputed to the same infinity), is summed again
    /// with the test. Returns whether any pixel had to be: data with many invalid
    /// samples then takes the checked loop for the next block instead of paying twice.
    /// Only for `plain` jobs, where finiteness is the whole validity test.
    #[inline(always)]
    fn sum_unchecked(&self, acc: &mut [f64], cnt: &mut [u32], p0: usize, p1: usize) -> bool {
        for (g, k, _) in self.frame_groups(p0, p1) {
            add_all(&g[..k], acc);
        }
        let bad: usize = acc.iter().map(|&a| !finite(a) as usize).sum();
        cnt.fill(self.n as u32);
        if bad == 0 {
            return false;
        }
        if bad * 8 > acc.len() {
            acc.fill(0.0);
            cnt.fill(0);
            for (g, k, _) in self.frame_groups(p0, p1) {
                add_valid(&g[..k], acc, cnt);
            }
        } else {
            for b in 0..acc.len() {
                if !finite(acc[b]) {
                    let (mut a, mut c) = (0.0f64, 0u32);
                    for f in &self.frames.data {
                        let x = f[p0 + b].to_f64();
                        let ok = finite(x);
                        a += if ok { x } else { 0.0 };
                        c += ok as u32;
                    }
                    (acc[b], cnt[b]) = (a, c);
                }
            }
        }
        true
    }

    /// Pixels [p0, p1) of the frames in frame order, FRAME_GROUP frames at a time and then
    /// one by one: `(group, k, id)` = the first k slices of `group`, the first frame's id.
    /// (An iterator, not a closure-taking helper: the loop bodies stay in the caller,
    /// compiled at its SIMD level.)
    #[inline(always)]
    pub(super) fn frame_groups(&self, p0: usize, p1: usize) -> FrameGroups<'_, T> {
        FrameGroups { frames: &self.frames.data, p0, p1, i: 0 }
    }
}

/// See [`Ctx::frame_groups`].
pub(super) struct FrameGroups<'a, T> {
    frames: &'a [&'a [T]],
    p0: usize,
    p1: usize,
    i: usize,
}

impl<'a, T> Iterator for FrameGroups<'a, T> {
    type Item = ([&'a [T]; FRAME_GROUP], usize, u32);
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (fr, i, r) = (self.frames, self.i, self.p0..self.p1);
        if i >= fr.len() {
            return None;
        }
        let id = i as u32;
        if i + FRAME_GROUP <= fr.len() {
            self.i += FRAME_GROUP;
            Some(([&fr[i][r.clone()], &fr[i + 1][r.clone()], &fr[i + 2][r.clone()], &fr[i + 3][r]], FRAME_GROUP, id))
        } else {
            self.i += 1;
            let f = &fr[i][r];
            Some(([f, f, f, f], 1, id))
        }
    }
}

/// `acc[b] += x` and `cnt[b] += 1` for every valid sample x of a few frames, frame by frame
/// in order (so the same f64 sums as one frame at a time). Invalid samples add +0.0, which
/// leaves every sum bit-identical to skipping them.
#[inline(always)]
fn add_valid<T: Input>(fs: &[&[T]], acc: &mut [f64], cnt: &mut [u32]) {
    let len = acc.len();
    match fs {
        [a, b, c, d] => add_valid_k([&a[..len], &b[..len], &c[..len], &d[..len]], acc, &mut cnt[..len]),
        _ => {
            for f in fs {
                add_valid_k([&f[..len]], acc, &mut cnt[..len]);
            }
        }
    }
}

#[inline(always)]
fn add_valid_k<T: Input, const K: usize>(fs: [&[T]; K], acc: &mut [f64], cnt: &mut [u32]) {
    for b in 0..acc.len() {
        let (mut a, mut c) = (acc[b], cnt[b]);
        for f in &fs {
            let x = f[b].to_f64();
            let ok = !T::IS_FLOAT || finite(x);
            a += if ok { x } else { 0.0 };
            c += ok as u32;
        }
        acc[b] = a;
        cnt[b] = c;
    }
}

/// `acc[b] += x` for every sample x of a few frames, frame by frame in order, with no
/// validity test (see [`Ctx::sum_unchecked`]).
#[inline(always)]
fn add_all<T: Input>(fs: &[&[T]], acc: &mut [f64]) {
    let len = acc.len();
    match fs {
        [a, b, c, d] => add_all_k([&a[..len], &b[..len], &c[..len], &d[..len]], acc),
        _ => {
            for f in fs {
                add_all_k([&f[..len]], acc);
            }
        }
    }
}

#[inline(always)]
fn add_all_k<T: Input, const K: usize>(fs: [&[T]; K], acc: &mut [f64]) {
    for b in 0..acc.len() {
        let mut a = acc[b];
        for f in &fs {
            a += f[b].to_f64();
        }
        acc[b] = a;
    }
}
