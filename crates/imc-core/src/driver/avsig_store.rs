//! AvSigClip on the vertical path with one sort per pixel.
//!
//! AvSigClip's sigma comes from every pixel of an image line, so no pixel of a line can be
//! clipped before all of its line has been read and sorted. Sorting every pixel once for
//! the line sigma and again for the clip pass doubled the cost of the sort, the largest
//! part of the job. Here a group of whole lines is sorted once into a store of network
//! sorted blocks; the line sigmas are summed from the per-pixel terms of those blocks (in
//! pixel order, the additions of `Ctx::line_sigmas`, so the same bits); then the clip pass
//! runs the ordinary vertical block on each stored block instead of loading and sorting
//! it again. Groups keep the store near [`STORE_BYTES`] (at least one line), whatever the
//! size of the tile; the planners count it (`imcombiners/_memory_model.py`).

use std::sync::Mutex;

use rayon::prelude::*;

use super::avsig_lanes;
use super::scratch::{Lent, Scratch, ScratchPool};
use super::{with_threads, BlockWork, Ctx, Path};
use crate::input::Input;
use crate::job::{Centre, Rejector};
use crate::network::LANES;
use crate::real::Real;
use crate::reject::{avsigclip, Prepared, Win};
use crate::simd::{self, Isa, Kernel};

/// Bytes of sorted samples a group of lines may hold (a single longer line is one group).
/// Small, so that a group's blocks are still in cache when the clip pass reads them (a
/// 16 MiB store made N = 100 slower than sorting twice: it went out to memory and back).
/// `imcombiners/_memory_model.py` (AVSIG_STORE_BYTES) plans with the same number.
pub const STORE_BYTES: usize = 1 << 20;

/// Chunks of lines per worker when workers run whole chunks (dynamic balance).
const CHUNKS_PER_WORKER: usize = 4;

#[cfg(test)]
thread_local! {
    /// Tests shrink the store to force many groups (read on the thread calling `run`).
    pub(super) static TEST_STORE_BYTES: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn store_bytes() -> usize {
    #[cfg(test)]
    if let Some(b) = TEST_STORE_BYTES.with(|c| c.get()) {
        return b;
    }
    STORE_BYTES
}

/// The index of the chain's AvSigClip and its centre, when the store applies: the job runs
/// on the vertical path (no planes, no per-sample outputs, no frame ids, N within the
/// networks) and the chain holds exactly one AvSigClip.
pub(super) fn applies(path: Path, prepared: &[Prepared]) -> Option<(usize, Centre)> {
    if path != Path::Vertical {
        return None;
    }
    let mut found = None;
    for (k, p) in prepared.iter().enumerate() {
        if let Rejector::AvSigClip { cen, .. } = p.rejector {
            if found.is_some() {
                return None;
            }
            found = Some((k, cen));
        }
    }
    found
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// The whole job, group of lines by group: sort into the store and sum the line
    /// sigmas, then clip and combine every stored block.
    pub(super) fn run_avsig_store(&mut self, k: usize, cen: Centre, threads: usize, isa: Isa) {
        if self.lane32 {
            self.run_store::<f32>(k, cen, threads, isa, |s| &mut s.rows32);
        } else {
            self.run_store::<f64>(k, cen, threads, isa, |s| &mut s.rows);
        }
    }

    fn run_store<L: Real>(&mut self, k: usize, cen: Centre, threads: usize, isa: Isa,
                          rows_of: fn(&mut Scratch) -> &mut Vec<L>) {
        let nlines = self.m / self.line;
        let workers = super::workers(threads);
        // Enough lines: each worker runs whole chunks of lines on its own, with no barrier
        // per group (a barrier per group cost ~30 % at N = 100 and ~20 % at N = 1000 on
        // two threads), and a store of STORE_BYTES / workers or one line, whichever is
        // larger (`_memory_model.sorted_store_bytes` counts workers x that). A worker
        // keeps its buffers from chunk to chunk: fresh ones per chunk were ~40 MiB of
        // page faults per call at N = 1000.
        if workers > 1 && nlines >= CHUNKS_PER_WORKER * workers {
            debug_assert!(self.pctx.is_none(), "the vertical path reads no planes");
            let chunks = CHUNKS_PER_WORKER * workers;
            let per_chunk = nlines.div_ceil(chunks);
            let (ctx, budget) = (&*self, store_bytes() / workers);
            let kept: Mutex<Vec<GroupBufs<L>>> = Mutex::new(Vec::new());
            let chunk = |c: usize| {
                let (l0, l1) = (c * per_chunk, ((c + 1) * per_chunk).min(nlines));
                if l0 >= l1 {
                    return;
                }
                let mut local = Ctx { line_sigma: vec![], pctx: None, ..*ctx };
                let mut bufs = kept.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
                local.run_grouped(k, cen, 1, isa, &mut bufs, (l0, l1, budget), rows_of);
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(bufs);
            };
            with_threads(threads, || (0..chunks).into_par_iter().for_each(chunk));
            return;
        }
        self.run_grouped(k, cen, threads, isa, &mut GroupBufs::default(), (0, nlines, store_bytes()), rows_of);
    }

    /// Lines [first, nlines) in groups of about `budget` bytes, each group's blocks on
    /// `threads`.
    #[allow(clippy::too_many_arguments)]
    fn run_grouped<L: Real>(&mut self, k: usize, cen: Centre, threads: usize, isa: Isa, bufs: &mut GroupBufs<L>,
                            (first, nlines, budget): (usize, usize, usize), rows_of: fn(&mut Scratch) -> &mut Vec<L>) {
        let (n, line) = (self.n, self.line);
        // Rows per stored block: the bitonic sort's padded rows when it sorts.
        let rows = self.store_rows();
        let per_line = line * rows * std::mem::size_of::<L>();
        let group_lines = (budget / per_line.max(1)).clamp(1, (nlines - first).max(1));
        let max_blocks = (group_lines * line).div_ceil(LANES);
        bufs.fit(max_blocks, rows * LANES, group_lines * line);
        let GroupBufs { store, terms, spares } = bufs;
        let spares = spares.get_or_insert_with(|| ScratchPool::new(n, LANES, Path::Vertical, false, threads));
        let mut table = vec![f64::NAN; self.m / self.line];
        self.line_sigma = (0..self.prepared.len()).map(|j| (j == k).then(Vec::new)).collect();
        let scratch = || spares.lend();
        let mut l0 = first;
        while l0 < nlines {
            let l1 = (l0 + group_lines).min(nlines);
            let (g0, g1) = (l0 * line, l1 * line);
            let nb = (g1 - g0).div_ceil(LANES);
            // 1. Sort every block of the group once (kept) and take each pixel's terms.
            {
                let ctx = &*self;
                let prepass = |s: &mut Lent, (j, (blk, t)): (usize, (&mut Vec<L>, &mut [(f64, usize)]))| {
                    let s = s.get();
                    let p0 = g0 + j * LANES;
                    let p1 = (p0 + LANES).min(g1);
                    simd::dispatch(isa, Prepass { ctx, blk, s, terms: t, upto: k, cen, p0, p1 });
                };
                if threads == 1 || nb <= 1 {
                    let mut s = scratch();
                    let blocks = store[..nb].iter_mut().zip(terms[..g1 - g0].chunks_mut(LANES)).enumerate();
                    blocks.for_each(|x| prepass(&mut s, x));
                } else {
                    let blocks = store[..nb].par_iter_mut().zip(terms[..g1 - g0].par_chunks_mut(LANES)).enumerate();
                    with_threads(threads, || blocks.for_each_init(scratch, prepass));
                }
            }
            // 2. Line sigmas: each line's terms added in pixel order, as `line_sigmas` does.
            for l in l0..l1 {
                let (mut acc, mut count) = (0.0, 0usize);
                for &(a, c) in &terms[l * line - g0..(l + 1) * line - g0] {
                    acc += a;
                    count += c;
                }
                table[l] = avsigclip::line_sigma(acc, count);
            }
            self.line_sigma[k] = Some(std::mem::take(&mut table));
            // 3. Clip and combine the stored blocks (their sorted rows swapped into the
            // scratch: no copy). One worker clips newest first: the blocks it sorted last,
            // and the frames it read for them, are still in its caches when a group is
            // larger than they are (at N = 1000 one line is 4 MiB).
            {
                let ctx = &*self;
                let clip = |s: &mut Lent, (j, blk): (usize, &mut Vec<L>)| {
                    let s = s.get();
                    let p0 = g0 + j * LANES;
                    let p1 = (p0 + LANES).min(g1);
                    std::mem::swap(rows_of(s), blk);
                    simd::dispatch(isa, BlockWork { ctx, path: Path::Vertical, s, p0, p1, presorted: true });
                };
                if threads == 1 || nb <= 1 {
                    let mut s = scratch();
                    store[..nb].iter_mut().enumerate().rev().for_each(|x| clip(&mut s, x));
                } else {
                    with_threads(threads, || store[..nb].par_iter_mut().enumerate().for_each_init(scratch, clip));
                }
            }
            table = self.line_sigma[k].take().unwrap_or_default();
            l0 = l1;
        }
    }

    /// Rows of a stored block: N, or the tiled bitonic sort's padded rows.
    fn store_rows(&self) -> usize {
        if self.bitonic { crate::bitonic::padded_rows(self.n) } else { self.n }
    }

    /// The frame-order values of a block into `orig` (invalid samples NaN), as the
    /// vertical path's load gives them, for a block whose sorted rows are already there.
    #[inline(always)]
    pub(super) fn load_orig(&self, s: &mut Scratch, p0: usize, p1: usize) {
        if self.plain {
            return self.load_plain_orig(s, p0, p1);
        }
        let (len, lanes) = (p1 - p0, LANES);
        for i in 0..self.n {
            let f = &self.frames.data[i][p0..p1];
            let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
            let row = &mut s.orig[i * lanes..i * lanes + lanes];
            for (b, &raw) in f.iter().enumerate() {
                let (x, st) = self.sample(i, raw, mk.is_some_and(|mk| mk[b]));
                row[b] = if st == 0 { x } else { f64::NAN };
            }
            row[len..].fill(f64::NAN);
        }
    }
}

/// What a run of groups reuses from group to group (and a worker from chunk to chunk):
/// the store's sorted blocks, each pixel's line-sigma terms and the scratches. Fresh
/// ones for each chunk allocated and faulted in ~5 MiB at N = 1000 each time.
#[derive(Default)]
struct GroupBufs<L> {
    store: Vec<Vec<L>>,
    terms: Vec<(f64, usize)>,
    spares: Option<ScratchPool>,
}

impl<L: Real> GroupBufs<L> {
    /// At least `blocks` store blocks of `block_len` samples and `pixels` terms.
    fn fit(&mut self, blocks: usize, block_len: usize, pixels: usize) {
        if self.store.len() < blocks {
            self.store.resize_with(blocks, || vec![L::default(); block_len]);
        }
        if self.terms.len() < pixels {
            self.terms.resize(pixels, (0.0, 0));
        }
    }
}

/// One block of the pre-pass: load and sort it into its store block, then each pixel's
/// contribution to its line's sigma (after the rejectors before the AvSigClip).
struct Prepass<'c, 'a, 'f, T, O, L> {
    ctx: &'c Ctx<'a, 'f, T, O>,
    blk: &'c mut Vec<L>,
    s: &'c mut Scratch,
    terms: &'c mut [(f64, usize)],
    upto: usize,
    cen: Centre,
    p0: usize,
    p1: usize,
}

impl<T: Input, O: Real, L: Real> Kernel for Prepass<'_, '_, '_, T, O, L> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Prepass { ctx, blk, s, terms, upto, cen, p0, p1 } = self;
        let n = ctx.n;
        ctx.load_sort::<L>(blk, &mut s.orig, false, p0, p1);
        // Nothing before the AvSigClip and every lane complete: all lanes at once.
        if upto == 0 && n >= 3 && avsig_lanes::complete(blk, n, p1 - p0) {
            return avsig_lanes::block_terms(blk, n, p1 - p0, cen, terms);
        }
        for b in 0..(p1 - p0) {
            s.sorted.clear();
            s.sorted.extend((0..n).map(|r| blk[r * LANES + b].to_f64()));
            // Invalid samples sorted to the end as +inf.
            let mut c = n;
            while c > 0 && s.sorted[c - 1] == f64::INFINITY {
                c -= 1;
            }
            s.sorted.truncate(c);
            let mut win = Win::new(&s.sorted, None);
            for p in &ctx.prepared[..upto] {
                p.apply(&mut win, &mut s.rs);
            }
            terms[b] = avsigclip::line_terms(&win, &ctx.prepared[upto], cen);
        }
    }
}
