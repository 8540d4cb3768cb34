//! Per-thread scratch buffers of the driver, sized for the path a job takes, and the pool
//! that lends them to the loops of one call.

use std::sync::Mutex;

use super::minmax_stream::MinMaxScratch;
use super::plane_stream::PlaneSums;
use super::{sorted_rows, Elem, Path};
use crate::network::LANES;
use crate::propagate::Acc;
use crate::reject::Scratch as RejScratch;

/// Per-thread scratch.
pub(super) struct Scratch {
    // Element path: pixel-major samples of a block.
    pub(super) vals: Vec<f64>,
    pub(super) st: Vec<u8>,
    // Element path with planes: pixel-major normalised variance, weight and DQ word.
    pub(super) pvar: Vec<f64>,
    pub(super) pw: Vec<f64>,
    pub(super) pdq: Vec<u32>,
    // One element.
    pub(super) pairs: Vec<(f64, u32)>,
    pub(super) sorted: Vec<f64>,
    pub(super) sorted_ids: Vec<u32>,
    pub(super) fo: Vec<f64>,
    pub(super) fo_ids: Vec<u32>,
    pub(super) rs: RejScratch,
    // Vertical path: frame-major rows of a block (original and sorted).
    pub(super) orig: Vec<f64>,
    pub(super) rows: Vec<f64>,
    pub(super) rows32: Vec<f32>,
    // Selection path: a block's rows, frame-major (keys, or f32 values: `lane_passes`).
    pub(super) select_rows: Vec<u32>,
    pub(super) vlo: Vec<f64>,
    pub(super) vhi: Vec<f64>,
    pub(super) pending: Vec<Option<Elem>>,
    /// Per lane, the survivor count of a lane a shortcut decided when only the image is
    /// wanted (its mean is written from the lane sums); 0 otherwise.
    pub(super) dense_n: Vec<f64>,
    // Vectorised SigClip first pass.
    pub(super) pass_acc: Vec<f64>,
    pub(super) pass_med: Vec<f64>,
    pub(super) pass_std: Vec<f64>,
    pub(super) pass_low: Vec<f64>,
    pub(super) pass_upp: Vec<f64>,
    pub(super) pass_ok: Vec<bool>,
    pub(super) pass_lo: Vec<usize>,
    pub(super) pass_hi: Vec<usize>,
    /// Vectorised SigClip passes: nit and output flags per lane, whether a lane still
    /// iterates, and the sorted rows [start, end) of its window's whole groups of four.
    pub(super) pass_nit: Vec<u8>,
    pub(super) pass_flags: Vec<u8>,
    pub(super) pass_active: Vec<bool>,
    pub(super) pass_wlo: Vec<f64>,
    pub(super) pass_wend: Vec<f64>,
    // Streaming path.
    pub(super) acc: Vec<f64>,
    pub(super) cnt: Vec<u32>,
    pub(super) wsum: Vec<f64>,
    /// The stream path's last block had invalid samples: sum the next one with the
    /// per-sample test at once (see `Ctx::sum_unchecked`).
    pub(super) stream_checked: bool,
    pub(super) minmax: MinMaxScratch,
    // Plane-stream path: one accumulator per pixel of the block (general loop) or sums
    // per pixel (fast loop).
    pub(super) accs: Vec<Acc>,
    pub(super) psums: PlaneSums,
}

impl Scratch {
    /// Buffers sized for `path` (the ones it never touches stay empty), with the
    /// per-sample plane buffers when `planes`.
    pub(super) fn with_planes(n: usize, block: usize, path: Path, planes: bool) -> Self {
        let lanes = if path == Path::Vertical { LANES } else { 0 };
        let per_sample = if matches!(path, Path::Element | Path::Column) { n * block } else { 0 };
        let plane_samples = if planes { per_sample } else { 0 };
        let per_pixel = if path == Path::Stream { block } else { lanes };
        Scratch {
            vals: vec![0.0; per_sample],
            st: vec![0; per_sample],
            pvar: vec![0.0; plane_samples],
            pw: vec![0.0; plane_samples],
            pdq: vec![0; plane_samples],
            pairs: Vec::with_capacity(n),
            sorted: Vec::with_capacity(n),
            sorted_ids: Vec::with_capacity(n),
            fo: Vec::with_capacity(n),
            fo_ids: Vec::with_capacity(n),
            rs: RejScratch::default(),
            orig: vec![0.0; n * lanes],
            // The tiled bitonic sort works on rows padded to a power of two.
            rows: vec![0.0; sorted_rows(n) * lanes],
            rows32: vec![0.0; sorted_rows(n) * lanes],
            select_rows: if path == Path::Select { vec![0; n * LANES] } else { vec![] },
            vlo: vec![0.0; lanes],
            vhi: vec![0.0; lanes],
            pending: (0..lanes).map(|_| None).collect(),
            dense_n: vec![0.0; lanes],
            pass_acc: vec![0.0; 8 * lanes],
            pass_med: vec![0.0; lanes],
            pass_std: vec![0.0; lanes],
            pass_low: vec![0.0; lanes],
            pass_upp: vec![0.0; lanes],
            pass_ok: vec![false; lanes],
            pass_lo: vec![0; lanes],
            pass_hi: vec![0; lanes],
            pass_nit: vec![0; lanes],
            pass_flags: vec![0; lanes],
            pass_active: vec![false; lanes],
            pass_wlo: vec![0.0; lanes],
            pass_wend: vec![0.0; lanes],
            acc: vec![0.0; per_pixel],
            cnt: vec![0; per_pixel],
            wsum: vec![0.0; per_pixel],
            stream_checked: false,
            minmax: if path == Path::MinMaxStream { MinMaxScratch::new(block) } else { MinMaxScratch::default() },
            accs: vec![], // grown by the plane stream's general loop when it runs
            psums: PlaneSums::default(), // grown by its fast loop
        }
    }
}

/// The scratches of one call: lent to each loop (or rayon split of a loop) and given back
/// when it ends, so that a call makes about one scratch per worker. A fresh scratch per
/// split allocated and faulted in ~1.3 MiB at N = 1000 each time, and how much of that
/// came back from the allocator warm depended on what ran before (the N = 1000 times
/// moved by 10-20 % with the allocator's state). A worker gets back the scratches it gave
/// back (they are in its caches; one another worker used was 3-5 % slower at N = 1000).
pub(super) struct ScratchPool {
    /// Per rayon worker of the running pool (the last: threads outside it).
    kept: Vec<Mutex<Vec<Scratch>>>,
    n: usize,
    block: usize,
    path: Path,
    planes: bool,
}

impl ScratchPool {
    /// A pool of scratches as [`Scratch::with_planes`] makes them, for the workers of the
    /// rayon pool the loops will run in (`with_threads`' `threads`; 0: the current one).
    pub(super) fn new(n: usize, block: usize, path: Path, planes: bool, threads: usize) -> Self {
        let workers = super::workers(threads);
        ScratchPool { kept: (0..=workers).map(|_| Mutex::new(Vec::new())).collect(), n, block, path, planes }
    }

    /// A scratch for one loop, back to the pool when the loan is dropped.
    pub(super) fn lend(&self) -> Lent<'_> {
        let slot = self.slot();
        let kept = self.kept[slot].lock().unwrap_or_else(|e| e.into_inner()).pop();
        let s = kept.unwrap_or_else(|| Scratch::with_planes(self.n, self.block, self.path, self.planes));
        Lent { pool: self, slot, s: Some(s) }
    }

    fn slot(&self) -> usize {
        let last = self.kept.len() - 1;
        rayon::current_thread_index().map_or(last, |i| i.min(last))
    }
}

/// A scratch lent by a [`ScratchPool`].
pub(super) struct Lent<'p> {
    pool: &'p ScratchPool,
    slot: usize,
    s: Option<Scratch>,
}

impl Lent<'_> {
    pub(super) fn get(&mut self) -> &mut Scratch {
        self.s.as_mut().expect("a loan holds its scratch until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.s.take() {
            self.pool.kept[self.slot].lock().unwrap_or_else(|e| e.into_inner()).push(s);
        }
    }
}
