//! Software prefetch of the frames' next pieces.
//!
//! A block reads a piece of every frame. With tens of frames that is more streams than the
//! hardware prefetchers follow, so the paths that read frame-major ask for the next
//! block's pieces while they work on this one (measured gains in each caller's comment).
//! Hints only: they never change a result, and they are skipped off x86-64.

/// Bytes per cache line.
const LINE: usize = 64;

/// Ask for `frame[from..from + len]` in cache, line by line (out-of-range parts skipped).
/// For pieces of at most a few lines per frame; longer ones go through [`Ahead`].
#[inline(always)]
pub(super) fn range<T>(frame: &[T], from: usize, len: usize) {
    let end = (from + len).min(frame.len());
    let step = (LINE / std::mem::size_of::<T>().max(1)).max(1);
    let mut k = from;
    while k < end {
        at(frame, k);
        k += step;
    }
}

/// Ask for the cache line holding `s[k]` (nothing when `k` is out of range).
#[inline(always)]
pub(super) fn at<T>(s: &[T], k: usize) {
    #[cfg(target_arch = "x86_64")]
    if k < s.len() {
        // Safety: k < s.len(); a prefetch has no effect on program state.
        unsafe { std::arch::x86_64::_mm_prefetch(s.as_ptr().add(k) as *const i8, std::arch::x86_64::_MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, k);
}

/// The next block's pieces of a few frames, asked for a line at a time from inside a loop
/// over this block (a whole piece at once would stall the loop on the memory system).
#[derive(Clone, Copy)]
pub(super) struct Ahead<'a, T, const K: usize> {
    pieces: [&'a [T]; K],
}

impl<'a, T, const K: usize> Ahead<'a, T, K> {
    /// Frames `frames[id0..id0 + K]` over the block after `[p0, p1)` (clipped at their end).
    #[inline(always)]
    pub(super) fn next_block(frames: &[&'a [T]], id0: usize, p0: usize, p1: usize) -> Self {
        Ahead {
            pieces: std::array::from_fn(|j| {
                let f = frames[id0 + j];
                &f[p1.min(f.len())..(2 * p1 - p0).min(f.len())]
            }),
        }
    }

    /// Call at every pixel `b` of this block's loop: at each new cache line of the pieces,
    /// ask for that line of each.
    #[inline(always)]
    pub(super) fn step(&self, b: usize) {
        if b % (LINE / std::mem::size_of::<T>().max(1)).max(1) == 0 {
            for piece in &self.pieces {
                at(piece, b);
            }
        }
    }
}
