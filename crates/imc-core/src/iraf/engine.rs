//! The line loop: gather (`super::gather`), reject, combine, outputs; IRAF's second pass
//! for `grow`. Lines run in parallel (rayon); each line's
//! result depends only on that line (and, with grow, on the first-pass marks), never on
//! the thread count.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::combine::{average, median, sigma};
use super::ctx::{Combine, Ctx, Reject};
use super::gather::{gather, Stack};
use super::line::{DFlag, LineBuf};
use super::reject::reject_line;
use super::work::Work;
use crate::grow::{Ball, Grid, Span};
use crate::input::Input;
use crate::simd::{self, Isa, Kernel};

/// What the caller wants computed besides the combined image.
#[derive(Clone, Copy, Debug, Default)]
pub struct Want {
    pub sigma: bool,
    pub rejmask: bool,
    pub nrej: bool,
    pub expmask: bool,
    /// IRAF's `bpmasks` output: 0 some value combined, 1 none, 2 only bad values (novalue).
    pub bpmask: bool,
}

/// Raw engine results (frame-major rejection mask).
pub struct EngineOut<T> {
    pub output: Vec<T>,
    pub sigma: Option<Vec<T>>,
    /// `(N, M)` frame-major, true = not used.
    pub rejmask: Option<Vec<bool>>,
    pub nrej: Option<Vec<i32>>,
    pub expmask: Option<Vec<i32>>,
    pub bpmask: Option<Vec<i32>>,
}

fn do_combine<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool) {
    match c.combine {
        Combine::Average | Combine::Sum => average(b, c, doblank),
        Combine::Median | Combine::LMedian => median(b, c, doblank, c.mclip),
        Combine::Quadrature => super::quad::quadrature(b, c, doblank),
        Combine::NModel => super::quad::nmodel(b, c, doblank),
    }
}

/// Per-line outputs, written into line-major slices. Every slot of `out`, `sig`, `nrej`,
/// `exp` and `bpm` is written (they may be unwritten memory, see
/// [`crate::alloc::output_uninit`]); the rejection mask is zeroed memory.
struct LineOut<'a, T> {
    out: &'a mut [MaybeUninit<T>],
    sig: Option<&'a mut [MaybeUninit<T>]>,
    /// This line of each image's rejection mask (frame-major output), true = not used.
    rej: Option<Vec<&'a mut [bool]>>,
    nrej: Option<&'a mut [MaybeUninit<i32>]>,
    exp: Option<&'a mut [MaybeUninit<i32>]>,
    bpm: Option<&'a mut [MaybeUninit<i32>]>,
    /// The rejection mask's memory is still as allocated (all zero): zeros need not be
    /// written.
    fresh: bool,
}

/// A line's outputs as a SIMD kernel: the products' whole-line loops (sigma lanes, the
/// masks of value ranges, the exposure sums and codes) are compiled for the run's level.
struct OutputWork<'a, 'b, T: Work> {
    b: &'a mut LineBuf<T>,
    c: &'a Ctx,
    o: LineOut<'b, T>,
}

impl<T: Work> Kernel for OutputWork<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        write_outputs(self.b, self.c, self.o);
    }
}

/// The products are built in line scratch and streamed to the outputs
/// ([`crate::alloc::stream_copy`]): written once, never read back here.
#[inline(always)]
fn write_outputs<T: Work>(b: &mut LineBuf<T>, c: &Ctx, mut o: LineOut<T>) {
    use crate::alloc::stream_write;
    let nimg = b.nimg;
    let w = b.w;
    stream_write(o.out, &b.avg);
    if let Some(s) = o.sig {
        if !b.sig_ready {
            let mut line = std::mem::take(&mut b.sig_line);
            line.resize(w, T::ZERO);
            sigma(b, c, &mut line);
            b.sig_line = line;
        }
        stream_write(s, &b.sig_line[..w]);
    }
    let negative = c.novalue && b.neg.iter().any(|&k| k > 0);
    // every pixel kept all its values (a fold, not a short-circuit: a vector compare)
    let all_kept = !negative && b.n.iter().fold(true, |a, &k| a & (k == nimg));
    // the rejection mask is then zero, which fresh memory already holds
    if o.fresh && all_kept {
        o.rej = None;
    }
    let mut line = std::mem::take(&mut b.iline);
    line.resize(w, 0);
    if let Some(r) = o.nrej {
        if all_kept {
            line.fill(0);
        } else {
            // IRAF's negative n: N - n exceeds N (zip, no index: the loop vectorises)
            for ((q, &k), &g) in line.iter_mut().zip(&b.n).zip(&b.neg) {
                *q = if negative && g > 0 { (nimg + g) as i32 } else { (nimg - k) as i32 };
            }
        }
        stream_write(r, &line);
    }
    if let Some(m) = o.bpm {
        for ((q, &k), &g) in line.iter_mut().zip(&b.n).zip(&b.neg) {
            *q = if negative && g > 0 { 2 } else { (k == 0) as i32 };
        }
        stream_write(m, &line);
    }
    match o.exp {
        Some(e) => {
            super::products::write_masks(b, c, o.rej, Some(&mut line[..]), negative, all_kept);
            stream_write(e, &line);
        }
        None => super::products::write_masks(b, c, o.rej, None, negative, all_kept),
    }
    b.iline = line;
}

/// How a line left IRAF's combine flag (avsigclip with mclip only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    /// The rejection ran to its end (flag: combine unless median).
    Clipped,
    /// The rejection returned at once (no data, too few images): flag "combine".
    Reset,
    /// No pixel had 3 values: IRAF returned leaving the flag as the previous line left it.
    Early,
}

/// One image line of the first pass: gather and reject (a whole-line fast path or IRAF's
/// per-pixel routines); returns how the line leaves IRAF's combine flag. The unit of work compiled once per SIMD level (the
/// gather and the fast paths are `#[inline(always)]` into [`simd::dispatch`]'s functions;
/// IRAF's per-pixel routines are shared, compiled at the baseline).
struct LineWork<'a, 'b, P: Input, T: Work> {
    b: &'a mut LineBuf<T>,
    c: &'a Ctx,
    st: &'a Stack<'b, P>,
    y: usize,
}

impl<P: Input, T: Work> Kernel for LineWork<'_, '_, P, T> {
    type Output = LineKind;
    #[inline(always)]
    fn run(self) -> LineKind {
        let LineWork { b, c, st, y } = self;
        gather(b, c, st, y);
        let kind = if b.dflag == DFlag::None || c.nimg < 3.max(c.maxkeep(c.nimg) + 1) {
            LineKind::Reset
        } else if b.n.iter().all(|&k| k < 3) {
            LineKind::Early
        } else {
            LineKind::Clipped
        };
        let fast_here = b.sm_only || (b.sm_sorted && matches!(c.fast, Some(f) if f.sorted()) && b.dflag == DFlag::All);
        if fast_here {
            super::fastline::run(b, c);
        } else {
            reject_line(b, c);
            if c.pos_ids && b.sm_sorted {
                super::products::ranges_from_positions(b, c);
            }
            if c.novalue {
                super::place::novalue_after_reject(b, c);
            }
        }
        kind
    }
}

/// First pass over line `y`: gather, reject, combine, products. `force_combine`: run the
/// combine step whatever the rejection decided. `rejected` collects the rejected
/// (image, x) for grow; `isa`: the SIMD level of the line work. Returns (the rejection routine wrote the output, line kind).
fn first_pass_line<P: Input, T: Work>(
    b: &mut LineBuf<T>,
    c: &Ctx,
    st: &Stack<P>,
    y: usize,
    force_combine: bool,
    o: LineOut<T>,
    rejected: Option<&mut Vec<Rejected>>,
    isa: Isa,
) -> (bool, LineKind) {
    let nimg = c.nimg;
    let w = st.w;
    let kind = simd::dispatch(isa, LineWork { b: &mut *b, c, st, y });
    if force_combine {
        b.docombine = true;
    }
    let wrote = !b.docombine;
    if b.docombine {
        do_combine(b, c, true);
    }
    if let Some(list) = rejected {
        for x in 0..w {
            for j in b.n[x]..nimg {
                let k = b.id[x * nimg + j];
                if k > 0 {
                    list.push(Rejected { image: k, x: x as u32 });
                }
            }
        }
    }
    simd::dispatch(isa, OutputWork { b, c, o });
    (wrote, kind)
}

/// Run the whole combine, its vector loops compiled for `isa`.
pub fn run<P: Input, T: Work>(st: &Stack<P>, c: &Ctx, want: Want, isa: Isa) -> EngineOut<T> {
    let nimg = c.nimg;
    let w = st.w;
    let m = st.lines * w;
    // Large outputs on huge pages (see crate::alloc): first-touch faults otherwise cost
    // a large share of a fast combine.
    // Every line of the first pass writes every slot of these (no zeroing pass first).
    use crate::alloc::output_uninit;
    let mut output = output_uninit::<T>(m);
    let mut sig = want.sigma.then(|| output_uninit::<T>(m));
    let mut nrej = want.nrej.then(|| output_uninit::<i32>(m));
    let mut exp = want.expmask.then(|| output_uninit::<i32>(m));
    let mut bpm = want.bpmask.then(|| output_uninit::<i32>(m));
    // frame-major (N, lines, w), true = not used: zeroed memory, of which lines where
    // every pixel kept all its values need not be written
    let mut rejmask = if want.rejmask { Some(crate::alloc::output_vec(m * nimg, false)) } else { None };
    let grow = c.grow >= 1.0;

    // First pass. With grow we also collect the rejected (image, x) of every line.
    let mut rejected: Vec<Vec<Rejected>> = if grow { vec![Vec::new(); st.lines] } else { Vec::new() };
    // With grow: did the rejection routine itself write the output line (IRAF then
    // writes it even when the combine step is skipped)?
    let mut routine_wrote: Vec<bool> = if grow { vec![false; st.lines] } else { Vec::new() };
    // avsigclip with mclip and a median: the combine flag IRAF carries from line to line
    let track = c.reject == Reject::AvSigClip && c.mclip && c.comb_median;
    let mut kinds = vec![LineKind::Clipped; st.lines];
    {
        let out_it = output.par_chunks_mut(w);
        let sig_it = opt_chunks(&mut sig, w, st.lines);
        let used_it = line_rows(&mut rejmask, m, w, st.lines);
        let nrej_it = opt_chunks(&mut nrej, w, st.lines);
        let exp_it = opt_chunks(&mut exp, w, st.lines);
        let bpm_it = opt_chunks(&mut bpm, w, st.lines);
        let rej_it = if grow {
            rejected.iter_mut().zip(routine_wrote.iter_mut()).map(Some).collect::<Vec<_>>()
        } else {
            (0..st.lines).map(|_| None).collect()
        };
        out_it
            .zip(sig_it)
            .zip(used_it)
            .zip(nrej_it)
            .zip(exp_it)
            .zip(bpm_it)
            .zip(rej_it)
            .zip(kinds.par_iter_mut())
            .enumerate()
            .for_each_init(
                || LineBuf::<T>::new(nimg, w),
                |b, (y, (((((((out, sg), us), nr), ex), bp), mut rj), kind))| {
                    let o = LineOut { out, sig: sg, rej: us, nrej: nr, exp: ex, bpm: bp, fresh: true };
                    let (list, wrote) = match rj.take() {
                        Some((l, wr)) => (Some(l), Some(wr)),
                        None => (None, None),
                    };
                    let (routine, k) = first_pass_line(b, c, st, y, false, o, list, isa);
                    if let Some(wr) = wrote {
                        *wr = routine;
                    }
                    *kind = k;
                },
            );
    }
    // Safety: the first pass ran every line, and write_outputs writes every slot of them.
    let (mut output, mut sig, mut nrej, mut exp, mut bpm) = unsafe {
        use crate::alloc::assume_init;
        (assume_init(output), sig.map(|v| assume_init(v)), nrej.map(|v| assume_init(v)), exp.map(|v| assume_init(v)), bpm.map(|v| assume_init(v)))
    };
    if track {
        // IRAF's avsigclip (mclip) leaves the combine flag of the previous line on lines
        // where no pixel has 3 values: redo those lines where that flag says "combine".
        let mut combine_flag = true;
        let mut b = LineBuf::<T>::new(nimg, w);
        for y in 0..st.lines {
            match kinds[y] {
                LineKind::Reset => combine_flag = true,
                LineKind::Clipped => combine_flag = !c.comb_median,
                LineKind::Early if combine_flag => {
                    let (a, e) = (y * w, (y + 1) * w);
                    // Safety: write_outputs writes values only.
                    let o = unsafe {
                        use crate::alloc::as_slots;
                        LineOut {
                            out: as_slots(&mut output[a..e]),
                            sig: sig.as_mut().map(|v| as_slots(&mut v[a..e])),
                            rej: rejmask.as_mut().map(|v| v.chunks_mut(m).map(|p| &mut p[a..e]).collect()),
                            nrej: nrej.as_mut().map(|v| as_slots(&mut v[a..e])),
                            exp: exp.as_mut().map(|v| as_slots(&mut v[a..e])),
                            bpm: bpm.as_mut().map(|v| as_slots(&mut v[a..e])),
                            fresh: false,
                        }
                    };
                    let (wrote, _) = first_pass_line(&mut b, c, st, y, true, o, None, isa);
                    if grow {
                        routine_wrote[y] = wrote;
                    }
                }
                LineKind::Early => {}
            }
        }
    }

    if grow && rejected.iter().any(|r| !r.is_empty()) {
        let marks = grow_marks(&rejected, c, st);
        let pass1 = output.clone();
        // IRAF's output line buffer at the end of the first pass: the last line it wrote.
        // Once a line has grown rejections, later first-pass lines are combined only when
        // nkeep > 0 (the rejection routine may still have written its own output).
        let mut last_written = 0usize;
        let mut pms_set = false;
        for y in 0..st.lines {
            if routine_wrote[y] || !pms_set || c.nkeep > 0 {
                last_written = y;
            }
            pms_set |= !rejected[y].is_empty();
        }
        let mut unwritten = vec![false; m];
        // Safety (as_slots, opt_slots): write_outputs writes values only.
        let out_it = output.par_chunks_mut(w).map(|c| unsafe { crate::alloc::as_slots(c) });
        let sig_it = unsafe { opt_slots(&mut sig, w, st.lines) };
        let used_it = line_rows(&mut rejmask, m, w, st.lines);
        let nrej_it = unsafe { opt_slots(&mut nrej, w, st.lines) };
        let exp_it = unsafe { opt_slots(&mut exp, w, st.lines) };
        let bpm_it = unsafe { opt_slots(&mut bpm, w, st.lines) };
        out_it
            .zip(sig_it)
            .zip(used_it)
            .zip(nrej_it)
            .zip(exp_it)
            .zip(bpm_it)
            .zip(unwritten.par_chunks_mut(w))
            .enumerate()
            .for_each_init(
                || LineBuf::<T>::new(nimg, w),
                |b, (y, ((((((out, sg), us), nr), ex), bp), unw))| {
                    gather(b, c, st, y);
                    // remove every marked value (the last slot fills the hole)
                    for k in 0..nimg {
                        let mrow = &marks[(k * st.lines + y) * w..(k * st.lines + y + 1) * w];
                        for x in 0..w {
                            if !mrow[x] {
                                continue;
                            }
                            let s = x * nimg;
                            let n1 = b.n[x];
                            for j in 0..n1 {
                                if b.id[s + j] as usize == k + 1 {
                                    if j + 1 < n1 {
                                        b.v[s + j] = b.v[s + n1 - 1];
                                        b.id[s + j] = b.id[s + n1 - 1];
                                    }
                                    b.n[x] = n1 - 1;
                                    b.dflag = DFlag::Mix;
                                    break;
                                }
                            }
                        }
                    }
                    let keep_pass1 = c.nkeep > 0 && b.n.iter().any(|&k| (k as i64) < c.nkeep as i64);
                    if keep_pass1 {
                        b.avg.copy_from_slice(&pass1[y * w..(y + 1) * w]);
                    } else {
                        // Pixels left without a value keep what IRAF's output buffer held
                        // (filled in sequentially below).
                        for x in 0..w {
                            unw[x] = b.dflag == DFlag::None || b.n[x] == 0;
                        }
                    }
                    do_combine(b, c, false);
                    let o = LineOut { out, sig: sg, rej: us, nrej: nr, exp: ex, bpm: bp, fresh: false };
                    simd::dispatch(isa, OutputWork { b, c, o });
                },
            );
        let mut carry: Vec<T> = pass1[last_written * w..(last_written + 1) * w].to_vec();
        for y in 0..st.lines {
            let row = &mut output[y * w..(y + 1) * w];
            let unw = &unwritten[y * w..(y + 1) * w];
            for x in 0..w {
                if unw[x] {
                    row[x] = carry[x];
                } else {
                    carry[x] = row[x];
                }
            }
        }
    }

    EngineOut { output, sigma: sig, rejmask, nrej, expmask: exp, bpmask: bpm }
}

/// Per line: that line of each of the N planes of a frame-major `(N, m)` mask.
fn line_rows<'a>(v: &'a mut Option<Vec<bool>>, m: usize, w: usize, lines: usize) -> Vec<Option<Vec<&'a mut [bool]>>> {
    match v {
        Some(v) => {
            let planes = v.len() / m.max(1);
            let mut per: Vec<Vec<&mut [bool]>> = (0..lines).map(|_| Vec::with_capacity(planes)).collect();
            for plane in v.chunks_mut(m.max(1)) {
                for (y, row) in plane.chunks_mut(w.max(1)).enumerate() {
                    per[y].push(row);
                }
            }
            per.into_iter().map(Some).collect()
        }
        None => (0..lines).map(|_| None).collect(),
    }
}

/// [`opt_chunks`] of initialised outputs as output slots.
///
/// # Safety
/// See [`crate::alloc::as_slots`]: only values may be written into the slots.
unsafe fn opt_slots<'a, U: Send + 'a>(v: &'a mut Option<Vec<U>>, size: usize, lines: usize) -> Vec<Option<&'a mut [MaybeUninit<U>]>> {
    match v {
        Some(v) => v.chunks_mut(size).map(|c| Some(unsafe { crate::alloc::as_slots(c) })).collect(),
        None => (0..lines).map(|_| None).collect(),
    }
}

fn opt_chunks<'a, U: Send + 'a>(v: &'a mut Option<Vec<U>>, size: usize, lines: usize) -> Vec<Option<&'a mut [U]>> {
    match v {
        Some(v) => v.chunks_mut(size).map(Some).collect(),
        None => (0..lines).map(|_| None).collect(),
    }
}

/// A value the first pass rejected: its image (1-based) and pixel of the line.
#[derive(Clone, Copy, Debug)]
struct Rejected {
    image: u16,
    x: u32,
}

/// IRAF `ic_grow`'s disc: offsets (dy, dx) with dx² <= grow² - dy² in float32, within
/// the plane (the leading offset is always 0).
fn grow_disc(grow: f32) -> Ball {
    let igrow = grow as usize;
    let grow2 = grow * grow;
    let mut spans = Vec::new();
    for l in -(igrow as i64)..=igrow as i64 {
        let i2 = grow2 - (l * l) as f32;
        if let Some(half) = (0..=igrow).rev().find(|&dx| ((dx * dx) as f32) <= i2) {
            spans.push(Span { lead: vec![0, l], half: half as i64 });
        }
    }
    Ball::from_spans(spans)
}

/// IRAF `ic_grow`: mark, in the same image, every pixel within `grow` (a disc of
/// dx² + dy² <= grow², same plane) of a rejected value. Layout `(N, lines, w)`.
fn grow_marks<P: Input>(rejected: &[Vec<Rejected>], c: &Ctx, st: &Stack<P>) -> Vec<bool> {
    let m = st.lines * st.w;
    let grid = Grid::new(&[st.lines / st.h, st.h, st.w]);
    let disc = grow_disc(c.grow);
    let mut marks = vec![false; c.nimg * m];
    for (y, list) in rejected.iter().enumerate() {
        let centre = [(y / st.h) as i64, (y % st.h) as i64, 0];
        for r in list {
            let frame = &mut marks[(r.image as usize - 1) * m..r.image as usize * m];
            disc.stamp(frame, &grid, &[centre[0], centre[1], r.x as i64]);
        }
    }
    marks
}
